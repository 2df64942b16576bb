//! Sender framer: every transition and every error.

use vsock_seqpacket_core::*;

fn hdr(msg_cnt: u32, msg_len: u32) -> SeqHdr {
    SeqHdr { msg_cnt, msg_len }
}

#[test]
fn new_is_idle() {
    let mut tx = TxFramer::new(7);
    assert_eq!(tx.counter(), 7);
    assert!(!tx.is_open());
    assert_eq!(tx.remaining(), 0);
    assert_eq!(tx.next_frame(100, 100), FrameStep::Idle);
    assert_eq!(tx.counter(), 7);
}

#[test]
fn record_with_explicit_calls() {
    let mut tx = TxFramer::new(0);
    assert_eq!(tx.begin(10, true), Ok(hdr(0, 10)));
    assert!(tx.is_open());
    assert_eq!(tx.counter(), 1);
    assert_eq!(tx.remaining(), 10);
    assert_eq!(tx.data_sent(4), Ok(()));
    assert_eq!(tx.remaining(), 6);
    assert_eq!(tx.data_sent(6), Ok(()));
    assert_eq!(tx.remaining(), 0);
    assert_eq!(tx.end(), Ok((hdr(1, 10), true)));
    assert!(!tx.is_open());
    assert_eq!(tx.counter(), 2);
    assert_eq!(tx.begin(3, false), Ok(hdr(2, 3)));
    assert_eq!(tx.data_sent(3), Ok(()));
    assert_eq!(tx.end(), Ok((hdr(3, 3), false)));
    assert_eq!(tx.counter(), 4);
}

#[test]
fn zero_length_record() {
    let mut tx = TxFramer::new(0);
    assert_eq!(tx.begin(0, false), Ok(hdr(0, 0)));
    assert_eq!(tx.remaining(), 0);
    assert_eq!(tx.next_frame(0, 0), FrameStep::End(hdr(1, 0), false));
    assert!(!tx.is_open());

    assert_eq!(tx.begin(0, true), Ok(hdr(2, 0)));
    assert_eq!(tx.end(), Ok((hdr(3, 0), true)));
}

#[test]
fn begin_while_open_is_refused() {
    let mut tx = TxFramer::new(5);
    tx.begin(1, false).unwrap();
    assert_eq!(tx.begin(2, true), Err(FrameError::RecordOpen));
    assert_eq!(tx.counter(), 6);
    assert_eq!(tx.remaining(), 1);
}

#[test]
fn data_and_end_without_record() {
    let mut tx = TxFramer::new(0);
    assert_eq!(tx.data_sent(1), Err(FrameError::NotOpen));
    assert_eq!(tx.data_sent(0), Err(FrameError::NotOpen));
    assert_eq!(tx.data_unsent(0), Err(FrameError::NotOpen));
    assert_eq!(tx.end(), Err(FrameError::NotOpen));
    assert_eq!(tx.counter(), 0);
}

#[test]
fn overrun_leaves_state_unchanged() {
    let mut tx = TxFramer::new(0);
    tx.begin(5, false).unwrap();
    tx.data_sent(3).unwrap();
    assert_eq!(tx.data_sent(3), Err(FrameError::Overrun));
    assert_eq!(tx.data_sent(u32::MAX), Err(FrameError::Overrun));
    assert_eq!(tx.remaining(), 2);
    assert_eq!(tx.data_sent(2), Ok(()));
}

#[test]
fn underrun_leaves_record_open() {
    let mut tx = TxFramer::new(0);
    tx.begin(5, false).unwrap();
    tx.data_sent(2).unwrap();
    assert_eq!(tx.end(), Err(FrameError::Underrun { remaining: 3 }));
    assert!(tx.is_open());
    assert_eq!(tx.counter(), 1);
    tx.data_sent(3).unwrap();
    assert_eq!(tx.end(), Ok((hdr(1, 5), false)));
}

#[test]
fn data_unsent_gives_bytes_back() {
    let mut tx = TxFramer::new(0);
    tx.begin(10, false).unwrap();
    assert_eq!(tx.data_unsent(1), Err(FrameError::Overrun));
    assert_eq!(tx.next_frame(100, 4), FrameStep::Data(4));
    assert_eq!(tx.data_unsent(5), Err(FrameError::Overrun));
    assert_eq!(tx.data_unsent(4), Ok(()));
    assert_eq!(tx.remaining(), 10);
}

#[test]
fn abort_keeps_counter() {
    let mut tx = TxFramer::new(9);
    tx.begin(100, true).unwrap();
    tx.data_sent(50).unwrap();
    tx.abort();
    assert!(!tx.is_open());
    assert_eq!(tx.remaining(), 0);
    assert_eq!(tx.counter(), 10);
    assert_eq!(tx.begin(1, false), Ok(hdr(10, 1)));
    tx.abort();
    tx.abort();
    assert_eq!(tx.counter(), 11);
}

#[test]
fn next_frame_takes_min_of_remaining_credit_and_max_pkt() {
    let mut tx = TxFramer::new(0);
    tx.begin(100, true).unwrap();
    assert_eq!(tx.next_frame(30, 1000), FrameStep::Data(30));
    assert_eq!(tx.next_frame(1000, 20), FrameStep::Data(20));
    assert_eq!(tx.remaining(), 50);
    assert_eq!(tx.next_frame(0, 1000), FrameStep::NeedCredit);
    assert_eq!(tx.remaining(), 50);
    assert_eq!(tx.next_frame(u32::MAX, u32::MAX), FrameStep::Data(50));
    assert_eq!(tx.next_frame(0, 0), FrameStep::End(hdr(1, 100), true));
    assert_eq!(tx.next_frame(10, 10), FrameStep::Idle);
}

#[test]
fn next_frame_clamps_max_pkt() {
    let mut tx = TxFramer::new(0);
    tx.begin(200_000, false).unwrap();
    assert_eq!(
        tx.next_frame(u32::MAX, u32::MAX),
        FrameStep::Data(MAX_PKT_BUF_SIZE)
    );
    assert_eq!(tx.next_frame(u32::MAX, 0), FrameStep::Data(1));
    assert_eq!(tx.remaining(), 200_000 - MAX_PKT_BUF_SIZE - 1);
}

#[test]
fn counter_wraps() {
    let mut tx = TxFramer::new(u32::MAX);
    assert_eq!(tx.begin(1, false), Ok(hdr(u32::MAX, 1)));
    assert_eq!(tx.counter(), 0);
    assert_eq!(tx.next_frame(1, 1), FrameStep::Data(1));
    assert_eq!(tx.next_frame(1, 1), FrameStep::End(hdr(0, 1), false));
    assert_eq!(tx.counter(), 1);
}

#[test]
fn maximum_record_length() {
    let mut tx = TxFramer::new(0);
    tx.begin(u32::MAX, false).unwrap();
    tx.data_sent(u32::MAX).unwrap();
    assert_eq!(tx.remaining(), 0);
    assert_eq!(tx.end(), Ok((hdr(1, u32::MAX), false)));
}

#[test]
fn a_planned_record_changes_nothing_until_committed() {
    let mut tx = TxFramer::new(u32::MAX - 1);
    let plan = tx.plan(7, true).expect("idle framer");
    assert_eq!(tx.counter(), u32::MAX - 1);
    assert_eq!(
        plan.begin,
        SeqHdr {
            msg_cnt: u32::MAX - 1,
            msg_len: 7
        }
    );
    assert_eq!(
        plan.end,
        SeqHdr {
            msg_cnt: u32::MAX,
            msg_len: 7
        }
    );
    assert!(plan.eor);
    // Not sent: planning again gives the same markers.
    assert_eq!(tx.plan(7, true), Ok(plan));
    tx.commit(&plan).expect("plan of this framer");
    assert_eq!(tx.counter(), 0, "the counter wraps past 2^32");
    // A plan made before the commit is stale now.
    assert_eq!(tx.commit(&plan), Err(FrameError::RecordOpen));
    let next = tx.plan(0, false).expect("idle framer");
    assert_eq!(next.begin.msg_cnt, 0);
    assert_eq!(next.end.msg_cnt, 1);
}

#[test]
fn planned_records_reassemble() {
    let mut tx = TxFramer::new(5);
    let mut rx = Reassembler::new(5);
    for (len, eor) in [(3u32, true), (0, false), (70_000, true)] {
        let plan = tx.plan(len, eor).expect("idle framer");
        assert_eq!(
            rx.on_event(RxEvent::Begin(plan.begin), 1 << 20),
            Ok(RxOutcome::Opened)
        );
        if len > 0 {
            assert_eq!(
                rx.on_event(RxEvent::Data { len, flags: 0 }, 1 << 20),
                Ok(RxOutcome::Queued)
            );
        }
        let flags = if plan.eor { FLAG_SEQ_EOR } else { 0 };
        assert_eq!(
            rx.on_event(
                RxEvent::End {
                    hdr: plan.end,
                    flags
                },
                1 << 20
            ),
            Ok(RxOutcome::Complete { len, eor })
        );
        tx.commit(&plan).expect("plan of this framer");
    }
}
