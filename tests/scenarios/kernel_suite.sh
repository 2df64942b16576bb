# The kernel's own tools/testing/vsock/vsock_test, as a regression suite
# with or without vsock_seqpacket.ko on each side.

role_loopback() {
	vsock_test --mode=server --control-host=127.0.0.1 --control-port=1234 --peer-cid=1 >/tmp/server.log 2>&1 &
	wait_for_tcp_listen 1234 10
	vsock_test --mode=client --control-host=127.0.0.1 --control-port=1234 --peer-cid=1 >/tmp/client.log 2>&1
	wait
	ok=0
	kernel_suite_result loopback /tmp/client.log || ok=1
	show_stats
	check_framing "$VSQ_module" || ok=1
	return $ok
}

# L1 runs the server of guest->host and the client of host->guest; the
# control connections cross on two virtio-serial ports.
role_l1() {
	mount_hostroot || return 1
	vsock_test --mode=server --control-host=127.0.0.1 --control-port=1234 --peer-cid=3 >/tmp/g2h-server.log 2>&1 &
	wait_for_tcp_listen 1234 10
	start_l2 kernel_suite -device virtio-serial-pci $(serial_args ctl1) $(serial_args ctl2) || return 1
	wait_for_file /host/run/ctl1.sock 60 && wait_for_file /host/run/ctl2.sock 5 || { say "L2 serial sockets missing"; return 1; }
	# Connect the host side of each port only once L2 is about to use it:
	# a host connection made while L2 still boots (likely on a loaded
	# machine or under a debug L1) never reached L2's port, which then
	# stayed closed (POLLHUP), and the suite's control channel with it.
	wait_for_l2 "guest-to-host: client here" 600 || { say "L2 never started its guest-to-host half"; return 1; }
	hostrun socat -d -d UNIX-CONNECT:/run/ctl1.sock TCP:127.0.0.1:1234 2>/tmp/socat1.log &
	wait_for_l2 "host-to-guest: server here" 600 || { say "L2 never started its host-to-guest half"; return 1; }
	hostrun socat -d -d TCP-LISTEN:1235,bind=127.0.0.1,reuseaddr UNIX-CONNECT:/run/ctl2.sock 2>/tmp/socat2.log &
	wait_for_tcp_listen 1235 10
	vsock_test --mode=client --control-host=127.0.0.1 --control-port=1235 --peer-cid=3 >/tmp/h2g-client.log 2>&1
	ok=0
	wait_l2 || { say "L2 failed"; ok=1; sed 's/^/  [socat ctl1] /' /tmp/socat1.log; sed 's/^/  [socat ctl2] /' /tmp/socat2.log; }
	kernel_suite_result host-to-guest /tmp/h2g-client.log || ok=1
	show_stats
	check_framing "$VSQ_l2module" || ok=1
	return $ok
}

role_l2() {
	ok=0
	say "guest-to-host: client here, server in L1"
	vsock_relay ctl1 --listen 127.0.0.1:1234 &
	wait_for_tcp_listen 1234 10
	vsock_test --mode=client --control-host=127.0.0.1 --control-port=1234 --peer-cid=2 >/tmp/g2h-client.log 2>&1
	kernel_suite_result guest-to-host /tmp/g2h-client.log || ok=1
	say "host-to-guest: server here, client in L1"
	vsock_test --mode=server --control-host=127.0.0.1 --control-port=1235 --peer-cid=2 >/tmp/h2g-server.log 2>&1 &
	server=$!
	wait_for_tcp_listen 1235 10
	vsock_relay ctl2 --connect 127.0.0.1:1235 &
	wait $server
	show_stats
	check_framing "$VSQ_peermodule" || ok=1
	return $ok
}
