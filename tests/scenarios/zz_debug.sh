role_loopback() {
	insmod /lib/vsock_forge.ko
	vsock_seqpacket_test --mode=server --peer-cid=1 --only=hostile_empty_record_flood >/tmp/s.log 2>&1 &
	vsock_seqpacket_test --mode=client --peer-cid=1 --only=hostile_empty_record_flood >/tmp/c.log 2>&1
	wait
	grep -v SKIP /tmp/c.log /tmp/s.log
	show_stats
	dmesg | tail -5
	rmmod vsock_forge
	return 0
}
