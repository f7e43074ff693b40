"""Shared pytest set-up: make testbed/ and tools/ importable."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "testbed"))
sys.path.insert(0, os.path.join(REPO, "tools"))
