//! The packet header codec (what the transport parses in C) and [`event`], the module's view
//! of a packet: constants, exact byte layout, error cases and roundtrips.

use proptest::prelude::*;
use vsock_seqpacket_core::{RxEvent, Violation};
use vsock_seqpacket_wire_check::event;
use vsock_seqpacket_wire_check::hdr::*;

#[test]
fn constants_match_uapi() {
    assert_eq!(HDR_LEN, 44);
    assert_eq!(SEQ_HDR_LEN, 8);
    assert_eq!(TYPE_STREAM, 1);
    assert_eq!(TYPE_SEQPACKET, 2);
    let ops = [
        OP_INVALID,
        OP_REQUEST,
        OP_RESPONSE,
        OP_RST,
        OP_SHUTDOWN,
        OP_RW,
        OP_CREDIT_UPDATE,
        OP_CREDIT_REQUEST,
        OP_SEQ_BEGIN,
        OP_SEQ_END,
    ];
    assert_eq!(ops, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(FLAG_SEQ_EOM, 1);
    assert_eq!(FLAG_SEQ_EOR, 2);
    assert_eq!(FLAG_SEQ_MARKERS, 0x8000_0000);
    assert_eq!(FLAG_SEQ_MARKERS & (FLAG_SEQ_EOM | FLAG_SEQ_EOR), 0);
    assert_eq!(FLAG_SHUTDOWN_RCV, 1);
    assert_eq!(FLAG_SHUTDOWN_SEND, 2);
}

#[test]
fn op_from_u16_known_and_unknown() {
    let all = [
        Op::Invalid,
        Op::Request,
        Op::Response,
        Op::Rst,
        Op::Shutdown,
        Op::Rw,
        Op::CreditUpdate,
        Op::CreditRequest,
        Op::SeqBegin,
        Op::SeqEnd,
    ];
    for (v, op) in all.iter().enumerate() {
        let v = v as u16;
        assert_eq!(Op::from_u16(v), Ok(*op));
        assert_eq!(op.as_u16(), v);
        assert_eq!(*op as u16, v);
    }
    for v in [10u16, 11, 0x100, u16::MAX] {
        assert_eq!(Op::from_u16(v), Err(DecodeError::UnknownOp(v)));
    }
}

fn sample_hdr() -> PacketHdr {
    PacketHdr {
        src_cid: 0x0102_0304_0506_0708,
        dst_cid: 0x1112_1314_1516_1718,
        src_port: 0x2122_2324,
        dst_port: 0x3132_3334,
        len: 0x4142_4344,
        type_: 0x5152,
        op: 0x6162,
        flags: 0x7172_7374,
        buf_alloc: 0x8182_8384,
        fwd_cnt: 0x9192_9394,
    }
}

#[test]
fn packet_hdr_layout_is_packed_little_endian() {
    let bytes = sample_hdr().encode();
    #[rustfmt::skip]
    let want: [u8; HDR_LEN] = [
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // src_cid   @0
        0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11, // dst_cid   @8
        0x24, 0x23, 0x22, 0x21,                         // src_port  @16
        0x34, 0x33, 0x32, 0x31,                         // dst_port  @20
        0x44, 0x43, 0x42, 0x41,                         // len       @24
        0x52, 0x51,                                     // type      @28
        0x62, 0x61,                                     // op        @30
        0x74, 0x73, 0x72, 0x71,                         // flags     @32
        0x84, 0x83, 0x82, 0x81,                         // buf_alloc @36
        0x94, 0x93, 0x92, 0x91,                         // fwd_cnt   @40
    ];
    assert_eq!(bytes, want);
    assert_eq!(PacketHdr::decode(&want), Ok(sample_hdr()));
}

#[test]
fn packet_hdr_decode_does_not_check_op() {
    let mut h = sample_hdr();
    h.op = 0xffff;
    assert_eq!(PacketHdr::decode(&h.encode()), Ok(h));
    assert_eq!(PacketHdr::decode(&[0; HDR_LEN]), Ok(PacketHdr::default()));
}

#[test]
fn packet_hdr_wrong_length() {
    let buf = [0u8; HDR_LEN + 1];
    for n in [0, 1, 8, HDR_LEN - 1, HDR_LEN + 1] {
        assert_eq!(
            PacketHdr::decode(&buf[..n]),
            Err(DecodeError::Length {
                expected: HDR_LEN,
                got: n
            })
        );
    }
}

/// A packet as a capture holds it: the header, then `payload`.
fn packet(hdr: PacketHdr, payload: &[u8]) -> Vec<u8> {
    let mut buf = hdr.encode().to_vec();
    buf.extend_from_slice(payload);
    buf
}

#[test]
fn decode_packet_splits_header_and_payload() {
    let marker = SeqHdr {
        msg_cnt: 4,
        msg_len: 100,
    };
    let hdr = PacketHdr {
        len: SEQ_HDR_LEN as u32,
        type_: TYPE_SEQPACKET,
        op: OP_SEQ_BEGIN,
        ..sample_hdr()
    };
    let buf = packet(hdr, &marker.encode());
    let (got, payload) = PacketHdr::decode_packet(&buf).unwrap();
    assert_eq!(got, hdr);
    assert_eq!(SeqHdr::decode(payload.try_into().unwrap()), marker);

    // No payload at all.
    let empty = PacketHdr { len: 0, ..hdr };
    let buf = packet(empty, &[]);
    assert_eq!(PacketHdr::decode_packet(&buf), Ok((empty, &[][..])));
}

#[test]
fn decode_packet_rejects_short_and_mismatched_payloads() {
    let hdr = PacketHdr {
        len: 5,
        ..sample_hdr()
    };
    // Shorter than the header.
    for n in [0, 1, HDR_LEN - 1] {
        assert_eq!(
            PacketHdr::decode_packet(&vec![0; n]),
            Err(DecodeError::Length {
                expected: HDR_LEN,
                got: n
            })
        );
    }
    // Payload shorter or longer than `len`: a truncated capture or a bad frame.
    for extra in [0usize, 4, 6, 100] {
        let buf = packet(hdr, &vec![0xaa; extra]);
        assert_eq!(
            PacketHdr::decode_packet(&buf),
            Err(DecodeError::Length {
                expected: HDR_LEN + 5,
                got: HDR_LEN + extra
            })
        );
    }
    // A length no buffer can hold does not overflow.
    let huge = PacketHdr {
        len: u32::MAX,
        ..hdr
    };
    assert!(matches!(
        PacketHdr::decode_packet(&packet(huge, b"x")),
        Err(DecodeError::Length { got, .. }) if got == HDR_LEN + 1
    ));
}

#[test]
fn offers_markers_only_on_request_and_response() {
    for op in 0..=OP_SEQ_END + 1 {
        let hdr = PacketHdr {
            op,
            flags: FLAG_SEQ_MARKERS,
            ..PacketHdr::default()
        };
        assert_eq!(
            hdr.offers_markers(),
            op == OP_REQUEST || op == OP_RESPONSE,
            "op {op}"
        );
        let plain = PacketHdr {
            flags: !FLAG_SEQ_MARKERS,
            ..hdr
        };
        assert!(!plain.offers_markers(), "op {op} without the flag");
    }
}

/// RW is data of its length; a marker with one header goes through the core's `classify`,
/// with a payload of another size it is a bad marker; other ops carry no record data.
#[test]
fn event_is_what_the_module_builds() {
    let h = SeqHdr {
        msg_cnt: 7,
        msg_len: 3,
    };
    assert_eq!(
        event(OP_RW, FLAG_SEQ_EOM, &[0; 17]),
        Some(Ok(RxEvent::Data {
            len: 17,
            flags: FLAG_SEQ_EOM
        }))
    );
    assert_eq!(
        event(OP_RW, 0, &[]),
        Some(Ok(RxEvent::Data { len: 0, flags: 0 }))
    );
    assert_eq!(
        event(OP_SEQ_BEGIN, 0, &h.encode()),
        Some(Ok(RxEvent::Begin(h)))
    );
    assert_eq!(
        event(OP_SEQ_END, FLAG_SEQ_EOR, &h.encode()),
        Some(Ok(RxEvent::End {
            hdr: h,
            flags: FLAG_SEQ_EOR
        }))
    );
    for op in [OP_SEQ_BEGIN, OP_SEQ_END] {
        for n in [0usize, 4, 7, 9, 44] {
            assert_eq!(
                event(op, 0, &vec![0; n]),
                Some(Err(Violation::BadMarker)),
                "op {op}, {n} bytes"
            );
        }
    }
    for op in [
        OP_INVALID,
        OP_REQUEST,
        OP_RESPONSE,
        OP_RST,
        OP_SHUTDOWN,
        OP_CREDIT_UPDATE,
        OP_CREDIT_REQUEST,
        10,
        u16::MAX,
    ] {
        for n in [0usize, 8] {
            assert_eq!(event(op, 0, &vec![0; n]), None, "op {op}, {n} bytes");
        }
    }
}

fn any_hdr() -> impl Strategy<Value = PacketHdr> {
    (
        any::<(u64, u64, u32, u32, u32)>(),
        any::<(u16, u16, u32, u32, u32)>(),
    )
        .prop_map(
            |(
                (src_cid, dst_cid, src_port, dst_port, len),
                (type_, op, flags, buf_alloc, fwd_cnt),
            )| {
                PacketHdr {
                    src_cid,
                    dst_cid,
                    src_port,
                    dst_port,
                    len,
                    type_,
                    op,
                    flags,
                    buf_alloc,
                    fwd_cnt,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn packet_hdr_roundtrip(h in any_hdr()) {
        prop_assert_eq!(PacketHdr::decode(&h.encode()), Ok(h));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..100)) {
        match PacketHdr::decode(&bytes) {
            Ok(h) => {
                prop_assert_eq!(bytes.len(), HDR_LEN);
                prop_assert_eq!(&h.encode()[..], &bytes[..]);
                let _ = Op::from_u16(h.op);
            }
            Err(e) => prop_assert_eq!(e, DecodeError::Length { expected: HDR_LEN, got: bytes.len() }),
        }
        for op in [OP_SEQ_BEGIN, OP_SEQ_END, OP_RW, OP_CREDIT_UPDATE] {
            match event(op, 0, &bytes) {
                Some(Ok(RxEvent::Begin(h) | RxEvent::End { hdr: h, .. })) => {
                    prop_assert_eq!(&h.encode()[..], &bytes[..]);
                }
                Some(Ok(RxEvent::Data { len, .. })) => prop_assert_eq!(len as usize, bytes.len()),
                Some(Err(v)) => {
                    prop_assert_eq!(v, Violation::BadMarker);
                    prop_assert_ne!(bytes.len(), SEQ_HDR_LEN);
                }
                None => prop_assert_eq!(op, OP_CREDIT_UPDATE),
            }
        }
    }

    #[test]
    fn op_from_u16_total(v: u16) {
        match Op::from_u16(v) {
            Ok(op) => prop_assert_eq!(op.as_u16(), v),
            Err(e) => {
                prop_assert!(v > OP_SEQ_END);
                prop_assert_eq!(e, DecodeError::UnknownOp(v));
            }
        }
    }
}
