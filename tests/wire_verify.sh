#!/usr/bin/env bash
# Host side of the wire layer: judges a vsockmon capture made in a VM twice.
#
#   tests/wire_verify.sh CAPTURE MARKER_PORT FALLBACK_PORT
#
# 1. wire_check (tools/wire_check), which decodes every packet with the
#    module's own protocol core (src/proto) and feeds each direction's records
#    to the module's Reassembler: records SEQ_BEGIN{cnt, N}, RW..., SEQ_END{cnt+1, N},
#    the next at cnt+2, both ways; markers negotiated on the marker port; no
#    marker on the fallback port.
# 2. tshark with the Wireshark plugin (tools/wireshark/vsock_seqpacket.lua):
#    it must load, raise no expert warning (or worse) on any frame, and find
#    the same records per connection and direction as wire_check.
# Either failing fails the script (exit 1). tshark missing is a failure too:
# scripts/deps.sh installs it.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
cap=${1:?usage: tests/wire_verify.sh CAPTURE MARKER_PORT FALLBACK_PORT}
mport=${2:?marker port} fport=${3:?fallback port}
checker=${WIRE_CHECK:-$TOP/build/tools/wire_check}
lua=$TOP/tools/wireshark/vsock_seqpacket.lua

fail() { echo "wire: FAIL: $*"; exit 1; }
[ -s "$cap" ] || fail "no capture at $cap (the VM did not hand it over)"
[ -x "$checker" ] || fail "$checker missing: run scripts/userspace.sh (make build)"
command -v tshark >/dev/null || fail "tshark missing: run scripts/deps.sh, which installs it"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vsq-wire.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# 1. The module's own decoder and reassembler.
"$checker" "$cap" "$mport" "$fport" | tee "$tmp/check.log"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || fail "wire_check (src/proto's decoder and Reassembler) rejected the capture (exit $rc)"
sed -n 's/^wire: summary \([a-z]*\) \(.*\): records=\([0-9]*\).*/\1 \2 \3/p' "$tmp/check.log" |
	sort >"$tmp/check.records"

# 2. tshark and this checkout's plugin (tools/wireshark/tshark.sh keeps an
# installed copy out). tshark goes on when a Lua plugin fails to load, so its
# error output decides that.
tsh() { "$TOP/tools/wireshark/tshark.sh" -n -r "$cap" "$@" 2>>"$tmp/tshark.err"; }
tsh -Y vsock_seq.complete -T fields -E separator=' ' -e vsock_seq.framing \
	-e vsock.virtio.src_cid -e vsock.virtio.src_prot -e vsock.virtio.dst_cid \
	-e vsock.virtio.dst_prot -e vsock_seq.record >"$tmp/tshark.fields" ||
	fail "tshark failed (did the plugin load? are the fields it reads there?): $(grep -v '^Running as user' "$tmp/tshark.err")"
if grep -v '^Running as user' "$tmp/tshark.err" | grep -q .; then
	fail "tshark complained (the plugin did not load?): $(grep -v '^Running as user' "$tmp/tshark.err")"
fi
# Records per connection and direction: the number of complete records, each
# numbered in turn from 1.
awk '{ key = $1 " " $2 ":" $3 " -> " $4 ":" $5; n[key]++
       if ($6 != n[key]) bad = bad " " key " has record " $6 " as its " n[key] "th" }
     END { for (k in n) print k, n[k]; if (bad != "") { print "numbering:" bad > "/dev/stderr"; exit 1 } }' \
	"$tmp/tshark.fields" | sort >"$tmp/tshark.records" ||
	fail "tshark's record numbers are not consecutive"
tsh -Y '_ws.expert.severity >= warning' -T fields -e frame.number -e vsock_seq.violation \
	-e _ws.expert.message >"$tmp/tshark.experts" ||
	fail "tshark could not read the capture: $(cat "$tmp/tshark.err")"

echo "wire: tshark with $(basename "$lua"): records per connection and direction:"
sed 's/^/wire:   /' "$tmp/tshark.records"
if [ -s "$tmp/tshark.experts" ]; then
	echo "wire: tshark's expert warnings (frame, violation, message):"
	sed 's/^/wire:   /' "$tmp/tshark.experts"
	fail "tshark's dissector warns about $(wc -l <"$tmp/tshark.experts") frame(s)"
fi
if ! diff -u "$tmp/check.records" "$tmp/tshark.records" >"$tmp/diff"; then
	sed 's/^/wire:   /' "$tmp/diff"
	fail "tshark and wire_check disagree on the records (--- wire_check, +++ tshark)"
fi
[ -s "$tmp/tshark.records" ] || fail "tshark found no record at all"
echo "wire: ok: tshark agrees with wire_check on $(wc -l <"$tmp/tshark.records") directions, no expert warning"
