# SPDX-License-Identifier: MIT
"""The extension's Windows code (crash_win32.c and the _WIN32 parts of the
other files) compiles with mingw-w64 and -Werror.

There are no Windows Python headers here, so the test uses this machine's
CPython headers with a stand-in Windows pyconfig.h (tests/winpy). It
compiles every file to an object; it cannot link or run the module (the
Windows probe itself runs under wine: tests/probe/test_win32.py).
"""

import glob
import os
import shutil
import subprocess
import sysconfig

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MINGW = "x86_64-w64-mingw32-gcc"


@pytest.mark.skipif(shutil.which(MINGW) is None,
                    reason=f"{MINGW} is not installed (.ci/install-deps installs it)")
def test_extension_compiles_for_windows(tmp_path):
    inc = tmp_path / "include"
    shutil.copytree(sysconfig.get_paths()["include"], inc)
    shutil.copy(os.path.join(ROOT, "tests", "winpy", "pyconfig.h"), inc / "pyconfig.h")
    (inc / "sys").mkdir(exist_ok=True)
    (inc / "sys" / "select.h").write_text("")  # pyport.h asks for it; Windows has none
    sources = [f for f in sorted(glob.glob(os.path.join(ROOT, "csrc", "ext", "*.c")))
               if not f.endswith("_posix.c")]
    sources += [os.path.join(ROOT, "csrc", "probe", "win32.c"),
                os.path.join(ROOT, "csrc", "record", "write.c"),
                os.path.join(ROOT, "csrc", "record", "trend.c")]
    assert any(f.endswith("crash_win32.c") for f in sources)
    for src in sources:
        obj = tmp_path / (os.path.basename(src) + ".o")
        proc = subprocess.run([MINGW, "-std=c11", "-Wall", "-Wextra", "-Werror", "-c",
                               "-I" + os.path.join(ROOT, "csrc"), "-I" + str(inc), src,
                               "-o", str(obj)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{src}:\n{proc.stderr}"
        assert obj.stat().st_size > 0
