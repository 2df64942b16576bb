# Shared helpers for the project's scripts; source it, do not run it.
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$TOP/build
CACHE=${VSOCK_SEQPACKET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vsock-seqpacket}
# VSQ_FLAVOR=debug selects the debug kernel (config/debug.config on top of
# config/vm.config: KASAN, kmemleak, lockdep, fault injection) in a tree of
# its own; its artifacts go to build/debug.
FLAVOR=${VSQ_FLAVOR:-normal}
case $FLAVOR in
normal) KSRC=$CACHE/linux-6.12 KOUT=$BUILD ;;
debug) KSRC=$CACHE/linux-6.12-debug KOUT=$BUILD/debug ;;
*) echo "VSQ_FLAVOR must be normal or debug, not '$FLAVOR'" >&2; exit 2 ;;
esac
KMAKE=(make -C "$KSRC" LLVM=1 RUSTC=/usr/bin/rustc "-j$(($(nproc) + 1))")
export PATH="$HOME/.cargo/bin:$PATH"

_t0=$(date +%s)
log() { printf '[%s +%ss] %s\n' "${LOG_TAG:-vsock-seqpacket}" "$(($(date +%s) - _t0))" "$*"; }
die() { printf '[%s] error: %s\n' "${LOG_TAG:-vsock-seqpacket}" "$*" >&2; exit 1; }

# Run a long command with its output in a log file, printing a heartbeat
# line every minute and the log's tail if it fails.
run_logged() {
	local what=$1 logfile=$2; shift 2
	log "$what (log: $logfile)"
	local start=$SECONDS
	"$@" >"$logfile" 2>&1 &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		if (((SECONDS - start) % 60 < 5 && SECONDS - start >= 60)); then
			log "  ... $what: $((SECONDS - start))s"
		fi
	done
	if ! wait "$pid"; then
		tail -n 40 "$logfile" >&2
		die "$what failed; full log in $logfile"
	fi
	log "$what done in $((SECONDS - start))s"
}
