#!/usr/bin/env bash
# Boot one of the project's VM layouts and run a scenario in it.
#
#   scripts/vm.sh [--layout loopback|hostguest] [--module both|host|guest|none]
#                 [--kernel normal|debug|builtin] [--timeout SECONDS] [--param KEY=VALUE]...
#                 [--out DIR] SCENARIO
#
# loopback:  one VM; both peers inside, CID 1 (vsock_loopback).
# hostguest: an L1 "host" VM (TCG, vhost_vsock) that boots an L2 "guest"
#            (CID 3) inside it, with KVM when L1 has /dev/kvm, else TCG.
# --module picks where vsock_seqpacket.ko is inserted: both (default), host
# (the loopback VM or L1), guest (L2), none.
# --kernel debug boots the debug kernel (build/debug, KASAN, kmemleak,
# lockdep, fault injection) in the loopback VM or L1; L2 stays normal.
# --kernel builtin boots the kernel with vsock_seqpacket built in
# (build/builtin); use it with --module none.
# VSQ_L1_ARGS adds to the command line of the loopback VM or L1 (an
# experiment: kvm_amd.vgif=0, say).
# --param passes vsq.KEY=VALUE on the kernel command line, which /init
# turns into $VSQ_KEY for the scenario.
# --out DIR receives what the scenario wrote to /out in the loopback VM or L1
# (a writable 9p share; captures, for example); default build/vm-out. It is
# emptied before the run.
# SCENARIO is tests/scenarios/SCENARIO.sh: it defines role_loopback, or
# role_l1 and role_l2, run by the VMs' /init (tests/vm/init). Exits non-zero
# when anything inside failed, printing the console; always cleans up.
#
# Needs build/bzImage, build/vsock_seqpacket.ko (scripts/kernel.sh) and
# build/bin (scripts/userspace.sh).
set -euo pipefail
LOG_TAG=vm
. "$(dirname "$0")/lib.sh"

layout=loopback module=both timeout=900 params= kernel=normal outdir=$BUILD/vm-out
while [ $# -gt 0 ]; do
	case $1 in
	--layout) layout=$2; shift 2 ;;
	--layout=*) layout=${1#*=}; shift ;;
	--module) module=$2; shift 2 ;;
	--module=*) module=${1#*=}; shift ;;
	--timeout) timeout=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	--kernel=*) kernel=${1#*=}; shift ;;
	--timeout=*) timeout=${1#*=}; shift ;;
	--out) outdir=$2; shift 2 ;;
	--out=*) outdir=${1#*=}; shift ;;
	--param)
		[[ ${2:-} =~ ^[a-z0-9_]+=[^[:space:]]*$ ]] || die "--param wants KEY=VALUE without spaces, not '${2:-}'"
		params+=" vsq.$2"; shift 2 ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
case $(realpath -m "$outdir") in
/ | "$TOP" | "$HOME" | "$BUILD") die "--out $outdir: it is emptied before the run; give a directory of its own" ;;
esac
[ $# -eq 1 ] || die "usage: scripts/vm.sh [--layout loopback|hostguest] [--module both|host|guest|none] [--kernel normal|debug|builtin] [--timeout S] [--param K=V]... [--out DIR] SCENARIO"
scenario=$1
[ -f "$TOP/tests/scenarios/$scenario.sh" ] || die "no scenario tests/scenarios/$scenario.sh"
case $layout in loopback | hostguest) ;; *) die "layout must be loopback or hostguest" ;; esac
# The debug kernel runs the loopback VM or L1; L2 always runs the normal one.
case $kernel in
normal) KIMG=$BUILD ;;
debug) KIMG=$BUILD/debug ;;
builtin) KIMG=$BUILD/builtin ;;
*) die "--kernel must be normal, debug or builtin" ;;
esac
[ -e "$KIMG/bzImage" ] || die "${KIMG#"$TOP/"}/bzImage missing: run VSQ_FLAVOR=$kernel scripts/kernel.sh"
params+=" vsq.flavor=$kernel"
case $module in
both) hostmod=1 guestmod=1 ;;
host) hostmod=1 guestmod=0 ;;
guest) hostmod=0 guestmod=1 ;;
none) hostmod=0 guestmod=0 ;;
*) die "--module must be both, host, guest or none" ;;
esac
for f in bzImage vsock_seqpacket.ko vsock_forge.ko bin/vsock_test bin/vsock_relay; do
	[ -e "$BUILD/$f" ] || die "build/$f missing: run scripts/kernel.sh and scripts/userspace.sh (or make build)"
done
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: run scripts/deps.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/vsq-vm.XXXXXX")
qemu_pid=
cleanup() {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# One initramfs serves both levels: L1 hands it to L2 from the host's
# build directory, which it sees over 9p.
stage=$work/initramfs
mkdir -p "$stage"/{bin,sbin,lib,proc,sys,dev,tmp,host,out,vm,scenarios,etc}
cp /bin/busybox "$stage/bin/busybox"
cp "$BUILD"/bin/* "$stage/bin/"
cp "$BUILD/vsock_seqpacket.ko" "$BUILD/vsock_forge.ko" "$stage/lib/"
if [ "$kernel" = debug ]; then
	mkdir -p "$stage/lib/debug"
	cp "$KIMG/vsock_seqpacket.ko" "$KIMG/vsock_forge.ko" "$stage/lib/debug/"
fi
cp "$TOP/tests/vm/init" "$stage/init"
cp "$TOP/tests/vm/lib.sh" "$TOP/tests/vm/splat.ere" "$stage/vm/"
cp "$TOP"/tests/scenarios/*.sh "$stage/scenarios/"
chmod +x "$stage/init"
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.cpio.gz"
mv "$work/initramfs.cpio.gz" "$BUILD/initramfs.cpio.gz"

if [ "$layout" = loopback ]; then
	role=loopback mem=1G
	append="vsq.role=loopback vsq.module=$hostmod vsq.scenario=$scenario vsq.top=$TOP$params ${VSQ_L1_ARGS:-}"
else
	role=l1 mem=2G
	append="vsq.top=$TOP vsq.role=l1 vsq.l2accel=${VSQ_L2_ACCEL:-kvm} vsq.l2timeout=$((timeout - 30)) vsq.module=$hostmod vsq.l2module=$guestmod vsq.scenario=$scenario vsq.build=$BUILD$params ${VSQ_L1_ARGS:-}"
fi
# The VM's TSC is the host's (TCG reads the host's counter), and its kernel
# calibrates it against the PIT at boot. On a loaded host that fails ("could
# not calculate TSC khz", tsc_khz stays 0), and KVM in L1 then never enters
# L2: kvm_guest_time_update() finds no TSC frequency and asks again, on every
# entry. The L2 boot looks hung, with L1's vCPU in vcpu_run(),
# vcpu_enter_guest() and kvm_guest_time_update(), where nearly all the
# STUCK lines that this script logged put it. So the VM is told the host's
# frequency, as the host's kernel knows it.
host_tsc_khz() {
	local mhz
	mhz=$(dmesg 2>/dev/null | grep -oE 'tsc: (Refined TSC clocksource calibration:|Detected) [0-9]+\.[0-9]+ MHz' |
		tail -n 1 | grep -oE '[0-9]+\.[0-9]+' || true)
	# /proc/cpuinfo's MHz is the TSC's only where the TSC runs at a known,
	# constant rate and no APERF/MPERF reading replaces it.
	if [ -z "$mhz" ] && grep -qw tsc_known_freq /proc/cpuinfo && grep -qw constant_tsc /proc/cpuinfo &&
		! grep -qw aperfmperf /proc/cpuinfo; then
		mhz=$(awk -F': *' '/^cpu MHz/ { print $2; exit }' /proc/cpuinfo)
	fi
	[ -z "$mhz" ] || awk -v mhz="$mhz" 'BEGIN { printf "%d\n", mhz * 1000 + 0.5 }'
}
tsc_khz=$(host_tsc_khz)
if [ -n "$tsc_khz" ]; then
	append+=" tsc_early_khz=$tsc_khz"
else
	log "note: the host's TSC frequency is not known here (neither dmesg nor /proc/cpuinfo says it): the VMs calibrate their own, and an L2 boot hangs when that fails"
fi
console=$work/console.log
# CPU time (clock ticks) of the QEMU under `timeout` ($qemu_pid).
qemu_cpu_ticks() {
	local p cpu=0
	for p in $(pgrep -P "$qemu_pid"); do
		cpu=$((cpu + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$cpu"
}
# hmp COMMAND...: runs commands on the VM's QEMU monitor, prints replies.
hmp() {
	printf '%s\n' "$@" | socat -t 2 - "UNIX-CONNECT:$work/monitor.sock" 2>/dev/null | tr -d '\r' |
		grep -v '^(qemu)\|^QEMU .* monitor' || true
}
# stuck_where WHY: writes what QEMU's vCPU is doing (is it halted? where?
# interrupts on, RFL bit 9?) and what its local APIC holds to the log.
stuck_where() {
	log "STUCK: $1; vCPU: $(hmp 'info registers' | grep -o 'RIP=[0-9a-f]*\|RFL=[0-9a-f]*\|HLT=[01]\|II=[01]\|SMM=[01]' | tr '\n' ' ')APIC: $(hmp 'info lapic' | grep -E '^(ISR|IRR|APR)' | tr -s '\t ' ' ' | paste -sd';')"
}
# unstick WHY PROGRESS: the VMs look frozen. Says where (stuck_where), then
# nudges them from outside. A freeze under the debug L1, looked at
# closely: L1's vCPU halted with interrupts on while its local APIC held
# the timer's vector (236) in IRR, deliverable (PPR 0x10). QEMU's TCG had
# lost its request to wake the vCPU for it; stop/cont and an NMI left that
# as it was, and a key press revived it: any new interrupt makes QEMU look
# at the APIC again. So the first nudge is a key press on the VM's i8042
# (shift: no character, no reader), then stop and continue (QEMU looks
# again for work its vCPU may have missed), then an NMI (wakes a halted
# vCPU even with interrupts off).
# Succeeds once the check PROGRESS does, within 15 s of a nudge; each
# attempt goes to $work/unstick for the summary. (Hung L2 boots are not
# nudged: in about 40 of them no nudge ever helped, and a new L1 boot always
# did.)
# nudge NUDGE: runs a nudge, one or more monitor commands split at ', '.
nudge() {
	local commands
	IFS=, read -ra commands <<<"${1//, /,}"
	hmp "${commands[@]}" >/dev/null
}
unstick() {
	local why=$1 progress=$2 nudge _
	stuck_where "$why"
	for nudge in "sendkey shift" "stop, cont" "nmi"; do
		nudge "$nudge"
		for _ in $(seq 15); do
			if $progress; then
				log "UNSTUCK: $why; the VMs went on after '$nudge'"
				echo "$why: went on after '$nudge'" >>"$work/unstick"
				return 0
			fi
			sleep 1
		done
	done
	log "still stuck after 'sendkey shift', 'stop, cont' and 'nmi'"
	echo "$why: nudges did not help" >>"$work/unstick"
	return 1
}
# lost_wakeup: QEMU's vCPU is halted with interrupts on (RFL bit 9) while
# its local APIC holds a vector in IRR and none in service: an interrupt it
# should have been woken for (see unstick).
lost_wakeup() {
	local regs rfl apic
	regs=$(hmp 'info registers')
	grep -q 'HLT=1' <<<"$regs" || return 1
	rfl=$(grep -o 'RFL=[0-9a-f]*' <<<"$regs" | cut -d= -f2)
	[ -n "$rfl" ] && (((16#$rfl & 0x200) != 0)) || return 1
	apic=$(hmp 'info lapic')
	grep -q '^IRR[[:space:]]*[0-9]' <<<"$apic" && grep -q '^ISR[[:space:]]*(none)' <<<"$apic"
}
# The scenario's /out (the loopback VM's or L1's); L2 has no such share.
mkdir -p "$work/out"
# run_vm: one boot of the layout; its console goes to $console.
run_vm() {
	log "$layout layout, module: $module, scenario: $scenario (timeout ${timeout}s)"
	rm -rf "${work:?}/out"/*
	timeout --foreground "$timeout" qemu-system-x86_64 -accel tcg -cpu max -m "$mem" -smp 1 \
		-kernel "$KIMG/bzImage" -initrd "$BUILD/initramfs.cpio.gz" \
		-append "console=ttyS0 quiet panic=-1 $append" \
		-nographic -no-reboot -monitor "unix:$work/monitor.sock,server=on,wait=off" \
		-serial stdio -nodefaults \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs local,path="$work/out",mount_tag=vsqout,security_model=none \
		</dev/null >"$console" 2>&1 &
	qemu_pid=$!
	# Stream the console while it runs, so a slow run shows progress.
	tail -n +1 -f "$console" --pid="$qemu_pid" 2>/dev/null |
		grep --line-buffered -E '^(vm\[|  \[L2\] vm\[|not ok|# Totals)|VSQ-RESULT|Kernel panic' | sed -u 's/\r$//; s/^/  | /' &
	tailer=$!
	# L2 hung while booting under nested virtualization now and then (more
	# often on a loaded machine). The cause we found, L1 without a TSC
	# frequency, is prevented above (tsc_early_khz); this watchdog, out
	# here since a hang may take L1 with it, stays for any other. An L2 that prints nothing within 20 s of L1
	# starting it (it takes about 1 s), or has not reached its /init 60 s
	# later, stops the run for another boot: a new L1 boots L2 fine where
	# starting L2 again in the same L1 did not. Under the debug L1
	# (KASAN-instrumented KVM under TCG) every character L2 prints is a
	# slow exit, and on a loaded machine L2's console lagged its tests by
	# minutes: there the limits are 300 s and 900 s, and the freeze
	# watchdog below is the quick one.
	first_line_limit=20 l2_boot_limit=60
	[ "$kernel" = debug ] && first_line_limit=300 l2_boot_limit=900
	(
		until grep -q 'starting L2 guest' "$console" 2>/dev/null; do
			kill -0 "$qemu_pid" 2>/dev/null || exit 0
			sleep 1
		done
		l2_said() { grep -q "^  \[L2\] .*$1" "$console"; }
		l2_printed() { l2_said ''; }
		l2_up() { l2_said 'vm\[l2\]: up'; }
		# await LIMIT CHECK WHY: waits up to LIMIT s for CHECK; past that
		# the boot is hung: say where L1's vCPU is, stop L1 for another boot.
		await() {
			local limit=$1 check=$2 why=$3 waited=0
			until $check; do
				kill -0 "$qemu_pid" 2>/dev/null || exit 0
				if [ $waited -ge "$limit" ]; then
					stuck_where "$why"
					touch "$work/l2-boot-hang"
					kill "$qemu_pid" 2>/dev/null
					exit 0
				fi
				sleep 1
				waited=$((waited + 1))
			done
		}
		await "$first_line_limit" l2_printed "L2 printed nothing in $first_line_limit s"
		await "$l2_boot_limit" l2_up "L2 not at its /init $l2_boot_limit s after its first line"
	) &
	watchdog=$!
	# Nested virtualization can also freeze both VMs outright: QEMU then
	# uses no CPU at all (an idle but live L1 still takes about 2 clock
	# ticks a second) and the console stays silent. After 60 s of that the
	# VMs are nudged (unstick); if they stay frozen, the run stops.
	(
		moved() { [ "$(stat -c %s "$console" 2>/dev/null)" != "$frozen_size" ]; }
		quiet_cpu=0 last_size=-1 still=0
		while kill -0 "$qemu_pid" 2>/dev/null; do
			cpu=$(qemu_cpu_ticks)
			size=$(stat -c %s "$console" 2>/dev/null || echo 0)
			if [ "$size" = "$last_size" ] && [ $((cpu - quiet_cpu)) -lt 10 ]; then
				still=$((still + 5))
			else
				still=0 quiet_cpu=$cpu
			fi
			last_size=$size
			if [ $still -ge 60 ]; then
				frozen_size=$size
				if unstick "no CPU time and no output for 60 s" moved; then
					still=0 last_size=-1
					continue
				fi
				touch "$work/frozen"
				pkill -KILL -P "$qemu_pid" 2>/dev/null
				exit 0
			fi
			sleep 5
		done
	) &
	freeze_watchdog=$!
	# The lost wake-up that froze the debug L1 for good (unstick) can also
	# stall a VM for a while and then pass unseen, when some other
	# interrupt comes, and a stall of a few seconds fails a case that waits
	# with a timeout. So a VM that used no CPU for 2 s is looked at; if it
	# is halted with a deliverable interrupt pending, it gets a key press,
	# the nudge that revives it (and stop/cont if it is still so 1 s
	# later), and the stall counts in $work/wakeups.
	(
		last_cpu=-1
		while kill -0 "$qemu_pid" 2>/dev/null; do
			sleep 2
			cpu=$(qemu_cpu_ticks)
			if [ "$cpu" = "$last_cpu" ] && lost_wakeup; then
				nudge "sendkey shift"
				how="sendkey shift"
				sleep 1
				# Once, a frozen L1 went on after stop/cont and
				# not (or not visibly) after a key press.
				if lost_wakeup; then
					nudge "stop, cont"
					how+="; stop, cont"
				fi
				echo "$(date +%T) ($how)" >>"$work/wakeups"
			fi
			last_cpu=$cpu
		done
	) &
	wakeup_watchdog=$!
	status=0
	wait "$qemu_pid" || status=$?
	qemu_pid=
	kill "$watchdog" "$freeze_watchdog" "$wakeup_watchdog" 2>/dev/null || true
	sleep 0.5; kill "$tailer" 2>/dev/null || true
	cp "$console" "$BUILD/console-$layout-$module-$scenario$([ "$kernel" != normal ] && echo "-$kernel").log"
}
start=$SECONDS
rm -f "$work/l2-boot-hang" "$work/frozen"
run_vm
# An L2 that hangs before its /init, or VMs that froze (no CPU, no output),
# is nested virtualization or TCG, not the code under test: boot the layout
# again, and say so. So is a splat while a kernel booted, before the
# scenario (tests/vm/init); but one on every boot fails the layer. On a
# machine loaded by other VMs, three hangs in a row were seen; a hung boot
# costs about 50 s (L1's boot, and L2's first line is due 20 s after L1
# starts it), so up to five boots in all. Under the debug L1 a hung boot
# costs about 8 min: two at most.
boots=1 max_boots=5
[ "$kernel" = debug ] && max_boots=2
while :; do
	why=
	[ -e "$work/l2-boot-hang" ] && why="the L2 guest hung while booting (no first line within $first_line_limit s, or not at its /init $l2_boot_limit s later; nested virtualization)"
	[ -e "$work/frozen" ] && why="the VMs froze: no CPU time and no output for 60 s (nested virtualization)"
	boot_splat=$(sed -n '/vm: the kernel reported a problem while booting/,$p' "$console" |
		grep -m1 -E -f "$TOP/tests/vm/splat.ere" | tr -d '\r' || true)
	[ -n "$boot_splat" ] && why="the kernel reported a problem while booting, before the scenario ran: $boot_splat"
	[ -n "$why" ] || break
	if [ $boots -ge $max_boots ]; then
		log "$why, on boot $boots as on the ones before: giving up"
		break
	fi
	log "RETRY: $why; running $layout/$module/$scenario again"
	mkdir -p "$CACHE/failures"
	cp "$console" "$CACHE/failures/$(date +%Y%m%d-%H%M%S)-retry-$layout-$module-$scenario.log" 2>/dev/null || true
	rm -f "$work/l2-boot-hang" "$work/frozen"
	run_vm
	boots=$((boots + 1))
done
[ ! -s "$work/unstick" ] || log "NUDGED: $(paste -sd';' "$work/unstick")"
[ ! -s "$work/wakeups" ] || log "WOKEN: $(wc -l <"$work/wakeups") lost wake-up(s), the VM halted with an interrupt pending that QEMU had not woken it for; woken at $(paste -sd' ' "$work/wakeups")"
# Under the debug kernel as L1 (KASAN, lockdep, kmemleak; under TCG here),
# a nested L2 can need longer than the watchdog allows on a loaded machine,
# and nested virtualization froze both VMs there twice in a row once: that
# is the machine, not the code, and the layer says so (exit 4, which
# scripts/test.sh reports as SKIP with this reason) instead of passing.
if [ "$kernel" = debug ] && [ -n "$why" ] && [ -z "$boot_splat" ]; then
	log "SKIP: $layout/$module/$scenario/$kernel: $why under the debug L1, on all $boots boots"
	exit 4
fi
# What the scenario left in /out, for the host (the last boot's).
rm -rf "$outdir" && mkdir -p "$outdir" && cp -r "$work/out/." "$outdir/"
[ -z "$(ls -A "$outdir")" ] || log "the scenario's /out: $(cd "$outdir" && ls | tr '\n' ' ')in ${outdir#"$TOP/"}"
if grep -q "VSQ-RESULT role=$role rc=0" "$console"; then
	log "PASS: $layout/$module/$scenario/$kernel in $((SECONDS - start))s"
	exit 0
fi
if [ $status -eq 124 ]; then
	echo "== timed out after ${timeout}s; console:" >&2
else
	echo "== failed (qemu status $status); console:" >&2
fi
tr -d '\r' <"$console" | tail -n 200 >&2
# CI's checkout is thrown away: keep failing consoles where the next session
# can read them.
mkdir -p "$CACHE/failures"
cp "$console" "$CACHE/failures/$(date +%Y%m%d-%H%M%S)-$layout-$module-$scenario.log" 2>/dev/null || true
log "FAIL: $layout/$module/$scenario/$kernel (full console: build/console-$layout-$module-$scenario$([ "$kernel" != normal ] && echo "-$kernel").log)"
exit 1
