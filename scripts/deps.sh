#!/usr/bin/env bash
# Install everything the project needs on a fresh Debian 12 machine.
# Idempotent: packages and tools already present are skipped.
set -euo pipefail

BINDGEN_VERSION=0.73.2

DEBIAN_PACKAGES=(
	linux-source-6.12 rustc-web rust-web-src rust-web-clippy
	clang lld llvm libclang-dev
	flex bison bc libelf-dev libssl-dev cpio xz-utils patch
	qemu-system-x86 busybox-static socat tcpdump iproute2 tshark
	python3-matplotlib
)

log() { printf '[deps] %s\n' "$*"; }
die() { printf '[deps] error: %s\n' "$*" >&2; exit 1; }

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

if ((${#missing[@]})); then
	command -v apt-get >/dev/null ||
		die "apt-get not found; install these Debian packages by hand: ${missing[*]}"
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	log "installing Debian packages: ${missing[*]}"
	# tshark pulls wireshark-common, which asks whether non-root users may
	# capture (a setuid dumpcap): answer no before it asks, or the install
	# stops at a prompt. The project runs tshark only on saved captures.
	echo "wireshark-common wireshark-common/install-setuid boolean false" |
		$SUDO debconf-set-selections ||
		die "debconf-set-selections failed (package debconf)"
	$SUDO apt-get update -qq ||
		die "apt-get update failed; check access to Debian's package archive"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null ||
		die "apt-get install failed for: ${missing[*]}"
else
	log "Debian packages present"
fi

[ -f /usr/src/linux-source-6.12.tar.xz ] ||
	die "/usr/src/linux-source-6.12.tar.xz missing; reinstall the Debian package linux-source-6.12"
[ -x /usr/bin/rustc ] || die "/usr/bin/rustc missing; install the Debian package rustc-web"

export PATH="$HOME/.cargo/bin:$PATH"
if bindgen --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
	log "bindgen $BINDGEN_VERSION present"
else
	command -v cargo >/dev/null ||
		die "cargo not found; install Rust (rustup or Debian's cargo) to build bindgen-cli"
	log "cargo install bindgen-cli $BINDGEN_VERSION"
	cargo install --quiet --locked bindgen-cli --version "$BINDGEN_VERSION" ||
		die "cargo install bindgen-cli $BINDGEN_VERSION failed; check access to crates.io"
fi
log "ok"
