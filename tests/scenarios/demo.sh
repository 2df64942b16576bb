# The main job: records cross guest<->host both ways, printed as received.
role_l1() {
	vsock_demo server 5000 >/tmp/demo.log 2>&1 &
	server=$!
	start_l2 demo || return 1
	ok=0
	wait $server || ok=1
	wait_l2 || ok=1
	sed 's/^/vm[l1]: /' /tmp/demo.log
	show_stats
	return $ok
}

role_l2() {
	vsock_demo client 2 5000 2>&1 | sed 's/^/vm[l2]: /'
}

role_loopback() {
	vsock_demo server 5000 >/tmp/demo.log 2>&1 &
	server=$!
	vsock_demo client 1 5000 2>&1 | sed 's/^/vm[loopback]: /'
	ok=0
	wait $server || ok=1
	sed 's/^/vm[loopback]: /' /tmp/demo.log
	show_stats
	return $ok
}
