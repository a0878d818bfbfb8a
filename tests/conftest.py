# SPDX-License-Identifier: MIT
import os
import sys

# tests/recordparse.py: an independent reader of the record format
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pytester for the plugin's tests (pytest_plugins only works in the root conftest)
pytest_plugins = ["pytester"]
