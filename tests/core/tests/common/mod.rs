//! Shared simulation for the integration tests and the fuzz targets, built from what ships: a
//! sender that frames each record the way the module and the transport do (`TxFramer::plan`,
//! SEQ_BEGIN, the bytes split into RW packets as C splits them, SEQ_END, `TxFramer::commit`),
//! a lossy/duplicating/reordering "link", and a receiver that turns each packet into the event
//! the module's receive hook builds (marker header bytes through `classify`, RW as data) and
//! feeds the `Reassembler`.
//!
//! Definition of a *wrong* delivery used by the fault properties: the receiver reports a
//! `Complete` whose `(len, eor)` differs from the record the sender sent at that index, or more
//! `Complete`s than records were sent. A fault is *detected* when the receiver reports a
//! `Violation`, or when the stream ends inside an open record (the record is never delivered;
//! the connection's shutdown drops it). The safety property is: every `Complete` reported before
//! the first violation is right, and the fault is detected.

#![allow(dead_code)]

use vsock_seqpacket_core::{
    classify, Reassembler, RxEvent, RxOutcome, SeqHdr, TxFramer, Violation, ViolationKind,
    FLAG_SEQ_EOM, FLAG_SEQ_EOR, OP_SEQ_BEGIN, OP_SEQ_END,
};

/// `VIRTIO_VSOCK_MAX_PKT_BUF_SIZE`: the transport (C) sends a record's bytes as RW packets of
/// this size, the last one shorter (`min(rest, max_skb_len)` in
/// `virtio_transport_seq_send_record`). The core never sees it: the harness splits like C.
pub const MAX_PKT: u32 = 64 * 1024;

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

    /// The event the module's receive hook hands the reassembler for this packet: the marker
    /// header goes to the wire bytes and back through `classify`, as the transport passes it.
    pub fn event(&self) -> RxEvent {
        let (op, flags, hdr) = match *self {
            Pkt::Data(len) => return RxEvent::Data { len, flags: 0 },
            Pkt::Begin(h) => (OP_SEQ_BEGIN, 0, h),
            Pkt::End(h, eor) => (OP_SEQ_END, if eor { FLAG_SEQ_EOR } else { 0 }, h),
        };
        classify(op, flags, &hdr.encode()).expect("a marker op")
    }
}

/// Frames `records` with a framer starting at `first_cnt`, splitting each record's bytes into
/// RW packets of `pkt` bytes (the last one shorter): `MAX_PKT` is what C sends. Returns the
/// packets in send order.
pub fn frame(first_cnt: u32, records: &[Record], pkt: u32) -> Vec<Pkt> {
    frame_retrying(first_cnt, records, pkt, &[])
}

/// Like [`frame`], but the first attempt to send record `k` fails (the transport could not
/// build its packets, so nothing of it went out and it was not committed) when
/// `failed[k % failed.len()]`; the socket layer then sends it again.
pub fn frame_retrying(first_cnt: u32, records: &[Record], pkt: u32, failed: &[bool]) -> Vec<Pkt> {
    assert!(pkt > 0);
    let mut tx = TxFramer::new(first_cnt);
    let mut out = Vec::new();
    for (k, &(len, eor)) in records.iter().enumerate() {
        if !failed.is_empty() && failed[k % failed.len()] {
            let _lost = tx.plan(len, eor);
        }
        let plan = tx.plan(len, eor);
        assert_eq!(
            (plan.begin.msg_len, plan.end.msg_len, plan.eor),
            (len, len, eor)
        );
        out.push(Pkt::Begin(plan.begin));
        let mut rest = len;
        while rest > 0 {
            let n = rest.min(pkt);
            out.push(Pkt::Data(n));
            rest -= n;
        }
        out.push(Pkt::End(plan.end, plan.eor));
        tx.commit(&plan);
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

/// Feeds each packet's event to the reassembler, stopping at the first violation (where the
/// module resets the connection; after checking that a reassembler fed anyway keeps failing).
pub fn feed(first_cnt: u32, pkts: &[Pkt], rx_buf_size: u32) -> Feed {
    let mut rx = Reassembler::new(first_cnt);
    let mut res = Feed::default();
    for (i, pkt) in pkts.iter().enumerate() {
        let ev = pkt.event();
        match rx.on_event(ev, rx_buf_size) {
            Ok(RxOutcome::Opened) => assert!(rx.is_open()),
            Ok(RxOutcome::Queued) => assert!(rx.is_open()),
            Ok(RxOutcome::Complete { len, eor }) => {
                assert!(!rx.is_open());
                res.completes.push((len, eor));
            }
            Err(v) => {
                assert!(!rx.is_open(), "a violation drops the open record");
                assert_eq!(rx.on_event(ev, rx_buf_size), Err(v));
                assert_eq!(rx.on_shutdown(), Err(v));
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
    /// The first violation, after which every event fails with it again.
    pub dead: Option<ViolationKind>,
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
    pub fn on_event(&mut self, ev: RxEvent, limit: u32) -> Result<RxOutcome, ViolationKind> {
        use ViolationKind as K;
        if let Some(k) = self.dead {
            return Err(k);
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
        if let Err(k) = res {
            self.dead = Some(k);
            self.open = None;
        }
        res
    }

    /// Bytes of the open record received so far.
    pub fn pending(&self) -> u64 {
        self.open.map_or(0, |(_, _, got)| got)
    }
}
