#!/usr/bin/env bash
# Throughput of the protocol core (plan/commit + classify + reassembler) in release mode:
# records/s for 0 B to 256 KiB records. Prints figures; never fails on a number.
# Env: BENCH_SECONDS (time per case, default 1).
set -euo pipefail

LOG_TAG=bench-core
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$TOP"
cargo build --release --quiet -p vsock-seqpacket-core --example core_bench
cargo run --release --quiet -p vsock-seqpacket-core --example core_bench
