// SPDX-License-Identifier: GPL-2.0

//! Stream credit accounting, as in `net/vmw_vsock/virtio_transport_common.c`.
//!
//! All counters are `u32` and wrap at 2^32; only differences between them are meaningful.
//! Records are accounted by their payload bytes exactly like a stream; markers take no credit.

/// Per-socket credit state of both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Credit {
    /// Our receive buffer size, advertised to the peer.
    pub buf_alloc: u32,
    /// Bytes we have consumed from our receive buffer (wrapping), advertised to the peer.
    pub fwd_cnt: u32,
    /// Bytes we have sent (wrapping).
    pub tx_cnt: u32,
    /// The peer's last advertised `fwd_cnt`.
    pub peer_fwd_cnt: u32,
    /// The peer's last advertised `buf_alloc`.
    pub peer_buf_alloc: u32,
}

impl Credit {
    /// Returns the bytes the peer can still take: `peer_buf_alloc - (tx_cnt - peer_fwd_cnt)`,
    /// 0 if the peer shrank its buffer below what is in flight.
    pub fn peer_free(&self) -> u32 {
        let in_flight = self.tx_cnt.wrapping_sub(self.peer_fwd_cnt);
        self.peer_buf_alloc.saturating_sub(in_flight)
    }

    /// Grants up to `want` bytes of peer credit, advances `tx_cnt` by the grant and returns it.
    pub fn take(&mut self, want: u32) -> u32 {
        let granted = want.min(self.peer_free());
        self.tx_cnt = self.tx_cnt.wrapping_add(granted);
        granted
    }

    /// Returns `n` granted bytes that were not sent after all (`virtio_transport_put_credit`).
    pub fn put_back(&mut self, n: u32) {
        self.tx_cnt = self.tx_cnt.wrapping_sub(n);
    }

    /// Records the `buf_alloc` and `fwd_cnt` carried by a packet from the peer.
    pub fn on_peer_update(&mut self, buf_alloc: u32, fwd_cnt: u32) {
        self.peer_buf_alloc = buf_alloc;
        self.peer_fwd_cnt = fwd_cnt;
    }

    /// Accounts `n` bytes consumed by the reader, advancing `fwd_cnt`.
    pub fn consumed(&mut self, n: u32) {
        self.fwd_cnt = self.fwd_cnt.wrapping_add(n);
    }

    /// Returns whether a record of `len` bytes can ever fit the peer's buffer (else `EMSGSIZE`).
    pub fn record_fits_peer(&self, len: u32) -> bool {
        len <= self.peer_buf_alloc
    }
}
