// SPDX-License-Identifier: GPL-2.0

//! Receiver side: checks SEQ_BEGIN, RW, SEQ_END sequences and reports whole records.
//!
//! One [`Reassembler`] per socket of a marker connection. It only tracks counters and byte
//! counts; the glue queues the payload bytes and delivers a record when [`RxOutcome::Complete`]
//! is returned. The first [`Violation`] drops the open record and ends the connection (the
//! module resets it, so no later packet reaches the reassembler); should one be fed anyway,
//! it fails with that first violation again and never opens or completes a record.

use super::wire::{SeqHdr, FLAG_SEQ_EOM, FLAG_SEQ_EOR, OP_SEQ_BEGIN, OP_SEQ_END, SEQ_HDR_LEN};

/// One packet of a marker connection, as seen by the [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxEvent {
    /// A SEQ_BEGIN packet with its payload.
    Begin(SeqHdr),
    /// An RW packet with `len` payload bytes and the header's flags.
    Data {
        /// Payload bytes of the packet.
        len: u32,
        /// `hdr.flags` of the packet.
        flags: u32,
    },
    /// A SEQ_END packet with its payload and the header's flags.
    End {
        /// The marker payload.
        hdr: SeqHdr,
        /// `hdr.flags` of the packet ([`FLAG_SEQ_EOR`] is the record's `MSG_EOR`).
        flags: u32,
    },
}

/// What an accepted event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxOutcome {
    /// A record was opened.
    Opened,
    /// Payload bytes were added to the open record; queue them.
    Queued,
    /// The open record is whole and may be delivered.
    Complete {
        /// Length of the record in bytes.
        len: u32,
        /// Whether the sender set `MSG_EOR`.
        eor: bool,
    },
}

/// A protocol violation by the peer; the connection must be reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// A SEQ_BEGIN/SEQ_END payload is not exactly [`SEQ_HDR_LEN`] bytes.
    BadMarker,
    /// An RW packet outside a SEQ_BEGIN..SEQ_END pair.
    DataOutsideRecord,
    /// A SEQ_BEGIN while a record is open.
    BeginInsideRecord,
    /// A SEQ_END while no record is open.
    EndWithoutBegin,
    /// A marker's counter is not the expected one.
    CounterMismatch {
        /// The counter expected.
        expected: u32,
        /// The counter received.
        got: u32,
    },
    /// More bytes than the record's announced length.
    Overrun {
        /// Length announced by SEQ_BEGIN.
        announced: u32,
        /// Bytes the record would hold with this packet (saturating).
        got: u32,
    },
    /// SEQ_END before all announced bytes arrived.
    Underrun {
        /// Length announced by SEQ_BEGIN.
        announced: u32,
        /// Bytes received.
        got: u32,
    },
    /// SEQ_END announces another length than SEQ_BEGIN.
    LengthMismatch {
        /// Length announced by SEQ_BEGIN.
        announced: u32,
        /// Length carried by SEQ_END.
        got: u32,
    },
    /// The record is larger than the receive buffer.
    TooLarge {
        /// Length announced by SEQ_BEGIN.
        len: u32,
        /// The receive buffer size.
        limit: u32,
    },
    /// An RW packet carries upstream's EOM flag on a marker connection.
    EomOnData,
    /// The peer shut its sending side down with a record open: a sender
    /// finishes every record it starts, so that record is lost.
    ShutdownInsideRecord,
}

/// The kind of a [`Violation`], without its data; usable as an index into counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum ViolationKind {
    /// [`Violation::BadMarker`].
    BadMarker,
    /// [`Violation::DataOutsideRecord`].
    DataOutsideRecord,
    /// [`Violation::BeginInsideRecord`].
    BeginInsideRecord,
    /// [`Violation::EndWithoutBegin`].
    EndWithoutBegin,
    /// [`Violation::CounterMismatch`].
    CounterMismatch,
    /// [`Violation::Overrun`].
    Overrun,
    /// [`Violation::Underrun`].
    Underrun,
    /// [`Violation::LengthMismatch`].
    LengthMismatch,
    /// [`Violation::TooLarge`].
    TooLarge,
    /// [`Violation::EomOnData`].
    EomOnData,
    /// [`Violation::ShutdownInsideRecord`].
    ShutdownInsideRecord,
}

impl ViolationKind {
    /// Number of kinds; every kind's [`Self::index`] is below it.
    pub const COUNT: usize = 11;

    /// All kinds, in index order.
    pub const ALL: [ViolationKind; Self::COUNT] = [
        ViolationKind::BadMarker,
        ViolationKind::DataOutsideRecord,
        ViolationKind::BeginInsideRecord,
        ViolationKind::EndWithoutBegin,
        ViolationKind::CounterMismatch,
        ViolationKind::Overrun,
        ViolationKind::Underrun,
        ViolationKind::LengthMismatch,
        ViolationKind::TooLarge,
        ViolationKind::EomOnData,
        ViolationKind::ShutdownInsideRecord,
    ];

    /// Returns the kind's index in `0..COUNT`.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Returns the kind's snake_case name, used for its statistics file.
    pub const fn name(self) -> &'static str {
        match self {
            ViolationKind::BadMarker => "bad_marker",
            ViolationKind::DataOutsideRecord => "data_outside_record",
            ViolationKind::BeginInsideRecord => "begin_inside_record",
            ViolationKind::EndWithoutBegin => "end_without_begin",
            ViolationKind::CounterMismatch => "counter_mismatch",
            ViolationKind::Overrun => "overrun",
            ViolationKind::Underrun => "underrun",
            ViolationKind::LengthMismatch => "length_mismatch",
            ViolationKind::TooLarge => "too_large",
            ViolationKind::EomOnData => "eom_on_data",
            ViolationKind::ShutdownInsideRecord => "shutdown_inside_record",
        }
    }
}

impl Violation {
    /// Returns the kind of this violation.
    pub const fn kind(&self) -> ViolationKind {
        match self {
            Violation::BadMarker => ViolationKind::BadMarker,
            Violation::DataOutsideRecord => ViolationKind::DataOutsideRecord,
            Violation::BeginInsideRecord => ViolationKind::BeginInsideRecord,
            Violation::EndWithoutBegin => ViolationKind::EndWithoutBegin,
            Violation::CounterMismatch { .. } => ViolationKind::CounterMismatch,
            Violation::Overrun { .. } => ViolationKind::Overrun,
            Violation::Underrun { .. } => ViolationKind::Underrun,
            Violation::LengthMismatch { .. } => ViolationKind::LengthMismatch,
            Violation::TooLarge { .. } => ViolationKind::TooLarge,
            Violation::EomOnData => ViolationKind::EomOnData,
            Violation::ShutdownInsideRecord => ViolationKind::ShutdownInsideRecord,
        }
    }

    /// Returns a short human-readable description for log lines.
    pub const fn describe(&self) -> &'static str {
        match self {
            Violation::BadMarker => "marker payload is not 8 bytes",
            Violation::DataOutsideRecord => "data outside a record",
            Violation::BeginInsideRecord => "SEQ_BEGIN inside an open record",
            Violation::EndWithoutBegin => "SEQ_END without SEQ_BEGIN",
            Violation::CounterMismatch { .. } => "marker counter out of sequence",
            Violation::Overrun { .. } => "more data than the record announced",
            Violation::Underrun { .. } => "SEQ_END before all record data",
            Violation::LengthMismatch { .. } => "SEQ_END length differs from SEQ_BEGIN",
            Violation::TooLarge { .. } => "record larger than the receive buffer",
            Violation::EomOnData => "EOM flag on data of a marker connection",
            Violation::ShutdownInsideRecord => "peer shut down inside an open record",
        }
    }
}

/// Builds the event for a marker from its op, flags and header: the transport hands the
/// module SEQ_BEGIN and SEQ_END with a payload of exactly [`SEQ_HDR_LEN`] bytes as a header (a
/// payload of another size is a [`Violation::BadMarker`]), RW as [`RxEvent::Data`] directly.
/// `None` for any other op, which is no marker.
pub fn classify(op: u16, flags: u32, hdr: &[u8; SEQ_HDR_LEN]) -> Option<RxEvent> {
    match op {
        OP_SEQ_BEGIN => Some(RxEvent::Begin(SeqHdr::decode(hdr))),
        OP_SEQ_END => Some(RxEvent::End {
            hdr: SeqHdr::decode(hdr),
            flags,
        }),
        _ => None,
    }
}

/// The record being received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpenRecord {
    begin: SeqHdr,
    received: u32,
}

/// Per-socket receiver state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reassembler {
    expected: u32,
    open: Option<OpenRecord>,
    violation: Option<Violation>,
}

impl Reassembler {
    /// Creates a reassembler whose first SEQ_BEGIN must carry `first_cnt`.
    pub const fn new(first_cnt: u32) -> Self {
        Self {
            expected: first_cnt,
            open: None,
            violation: None,
        }
    }

    /// Returns whether a record is open.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Drops an open record (on a reset), keeping the counter and any violation.
    pub fn reset(&mut self) {
        self.open = None;
    }

    /// The peer shut its sending side down. A record it left open can never
    /// end, and a sender finishes every record it starts: a violation.
    pub fn on_shutdown(&mut self) -> Result<(), Violation> {
        if let Some(first) = self.violation {
            return Err(first);
        }
        if self.open.take().is_some() {
            self.violation = Some(Violation::ShutdownInsideRecord);
            return Err(Violation::ShutdownInsideRecord);
        }
        Ok(())
    }

    /// Applies one event; `rx_buf_size` is the socket's receive buffer size.
    pub fn on_event(&mut self, ev: RxEvent, rx_buf_size: u32) -> Result<RxOutcome, Violation> {
        if let Some(first) = self.violation {
            return Err(first);
        }
        let res = self.step(ev, rx_buf_size);
        if let Err(v) = res {
            self.violation = Some(v);
            self.open = None;
        }
        res
    }

    /// Applies one event to a reassembler that has seen no violation.
    fn step(&mut self, ev: RxEvent, rx_buf_size: u32) -> Result<RxOutcome, Violation> {
        match ev {
            RxEvent::Begin(hdr) => {
                if self.open.is_some() {
                    return Err(Violation::BeginInsideRecord);
                }
                if hdr.msg_cnt != self.expected {
                    return Err(Violation::CounterMismatch {
                        expected: self.expected,
                        got: hdr.msg_cnt,
                    });
                }
                if hdr.msg_len > rx_buf_size {
                    return Err(Violation::TooLarge {
                        len: hdr.msg_len,
                        limit: rx_buf_size,
                    });
                }
                self.open = Some(OpenRecord {
                    begin: hdr,
                    received: 0,
                });
                self.expected = hdr.msg_cnt.wrapping_add(1);
                Ok(RxOutcome::Opened)
            }
            RxEvent::Data { len, flags } => {
                let rec = self.open.as_mut().ok_or(Violation::DataOutsideRecord)?;
                if flags & FLAG_SEQ_EOM != 0 {
                    return Err(Violation::EomOnData);
                }
                let announced = rec.begin.msg_len;
                match rec.received.checked_add(len) {
                    Some(total) if total <= announced => {
                        rec.received = total;
                        Ok(RxOutcome::Queued)
                    }
                    _ => Err(Violation::Overrun {
                        announced,
                        got: rec.received.saturating_add(len),
                    }),
                }
            }
            RxEvent::End { hdr, flags } => {
                let rec = self.open.ok_or(Violation::EndWithoutBegin)?;
                let want = rec.begin.msg_cnt.wrapping_add(1);
                if hdr.msg_cnt != want {
                    return Err(Violation::CounterMismatch {
                        expected: want,
                        got: hdr.msg_cnt,
                    });
                }
                let announced = rec.begin.msg_len;
                if hdr.msg_len != announced {
                    return Err(Violation::LengthMismatch {
                        announced,
                        got: hdr.msg_len,
                    });
                }
                if rec.received != announced {
                    return Err(Violation::Underrun {
                        announced,
                        got: rec.received,
                    });
                }
                self.open = None;
                self.expected = hdr.msg_cnt.wrapping_add(1);
                Ok(RxOutcome::Complete {
                    len: announced,
                    eor: flags & FLAG_SEQ_EOR != 0,
                })
            }
        }
    }
}
