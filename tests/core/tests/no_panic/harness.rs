//! Built by `tests/no_panic.rs` the way the kernel builds Rust (no_std, panic=abort, overflow
//! checks, opt-level 2): every entry point of the core is exported unmangled so that it is
//! code-generated, and the object must not reference anything from `core::panicking`.

#![no_std]

#[forbid(unsafe_code)]
#[path = "../../../../src/proto/mod.rs"]
pub mod proto;

use proto::*;

/// Decodes a packet header from the first `n` bytes of `b`.
#[no_mangle]
pub extern "C" fn k_pkt_decode(b: &[u8; 64], n: usize, out: &mut PacketHdr) -> bool {
    match b.get(..n).map(PacketHdr::decode) {
        Some(Ok(h)) => {
            *out = h;
            true
        }
        _ => false,
    }
}

/// Encodes a packet header.
#[no_mangle]
pub extern "C" fn k_pkt_encode(h: &PacketHdr, out: &mut [u8; HDR_LEN]) {
    *out = h.encode();
}

/// Decodes a marker payload from the first `n` bytes of `b`.
#[no_mangle]
pub extern "C" fn k_seq_decode(b: &[u8; 64], n: usize, out: &mut SeqHdr) -> bool {
    match b.get(..n).map(SeqHdr::decode) {
        Some(Ok(h)) => {
            *out = h;
            true
        }
        _ => false,
    }
}

/// Encodes a marker payload.
#[no_mangle]
pub extern "C" fn k_seq_encode(h: &SeqHdr, out: &mut [u8; SEQ_HDR_LEN]) {
    *out = h.encode();
}

/// Converts an op code.
#[no_mangle]
pub extern "C" fn k_op(v: u16) -> u16 {
    Op::from_u16(v).map_or(0xffff, Op::as_u16)
}

/// Classifies a packet and feeds it to a reassembler.
#[no_mangle]
pub extern "C" fn k_classify(
    op: u16,
    flags: u32,
    b: &[u8; 64],
    n: usize,
    rx: &mut Reassembler,
    buf: u32,
) -> usize {
    let Some(p) = b.get(..n) else { return 99 };
    match classify(op, flags, p).and_then(|ev| rx.on_event(ev, buf)) {
        Ok(RxOutcome::Complete { len, eor }) => len as usize ^ eor as usize,
        Ok(_) => 0,
        Err(v) => v.kind().index() ^ v.describe().len() ^ v.kind().name().len(),
    }
}

/// Feeds an event to a reassembler.
#[no_mangle]
pub extern "C" fn k_rx(rx: &mut Reassembler, ev: &RxEvent, buf: u32, reset: bool) -> u32 {
    if reset {
        rx.reset();
    }
    let v = rx.violation().map_or(0, |v| v.kind().index() as u32);
    match rx.on_event(*ev, buf) {
        Ok(_) => rx.pending() ^ rx.expected() ^ rx.is_open() as u32 ^ v,
        Err(v) => v.kind().index() as u32,
    }
}

/// Drives a framer through all its calls.
#[no_mangle]
pub extern "C" fn k_tx(
    tx: &mut TxFramer,
    len: u32,
    credit: u32,
    max: u32,
    out: &mut SeqHdr,
) -> u32 {
    if let Ok(h) = tx.begin(len, true) {
        *out = h;
    }
    let _ = tx.data_sent(credit);
    let _ = tx.data_unsent(max);
    if let Ok((h, _)) = tx.end() {
        *out = h;
    }
    match tx.next_frame(credit, max) {
        FrameStep::Data(n) => n,
        FrameStep::End(h, eor) => h.msg_cnt ^ eor as u32,
        FrameStep::NeedCredit => 1,
        FrameStep::Idle => {
            tx.abort();
            tx.counter() ^ tx.remaining() ^ tx.is_open() as u32
        }
    }
}

/// Exercises the credit arithmetic.
#[no_mangle]
pub extern "C" fn k_credit(c: &mut Credit, a: u32, b: u32) -> u32 {
    c.on_peer_update(a, b);
    c.consumed(a);
    c.put_back(b);
    c.take(a) ^ c.peer_free() ^ c.record_fits_peer(b) as u32
}
