# vsock-seqpacket: SEQ_BEGIN/SEQ_END record markers for virtio vsock SOCK_SEQPACKET.
#
#   make run     boot host (L1) and guest (L2) VMs with the module on both and
#                exchange records both ways (the main job); with CAPTURE=1 L1
#                also captures them (build/run.pcap) and tshark prints them
#                decoded by the Wireshark plugin
#   make test    every test layer (scripts/test.sh); LAYERS="kernel wire" picks some
#   make bench   throughput of markers vs upstream EOM framing vs SOCK_STREAM in
#                every layout; table and chart in build/bench/ (scripts/bench.sh)
#   make build   dependencies, kernel + module, static test tools
#   make module  rebuild only what changed in the kernel tree and the module
#   make debug-kernel  the same tree with KASAN, kmemleak, lockdep and fault
#                injection (config/debug.config), in a cache of its own
#   make builtin-kernel  the kernel with the module built in (=y)
#   make series  the series as it would be posted, with the module and the
#                cover letter, into build/series/, checked by checkpatch
#                --strict; SERIES_BUILD=1 also builds the tree after each patch
#   make wireshark-plugin  install tools/wireshark/vsock_seqpacket.lua for this
#                user's Wireshark and tshark (~/.local/lib/wireshark/plugins)
#   make clean   remove build/ (the kernel tree stays in the cache)
#
# Each target installs what it needs on a fresh Debian 12 machine.

.PHONY: all deps build kernel module debug-kernel builtin-kernel userspace run test bench series wireshark-plugin clean

all: build

deps:
	@bash scripts/deps.sh

kernel module: deps
	@bash scripts/kernel.sh

debug-kernel: deps
	@VSQ_FLAVOR=debug bash scripts/kernel.sh

# After kernel: its tree is copied from the normal one.
builtin-kernel: kernel
	@VSQ_FLAVOR=builtin bash scripts/kernel.sh

userspace: kernel
	@bash scripts/userspace.sh

build: userspace

WIRESHARK_LUA := tools/wireshark/vsock_seqpacket.lua
WIRESHARK_PLUGIN_DIR ?= $(HOME)/.local/lib/wireshark/plugins

run: build
ifeq ($(CAPTURE),1)
	@bash scripts/vm.sh --layout hostguest --param capture=1 --out build/run-capture demo
	@cp build/run-capture/run.pcap build/run.pcap
	@echo "== build/run.pcap decoded by tshark with $(WIRESHARK_LUA):"
	@tools/wireshark/tshark.sh -n -r build/run.pcap -T fields -e frame.number -e _ws.col.Info
	@echo "== a record's SEQ_END in detail: tools/wireshark/tshark.sh -r build/run.pcap -O vsock_seq -Y 'vsock_seq.record == 3 && vsock_seq.complete'"
else
	@bash scripts/vm.sh --layout hostguest demo
endif

wireshark-plugin:
	@mkdir -p $(WIRESHARK_PLUGIN_DIR)
	@install -m 0644 $(WIRESHARK_LUA) $(WIRESHARK_PLUGIN_DIR)/
	@echo "installed $(WIRESHARK_PLUGIN_DIR)/$(notdir $(WIRESHARK_LUA))"
	@echo "Wireshark and tshark of user $$(id -un) now load it (tshark -G plugins lists it);"
	@echo "try: tshark -r build/run.pcap -Y vsock_seq.record"

test: build debug-kernel builtin-kernel
	@bash scripts/test.sh

bench: build
	@bash scripts/bench.sh

series: kernel
	@bash scripts/series.sh $(if $(SERIES_BUILD),--build)

clean:
	rm -rf build target
