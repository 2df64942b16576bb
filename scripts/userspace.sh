#!/usr/bin/env bash
# Build the static userspace programs that go into the VMs: the kernel's own
# tools/testing/vsock/vsock_test (from the cached tree), the project's suite
# (tests/vsock_test) and Rust tools (tools/vm: relay and demo; tools/perf:
# the benchmark), and the capture checker tools/wire_check, which runs on
# the host (build/tools, not in the VMs).
set -euo pipefail
LOG_TAG=userspace
. "$(dirname "$0")/lib.sh"

[ -f "$KSRC/Makefile" ] || die "no kernel tree in $KSRC: run scripts/kernel.sh first"
mkdir -p "$BUILD/bin"

make -s -C "$KSRC/tools/testing/vsock" vsock_test LDFLAGS=-static >"$CACHE/build-vsock_test.log" 2>&1 ||
	{ tail -20 "$CACHE/build-vsock_test.log"; die "building the kernel's vsock_test failed"; }
install -m 0755 "$KSRC/tools/testing/vsock/vsock_test" "$BUILD/bin/vsock_test"

# --target keeps crt-static away from build scripts and proc-macros.
TARGET=x86_64-unknown-linux-gnu
packages=(-p vsock-seqpacket-tools -p vsock-seqpacket-perf -p vsock-seqpacket-wire-check)
[ -f "$TOP/tests/vsock_test/Cargo.toml" ] && packages+=(-p vsock-seqpacket-tests)
(cd "$TOP" && RUSTFLAGS="-C target-feature=+crt-static" cargo build -q --release --target "$TARGET" "${packages[@]}") ||
	die "building the Rust test tools failed"
for bin in "$TOP"/target/$TARGET/release/vsock_relay "$TOP"/target/$TARGET/release/vsock_demo "$TOP"/target/$TARGET/release/vsock_seqpacket_test \
	"$TOP"/target/$TARGET/release/vsock_seqpacket_perf; do
	[ -x "$bin" ] && install -m 0755 "$bin" "$BUILD/bin/"
done
mkdir -p "$BUILD/tools"
install -m 0755 "$TOP/target/$TARGET/release/wire_check" "$BUILD/tools/"
log "static tools in build/bin: $(ls "$BUILD/bin" | tr '\n' ' ')"
