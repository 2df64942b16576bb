//! The virtio-vsock packet header, `struct virtio_vsock_hdr` of
//! `include/uapi/linux/virtio_vsock.h`: 44 bytes, packed little-endian, in front of every
//! packet of a capture.
//!
//! The kernel module never sees it (the transport parses it in C and hands the module op,
//! flags and length), so it is not part of the protocol core; this is its one copy, for the
//! checker and for userspace tests that build or forge packets. The values the module itself
//! needs (marker ops, record flags, the marker payload [`SeqHdr`]) are the core's, re-exported.

pub use vsock_seqpacket_core::{
    SeqHdr, FLAG_SEQ_EOM, FLAG_SEQ_EOR, OP_SEQ_BEGIN, OP_SEQ_END, SEQ_HDR_LEN,
};

/// Size in bytes of `struct virtio_vsock_hdr` on the wire.
pub const HDR_LEN: usize = 44;

/// `VIRTIO_VSOCK_TYPE_STREAM`: a byte-stream connection.
pub const TYPE_STREAM: u16 = 1;

/// `VIRTIO_VSOCK_TYPE_SEQPACKET`: a record-oriented connection.
pub const TYPE_SEQPACKET: u16 = 2;

/// `VIRTIO_VSOCK_OP_INVALID`: never valid on the wire.
pub const OP_INVALID: u16 = 0;

/// `VIRTIO_VSOCK_OP_REQUEST`: connection request.
pub const OP_REQUEST: u16 = 1;

/// `VIRTIO_VSOCK_OP_RESPONSE`: connection accepted.
pub const OP_RESPONSE: u16 = 2;

/// `VIRTIO_VSOCK_OP_RST`: connection reset.
pub const OP_RST: u16 = 3;

/// `VIRTIO_VSOCK_OP_SHUTDOWN`: half or full shutdown.
pub const OP_SHUTDOWN: u16 = 4;

/// `VIRTIO_VSOCK_OP_RW`: payload data.
pub const OP_RW: u16 = 5;

/// `VIRTIO_VSOCK_OP_CREDIT_UPDATE`: the sender's `buf_alloc`/`fwd_cnt` changed.
pub const OP_CREDIT_UPDATE: u16 = 6;

/// `VIRTIO_VSOCK_OP_CREDIT_REQUEST`: asks the peer for a credit update.
pub const OP_CREDIT_REQUEST: u16 = 7;

/// `VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE`: on SHUTDOWN, the sender will receive no more data.
pub const FLAG_SHUTDOWN_RCV: u32 = 1;

/// `VIRTIO_VSOCK_SHUTDOWN_F_SEND`: on SHUTDOWN, the sender will send no more data.
///
/// Only this half ends the peer's records (see `Reassembler::on_shutdown`).
pub const FLAG_SHUTDOWN_SEND: u32 = 2;

/// `VIRTIO_VSOCK_REQUEST_SEQ_MARKERS`, the in-band negotiation flag: set in `hdr.flags` of
/// REQUEST and RESPONSE by an end that speaks SEQ_BEGIN/SEQ_END (and on an RST that says a
/// record broke). The transport (C) sets and reads it.
///
/// A connection uses the markers only when the REQUEST carried this flag and the RESPONSE
/// echoed it; otherwise both ends use upstream's EOM framing. Upstream 6.12 neither sets nor
/// reads `hdr.flags` on REQUEST/RESPONSE, so an unpatched peer never echoes it, and bit 31 stays
/// clear of the low bits upstream gives meaning to on other ops (SHUTDOWN, SEQ_EOM/SEQ_EOR).
pub const FLAG_SEQ_MARKERS: u32 = 1 << 31;

/// A virtio-vsock operation code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Op {
    /// [`OP_INVALID`].
    Invalid = OP_INVALID,
    /// [`OP_REQUEST`].
    Request = OP_REQUEST,
    /// [`OP_RESPONSE`].
    Response = OP_RESPONSE,
    /// [`OP_RST`].
    Rst = OP_RST,
    /// [`OP_SHUTDOWN`].
    Shutdown = OP_SHUTDOWN,
    /// [`OP_RW`].
    Rw = OP_RW,
    /// [`OP_CREDIT_UPDATE`].
    CreditUpdate = OP_CREDIT_UPDATE,
    /// [`OP_CREDIT_REQUEST`].
    CreditRequest = OP_CREDIT_REQUEST,
    /// [`OP_SEQ_BEGIN`].
    SeqBegin = OP_SEQ_BEGIN,
    /// [`OP_SEQ_END`].
    SeqEnd = OP_SEQ_END,
}

impl Op {
    /// Converts a wire value into an [`Op`], failing with [`DecodeError::UnknownOp`].
    pub const fn from_u16(v: u16) -> Result<Self, DecodeError> {
        Ok(match v {
            OP_INVALID => Op::Invalid,
            OP_REQUEST => Op::Request,
            OP_RESPONSE => Op::Response,
            OP_RST => Op::Rst,
            OP_SHUTDOWN => Op::Shutdown,
            OP_RW => Op::Rw,
            OP_CREDIT_UPDATE => Op::CreditUpdate,
            OP_CREDIT_REQUEST => Op::CreditRequest,
            OP_SEQ_BEGIN => Op::SeqBegin,
            OP_SEQ_END => Op::SeqEnd,
            _ => return Err(DecodeError::UnknownOp(v)),
        })
    }

    /// Returns the wire value of this operation.
    pub const fn as_u16(self) -> u16 {
        self as u16
    }
}

/// Why a byte slice could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The slice does not have the exact size of the structure.
    Length {
        /// Size of the structure in bytes.
        expected: usize,
        /// Size of the slice given.
        got: usize,
    },
    /// The operation code is not one this protocol defines.
    UnknownOp(u16),
}

/// `struct virtio_vsock_hdr`: the header in front of every virtio-vsock packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketHdr {
    /// Source context id.
    pub src_cid: u64,
    /// Destination context id.
    pub dst_cid: u64,
    /// Source port.
    pub src_port: u32,
    /// Destination port.
    pub dst_port: u32,
    /// Payload length in bytes.
    pub len: u32,
    /// Socket type, [`TYPE_STREAM`] or [`TYPE_SEQPACKET`].
    pub type_: u16,
    /// Operation code, see [`Op`].
    pub op: u16,
    /// Operation-specific flags.
    pub flags: u32,
    /// The sender's receive buffer size.
    pub buf_alloc: u32,
    /// Bytes the sender has consumed from its receive buffer so far (wrapping).
    pub fwd_cnt: u32,
}

impl PacketHdr {
    /// Decodes a header from exactly [`HDR_LEN`] bytes; the op code is not checked.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let buf: &[u8; HDR_LEN] = buf.try_into().map_err(|_| DecodeError::Length {
            expected: HDR_LEN,
            got: buf.len(),
        })?;
        let mut at = 0;
        let mut take = |n: usize| {
            let field = &buf[at..at + n];
            at += n;
            field
        };
        let u16_ = |b: &[u8]| u16::from_le_bytes(b.try_into().expect("2 bytes"));
        let u32_ = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
        let u64_ = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        Ok(Self {
            src_cid: u64_(take(8)),
            dst_cid: u64_(take(8)),
            src_port: u32_(take(4)),
            dst_port: u32_(take(4)),
            len: u32_(take(4)),
            type_: u16_(take(2)),
            op: u16_(take(2)),
            flags: u32_(take(4)),
            buf_alloc: u32_(take(4)),
            fwd_cnt: u32_(take(4)),
        })
    }

    /// Decodes a whole packet: the header, then exactly `len` payload bytes.
    ///
    /// Returns the header and its payload. A buffer shorter than [`HDR_LEN`], or whose payload
    /// is not `len` bytes long, fails with [`DecodeError::Length`] giving the total expected.
    pub fn decode_packet(buf: &[u8]) -> Result<(Self, &[u8]), DecodeError> {
        if buf.len() < HDR_LEN {
            return Err(DecodeError::Length {
                expected: HDR_LEN,
                got: buf.len(),
            });
        }
        let (head, payload) = buf.split_at(HDR_LEN);
        let hdr = Self::decode(head)?;
        let want = usize::try_from(hdr.len).unwrap_or(usize::MAX);
        if payload.len() != want {
            return Err(DecodeError::Length {
                expected: HDR_LEN.saturating_add(want),
                got: buf.len(),
            });
        }
        Ok((hdr, payload))
    }

    /// Returns whether this REQUEST or RESPONSE carries [`FLAG_SEQ_MARKERS`], the offer (on
    /// REQUEST) or acceptance (on RESPONSE) of SEQ_BEGIN/SEQ_END framing. Always false on
    /// other operations, where the bit means something else (on RST: a record broke).
    pub fn offers_markers(&self) -> bool {
        matches!(self.op, OP_REQUEST | OP_RESPONSE) && self.flags & FLAG_SEQ_MARKERS != 0
    }

    /// Encodes the header into its [`HDR_LEN`] wire bytes.
    pub fn encode(&self) -> [u8; HDR_LEN] {
        let mut out = Vec::with_capacity(HDR_LEN);
        out.extend_from_slice(&self.src_cid.to_le_bytes());
        out.extend_from_slice(&self.dst_cid.to_le_bytes());
        out.extend_from_slice(&self.src_port.to_le_bytes());
        out.extend_from_slice(&self.dst_port.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.type_.to_le_bytes());
        out.extend_from_slice(&self.op.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.buf_alloc.to_le_bytes());
        out.extend_from_slice(&self.fwd_cnt.to_le_bytes());
        out.try_into().expect("44 bytes")
    }
}
