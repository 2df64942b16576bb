# The module built into the kernel (CONFIG_VSOCK_SEQPACKET=y): it registered
# at boot, and marker connections work without any insmod.
role_loopback() {
	local ok=0 sent0 sent1 received0 received1
	if grep -q '^vsock_seqpacket ' /proc/modules; then
		say "vsock_seqpacket is a loaded module, not built in"
		return 1
	fi
	dmesg | grep -q 'SEQ_BEGIN/SEQ_END markers registered' ||
		{ say "no registration message at boot"; return 1; }
	[ -d /sys/kernel/debug/vsock_seqpacket ] ||
		{ say "no /sys/kernel/debug/vsock_seqpacket"; return 1; }
	# Only marker connections count records.
	sent0=$(stat_of records_sent) received0=$(stat_of records_received)
	vsock_demo server 5000 >/tmp/demo.log 2>&1 &
	server=$!
	vsock_demo client 1 5000 2>&1 | sed 's/^/vm[loopback]: /'
	wait $server || ok=1
	sed 's/^/vm[loopback]: /' /tmp/demo.log
	show_stats
	sent1=$(stat_of records_sent) received1=$(stat_of records_received)
	if [ "$sent1" -le "$sent0" ] || [ "$received1" -le "$received0" ]; then
		say "built in: no record went with markers (records_sent $sent0 -> $sent1, records_received $received0 -> $received1)"
		return 1
	fi
	say "built in: $((sent1 - sent0)) records sent and $((received1 - received0)) received with markers, no insmod"
	return $ok
}
