//! Fuzz target: a stream of virtio-vsock packets through the wire decoder, `classify` and the
//! `Reassembler`, checked against the reference model.
//!
//! Input: 5 configuration bytes (first counter, receive buffer size), then packets. A packet
//! whose tag byte has bit 7 set is raw: 44 header bytes followed by `hdr.len` payload bytes, cut
//! at the end of the input. Otherwise it is compact (tag, 2 length bytes): an RW, SEQ_BEGIN or
//! SEQ_END (counter near the expected one) or another op, encoded to wire bytes and decoded
//! again, so that the fuzzer reaches deep reassembler states as easily as odd byte layouts.

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

/// Payload bytes for compact RW packets.
static ZEROS: [u8; 1 << 16] = [0; 1 << 16];

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
    let mut marker = [0u8; SEQ_HDR_LEN + 1];
    while let Some(&tag) = data.first() {
        let wire: [u8; HDR_LEN];
        let (hdr_bytes, payload): (&[u8], &[u8]) = if tag & 0x80 != 0 {
            take(&mut data, 1);
            let hdr_bytes = take(&mut data, HDR_LEN);
            let len = match PacketHdr::decode(hdr_bytes) {
                Ok(h) => h.len as usize,
                Err(e) => {
                    let got = hdr_bytes.len();
                    assert_eq!(
                        e,
                        DecodeError::Length {
                            expected: HDR_LEN,
                            got
                        }
                    );
                    break;
                }
            };
            (hdr_bytes, take(&mut data, len))
        } else {
            let b = take(&mut data, 3);
            let n = u16::from_le_bytes([
                b.get(1).copied().unwrap_or(0),
                b.get(2).copied().unwrap_or(0),
            ]);
            let cnt = rx
                .expected()
                .wrapping_add(u32::from(tag >> 2 & 3))
                .wrapping_sub(1);
            let flags = u32::from(tag >> 4 & 3);
            let (op, payload): (u16, &[u8]) = match tag & 3 {
                0 => (OP_RW, &ZEROS[..usize::from(n)]),
                3 => (u16::from(tag >> 4), &[]),
                m => {
                    let h = SeqHdr {
                        msg_cnt: cnt,
                        msg_len: u32::from(n),
                    };
                    marker[..SEQ_HDR_LEN].copy_from_slice(&h.encode());
                    // Rarely a marker payload of the wrong size.
                    let plen = if tag & 0x40 != 0 && n % 7 == 0 {
                        SEQ_HDR_LEN + 1
                    } else {
                        SEQ_HDR_LEN
                    };
                    (
                        if m == 1 { OP_SEQ_BEGIN } else { OP_SEQ_END },
                        &marker[..plen],
                    )
                }
            };
            let hdr = PacketHdr {
                len: payload.len() as u32,
                type_: TYPE_SEQPACKET,
                op,
                flags,
                ..PacketHdr::default()
            };
            wire = hdr.encode();
            (&wire[..], payload)
        };

        let hdr = PacketHdr::decode(hdr_bytes).expect("full header");
        assert_eq!(&hdr.encode()[..], hdr_bytes);
        if let Ok(h) = SeqHdr::decode(payload) {
            assert_eq!(&h.encode()[..], payload);
        }
        let op = Op::from_u16(hdr.op);
        let data_op = matches!(op, Ok(Op::Rw | Op::SeqBegin | Op::SeqEnd));
        let ev = match classify(hdr.op, hdr.flags, payload) {
            Ok(ev) => {
                assert!(data_op);
                ev
            }
            Err(Violation::UnexpectedOp(o)) => {
                assert_eq!(o, hdr.op);
                assert!(!data_op);
                continue;
            }
            Err(v) => {
                assert_eq!(v, Violation::BadMarker);
                assert_ne!(payload.len(), SEQ_HDR_LEN);
                continue;
            }
        };
        let res = rx.on_event(ev, limit);
        assert_eq!(
            res.map_err(|v| v.kind()),
            model.on_event(ev, limit),
            "{ev:?}"
        );
        assert_eq!(rx.pending(), model.pending());
        assert_eq!(rx.is_open(), model.open.is_some());
        assert_eq!(rx.expected(), model.expected);
        match res {
            Err(Violation::Poisoned) => assert!(rx.violation().is_some()),
            Err(v) => assert_eq!(rx.violation(), Some(v)),
            Ok(_) => assert_eq!(rx.violation(), None),
        }
    }
});
