//! Fuzz target: records chosen by the fuzzer are planned and committed by `TxFramer` and split
//! into RW packets as C splits them (64 KiB, or a fuzzer-chosen smaller size another peer may
//! send), optionally hit by one fault (drop, duplicate, move), and fed through `classify` to
//! the `Reassembler`. Without a fault the records must come out
//! exactly; with one, no wrong record may be delivered and the fault must be detected when the
//! protocol promises it (see tests/common/mod.rs for the definitions).

#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use common::{check_safety, feed, frame, Fault, Record, MAX_PKT};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// Receive buffer large enough for every generated record.
const RX_BUF: u32 = 1 << 20;

struct Case {
    first: u32,
    records: Vec<Record>,
    pkt: u32,
    fault: Option<(u8, usize, usize)>,
}

fn case(u: &mut Unstructured<'_>) -> Result<Case> {
    let first = match u.int_in_range(0u8..=2)? {
        0 => u.int_in_range(0..=8)?,
        1 => u32::MAX - u.int_in_range(0..=8)?,
        _ => u.arbitrary()?,
    };
    let mut records = Vec::new();
    for _ in 0..u.int_in_range(0usize..=12)? {
        let len = match u.int_in_range(0u8..=3)? {
            0 => 0,
            1 => u.int_in_range(1..=300)?,
            2 => u.int_in_range(300..=20_000)?,
            _ => u.int_in_range(20_000..=200_000)?,
        };
        records.push((len, u.arbitrary()?));
    }
    let pkt = match u.int_in_range(0u8..=3)? {
        0 => u.int_in_range(1..=16)?,
        1 => u.int_in_range(4096..=MAX_PKT)?,
        _ => MAX_PKT,
    };
    // Small packets: at most 64 of them a record, so that a case stays fast.
    if pkt < 4096 {
        for r in &mut records {
            r.0 = r.0.min(pkt * 64);
        }
    }
    let fault = if u.arbitrary()? {
        Some((u.int_in_range(0u8..=2)?, u.arbitrary()?, u.arbitrary()?))
    } else {
        None
    };
    Ok(Case {
        first,
        records,
        pkt,
        fault,
    })
}

fuzz_target!(|input: &[u8]| {
    let mut u = Unstructured::new(input);
    let Ok(c) = case(&mut u) else { return };
    let pkts = frame(c.first, &c.records, c.pkt);
    match c.fault {
        Some((kind, a, b)) if !pkts.is_empty() => {
            let n = pkts.len();
            let i = a % n;
            let fault = match kind {
                0 => Fault::Drop(i),
                1 => Fault::Dup(i, i + 1 + b % (n - i)),
                _ => Fault::Move(i, b % n),
            };
            let f = feed(c.first, &fault.apply(&pkts), RX_BUF);
            if let Err(e) = check_safety(&c.records, &f, fault.must_be_detected(&pkts)) {
                panic!("{fault:?}: {e}");
            }
        }
        _ => {
            let f = feed(c.first, &pkts, RX_BUF);
            assert_eq!(f.violation, None);
            assert!(!f.open_at_end);
            assert_eq!(f.completes, c.records);
        }
    }
});
