// SPDX-License-Identifier: GPL-2.0

//! Protocol core of SOCK_SEQPACKET record framing for virtio-vsock (SEQ_BEGIN / SEQ_END).
//!
//! Pure logic: wire codec, sender framer, receiver reassembler, credit arithmetic and the
//! violation kinds. It uses only `core`, allocates nothing, has no `unsafe` and never panics,
//! so the same files build into the kernel module and into the userspace tests.

pub mod credit;
pub mod framer;
pub mod reasm;
pub mod wire;

pub use credit::Credit;
pub use framer::{FrameError, FrameStep, RecordPlan, TxFramer, MAX_PKT_BUF_SIZE};
pub use reasm::{classify, Reassembler, RxEvent, RxOutcome, Violation, ViolationKind};
pub use wire::{
    DecodeError, Op, PacketHdr, SeqHdr, FLAG_SEQ_EOM, FLAG_SEQ_EOR, FLAG_SEQ_MARKERS,
    FLAG_SHUTDOWN_RCV, FLAG_SHUTDOWN_SEND, HDR_LEN, OP_CREDIT_REQUEST, OP_CREDIT_UPDATE,
    OP_INVALID, OP_REQUEST, OP_RESPONSE, OP_RST, OP_RW, OP_SEQ_BEGIN, OP_SEQ_END, OP_SHUTDOWN,
    SEQ_HDR_LEN, TYPE_SEQPACKET, TYPE_STREAM,
};
