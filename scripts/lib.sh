# Shared helpers for the project's scripts; source it, do not run it.
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$TOP/build
CACHE=${VSOCK_SEQPACKET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vsock-seqpacket}
# VSQ_FLAVOR=debug selects the debug kernel (config/debug.config on top of
# config/vm.config: KASAN, kmemleak, lockdep, fault injection) in a tree of
# its own; its artifacts go to build/debug. VSQ_FLAVOR=builtin builds the
# module into the kernel (CONFIG_VSOCK_SEQPACKET=y, config/builtin.config),
# in a tree copied from the normal one; artifacts in build/builtin.
FLAVOR=${VSQ_FLAVOR:-normal}
case $FLAVOR in
normal) KSRC=$CACHE/linux-6.12 KOUT=$BUILD ;;
debug) KSRC=$CACHE/linux-6.12-debug KOUT=$BUILD/debug ;;
builtin) KSRC=$CACHE/linux-6.12-builtin KOUT=$BUILD/builtin ;;
*) echo "VSQ_FLAVOR must be normal, debug or builtin, not '$FLAVOR'" >&2; exit 2 ;;
esac
KMAKE=(make -C "$KSRC" LLVM=1 RUSTC=/usr/bin/rustc "-j$(($(nproc) + 1))")

# Files that the series adds whole, kept readable here rather than inside a
# patch: "repository path:tree path:patch that adds them" (a directory goes
# with everything in it). scripts/kernel.sh copies them into the tree after
# patches/; scripts/series.sh folds them into the patch named.
TREE_FILES=(
	include/linux/virtio_vsock_seq.h:include/linux/virtio_vsock_seq.h:vsock-virtio-let-a-module-frame
	src/kernel/debugfs.rs:rust/kernel/debugfs.rs:rust-debugfs-add
	src/kernel/net/vsock.rs:rust/kernel/net/vsock.rs:rust-net-add-an-abstraction
	Kconfig:net/vmw_vsock/seqpacket/Kconfig:vsock-add-the-vsock_seqpacket-module
	Kbuild:net/vmw_vsock/seqpacket/Kbuild:vsock-add-the-vsock_seqpacket-module
	src/vsock_seqpacket.rs:net/vmw_vsock/seqpacket/vsock_seqpacket.rs:vsock-add-the-vsock_seqpacket-module
	src/debugfs.rs:net/vmw_vsock/seqpacket/debugfs.rs:vsock-add-the-vsock_seqpacket-module
	src/proto:net/vmw_vsock/seqpacket/proto:vsock-add-the-vsock_seqpacket-module
	docs/vsock_seqpacket.rst:Documentation/networking/vsock_seqpacket.rst:Documentation-networking
)

# install_tree_files DIR: copies TREE_FILES into the tree at DIR, touching
# only what changed so that the build stays incremental.
install_tree_files() {
	local dir=$1 entry from to f
	for entry in "${TREE_FILES[@]}"; do
		IFS=: read -r from to _ <<<"$entry"
		if [ -d "$TOP/$from" ]; then
			for f in "$TOP/$from"/*; do
				cmp -s "$f" "$dir/$to/${f##*/}" || install -D -m 0644 "$f" "$dir/$to/${f##*/}"
			done
		else
			cmp -s "$TOP/$from" "$dir/$to" || install -D -m 0644 "$TOP/$from" "$dir/$to"
		fi
	done
}
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
