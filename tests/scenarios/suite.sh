# The project's own SOCK_SEQPACKET suite (tests/vsock_test), TAP output.
# Two passes: every case with counters starting at 0, then the counter-wrap
# case and the hostile peer with both ends' initial_counter just below 2^32.

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
EOM_CASES="--only=timed_out_send_sends_nothing --only=interrupted_send_sends_nothing --only=nonblocking_send_retries --only=sender_under_signal_storm --only=credit_request_big_record --only=fault_two_in_one_send --only=fault_merge_under_faults --only=fault_random_sender --only=fault_random_receiver --only=credit_update_lost"

# --param cases=a,b (vm.sh): only these cases, in the all and eom passes
# (for working on a few cases; the wrap pass is left out then).
only_cases() {
	[ -n "${VSQ_cases:-}" ] || return 1
	args=""
	for c in $(echo "$VSQ_cases" | tr , ' '); do args="$args --only=$c"; done
}

set_markers() {
	[ -w /sys/kernel/debug/vsock_seqpacket/markers ] &&
		echo "$1" >/sys/kernel/debug/vsock_seqpacket/markers
	return 0
}

# pass_setup all|wrap|eom: this side's counters, framing and the suite's
# arguments ($args) for one pass.
pass_setup() {
	set_markers Y
	case $1 in
	all) args="" && set_initial_counter 0 ;;
	wrap) args="--only=counter_wrap --only=hostile_violations" && set_initial_counter $WRAP_START ;;
	eom) args="$EOM_CASES" && set_initial_counter 0 && set_markers N ;;
	esac
	only_cases
	# The fault cases make a debug kernel's run long.
	args="$args --watchdog=1500"
}

# The passes to run: with --param cases=..., not the wrap pass.
passes() {
	if [ -n "${VSQ_cases:-}" ]; then echo all eom; else echo all wrap eom; fi
}

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
	for pass in $(passes); do
		pass_setup $pass
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

# L1: server of guest->host, then client of host->guest (and the same for
# the wrap pass). L2 mirrors it.
role_l1() {
	ok=0
	insmod /lib/vsock_forge.ko || return 1
	start_l2 suite || return 1
	for pass in $(passes); do
		pass_setup $pass
		suite_server 3 /tmp/g2h-server-$pass.log --control-port=1235 $args; rc=$?
		suite_report "guest-to-host $pass: server in L1" /tmp/g2h-server-$pass.log $rc || ok=1
		suite_client 3 /tmp/h2g-client-$pass.log --control-port=1236 $args; rc=$?
		suite_report "host-to-guest $pass: client in L1" /tmp/h2g-client-$pass.log $rc || ok=1
	done
	set_initial_counter 0
	wait_l2 || { say "L2 failed"; ok=1; }
	show_stats
	rmmod vsock_forge || ok=1
	return $ok
}

role_l2() {
	ok=0
	insmod /lib/vsock_forge.ko || return 1
	for pass in $(passes); do
		pass_setup $pass
		suite_client 2 /tmp/g2h-client-$pass.log --control-port=1235 $args; rc=$?
		suite_report "guest-to-host $pass: client in L2" /tmp/g2h-client-$pass.log $rc || ok=1
		suite_server 2 /tmp/h2g-server-$pass.log --control-port=1236 $args; rc=$?
		suite_report "host-to-guest $pass: server in L2" /tmp/h2g-server-$pass.log $rc || ok=1
	done
	show_stats
	rmmod vsock_forge || ok=1
	return $ok
}
