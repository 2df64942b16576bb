// SPDX-License-Identifier: GPL-2.0

//! Wire format the module handles itself: the SEQ_BEGIN/SEQ_END payload and the op and flag
//! values of `include/uapi/linux/virtio_vsock.h` it needs. The 44-byte packet header is the
//! transport's (C parses it); the module gets its op, flags and length as arguments.

/// Size in bytes of `struct virtio_vsock_seq_hdr`, the payload of SEQ_BEGIN and SEQ_END.
pub const SEQ_HDR_LEN: usize = 8;

/// `VIRTIO_VSOCK_OP_SEQ_BEGIN`: opens a record; payload is a [`SeqHdr`].
pub const OP_SEQ_BEGIN: u16 = 8;

/// `VIRTIO_VSOCK_OP_SEQ_END`: closes a record; payload is a [`SeqHdr`].
pub const OP_SEQ_END: u16 = 9;

/// `VIRTIO_VSOCK_SEQ_EOM`: upstream's end-of-record flag on the last RW packet of a record.
///
/// Only used by the EOM fallback framing; on a marker connection it is a protocol violation.
pub const FLAG_SEQ_EOM: u32 = 1;

/// `VIRTIO_VSOCK_SEQ_EOR`: the sender passed `MSG_EOR`; carried on SEQ_END (on RW in fallback).
pub const FLAG_SEQ_EOR: u32 = 2;

/// `struct virtio_vsock_seq_hdr`: the payload of SEQ_BEGIN and SEQ_END, packed little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeqHdr {
    /// Per-connection marker counter (wrapping).
    pub msg_cnt: u32,
    /// Length of the record in bytes.
    pub msg_len: u32,
}

impl SeqHdr {
    /// Decodes a marker payload; the transport hands over only payloads of exactly
    /// [`SEQ_HDR_LEN`] bytes.
    pub const fn decode(buf: &[u8; SEQ_HDR_LEN]) -> Self {
        let [c0, c1, c2, c3, l0, l1, l2, l3] = *buf;
        Self {
            msg_cnt: u32::from_le_bytes([c0, c1, c2, c3]),
            msg_len: u32::from_le_bytes([l0, l1, l2, l3]),
        }
    }

    /// Encodes the marker payload into its [`SEQ_HDR_LEN`] wire bytes.
    pub const fn encode(&self) -> [u8; SEQ_HDR_LEN] {
        let [c0, c1, c2, c3] = self.msg_cnt.to_le_bytes();
        let [l0, l1, l2, l3] = self.msg_len.to_le_bytes();
        [c0, c1, c2, c3, l0, l1, l2, l3]
    }
}
