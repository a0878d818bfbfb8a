# SPDX-License-Identifier: MIT
"""resmon-report history add|check|show on real pytest sessions that this test runs, stored in
SQLite and in a real PostgreSQL server that the test starts (docs/history.md)."""

import glob
import importlib.metadata
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap

import pytest

from reporthelp import ROOT, check_text, report_bin

def _pg_bin():
    """Debian's server binaries, the newest major version installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else "/usr/lib/postgresql/VERSION/bin"


PG_BIN = _pg_bin()
MiB = 1 << 20

# A suite whose memory the environment sets: test_grows allocates GROW MiB,
# test_noisy NOISE MiB, test_new exists only with NEW=1.
SUITE = """
    import os
    import pytest

    def _touch(mib):
        block = bytearray(mib << 20)
        for k in range(0, len(block), 4096):
            block[k] = 1
        return block

    @pytest.mark.parametrize("i", range(4))
    def test_small(i):
        _touch(1)

    def test_grows():
        _touch(int(os.environ["GROW"]))

    def test_noisy():
        _touch(int(os.environ["NOISE"]))

    if os.environ.get("NEW") == "1":
        def test_new():
            _touch(30)
"""

# (name, GROW, NOISE, NEW): five baseline runs where test_noisy swings by
# 60 MiB, then a run where test_grows takes 80 MiB more and test_noisy
# moves inside its own spread (+40 MiB over its median: past 20 % and 16 MiB)
RUNS = [("base1", 40, 40, 0), ("base2", 40, 100, 0), ("base3", 40, 40, 0), ("base4", 40, 100, 0),
        ("base5", 40, 70, 0), ("grown", 120, 110, 1)]

ID_VARS = ("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "CI_PIPELINE_ID", "BUILD_BUILDID",
           "CIRCLE_WORKFLOW_ID", "BUILD_NUMBER", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER",
           "RESMON", "RESMON_RECORDS")


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ID_VARS}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _pytest(cwd, args, **env):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"] + args,
                          cwd=cwd, env=_env(**env), capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Records of the six real sessions, by name."""
    d = tmp_path_factory.mktemp("history_runs")
    (d / "test_suite.py").write_text(textwrap.dedent(SUITE))
    out = {}
    for name, grow, noise, new in RUNS:
        rec = d / (name + ".log")
        p = _pytest(d, ["--resmon", "--resmon-records", str(rec), "test_suite.py"],
                    GROW=grow, NOISE=noise, NEW=new)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        out[name] = str(rec)
    return out


def hist(args, timeout=120):
    p = subprocess.run([report_bin(), "history"] + list(args), capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("ascii"), p.stderr.decode("ascii")


# ---------------------------------------------------------------- PostgreSQL --

def _pg_skip_reason():
    if not os.path.exists(os.path.join(PG_BIN, "initdb")):
        return "PostgreSQL's server binaries are absent (%s/initdb; Debian: apt-get install " \
               "postgresql)" % PG_BIN
    if os.geteuid() == 0:
        try:
            import pwd
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and no 'postgres' user to run initdb as"
    return None


def _as_server_user(cmd):
    return (["runuser", "-u", "postgres", "--"] + cmd) if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def pg_url():
    """A throwaway PostgreSQL server on a unix socket, for this module."""
    reason = _pg_skip_reason()
    if reason:
        pytest.skip(reason)
    d = tempfile.mkdtemp(prefix="resmon-pg-")
    if os.geteuid() == 0:
        shutil.chown(d, "postgres")
    data, port = os.path.join(d, "data"), str(40000 + os.getpid() % 20000)
    try:
        subprocess.run(_as_server_user([os.path.join(PG_BIN, "initdb"), "-D", data, "-A", "trust",
                                        "-U", "postgres"]), check=True, capture_output=True,
                       timeout=120)
        subprocess.run(_as_server_user([os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-w", "-l",
                                        os.path.join(d, "server.log"), "-o",
                                        "-k %s -c listen_addresses= -p %s -c fsync=off" % (d, port),
                                        "start"]), check=True, capture_output=True, timeout=120)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(d, ignore_errors=True)
        pytest.fail("cannot start PostgreSQL: %s" % (exc.stderr or b"").decode("ascii", "replace"))
    try:
        yield "postgresql:///postgres?host=%s&port=%s&user=postgres" % (d, port)
    finally:
        subprocess.run(_as_server_user([os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-m", "immediate",
                                        "stop"]), capture_output=True, timeout=120)
        shutil.rmtree(d, ignore_errors=True)


_db_counter = [0]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """An empty database of each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite")
    url = request.getfixturevalue("pg_url")
    _db_counter[0] += 1
    name = "h%d_%d" % (os.getpid(), _db_counter[0])
    psql = os.path.join(PG_BIN, "psql")
    subprocess.run([psql, url, "-q", "-c", "CREATE DATABASE %s" % name], check=True,
                   capture_output=True, timeout=60)
    return url.replace("postgresql:///postgres?", "postgresql:///%s?" % name)


def _runs(db):
    rc, out, err = hist(["show", "--db", db, "--runs", "1000", "-f", "json", "nonexistent::test"])
    assert rc == 0, err
    return json.loads(out)["runs"]


# ---------------------------------------------------------------- the gate --

def test_gate_names_exactly_the_grown_test(db, recorded):
    for name, *_ in RUNS[:5]:
        rc, out, err = hist(["add", "--db", db, "--job", "tests", "--run", name,
                             "--commit", "c0ffee" + name[-1], "--branch", "main", recorded[name]])
        assert rc == 0, err
        assert "stored run %s" % name in out
    # adding a run twice changes nothing
    before = _runs(db)
    rc, out, err = hist(["add", "--db", db, "--job", "tests", "--run", "base3", recorded["base3"]])
    assert rc == 0 and "already stored: nothing changed" in out, out + err
    assert _runs(db) == before and len(before) == 5

    rc, out, err = hist(["check", "--db", db, "--job", "tests", "-f", "json", recorded["grown"]])
    assert rc == 1, out + err
    doc = json.loads(out)
    assert len(doc["baseline"]["runs"]) == 5
    grown = {r["id"] for r in doc["regressions"]}
    assert grown == {"test_suite.py::test_grows"}, doc["regressions"]
    peak = [r for r in doc["regressions"] if r["metric"] == "peak"][0]
    assert 70 * MiB < peak["increase"] < 90 * MiB, peak
    # test_noisy rose 40 MiB over its median, but its own runs spread 60 MiB
    assert "test_suite.py::test_noisy" not in grown
    assert [n["id"] for n in doc["new"]] == ["test_suite.py::test_new"]
    assert doc["compared"] == 6

    rc, out, err = hist(["check", "--db", db, "--job", "tests", recorded["grown"]])
    assert rc == 1
    text = check_text(out.encode())
    assert "REGRESSIONS" in text and "test_suite.py::test_grows" in text
    assert "NEW  1 test not in the baseline (listed, not failed)" in text
    assert "test_noisy" not in text

    # a baseline-like run passes (its own row is left out of its baseline)
    rc, out, err = hist(["check", "--db", db, "--job", "tests", recorded["base5"]])
    assert rc == 0 and "no regression" in out, out + err
    # a tighter gate than the noise: the noisy test fails too when the baseline is
    # one run (no spread to forgive it)
    rc, out, err = hist(["check", "--db", db, "--job", "tests", "--baseline", "run:base5", "-f",
                         "json", recorded["grown"]])
    assert rc == 1, err
    ids = {r["id"] for r in json.loads(out)["regressions"]}
    assert ids == {"test_suite.py::test_grows", "test_suite.py::test_noisy"}, ids
    # thresholds: 200 MiB minimum forgives everything
    rc, out, err = hist(["check", "--db", db, "--job", "tests", "--min-increase", "200MiB",
                         recorded["grown"]])
    assert rc == 0, out + err

    # the run goes in; show lists it with the headroom and the test's figures
    rc, out, err = hist(["add", "--db", db, "--job", "tests", "--run", "grown", recorded["grown"]])
    assert rc == 0, err
    rc, out, err = hist(["show", "--db", db, "-f", "json", "test_suite.py::test_grows"])
    assert rc == 0, err
    doc = json.loads(out)
    assert [r["run_id"] for r in doc["runs"]] == ["base1", "base2", "base3", "base4", "base5",
                                                  "grown"]
    assert all(r["verdict"] == "passed" and r["headroom"] > 0 for r in doc["runs"])
    peaks = [p["peak"] for p in doc["tests"][0]["runs"]]
    assert peaks[-1] - max(peaks[:-1]) > 70 * MiB, peaks


def _concurrent_adds(db, recorded, names):
    procs = [subprocess.Popen([report_bin(), "history", "add", "--db", db, "--job", "tests",
                               "--run", name, recorded[name]],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for name in names]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    assert sorted(r["run_id"] for r in _runs(db)) == sorted(names)


def test_concurrent_writers_both_land(db, recorded):
    _concurrent_adds(db, recorded, ("base1", "base2", "base3"))


def test_concurrent_writers_creating_one_sqlite_file(tmp_path, recorded):
    # writers that create the same new file at once race for its switch to
    # WAL; SQLite tells the loser "database is locked" without waiting (it
    # failed about one round in six here with four writers; 25 rounds): each waits
    names = ("base1", "base2", "base3", "base4")
    for k in range(25):
        _concurrent_adds(str(tmp_path / ("new%d.sqlite" % k)), recorded, names)


def test_show_formats(db, recorded):
    for name in ("base1", "base2", "grown"):
        assert hist(["add", "--db", db, "--job", "tests", "--run", name, recorded[name]])[0] == 0
    rc, out, err = hist(["show", "--db", db])
    assert rc == 0, err
    text = check_text(out.encode())
    assert "RUNS" in text and "headroom" in text and "TEST  test_suite.py::test_grows" in text
    # long identities: the text table still fits 100 columns, the cells cut, not wrapped
    assert hist(["add", "--db", db, "--job", "tests", "--run", "r" * 90, "--branch",
                 "feature/" + "b" * 70, "--commit", "c" * 40, recorded["base3"]])[0] == 0
    rc, out, err = hist(["show", "--db", db])
    assert rc == 0, err
    rows = [line for line in check_text(out.encode()).splitlines() if line.startswith("  ")]
    assert any("rrrr" in line and "feature/" in line for line in rows), out
    rc, out, _ = hist(["show", "--db", db, "-f", "markdown", "test_suite.py::test_grows"])
    assert rc == 0 and "```mermaid\nxychart-beta" in out and "test\\_suite" in out
    rc, out, _ = hist(["show", "--db", db, "-f", "html", "test_suite.py::test_grows"])
    assert rc == 0 and out.count("<svg") == 2 and "<polyline" in out and "<script" not in out
    out.encode("ascii")


# ---------------------------------------------------------------- SQLite only --

# Version 1 of the schema, written by hand as docs/history.md gives it.
SCHEMA_V1 = """
CREATE TABLE resmon_schema (version INTEGER NOT NULL);
INSERT INTO resmon_schema (version) VALUES (1);
CREATE TABLE resmon_runs (
 id INTEGER PRIMARY KEY, run_key TEXT NOT NULL UNIQUE, run_id TEXT NOT NULL, repo TEXT NOT NULL,
 job TEXT NOT NULL, commit_sha TEXT NOT NULL, branch TEXT NOT NULL, os TEXT NOT NULL,
 python TEXT NOT NULL, resmon TEXT NOT NULL, host TEXT NOT NULL, verdict TEXT NOT NULL,
 confidence DOUBLE PRECISION, started BIGINT, ended BIGINT, added BIGINT NOT NULL,
 mem_total BIGINT, cg_lim BIGINT, min_avail BIGINT, cg_max BIGINT, max_peak BIGINT,
 tests INTEGER NOT NULL);
CREATE INDEX resmon_runs_by_job ON resmon_runs (job, os, python, started);
CREATE TABLE resmon_test_ids (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE resmon_tests (
 run BIGINT NOT NULL REFERENCES resmon_runs (id), inst INTEGER NOT NULL,
 test BIGINT NOT NULL REFERENCES resmon_test_ids (id), attempt INTEGER NOT NULL,
 worker TEXT, pid BIGINT, outcome TEXT, peak BIGINT, used BIGINT, growth BIGINT,
 duration BIGINT, PRIMARY KEY (run, inst));
CREATE INDEX resmon_tests_by_test ON resmon_tests (test, run);
"""


def test_schema_version_1_migrates_forward(tmp_path, recorded):
    path = str(tmp_path / "old.sqlite")
    con = sqlite3.connect(path)
    con.executescript(SCHEMA_V1)
    con.execute("INSERT INTO resmon_runs VALUES (1, 'old|||linux|3.11|x', 'old', '', 'tests', "
                "'abc', 'main', 'linux', '3.11', '0.1.0', 'vm', 'passed', 0.95, 1, 2, 3, "
                "8589934592, NULL, 4294967296, NULL, 104857600, 1)")
    con.execute("INSERT INTO resmon_test_ids VALUES (1, 'test_suite.py::test_grows')")
    con.execute("INSERT INTO resmon_tests VALUES (1, 0, 1, 1, NULL, 10, 'passed', 104857600, "
                "1048576, 0, 1000)")
    con.commit()
    con.close()
    rc, out, err = hist(["add", "--db", path, "--job", "tests", "--run", "new", recorded["base1"]])
    assert rc == 0, err
    con = sqlite3.connect(path)
    assert con.execute("SELECT version FROM resmon_schema").fetchall() == [(2,)]
    cols = [r[1] for r in con.execute("PRAGMA table_info(resmon_tests)")]
    assert "own_growth" in cols
    assert con.execute("SELECT count(*) FROM resmon_fixtures").fetchone() == (0,)
    con.close()
    rc, out, err = hist(["show", "--db", path, "-f", "json", "test_suite.py::test_grows"])
    assert rc == 0, err
    doc = json.loads(out)
    assert [r["run_id"] for r in doc["runs"]] == ["old", "new"]
    assert doc["tests"][0]["runs"][0]["peak"] == 104857600
    assert doc["runs"][0]["headroom"] == 4294967296  # 8 GiB - (8 GiB - 4 GiB available)


def test_newer_schema_is_refused(tmp_path, recorded):
    path = str(tmp_path / "new.sqlite")
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE resmon_schema (version INTEGER NOT NULL);"
                      "INSERT INTO resmon_schema VALUES (99);")
    con.close()
    rc, out, err = hist(["add", "--db", path, recorded["base1"]])
    assert rc == 2 and "schema version 99 is newer" in err, err


def test_check_without_history_passes(tmp_path, recorded):
    rc, out, err = hist(["check", "--db", str(tmp_path / "none.sqlite"), recorded["grown"]])
    assert rc == 0 and "no history" in out, out + err
    assert not (tmp_path / "none.sqlite").exists()


def test_identity_from_records_and_usage_errors(tmp_path, recorded):
    path = str(tmp_path / "h.sqlite")
    rc, out, err = hist(["add", "--db", path, recorded["base1"]])
    assert rc == 0 and "stored run auto-" in out, err
    rc, out, err = hist(["add", "--db", path, recorded["base1"]])
    assert rc == 0 and "already stored" in out
    runs = _runs(path)
    assert len(runs) == 1
    for bad in (["add", recorded["base1"]], ["check", "--db", path],
                ["check", "--db", path, "--baseline", "last:0", recorded["base1"]],
                ["check", "--db", path, "--min-increase", "lots", recorded["base1"]],
                ["frobnicate"]):
        assert hist(bad)[0] == 2, bad


def test_missing_backend_names_the_package(tmp_path):
    """A build without libsqlite3 and libpq (pkg-config finds nothing) says what to install."""
    build = tmp_path / "build"
    p = subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "csrc"), "PKG_CONFIG=false",
                        "BUILD=%s" % build, "%s/resmon-report" % build],
                       capture_output=True, timeout=600)
    assert p.returncode == 0, p.stderr.decode()[-3000:]
    for db, package in (("h.sqlite", "apt-get install libsqlite3-dev"),
                        ("postgresql://localhost/x", "apt-get install libpq-dev")):
        q = subprocess.run([str(build / "resmon-report"), "history", "add", "--db", db, "x.log"],
                           capture_output=True, timeout=60)
        assert q.returncode == 2 and package in q.stderr.decode(), q.stderr


# ---------------------------------------------------------------- the plugin --

def _history_plugin_args():
    """The entry point when installed; else load the module by name."""
    names = {ep.name for ep in importlib.metadata.entry_points(group="pytest11")}
    return [] if "resmon-history" in names else ["-p", "resmon.history_plugin"]


def test_plugin_adds_runs_and_fails_the_session(tmp_path):
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(SUITE))
    path = str(tmp_path / "h.sqlite")
    bindir = os.path.dirname(report_bin())
    args = _history_plugin_args() + ["--resmon-history", path, "test_suite.py"]
    for i in range(3):
        p = _pytest(tmp_path, args, GROW=40, NOISE=40, RESMON_BIN_DIR=bindir)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        assert b"resmon history: stored run" in p.stdout, p.stdout[-3000:]
    assert len(_runs(path)) == 3
    gate = _history_plugin_args() + ["--resmon-history", path, "--resmon-fail-on-increase", "20%",
                                     "test_suite.py"]
    p = _pytest(tmp_path, gate, GROW=40, NOISE=40, RESMON_BIN_DIR=bindir)
    assert p.returncode == 0, p.stdout[-3000:]
    assert b"no regression" in p.stdout
    p = _pytest(tmp_path, gate, GROW=120, NOISE=40, RESMON_BIN_DIR=bindir)
    out = p.stdout.decode("ascii")
    assert p.returncode == 1, out[-3000:]
    assert "REGRESSIONS" in out and "test_suite.py::test_grows" in out
    assert "test_suite.py::test_noisy" not in out.split("REGRESSIONS")[1].split("stored run")[0]
    assert "6 passed" in out  # the tests passed; the gate failed the session
    assert len(_runs(path)) == 5  # the failing run is stored too
    # a bad percentage is a usage error
    p = _pytest(tmp_path, _history_plugin_args() + ["--resmon-history", path,
                                                    "--resmon-fail-on-increase", "x"])
    assert p.returncode == 4 and b"--resmon-fail-on-increase" in p.stderr


def test_plugin_with_xdist_stores_every_worker(tmp_path):
    pytest.importorskip("xdist")
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(SUITE))
    path = str(tmp_path / "h.sqlite")
    p = _pytest(tmp_path, _history_plugin_args() + ["-n", "2", "--resmon-history", path,
                                                    "test_suite.py"],
                GROW=40, NOISE=40, RESMON_BIN_DIR=os.path.dirname(report_bin()))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    con = sqlite3.connect(path)
    rows = con.execute("SELECT count(*), count(DISTINCT worker) FROM resmon_tests").fetchone()
    assert rows == (6, 2), rows
