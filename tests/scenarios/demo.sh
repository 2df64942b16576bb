# The main job: records cross guest<->host both ways, printed as received.
# With --param capture=1 (make run CAPTURE=1) the loopback VM or L1 also
# captures vsockmon0 and hands the capture to the host as /out/run.pcap.
role_l1() {
	if [ "${VSQ_capture:-0}" = 1 ]; then start_capture || return 1; fi
	vsock_demo server 5000 >/tmp/demo.log 2>&1 &
	server=$!
	start_l2 demo || return 1
	ok=0
	wait $server || ok=1
	wait_l2 || ok=1
	sed 's/^/vm[l1]: /' /tmp/demo.log
	show_stats
	if [ "${VSQ_capture:-0}" = 1 ]; then stop_capture run.pcap || ok=1; fi
	return $ok
}

role_l2() {
	vsock_demo client 2 5000 2>&1 | sed 's/^/vm[l2]: /'
}

role_loopback() {
	if [ "${VSQ_capture:-0}" = 1 ]; then start_capture || return 1; fi
	vsock_demo server 5000 >/tmp/demo.log 2>&1 &
	server=$!
	vsock_demo client 1 5000 2>&1 | sed 's/^/vm[loopback]: /'
	ok=0
	wait $server || ok=1
	sed 's/^/vm[loopback]: /' /tmp/demo.log
	show_stats
	if [ "${VSQ_capture:-0}" = 1 ]; then stop_capture run.pcap || ok=1; fi
	return $ok
}
