# VM scenario running vsock_seqpacket_test (for scripts/vm.sh: copy or link
# it as tests/scenarios/seqpacket_suite.sh). Sourced by the VMs' /init, which
# provides say/show_stats/start_l2/wait_l2 (tests/vm/lib.sh).
#
# Each layout runs the whole suite with the marker counters starting at 0,
# then counter_wrap again with initial_counter set 40 below 2^32 on every
# side that has the module, so that the SEQ_BEGIN/SEQ_END counters cross the
# wrap.

SUITE=vsock_seqpacket_test
WRAP_START=4294967256 # 2^32 - 40

# set_initial_counter VALUE: the knob is the harness's job, not the binary's.
set_initial_counter() {
	f=/sys/kernel/debug/vsock_seqpacket/initial_counter
	[ -w "$f" ] && echo "$1" >"$f"
	return 0
}

# run_pair CLIENT_CID [suite options...]: server in the background, client in
# the foreground, both on this machine; prints both TAP streams and fails
# when either exits with anything but 0 (pass/skip) or 4 (all skipped).
run_pair() {
	cid=$1; shift
	$SUITE --mode=server "$@" >/tmp/server.tap 2>&1 &
	spid=$!
	$SUITE --mode=client --peer-cid="$cid" "$@" >/tmp/client.tap 2>&1
	crc=$?
	wait "$spid"
	src=$?
	sed 's/^/[client] /' /tmp/client.tap
	sed 's/^/[server] /' /tmp/server.tap
	say "suite $*: client rc=$crc server rc=$src"
	case "$crc$src" in 00 | 04 | 40 | 44) return 0 ;; *) return 1 ;; esac
}

role_loopback() {
	rc=0
	show_stats
	set_initial_counter 0
	run_pair 1 || rc=1
	set_initial_counter "$WRAP_START"
	run_pair 1 --only=counter_wrap || rc=1
	set_initial_counter 0
	show_stats
	return $rc
}
