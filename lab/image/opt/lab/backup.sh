#!/bin/sh
# blog/db-backup: a one-shot job that succeeds and exits 0.
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) db-backup: dumping blog ... done (0 errors)"
exit 0
