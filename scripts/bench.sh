#!/usr/bin/env bash
# make bench: vsock_seqpacket_perf in every layout, our markers against
# upstream's EOM framing and SOCK_STREAM in the same boot, throughput and
# request/response round trips; writes build/bench/{results.txt,bench.md,
# bench.png,results.json} (results.json: medians per layout, framing, size
# and mode, for tools and tests to read back).
#
#   BENCH_SIZES   record sizes of the throughput runs (default 64,1K,4K,64K,1M)
#   BENCH_RTT_SIZES record sizes of the round-trip runs (default 64,1K,64K;
#                 "none" for no round trips)
#   BENCH_REPS    repetitions of every run (default 5)
#   BENCH_SECS    seconds a run (default 1)
#   BENCH_LAYOUTS loopback and/or hostguest (default both; hostguest gives
#                 guest->host and host->guest in one boot)
#   --readme      also put the table into README.md and the chart into docs/
#
# The module is on both sides; EOM framing is forced per connection by the
# sender's debugfs knob "markers" (tests/scenarios/bench.sh). The report
# uses Debian's python3 and python3-matplotlib (scripts/deps.sh), not
# whatever python3 comes first in PATH.
set -euo pipefail
LOG_TAG=bench
. "$(dirname "$0")/lib.sh"

readme=0
case ${1:-} in
"") ;;
--readme) readme=1 ;;
*) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
sizes=${BENCH_SIZES:-64,1K,4K,64K,1M}
rtt_sizes=${BENCH_RTT_SIZES:-64,1K,64K}
[ "$rtt_sizes" = none ] && rtt_sizes=
reps=${BENCH_REPS:-5}
secs=${BENCH_SECS:-1}
layouts=${BENCH_LAYOUTS:-loopback hostguest}
out=$BUILD/bench
mkdir -p "$out"
: >"$out/results.txt"

for layout in $layouts; do
	log "layout $layout: sizes $sizes, round trips ${rtt_sizes:-none}, $reps repetitions of ${secs}s"
	# vm.sh boots a layout once more if the VMs froze; only the figures of
	# the boot that finished are in its console.
	rc=0
	"$TOP/scripts/vm.sh" --layout "$layout" --timeout 1800 \
		--param "sizes=$sizes" --param "rtt_sizes=$rtt_sizes" --param "reps=$reps" \
		--param "secs=$secs" bench || rc=$?
	grep -ao 'BENCH .*' "$BUILD/console-$layout-both-bench.log" | tr -d '\r' >>"$out/results.txt" || true
	[ $rc = 0 ] || die "the $layout benchmark failed (console: build/console-$layout-both-bench.log)"
done

machine="$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), L1 under TCG, L2 under nested KVM"
/usr/bin/python3 "$TOP/scripts/bench_report.py" --results "$out/results.txt" --out "$out" \
	--machine "$machine" --date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
	--params "sizes $sizes; round trips ${rtt_sizes:-none}; $reps repetitions of ${secs} s; kernel $(cat "$KSRC/include/config/kernel.release" 2>/dev/null || echo 6.12)"
log "table: build/bench/bench.md, chart: build/bench/bench.png, figures: build/bench/results.json"
cat "$out/bench.md"
if [ $readme = 1 ]; then
	/usr/bin/python3 "$TOP/scripts/bench_report.py" --readme "$TOP/README.md" --table "$out/bench.md"
	mkdir -p "$TOP/docs"
	cp "$out/bench.png" "$TOP/docs/bench.png"
	log "README.md and docs/bench.png updated"
fi
