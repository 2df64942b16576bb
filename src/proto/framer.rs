// SPDX-License-Identifier: GPL-2.0

//! Sender side: frames each record as SEQ_BEGIN, RW packets, SEQ_END.
//!
//! One [`TxFramer`] per socket. Its counter `n` starts at a given value (0 for a new
//! connection) and wraps at 2^32: SEQ_BEGIN carries `n`, then `n += 1`; SEQ_END carries `n`,
//! then `n += 1`. Records never interleave, so at most one record is open at a time.

use super::wire::SeqHdr;

/// `VIRTIO_VSOCK_MAX_PKT_BUF_SIZE`: the largest payload of one RW packet.
pub const MAX_PKT_BUF_SIZE: u32 = 64 * 1024;

/// Why a framer call was refused; the framer's state is left unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// [`TxFramer::begin`] while a record is open.
    RecordOpen,
    /// A data or end call while no record is open.
    NotOpen,
    /// More data accounted than the open record has left.
    Overrun,
    /// [`TxFramer::end`] before all bytes of the record were accounted.
    Underrun {
        /// Bytes of the record not yet accounted.
        remaining: u32,
    },
}

/// What the sender does next for the open record, as told by [`TxFramer::next_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameStep {
    /// Send one RW packet with this many bytes (already accounted, always > 0).
    Data(u32),
    /// Bytes remain but the peer has no credit: wait for a credit update.
    NeedCredit,
    /// Send SEQ_END with this header; the flag is the record's `MSG_EOR` (the record is closed).
    End(SeqHdr, bool),
    /// No record is open.
    Idle,
}

/// The record currently being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpenRecord {
    len: u32,
    remaining: u32,
    eor: bool,
}

/// The two markers of one record, planned before anything of it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordPlan {
    /// The SEQ_BEGIN header.
    pub begin: SeqHdr,
    /// The SEQ_END header.
    pub end: SeqHdr,
    /// Whether SEQ_END carries the sender's `MSG_EOR`.
    pub eor: bool,
}

/// Per-socket sender state: the marker counter and the open record, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxFramer {
    cnt: u32,
    open: Option<OpenRecord>,
}

impl TxFramer {
    /// Creates a framer whose first SEQ_BEGIN carries `first_cnt`.
    pub const fn new(first_cnt: u32) -> Self {
        Self {
            cnt: first_cnt,
            open: None,
        }
    }

    /// Returns the counter the next marker will carry.
    pub fn counter(&self) -> u32 {
        self.cnt
    }

    /// Returns whether a record is open (SEQ_BEGIN produced, SEQ_END not yet).
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Returns the bytes of the open record not yet accounted (0 when none is open).
    pub fn remaining(&self) -> u32 {
        self.open.map_or(0, |r| r.remaining)
    }

    /// Plans a whole record of `len` bytes: the SEQ_BEGIN and SEQ_END it is
    /// sent with. Nothing changes until [`Self::commit`], so a record that
    /// could not be sent leaves the counter where it was and may be retried.
    pub fn plan(&self, len: u32, eor: bool) -> Result<RecordPlan, FrameError> {
        if self.open.is_some() {
            return Err(FrameError::RecordOpen);
        }
        Ok(RecordPlan {
            begin: SeqHdr {
                msg_cnt: self.cnt,
                msg_len: len,
            },
            end: SeqHdr {
                msg_cnt: self.cnt.wrapping_add(1),
                msg_len: len,
            },
            eor,
        })
    }

    /// Records that a planned record went out whole: the next one follows it.
    pub fn commit(&mut self, plan: &RecordPlan) -> Result<(), FrameError> {
        if self.open.is_some() || plan.begin.msg_cnt != self.cnt {
            return Err(FrameError::RecordOpen);
        }
        self.cnt = plan.end.msg_cnt.wrapping_add(1);
        Ok(())
    }

    /// Opens a record of `len` bytes and returns the SEQ_BEGIN header to send.
    pub fn begin(&mut self, len: u32, eor: bool) -> Result<SeqHdr, FrameError> {
        if self.open.is_some() {
            return Err(FrameError::RecordOpen);
        }
        let hdr = self.next_hdr(len);
        self.open = Some(OpenRecord {
            len,
            remaining: len,
            eor,
        });
        Ok(hdr)
    }

    /// Accounts `n` bytes of the open record as sent.
    pub fn data_sent(&mut self, n: u32) -> Result<(), FrameError> {
        let rec = self.open.as_mut().ok_or(FrameError::NotOpen)?;
        rec.remaining = rec.remaining.checked_sub(n).ok_or(FrameError::Overrun)?;
        Ok(())
    }

    /// Gives back `n` bytes accounted by [`Self::data_sent`] or [`Self::next_frame`] that
    /// could not be sent after all.
    pub fn data_unsent(&mut self, n: u32) -> Result<(), FrameError> {
        let rec = self.open.as_mut().ok_or(FrameError::NotOpen)?;
        let sent = rec.len.wrapping_sub(rec.remaining);
        if n > sent {
            return Err(FrameError::Overrun);
        }
        rec.remaining = rec.remaining.wrapping_add(n);
        Ok(())
    }

    /// Closes the open record and returns the SEQ_END header to send with the record's EOR.
    pub fn end(&mut self) -> Result<(SeqHdr, bool), FrameError> {
        let rec = self.open.ok_or(FrameError::NotOpen)?;
        if rec.remaining != 0 {
            return Err(FrameError::Underrun {
                remaining: rec.remaining,
            });
        }
        self.open = None;
        Ok((self.next_hdr(rec.len), rec.eor))
    }

    /// Forgets the open record without touching the counter; only for a connection being
    /// torn down, since the peer sees a violation if the record's markers are not both sent.
    pub fn abort(&mut self) {
        self.open = None;
    }

    /// Drives the open record one packet further given the peer's `credit` and the packet
    /// size limit `max_pkt` (clamped to `1..=MAX_PKT_BUF_SIZE`).
    pub fn next_frame(&mut self, credit: u32, max_pkt: u32) -> FrameStep {
        let Some(rec) = self.open.as_mut() else {
            return FrameStep::Idle;
        };
        if rec.remaining == 0 {
            let len = rec.len;
            let eor = rec.eor;
            self.open = None;
            return FrameStep::End(self.next_hdr(len), eor);
        }
        if credit == 0 {
            return FrameStep::NeedCredit;
        }
        let n = rec
            .remaining
            .min(credit)
            .min(max_pkt.clamp(1, MAX_PKT_BUF_SIZE));
        rec.remaining = rec.remaining.wrapping_sub(n);
        FrameStep::Data(n)
    }

    /// Returns a marker header with the current counter and advances the counter.
    fn next_hdr(&mut self, len: u32) -> SeqHdr {
        let hdr = SeqHdr {
            msg_cnt: self.cnt,
            msg_len: len,
        };
        self.cnt = self.cnt.wrapping_add(1);
        hdr
    }
}
