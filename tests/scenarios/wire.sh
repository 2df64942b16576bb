# start_capture: tcpdump on vsockmon0 (from the host root) into /run/wire.pcap.
start_capture() {
	mount_hostroot || return 1
	hostrun ip link add type vsockmon || { say "cannot create vsockmon0"; return 1; }
	hostrun ip link set vsockmon0 up
	hostrun tcpdump -Z root -i vsockmon0 -w /run/wire.pcap -U >/tmp/tcpdump.log 2>&1 &
	dump=$!
	# tcpdump says so once it captures; traffic before that would be lost.
	i=0
	until grep -q "listening on vsockmon0" /tmp/tcpdump.log; do
		i=$((i + 1))
		[ $i -lt 300 ] || { say "tcpdump did not start capturing within 30 s"; cat /tmp/tcpdump.log; return 1; }
		sleep 0.1
	done
}

# Proof on the wire: capture vsockmon0 while one marker connection and one
# fallback connection (module unloaded in between) exchange the demo records.
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
	sleep 1
	kill $dump; wait $dump
	insmod /lib/vsock_seqpacket.ko
	hostrun python3 "$VSQ_top/tests/wire_check.py" /run/wire.pcap 5000 5001 | sed 's/^/vm[loopback]: /'
	[ "$(hostrun python3 "$VSQ_top/tests/wire_check.py" /run/wire.pcap 5000 5001 >/dev/null; echo $?)" = 0 ]
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
	sleep 1
	kill $dump; wait $dump
	insmod /lib/vsock_seqpacket.ko
	hostrun python3 "$VSQ_top/tests/wire_check.py" /run/wire.pcap 5000 5001 | sed 's/^/vm[l1]: /'
	[ "$(hostrun python3 "$VSQ_top/tests/wire_check.py" /run/wire.pcap 5000 5001 >/dev/null; echo $?)" = 0 ] || ok=1
	return $ok
}

role_l2() {
	vsock_demo client 2 5000 >/tmp/c1.log 2>&1 || { cat /tmp/c1.log; return 1; }
	# The second server appears once L1 unloaded its module; connect retries.
	sleep 3
	vsock_demo --no-empty client 2 5001 >/tmp/c2.log 2>&1 || { cat /tmp/c2.log; return 1; }
}
