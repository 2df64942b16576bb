# Smoke: the module loads, a SOCK_SEQPACKET exchange works, the module unloads.
role_loopback() {
	lsmod
	show_stats
	vsock_test --mode=server --control-host=127.0.0.1 --control-port=1234 --peer-cid=1 >/tmp/srv.log 2>&1 &
	sleep 1
	vsock_test --mode=client --control-host=127.0.0.1 --control-port=1234 --peer-cid=1 --list | head -3
	show_stats
}
