#!/usr/bin/env bash
# Build the project's Linux 6.12: extract Debian's linux-source-6.12 into the
# cache, apply patches/net/*.patch (fixes of 6.12 that go to net on their
# own) and patches/*.patch (the series), put the files the series adds whole (the
# module from src/, its Rust abstraction, include/) into the tree, merge
# config/vm.config over tinyconfig and build bzImage and the in-tree
# vsock_seqpacket.ko.
#
# The tree is kept between runs. A changed patch series is swapped in place
# (old series reversed, new one applied) so the rebuild stays incremental; a
# tree that cannot be reversed cleanly is extracted anew.
set -euo pipefail
LOG_TAG=kernel
. "$(dirname "$0")/lib.sh"

TARBALL=/usr/src/linux-source-6.12.tar.xz
[ -f "$TARBALL" ] || die "$TARBALL missing: run scripts/deps.sh (Debian package linux-source-6.12)"
mkdir -p "$CACHE" "$BUILD"

# Every patch the tree takes, in order: the fixes for net, then the series.
wanted_patches() { (shopt -s nullglob; printf '%s\n' "$TOP"/patches/net/*.patch "$TOP"/patches/*.patch); }
# Hash of the patches named on stdin, concatenated in that order.
patches_hash() { xargs -r -d '\n' cat | sha256sum | cut -d' ' -f1; }
APPLIED=$KSRC/.vsock-seqpacket/applied
# What the tree has, in the order it was applied (each copy is numbered).
applied_patches() { find "$APPLIED" -maxdepth 1 -name '*.patch' | sort; }

extract() {
	log "extracting $TARBALL into $CACHE"
	rm -rf "$KSRC" "$CACHE/linux-source-6.12"
	tar -C "$CACHE" -xf "$TARBALL"
	mv "$CACHE/linux-source-6.12" "$KSRC"
	mkdir -p "$APPLIED"
}

apply_series() {
	local p i=0
	while read -r p; do
		i=$((i + 1))
		# --fuzz tolerates context drift in newer 6.12.y point releases.
		if ! patch -d "$KSRC" -p1 --forward --fuzz=3 --quiet <"$p" >"$CACHE/patch.log" 2>&1; then
			cat "$CACHE/patch.log" >&2
			die "patch $(basename "$p") no longer applies to $(cat "$KSRC/.vsock-seqpacket/version" 2>/dev/null || echo this tree); the series was made against 6.12.117"
		fi
		cp "$p" "$APPLIED/$(printf %02d $i)-$(basename "$p")"
		find "$KSRC" -name '*.orig' -newer "$p" -delete 2>/dev/null || true
	done < <(wanted_patches)
}

reverse_series() {
	local p
	for p in $(applied_patches | sort -r); do
		patch -d "$KSRC" -p1 -R --quiet <"$p" >/dev/null 2>&1 || return 1
		rm -f "$p"
	done
}

want=$(wanted_patches | patches_hash)
# The built-in kernel differs from the normal one in one option: start from
# a copy of the normal tree, whose objects the build then mostly keeps.
if [ "$FLAVOR" = builtin ] && [ ! -d "$KSRC/.vsock-seqpacket/applied" ] && [ -f "$CACHE/linux-6.12/vmlinux" ]; then
	log "copying the normal tree to $KSRC"
	rm -rf "$KSRC"
	cp -a "$CACHE/linux-6.12" "$KSRC"
	rm -f "$KSRC/.vsock-seqpacket/config.hash"
fi
if [ ! -f "$KSRC/Makefile" ] || [ ! -d "$APPLIED" ]; then
	extract
fi
dpkg-query -W -f='${Version}' linux-source-6.12 >"$KSRC/.vsock-seqpacket/version" 2>/dev/null || true
have=$(applied_patches | patches_hash)
if [ "$have" != "$want" ]; then
	log "patch series changed: swapping it in the cached tree"
	if ! reverse_series; then
		log "cached tree does not reverse cleanly: extracting anew"
		extract
	fi
	apply_series
fi

# The module, its abstraction and the headers the series adds whole.
install_tree_files "$KSRC"

fragments=("$TOP/config/vm.config")
[ "$FLAVOR" = debug ] && fragments+=("$TOP/config/debug.config")
[ "$FLAVOR" = builtin ] && fragments+=("$TOP/config/builtin.config")
cfg_hash=$( (cat "${fragments[@]}"; sha256sum "$TARBALL" | cut -c1-16) | sha256sum | cut -d' ' -f1)
if [ "$(cat "$KSRC/.vsock-seqpacket/config.hash" 2>/dev/null)" != "$cfg_hash" ] || [ ! -f "$KSRC/.config" ]; then
	log "configuring ($FLAVOR): tinyconfig + ${fragments[*]#"$TOP/"}"
	"${KMAKE[@]}" tinyconfig >/dev/null
	(cd "$KSRC" && KCONFIG_CONFIG=.config scripts/kconfig/merge_config.sh -m .config "${fragments[@]}" >/dev/null)
	"${KMAKE[@]}" olddefconfig >/dev/null
	grep -q '^CONFIG_RUST=y' "$KSRC/.config" ||
		die "CONFIG_RUST did not stick; 'make LLVM=1 RUSTC=/usr/bin/rustc rustavailable' in $KSRC says why"
	missing=$(cat "${fragments[@]}" | grep -E '^CONFIG_[A-Z0-9_]+=[yn]' | while read -r l; do
		case $l in
		*=n) ! grep -q "^${l%=n}=y" "$KSRC/.config" || echo "$l" ;;
		*) grep -qx "$l" "$KSRC/.config" || echo "$l" ;;
		esac
	done)
	# The debug kernel is only worth its build if every checker stuck (KASAN
	# silently refuses SLUB_TINY, for one).
	if [ "$FLAVOR" = debug ] && [ -n "$missing" ]; then
		die "debug options that Kconfig did not take: $(echo "$missing" | tr '\n' ' ')"
	fi
	[ -z "$missing" ] || log "note: options not set by Kconfig: $(echo "$missing" | tr '\n' ' ')"
	want_module=m
	[ "$FLAVOR" = builtin ] && want_module=y
	grep -q "^CONFIG_VSOCK_SEQPACKET=$want_module" "$KSRC/.config" ||
		die "CONFIG_VSOCK_SEQPACKET=$want_module did not stick (needs RUST_VSOCK_ABSTRACTIONS, VIRTIO_VSOCKETS_COMMON=y, DEBUG_FS)"
	echo "$cfg_hash" >"$KSRC/.vsock-seqpacket/config.hash"
fi

mkdir -p "$KOUT"
run_logged "building bzImage ($FLAVOR)" "$CACHE/build-kernel-$FLAVOR.log" nice "${KMAKE[@]}" bzImage modules
install -m 0644 "$KSRC/arch/x86/boot/bzImage" "$KOUT/bzImage"

if [ "$FLAVOR" = builtin ]; then
	log "artifacts: ${KOUT#"$TOP/"}/bzImage (vsock_seqpacket built in)"
	exit 0
fi

# In tree (CONFIG_VSOCK_SEQPACKET=m): `make modules` above built it.
install -m 0644 "$KSRC/net/vmw_vsock/seqpacket/vsock_seqpacket.ko" "$KOUT/vsock_seqpacket.ko"

# The hostile-peer cases' packet forger: a test-only module, never shipped.
FORGEDIR=$KOUT/forge
rm -rf "$FORGEDIR"
cp -r "$TOP/tests/forge" "$FORGEDIR"
run_logged "building vsock_forge.ko (test only)" "$CACHE/build-forge-$FLAVOR.log" "${KMAKE[@]}" M="$FORGEDIR" modules
install -m 0644 "$FORGEDIR/vsock_forge.ko" "$KOUT/vsock_forge.ko"
log "artifacts: ${KOUT#"$TOP/"}/bzImage, vsock_seqpacket.ko, vsock_forge.ko"
