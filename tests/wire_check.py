#!/usr/bin/env python3
"""Checks a vsockmon capture (pcap, link type VSOCK) for the marker framing.

Each frame: 32-byte af_vsockmon_hdr, 44-byte virtio_vsock_hdr, payload.
Usage: wire_check.py CAPTURE MARKER_PORT FALLBACK_PORT
  MARKER_PORT:   server port of a marker connection; every record of N bytes
                 must cross as SEQ_BEGIN{cnt, N}, RW..., SEQ_END{cnt+1, N}, the
                 next record starting at cnt+2, in both directions.
  FALLBACK_PORT: server port of a fallback connection; it must carry no marker.
Prints what it saw; exits 1 on the first mismatch.
"""
import struct
import sys

OP_REQUEST, OP_RESPONSE, OP_RW, OP_SEQ_BEGIN, OP_SEQ_END = 1, 2, 5, 8, 9
FLAG_MARKERS = 1 << 31


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic != 0xA1B2C3D4:
        sys.exit(f"wire: {path}: not a little-endian microsecond pcap (magic {magic:#x})")
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack_from("<IIII", data, off)
        off += 16
        yield data[off:off + incl]
        off += incl


def packets(path):
    for fr in frames(path):
        hdr = fr[32:76]
        if len(hdr) < 44:
            continue
        src_cid, dst_cid, src_port, dst_port, length, typ, op, flags, _, _ = struct.unpack(
            "<QQIIIHHIII", hdr)
        yield dict(src=(src_cid, src_port), dst=(dst_cid, dst_port), len=length, type=typ,
                   op=op, flags=flags, payload=fr[76:76 + length])


def main():
    path, marker_port, fallback_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    pkts = list(packets(path))
    print(f"wire: {len(pkts)} packets captured")
    failures = 0

    def conn_of(p, port):
        return p["src"][1] == port or p["dst"][1] == port

    # Marker connection: per direction, walk records.
    mk = [p for p in pkts if conn_of(p, marker_port)]
    req = [p for p in mk if p["op"] in (OP_REQUEST, OP_RESPONSE)]
    if len(req) < 2 or not all(p["flags"] & FLAG_MARKERS for p in req):
        print(f"wire: FAIL: marker connection REQUEST/RESPONSE without the markers flag: "
              f"{[(p['op'], hex(p['flags'])) for p in req]}")
        failures += 1
    records = 0
    for direction in {p["src"] for p in mk}:
        seq = [p for p in mk if p["src"] == direction and p["op"] in (OP_RW, OP_SEQ_BEGIN, OP_SEQ_END)]
        expect_cnt, i = 0, 0
        while i < len(seq):
            b = seq[i]
            if b["op"] != OP_SEQ_BEGIN or len(b["payload"]) != 8:
                print(f"wire: FAIL: {direction}: expected SEQ_BEGIN, got op {b['op']}")
                failures += 1
                break
            cnt, n = struct.unpack("<II", b["payload"])
            if cnt != expect_cnt:
                print(f"wire: FAIL: {direction}: SEQ_BEGIN counter {cnt}, expected {expect_cnt}")
                failures += 1
            i += 1
            got = 0
            while i < len(seq) and seq[i]["op"] == OP_RW:
                got += seq[i]["len"]
                i += 1
            if i >= len(seq) or seq[i]["op"] != OP_SEQ_END:
                print(f"wire: FAIL: {direction}: record of {n} bytes has no SEQ_END")
                failures += 1
                break
            ecnt, elen = struct.unpack("<II", seq[i]["payload"])
            i += 1
            ok = ecnt == cnt + 1 and elen == n and got == n
            print(f"wire: {direction[0]}:{direction[1]} SEQ_BEGIN{{{cnt}, {n}}} RW x{got} bytes "
                  f"SEQ_END{{{ecnt}, {elen}}} eor={bool(seq[i-1]['flags'] & 2)} {'ok' if ok else 'FAIL'}")
            if not ok:
                failures += 1
            expect_cnt = cnt + 2
            records += 1
    if records == 0:
        print("wire: FAIL: no record seen on the marker connection")
        failures += 1

    fb = [p for p in pkts if conn_of(p, fallback_port)]
    markers = [p for p in fb if p["op"] in (OP_SEQ_BEGIN, OP_SEQ_END)]
    rw = [p for p in fb if p["op"] == OP_RW]
    eom = [p for p in rw if p["flags"] & 1]
    print(f"wire: fallback connection: {len(rw)} RW packets, {len(eom)} with EOM, {len(markers)} markers")
    if markers or not rw or not eom:
        print("wire: FAIL: the fallback connection must carry RW packets with EOM and no marker")
        failures += 1
    print(f"wire: {records} marker records checked, {failures} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
