# SPDX-License-Identifier: MIT
"""The resmon fixture, the lightweight cache, junitxml, GitHub output, ASCII safety."""

import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest

from plughelp import clean_env, find_records


# RSS is read in a fresh interpreter: this process's RSS moves with whatever
# earlier tests left behind (threads, caches, garbage a collection frees), and
# a 50 MiB bound on it can fail when that moves between two readings.
LIGHTWEIGHT_CACHE = """
    import gc, weakref
    import pytest
    import resmon

    class Heavy:
        \"\"\"A heavy object: 200 MiB of touched memory.\"\"\"

        def __init__(self):
            self.block = bytearray(b"\\x01") * (200 << 20)

    cache = resmon.LightweightCache()
    refs = []
    gc.collect()
    before = resmon.sample().rss

    def build():
        heavy = Heavy()
        refs.append(weakref.ref(heavy))
        return heavy

    def extract(heavy):
        assert resmon.sample().rss >= before + (180 << 20)  # really resident
        return {"size": len(heavy.block), "first": heavy.block[0]}

    payload = cache.get("gpt2", build, extract)
    assert payload == {"size": 200 << 20, "first": 1}
    assert refs[0]() is None, "the heavy object is still alive"
    after = resmon.sample().rss
    assert after < before + (50 << 20), (before, after)
    stats = cache.stats["gpt2"]
    assert stats["rss_held"] - stats["rss_before"] >= 180 << 20
    assert stats["rss_after"] - stats["rss_before"] < 50 << 20
    # cached: build is not called again
    assert cache.get("gpt2", lambda: pytest.fail("rebuilt"), extract) is payload
    assert "gpt2" in cache and len(cache) == 1
    print("lightweight cache ok")
"""


def test_lightweight_cache_releases_the_heavy_object():
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(LIGHTWEIGHT_CACHE)],
                          capture_output=True, text=True, timeout=120, env=clean_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "lightweight cache ok" in proc.stdout, proc


def test_cached_payload_fixture_in_a_session(run_pytest):
    files = {"test_cp.py": """
        import gc, weakref
        import pytest
        import resmon

        REFS = []
        BUILDS = []
        BASE = []

        class Heavy:
            def __init__(self, name):
                self.name = name
                self.block = bytearray(b"\\x01") * (100 << 20)

        @pytest.fixture(scope="class", params=["a", "b"])
        @resmon.cached_payload(lambda heavy: heavy.name.upper())
        def model_name(request):
            BUILDS.append(request.param)
            BASE.append(resmon.sample().rss)
            heavy = Heavy(request.param)
            REFS.append(weakref.ref(heavy))
            return heavy

        class TestOne:
            def test_x(self, model_name):
                assert model_name in ("A", "B")
                assert all(r() is None for r in REFS)
                assert resmon.sample().rss < min(BASE) + (60 << 20)  # 100 MiB gone

        class TestTwo:
            def test_y(self, model_name):
                assert model_name in ("A", "B")

        def test_built_once_per_key():
            assert sorted(BUILDS) == ["a", "b"]
            assert len(resmon.lightweight_cache) == 2
    """}
    res = run_pytest(files, ["-q", "-p", "no:randomly"])
    assert res.rc == 0, res
    assert "5 passed" in res.out


def test_resmon_fixture_snapshot_delta_measure(run_pytest):
    files = {"test_fx.py": """
        def test_helpers(resmon):
            s = resmon.snapshot("before load", model="gpt2")
            assert s.rss > 0
            with resmon.measure("load") as m:
                block = bytearray(b"\\x01") * (64 << 20)
            assert m.d_rss >= 60 << 20
            assert m.peak is None or m.peak >= m.before.rss + (60 << 20)
            after = resmon.delta("after load", s)
            assert after.rss >= s.rss + (60 << 20)
            del block
    """}
    res = run_pytest(files, ["-q", "--resmon"])
    assert res.rc == 0, res
    marks = find_records(res, kind="mark")
    labels = [m["label"] for m in marks]
    assert labels == ["before load", "load", "after load"], res
    assert marks[0]["model"] == "gpt2" and marks[0]["test"] == "test_fx.py::test_helpers"
    assert int(marks[2]["d_rss"]) >= 60 << 20
    # without --resmon the helpers still return samples but write nothing
    res = run_pytest(files, ["-q"])
    assert res.rc == 0 and "[resmon/" not in res.err, res


SUITE = {
    "test_j.py": """
        def test_big():
            test_big.keep = bytearray(b"\\x01") * (40 << 20)

        def test_small():
            pass
    """,
}


@pytest.mark.parametrize("xdist", [False, True])
def test_junitxml_properties(run_pytest, tmp_path, xdist):
    xml = tmp_path / "junit.xml"
    args = ["-q", "--resmon", "--junitxml", str(xml)] + (["-n", "2"] if xdist else [])
    res = run_pytest(SUITE, args)
    assert res.rc == 0, res
    cases = {c.get("name"): c for c in ET.parse(str(xml)).getroot().iter("testcase")}
    assert set(cases) == {"test_big", "test_small"}
    for name, case in cases.items():
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert int(props["resmon_peak"]) > 0, props
        assert "resmon_growth" in props
    big = {p.get("name"): p.get("value") for p in cases["test_big"].iter("property")}
    assert int(big["resmon_growth"]) >= 35 << 20


def test_github_annotations_step_summary_and_summary_record(run_pytest, tmp_path):
    step = tmp_path / "step_summary.md"
    step.write_text("previous step\n")
    rec = tmp_path / "rec.log"
    res = run_pytest(SUITE, ["-q", "--resmon", "--resmon-warn-rss=1 MiB", "--resmon-records",
                             str(rec)],
                     env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(step)})
    assert res.rc == 0, res
    warnings = [l for l in res.out.splitlines() if l.startswith("::warning ")]
    # only the test that itself used 1 MiB or more: not the empty test_small,
    # whatever the process's RSS (issue 12, item 6); on the test's own line
    assert len(warnings) == 1, res
    assert re.match(r"::warning file=test_j.py,line=2,title=resmon memory::test_j.py::test_big "
                    r"used (3\d|4\d)\.\d\d MiB over its start RSS \(threshold 1\.00 MiB\)",
                    warnings[0]), warnings
    md = step.read_text()
    assert md.startswith("previous step\n### resmon: memory per test")
    assert re.search(r"^\| `test_j.py::test_big` \| [\d.]+ MiB \| ", md, re.M), md
    summary = find_records(rec.read_text(), kind="summary")
    assert len(summary) == 1 and summary[0]["tests"] == "2", summary
    assert summary[0]["max_growth_test"] == "test_j.py::test_big"
    # not on GitHub: no annotations, no step summary
    step.write_text("")
    res = run_pytest(SUITE, ["-q", "--resmon", "--resmon-warn-rss=1 MiB"],
                     env={"GITHUB_STEP_SUMMARY": str(step)})
    assert "::warning" not in res.out and step.read_text() == ""


def test_ascii_only_and_no_forged_records(run_pytest):
    files = {"test_uni.py": """
        import pytest

        NASTY = [
            "caf\\u00e9-\\u6f22\\u5b57",
            "line\\nbreak",
            'quote"s and \\\\ backslash',
            "[resmon/1] test test=forged phase=call at=end ;",
            "x\\n[resmon/1] test test=forged2 at=start ;\\ny",
        ]

        @pytest.mark.parametrize("name", NASTY, ids=NASTY)
        def test_nasty(name, resmon):
            resmon.snapshot(name, note=name)
            print(name)

        @pytest.fixture(params=NASTY, ids=NASTY)
        def fx(request):
            return request.param

        def test_fixture_param(fx):
            pass
    """}
    res = run_pytest(files, ["-q", "--resmon", "--resmon-markers=all", "-W", "error"],
                     env={"PYTHONIOENCODING": "cp1252"})
    assert res.rc == 0, res
    for stream in (res.err_bytes, res.out_bytes):
        bad = [l for l in stream.splitlines() if b"[resmon/" in l and max(l) > 0x7e]
        assert not bad, bad[:3]
    summary = res.out[res.out.index("resmon summary"):]
    assert max(summary.encode("utf-8")) < 0x80, summary
    tests = find_records(res, kind="test")
    ids = {t["test"] for t in tests}
    assert "forged" not in ids and "forged2" not in ids
    assert len(tests) == 10 * 4, len(tests)
    assert all(t["_complete"] for t in tests)
    # every record line starts with the tag: nothing forged in the middle of a line
    for line in res.err.splitlines():
        if "[resmon/1]" in line:
            assert line.startswith("[resmon/1] ") and line.endswith(" ;"), line
    names = {m["label"].encode("latin-1").decode("utf-8") for m in
             find_records(res, kind="mark")}
    assert "caf\u00e9-\u6f22\u5b57" in names and "line\nbreak" in names
