#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# resmon's main job on the demo suite, end to end: install resmon, run the
# demo suite under the sampler with the plugin on, then print the report.
# Output goes to demo-run/: the sampler log, the plugin's records, the job
# output as a CI log would hold it, report.json and report.html.
#
# Exit status: 0 when everything worked as designed -- the demo's only
# failing test is test_past_its_limit, which fails on purpose (it grows past
# its resmon_limit) -- otherwise pytest's status under the sampler (137 OOM
# kill, 143 SIGTERM, ...), or 1 when the report says something else failed,
# or 2 when the report could not be written.
set -uo pipefail
cd "$(dirname "$0")/.."
RESMON_TEST_DEPS=0 bash .ci/install-deps || exit $?
export PATH="$PWD/.venv/bin:$PATH"
rm -rf demo-run && mkdir -p demo-run
EXPECTED_FAILURE="examples/demo/test_demo.py::test_past_its_limit"

echo "== resmon-sampler wraps pytest (plugin on, markers in the job log) =="
resmon-sampler -o demo-run/ci_resource_monitor.log --echo 2 -- \
    python -m pytest examples/demo --resmon --resmon-records demo-run/records.log \
    -p no:cacheprovider 2>&1 | tee demo-run/job-output.log
status=${PIPESTATUS[0]}
echo "== pytest (under the sampler) exited with $status =="

echo "== resmon-report: what happened, and which tests used what =="
inputs=(demo-run/ci_resource_monitor.log demo-run/records.log demo-run/job-output.log)
resmon-report "${inputs[@]}"
resmon-report --exit-zero --format html -o demo-run/report.html "${inputs[@]}" || exit 2
resmon-report --exit-zero --format json -o demo-run/report.json "${inputs[@]}" || exit 2
echo "HTML report: demo-run/report.html"

if [ "$status" = 1 ]; then
    # pytest said "some tests failed": was it only the demo's limit test?
    python - "$EXPECTED_FAILURE" <<'PY' || exit 1
import json, sys
doc = json.load(open("demo-run/report.json"))
failed = [t["id"] for t in doc["tests"] if t["outcome"] in ("failed", "error")]
ok = doc["verdict"]["kind"] == "failed" and failed == [sys.argv[1]]
print("== quickstart: %s ==" % ("as designed: only %s failed (over its resmon_limit)" % sys.argv[1]
      if ok else "unexpected failures: %s" % failed))
sys.exit(0 if ok else 1)
PY
    exit 0
fi
exit "$status"
