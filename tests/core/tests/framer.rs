//! Sender framer: the record plan, its commit, and a plan that never went out.

mod common;

use common::MAX_PKT;
use vsock_seqpacket_core::*;

fn hdr(msg_cnt: u32, msg_len: u32) -> SeqHdr {
    SeqHdr { msg_cnt, msg_len }
}

#[test]
fn plan_carries_counter_length_and_eor() {
    let tx = TxFramer::new(7);
    assert_eq!(
        tx.plan(10, true),
        RecordPlan {
            begin: hdr(7, 10),
            end: hdr(8, 10),
            eor: true
        }
    );
    assert_eq!(
        tx.plan(0, false),
        RecordPlan {
            begin: hdr(7, 0),
            end: hdr(8, 0),
            eor: false
        }
    );
}

#[test]
fn commit_moves_to_the_next_record() {
    let mut tx = TxFramer::new(0);
    for k in 0..4u32 {
        let plan = tx.plan(k, k % 2 == 0);
        assert_eq!((plan.begin, plan.end), (hdr(2 * k, k), hdr(2 * k + 1, k)));
        tx.commit(&plan);
    }
    assert_eq!(tx, TxFramer::new(8));
}

#[test]
fn a_planned_record_changes_nothing_until_committed() {
    let mut tx = TxFramer::new(u32::MAX - 1);
    let plan = tx.plan(7, true);
    assert_eq!(tx, TxFramer::new(u32::MAX - 1));
    assert_eq!(plan.begin, hdr(u32::MAX - 1, 7));
    assert_eq!(plan.end, hdr(u32::MAX, 7));
    assert!(plan.eor);
    // Not sent: planning again (the same record or another) gives the same counters.
    assert_eq!(tx.plan(7, true), plan);
    assert_eq!(tx.plan(9, false).begin, hdr(u32::MAX - 1, 9));
    tx.commit(&plan);
    assert_eq!(tx, TxFramer::new(0), "the counter wraps past 2^32");
    let next = tx.plan(0, false);
    assert_eq!(next.begin.msg_cnt, 0);
    assert_eq!(next.end.msg_cnt, 1);
}

#[test]
fn counter_wraps_inside_a_record() {
    let mut tx = TxFramer::new(u32::MAX);
    let plan = tx.plan(1, false);
    assert_eq!((plan.begin, plan.end), (hdr(u32::MAX, 1), hdr(0, 1)));
    tx.commit(&plan);
    assert_eq!(tx, TxFramer::new(1));
}

#[test]
fn maximum_record_length() {
    let plan = TxFramer::new(0).plan(u32::MAX, false);
    assert_eq!((plan.begin, plan.end), (hdr(0, u32::MAX), hdr(1, u32::MAX)));
}

/// The module's self-check at load time, and records larger than one RW packet split as C
/// splits them.
#[test]
fn planned_records_reassemble() {
    let mut tx = TxFramer::new(5);
    let mut rx = Reassembler::new(5);
    for (len, eor) in [(3u32, true), (0, false), (2 * MAX_PKT + 1, true)] {
        let plan = tx.plan(len, eor);
        let begin = classify(OP_SEQ_BEGIN, 0, &plan.begin.encode()).expect("marker");
        assert_eq!(rx.on_event(begin, 1 << 20), Ok(RxOutcome::Opened));
        let mut rest = len;
        while rest > 0 {
            let n = rest.min(MAX_PKT);
            assert_eq!(
                rx.on_event(RxEvent::Data { len: n, flags: 0 }, 1 << 20),
                Ok(RxOutcome::Queued)
            );
            rest -= n;
        }
        let flags = if plan.eor { FLAG_SEQ_EOR } else { 0 };
        let end = classify(OP_SEQ_END, flags, &plan.end.encode()).expect("marker");
        assert_eq!(
            rx.on_event(end, 1 << 20),
            Ok(RxOutcome::Complete { len, eor })
        );
        tx.commit(&plan);
    }
}
