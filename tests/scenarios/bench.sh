# The benchmark (scripts/bench.sh): vsock_seqpacket_perf for each record
# size, three framings a size, in one boot:
#   markers   SOCK_SEQPACKET with SEQ_BEGIN/SEQ_END (module on both ends)
#   eom       SOCK_SEQPACKET with upstream's EOM framing: the sender's
#             debugfs knob "markers" is cleared, so it does not ask for markers
#   stream    SOCK_STREAM
# and then request/response round trips (vsock_seqpacket_perf rtt: one
# record out, its echo back) for each of the round-trip sizes, the same
# three framings.
# Repetitions are interleaved (rep, then size, then framing) so that drift
# of the machine spreads over all framings. Each result is printed as a
# "BENCH layout=... framing=... rep=... <RESULT fields>" line (round trips
# carry mode=rtt); the sender checks in its statistics that the connection
# used the framing named (only marker connections count records).
# Parameters (kernel command line): vsq.sizes=64,1K,... vsq.reps=N vsq.secs=S
# vsq.rtt_sizes=64,1K,64K (empty: no round trips)

PERF_PORT=1300
KNOB=/sys/kernel/debug/vsock_seqpacket/markers

bench_params() {
	sizes=$(echo "${VSQ_sizes:-64,1K,4K,64K,1M}" | tr , ' ')
	rtt_sizes=$(echo "${VSQ_rtt_sizes-64,1K,64K}" | tr , ' ')
	reps=${VSQ_reps:-5} secs=${VSQ_secs:-1}
}

# bench_run LAYOUT PEER_CID: every size and framing, VSQ_reps times.
bench_run() {
	layout=$1 cid=$2 ok=0
	bench_params
	[ -w $KNOB ] || { say "bench: $KNOB missing: the module must be loaded on both sides"; return 1; }
	rep=1
	while [ $rep -le "$reps" ]; do
		for size in $sizes; do
			for framing in markers eom stream; do
				bench_one "$layout" "$cid" "$size" "$framing" "$rep" sender || ok=1
			done
		done
		for size in $rtt_sizes; do
			for framing in markers eom stream; do
				bench_one "$layout" "$cid" "$size" "$framing" "$rep" rtt || ok=1
			done
		done
		rep=$((rep + 1))
	done
	echo 1 >$KNOB
	return $ok
}

bench_one() { # LAYOUT CID SIZE FRAMING REP sender|rtt
	type=seqpacket
	case $4 in
	markers) echo 1 >$KNOB ;;
	eom) echo 0 >$KNOB ;;
	stream) echo 1 >$KNOB; type=stream ;;
	esac
	s0=$(stat_of records_sent) r0=$(stat_of records_received)
	out=$(vsock_seqpacket_perf "$6" --cid "$2" --port $PERF_PORT --type $type --size "$3" \
		--duration "$secs" --label "$1/$4/$5" 2>&1) || { say "bench: $1 $4 $3 rep $5 $6 FAILED: $out"; return 1; }
	s1=$(stat_of records_sent) r1=$(stat_of records_received)
	# The framing really was the one named: the sender's own records count
	# (and a round trip's echoes) with markers, and nothing counts without.
	case $4 in
	markers) [ "$s1" -gt "$s0" ] && { [ "$6" != rtt ] || [ "$r1" -gt "$r0" ]; } ;;
	eom | stream) [ "$s1" = "$s0" ] && [ "$r1" = "$r0" ] ;;
	esac || { say "bench: $1 $4 $3 rep $5 used the wrong framing (records_sent $s0->$s1, records_received $r0->$r1)"; return 1; }
	say "BENCH layout=$1 framing=$4 rep=$5 ${out#RESULT } clock=$(clock_source)"
}

# The clock behind the round-trip times: under TCG a boot now and then
# fails to calibrate the TSC and runs on jiffies (4 ms steps), which makes
# latencies meaningless; bench_report.py leaves such runs out.
clock_source() {
	cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown
}

start_receiver() {
	vsock_seqpacket_perf receiver --port $PERF_PORT >/tmp/receiver.log 2>&1 &
	RECEIVER=$!
	i=0
	until grep -q listening /tmp/receiver.log 2>/dev/null || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
}

# stop_receiver CID: asks the receiver of CID to quit.
stop_receiver() {
	vsock_seqpacket_perf quit --cid "$1" --port $PERF_PORT >/dev/null ||
		say "bench: the receiver of CID $1 did not answer quit"
}

# bench_as_sender LAYOUT PEER_CID: this side's receiver serves the peer's
# runs while this side runs its own against PEER_CID, then quits the peer's
# receiver and waits for its own to be quit (by itself in loopback, by L1
# after host->guest).
bench_as_sender() {
	ok=0
	start_receiver
	bench_run "$1" "$2" || ok=1
	stop_receiver "$2"
	wait $RECEIVER || ok=1
	sed "s/^/vm[$VSQ_role]: receiver: /" /tmp/receiver.log
	show_stats
	return $ok
}

role_loopback() { bench_as_sender loopback 1; }

# L1 receives guest->host first; L2 quits L1's receiver when done, then
# L1 sends host->guest and quits L2's.
role_l1() {
	ok=0
	start_receiver
	VSQ_L2_ARGS="vsq.sizes=${VSQ_sizes:-} vsq.reps=${VSQ_reps:-} vsq.secs=${VSQ_secs:-}"
	[ -n "${VSQ_rtt_sizes+set}" ] && VSQ_L2_ARGS="$VSQ_L2_ARGS vsq.rtt_sizes=$VSQ_rtt_sizes"
	start_l2 bench || return 1
	while kill -0 $RECEIVER 2>/dev/null && kill -0 "$L2_PID" 2>/dev/null; do sleep 0.2; done
	if kill -0 $RECEIVER 2>/dev/null; then
		say "bench: L2 ended before guest->host finished"
		kill $RECEIVER
		ok=1
	fi
	wait $RECEIVER || ok=1
	sed 's/^/vm[l1]: receiver: /' /tmp/receiver.log
	if [ $ok = 0 ]; then
		bench_run h2g 3 || ok=1
	fi
	stop_receiver 3
	wait_l2 || { say "L2 failed"; ok=1; }
	show_stats
	return $ok
}

role_l2() { bench_as_sender g2h 2; }
