#!/usr/bin/env bash
# Every test layer of the project, in order; prints a line per layer and
# ends with "N passed, N failed". Select layers with LAYERS="core kernel ..."
# (default: all). Assumes scripts/deps.sh, kernel.sh and userspace.sh ran
# (make test does that).
#
# Layers:
#   core       cargo test of the protocol core (unit + property tests)
#   fuzz       coverage-guided fuzzing of the core (FUZZ_SECONDS, default 30)
#   bench      core micro-benchmark (prints figures, fails only if it cannot run)
#   style      the posted series (scripts/series.sh) through checkpatch --strict,
#              kernel rustfmt and CLIPPY=1 on src/, clippy on userspace
#   kernel     the kernel's vsock_test: loopback (module / none), host<->guest
#              both directions with the module on both, host only, guest only, none
#   demo       records with and without MSG_EOR, and MSG_TRUNC, both ways
#   wire       vsockmon capture in the VM (loopback, and L1 of host<->guest),
#              judged on the host by tests/wire_verify.sh: wire_check
#              (tools/wire_check, the module's src/proto decoder and
#              Reassembler) checks each record SEQ_BEGIN{cnt, N} RW...
#              SEQ_END{cnt+1, N} both ways, the negotiation flag, and no marker
#              on the fallback connection; tshark with the Wireshark plugin
#              (tools/wireshark) must find the same records per direction and
#              raise no expert warning. First, both on synthetic captures
#              (cargo test of tools/wire_check): they pass a good one and flag
#              each bad one (counter gap, length mismatch, marker on fallback...)
#   unload     rmmod refused while a marker connection lives, fine after; and
#              cycles of insmod, traffic, a refused rmmod, a killed sender, a
#              listener closed with pending connections, rmmod
#   debug      on the debug kernel: the kernel's vsock_test, our suite (with
#              the hostile peer and the fail-nth sweep), unload under load;
#              loopback and host<->guest; no splat, no kmemleak object
#   suite      the project's vsock_seqpacket_test, loopback and host<->guest
#   builtin    a kernel with CONFIG_VSOCK_SEQPACKET=y: markers at boot, no insmod
#   perf       smoke of make bench: vsock_seqpacket_perf, every framing, two
#              sizes of throughput and of round trips, loopback (figures are
#              printed, not judged; it fails only when the benchmark cannot run)
set -uo pipefail
LOG_TAG=test
. "$(dirname "$0")/lib.sh"

LAYERS=${LAYERS:-core fuzz bench style kernel demo wire unload suite builtin perf debug}
passed=0 failed=0 skipped=0
results=()

record() { # NAME STATUS SECONDS
	results+=("$(printf '%-38s %-5s %4ss' "$1" "$2" "$3")")
	case $2 in
	PASS) passed=$((passed + 1)) ;;
	SKIP) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
}

# Every layer's output also goes to a log, so that the end of the run can
# repeat why a layer failed (CI shows the end of the output first).
LOGDIR=$BUILD/test-logs
rm -rf "$LOGDIR"; mkdir -p "$LOGDIR"
failures=()
retries=()

step() { # NAME COMMAND...
	local name=$1 start=$SECONDS rc=0 logf; shift
	logf=$LOGDIR/$(printf '%02d' ${#results[@]})-$(echo "$name" | tr -c 'A-Za-z0-9\n' '_').log
	log "--- $name"
	"$@" 2>&1 | tee "$logf" || rc=$?
	grep -q '^\[vm +[0-9]*s\] \(RETRY\|NUDGED\|WOKEN\):' "$logf" &&
		retries+=("$name: $(grep '^\[vm +[0-9]*s\] \(RETRY\|NUDGED\|WOKEN\):' "$logf" | sed 's/^\[vm +[0-9]*s\] //' | paste -sd' ')")
	if [ $rc = 0 ]; then
		record "$name" PASS $((SECONDS - start))
	elif [ $rc = 4 ] && grep -q '^\[vm +[0-9]*s\] SKIP:' "$logf"; then
		# vm.sh: the layout could not boot on this machine (it says why).
		log "SKIP $name: $(grep -m1 'SKIP:' "$logf" | sed 's/^.*SKIP: //')"
		record "$name (SKIP: nested virtualization: $(grep -m1 'SKIP:' "$logf" | sed 's/^.*: //'))" SKIP $((SECONDS - start))
	else
		record "$name" FAIL $((SECONDS - start))
		failures+=("$name|$logf")
	fi
}

vm() { "$TOP/scripts/vm.sh" --timeout 600 "$@"; }

# The kernel's own clippy run (CLIPPY=1) over the kernel crate, with the
# series' abstractions, and the module; any warning fails. Debian's
# rust-web-clippy matches the rustc that builds the kernel.
kernel_clippy() {
	local out
	install_tree_files "$KSRC"
	rm -f "$KSRC/net/vmw_vsock/seqpacket/vsock_seqpacket.o" "$KSRC/rust/kernel.o"
	out=$("${KMAKE[@]}" CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver rust/ net/vmw_vsock/seqpacket/vsock_seqpacket.o 2>&1) ||
		{ echo "$out" | tail -n 30; return 1; }
	if echo "$out" | grep -qE '^(warning|error)(\[[A-Za-z0-9_:]+\])?:'; then
		echo "$out" | grep -E -A8 '^(warning|error)(\[[A-Za-z0-9_:]+\])?:'
		return 1
	fi
	echo "kernel clippy: rust/ and net/vmw_vsock/seqpacket/ clean"
}

# wire_check's and the Wireshark plugin's own tests on synthetic captures;
# pipefail (set above) fails the step when cargo test fails.
wire_selftest() {
	(cd "$TOP" && cargo test -q -p vsock-seqpacket-wire-check 2>&1) | tail -n 25
}

# The wire layer: the VM captures vsockmon0 and hands the capture over (/out);
# the host judges it with wire_check and with tshark (tests/wire_verify.sh).
wire_layer() { # LAYOUT
	local out=$BUILD/wire-$1
	vm --layout "$1" --out "$out" wire || return 1
	"$TOP/tests/wire_verify.sh" "$out/wire.pcap" 5000 5001
}

style() {
	local ok=0
	# The series as posted (the module and abstractions folded in), each
	# patch through checkpatch --strict.
	"$TOP/scripts/series.sh" || ok=1
	find "$TOP/src" -name '*.rs' -print0 | xargs -0 rustfmt --edition 2021 --check --config-path "$KSRC/.rustfmt.toml" || ok=1
	kernel_clippy || ok=1
	(cd "$TOP" && cargo clippy -q --workspace --all-targets -- -D warnings) || ok=1
	(cd "$TOP" && cargo fmt --all --check) || ok=1
	return $ok
}

# A short make bench in loopback: fails only when a run cannot be made (or
# used the wrong framing); prints the figures and the report's table.
perf_smoke() {
	local ok=0 out=$BUILD/test-logs/perf-bench
	vm --layout loopback --param sizes=64,64K --param rtt_sizes=64,64K \
		--param reps=1 --param secs=0.3 bench || ok=1
	mkdir -p "$out"
	grep -ao 'BENCH .*' "$BUILD/console-loopback-both-bench.log" | tr -d '\r' >"$out/results.txt" || true
	if [ -s "$out/results.txt" ]; then
		cat "$out/results.txt"
		/usr/bin/python3 "$TOP/scripts/bench_report.py" --no-chart --results "$out/results.txt" \
			--out "$out" --machine "$(nproc) CPUs" --date "$(date -u '+%F %R UTC')" \
			--params "smoke: 1 repetition of 0.3 s" && cat "$out/bench.md" || ok=1
	else
		echo "perf: no BENCH line in the console"
		ok=1
	fi
	return $ok
}

# have_kernel FLAVOR LAYER: the FLAVOR kernel was built; if not, the layer
# is recorded as failed, with how to build it.
have_kernel() {
	[ -e "$BUILD/$1/bzImage" ] && return 0
	log "$1 kernel missing: VSQ_FLAVOR=$1 scripts/kernel.sh (make test builds it)"
	record "$2" FAIL 0
	return 1
}

# A function, not `bash -c`: this shell's pipefail then covers the pipe, so a
# failing cargo test fails the layer although tail succeeds.
core_tests() {
	(cd "$TOP" && cargo test -q -p vsock-seqpacket-core 2>&1) | tail -n 25
}

for layer in $LAYERS; do
	case $layer in
	core) step "core: cargo test" core_tests ;;
	fuzz) step "core: fuzz ${FUZZ_SECONDS:-30}s" env FUZZ_SECONDS="${FUZZ_SECONDS:-30}" "$TOP/scripts/fuzz-core.sh" ;;
	bench) step "core: micro-benchmark" env BENCH_SECONDS=1 "$TOP/scripts/bench-core.sh" ;;
	style) step "style: checkpatch, rustfmt, clippy" style ;;
	kernel)
		step "kernel vsock_test loopback/module" vm --layout loopback --module both kernel_suite
		step "kernel vsock_test loopback/none" vm --layout loopback --module none kernel_suite
		for m in both host guest none; do
			step "kernel vsock_test host<->guest/$m" vm --layout hostguest --module $m kernel_suite
		done
		;;
	demo)
		step "demo loopback" vm --layout loopback demo
		step "demo host<->guest" vm --layout hostguest demo
		;;
	wire)
		step "wire: checker and dissector on synthetic captures" wire_selftest
		step "wire proof loopback (vsockmon, wire_check, tshark)" wire_layer loopback
		step "wire proof host<->guest (vsockmon in L1, wire_check, tshark)" wire_layer hostguest
		;;
	unload)
		step "unload policy" vm --layout loopback unload
		step "unload under load (${UNLOAD_CYCLES:-8} cycles)" vm --layout loopback --param cycles="${UNLOAD_CYCLES:-8}" unload_load
		;;
	debug)
		# The same tests on the debug kernel (KASAN, kmemleak, lockdep,
		# fault injection): every VM also fails on a splat or a kmemleak
		# object.
		have_kernel debug "debug kernel" || continue
		step "debug: kernel vsock_test loopback" vm --kernel debug --layout loopback kernel_suite
		step "debug: suite + hostile + faults loopback" vm --kernel debug --layout loopback suite
		step "debug: unload under load (3 cycles)" vm --kernel debug --layout loopback --param cycles=3 unload_load
		# The debug kernel as L1, the host side that guests attack; L2
		# runs the normal kernel. L2 needs minutes to boot on it.
		step "debug: kernel vsock_test host<->guest (debug L1)" vm --timeout 1200 --kernel debug --layout hostguest kernel_suite
		step "debug: suite + hostile host<->guest (debug L1)" vm --timeout 1200 --kernel debug --layout hostguest suite
		;;
	suite)
		if [ -f "$TOP/tests/scenarios/suite.sh" ]; then
			step "suite loopback" vm --layout loopback suite
			step "suite host<->guest" vm --layout hostguest suite
		else
			log "SKIP suite: tests/scenarios/suite.sh not present"
			record "suite" SKIP 0
		fi
		;;
	builtin)
		have_kernel builtin "module built in (=y)" || continue
		step "module built in (=y): markers with no insmod" vm --kernel builtin --module none builtin
		;;
	perf) step "perf smoke loopback (make bench)" perf_smoke ;;
	*) die "unknown layer $layer" ;;
	esac
done

for f in "${failures[@]}"; do
	echo
	echo "== why \"${f%%|*}\" failed (the lines that say so; all of it: ${f#*|})"
	grep -aE 'not ok|FAIL|fail|rror|timed out|too much|UNEXPECTED|missing|still running|WARNING|BUG|Oops|rc=[1-9]|Connection|Broken|Invalid|refused|reset|[Tt]imeout' "${f#*|}" |
		grep -v '^\[vm +[0-9]*s\] FAIL' | tail -n 40
done
if ((${#retries[@]})); then
	echo
	echo "== layers that needed a second boot, a nudge or a wake-up"
	printf '%s\n' "${retries[@]}"
fi
echo
echo "== test layers"
printf '%s\n' "${results[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
