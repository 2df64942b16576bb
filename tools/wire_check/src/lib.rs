//! Checks a vsockmon capture for the SEQ_BEGIN/SEQ_END framing.
//!
//! Every record stream is fed to the protocol core the module runs (`src/proto`, through the
//! `vsock-seqpacket-core` crate): each packet becomes the event the module's receive hook
//! builds ([`event`]) and goes to the core's [`Reassembler`], so this checker judges the wire
//! exactly as the receiving module would. What the transport parses in C before the module
//! sees a packet is decoded here: the packet header ([`hdr`], the repository's one copy of it)
//! and the monitor's own header in front of each frame, `struct af_vsockmon_hdr`
//! (`include/uapi/linux/vsockmon.h`).
//!
//! What [`check`] asserts, for a capture of one marker connection and one fallback one:
//!
//! - the marker connection negotiated markers: its REQUEST and RESPONSE carry
//!   `VIRTIO_VSOCK_REQUEST_SEQ_MARKERS`;
//! - in each direction every record is `SEQ_BEGIN{cnt, N}`, RW packets of N bytes in all,
//!   `SEQ_END{cnt + 1, N}`, the first record at counter 0 and the next one at `cnt + 2`
//!   (the core's reassembler: any violation it reports is a mismatch), no record is left
//!   open, and both directions carried records;
//! - the fallback connection carries no marker at all, its RESPONSE does not accept markers,
//!   and its records travel in upstream's EOM framing (RW packets, some with EOM).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;

use pcap_file::pcap::PcapReader;
use pcap_file::DataLink;
use vsock_seqpacket_core::{classify, Reassembler, RxEvent, RxOutcome, Violation};

pub mod hdr;

use hdr::{
    Op, PacketHdr, SeqHdr, FLAG_SEQ_EOM, FLAG_SHUTDOWN_SEND, HDR_LEN, OP_RW, OP_SEQ_BEGIN,
    OP_SEQ_END, SEQ_HDR_LEN, TYPE_SEQPACKET,
};

/// The event the module's receive hook hands the core for a packet of a marker connection
/// with this op, flags and payload, as the transport passes it on: RW as data of its length,
/// SEQ_BEGIN/SEQ_END with a payload of exactly one marker header through [`classify`], with
/// any other payload a [`Violation::BadMarker`]. `None` for the ops that carry no record data.
pub fn event(op: u16, flags: u32, payload: &[u8]) -> Option<Result<RxEvent, Violation>> {
    if op == OP_RW {
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        return Some(Ok(RxEvent::Data { len, flags }));
    }
    match <&[u8; SEQ_HDR_LEN]>::try_from(payload) {
        Ok(marker) => classify(op, flags, marker).map(Ok),
        Err(_) if matches!(op, OP_SEQ_BEGIN | OP_SEQ_END) => Some(Err(Violation::BadMarker)),
        Err(_) => None,
    }
}

/// Size of `struct af_vsockmon_hdr`, the monitor's header in front of every captured frame.
pub const MON_HDR_LEN: usize = 32;

/// `AF_VSOCK_TRANSPORT_VIRTIO`: the monitor header is followed by a `virtio_vsock_hdr`.
pub const MON_TRANSPORT_VIRTIO: u16 = 2;

/// Byte offsets in `struct af_vsockmon_hdr` of `transport` and `len` (both `__le16`).
const MON_TRANSPORT_AT: usize = 26;
const MON_LEN_AT: usize = 28;

/// One end of a vsock connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    /// Context id.
    pub cid: u64,
    /// Port.
    pub port: u32,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.cid, self.port)
    }
}

/// One captured virtio-vsock packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Frame number in the capture, from 1 (as Wireshark counts).
    pub frame: usize,
    /// The packet header, decoded by the core.
    pub hdr: PacketHdr,
    /// The packet's payload (`hdr.len` bytes).
    pub payload: Vec<u8>,
}

impl Packet {
    /// The sending end.
    pub fn src(&self) -> Endpoint {
        Endpoint {
            cid: self.hdr.src_cid,
            port: self.hdr.src_port,
        }
    }

    /// The receiving end.
    pub fn dst(&self) -> Endpoint {
        Endpoint {
            cid: self.hdr.dst_cid,
            port: self.hdr.dst_port,
        }
    }

    /// Says where the packet is, for messages: `frame 12, 3:1025 -> 2:5000 SeqBegin`.
    fn at(&self) -> String {
        let op = match Op::from_u16(self.hdr.op) {
            Ok(op) => format!("{op:?}"),
            Err(_) => format!("op {}", self.hdr.op),
        };
        format!(
            "frame {}, {} -> {} {op}",
            self.frame,
            self.src(),
            self.dst()
        )
    }
}

/// Reads every frame of a pcap capture of link type VSOCK (a vsockmon device).
pub fn read_capture<R: Read>(reader: R) -> Result<Vec<Packet>, String> {
    let mut pcap = PcapReader::new(reader).map_err(|e| format!("not a pcap capture: {e}"))?;
    let datalink = pcap.header().datalink;
    if datalink != DataLink::VSOCK {
        return Err(format!(
            "link type {datalink:?}, not VSOCK: capture a vsockmon device"
        ));
    }
    let mut packets = Vec::new();
    while let Some(frame) = pcap.next_packet() {
        let frame_no = packets.len() + 1;
        let frame = frame.map_err(|e| format!("frame {frame_no}: {e}"))?;
        packets.push(decode_frame(frame_no, &frame.data)?);
    }
    Ok(packets)
}

/// Decodes one vsockmon frame: the monitor header, then a whole virtio-vsock packet.
pub fn decode_frame(frame: usize, data: &[u8]) -> Result<Packet, String> {
    let Some(mon) = data.get(..MON_HDR_LEN) else {
        return Err(format!(
            "frame {frame}: {} bytes, shorter than the {MON_HDR_LEN}-byte monitor header",
            data.len()
        ));
    };
    let le16 = |at: usize| u16::from_le_bytes([mon[at], mon[at + 1]]);
    let (transport, hdr_len) = (le16(MON_TRANSPORT_AT), le16(MON_LEN_AT));
    if transport != MON_TRANSPORT_VIRTIO {
        return Err(format!(
            "frame {frame}: monitor transport {transport}, not virtio ({MON_TRANSPORT_VIRTIO})"
        ));
    }
    if usize::from(hdr_len) != HDR_LEN {
        return Err(format!(
            "frame {frame}: monitor says a {hdr_len}-byte transport header, not {HDR_LEN}"
        ));
    }
    let (hdr, payload) = PacketHdr::decode_packet(&data[MON_HDR_LEN..])
        .map_err(|e| format!("frame {frame}: bad virtio-vsock packet: {e:?}"))?;
    Ok(Packet {
        frame,
        hdr,
        payload: payload.to_vec(),
    })
}

/// The ports that tell the capture's two connections apart (their listeners' ports).
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// Port of the connection that must use SEQ_BEGIN/SEQ_END.
    pub marker: u32,
    /// Port of the connection that must fall back to EOM framing.
    pub fallback: u32,
}

/// What one direction of a connection carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirSummary {
    /// Whole records.
    pub records: u32,
    /// Their bytes.
    pub bytes: u64,
    /// Records that carried `MSG_EOR`.
    pub eor: u32,
}

/// What the capture held, once every check passed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// Packets in the capture.
    pub packets: usize,
    /// Records of marker connections, per direction (sender, receiver).
    pub marker: BTreeMap<(Endpoint, Endpoint), DirSummary>,
    /// Records of fallback connections (RW packets with EOM), per direction.
    pub fallback: BTreeMap<(Endpoint, Endpoint), DirSummary>,
    /// Packets of neither connection.
    pub other: usize,
}

/// One direction of a marker connection, as its receiver's reassembler sees it.
struct Direction {
    rx: Reassembler,
    begin: Option<(SeqHdr, usize)>,
    rw_packets: u32,
    summary: DirSummary,
}

impl Direction {
    fn new() -> Self {
        Self {
            rx: Reassembler::new(0),
            begin: None,
            rw_packets: 0,
            summary: DirSummary::default(),
        }
    }
}

/// Checks `packets` (see the crate's documentation); `log` gets a line for everything seen.
/// Fails with a message naming the first packet that does not match.
pub fn check(
    packets: &[Packet],
    ports: Ports,
    log: &mut dyn FnMut(&str),
) -> Result<Summary, String> {
    let mut summary = Summary {
        packets: packets.len(),
        ..Summary::default()
    };
    log(&format!("{} packets captured", packets.len()));
    check_marker(packets, ports.marker, &mut summary, log)?;
    check_fallback(packets, ports.fallback, &mut summary, log)?;
    summary.other = packets
        .iter()
        .filter(|p| !on_port(p, ports.marker) && !on_port(p, ports.fallback))
        .count();
    Ok(summary)
}

fn on_port(p: &Packet, port: u32) -> bool {
    p.hdr.src_port == port || p.hdr.dst_port == port
}

fn check_marker(
    packets: &[Packet],
    port: u32,
    summary: &mut Summary,
    log: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let mut dirs: BTreeMap<(Endpoint, Endpoint), Direction> = BTreeMap::new();
    // The buffer each end last advertised: the limit its reassembler applies.
    let mut buf_alloc: BTreeMap<Endpoint, u32> = BTreeMap::new();
    let (mut requests, mut responses) = (0, 0);
    for p in packets.iter().filter(|p| on_port(p, port)) {
        let at = p.at();
        if p.hdr.type_ != TYPE_SEQPACKET {
            return Err(format!(
                "{at}: type {} on the marker connection, not SOCK_SEQPACKET",
                p.hdr.type_
            ));
        }
        buf_alloc.insert(p.src(), p.hdr.buf_alloc);
        let op = Op::from_u16(p.hdr.op).map_err(|_| format!("{at}: unknown operation"))?;
        match op {
            Op::Request | Op::Response => {
                if !p.hdr.offers_markers() {
                    return Err(format!(
                        "{at}: flags {:#x} without VIRTIO_VSOCK_REQUEST_SEQ_MARKERS: the marker \
                         connection did not negotiate markers",
                        p.hdr.flags
                    ));
                }
                if op == Op::Request {
                    requests += 1;
                } else {
                    responses += 1;
                }
                log(&format!(
                    "marker connection: {at} flags {:#x}: markers offered",
                    p.hdr.flags
                ));
            }
            Op::Rw | Op::SeqBegin | Op::SeqEnd => {
                let limit = buf_alloc.get(&p.dst()).copied().unwrap_or(u32::MAX);
                let dir = dirs
                    .entry((p.src(), p.dst()))
                    .or_insert_with(Direction::new);
                let outcome = event(p.hdr.op, p.hdr.flags, &p.payload)
                    .expect("RW, SEQ_BEGIN and SEQ_END carry record data")
                    .and_then(|ev| dir.rx.on_event(ev, limit).map(|o| (ev, o)));
                match outcome {
                    Err(v) => {
                        return Err(format!(
                            "{at}: protocol violation {}: {} ({v:?})",
                            v.kind().name(),
                            v.describe()
                        ))
                    }
                    Ok((RxEvent::Begin(hdr), _)) => {
                        dir.begin = Some((hdr, p.frame));
                        dir.rw_packets = 0;
                    }
                    Ok((RxEvent::Data { .. }, _)) => dir.rw_packets += 1,
                    Ok((RxEvent::End { hdr, .. }, RxOutcome::Complete { len, eor })) => {
                        let begin = dir.begin.take().map(|(b, _)| b).unwrap_or_default();
                        dir.summary.records += 1;
                        dir.summary.bytes += u64::from(len);
                        dir.summary.eor += u32::from(eor);
                        log(&format!(
                            "{} -> {} record {}: SEQ_BEGIN{{{}, {}}} RW x{} ({len} bytes) \
                             SEQ_END{{{}, {}}}{} ok",
                            p.src(),
                            p.dst(),
                            dir.summary.records,
                            begin.msg_cnt,
                            begin.msg_len,
                            dir.rw_packets,
                            hdr.msg_cnt,
                            hdr.msg_len,
                            if eor { " EOR" } else { "" }
                        ));
                    }
                    Ok((RxEvent::End { .. }, other)) => {
                        return Err(format!("{at}: SEQ_END accepted as {other:?}"))
                    }
                }
            }
            Op::Shutdown if p.hdr.flags & FLAG_SHUTDOWN_SEND != 0 => {
                if let Some(dir) = dirs.get_mut(&(p.src(), p.dst())) {
                    dir.rx.on_shutdown().map_err(|v| {
                        format!(
                            "{at}: protocol violation {}: {}",
                            v.kind().name(),
                            v.describe()
                        )
                    })?;
                }
            }
            Op::Rst => {
                if let Some(dir) = dirs.get(&(p.src(), p.dst())) {
                    if let Some((b, frame)) = dir.begin.filter(|_| dir.rx.is_open()) {
                        return Err(format!(
                            "{at}: reset cuts the record of {} bytes opened in frame {frame}",
                            b.msg_len
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if requests == 0 || responses == 0 {
        return Err(format!(
            "marker connection (port {port}): {requests} REQUEST and {responses} RESPONSE \
             captured; the negotiation must be in the capture"
        ));
    }
    for ((src, dst), dir) in &dirs {
        if let Some((b, frame)) = dir.begin.filter(|_| dir.rx.is_open()) {
            return Err(format!(
                "{src} -> {dst}: the record of {} bytes opened in frame {frame} has no SEQ_END",
                b.msg_len
            ));
        }
        summary.marker.insert((*src, *dst), dir.summary);
    }
    if summary.marker.len() < 2 || summary.marker.values().any(|d| d.records == 0) {
        return Err(format!(
            "marker connection (port {port}): records in {} direction(s); the capture must \
             hold records both ways",
            summary.marker.values().filter(|d| d.records > 0).count()
        ));
    }
    Ok(())
}

fn check_fallback(
    packets: &[Packet],
    port: u32,
    summary: &mut Summary,
    log: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let mut rw = 0;
    for p in packets.iter().filter(|p| on_port(p, port)) {
        let at = p.at();
        match Op::from_u16(p.hdr.op) {
            Ok(Op::SeqBegin | Op::SeqEnd) => {
                return Err(format!(
                    "{at}: a marker on the fallback connection (port {port})"
                ))
            }
            Ok(Op::Response) if p.hdr.offers_markers() => {
                return Err(format!(
                    "{at}: the fallback connection's RESPONSE accepts markers (flags {:#x})",
                    p.hdr.flags
                ))
            }
            Ok(Op::Request | Op::Response) => log(&format!(
                "fallback connection: {at} flags {:#x}: {}",
                p.hdr.flags,
                if p.hdr.offers_markers() {
                    "markers offered"
                } else {
                    "no markers"
                }
            )),
            Ok(Op::Rw) => {
                rw += 1;
                let dir = summary.fallback.entry((p.src(), p.dst())).or_default();
                dir.bytes += p.payload.len() as u64;
                if p.hdr.flags & FLAG_SEQ_EOM != 0 {
                    dir.records += 1;
                }
            }
            Ok(_) => {}
            Err(_) => return Err(format!("{at}: unknown operation")),
        }
    }
    let eom: u32 = summary.fallback.values().map(|d| d.records).sum();
    log(&format!(
        "fallback connection (port {port}): {rw} RW packets, {eom} with EOM, no marker"
    ));
    if rw == 0 || eom == 0 {
        return Err(format!(
            "fallback connection (port {port}): {rw} RW packets, {eom} with EOM: it must carry \
             records in upstream's EOM framing"
        ));
    }
    Ok(())
}
