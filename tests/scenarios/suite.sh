# The project's own SOCK_SEQPACKET suite (tests/vsock_test), TAP output.
# Three passes: every case with counters starting at 0; the counter-wrap
# case and the hostile peer with both ends' initial_counter just below 2^32;
# the send rules (and fault cases) with EOM framing.

WRAP_START=4294967256

set_initial_counter() {
	[ -w /sys/kernel/debug/vsock_seqpacket/initial_counter ] &&
		echo "$1" >/sys/kernel/debug/vsock_seqpacket/initial_counter
	return 0
}

# The send rules once more with upstream's EOM framing (the markers switch
# off on both sides), to print where markers and EOM framing differ.
# With fault injection (debug kernel), also the two-faults-in-one-send and
# merge-under-faults cases.
EOM_CASES="timed_out_send_sends_nothing interrupted_send_sends_nothing nonblocking_send_retries sender_under_signal_storm credit_request_big_record fault_two_in_one_send fault_merge_under_faults fault_random_sender fault_random_receiver credit_update_lost"
WRAP_CASES="counter_wrap hostile_violations"

set_markers() {
	[ -w /sys/kernel/debug/vsock_seqpacket/markers ] &&
		echo "$1" >/sys/kernel/debug/vsock_seqpacket/markers
	return 0
}

# select_cases OWN: the cases of a pass whose own list is OWN (empty: every
# case) as the suite's arguments ($args). --param cases=a,b (vm.sh; L1 hands
# it to L2) narrows every pass to those of its cases that are named, on both
# sides alike; fails when that leaves a pass none.
select_cases() {
	local own=$1 c
	args=""
	if [ -z "${VSQ_cases:-}" ]; then
		for c in $own; do args="$args --only=$c"; done
		return 0
	fi
	for c in $(echo "$VSQ_cases" | tr , ' '); do
		[ -z "$own" ] || case " $own " in *" $c "*) ;; *) continue ;; esac
		args="$args --only=$c"
	done
	[ -n "$args" ]
}

# pass_setup all|wrap|eom: this side's counters, framing and the suite's
# arguments ($args) for one pass; fails when cases= leaves it no case.
pass_setup() {
	local own
	case $1 in
	all) own="" ;;
	wrap) own=$WRAP_CASES ;;
	eom) own=$EOM_CASES ;;
	esac
	if ! select_cases "$own"; then
		say "$1 pass: none of its cases among cases=$VSQ_cases, not run"
		return 1
	fi
	set_markers Y
	case $1 in
	all | eom) set_initial_counter 0 ;;
	wrap) set_initial_counter $WRAP_START ;;
	esac
	[ "$1" = eom ] && set_markers N
	# The fault cases make a debug kernel's run long.
	args="$args --watchdog=1500"
}

PASSES="all wrap eom"

suite_server() { # PEER_CID LOG ARGS...
	cid=$1 out=$2; shift 2
	vsock_seqpacket_test --mode=server --peer-cid="$cid" "$@" >"$out" 2>&1
}

suite_client() { # PEER_CID LOG ARGS...
	cid=$1 out=$2; shift 2
	vsock_seqpacket_test --mode=client --peer-cid="$cid" "$@" >"$out" 2>&1
}

# suite_report NAME LOG RC: prints the TAP of one side, says its totals.
suite_report() {
	sed 's/^/    /' "$2"
	say "$1: $(grep '^# Totals' "$2" || echo 'no totals line') (exit $3)"
	[ "$3" = 0 ]
}

role_loopback() {
	ok=0
	insmod /lib/vsock_forge.ko || return 1
	for pass in $PASSES; do
		pass_setup $pass || continue
		suite_server 1 /tmp/server-$pass.log $args &
		server=$!
		suite_client 1 /tmp/client-$pass.log $args; crc=$?
		wait $server; src=$?
		suite_report "loopback $pass: client" /tmp/client-$pass.log $crc || ok=1
		suite_report "loopback $pass: server" /tmp/server-$pass.log $src || ok=1
	done
	set_initial_counter 0
	set_markers Y
	show_stats
	rmmod vsock_forge || ok=1
	return $ok
}

# run_halves PLACE PEER_CID G2H H2G: each pass, guest-to-host (control port
# 1235) then host-to-guest (1236), this side being G2H then H2G (server or
# client) of the suite. L1 and L2 run the same passes with the same cases.
run_halves() {
	local place=$1 cid=$2 g2h=$3 h2g=$4 pass rc
	for pass in $PASSES; do
		pass_setup $pass || continue
		suite_$g2h "$cid" /tmp/g2h-$g2h-$pass.log --control-port=1235 $args; rc=$?
		suite_report "guest-to-host $pass: $g2h in $place" /tmp/g2h-$g2h-$pass.log $rc || ok=1
		suite_$h2g "$cid" /tmp/h2g-$h2g-$pass.log --control-port=1236 $args; rc=$?
		suite_report "host-to-guest $pass: $h2g in $place" /tmp/h2g-$h2g-$pass.log $rc || ok=1
	done
}

role_l1() {
	ok=0
	insmod /lib/vsock_forge.ko || return 1
	start_l2 suite || return 1
	run_halves L1 3 server client
	set_initial_counter 0
	wait_l2 || { say "L2 failed"; ok=1; }
	show_stats
	rmmod vsock_forge || ok=1
	return $ok
}

role_l2() {
	ok=0
	insmod /lib/vsock_forge.ko || return 1
	run_halves L2 2 client server
	show_stats
	rmmod vsock_forge || ok=1
	return $ok
}
