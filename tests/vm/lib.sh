# Helpers for scenarios, sourced by /init inside the VMs.

# Marks for the host's log parser.
say() { echo "vm[$VSQ_role]: $*"; }

# Counter file of the module, or "-" when it is not loaded.
stat_of() {
	cat "/sys/kernel/debug/vsock_seqpacket/$1" 2>/dev/null || echo -
}

show_stats() {
	[ -d /sys/kernel/debug/vsock_seqpacket ] || { say "stats: module not loaded"; return; }
	say "stats: $(cd /sys/kernel/debug/vsock_seqpacket && for f in *; do [ -f "$f" ] && printf '%s=%s ' "$f" "$(cat "$f")"; done)"
	v=$(cd /sys/kernel/debug/vsock_seqpacket/violations && for f in *; do [ "$(cat "$f")" != 0 ] && printf '%s=%s ' "$f" "$(cat "$f")"; done)
	say "violations: ${v:-none}"
}

# The host's root over 9p, with what a chroot there needs to run QEMU,
# socat and tcpdump.
mount_hostroot() {
	[ -d /host/usr ] && return 0
	mkdir -p /host
	mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /host || return 1
	mount -t proc proc /host/proc
	mount -t sysfs sys /host/sys
	mount -t devtmpfs dev /host/dev
	mount -t tmpfs run /host/run
}

hostrun() { chroot /host "$@"; }

# start_capture: tcpdump on vsockmon0 (from the host root) into
# /host/run/capture.pcap, until stop_capture.
start_capture() {
	mount_hostroot || return 1
	hostrun ip link add type vsockmon || { say "cannot create vsockmon0"; return 1; }
	hostrun ip link set vsockmon0 up
	hostrun tcpdump -Z root -i vsockmon0 -w /run/capture.pcap -U >/tmp/tcpdump.log 2>&1 &
	CAPTURE_PID=$!
	# tcpdump says so once it captures; traffic before that would be lost.
	i=0
	until grep -q "listening on vsockmon0" /tmp/tcpdump.log; do
		i=$((i + 1))
		[ $i -lt 300 ] || { say "tcpdump did not start capturing within 30 s"; cat /tmp/tcpdump.log; return 1; }
		sleep 0.1
	done
}

# stop_capture NAME: ends the capture and hands it to the host as /out/NAME
# (vm.sh --out); the host checks and decodes it (tests/wire_verify.sh).
stop_capture() {
	sleep 1
	kill "$CAPTURE_PID"; wait "$CAPTURE_PID"
	hostrun ip link del vsockmon0
	grep -q ' /out 9p ' /proc/mounts || { say "no /out share to hand the capture to the host"; return 1; }
	cp /host/run/capture.pcap "/out/$1" || { say "cannot write /out/$1"; return 1; }
	say "capture: $(grep -o '[0-9]* packets captured' /tmp/tcpdump.log), saved for the host as $1"
}

# start_l2 SCENARIO [extra QEMU arguments]: boots the L2 guest (CID 3) in
# the background; its console goes to /host/run/l2.log. VSQ_L2_ARGS adds
# to its kernel command line; a case selection (vm.sh --param cases=) goes
# along, so that both halves of a scenario run the same cases.
start_l2() {
	scenario=$1; shift
	mount_hostroot || { say "cannot mount the host root over 9p"; return 1; }
	if [ -c /dev/kvm ] && [ "${VSQ_l2accel:-kvm}" = kvm ]; then
		accel="-accel kvm" L2_ACCEL=kvm
	else
		accel="-accel tcg -cpu max" L2_ACCEL=tcg
	fi
	# scripts/vm.sh gives this kernel the host's TSC frequency; without it
	# a failed calibration leaves KVM unable to enter L2 (it waits for a
	# TSC frequency, for good), so say it where the hang would show.
	if [ "$L2_ACCEL" = kvm ] && dmesg | grep -q 'could not calculate TSC khz'; then
		say "warning: this kernel has no TSC frequency (its calibration failed, no tsc_early_khz=): KVM will not enter L2"
	fi
	say "starting L2 guest with $L2_ACCEL (module: $VSQ_l2module)"
	# no_timer_check: the IO-APIC timer check at boot waits for PIT ticks
	# that nested virtualization sometimes never delivers, and L2 hung there
	# in about one boot out of ten. A kernel built as a KVM guest skips that
	# check itself (arch/x86/kernel/kvm.c); ours is the same bzImage as L1's.
	: >/host/run/l2.log
	hostrun timeout "${VSQ_l2timeout:-600}" qemu-system-x86_64 $accel -m 512M -smp 1 \
		-kernel "$VSQ_build/bzImage" -initrd "$VSQ_build/initramfs.cpio.gz" \
		-append "console=ttyS0 quiet panic=-1 no_timer_check vsq.role=l2 vsq.module=$VSQ_l2module vsq.peermodule=$VSQ_module vsq.scenario=$scenario ${VSQ_cases:+vsq.cases=$VSQ_cases} ${VSQ_L2_ARGS:-}" \
		-nographic -no-reboot -monitor none -serial stdio -nodefaults \
		-device vhost-vsock-pci,guest-cid=3 "$@" >/host/run/l2.log 2>&1 &
	L2_PID=$!
	# L2's console goes into L1's as it comes, so that a run that hangs
	# still shows how far L2 got.
	tail -f /host/run/l2.log 2>/dev/null | sed "s/$(printf '\r')\$//; s/^/  [L2] /" &
	L2_TAIL=$!
	# The scenario's timeouts start once L2 runs: under the debug L1 it
	# takes minutes to boot (scripts/vm.sh's watchdog bounds that).
	wait_for_l2 'vm\[l2\]: up' 600 || { say "L2 did not come up"; return 1; }
}

# wait_l2: waits for the L2 guest and fails unless it reported success.
wait_l2() {
	# L1's half is done: L2 has a minute to finish its own.
	i=0
	while kill -0 "$L2_PID" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$L2_PID" 2>/dev/null; then
		say "L2 still running 60 s after L1's half ended: stopping it"
		hostrun pkill -f 'vsq.role=l2'
	fi
	wait "$L2_PID"
	sleep 0.5
	kill "$L2_TAIL" 2>/dev/null
	grep -q 'VSQ-RESULT role=l2 rc=0' /host/run/l2.log && return 0
	say "L2 did not report success; the end of its console:"
	tail -n 25 /host/run/l2.log | sed "s/$(printf '\r')\$//; s/^/  [L2 log] /"
	return 1
}

# Serial port carrying one TCP control connection between L1 and L2.
serial_args() { # NAME
	echo "-chardev socket,id=$1,path=/run/$1.sock,server=on,wait=off -device virtserialport,chardev=$1,name=$1"
}

wait_for_file() { # PATH SECONDS
	i=0
	while [ ! -e "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	[ -e "$1" ]
}

# wait_for_l2 TEXT SECONDS: until L2's console says TEXT.
wait_for_l2() {
	local i=0
	while ! grep -q "$1" /host/run/l2.log 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1; i=$((i + 1))
	done
	grep -q "$1" /host/run/l2.log 2>/dev/null
}

wait_for_tcp_listen() { # PORT SECONDS
	hex=$(printf '%04X' "$1")
	i=0
	while ! grep -q ":$hex 00000000:0000 0A" /proc/net/tcp 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1; i=$((i + 1))
	done
}

# kernel_suite_result NAME LOG: summarises a run of the kernel's vsock_test
# client (its lines look like "12 - SOCK_SEQPACKET msg bounds...ok").
kernel_suite_result() {
	total=$(vsock_test --list 2>/dev/null | grep -c '^[0-9]')
	passed=$(grep -cE '^[0-9]+ - .*\.\.\.ok$' "$2")
	if grep -q 'All tests have been executed' "$2" && [ "$passed" = "$total" ]; then
		say "$1: kernel vsock_test $passed/$total passed"
		return 0
	fi
	say "$1: kernel vsock_test FAILED ($passed/$total passed):"
	sed 's/^/    /' "$2"
	return 1
}

# check_framing PEER_MODULE: this side's statistics show records sent and
# received with markers when both ends have the module, and none when the
# peer lacks it (only marker connections count records).
check_framing() {
	local s r
	[ "$VSQ_module" = 1 ] || { say "framing: module not loaded here, no statistics"; return 0; }
	s=$(stat_of records_sent) r=$(stat_of records_received)
	if [ "$1" = 1 ]; then
		[ "$s" -gt 0 ] && [ "$r" -gt 0 ] && { say "framing: $s records sent, $r received with markers (as expected)"; return 0; }
	else
		# Registered, so it was asked about every connection, and none
		# of them carried a record with markers.
		dmesg | grep -q 'SEQ_BEGIN/SEQ_END markers registered' && [ "$s" = 0 ] && [ "$r" = 0 ] &&
			{ say "framing: module registered, no record with markers (as expected)"; return 0; }
	fi
	say "framing: UNEXPECTED: $s records sent, $r received with markers (peer module: $1)"
	return 1
}

# rmmod_settled: unloads vsock_seqpacket once the last marker connection's
# socket is gone (closing ones may take a moment), for up to 10 s.
rmmod_settled() {
	i=0
	until rmmod vsock_seqpacket 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { say "rmmod vsock_seqpacket still refused after 10 s"; return 1; }
		sleep 0.1
	done
}
