#!/usr/bin/env bash
# tshark with this checkout's plugin (tools/wireshark/vsock_seqpacket.lua),
# whatever the user installed: HOME points to an empty directory for the run,
# so a copy installed by `make wireshark-plugin` (which would register the
# protocol twice, and may be older) and personal preferences stay out.
#
#   tools/wireshark/tshark.sh -r CAPTURE [tshark options...]
set -euo pipefail
command -v tshark >/dev/null || {
	echo "tshark missing: run scripts/deps.sh, which installs it" >&2
	exit 127
}
lua=$(cd "$(dirname "$0")" && pwd)/vsock_seqpacket.lua
home=$(mktemp -d "${TMPDIR:-/tmp}/vsq-tshark.XXXXXX")
trap 'rm -rf "$home"' EXIT
# Its warning that root runs it is noise here (it only reads files); the
# rest of its error output follows its normal output.
rc=0
HOME=$home XDG_CONFIG_HOME=$home/.config tshark -X lua_script:"$lua" "$@" 2>"$home/err" || rc=$?
grep -v '^Running as user "root"' "$home/err" >&2 || true
exit $rc
