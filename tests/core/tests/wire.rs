//! Wire values the core holds: the marker payload's layout and the ops and flags the module
//! needs. (The packet header is tools/wire_check's, tested there.)

use proptest::prelude::*;
use vsock_seqpacket_core::*;

#[test]
fn constants_match_uapi() {
    assert_eq!(SEQ_HDR_LEN, 8);
    assert_eq!(OP_SEQ_BEGIN, 8);
    assert_eq!(OP_SEQ_END, 9);
    assert_eq!(FLAG_SEQ_EOM, 1);
    assert_eq!(FLAG_SEQ_EOR, 2);
}

#[test]
fn seq_hdr_layout_is_packed_little_endian() {
    let h = SeqHdr {
        msg_cnt: 0x0403_0201,
        msg_len: 0x0807_0605,
    };
    assert_eq!(h.encode(), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(SeqHdr::decode(&[1, 2, 3, 4, 5, 6, 7, 8]), h);
    assert_eq!(SeqHdr::decode(&[0; SEQ_HDR_LEN]), SeqHdr::default());
    let max = SeqHdr {
        msg_cnt: u32::MAX,
        msg_len: u32::MAX,
    };
    assert_eq!(SeqHdr::decode(&[0xff; SEQ_HDR_LEN]), max);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn seq_hdr_roundtrip(msg_cnt: u32, msg_len: u32) {
        let h = SeqHdr { msg_cnt, msg_len };
        prop_assert_eq!(SeqHdr::decode(&h.encode()), h);
    }

    #[test]
    fn seq_hdr_bytes_roundtrip(bytes: [u8; SEQ_HDR_LEN]) {
        prop_assert_eq!(SeqHdr::decode(&bytes).encode(), bytes);
    }
}
