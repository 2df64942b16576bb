//! Receiver reassembler: every transition, every violation, what follows one, and `classify`.

use vsock_seqpacket_core::*;

const BUF: u32 = 256 * 1024;

fn begin(msg_cnt: u32, msg_len: u32) -> RxEvent {
    RxEvent::Begin(SeqHdr { msg_cnt, msg_len })
}

fn data(len: u32) -> RxEvent {
    RxEvent::Data { len, flags: 0 }
}

fn end(msg_cnt: u32, msg_len: u32, flags: u32) -> RxEvent {
    RxEvent::End {
        hdr: SeqHdr { msg_cnt, msg_len },
        flags,
    }
}

/// Feeds `events`, which must all be accepted, and returns the reassembler.
fn run(first: u32, events: &[RxEvent]) -> Reassembler {
    run_limit(first, events, BUF)
}

/// Like [`run`] with the receive buffer size `limit`.
fn run_limit(first: u32, events: &[RxEvent], limit: u32) -> Reassembler {
    let mut rx = Reassembler::new(first);
    for ev in events {
        rx.on_event(*ev, limit)
            .unwrap_or_else(|v| panic!("{ev:?} refused: {v:?}"));
    }
    rx
}

/// Feeds the accepted prefix `ok`, then checks that `bad` is the violation `want`, that it
/// dropped the open record, and that a reassembler fed anyway (the module resets the
/// connection first) fails every later event with it again, even the one that was expected.
fn violates(first: u32, ok: &[RxEvent], bad: RxEvent, limit: u32, want: Violation) {
    let mut rx = run_limit(first, ok, limit);
    let next = Reassembler::new(first);
    assert_eq!(rx.on_event(bad, limit), Err(want));
    assert!(!rx.is_open());
    for cnt in [first, first.wrapping_add(1), first.wrapping_add(2)] {
        for ev in [begin(cnt, 0), data(0), end(cnt, 0, 0), bad] {
            assert_eq!(rx.on_event(ev, limit), Err(want));
        }
    }
    assert_eq!(rx.on_shutdown(), Err(want));
    rx.reset();
    assert_eq!(rx.on_event(begin(first, 0), limit), Err(want));
    assert!(!rx.is_open());
    assert_ne!(rx, next);
}

#[test]
fn new_is_idle() {
    let mut rx = Reassembler::new(42);
    assert!(!rx.is_open());
    assert_eq!(rx.on_shutdown(), Ok(()));
    assert_eq!(rx.on_event(begin(42, 0), BUF), Ok(RxOutcome::Opened));
}

#[test]
fn record_transitions() {
    let mut rx = Reassembler::new(0);
    assert_eq!(rx.on_event(begin(0, 10), BUF), Ok(RxOutcome::Opened));
    assert!(rx.is_open());
    assert_eq!(rx.on_event(data(4), BUF), Ok(RxOutcome::Queued));
    assert_eq!(rx.on_event(data(6), BUF), Ok(RxOutcome::Queued));
    assert!(rx.is_open());
    assert_eq!(
        rx.on_event(end(1, 10, FLAG_SEQ_EOR), BUF),
        Ok(RxOutcome::Complete { len: 10, eor: true })
    );
    assert!(!rx.is_open());
    assert_eq!(rx.on_event(begin(2, 1), BUF), Ok(RxOutcome::Opened));
    assert_eq!(rx.on_event(data(1), BUF), Ok(RxOutcome::Queued));
    assert_eq!(
        rx.on_event(end(3, 1, 0), BUF),
        Ok(RxOutcome::Complete { len: 1, eor: false })
    );
    assert_eq!(rx.on_shutdown(), Ok(()));
}

#[test]
fn zero_length_record_completes() {
    let mut rx = Reassembler::new(0);
    assert_eq!(rx.on_event(begin(0, 0), BUF), Ok(RxOutcome::Opened));
    assert_eq!(
        rx.on_event(end(1, 0, 0), BUF),
        Ok(RxOutcome::Complete { len: 0, eor: false })
    );
    assert_eq!(rx.on_event(begin(2, 0), 0), Ok(RxOutcome::Opened));
    assert_eq!(rx.on_event(data(0), 0), Ok(RxOutcome::Queued));
    assert_eq!(
        rx.on_event(end(3, 0, FLAG_SEQ_EOR), 0),
        Ok(RxOutcome::Complete { len: 0, eor: true })
    );
}

#[test]
fn eor_comes_from_end_flags_only() {
    let mut rx = Reassembler::new(0);
    rx.on_event(begin(0, 2), BUF).unwrap();
    rx.on_event(
        RxEvent::Data {
            len: 2,
            flags: FLAG_SEQ_EOR,
        },
        BUF,
    )
    .unwrap();
    assert_eq!(
        rx.on_event(end(1, 2, FLAG_SEQ_EOM | 4), BUF),
        Ok(RxOutcome::Complete { len: 2, eor: false })
    );
}

#[test]
fn record_exactly_at_buffer_limit() {
    let mut rx = Reassembler::new(0);
    assert_eq!(rx.on_event(begin(0, 100), 100), Ok(RxOutcome::Opened));
    assert_eq!(rx.on_event(data(100), 100), Ok(RxOutcome::Queued));
    assert_eq!(
        rx.on_event(end(1, 100, 0), 100),
        Ok(RxOutcome::Complete {
            len: 100,
            eor: false
        })
    );
}

#[test]
fn counters_wrap() {
    let mut rx = Reassembler::new(u32::MAX - 1);
    for (b, e) in [(u32::MAX - 1, u32::MAX), (0, 1), (2, 3)] {
        assert_eq!(rx.on_event(begin(b, 1), BUF), Ok(RxOutcome::Opened));
        assert_eq!(rx.on_event(data(1), BUF), Ok(RxOutcome::Queued));
        assert_eq!(
            rx.on_event(end(e, 1, 0), BUF),
            Ok(RxOutcome::Complete { len: 1, eor: false })
        );
    }
    assert_eq!(rx.on_event(begin(4, 0), BUF), Ok(RxOutcome::Opened));

    let mut rx = Reassembler::new(u32::MAX);
    rx.on_event(begin(u32::MAX, 0), BUF).unwrap();
    assert_eq!(
        rx.on_event(end(0, 0, 0), BUF),
        Ok(RxOutcome::Complete { len: 0, eor: false })
    );
    assert_eq!(rx.on_event(begin(1, 0), BUF), Ok(RxOutcome::Opened));
}

#[test]
fn reset_drops_open_record_keeps_counter() {
    let mut rx = run(0, &[begin(0, 10), data(3)]);
    rx.reset();
    assert!(!rx.is_open());
    assert_eq!(rx.on_shutdown(), Ok(()));
    // The counter stays: after the cut record (BEGIN 0) the next one is BEGIN 1... but a
    // reset ends the connection, so this only shows that nothing else changed.
    let mut other = rx;
    assert_eq!(other.on_event(begin(1, 0), BUF), Ok(RxOutcome::Opened));
    assert_eq!(rx.on_event(data(1), BUF), Err(Violation::DataOutsideRecord));
}

#[test]
fn violation_begin_inside_record() {
    violates(
        0,
        &[begin(0, 5)],
        begin(1, 5),
        BUF,
        Violation::BeginInsideRecord,
    );
    violates(
        0,
        &[begin(0, 5), data(5)],
        begin(2, 0),
        BUF,
        Violation::BeginInsideRecord,
    );
}

#[test]
fn violation_counter_mismatch_on_begin() {
    violates(
        0,
        &[],
        begin(1, 0),
        BUF,
        Violation::CounterMismatch {
            expected: 0,
            got: 1,
        },
    );
    // A whole record lost: the next BEGIN does not follow the previous END.
    violates(
        0,
        &[begin(0, 1), data(1), end(1, 1, 0)],
        begin(4, 1),
        BUF,
        Violation::CounterMismatch {
            expected: 2,
            got: 4,
        },
    );
    // A replayed BEGIN.
    violates(
        7,
        &[begin(7, 0), end(8, 0, 0)],
        begin(7, 0),
        BUF,
        Violation::CounterMismatch {
            expected: 9,
            got: 7,
        },
    );
}

#[test]
fn violation_counter_mismatch_on_end() {
    violates(
        0,
        &[begin(0, 0)],
        end(2, 0, 0),
        BUF,
        Violation::CounterMismatch {
            expected: 1,
            got: 2,
        },
    );
    violates(
        u32::MAX,
        &[begin(u32::MAX, 0)],
        end(u32::MAX, 0, 0),
        BUF,
        Violation::CounterMismatch {
            expected: 0,
            got: u32::MAX,
        },
    );
}

#[test]
fn violation_too_large() {
    violates(
        0,
        &[],
        begin(0, 101),
        100,
        Violation::TooLarge {
            len: 101,
            limit: 100,
        },
    );
    violates(
        0,
        &[],
        begin(0, 1),
        0,
        Violation::TooLarge { len: 1, limit: 0 },
    );
}

#[test]
fn violation_data_outside_record() {
    violates(0, &[], data(1), BUF, Violation::DataOutsideRecord);
    violates(0, &[], data(0), BUF, Violation::DataOutsideRecord);
    violates(
        0,
        &[begin(0, 1), data(1), end(1, 1, 0)],
        data(1),
        BUF,
        Violation::DataOutsideRecord,
    );
}

#[test]
fn violation_eom_on_data() {
    violates(
        0,
        &[begin(0, 5)],
        RxEvent::Data {
            len: 5,
            flags: FLAG_SEQ_EOM,
        },
        BUF,
        Violation::EomOnData,
    );
    violates(
        0,
        &[begin(0, 5)],
        RxEvent::Data {
            len: 0,
            flags: FLAG_SEQ_EOM | FLAG_SEQ_EOR,
        },
        BUF,
        Violation::EomOnData,
    );
}

#[test]
fn violation_overrun() {
    violates(
        0,
        &[begin(0, 5), data(3)],
        data(3),
        BUF,
        Violation::Overrun {
            announced: 5,
            got: 6,
        },
    );
    violates(
        0,
        &[begin(0, 0)],
        data(1),
        BUF,
        Violation::Overrun {
            announced: 0,
            got: 1,
        },
    );
    // The running total would overflow u32: still an overrun, never a wrap.
    violates(
        0,
        &[begin(0, u32::MAX), data(u32::MAX - 1)],
        data(2),
        u32::MAX,
        Violation::Overrun {
            announced: u32::MAX,
            got: u32::MAX,
        },
    );
}

#[test]
fn violation_end_without_begin() {
    violates(0, &[], end(1, 0, 0), BUF, Violation::EndWithoutBegin);
    violates(
        0,
        &[begin(0, 0), end(1, 0, 0)],
        end(1, 0, 0),
        BUF,
        Violation::EndWithoutBegin,
    );
}

#[test]
fn violation_length_mismatch() {
    violates(
        0,
        &[begin(0, 5), data(5)],
        end(1, 6, 0),
        BUF,
        Violation::LengthMismatch {
            announced: 5,
            got: 6,
        },
    );
    violates(
        0,
        &[begin(0, 5), data(4)],
        end(1, 4, 0),
        BUF,
        Violation::LengthMismatch {
            announced: 5,
            got: 4,
        },
    );
}

#[test]
fn violation_underrun() {
    violates(
        0,
        &[begin(0, 5), data(4)],
        end(1, 5, FLAG_SEQ_EOR),
        BUF,
        Violation::Underrun {
            announced: 5,
            got: 4,
        },
    );
    violates(
        0,
        &[begin(0, 1)],
        end(1, 1, 0),
        BUF,
        Violation::Underrun {
            announced: 1,
            got: 0,
        },
    );
}

#[test]
fn checks_apply_in_documented_order() {
    // BEGIN: inside-record before counter before size.
    violates(
        0,
        &[begin(0, 1)],
        begin(9, u32::MAX),
        1,
        Violation::BeginInsideRecord,
    );
    violates(
        0,
        &[],
        begin(9, u32::MAX),
        1,
        Violation::CounterMismatch {
            expected: 0,
            got: 9,
        },
    );
    // Data: EOM before overrun.
    violates(
        0,
        &[begin(0, 0)],
        RxEvent::Data {
            len: 9,
            flags: FLAG_SEQ_EOM,
        },
        BUF,
        Violation::EomOnData,
    );
    // END: counter before length before underrun.
    violates(
        0,
        &[begin(0, 5)],
        end(5, 6, 0),
        BUF,
        Violation::CounterMismatch {
            expected: 1,
            got: 5,
        },
    );
    violates(
        0,
        &[begin(0, 5)],
        end(1, 6, 0),
        BUF,
        Violation::LengthMismatch {
            announced: 5,
            got: 6,
        },
    );
}

#[test]
fn classify_markers() {
    let h = SeqHdr {
        msg_cnt: 3,
        msg_len: 9,
    };
    assert_eq!(
        classify(OP_SEQ_BEGIN, FLAG_SEQ_EOR, &h.encode()),
        Some(RxEvent::Begin(h))
    );
    assert_eq!(
        classify(OP_SEQ_END, FLAG_SEQ_EOR, &h.encode()),
        Some(RxEvent::End {
            hdr: h,
            flags: FLAG_SEQ_EOR
        })
    );
}

/// The transport hands the module only SEQ_BEGIN and SEQ_END as markers; any other op is none.
#[test]
fn classify_other_ops_are_no_markers() {
    for op in (0..OP_SEQ_BEGIN).chain([10, 0x100, u16::MAX]) {
        assert_eq!(classify(op, 0, &[0; SEQ_HDR_LEN]), None, "op {op}");
    }
}

#[test]
fn violation_kinds_names_and_descriptions() {
    let all = [
        (Violation::BadMarker, "bad_marker"),
        (Violation::DataOutsideRecord, "data_outside_record"),
        (Violation::BeginInsideRecord, "begin_inside_record"),
        (Violation::EndWithoutBegin, "end_without_begin"),
        (
            Violation::CounterMismatch {
                expected: 0,
                got: 1,
            },
            "counter_mismatch",
        ),
        (
            Violation::Overrun {
                announced: 0,
                got: 1,
            },
            "overrun",
        ),
        (
            Violation::Underrun {
                announced: 1,
                got: 0,
            },
            "underrun",
        ),
        (
            Violation::LengthMismatch {
                announced: 0,
                got: 1,
            },
            "length_mismatch",
        ),
        (Violation::TooLarge { len: 1, limit: 0 }, "too_large"),
        (Violation::EomOnData, "eom_on_data"),
        (Violation::ShutdownInsideRecord, "shutdown_inside_record"),
    ];
    assert_eq!(all.len(), ViolationKind::COUNT);
    assert_eq!(ViolationKind::ALL.len(), ViolationKind::COUNT);
    let mut descriptions = Vec::new();
    for (i, (v, name)) in all.iter().enumerate() {
        let kind = v.kind();
        assert_eq!(kind.index(), i);
        assert_eq!(kind as usize, i);
        assert_eq!(ViolationKind::ALL[i], kind);
        assert_eq!(kind.name(), *name);
        assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        let d = v.describe();
        assert!(!d.is_empty() && d.len() < 64);
        assert!(!descriptions.contains(&d), "duplicate description {d}");
        descriptions.push(d);
    }
}

#[test]
fn shutdown_inside_a_record_is_a_violation() {
    let mut rx = Reassembler::new(0);
    assert_eq!(rx.on_shutdown(), Ok(()));
    let begin = RxEvent::Begin(SeqHdr {
        msg_cnt: 0,
        msg_len: 4,
    });
    assert_eq!(rx.on_event(begin, 64), Ok(RxOutcome::Opened));
    assert_eq!(rx.on_shutdown(), Err(Violation::ShutdownInsideRecord));
    assert!(!rx.is_open());
    assert_eq!(rx.on_shutdown(), Err(Violation::ShutdownInsideRecord));
    assert_eq!(
        rx.on_event(RxEvent::Begin(SeqHdr::default()), 64),
        Err(Violation::ShutdownInsideRecord)
    );
}

/// After a violation the shutdown of a connection that had a record open is no second one.
#[test]
fn shutdown_after_a_violation_repeats_it() {
    let mut rx = run(0, &[begin(0, 4)]);
    assert_eq!(
        rx.on_event(end(1, 4, 0), BUF),
        Err(Violation::Underrun {
            announced: 4,
            got: 0
        })
    );
    assert_eq!(
        rx.on_shutdown(),
        Err(Violation::Underrun {
            announced: 4,
            got: 0
        })
    );
}
