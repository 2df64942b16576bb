//! Shared simulation for the integration tests and the fuzz targets: a sender that frames
//! records with `TxFramer`, a lossy/duplicating/reordering "link", and a receiver that decodes
//! the wire bytes and feeds the `Reassembler`.
//!
//! Definition of a *wrong* delivery used by the fault properties: the receiver reports a
//! `Complete` whose `(len, eor)` differs from the record the sender sent at that index, or more
//! `Complete`s than records were sent. A fault is *detected* when the receiver reports a
//! `Violation`, or when the stream ends inside an open record (the record is never delivered;
//! the connection's shutdown drops it). The safety property is: every `Complete` reported before
//! the first violation is right, and the fault is detected.

#![allow(dead_code)]

use vsock_seqpacket_core::{
    classify, FrameStep, PacketHdr, Reassembler, RxOutcome, SeqHdr, TxFramer, Violation,
    FLAG_SEQ_EOR, HDR_LEN, MAX_PKT_BUF_SIZE, OP_RW, OP_SEQ_BEGIN, OP_SEQ_END, TYPE_SEQPACKET,
};

/// Zero bytes used as the payload of simulated RW packets.
static ZEROS: [u8; MAX_PKT_BUF_SIZE as usize] = [0; MAX_PKT_BUF_SIZE as usize];

/// One record as the application sent it: length and MSG_EOR.
pub type Record = (u32, bool);

/// One packet on the simulated link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pkt {
    /// SEQ_BEGIN with its payload.
    Begin(SeqHdr),
    /// RW with this many payload bytes.
    Data(u32),
    /// SEQ_END with its payload and EOR flag.
    End(SeqHdr, bool),
}

impl Pkt {
    /// Whether the packet is a SEQ_BEGIN or SEQ_END marker.
    pub fn is_marker(&self) -> bool {
        !matches!(self, Pkt::Data(_))
    }

    /// The packet's wire header.
    pub fn hdr(&self) -> PacketHdr {
        let (op, len, flags) = match *self {
            Pkt::Begin(_) => (OP_SEQ_BEGIN, 8, 0),
            Pkt::Data(n) => (OP_RW, n, 0),
            Pkt::End(_, eor) => (OP_SEQ_END, 8, if eor { FLAG_SEQ_EOR } else { 0 }),
        };
        PacketHdr {
            src_cid: 3,
            dst_cid: 2,
            src_port: 1234,
            dst_port: 5678,
            len,
            type_: TYPE_SEQPACKET,
            op,
            flags,
            buf_alloc: 256 * 1024,
            fwd_cnt: 0,
        }
    }
}

/// Frames `records` with a framer starting at `first_cnt`; each `next_frame` call takes the
/// next `(credit, max_pkt)` pair from `chunks`, cycling. Returns the packets in send order.
pub fn frame(first_cnt: u32, records: &[Record], chunks: &[(u32, u32)]) -> Vec<Pkt> {
    assert!(
        chunks.iter().any(|&(c, _)| c > 0),
        "chunks must grant some credit"
    );
    let mut tx = TxFramer::new(first_cnt);
    let mut out = Vec::new();
    let mut k = 0usize;
    for &(len, eor) in records {
        out.push(Pkt::Begin(tx.begin(len, eor).expect("no record open")));
        loop {
            let (credit, max_pkt) = chunks[k % chunks.len()];
            k += 1;
            match tx.next_frame(credit, max_pkt) {
                FrameStep::Data(n) => {
                    assert!(n > 0 && n <= credit && n <= max_pkt.clamp(1, MAX_PKT_BUF_SIZE));
                    out.push(Pkt::Data(n));
                }
                FrameStep::NeedCredit => assert_eq!(credit, 0),
                FrameStep::End(hdr, e) => {
                    out.push(Pkt::End(hdr, e));
                    break;
                }
                FrameStep::Idle => panic!("framer idle inside a record"),
            }
        }
        assert!(!tx.is_open());
    }
    out
}

/// What the receiver made of a packet stream.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Feed {
    /// Records reported complete before the first violation.
    pub completes: Vec<Record>,
    /// The first violation and the index of the packet that caused it.
    pub violation: Option<(usize, Violation)>,
    /// Whether a record was still open after the last packet.
    pub open_at_end: bool,
}

/// Sends each packet through the wire codec and the reassembler, stopping at the first
/// violation (after checking that the reassembler stays poisoned).
pub fn feed(first_cnt: u32, pkts: &[Pkt], rx_buf_size: u32) -> Feed {
    let mut rx = Reassembler::new(first_cnt);
    let mut res = Feed::default();
    for (i, pkt) in pkts.iter().enumerate() {
        let hdr_bytes = pkt.hdr().encode();
        assert_eq!(hdr_bytes.len(), HDR_LEN);
        let hdr = PacketHdr::decode(&hdr_bytes).expect("header decodes");
        let marker;
        let payload: &[u8] = match *pkt {
            Pkt::Begin(h) | Pkt::End(h, _) => {
                marker = h.encode();
                &marker
            }
            Pkt::Data(n) => &ZEROS[..n as usize],
        };
        assert_eq!(payload.len(), hdr.len as usize);
        let ev = classify(hdr.op, hdr.flags, payload).expect("classify accepts framer output");
        let before = rx.pending();
        match rx.on_event(ev, rx_buf_size) {
            Ok(RxOutcome::Opened) => assert_eq!(rx.pending(), 0),
            Ok(RxOutcome::Queued) => assert!(rx.pending() >= before),
            Ok(RxOutcome::Complete { len, eor }) => {
                assert!(!rx.is_open());
                res.completes.push((len, eor));
            }
            Err(v) => {
                assert_ne!(v, Violation::Poisoned);
                assert!(!rx.is_open(), "a violation drops the open record");
                assert_eq!(rx.violation(), Some(v));
                assert_eq!(rx.on_event(ev, rx_buf_size), Err(Violation::Poisoned));
                res.violation = Some((i, v));
                return res;
            }
        }
    }
    res.open_at_end = rx.is_open();
    res
}

/// A single fault applied to a packet stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Packet `i` is lost.
    Drop(usize),
    /// Packet `i` arrives a second time, inserted before the packet at index `at` (> i) of the
    /// original stream, or at the end if `at` is the stream's length.
    Dup(usize, usize),
    /// Packet `i` is taken out and re-inserted so that it lands at index `to` of the result.
    Move(usize, usize),
}

impl Fault {
    /// Returns the faulty stream.
    pub fn apply(self, pkts: &[Pkt]) -> Vec<Pkt> {
        let mut v = pkts.to_vec();
        match self {
            Fault::Drop(i) => {
                v.remove(i);
            }
            Fault::Dup(i, at) => v.insert(at, pkts[i]),
            Fault::Move(i, to) => {
                let p = v.remove(i);
                v.insert(to, p);
            }
        }
        v
    }

    /// Whether this fault is one the protocol promises to detect: every drop and duplicate,
    /// and a move that carries a packet across a marker (or a marker across any packet).
    pub fn must_be_detected(self, pkts: &[Pkt]) -> bool {
        match self {
            Fault::Drop(_) | Fault::Dup(..) => true,
            Fault::Move(i, to) => {
                let passed = if to > i {
                    &pkts[i + 1..=to]
                } else {
                    &pkts[to..i]
                };
                !passed.is_empty() && (pkts[i].is_marker() || passed.iter().any(Pkt::is_marker))
            }
        }
    }
}

/// Checks the safety property for `sent` records against what the receiver reported.
/// Returns a description of the first breach, if any.
pub fn check_safety(sent: &[Record], feed: &Feed, must_detect: bool) -> Result<(), String> {
    if feed.completes.len() > sent.len() {
        return Err(format!(
            "{} records delivered, {} sent",
            feed.completes.len(),
            sent.len()
        ));
    }
    for (i, (got, want)) in feed.completes.iter().zip(sent).enumerate() {
        if got != want {
            return Err(format!("record {i}: delivered {got:?}, sent {want:?}"));
        }
    }
    if must_detect {
        let detected =
            feed.violation.is_some() || (feed.open_at_end && feed.completes.len() < sent.len());
        if !detected {
            return Err(format!("fault not detected: {feed:?}"));
        }
    }
    Ok(())
}

/// An independent reference model of the reassembler rules (u64 arithmetic, explicit state),
/// used as a differential oracle: it must agree with `Reassembler` on every event.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Counter the next SEQ_BEGIN must carry.
    pub expected: u32,
    /// Open record: BEGIN counter, announced length, bytes received.
    pub open: Option<(u32, u64, u64)>,
    /// Whether a violation happened.
    pub dead: bool,
}

impl Model {
    /// A model whose first SEQ_BEGIN must carry `first`.
    pub fn new(first: u32) -> Self {
        Self {
            expected: first,
            ..Self::default()
        }
    }

    /// Applies an event; errors are reported as the violation's kind.
    pub fn on_event(
        &mut self,
        ev: vsock_seqpacket_core::RxEvent,
        limit: u32,
    ) -> Result<RxOutcome, vsock_seqpacket_core::ViolationKind> {
        use vsock_seqpacket_core::{RxEvent, ViolationKind as K, FLAG_SEQ_EOM};
        if self.dead {
            return Err(K::Poisoned);
        }
        let res = match (ev, self.open) {
            (RxEvent::Begin(_), Some(_)) => Err(K::BeginInsideRecord),
            (RxEvent::Begin(h), None) if h.msg_cnt != self.expected => Err(K::CounterMismatch),
            (RxEvent::Begin(h), None) if h.msg_len > limit => Err(K::TooLarge),
            (RxEvent::Begin(h), None) => {
                self.open = Some((h.msg_cnt, u64::from(h.msg_len), 0));
                self.expected = h.msg_cnt.wrapping_add(1);
                Ok(RxOutcome::Opened)
            }
            (RxEvent::Data { .. }, None) => Err(K::DataOutsideRecord),
            (RxEvent::Data { flags, .. }, Some(_)) if flags & FLAG_SEQ_EOM != 0 => {
                Err(K::EomOnData)
            }
            (RxEvent::Data { len, .. }, Some((c, l, got))) => {
                if got + u64::from(len) > l {
                    Err(K::Overrun)
                } else {
                    self.open = Some((c, l, got + u64::from(len)));
                    Ok(RxOutcome::Queued)
                }
            }
            (RxEvent::End { .. }, None) => Err(K::EndWithoutBegin),
            (RxEvent::End { hdr, flags }, Some((c, l, got))) => {
                if hdr.msg_cnt != c.wrapping_add(1) {
                    Err(K::CounterMismatch)
                } else if u64::from(hdr.msg_len) != l {
                    Err(K::LengthMismatch)
                } else if got != l {
                    Err(K::Underrun)
                } else {
                    self.open = None;
                    self.expected = hdr.msg_cnt.wrapping_add(1);
                    Ok(RxOutcome::Complete {
                        len: hdr.msg_len,
                        eor: flags & FLAG_SEQ_EOR != 0,
                    })
                }
            }
        };
        if res.is_err() {
            self.dead = true;
            self.open = None;
        }
        res
    }

    /// Bytes of the open record received so far.
    pub fn pending(&self) -> u32 {
        self.open.map_or(0, |(_, _, got)| got as u32)
    }
}
