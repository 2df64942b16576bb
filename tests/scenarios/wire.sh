# Proof on the wire: capture vsockmon0 while one marker connection and one
# fallback connection (module unloaded in between) exchange the demo records.
# The VM only captures: the host checks the capture (tests/wire_verify.sh,
# run by scripts/test.sh) with the Rust checker and with tshark.
role_loopback() {
	start_capture || return 1
	# Marker connection on port 5000.
	vsock_demo server 5000 >/tmp/s1.log 2>&1 &
	s1=$!
	vsock_demo client 1 5000 >/tmp/c1.log 2>&1 || { cat /tmp/c1.log; return 1; }
	wait $s1
	# Fallback connection on port 5001, without the module.
	rmmod_settled || return 1
	vsock_demo --no-empty server 5001 >/tmp/s2.log 2>&1 &
	s2=$!
	vsock_demo --no-empty client 1 5001 >/tmp/c2.log 2>&1 || { cat /tmp/c2.log; return 1; }
	wait $s2
	stop_capture wire.pcap || return 1
	insmod /lib/vsock_seqpacket.ko
}

# The same proof between guest and host: L1 captures vsockmon0, which
# vhost_vsock feeds, while L2 connects twice: first with the module on both
# ends (markers), then after L1 unloaded it (fallback).
role_l1() {
	start_capture || return 1
	vsock_demo server 5000 >/tmp/s1.log 2>&1 &
	s1=$!
	start_l2 wire || return 1
	wait $s1 || { say "marker exchange failed"; cat /tmp/s1.log; return 1; }
	rmmod_settled || return 1
	vsock_demo --no-empty server 5001 >/tmp/s2.log 2>&1 &
	s2=$!
	wait $s2 || { say "fallback exchange failed"; cat /tmp/s2.log; return 1; }
	ok=0
	wait_l2 || ok=1
	stop_capture wire.pcap || ok=1
	insmod /lib/vsock_seqpacket.ko
	return $ok
}

role_l2() {
	vsock_demo client 2 5000 >/tmp/c1.log 2>&1 || { cat /tmp/c1.log; return 1; }
	# The second server appears once L1 unloaded its module; connect retries.
	sleep 3
	vsock_demo --no-empty client 2 5001 >/tmp/c2.log 2>&1 || { cat /tmp/c2.log; return 1; }
}
