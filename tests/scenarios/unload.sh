# Unload policy: a marker connection pins the module (rmmod fails with EBUSY
# while it lives); once it is closed the module unloads, and connections made
# after that fall back to EOM framing and keep working.
role_loopback() {
	vsock_demo hold-server 6000 >/tmp/hold-server.log 2>&1 &
	server=$!
	mkfifo /tmp/hold
	vsock_demo hold-client 1 6000 </tmp/hold >/tmp/hold-client.log 2>&1 &
	client=$!
	exec 3>/tmp/hold
	i=0
	while ! grep -q connected /tmp/hold-client.log && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	grep -q connected /tmp/hold-client.log || { say "hold connection failed"; cat /tmp/hold-*.log; return 1; }
	say "lsmod with a marker connection open: $(grep vsock_seqpacket /proc/modules)"
	if rmmod vsock_seqpacket 2>/tmp/rmmod.err; then
		say "FAIL: rmmod succeeded while a marker connection was open"
		return 1
	fi
	say "rmmod refused while the connection lives: $(cat /tmp/rmmod.err)"
	exec 3>&-
	wait $client $server
	rmmod_settled || { say "FAIL: rmmod still refused after the connection closed"; return 1; }
	say "rmmod succeeded after the connection closed"
	vsock_demo --no-empty server 6001 >/tmp/s.log 2>&1 &
	s=$!
	vsock_demo --no-empty client 1 6001 >/tmp/c.log 2>&1 || { say "FAIL: exchange without the module"; cat /tmp/c.log; return 1; }
	wait $s || return 1
	say "records still cross after unloading ($(grep -c intact /tmp/c.log) intact)"
	insmod /lib/vsock_seqpacket.ko
}
