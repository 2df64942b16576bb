# Where a record's time goes: ftrace's function profiler (function_graph,
# inclusive times) on both ends of a link while vsock_seqpacket_perf runs
# markers and then EOM framing, throughput and round trips (sleep-time off:
# a function's time excludes the time its task slept). Needs a kernel
# with CONFIG_FUNCTION_PROFILER and CONFIG_FUNCTION_GRAPH_TRACER (a
# measurement kernel, not config/vm.config). Each side prints
#   PROF side=tx|rx layout=L framing=F mode=sender|rtt records=N <trace_stat line>
# for every function it profiled, and scripts/profile_report.py turns the
# console into per-record counts and times, markers against EOM.
# The active side (the sender or round-trip client) profiles around its own
# run; the passive side (the receiver) starts a profile when a connection of
# the module appears in its counters and dumps it once the records stop.
# Parameters: vsq.size=64 vsq.secs=2 vsq.modes="sender rtt"
# vsq.filter="pattern,pattern" (set_ftrace_filter; default below)

. /scenarios/bench.sh

T=/sys/kernel/tracing
PROF_FILTER='*vsock*,virtio_transport*,vhost*,virtqueue_*,vring_*,vp_notify,__alloc_skb,kfree_skb*,sk_skb_reason_drop,consume_skb,__wake_up*,try_to_wake_up,lock_sock_nested,release_sock,sock_def_readable,skb_copy_datagram_iter,_copy_from_iter,_copy_to_iter,copy_page_to_iter,copy_page_from_iter,schedule,kmem_cache_alloc*,__kmalloc*,kfree,skb_put,pskb_trim*,___pskb_trim,queue_work_on,vhost_*,iov_iter_*,eventfd_signal_mask,handle_edge_irq,vring_interrupt'

prof_setup() {
	[ -d $T/trace_stat ] || mount -t tracefs nodev $T 2>/dev/null
	[ -w $T/function_profile_enabled ] || { say "profile: no function profiler in this kernel"; return 1; }
	: >$T/set_ftrace_filter
	for p in $(echo "${VSQ_filter:-$PROF_FILTER}" | tr , ' '); do
		echo "$p" >>$T/set_ftrace_filter 2>/dev/null || true
	done
	# Inclusive times without the time a task slept inside the function.
	echo 0 >$T/options/sleep-time 2>/dev/null || true
	echo 1 >$T/options/graph-time 2>/dev/null || true
	say "profile: $(wc -l <$T/set_ftrace_filter) functions traced"
}

prof_start() { echo 0 >$T/function_profile_enabled; echo 1 >$T/function_profile_enabled; }

prof_hits() { awk -v f="$1" '$1 == f { n += $2 } END { print n + 0 }' $T/trace_stat/function*; }

# prof_dump SIDE LAYOUT FRAMING MODE RECORDS
prof_dump() {
	echo 0 >$T/function_profile_enabled
	cat $T/trace_stat/function* | grep -v '^ *Function\|^ *---\|^$' |
		sed "s/^ */PROF side=$1 layout=$2 framing=$3 mode=$4 records=$5 /"
}

# prof_active LAYOUT PEER_CID: markers and EOM, each mode, profiled here.
prof_active() {
	layout=$1 cid=$2 ok=0 size=${VSQ_size:-64} secs=${VSQ_secs:-2}
	for mode in ${VSQ_modes:-sender rtt}; do
		for framing in markers eom; do
			[ $framing = markers ] && echo 1 >$KNOB || echo 0 >$KNOB
			prof_start
			out=$(vsock_seqpacket_perf "$mode" --cid "$cid" --port $PERF_PORT --type seqpacket \
				--size "$size" --duration "$secs" --label "$layout/$framing" 2>&1) || { say "profile: $out"; ok=1; }
			n=$(echo "$out" | sed -n 's/.* records=\([0-9]*\).*/\1/p; s/.* round_trips=\([0-9]*\).*/\1/p')
			[ "$mode" = rtt ] && n=$((n + 16))
			prof_dump "${PROF_SIDE:-tx}" "$layout" $framing "$mode" "${n:-0}"
			say "BENCH layout=$layout framing=$framing rep=1 ${out#RESULT }"
			# The passive side sees the records stop.
			sleep 3
		done
	done
	echo 1 >$KNOB
	return $ok
}

# prof_passive LAYOUT PID: while PID (the receiver) lives, one profile per
# burst of packets, dumped once packets stopped for a second. The bursts
# come in prof_active's order (sender markers, sender EOM, rtt markers, rtt
# EOM); the profile starts when the burst is seen, so its records are the
# receiver's recvmsg() calls in it (one a record in both modes), not the
# active side's count.
prof_passive() {
	layout=$1 pid=$2 n=0
	set -- ${VSQ_modes:-sender rtt}
	prof_start
	last=$(prof_hits virtio_transport_recv_pkt)
	while kill -0 "$pid" 2>/dev/null; do
		sleep 0.1
		r=$(prof_hits virtio_transport_recv_pkt)
		[ "$r" -gt $((last + 50)) ] || { last=$r; continue; }
		prof_start
		last=0 still=0
		while [ $still -lt 5 ] && kill -0 "$pid" 2>/dev/null; do
			sleep 0.2
			r=$(prof_hits virtio_transport_recv_pkt)
			[ "$r" = "$last" ] && still=$((still + 1)) || still=0
			last=$r
		done
		n=$((n + 1))
		case $n in
		1) mode=$1 framing=markers ;;
		2) mode=$1 framing=eom ;;
		3) mode=${2:-x} framing=markers ;;
		4) mode=${2:-x} framing=eom ;;
		*) mode=x framing=x ;;
		esac
		prof_dump rx "$layout" $framing "$mode" "$(prof_hits vsock_connectible_recvmsg)"
		prof_start
		last=$(prof_hits virtio_transport_recv_pkt)
	done
}

role_loopback() {
	prof_setup || return 1
	start_receiver
	PROF_SIDE=both prof_active loopback 1
	ok=$?
	stop_receiver 1
	wait $RECEIVER
	return $ok
}

role_l1() {
	prof_setup || return 1
	start_receiver
	VSQ_L2_ARGS="vsq.size=${VSQ_size:-64} vsq.secs=${VSQ_secs:-2}"
	[ -n "${VSQ_modes:-}" ] && VSQ_L2_ARGS="$VSQ_L2_ARGS vsq.modes=$(echo "$VSQ_modes" | tr ' ' ,)"
	start_l2 profile || return 1
	prof_passive g2h $RECEIVER
	wait $RECEIVER
	ok=0
	prof_active h2g 3 || ok=1
	stop_receiver 3
	wait_l2 || ok=1
	return $ok
}

role_l2() {
	[ -n "${VSQ_modes:-}" ] && VSQ_modes=$(echo "$VSQ_modes" | tr , ' ')
	prof_setup || return 1
	start_receiver
	ok=0
	prof_active g2h 2 || ok=1
	stop_receiver 2
	prof_passive h2g $RECEIVER
	wait $RECEIVER
	return $ok
}
