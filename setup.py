# SPDX-License-Identifier: MIT
"""Builds resmon's C extension and, on Linux, its two C tools.

The extension ``resmon._resmon`` needs only the CPython C API and the OS, so
it builds anywhere a compiler does. The tools ``resmon-sampler`` and
``resmon-report`` are built by ``make -C csrc bins`` (csrc/Makefile and its
fragments are the one description of their sources, flags and optional
libraries) into the build directory and copied into ``resmon/_bin``, where
the console scripts of the same names find them. ``CC``, ``CFLAGS`` and
``LDFLAGS`` from the environment reach both builds; ``-Werror`` never does
(it is the Makefile's developer/CI default, turned off here with WERROR=).

If the C core cannot be built on a supported platform (Linux, macOS,
Windows), the build fails with the compiler's message. A pure-Python install,
which records nothing, happens only when asked for with RESMON_PURE_PYTHON=1
(or on a platform resmon has no probe for); it leaves resmon/_purepython.py
saying why, and resmon says that reason once at import time.
"""

import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
C = "csrc"
PURE_ENV = "RESMON_PURE_PYTHON"

if sys.platform.startswith("linux"):
    PROBE = "csrc/probe/linux.c"
elif sys.platform == "darwin":
    PROBE = "csrc/probe/darwin.c"
elif sys.platform == "win32":
    PROBE = "csrc/probe/win32.c"
else:
    PROBE = None

CORE = ["csrc/record/write.c", "csrc/record/trend.c"] + ([PROBE] if PROBE else [])
# Platform files of the extension end in _posix.c or _win32.c; each build
# takes its own (psutil's layout: no #ifdef thickets). csrc/ext/ext.mk's
# -Werror check uses the same rule.
_OTHER = "_posix.c" if sys.platform == "win32" else "_win32.c"
EXT_SOURCES = sorted(f for f in glob.glob("csrc/ext/*.c") if not f.endswith(_OTHER)) + CORE

# What `make -C csrc bins` builds (see csrc/Makefile), copied into resmon/_bin.
TOOLS = ("resmon-sampler", "resmon-report")


def pure_python_reason():
    """Why this build installs without the C core, or None to build it."""
    if os.environ.get(PURE_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return f"it was installed with {PURE_ENV}={os.environ[PURE_ENV]}"
    if PROBE is None:
        return f"resmon has no probe for this platform ({sys.platform})"
    return None


class ResmonBuildExt(build_ext):
    """build_ext that builds the extension and the tools, or fails.

    A compiler error stops the install with the compiler's message, followed
    by a note on the one way to install without the C core.
    """

    def run(self):
        reason = pure_python_reason()
        marker = os.path.join(self._package_dir(), "_purepython.py")
        if reason is not None:
            self._say(f"installing resmon WITHOUT its C core: {reason}.\n"
                      "resmon will record nothing and will say so at import time.")
            os.makedirs(os.path.dirname(marker), exist_ok=True)
            with open(marker, "w") as f:
                f.write("# SPDX-License-Identifier: MIT\n"
                        "# Written by setup.py: this install has no C core.\n"
                        f"REASON = {reason!r}\n")
            return
        if os.path.exists(marker):  # an earlier pure-Python in-place build
            os.remove(marker)
        try:
            super().run()
            if sys.platform.startswith("linux"):
                self.build_tools()
        except Exception as exc:  # noqa: BLE001 - any compiler failure
            self._say(f"resmon's C core could not be built: {exc}\n"
                      "The compiler's message is above. resmon needs a C compiler, the Python\n"
                      "headers and, on Linux, make and cJSON (see docs/platforms.md).\n"
                      f"To install without the C core (it then records nothing), set {PURE_ENV}=1.")
            raise

    def _package_dir(self):
        if self.inplace:
            return os.path.join(HERE, "python", "resmon")
        return os.path.join(self.build_lib, "resmon")

    @staticmethod
    def _say(message):
        bar = "*" * 72
        sys.stderr.write(f"\n{bar}\nresmon: {message}\n{bar}\n\n")
        sys.stderr.flush()

    def build_tools(self):
        """Runs `make -C csrc bins` into the build directory, copies the tools."""
        make = os.environ.get("MAKE") or shutil.which("make") or shutil.which("gmake")
        if not make:
            raise RuntimeError("make is needed to build resmon-sampler and resmon-report "
                               "(Debian/Ubuntu: apt-get install make)")
        tools_build = os.path.abspath(os.path.join(self.build_temp, "tools"))
        # -B: the Makefile does not track flags or found libraries; the tools
        # take seconds to build, so always rebuild rather than reuse stale ones.
        cmd = [make, "-B", "-C", os.path.join(HERE, C), "bins", f"BUILD={tools_build}",
               "WERROR="]
        sys.stderr.write(" ".join(cmd) + "\n")
        sys.stderr.flush()
        proc = subprocess.run(cmd)
        if proc.returncode != 0:
            raise RuntimeError(f"building the tools failed (make exited {proc.returncode})")
        out_dir = os.path.join(self._package_dir(), "_bin")
        os.makedirs(out_dir, exist_ok=True)
        for name in TOOLS:
            shutil.copy2(os.path.join(tools_build, name), os.path.join(out_dir, name))


setup(
    ext_modules=[
        Extension(
            "resmon._resmon",
            sources=EXT_SOURCES,
            include_dirs=[C],
            define_macros=[("_GNU_SOURCE", "1")],
            extra_compile_args=([] if sys.platform == "win32" else ["-std=c11"]),
            libraries=(["psapi"] if sys.platform == "win32" else []),
        )
    ],
    cmdclass={"build_ext": ResmonBuildExt},
)
