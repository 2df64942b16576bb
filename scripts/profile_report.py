#!/usr/bin/env python3
"""Per-record costs, markers against EOM, from tests/scenarios/profile.sh.

  profile_report.py CONSOLE... [--top N] [--funcs f1,f2,...]

Reads the PROF lines (ftrace function profiler, inclusive times under
function_graph) of one or more consoles and prints, for each layout, side
and mode, the calls and µs per record of every function with markers, with
EOM framing, and the difference, biggest extra time first. Records come
from the active side's RESULT, and on the passive side (the receiver) from
its recvmsg() calls during the burst it profiled. Times are inflated by the tracing itself (and L1 runs under TCG):
compare them with each other, not with the benchmark's latencies.
"""
import argparse
import re
from collections import defaultdict

UNIT = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}


def parse(paths):
    # prof[(layout, side, mode)][framing][func] = (hits, us)
    prof = defaultdict(lambda: defaultdict(dict))
    records = {}
    for path in paths:
        with open(path, errors="replace") as f:
            for line in f:
                m = re.search(r"PROF side=(\S+) layout=(\S+) framing=(\S+) mode=(\S+) "
                              r"records=(\d+) (\S+)\s+(\d+)\s+([\d.]+) (\w+)", line)
                if not m:
                    continue
                side, layout, framing, mode, n, func, hits, t, unit = m.groups()
                key = (layout, side, mode)
                old = prof[key][framing].get(func, (0, 0.0))
                prof[key][framing][func] = (old[0] + int(hits),
                                            old[1] + float(t) * UNIT.get(unit, 1.0))
                if int(n):
                    records[(layout, side, framing, mode)] = int(n)
    return prof, records


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("consoles", nargs="+")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--funcs", default="", help="only these functions, in this order")
    a = ap.parse_args()
    prof, records = parse(a.consoles)
    only = [f for f in a.funcs.split(",") if f]
    for (layout, side, mode), fr in sorted(prof.items()):
        nm = records.get((layout, side, "markers", mode))
        ne = records.get((layout, side, "eom", mode))
        if not nm or not ne or "markers" not in fr or "eom" not in fr:
            continue
        print(f"\n## {layout} side={side} mode={mode} "
              f"(records: markers {nm}, EOM {ne}; per record)")
        print(f"{'function':44} {'calls M':>8} {'calls E':>8} {'µs M':>9} {'µs E':>9} {'µs M-E':>9}")
        rows = []
        for func in set(fr["markers"]) | set(fr["eom"]):
            hm, tm = fr["markers"].get(func, (0, 0.0))
            he, te = fr["eom"].get(func, (0, 0.0))
            rows.append((func, hm / nm, he / ne, tm / nm, te / ne))
        if only:
            rows = sorted((r for r in rows if r[0] in only), key=lambda r: only.index(r[0]))
        else:
            rows.sort(key=lambda r: -(r[3] - r[4]))
            rows = rows[:a.top]
        for func, cm, ce, tm, te in rows:
            print(f"{func[:44]:44} {cm:8.2f} {ce:8.2f} {tm:9.2f} {te:9.2f} {tm - te:+9.2f}")


if __name__ == "__main__":
    main()
