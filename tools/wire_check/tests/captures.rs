//! The checker on synthetic captures: it passes a good one and fails, with exit status 1 and a
//! message naming the problem, on each kind of bad one. The captures are built from the core's
//! own encoders and written as real pcap files, which the `wire_check` binary then reads.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;
use vsock_seqpacket_core::{
    PacketHdr, SeqHdr, FLAG_SEQ_EOM, FLAG_SEQ_EOR, FLAG_SEQ_MARKERS, OP_CREDIT_UPDATE, OP_REQUEST,
    OP_RESPONSE, OP_RW, OP_SEQ_BEGIN, OP_SEQ_END, OP_SHUTDOWN, TYPE_SEQPACKET,
};
use vsock_seqpacket_wire_check::{MON_HDR_LEN, MON_TRANSPORT_VIRTIO};

const MARKER_PORT: u32 = 5000;
const FALLBACK_PORT: u32 = 5001;
const GUEST: u64 = 3;
const HOST: u64 = 2;

/// One end: (cid, port).
type End = (u64, u32);

const M_CLIENT: End = (GUEST, 1025);
const M_SERVER: End = (HOST, MARKER_PORT);
const F_CLIENT: End = (GUEST, 1026);
const F_SERVER: End = (HOST, FALLBACK_PORT);

/// A vsockmon frame: monitor header, virtio-vsock header, payload.
fn frame(src: End, dst: End, op: u16, flags: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; MON_HDR_LEN];
    f[..8].copy_from_slice(&src.0.to_le_bytes());
    f[8..16].copy_from_slice(&dst.0.to_le_bytes());
    f[16..20].copy_from_slice(&src.1.to_le_bytes());
    f[20..24].copy_from_slice(&dst.1.to_le_bytes());
    f[26..28].copy_from_slice(&MON_TRANSPORT_VIRTIO.to_le_bytes());
    f[28..30].copy_from_slice(&44u16.to_le_bytes());
    let hdr = PacketHdr {
        src_cid: src.0,
        dst_cid: dst.0,
        src_port: src.1,
        dst_port: dst.1,
        len: payload.len() as u32,
        type_: TYPE_SEQPACKET,
        op,
        flags,
        buf_alloc: 256 * 1024,
        fwd_cnt: 0,
    };
    f.extend_from_slice(&hdr.encode());
    f.extend_from_slice(payload);
    f
}

fn marker(src: End, dst: End, op: u16, flags: u32, msg_cnt: u32, msg_len: u32) -> Vec<u8> {
    frame(src, dst, op, flags, &SeqHdr { msg_cnt, msg_len }.encode())
}

/// A record as the module sends it: SEQ_BEGIN{cnt, N}, RW packets of at most 4 KiB, SEQ_END.
fn record(src: End, dst: End, cnt: u32, len: usize, eor: bool) -> Vec<Vec<u8>> {
    let mut out = vec![marker(src, dst, OP_SEQ_BEGIN, 0, cnt, len as u32)];
    let data = vec![b'x'; len];
    for chunk in data.chunks(4096) {
        out.push(frame(src, dst, OP_RW, 0, chunk));
    }
    let flags = if eor { FLAG_SEQ_EOR } else { 0 };
    out.push(marker(src, dst, OP_SEQ_END, flags, cnt + 1, len as u32));
    out
}

/// A good capture: a marker connection with three records each way (one empty, one of
/// several packets), then a fallback connection in EOM framing.
fn good() -> Vec<Vec<u8>> {
    let mut c = vec![
        frame(M_CLIENT, M_SERVER, OP_REQUEST, FLAG_SEQ_MARKERS, &[]),
        frame(M_SERVER, M_CLIENT, OP_RESPONSE, FLAG_SEQ_MARKERS, &[]),
    ];
    for (src, dst) in [(M_CLIENT, M_SERVER), (M_SERVER, M_CLIENT)] {
        c.extend(record(src, dst, 0, 5, true));
        c.extend(record(src, dst, 2, 0, true));
        c.extend(record(src, dst, 4, 10_000, false));
        c.push(frame(dst, src, OP_CREDIT_UPDATE, 0, &[]));
    }
    c.push(frame(M_CLIENT, M_SERVER, OP_SHUTDOWN, 3, &[]));
    // The fallback connection: the guest offers markers, the host does not accept.
    c.push(frame(F_CLIENT, F_SERVER, OP_REQUEST, FLAG_SEQ_MARKERS, &[]));
    c.push(frame(F_SERVER, F_CLIENT, OP_RESPONSE, 0, &[]));
    for (src, dst) in [(F_CLIENT, F_SERVER), (F_SERVER, F_CLIENT)] {
        c.push(frame(
            src,
            dst,
            OP_RW,
            FLAG_SEQ_EOM | FLAG_SEQ_EOR,
            b"hello",
        ));
        c.push(frame(src, dst, OP_RW, 0, b"two-"));
        c.push(frame(src, dst, OP_RW, FLAG_SEQ_EOM, b"packets"));
    }
    c
}

/// Index of the `n`-th (from 0) frame of `op` sent by `src` in `c`.
fn find(c: &[Vec<u8>], src: End, op: u16, n: usize) -> usize {
    c.iter()
        .enumerate()
        .filter(|(_, f)| {
            let h = PacketHdr::decode(&f[MON_HDR_LEN..MON_HDR_LEN + 44]).unwrap();
            (h.src_cid, h.src_port) == src && h.op == op
        })
        .nth(n)
        .map(|(i, _)| i)
        .expect("frame to change")
}

fn write(name: &str, frames: &[Vec<u8>], link: DataLink) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("{name}.pcap"));
    let header = PcapHeader {
        datalink: link,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(std::fs::File::create(&path).unwrap(), header).unwrap();
    for (i, f) in frames.iter().enumerate() {
        let ts = Duration::from_millis(i as u64);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))
            .unwrap();
    }
    path
}

/// Runs the binary on `frames`; returns its exit code and output.
fn run(name: &str, frames: &[Vec<u8>]) -> (i32, String) {
    run_path(&write(name, frames, DataLink::VSOCK))
}

fn run_path(path: &PathBuf) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wire_check"))
        .arg(path)
        .arg(MARKER_PORT.to_string())
        .arg(FALLBACK_PORT.to_string())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// Asserts that the checker fails with status 1 and says `why`.
fn assert_fails(name: &str, frames: &[Vec<u8>], why: &str) {
    let (code, text) = run(name, frames);
    assert_eq!(code, 1, "{name}: expected a failure, got:\n{text}");
    let fail = text
        .lines()
        .find(|l| l.starts_with("wire: FAIL: "))
        .unwrap_or_else(|| panic!("{name}: no FAIL line in:\n{text}"));
    assert!(fail.contains(why), "{name}: '{why}' not in '{fail}'");
    assert!(!text.contains("wire: ok"), "{name}: also said ok:\n{text}");
}

#[test]
fn good_capture_passes() {
    let (code, text) = run("good", &good());
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(
            "wire: 3:1025 -> 2:5000 record 1: SEQ_BEGIN{0, 5} RW x1 (5 bytes) SEQ_END{1, 5} EOR ok"
        ),
        "{text}"
    );
    assert!(
        text.contains("record 3: SEQ_BEGIN{4, 10000} RW x3 (10000 bytes) SEQ_END{5, 10000} ok"),
        "{text}"
    );
    assert!(
        text.contains("wire: summary markers 3:1025 -> 2:5000: records=3 bytes=10005 eor=2"),
        "{text}"
    );
    assert!(
        text.contains("wire: summary markers 2:5000 -> 3:1025: records=3 bytes=10005 eor=2"),
        "{text}"
    );
    assert!(
        text.contains("wire: summary fallback 3:1026 -> 2:5001: records=2 bytes=16"),
        "{text}"
    );
    assert!(text.contains("wire: ok: 6 marker records"), "{text}");
}

#[test]
fn counter_gap_fails() {
    // The second record of the host starts at 4: a whole record (2, 3) is missing.
    let mut c = good();
    let i = find(&c, M_SERVER, OP_SEQ_BEGIN, 1);
    c[i] = marker(M_SERVER, M_CLIENT, OP_SEQ_BEGIN, 0, 4, 0);
    let j = find(&c, M_SERVER, OP_SEQ_END, 1);
    c[j] = marker(M_SERVER, M_CLIENT, OP_SEQ_END, FLAG_SEQ_EOR, 5, 0);
    assert_fails("counter_gap", &c, "counter_mismatch");
    // SEQ_END's counter is not BEGIN's + 1.
    let mut c = good();
    let j = find(&c, M_CLIENT, OP_SEQ_END, 0);
    c[j] = marker(M_CLIENT, M_SERVER, OP_SEQ_END, FLAG_SEQ_EOR, 2, 5);
    assert_fails("end_counter", &c, "counter_mismatch");
    // The first record does not start at 0.
    let mut c = good();
    let i = find(&c, M_CLIENT, OP_SEQ_BEGIN, 0);
    c[i] = marker(M_CLIENT, M_SERVER, OP_SEQ_BEGIN, 0, 1, 5);
    assert_fails("first_counter", &c, "counter_mismatch");
}

#[test]
fn length_mismatch_fails() {
    let mut c = good();
    let j = find(&c, M_CLIENT, OP_SEQ_END, 2);
    c[j] = marker(M_CLIENT, M_SERVER, OP_SEQ_END, 0, 5, 9_999);
    assert_fails("length_mismatch", &c, "length_mismatch");
    // A lost RW packet: fewer bytes than announced.
    let mut c = good();
    let i = find(&c, M_SERVER, OP_RW, 2);
    c.remove(i);
    assert_fails("lost_rw", &c, "underrun");
    // More bytes than announced.
    let mut c = good();
    let i = find(&c, M_SERVER, OP_RW, 0);
    c[i] = frame(M_SERVER, M_CLIENT, OP_RW, 0, b"hello!");
    assert_fails("overrun", &c, "overrun");
}

#[test]
fn marker_on_fallback_port_fails() {
    let mut c = good();
    let i = find(&c, F_SERVER, OP_RW, 0);
    c.insert(i, marker(F_SERVER, F_CLIENT, OP_SEQ_BEGIN, 0, 0, 5));
    assert_fails(
        "fallback_marker",
        &c,
        "a marker on the fallback connection (port 5001)",
    );
}

#[test]
fn other_bad_captures_fail() {
    // The listener did not echo the flag: the marker connection fell back.
    let mut c = good();
    c[1] = frame(M_SERVER, M_CLIENT, OP_RESPONSE, 0, &[]);
    assert_fails(
        "not_negotiated",
        &c,
        "without VIRTIO_VSOCK_REQUEST_SEQ_MARKERS",
    );
    // Data outside a record.
    let mut c = good();
    c.insert(2, frame(M_CLIENT, M_SERVER, OP_RW, 0, b"stray"));
    assert_fails("data_outside", &c, "data_outside_record");
    // A marker payload of the wrong size.
    let mut c = good();
    c[2] = frame(M_CLIENT, M_SERVER, OP_SEQ_BEGIN, 0, &[0; 4]);
    assert_fails("bad_marker", &c, "bad_marker");
    // The fallback connection's listener accepted markers.
    let mut c = good();
    let i = find(&c, F_SERVER, OP_RESPONSE, 0);
    c[i] = frame(F_SERVER, F_CLIENT, OP_RESPONSE, FLAG_SEQ_MARKERS, &[]);
    assert_fails("fallback_accepts", &c, "RESPONSE accepts markers");
    // The capture ends inside a record.
    let mut c = good();
    let j = find(&c, M_SERVER, OP_SEQ_END, 2);
    c.truncate(j);
    assert_fails("no_end", &c, "has no SEQ_END");
    // Records one way only.
    let c: Vec<_> = good()
        .into_iter()
        .filter(|f| {
            let h = PacketHdr::decode(&f[MON_HDR_LEN..MON_HDR_LEN + 44]).unwrap();
            !(h.src_port == MARKER_PORT && [OP_SEQ_BEGIN, OP_SEQ_END, OP_RW].contains(&h.op))
        })
        .collect();
    assert_fails("one_way", &c, "records both ways");
    // The peer shuts down with a record open.
    let mut c = good();
    let i = find(&c, M_CLIENT, OP_SEQ_END, 0);
    c.insert(i, frame(M_CLIENT, M_SERVER, OP_SHUTDOWN, 3, &[]));
    assert_fails("shutdown_inside", &c, "shutdown_inside_record");
}

#[test]
fn unreadable_captures_exit_2() {
    let (code, text) = run_path(&write("ethernet", &good(), DataLink::ETHERNET));
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("not VSOCK"), "{text}");
    let mut c = good();
    c[3].pop();
    let (code, text) = run("truncated", &c);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("frame 4: bad virtio-vsock packet"), "{text}");
}
