#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# resmon's main job on the demo suite, end to end: install resmon, run the
# demo suite under the sampler with the plugin on, then print the report.
# Output goes to demo-run/: the sampler log, the plugin's records, the job
# output as a CI log would hold it, report.json and report.html.
#
# Exit status: pytest's status under the sampler (0 when the demo ran as
# designed: its limit test fails on purpose and is marked xfail; 137 OOM kill,
# 143 SIGTERM, ...), or 2 when the report could not be written.
set -uo pipefail
cd "$(dirname "$0")/.."
RESMON_TEST_DEPS=0 bash .ci/install-deps || exit $?
export PATH="$PWD/.venv/bin:$PATH"
rm -rf demo-run && mkdir -p demo-run

echo "== resmon-sampler wraps pytest (plugin on, markers in the job log) =="
resmon-sampler -o demo-run/ci_resource_monitor.log --echo 2 -- \
    python -m pytest examples/demo -rxs --resmon --resmon-records demo-run/records.log \
    -p no:cacheprovider 2>&1 | tee demo-run/job-output.log
status=${PIPESTATUS[0]}
echo "== pytest (under the sampler) exited with $status =="

echo "== resmon-report: what happened, and which tests used what =="
inputs=(demo-run/ci_resource_monitor.log demo-run/records.log demo-run/job-output.log)
resmon-report "${inputs[@]}"
resmon-report --exit-zero --format html -o demo-run/report.html "${inputs[@]}" || exit 2
resmon-report --exit-zero --format json -o demo-run/report.json "${inputs[@]}" || exit 2
echo "HTML report: demo-run/report.html"

exit "$status"
