//! Fuzz target: a stream of packets of a marker connection as the transport hands them to the
//! module (op, flags, the marker header when the payload is exactly one, the payload length),
//! turned into events the way the module's receive hook does (`classify` on marker headers,
//! RW as data) and fed to the `Reassembler`, checked against the reference model.
//!
//! Input: 5 configuration bytes (first counter, receive buffer size), then packets of 3 bytes
//! (tag, 2 length bytes), or 11 when the tag asks for raw marker header bytes: RW, SEQ_BEGIN or
//! SEQ_END (counter near the expected one, or raw bytes), sometimes a marker without a header
//! (a payload of another size), so that the fuzzer reaches deep reassembler states as easily
//! as odd marker bytes.

#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use common::Model;
use libfuzzer_sys::fuzz_target;
use vsock_seqpacket_core::*;

/// Splits the next `n` bytes off `data` (fewer at the end).
fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, rest) = data.split_at(n.min(data.len()));
    *data = rest;
    head
}

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    let cfg = take(&mut data, 5);
    if cfg.len() < 5 {
        return;
    }
    // First counter near 0, near u32::MAX or anywhere; receive buffer small or unlimited.
    let raw = u32::from_le_bytes([cfg[1], cfg[2], cfg[3], cfg[4]]);
    let first = match cfg[0] & 3 {
        0 => raw & 0xf,
        1 => u32::MAX - (raw & 0xf),
        _ => raw,
    };
    let limit = if cfg[0] & 4 != 0 { u32::MAX } else { raw >> 16 };

    let mut rx = Reassembler::new(first);
    let mut model = Model::new(first);
    while !data.is_empty() {
        let b = take(&mut data, 3);
        let tag = b[0];
        let n = u16::from_le_bytes([
            b.get(1).copied().unwrap_or(0),
            b.get(2).copied().unwrap_or(0),
        ]);
        let flags = u32::from(tag >> 4 & 3);
        let ev = if tag & 3 == 0 {
            RxEvent::Data {
                len: u32::from(n),
                flags,
            }
        } else {
            let op = if tag & 1 != 0 { OP_SEQ_BEGIN } else { OP_SEQ_END };
            let hdr = if tag & 0x80 != 0 {
                let raw = take(&mut data, SEQ_HDR_LEN);
                let Ok(hdr) = <[u8; SEQ_HDR_LEN]>::try_from(raw) else {
                    break;
                };
                hdr
            } else {
                let cnt = model
                    .expected
                    .wrapping_add(u32::from(tag >> 2 & 3))
                    .wrapping_sub(1);
                SeqHdr {
                    msg_cnt: cnt,
                    msg_len: u32::from(n),
                }
                .encode()
            };
            // A marker whose payload is not one header: the module's BadMarker, no event.
            if tag & 3 == 3 && tag & 0x40 != 0 {
                continue;
            }
            let h = SeqHdr::decode(&hdr);
            assert_eq!(h.encode(), hdr);
            let ev = classify(op, flags, &hdr).expect("a marker op");
            match ev {
                RxEvent::Begin(b) => assert!(op == OP_SEQ_BEGIN && b == h),
                RxEvent::End { hdr: e, flags: f } => {
                    assert!(op == OP_SEQ_END && e == h && f == flags)
                }
                RxEvent::Data { .. } => panic!("a marker classified as data"),
            }
            ev
        };
        let res = rx.on_event(ev, limit);
        assert_eq!(
            res.map_err(|v| v.kind()),
            model.on_event(ev, limit),
            "{ev:?}"
        );
        assert_eq!(rx.is_open(), model.open.is_some());
        if tag & 0x08 != 0 && !rx.is_open() {
            // A shutdown between records is orderly, unless the connection already failed.
            assert_eq!(rx.on_shutdown().map_err(|v| v.kind()), model.dead.map_or(Ok(()), Err));
        }
    }
});
