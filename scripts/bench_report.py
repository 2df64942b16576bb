#!/usr/bin/env python3
"""Tables and a chart from the benchmark's BENCH lines (scripts/bench.sh).

  bench_report.py --results R --out DIR --machine M --date D --params P
      writes DIR/bench.md, DIR/bench.png and DIR/results.json
  bench_report.py --readme README.md --table DIR/bench.md
      puts the table between README's <!-- bench:begin/end --> marks

A BENCH line is "BENCH layout=L framing=F rep=N key=value ..." with the
fields of vsock_seqpacket_perf's RESULT line; round trips (`rtt` mode)
carry mode=rtt. Figures are medians over the repetitions with their spread
(half the min-max range, in % of the median); a ratio is the median of the
per-repetition ratios, so that drift of the machine between repetitions
cancels out.

results.json is the machine-readable form: {"machine", "date", "params",
"results": [{"layout", "framing", "size", "mode": "throughput"|"rtt",
"reps", ...medians}]}, where a throughput entry has records_per_s and
mb_per_s, a round-trip entry rtt_p50_us, rtt_p99_us and round_trips_per_s,
and {"ratios": [...]} gives markers/EOM per layout, size and figure.
"""
import argparse
import json
import statistics
import sys
from collections import defaultdict

FRAMINGS = ["markers", "eom", "stream"]
LAYOUT_NAMES = {"loopback": "loopback (one VM)", "g2h": "guest -> host", "h2g": "host -> guest"}
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


JIFFIES_RUNS = []
RTT_FLOATS = ("round_trips_per_s", "rtt_p50_us", "rtt_p99_us", "rtt_mean_us",
              "rtt_min_us", "rtt_max_us")
TPUT_FLOATS = ("records_per_s", "mb_per_s")
CPU_FLOATS = ("tx_user_ms", "tx_sys_ms", "rx_user_ms", "rx_sys_ms")


def parse(path):
    """(throughput runs, round-trip runs)"""
    runs, rtts = [], []
    with open(path) as f:
        for line in f:
            if not line.startswith("BENCH "):
                continue
            fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
            rtt = fields.get("mode") == "rtt"
            if rtt and "jiffies" in fields.get("clock", "") and fields.get("timer") != "tsc":
                # A boot that runs on jiffies times in 4 ms steps (unless the
                # tool timed the round trips with the TSC itself).
                JIFFIES_RUNS.append(fields)
                continue
            ints = ("size", "rep", "round_trips") if rtt else ("size", "rep", "records")
            for key in ints:
                fields[key] = int(fields[key])
            for key in (RTT_FLOATS if rtt else TPUT_FLOATS) + CPU_FLOATS:
                fields[key] = float(fields[key])
            (rtts if rtt else runs).append(fields)
    return runs, rtts


def human_size(n):
    for unit, div in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n} B"


def median_spread(values):
    med = statistics.median(values)
    spread = (max(values) - min(values)) / 2 / med * 100 if med else 0.0
    return med, spread


def fmt(values, digits=1):
    med, spread = median_spread(values)
    return f"{med:,.{digits}f} ±{spread:.0f}%"


def cpu_us_per_record(run):
    total_ms = run["tx_user_ms"] + run["tx_sys_ms"] + run["rx_user_ms"] + run["rx_sys_ms"]
    return total_ms * 1000 / run["records"] if run["records"] else float("nan")


def paired_ratio(by_rep_a, by_rep_b, key):
    ratios = [by_rep_a[r][key] / by_rep_b[r][key]
              for r in by_rep_a if r in by_rep_b and by_rep_b[r][key] > 0]
    return (statistics.median(ratios), min(ratios), max(ratios)) if ratios else None


def fmt_ratio(r):
    return "n/a" if r is None else f"**{r[0]:.2f}** ({r[1]:.2f}-{r[2]:.2f})"


def build(runs):
    """{layout: {size: {framing: {rep: run}}}}"""
    table = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for run in runs:
        table[run["layout"]][run["size"]][run["framing"]][run["rep"]] = run
    return table


def targets(table):
    """(description, layout, ratio, threshold) for the issue's targets."""
    out = []
    for layout, sizes in table.items():
        name = LAYOUT_NAMES.get(layout, layout)
        for size, fr in sorted(sizes.items()):
            vs_eom = paired_ratio(fr["markers"], fr["eom"], "records_per_s")
            vs_stream = paired_ratio(fr["markers"], fr["stream"], "mb_per_s")
            if size == 64:
                want = 0.9 if layout == "loopback" else 0.67
                out.append((f"{name}: 64 B records/s >= {want}x EOM", vs_eom, want))
            if size >= 4096:
                out.append((f"{name}: {human_size(size)} MB/s >= 1.0x EOM", vs_eom, 1.0))
            if size == 65536:
                out.append((f"{name}: 64 KiB MB/s >= 0.9x SOCK_STREAM", vs_stream, 0.9))
    return out


def rtt_targets(rtable):
    out = []
    for layout, sizes in rtable.items():
        fr = sizes.get(64)
        if fr:
            out.append((f"{LAYOUT_NAMES.get(layout, layout)}: 64 B round trip p50 <= 1.1x EOM",
                        paired_ratio(fr["markers"], fr["eom"], "rtt_p50_us"), 1.1))
    return out


def rtt_markdown(rtable):
    lines = ["**Round trips** (one record out, its echo back, one in flight;"
             " µs, median of the repetitions' p50 and p99; ratio markers/EOM of p50)", "",
             "| layout | record | markers p50 | EOM p50 | stream p50 | markers p99 |"
             " EOM p99 | stream p99 | p50 markers/EOM | p50 markers/stream |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for layout, sizes in rtable.items():
        for size, fr in sorted(sizes.items()):
            cells = [LAYOUT_NAMES.get(layout, layout), human_size(size)]
            for key in ("rtt_p50_us", "rtt_p99_us"):
                for framing in FRAMINGS:
                    cells.append(fmt([r[key] for r in fr[framing].values()], 0)
                                 if fr[framing] else "n/a")
            cells.append(fmt_ratio(paired_ratio(fr["markers"], fr["eom"], "rtt_p50_us")))
            cells.append(fmt_ratio(paired_ratio(fr["markers"], fr["stream"], "rtt_p50_us")))
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def markdown(table, machine, date, params, rtable=None):
    lines = [f"Measured {date} on {machine}; {params}.",
             "Median of the repetitions ± half their range; ratios are medians of"
             " per-repetition ratios (range in brackets). EOM is upstream's"
             " framing on the same kernel, forced by the sender's `markers` knob.", ""]
    for layout, sizes in table.items():
        lines += [f"**{LAYOUT_NAMES.get(layout, layout)}**", "",
                  "| record | markers MB/s | EOM MB/s | stream MB/s | markers rec/s |"
                  " EOM rec/s | markers/EOM | markers/stream | CPU µs/rec markers, EOM |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for size, fr in sorted(sizes.items()):
            cells = [human_size(size)]
            for framing in FRAMINGS:
                cells.append(fmt([r["mb_per_s"] for r in fr[framing].values()])
                             if fr[framing] else "n/a")
            for framing in ("markers", "eom"):
                cells.append(fmt([r["records_per_s"] for r in fr[framing].values()], 0)
                             if fr[framing] else "n/a")
            cells.append(fmt_ratio(paired_ratio(fr["markers"], fr["eom"], "records_per_s")))
            cells.append(fmt_ratio(paired_ratio(fr["markers"], fr["stream"], "mb_per_s")))
            cpu = [statistics.median([cpu_us_per_record(r) for r in fr[f].values()])
                   if fr[f] else float("nan") for f in ("markers", "eom")]
            cells.append(f"{cpu[0]:.1f}, {cpu[1]:.1f}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if rtable:
        lines += rtt_markdown(rtable)
    if JIFFIES_RUNS:
        layouts = sorted({r["layout"] for r in JIFFIES_RUNS})
        lines += [f"Round trips left out: {len(JIFFIES_RUNS)} runs in {', '.join(layouts)} were"
                  " timed by a kernel on the jiffies clocksource (TSC calibration failed at"
                  " boot under TCG): run the benchmark again for their latencies.", ""]
    lines += ["Targets:", ""]
    checks = [(d, r, t, True) for d, r, t in targets(table)]
    checks += [(d, r, t, False) for d, r, t in rtt_targets(rtable or {})]
    for desc, ratio, threshold, at_least in checks:
        if ratio is None:
            verdict = "n/a"
        else:
            met = ratio[0] >= threshold if at_least else ratio[0] <= threshold
            verdict = "met" if met else "NOT met"
        shown = "n/a" if ratio is None else f"{ratio[0]:.2f}"
        lines.append(f"- {desc}: {shown} — {verdict}")
    return "\n".join(lines) + "\n"


def bars(ax, sizes_of, key, title, ylabel):
    """One subplot: for each record size a bar a framing, the median of
    `key` over the repetitions, with their min-max range."""
    width = 0.27
    sizes = sorted(sizes_of)
    for i, framing in enumerate(FRAMINGS):
        meds, lo, hi = [], [], []
        for size in sizes:
            vals = [r[key] for r in sizes_of[size][framing].values()] or [0]
            med = statistics.median(vals)
            meds.append(med)
            lo.append(med - min(vals))
            hi.append(max(vals) - med)
        xs = [x + (i - 1) * width for x in range(len(sizes))]
        ax.bar(xs, meds, width, yerr=[lo, hi], capsize=2,
               label={"eom": "EOM (upstream)", "stream": "SOCK_STREAM"}.get(framing, framing))
    ax.set_xticks(range(len(sizes)), [human_size(s) for s in sizes])
    ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("record size")
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", which="both", alpha=0.3)


def chart(table, path, rtable=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layouts = list(table)
    rows = 2 if rtable else 1
    fig, axes = plt.subplots(rows, len(layouts), figsize=(5 * len(layouts), 4.2 * rows),
                             squeeze=False)
    for ax, layout in zip(axes[0], layouts):
        bars(ax, table[layout], "mb_per_s", LAYOUT_NAMES.get(layout, layout),
             "MB/s (median, min-max)")
    axes[0][0].legend()
    if rtable:
        for ax, layout in zip(axes[1], layouts):
            bars(ax, rtable.get(layout, {}), "rtt_p50_us",
                 f"{LAYOUT_NAMES.get(layout, layout)}: round trip",
                 "p50 µs (median, min-max; lower is better)")
    fig.suptitle("vsock SOCK_SEQPACKET: SEQ_BEGIN/SEQ_END markers vs EOM framing vs SOCK_STREAM")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def json_results(table, rtable, machine, date, params):
    results, ratios = [], []
    for mode, tab, keys in (("throughput", table, TPUT_FLOATS),
                            ("rtt", rtable, ("rtt_p50_us", "rtt_p99_us", "round_trips_per_s"))):
        for layout, sizes in tab.items():
            for size, fr in sorted(sizes.items()):
                for framing in FRAMINGS:
                    if not fr[framing]:
                        continue
                    entry = {"layout": layout, "framing": framing, "size": size, "mode": mode,
                             "reps": len(fr[framing])}
                    for key in keys:
                        entry[key] = statistics.median(r[key] for r in fr[framing].values())
                    results.append(entry)
                for key in keys:
                    r = paired_ratio(fr["markers"], fr["eom"], key)
                    if r:
                        ratios.append({"layout": layout, "size": size, "mode": mode,
                                       "figure": key, "markers_over_eom": r[0],
                                       "min": r[1], "max": r[2]})
    return {"machine": machine, "date": date, "params": params,
            "results": results, "ratios": ratios}


def update_readme(readme, table_path):
    text = open(readme).read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{readme} has no {BEGIN} ... {END} section")
    table = open(table_path).read()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(readme, "w") as f:
        f.write(head + BEGIN + "\n" + table + END + tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results")
    ap.add_argument("--out")
    ap.add_argument("--machine", default="?")
    ap.add_argument("--date", default="?")
    ap.add_argument("--params", default="")
    ap.add_argument("--readme")
    ap.add_argument("--table")
    ap.add_argument("--no-chart", dest="chart", action="store_false",
                    help="tables and results.json only (no matplotlib)")
    a = ap.parse_args()
    if a.readme:
        update_readme(a.readme, a.table)
        return
    runs, rtts = parse(a.results)
    if not runs and not rtts:
        sys.exit(f"no BENCH lines in {a.results}")
    table, rtable = build(runs), build(rtts)
    with open(f"{a.out}/bench.md", "w") as f:
        f.write(markdown(table, a.machine, a.date, a.params, rtable))
    with open(f"{a.out}/results.json", "w") as f:
        json.dump(json_results(table, rtable, a.machine, a.date, a.params), f, indent=1)
        f.write("\n")
    if a.chart:
        chart(table, f"{a.out}/bench.png", rtable)


if __name__ == "__main__":
    main()
