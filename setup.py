# SPDX-License-Identifier: MIT
"""Builds resmon's C extension and, on Linux, its two C tools.

The extension ``resmon._resmon`` needs only the CPython C API and the OS, so
``pip install`` works anywhere a compiler does. The tools ``resmon-sampler``
and ``resmon-report`` are built into ``resmon/_bin`` and reached through the
console scripts of the same names; they use libproc2, hwloc and cJSON when
pkg-config finds them and build without them otherwise.

If the extension cannot be built, the build says so loudly and installs the
pure-Python layer, which then reports once, at import, that the C core is
missing (coverage.py's approach).
"""

import glob
import os
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
C = "csrc"

if sys.platform.startswith("linux"):
    PROBE = "csrc/probe/linux.c"
elif sys.platform == "darwin":
    PROBE = "csrc/probe/darwin.c"
elif sys.platform == "win32":
    PROBE = "csrc/probe/win32.c"
else:
    PROBE = None

CORE = ["csrc/record/write.c"] + ([PROBE] if PROBE else [])
# Platform files of the extension end in _posix.c or _win32.c; each build
# takes its own (psutil's layout: no #ifdef thickets).
_OTHER = "_posix.c" if sys.platform == "win32" else "_win32.c"
EXT_SOURCES = sorted(f for f in glob.glob("csrc/ext/*.c") if not f.endswith(_OTHER)) + CORE

# The tools: name -> (sources, optional pkg-config packages with their macros).
TOOLS = {
    "resmon-sampler": ("csrc/sampler", [("libproc2", "RM_HAVE_PROC2"),
                                        ("hwloc", "RM_HAVE_HWLOC"),
                                        ("libcjson", "RM_HAVE_CJSON")]),
    "resmon-report": ("csrc/report", [("libcjson", "RM_HAVE_CJSON"),
                                      ("zlib", "RM_HAVE_ZLIB")]),
}


def pkg_config(name):
    """Returns (cflags, libs) lists for a package, or None when absent."""
    try:
        cflags = subprocess.run(["pkg-config", "--cflags", name], check=True,
                                capture_output=True, text=True).stdout.split()
        libs = subprocess.run(["pkg-config", "--libs", name], check=True,
                              capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    return cflags, libs


class BuildError(Exception):
    pass


class ResmonBuildExt(build_ext):
    """build_ext that fails loudly but gracefully, and also builds the tools."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler failure
            self._warn("the C extension resmon._resmon could not be built", exc)
        if sys.platform.startswith("linux"):
            self.build_tools()

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._warn("the C extension resmon._resmon could not be built", exc)

    @staticmethod
    def _warn(what, exc):
        bar = "*" * 72
        sys.stderr.write(
            f"\n{bar}\nWARNING: {what}:\n  {exc}\n"
            "resmon will install without it and say so at import time.\n"
            f"{bar}\n\n")

    def _bin_dir(self):
        if self.inplace:
            return os.path.join(HERE, "python", "resmon", "_bin")
        return os.path.join(self.build_lib, "resmon", "_bin")

    def build_tools(self):
        out_dir = self._bin_dir()
        os.makedirs(out_dir, exist_ok=True)
        for name, (src_dir, optional) in TOOLS.items():
            sources = sorted(glob.glob(os.path.join(src_dir, "*.c")))
            if not sources:
                continue
            sources += CORE + [s for s in ["csrc/record/parse.c"] if os.path.exists(s)]
            cflags = ["-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-Icsrc"]
            libs = []
            for pkg, macro in optional:
                found = pkg_config(pkg)
                if found:
                    cflags += found[0] + [f"-D{macro}=1"]
                    libs += found[1]
            cc = os.environ.get("CC", "cc")
            target = os.path.join(out_dir, name)
            cmd = [cc] + cflags + sources + ["-o", target] + libs + ["-lm"]
            try:
                subprocess.run(cmd, check=True)
            except (OSError, subprocess.CalledProcessError) as exc:
                self._warn(f"the tool {name} could not be built", exc)


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
