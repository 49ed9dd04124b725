"""warroom's benchmarks against the lab (``make bench``); see bench/run.py and bench/RESULTS.md."""
