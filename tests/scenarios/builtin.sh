# The module built into the kernel (CONFIG_VSOCK_SEQPACKET=y): it registered
# at boot, and marker connections work without any insmod.
role_loopback() {
	local ok=0 markers0 markers1 received
	if grep -q '^vsock_seqpacket ' /proc/modules; then
		say "vsock_seqpacket is a loaded module, not built in"
		return 1
	fi
	dmesg | grep -q 'SEQ_BEGIN/SEQ_END markers registered' ||
		{ say "no registration message at boot"; return 1; }
	[ -d /sys/kernel/debug/vsock_seqpacket ] ||
		{ say "no /sys/kernel/debug/vsock_seqpacket"; return 1; }
	markers0=$(stat_of connections_markers)
	vsock_demo server 5000 >/tmp/demo.log 2>&1 &
	server=$!
	vsock_demo client 1 5000 2>&1 | sed 's/^/vm[loopback]: /'
	wait $server || ok=1
	sed 's/^/vm[loopback]: /' /tmp/demo.log
	show_stats
	markers1=$(stat_of connections_markers)
	received=$(stat_of records_received)
	if [ "$markers1" -le "$markers0" ] || [ "$received" = 0 ]; then
		say "built in: no marker connection ($markers0 -> $markers1) or no record ($received)"
		return 1
	fi
	say "built in: $((markers1 - markers0)) marker connections, $received records, no insmod"
	return $ok
}
