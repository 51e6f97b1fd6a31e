#!/usr/bin/env python3
"""Interleaved timing of several binaries on the same arguments (issue #17's warm-scan loops).

Usage: bench/ab.py ROUNDS ARGS... -- BIN1 BIN2 ...
Runs every binary with ARGS in turn, ROUNDS rounds after one warm-up round, and prints per binary the medians of
wall time, user+system CPU time (rusage), peak RSS and minor page faults. Interleaving spreads the machine's noise
over all binaries alike; stdout and stderr are discarded.
"""
import os
import statistics as st
import subprocess
import sys
import time


def main():
    n = int(sys.argv[1])
    i = sys.argv.index("--")
    args, bins = sys.argv[2:i], sys.argv[i + 1:]
    rows = {b: [] for b in bins}
    for r in range(n + 1):
        for b in bins:
            t = time.perf_counter()
            p = subprocess.Popen([b] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, _, ru = os.wait4(p.pid, 0)
            wall = (time.perf_counter() - t) * 1000
            if r:  # round 0 warms the page cache
                rows[b].append((wall, (ru.ru_utime + ru.ru_stime) * 1000, ru.ru_maxrss / 1024, ru.ru_minflt))
    for b in bins:
        m = lambda k: st.median(x[k] for x in rows[b])
        print(f"{b}: wall {m(0):.1f} ms (min {min(x[0] for x in rows[b]):.1f})  cpu {m(1):.1f} ms  "
              f"rss {m(2):.0f} MB  faults {m(3):.0f}")


if __name__ == "__main__":
    main()
