# SPDX-License-Identifier: MIT
"""pytest started somewhere else than its rootdir (a monorepo's package, a path
given from outside): the records carry node ids relative to the rootdir, the
terminal lines (-v, FAILED, xdist's progress) ids relative to where pytest was
started. The report maps one onto the other from the plugin's head record, so
each test is counted once and keeps the outcome pytest printed for it; xdist's
crash line, which names the node id itself, is left as it is."""

import textwrap

from reporthelp import pytest_job_log, run_json

SUITE = """
    import os

    def test_fails():
        assert 1 == 2

    def test_passes():
        pass
"""


def _project(tmp_path, body=SUITE):
    """tmp_path/proj (the rootdir: its pyproject.toml) with its tests in
    proj/pkg/tests/test_x.py."""
    proj = tmp_path / "proj"
    tests = proj / "pkg" / "tests"
    tests.mkdir(parents=True)
    (proj / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (tests / "test_x.py").write_text(textwrap.dedent(body))
    return proj


def _ids(doc):
    return {t["id"]: t["outcome"] for t in doc["tests"]}


def test_started_in_a_subdirectory(tmp_path):
    proj = _project(tmp_path)
    code, log = pytest_job_log(proj / "pkg", "-v", "tests/test_x.py")
    assert code == 1
    with open(log) as f:
        text = f.read()
    assert "\nFAILED tests/test_x.py::test_fails - " in text  # printed relative to pkg/
    _, doc = run_json([log])
    # each test once, by its node id, with the outcome pytest printed
    assert _ids(doc) == {"pkg/tests/test_x.py::test_fails": "failed",
                         "pkg/tests/test_x.py::test_passes": "passed"}, _ids(doc)
    assert doc["tests_total"] == 2


def test_started_outside_the_rootdir(tmp_path):
    proj = _project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, log = pytest_job_log(elsewhere, "-v", "--rootdir", str(proj),
                        str(proj / "pkg" / "tests" / "test_x.py"))
    assert code == 1
    with open(log) as f:
        assert "\nFAILED ../proj/pkg/tests/test_x.py::test_fails - " in f.read()
    _, doc = run_json([log])
    assert _ids(doc) == {"pkg/tests/test_x.py::test_fails": "failed",
                         "pkg/tests/test_x.py::test_passes": "passed"}, _ids(doc)


def test_xdist_progress_and_crash_line(tmp_path):
    # -n 2 from the subdirectory: the progress lines are rebased, xdist's
    # crash line (a node id already) is not
    proj = _project(tmp_path, SUITE + """
    def test_dies():
        os.kill(os.getpid(), 9)
    """)
    code, log = pytest_job_log(proj / "pkg", "-v", "-n", "2", "tests/test_x.py")
    assert code == 1
    with open(log) as f:
        assert "crashed while running 'pkg/tests/test_x.py::test_dies'" in f.read()
    _, doc = run_json([log])
    ids = _ids(doc)
    assert set(ids) == {"pkg/tests/test_x.py::test_fails", "pkg/tests/test_x.py::test_passes",
                        "pkg/tests/test_x.py::test_dies"}, ids
    assert ids["pkg/tests/test_x.py::test_fails"] == "failed"
    assert doc["boundary"]["test"] == "pkg/tests/test_x.py::test_dies"


def test_started_in_the_rootdir_writes_no_base(tmp_path):
    # the usual case: nothing to map, and the head says nothing of it
    proj = _project(tmp_path)
    code, log = pytest_job_log(proj, "-v", "pkg/tests/test_x.py")
    assert code == 1
    with open(log) as f:
        head = next(line for line in f if "] head " in line)
    assert "rootdir=" not in head and "invocation_dir=" not in head
    _, doc = run_json([log])
    assert _ids(doc) == {"pkg/tests/test_x.py::test_fails": "failed",
                         "pkg/tests/test_x.py::test_passes": "passed"}, _ids(doc)
