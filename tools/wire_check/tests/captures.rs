//! The checker on synthetic captures: it passes a good one and fails, with exit status 1 and a
//! message naming the problem, on each kind of bad one. The captures are built from the core's
//! own encoders and written as real pcap files, which the `wire_check` binary then reads.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;
use vsock_seqpacket_core::{Violation, ViolationKind};
use vsock_seqpacket_wire_check::hdr::{
    PacketHdr, SeqHdr, FLAG_SEQ_EOM, FLAG_SEQ_EOR, FLAG_SEQ_MARKERS, HDR_LEN, OP_CREDIT_UPDATE,
    OP_REQUEST, OP_RESPONSE, OP_RW, OP_SEQ_BEGIN, OP_SEQ_END, OP_SHUTDOWN, TYPE_SEQPACKET,
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
    f[28..30].copy_from_slice(&(HDR_LEN as u16).to_le_bytes());
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
            let h = PacketHdr::decode(&f[MON_HDR_LEN..MON_HDR_LEN + HDR_LEN]).unwrap();
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

/// A bad capture: what wire_check must say about it, and the violation the Wireshark plugin
/// must flag first (`None` where only the whole capture shows the problem).
struct Case {
    name: &'static str,
    frames: Vec<Vec<u8>>,
    why: &'static str,
    dissector: Option<&'static str>,
}

fn case(
    name: &'static str,
    frames: Vec<Vec<u8>>,
    why: &'static str,
    dissector: Option<&'static str>,
) -> Case {
    Case {
        name,
        frames,
        why,
        dissector,
    }
}

/// Counter gaps: a whole record missing, SEQ_END's counter not BEGIN's + 1, a first record
/// that does not start at 0.
fn counter_cases() -> Vec<Case> {
    let mut gap = good();
    let i = find(&gap, M_SERVER, OP_SEQ_BEGIN, 1);
    gap[i] = marker(M_SERVER, M_CLIENT, OP_SEQ_BEGIN, 0, 4, 0);
    let j = find(&gap, M_SERVER, OP_SEQ_END, 1);
    gap[j] = marker(M_SERVER, M_CLIENT, OP_SEQ_END, FLAG_SEQ_EOR, 5, 0);
    let mut end = good();
    let j = find(&end, M_CLIENT, OP_SEQ_END, 0);
    end[j] = marker(M_CLIENT, M_SERVER, OP_SEQ_END, FLAG_SEQ_EOR, 2, 5);
    let mut first = good();
    let i = find(&first, M_CLIENT, OP_SEQ_BEGIN, 0);
    first[i] = marker(M_CLIENT, M_SERVER, OP_SEQ_BEGIN, 0, 1, 5);
    let cm = Some("counter_mismatch");
    vec![
        case("counter_gap", gap, "counter_mismatch", cm),
        case("end_counter", end, "counter_mismatch", cm),
        case("first_counter", first, "counter_mismatch", cm),
    ]
}

/// Lengths: SEQ_END's msg_len differs, a lost RW packet, more bytes than announced.
fn length_cases() -> Vec<Case> {
    let mut mismatch = good();
    let j = find(&mismatch, M_CLIENT, OP_SEQ_END, 2);
    mismatch[j] = marker(M_CLIENT, M_SERVER, OP_SEQ_END, 0, 5, 9_999);
    let mut lost = good();
    let i = find(&lost, M_SERVER, OP_RW, 2);
    lost.remove(i);
    let mut over = good();
    let i = find(&over, M_SERVER, OP_RW, 0);
    over[i] = frame(M_SERVER, M_CLIENT, OP_RW, 0, b"hello!");
    vec![
        case(
            "length_mismatch",
            mismatch,
            "length_mismatch",
            Some("length_mismatch"),
        ),
        case("lost_rw", lost, "underrun", Some("underrun")),
        case("overrun", over, "overrun", Some("overrun")),
    ]
}

fn fallback_marker_case() -> Case {
    let mut c = good();
    let i = find(&c, F_SERVER, OP_RW, 0);
    c.insert(i, marker(F_SERVER, F_CLIENT, OP_SEQ_BEGIN, 0, 0, 5));
    case(
        "fallback_marker",
        c,
        "a marker on the fallback connection (port 5001)",
        Some("marker_on_fallback"),
    )
}

fn other_cases() -> Vec<Case> {
    // The listener did not echo the flag: the marker connection fell back.
    let mut not_negotiated = good();
    not_negotiated[1] = frame(M_SERVER, M_CLIENT, OP_RESPONSE, 0, &[]);
    let mut outside = good();
    outside.insert(2, frame(M_CLIENT, M_SERVER, OP_RW, 0, b"stray"));
    // A marker payload of the wrong size.
    let mut bad_marker = good();
    bad_marker[2] = frame(M_CLIENT, M_SERVER, OP_SEQ_BEGIN, 0, &[0; 4]);
    // The fallback connection's listener accepted markers, then EOM records came.
    let mut accepts = good();
    let i = find(&accepts, F_SERVER, OP_RESPONSE, 0);
    accepts[i] = frame(F_SERVER, F_CLIENT, OP_RESPONSE, FLAG_SEQ_MARKERS, &[]);
    // The capture ends inside a record.
    let mut no_end = good();
    let j = find(&no_end, M_SERVER, OP_SEQ_END, 2);
    no_end.truncate(j);
    // Records one way only.
    let one_way: Vec<_> = good()
        .into_iter()
        .filter(|f| {
            let h = PacketHdr::decode(&f[MON_HDR_LEN..MON_HDR_LEN + HDR_LEN]).unwrap();
            !(h.src_port == MARKER_PORT && [OP_SEQ_BEGIN, OP_SEQ_END, OP_RW].contains(&h.op))
        })
        .collect();
    // The peer shuts down with a record open.
    let mut shutdown = good();
    let i = find(&shutdown, M_CLIENT, OP_SEQ_END, 0);
    shutdown.insert(i, frame(M_CLIENT, M_SERVER, OP_SHUTDOWN, 3, &[]));
    // An operation the protocol does not define, inside the marker connection.
    let mut unknown = good();
    unknown.insert(3, frame(M_CLIENT, M_SERVER, 12, 0, &[]));
    vec![
        case(
            "unknown_op",
            unknown,
            "op 12: unknown operation",
            Some("unknown_op"),
        ),
        case(
            "not_negotiated",
            not_negotiated,
            "without VIRTIO_VSOCK_REQUEST_SEQ_MARKERS",
            Some("marker_on_fallback"),
        ),
        case(
            "data_outside",
            outside,
            "data_outside_record",
            Some("data_outside_record"),
        ),
        case("bad_marker", bad_marker, "bad_marker", Some("bad_marker")),
        case(
            "fallback_accepts",
            accepts,
            "RESPONSE accepts markers",
            Some("data_outside_record"),
        ),
        case("no_end", no_end, "has no SEQ_END", None),
        case("one_way", one_way, "records both ways", None),
        case(
            "shutdown_inside",
            shutdown,
            "shutdown_inside_record",
            Some("shutdown_inside_record"),
        ),
    ]
}

fn all_cases() -> Vec<Case> {
    let mut all = counter_cases();
    all.extend(length_cases());
    all.push(fallback_marker_case());
    all.extend(other_cases());
    all
}

#[test]
fn counter_gap_fails() {
    for c in counter_cases() {
        assert_fails(c.name, &c.frames, c.why);
    }
}

#[test]
fn length_mismatch_fails() {
    for c in length_cases() {
        assert_fails(c.name, &c.frames, c.why);
    }
}

#[test]
fn marker_on_fallback_port_fails() {
    let c = fallback_marker_case();
    assert_fails(c.name, &c.frames, c.why);
}

#[test]
fn other_bad_captures_fail() {
    for c in other_cases() {
        assert_fails(c.name, &c.frames, c.why);
    }
}

/// tshark with this checkout's plugin (tools/wireshark/tshark.sh) on a capture: its output
/// lines. tshark missing is a failure: scripts/deps.sh installs it.
fn tshark(path: &Path, args: &[&str]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wireshark/tshark.sh");
    let out = Command::new(&script)
        .arg("-n")
        .arg("-r")
        .arg(path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "tshark on {} failed ({}): {err}",
        path.display(),
        out.status
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The Wireshark plugin agrees: no warning and the same records on the good capture, and on
/// each bad one a warning naming the violation at the first bad frame.
#[test]
fn dissector_flags_the_same_captures() {
    let good = write("dissector_good", &good(), DataLink::VSOCK);
    let warn = ["-Y", "_ws.expert.severity >= warning", "-T", "fields"];
    let warn = [
        &warn[..],
        &["-e", "frame.number", "-e", "vsock_seq.violation"],
    ]
    .concat();
    assert_eq!(tshark(&good, &warn), Vec::<String>::new());
    let mut records = tshark(
        &good,
        &[
            "-Y",
            "vsock_seq.complete",
            "-T",
            "fields",
            "-e",
            "vsock_seq.framing",
            "-e",
            "vsock.virtio.src_prot",
            "-e",
            "vsock_seq.record",
        ],
    );
    records.sort();
    assert_eq!(
        records,
        [
            "fallback\t1026\t1",
            "fallback\t1026\t2",
            "fallback\t5001\t1",
            "fallback\t5001\t2",
            "markers\t1025\t1",
            "markers\t1025\t2",
            "markers\t1025\t3",
            "markers\t5000\t1",
            "markers\t5000\t2",
            "markers\t5000\t3",
        ]
    );
    for c in all_cases() {
        let path = write(&format!("dissector_{}", c.name), &c.frames, DataLink::VSOCK);
        let warned = tshark(&path, &warn);
        match c.dissector {
            Some(kind) => {
                let first = warned
                    .first()
                    .unwrap_or_else(|| panic!("{}: tshark warned about nothing", c.name));
                assert!(
                    first.ends_with(&format!("\t{kind}")),
                    "{}: first warning '{first}', expected {kind}",
                    c.name
                );
            }
            None => assert_eq!(warned, Vec::<String>::new(), "{}", c.name),
        }
    }
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

/// The plugin's table of the module's violation kinds is exactly the core's: every
/// `ViolationKind` by its name with its description, and nothing else.
#[test]
fn dissector_kinds_are_the_cores() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wireshark/vsock_seqpacket.lua");
    let lua = std::fs::read_to_string(&path).unwrap();
    let table = lua
        .split_once("local VIOLATIONS = {\n")
        .and_then(|(_, rest)| rest.split_once("\n}\n"))
        .map(|(table, _)| table)
        .expect("VIOLATIONS table");
    let lua_kinds: Vec<(String, String)> = table
        .lines()
        .map(|l| {
            let (name, rest) = l
                .trim()
                .split_once(" = { \"")
                .expect("name = { \"description\"");
            let desc = rest.split_once('"').expect("closing quote").0;
            (name.to_owned(), desc.to_owned())
        })
        .collect();
    let core: Vec<(String, String)> = ViolationKind::ALL
        .iter()
        .map(|k| (k.name().to_owned(), describe(*k).to_owned()))
        .collect();
    assert_eq!(lua_kinds, core);
}

/// One violation of each kind, for its description.
fn describe(kind: ViolationKind) -> &'static str {
    let (a, b) = (0, 1);
    let v = match kind {
        ViolationKind::BadMarker => Violation::BadMarker,
        ViolationKind::DataOutsideRecord => Violation::DataOutsideRecord,
        ViolationKind::BeginInsideRecord => Violation::BeginInsideRecord,
        ViolationKind::EndWithoutBegin => Violation::EndWithoutBegin,
        ViolationKind::CounterMismatch => Violation::CounterMismatch {
            expected: a,
            got: b,
        },
        ViolationKind::Overrun => Violation::Overrun {
            announced: a,
            got: b,
        },
        ViolationKind::Underrun => Violation::Underrun {
            announced: b,
            got: a,
        },
        ViolationKind::LengthMismatch => Violation::LengthMismatch {
            announced: a,
            got: b,
        },
        ViolationKind::TooLarge => Violation::TooLarge { len: b, limit: a },
        ViolationKind::EomOnData => Violation::EomOnData,
        ViolationKind::ShutdownInsideRecord => Violation::ShutdownInsideRecord,
    };
    assert_eq!(v.kind(), kind);
    v.describe()
}
