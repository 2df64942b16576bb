# vsock-seqpacket: SEQ_BEGIN/SEQ_END record markers for virtio vsock SOCK_SEQPACKET.
#
#   make run     boot host (L1) and guest (L2) VMs with the module on both and
#                exchange records both ways (the main job)
#   make test    every test layer (scripts/test.sh); LAYERS="kernel wire" picks some
#   make bench   throughput of markers vs upstream EOM framing vs SOCK_STREAM in
#                every layout; table and chart in build/bench/ (scripts/bench.sh)
#   make build   dependencies, kernel + module, static test tools
#   make module  rebuild only what changed in the kernel tree and the module
#   make debug-kernel  the same tree with KASAN, kmemleak, lockdep and fault
#                injection (config/debug.config), in a cache of its own
#   make clean   remove build/ (the kernel tree stays in the cache)
#
# Each target installs what it needs on a fresh Debian 12 machine.

.PHONY: all deps build kernel module debug-kernel userspace run test bench clean

all: build

deps:
	@bash scripts/deps.sh

kernel module: deps
	@bash scripts/kernel.sh

debug-kernel: deps
	@VSQ_FLAVOR=debug bash scripts/kernel.sh

userspace: kernel
	@bash scripts/userspace.sh

build: userspace

run: build
	@bash scripts/vm.sh --layout hostguest demo

test: build debug-kernel
	@bash scripts/test.sh

bench: build
	@bash scripts/bench.sh

clean:
	rm -rf build target
