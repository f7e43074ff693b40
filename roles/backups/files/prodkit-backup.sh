#!/bin/sh
# prodkit-backup {run,restore,drill,status} (prodkit.stack.backups). Also
# called as prodkit-restore and prodkit-backup-drill (links to this file): the
# name picks the command. The program is prodkit_backup.py (stdlib Python 3),
# run isolated from PYTHON* variables and user site-packages.
PRODKIT_BACKUP_NAME=${0##*/}
export PRODKIT_BACKUP_NAME
exec /usr/bin/python3 -I /usr/local/lib/prodkit/prodkit_backup.py "$@"
