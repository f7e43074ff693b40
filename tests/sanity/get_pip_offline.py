"""Offline stand-in for ansible-test's pip bootstrap script.

ansible-test bootstraps pip in each sanity virtualenv with a script it
downloads from ci-files.testing.ansible.com, which these machines cannot
reach. It runs that script with pip's arguments (e.g. ``pip==24.2
setuptools==... --no-wheel``); this stand-in does the same job with
Python's own ensurepip and then pip from the package index, which is
reachable. `make sanity` puts it where ansible-test looks for its cache.
"""

import subprocess
import sys


def main():
    args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args)


if __name__ == "__main__":
    main()
