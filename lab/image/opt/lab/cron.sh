#!/bin/sh
# blog/cron: a sleep loop that logs a tick now and then.
n=0
while :; do
    n=$((n + 1))
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) cron tick=$n: nothing to do"
    sleep 5
done
