#!/usr/bin/env bash
# Coverage-guided fuzzing of the protocol core (src/proto) with cargo-fuzz / libFuzzer on the
# stable toolchain (RUSTC_BOOTSTRAP=1 unlocks the -Z flags cargo-fuzz passes to rustc).
#
# Targets (tests/core/fuzz/fuzz_targets): decode_reasm (marker headers + classify + reassembler
# against a reference model) and roundtrip (plan/commit -> RW split as C does -> classify ->
# reassembler, with single faults).
# They run in parallel, each for FUZZ_SECONDS (default 60). Exits non-zero on a crash, leak or
# timeout; the crashing input is kept under tests/core/fuzz/artifacts/<target>/.
#
# Env: FUZZ_SECONDS (default 60), FUZZ_TARGETS (default "decode_reasm roundtrip").
set -euo pipefail

LOG_TAG=fuzz-core
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CARGO_FUZZ_VERSION=0.13.2
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TARGETS=${FUZZ_TARGETS:-decode_reasm roundtrip}
CORE=$TOP/tests/core
[[ $FUZZ_SECONDS =~ ^[1-9][0-9]*$ ]] || die "FUZZ_SECONDS must be a positive integer"

if ! command -v c++ >/dev/null; then
	log "installing g++ (libfuzzer-sys builds libFuzzer from C++)"
	{ apt-get update -qq && apt-get install -y -qq g++ >/dev/null; } || die "cannot install g++"
fi
if [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
	log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
	cargo install --locked --version "$CARGO_FUZZ_VERSION" cargo-fuzz >/dev/null 2>&1 ||
		die "cargo install cargo-fuzz $CARGO_FUZZ_VERSION failed"
fi

export RUSTC_BOOTSTRAP=1
# No sanitizer: the core is forbid(unsafe_code). Debug assertions (-a) turn on overflow
# checks, as in the kernel build.
FUZZ_FLAGS=(--sanitizer none --debug-assertions --release)

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

cd "$CORE"
log "building fuzz targets: $FUZZ_TARGETS"
cargo fuzz build "${FUZZ_FLAGS[@]}" >"$logs/build.log" 2>&1 || {
	tail -n 40 "$logs/build.log" >&2
	die "cargo fuzz build failed"
}
pids=()
for t in $FUZZ_TARGETS; do
	mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
	log "running $t for ${FUZZ_SECONDS}s"
	cargo fuzz run "${FUZZ_FLAGS[@]}" "$t" "fuzz/corpus/$t" -- \
		-max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 >"$logs/$t.log" 2>&1 &
	pids+=($!)
done

total_runs=0 total_secs=0 crashes=0
i=0
for t in $FUZZ_TARGETS; do
	rc=0
	wait "${pids[$i]}" || rc=$?
	i=$((i + 1))
	runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$logs/$t.log" | tail -n 1)
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$logs/$t.log" | tail -n 1)
	runs=${runs:-0} secs=${secs:-$FUZZ_SECONDS}
	if ((rc != 0)) || ! grep -q '^Done [0-9]* runs' "$logs/$t.log"; then
		crashes=$((crashes + 1))
		grep -m 1 -A 4 'panicked at' "$logs/$t.log" >&2 || true
		grep -E '^(SUMMARY|Error):|Reproduce with|cargo fuzz run .*artifacts' "$logs/$t.log" >&2 || true
		log "$t: FAILED (exit $rc) after $runs runs; artifacts in $CORE/fuzz/artifacts/$t/"
	else
		cov=$(grep -o 'cov: [0-9]*' "$logs/$t.log" | tail -n 1)
		log "$t: $runs runs in ${secs}s, ${cov:-cov: ?}, corpus $(find "fuzz/corpus/$t" -type f | wc -l) inputs"
	fi
	total_runs=$((total_runs + runs))
	((secs > total_secs)) && total_secs=$secs
done

echo "fuzz: $total_runs runs in $total_secs s, $crashes crashes"
((crashes == 0))
