//! Property tests of what the module runs: records planned and committed by `TxFramer`, split
//! into RW packets as C splits them, through `classify` to the `Reassembler`; single-fault
//! detection, counter wrapping and robustness of the reassembler against arbitrary event
//! sequences.
//!
//! See `common/mod.rs` for the exact definition of a wrong delivery and of detection.

mod common;

use common::{check_safety, feed, frame, frame_retrying, Fault, Model, Pkt, Record, MAX_PKT};
use proptest::prelude::*;
use proptest::sample::Index;
use vsock_seqpacket_core::*;

/// Receive buffer large enough for every generated record.
const RX_BUF: u32 = 1 << 20;

/// A record length for packets of `pkt` bytes: empty, small, around the packet size, or up
/// to 64 packets (so that small packets keep the packet count bounded).
fn len(pkt: u32) -> impl Strategy<Value = u32> {
    let max = pkt.saturating_mul(64).min(200_000);
    prop_oneof![
        1 => Just(0u32),
        4 => 1u32..300,
        2 => (pkt - 1)..=(pkt + 1),
        2 => 0u32..=max,
    ]
}

/// Records with their RW packet size: mostly C's split (64 KiB), sometimes smaller packets as
/// another peer may send them (the receiver takes any split).
fn framed_records(n: std::ops::Range<usize>) -> impl Strategy<Value = (u32, Vec<Record>)> {
    prop_oneof![3 => Just(MAX_PKT), 1 => 1u32..16, 1 => 16u32..MAX_PKT].prop_flat_map(move |pkt| {
        (
            Just(pkt),
            prop::collection::vec((len(pkt), any::<bool>()), n.clone()),
        )
    })
}

fn first_cnt() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), (u32::MAX - 40)..=u32::MAX, any::<u32>()]
}

fn fault(kind: u8, a: Index, b: Index, len: usize) -> Fault {
    let i = a.index(len);
    match kind % 3 {
        0 => Fault::Drop(i),
        1 => Fault::Dup(i, i + 1 + b.index(len - i)),
        _ => Fault::Move(i, b.index(len)),
    }
}

proptest! {
    // Case counts keep the whole `cargo test` of this package well under 60 s on 2 cores.
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Any sequence of records, some of which failed to go out at the first attempt (planned,
    /// never committed, sent again), is reassembled into exactly the same lengths, order and
    /// EOR flags.
    #[test]
    fn framed_records_roundtrip(
        first in first_cnt(),
        (pkt, records) in framed_records(0..12),
        failed in prop::collection::vec(any::<bool>(), 0..4),
    ) {
        let pkts = frame_retrying(first, &records, pkt, &failed);
        let f = feed(first, &pkts, RX_BUF);
        prop_assert_eq!(f.violation, None);
        prop_assert!(!f.open_at_end);
        prop_assert_eq!(&f.completes, &records);

        // Marker counters: BEGIN of record k carries first + 2k, END first + 2k + 1 (wrapping).
        let mut k: u32 = 0;
        for p in &pkts {
            match *p {
                Pkt::Begin(h) => {
                    prop_assert_eq!(h.msg_cnt, first.wrapping_add(k));
                    k = k.wrapping_add(1);
                }
                Pkt::End(h, _) => {
                    prop_assert_eq!(h.msg_cnt, first.wrapping_add(k));
                    k = k.wrapping_add(1);
                }
                Pkt::Data(n) => prop_assert!(n > 0 && n <= pkt),
            }
        }
        prop_assert_eq!(k as usize, 2 * records.len());
        // Every RW packet but a record's last is full.
        for w in pkts.windows(2) {
            if let [Pkt::Data(n), Pkt::Data(_)] = *w {
                prop_assert_eq!(n, pkt);
            }
        }
    }

    /// A single dropped or duplicated packet, or a packet moved across a marker, is detected,
    /// and no wrong record is ever reported complete before the violation.
    #[test]
    fn single_fault_never_delivers_a_wrong_record(
        first in first_cnt(),
        (pkt, records) in framed_records(1..8),
        kind in 0u8..3,
        a in any::<Index>(),
        b in any::<Index>(),
    ) {
        let pkts = frame(first, &records, pkt);
        let fault = fault(kind, a, b, pkts.len());
        let faulty = fault.apply(&pkts);
        let f = feed(first, &faulty, RX_BUF);
        let must_detect = fault.must_be_detected(&pkts);
        if let Err(e) = check_safety(&records, &f, must_detect) {
            return Err(TestCaseError::fail(format!("{fault:?}: {e}")));
        }
    }

    /// A record larger than the receive buffer is refused at its BEGIN, after all earlier
    /// records were delivered.
    #[test]
    fn too_large_record_is_refused(
        first in first_cnt(),
        (pkt, records) in framed_records(1..8),
        limit in 0u32..50_000,
    ) {
        let pkts = frame(first, &records, pkt);
        let f = feed(first, &pkts, limit);
        match records.iter().position(|&(len, _)| len > limit) {
            None => prop_assert_eq!(&f.completes, &records),
            Some(k) => {
                prop_assert_eq!(&f.completes[..], &records[..k]);
                let (_, v) = f.violation.expect("violation");
                prop_assert_eq!(v, Violation::TooLarge { len: records[k].0, limit });
            }
        }
    }

    /// Arbitrary event sequences never panic, agree with the reference model, report a
    /// Complete only with exactly the announced bytes, and after a violation keep failing with
    /// it (the module resets the connection at the first, but a reassembler fed anyway must
    /// never open or complete a record).
    #[test]
    fn arbitrary_events_keep_invariants(
        first in first_cnt(),
        limit in prop_oneof![Just(u32::MAX), 0u32..64],
        evs in prop::collection::vec((0u8..3, 0u32..4, 0u32..40, 0u32..4, any::<bool>()), 0..64),
    ) {
        let mut rx = Reassembler::new(first);
        let mut model = Model::new(first);
        let mut first_violation = None;
        let mut announced = 0u32;
        let mut received = 0u32;
        for (kind, dc, len, flags, big) in evs {
            // Counters near the expected one and small lengths, so that valid paths are hit too.
            let cnt = model.expected.wrapping_add(dc).wrapping_sub(1);
            let len = if big { u32::MAX - len } else { len };
            let ev = match kind {
                0 => RxEvent::Begin(SeqHdr { msg_cnt: cnt, msg_len: len }),
                1 => RxEvent::Data { len, flags },
                _ => RxEvent::End { hdr: SeqHdr { msg_cnt: cnt, msg_len: len }, flags },
            };
            let res = rx.on_event(ev, limit);
            prop_assert_eq!(res.map_err(|v| v.kind()), model.on_event(ev, limit));
            prop_assert_eq!(rx.is_open(), model.open.is_some());
            if let Some(v) = first_violation {
                prop_assert_eq!(res, Err(v));
                continue;
            }
            match res {
                Ok(RxOutcome::Opened) => {
                    announced = len;
                    received = 0;
                    prop_assert!(len <= limit);
                }
                Ok(RxOutcome::Queued) => received += len,
                Ok(RxOutcome::Complete { len: l, eor }) => {
                    prop_assert_eq!(l, announced);
                    prop_assert_eq!(received, announced);
                    prop_assert_eq!(eor, flags & FLAG_SEQ_EOR != 0);
                }
                Err(v) => {
                    prop_assert!(v.kind().index() < ViolationKind::COUNT);
                    first_violation = Some(v);
                }
            }
            if rx.is_open() {
                prop_assert_eq!(u64::from(received), model.pending());
                prop_assert!(received <= announced);
            }
        }
        if let Some(v) = first_violation {
            prop_assert_eq!(rx.on_shutdown(), Err(v));
        }
    }
}

/// Counters that wrap in the middle of a record and between records.
#[test]
fn counters_wrap_across_u32_max() {
    for first in [u32::MAX - 3, u32::MAX - 2, u32::MAX - 1, u32::MAX] {
        let records: Vec<Record> = vec![(5, true), (0, false), (140_000, true), (1, false)];
        let pkts = frame(first, &records, MAX_PKT);
        assert_eq!(pkts.len(), 2 * 4 + 1 + 3 + 1);
        let f = feed(first, &pkts, RX_BUF);
        assert_eq!(f.violation, None);
        assert_eq!(f.completes, records);
        let Pkt::End(last, _) = pkts[pkts.len() - 1] else {
            panic!("last packet is not END")
        };
        assert_eq!(last.msg_cnt, first.wrapping_add(7));
    }
}

/// The fault model itself: each kind of fault is produced and detected on a known stream.
#[test]
fn fault_model_examples() {
    let records: Vec<Record> = vec![(10, false), (0, true), (3, true)];
    let pkts = frame(0, &records, 6);
    // B0 D6 D4 E0 B1 E1 B2 D3 E2
    assert_eq!(pkts.len(), 9);
    let cases = [
        (Fault::Drop(1), Some(ViolationKind::Underrun)),
        (Fault::Drop(0), Some(ViolationKind::DataOutsideRecord)),
        (Fault::Drop(3), Some(ViolationKind::BeginInsideRecord)),
        (Fault::Drop(4), Some(ViolationKind::EndWithoutBegin)),
        (Fault::Drop(8), None), // stream ends inside record 2: never delivered
        (Fault::Dup(2, 3), Some(ViolationKind::Overrun)),
        (Fault::Dup(0, 1), Some(ViolationKind::BeginInsideRecord)),
        (Fault::Dup(3, 4), Some(ViolationKind::EndWithoutBegin)),
        (Fault::Dup(4, 9), Some(ViolationKind::CounterMismatch)),
        (Fault::Move(2, 4), Some(ViolationKind::Underrun)),
        (Fault::Move(7, 3), Some(ViolationKind::Overrun)),
        (Fault::Move(5, 3), Some(ViolationKind::CounterMismatch)),
    ];
    for (fault, want) in cases {
        assert!(fault.must_be_detected(&pkts), "{fault:?}");
        let f = feed(0, &fault.apply(&pkts), RX_BUF);
        assert_eq!(f.violation.map(|(_, v)| v.kind()), want, "{fault:?}");
        check_safety(&records, &f, true).unwrap_or_else(|e| panic!("{fault:?}: {e}"));
    }
    // Swapping two data packets of one record is not a marker crossing and goes unnoticed.
    assert!(!Fault::Move(1, 2).must_be_detected(&pkts));
    let f = feed(0, &Fault::Move(1, 2).apply(&pkts), RX_BUF);
    assert_eq!(f.completes, records);
}

/// The safety check really fails on a wrong delivery (so the fault property can fail).
#[test]
fn safety_check_rejects_wrong_deliveries() {
    let sent: Vec<Record> = vec![(4, true), (2, false)];
    let mut f = feed(0, &frame(0, &sent, 3), RX_BUF);
    assert!(check_safety(&sent, &f, false).is_ok());
    assert!(
        check_safety(&sent, &f, true).is_err(),
        "no fault is not detected"
    );
    f.completes[1] = (2, true);
    assert!(check_safety(&sent, &f, false).is_err());
    f.completes[1] = (2, false);
    f.completes.push((0, false));
    assert!(check_safety(&sent, &f, false).is_err());
}
