#!/bin/sh
# shop/worker: a log line every 0.5 s, every 5th one is an ERROR.
n=0
while :; do
    n=$((n + 1))
    ts=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    if [ $((n % 5)) -eq 0 ]; then
        echo "$ts ERROR worker job=$n failed: connection refused (db:5432)"
    else
        echo "$ts INFO worker job=$n done in $((n % 7 * 13 + 4))ms"
    fi
    sleep 0.5
done
