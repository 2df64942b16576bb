// SPDX-License-Identifier: GPL-2.0

//! Sender side: the two markers each record is sent with.
//!
//! One [`TxFramer`] per socket. Its counter `n` starts at a given value (0 for a new
//! connection) and wraps at 2^32: a record goes out as SEQ_BEGIN{n, len}, its bytes as RW
//! packets, SEQ_END{n + 1, len}, and the next record starts at `n + 2`. The socket layer sends
//! each record whole (the transport builds every packet before it sends the first), so records
//! never interleave and a record that could not be sent leaves the counter where it was.

use super::wire::SeqHdr;

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

/// Per-socket sender state: the counter the next record's SEQ_BEGIN carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxFramer {
    cnt: u32,
}

impl TxFramer {
    /// Creates a framer whose first SEQ_BEGIN carries `first_cnt`.
    pub const fn new(first_cnt: u32) -> Self {
        Self { cnt: first_cnt }
    }

    /// Plans a whole record of `len` bytes: the SEQ_BEGIN and SEQ_END it is
    /// sent with. Nothing changes until [`Self::commit`], so a record that
    /// could not be sent leaves the counter where it was and may be retried.
    pub const fn plan(&self, len: u32, eor: bool) -> RecordPlan {
        RecordPlan {
            begin: SeqHdr {
                msg_cnt: self.cnt,
                msg_len: len,
            },
            end: SeqHdr {
                msg_cnt: self.cnt.wrapping_add(1),
                msg_len: len,
            },
            eor,
        }
    }

    /// Records that `plan`, this framer's latest, went out whole: the next record follows it.
    pub fn commit(&mut self, plan: &RecordPlan) {
        self.cnt = plan.end.msg_cnt.wrapping_add(1);
    }
}
