// SPDX-License-Identifier: GPL-2.0

//! Wire format: the virtio-vsock packet header and the SEQ_BEGIN/SEQ_END payload.
//!
//! Both structures are packed and little-endian, exactly as `struct virtio_vsock_hdr` and
//! `struct virtio_vsock_seq_hdr` in `include/uapi/linux/virtio_vsock.h`.

/// Size in bytes of `struct virtio_vsock_hdr` on the wire.
pub const HDR_LEN: usize = 44;

/// Size in bytes of `struct virtio_vsock_seq_hdr`, the payload of SEQ_BEGIN and SEQ_END.
pub const SEQ_HDR_LEN: usize = 8;

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

/// `VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE`: on SHUTDOWN, the sender will receive no more data.
pub const FLAG_SHUTDOWN_RCV: u32 = 1;

/// `VIRTIO_VSOCK_SHUTDOWN_F_SEND`: on SHUTDOWN, the sender will send no more data.
///
/// Only this half ends the peer's records (see `Reassembler::on_shutdown`).
pub const FLAG_SHUTDOWN_SEND: u32 = 2;

/// In-band negotiation flag: set in `hdr.flags` of REQUEST and RESPONSE by an end that speaks
/// SEQ_BEGIN/SEQ_END.
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
        let mut r = Reader::exact(buf, HDR_LEN)?;
        Ok(Self {
            src_cid: r.u64(),
            dst_cid: r.u64(),
            src_port: r.u32(),
            dst_port: r.u32(),
            len: r.u32(),
            type_: r.u16(),
            op: r.u16(),
            flags: r.u32(),
            buf_alloc: r.u32(),
            fwd_cnt: r.u32(),
        })
    }

    /// Decodes a whole packet: the header, then exactly `len` payload bytes.
    ///
    /// Returns the header and its payload. A buffer shorter than [`HDR_LEN`], or whose payload
    /// is not `len` bytes long, fails with [`DecodeError::Length`] giving the total expected.
    pub fn decode_packet(buf: &[u8]) -> Result<(Self, &[u8]), DecodeError> {
        let (Some(head), Some(payload)) = (buf.get(..HDR_LEN), buf.get(HDR_LEN..)) else {
            return Err(DecodeError::Length {
                expected: HDR_LEN,
                got: buf.len(),
            });
        };
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
        let mut out = [0u8; HDR_LEN];
        let mut w = Writer(&mut out);
        w.put(self.src_cid.to_le_bytes());
        w.put(self.dst_cid.to_le_bytes());
        w.put(self.src_port.to_le_bytes());
        w.put(self.dst_port.to_le_bytes());
        w.put(self.len.to_le_bytes());
        w.put(self.type_.to_le_bytes());
        w.put(self.op.to_le_bytes());
        w.put(self.flags.to_le_bytes());
        w.put(self.buf_alloc.to_le_bytes());
        w.put(self.fwd_cnt.to_le_bytes());
        out
    }
}

/// `struct virtio_vsock_seq_hdr`: the payload of SEQ_BEGIN and SEQ_END.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeqHdr {
    /// Per-connection marker counter (wrapping).
    pub msg_cnt: u32,
    /// Length of the record in bytes.
    pub msg_len: u32,
}

impl SeqHdr {
    /// Decodes a marker payload from exactly [`SEQ_HDR_LEN`] bytes.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::exact(buf, SEQ_HDR_LEN)?;
        Ok(Self {
            msg_cnt: r.u32(),
            msg_len: r.u32(),
        })
    }

    /// Encodes the marker payload into its [`SEQ_HDR_LEN`] wire bytes.
    pub fn encode(&self) -> [u8; SEQ_HDR_LEN] {
        let mut out = [0u8; SEQ_HDR_LEN];
        let mut w = Writer(&mut out);
        w.put(self.msg_cnt.to_le_bytes());
        w.put(self.msg_len.to_le_bytes());
        out
    }
}

/// Little-endian field reader over a slice whose total length has been checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// Starts reading `buf` if it is exactly `len` bytes long.
    fn exact(buf: &'a [u8], len: usize) -> Result<Self, DecodeError> {
        if buf.len() != len {
            return Err(DecodeError::Length {
                expected: len,
                got: buf.len(),
            });
        }
        Ok(Self(buf))
    }

    /// Takes the next `N` bytes; yields zeroes past the end, which the length check rules out.
    fn take<const N: usize>(&mut self) -> [u8; N] {
        match self.0.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.0 = rest;
                *head
            }
            None => [0; N],
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
}

/// Field writer over a fixed-size output buffer.
struct Writer<'a>(&'a mut [u8]);

impl Writer<'_> {
    /// Appends `bytes`; the callers size the buffer so that it never runs out.
    fn put<const N: usize>(&mut self, bytes: [u8; N]) {
        let buf = core::mem::take(&mut self.0);
        if let Some((head, rest)) = buf.split_first_chunk_mut::<N>() {
            *head = bytes;
            self.0 = rest;
        }
    }
}
