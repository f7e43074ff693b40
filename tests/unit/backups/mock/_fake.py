"""Shared state of the fake docker, restic, psql, pg_dump and pg_restore.

The fakes keep their state in $FAKE_STATE (a test's tmp_path) and append
every call to $FAKE_STATE/calls.log (one JSON array a line), so a test can
set up a host and read what prodkit-backup did to it.
"""

import json
import os
import sys

STATE = os.environ["FAKE_STATE"]


def path(*parts):
    return os.path.join(STATE, *parts)


def record(name, argv):
    with open(path("calls.log"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps([name, *argv]) + "\n")


def read(name, default=""):
    try:
        with open(path(name), encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return default


def write(name, text):
    with open(path(name), "w", encoding="utf-8") as handle:
        handle.write(text)


def exit_code(key):
    """$FAKE_RC_<KEY>: the exit code a test asks for (0: behave)."""
    return int(os.environ.get("FAKE_RC_" + key.upper().replace("-", "_"), "0"))


def fail(message, rc):
    sys.stderr.write(message + "\n")
    sys.exit(rc)
