// SPDX-License-Identifier: GPL-2.0

//! SOCK_SEQPACKET record markers for virtio vsock.
//!
//! Every record of a connection whose both ends load this module travels as
//! SEQ_BEGIN{n, len}, its bytes as RW packets, SEQ_END{n + 1, len}; the
//! receiver checks counters and lengths and queues the record only when it is
//! whole. The protocol decisions live in [`proto`], which userspace tests
//! compile from the same files; this file connects them to the transport
//! through [`kernel::net::vsock`].
//!
//! Unloading: each marker connection holds a reference on this module until
//! its socket is destructed, so `rmmod` fails with EBUSY while one exists;
//! connections made after unloading use upstream's EOM framing.
//!
//! C header: [`include/linux/virtio_vsock_seq.h`](srctree/include/linux/virtio_vsock_seq.h)

use core::sync::atomic::Ordering::Relaxed;
use kernel::{
    net::vsock::{self, Close, Framing, Message, Packet, Registration, Socket, Verdict},
    prelude::*,
};

// The same files are the userspace core crate's public API, hence `pub`.
#[expect(unreachable_pub)]
mod proto;

mod debugfs;

use debugfs::{add, INITIAL_COUNTER, MARKERS_ENABLED, STATS};
use proto::{
    framer::TxFramer,
    reasm::{classify, Reassembler, RxEvent, RxOutcome, Violation},
    wire::{FLAG_SEQ_EOM, FLAG_SEQ_EOR, OP_SEQ_BEGIN, OP_SEQ_END, SEQ_HDR_LEN},
};

module! {
    type: VsockSeqpacket,
    name: "vsock_seqpacket",
    author: "vsock-seqpacket developers",
    description: "SEQ_BEGIN/SEQ_END record markers for virtio vsock SOCK_SEQPACKET",
    license: "GPL",
}

struct VsockSeqpacket {
    _registration: Registration<Connection>,
    _debugfs: debugfs::Files,
}

impl kernel::Module for VsockSeqpacket {
    fn init(module: &'static ThisModule) -> Result<Self> {
        self_check()?;
        // Counters first: connections count into them as soon as we register.
        let debugfs = debugfs::Files::new();
        let registration = Registration::new(module)?;
        pr_info!("SEQ_BEGIN/SEQ_END markers registered for virtio vsock SOCK_SEQPACKET\n");
        Ok(Self {
            _registration: registration,
            _debugfs: debugfs,
        })
    }
}

/// Frames two records and reassembles them, so that a core that misbehaves
/// in the kernel build fails `insmod` instead of a connection.
fn self_check() -> Result {
    let mut tx = TxFramer::new(u32::MAX);
    let mut rx = Reassembler::new(u32::MAX);
    for (len, eor) in [(3u32, true), (0, false)] {
        let plan = tx.plan(len, eor);
        let ok = rx.on_event(RxEvent::Begin(plan.begin), 16) == Ok(RxOutcome::Opened)
            && (len == 0
                || rx.on_event(RxEvent::Data { len, flags: 0 }, 16) == Ok(RxOutcome::Queued));
        let flags = if plan.eor { FLAG_SEQ_EOR } else { 0 };
        let end = RxEvent::End {
            hdr: plan.end,
            flags,
        };
        if !ok || rx.on_event(end, 16) != Ok(RxOutcome::Complete { len, eor }) {
            pr_err!("protocol core self-check failed\n");
            return Err(EINVAL);
        }
        tx.commit(&plan);
    }
    Ok(())
}

/// Framing state of one marker connection, both directions.
struct Connection {
    tx: TxFramer,
    rx: Reassembler,
}

#[vtable]
impl Framing for Connection {
    fn init(_sock: &Socket) -> Result<Self> {
        // Declining leaves the connection to upstream's EOM framing.
        if !MARKERS_ENABLED.load(Relaxed) {
            return Err(ENOTSUPP);
        }
        let first = INITIAL_COUNTER.load(Relaxed);
        Ok(Self {
            tx: TxFramer::new(first),
            rx: Reassembler::new(first),
        })
    }

    /// Sends a whole record: the socket layer calls this only once the
    /// peer's credit covers all of it, so every call is a new record. The
    /// core plans both markers; the transport builds every packet before it
    /// sends the first, so a failure sends nothing and the counter stays,
    /// and the same or another record may follow.
    fn send_record(
        &mut self,
        sock: &Socket,
        msg: &mut Message,
        len: usize,
        eor: bool,
    ) -> Result<usize> {
        let len32 = u32::try_from(len).map_err(|_| EINVAL)?;
        let plan = self.tx.plan(len32, eor);
        sock.send_record(msg, len, &plan.begin.encode(), &plan.end.encode(), plan.eor)?;
        self.tx.commit(&plan);
        add(&STATS.records_sent, 1);
        add(&STATS.bytes_sent, u64::from(len32));
        Ok(len)
    }

    fn recv(&mut self, sock: &Socket, packet: Packet, buf_alloc: u32) -> Result<Verdict> {
        let event = match packet {
            Packet::Data { len, flags } => RxEvent::Data { len, flags },
            Packet::Marker { hdr: None, .. } => return Err(reject(sock, Violation::BadMarker)),
            Packet::Marker {
                op,
                flags,
                hdr: Some(hdr),
                ..
            } => match classify(op, flags, &hdr) {
                Some(event) => event,
                // The transport hands over no other op as a marker.
                None => return Err(EPROTO),
            },
        };
        match self.rx.on_event(event, buf_alloc) {
            Ok(RxOutcome::Opened) => Ok(Verdict::Drop),
            Ok(RxOutcome::Queued) => Ok(Verdict::Queue),
            Ok(RxOutcome::Complete { len, eor }) => {
                add(&STATS.records_received, 1);
                add(&STATS.bytes_received, u64::from(len));
                Ok(Verdict::Record { eor })
            }
            Err(violation) => Err(reject(sock, violation)),
        }
    }

    fn close(&mut self, sock: &Socket, how: Close) -> Result {
        match how {
            // A reset may cut a record (our own sender resets when it cannot
            // finish one): no violation, but the reader must hear of it.
            Close::Reset => {
                let open = self.rx.is_open();
                self.rx.reset();
                if open {
                    Err(ECONNRESET)
                } else {
                    Ok(())
                }
            }
            Close::Shutdown { send: false } => Ok(()),
            Close::Shutdown { send: true } => self
                .rx
                .on_shutdown()
                .map_err(|violation| reject(sock, violation)),
        }
    }
}

/// Counts and logs a protocol violation; the transport resets the
/// connection with the error returned.
fn reject(sock: &Socket, violation: Violation) -> Error {
    add(&STATS.violations[violation.kind().index()], 1);
    if kernel::net::ratelimit() {
        let (cid, port) = sock.remote();
        pr_warn!(
            "protocol violation from {}:{}: {} ({:?}); connection reset\n",
            cid,
            port,
            violation.describe(),
            violation
        );
    }
    EPROTO
}

// The core's wire constants are the uapi's.
const _: () = {
    use kernel::bindings as c;
    assert!(vsock::SEQ_HDR_LEN == SEQ_HDR_LEN);
    assert!(OP_SEQ_BEGIN as u32 == c::virtio_vsock_op_VIRTIO_VSOCK_OP_SEQ_BEGIN);
    assert!(OP_SEQ_END as u32 == c::virtio_vsock_op_VIRTIO_VSOCK_OP_SEQ_END);
    assert!(FLAG_SEQ_EOM == c::virtio_vsock_rw_VIRTIO_VSOCK_SEQ_EOM);
    assert!(FLAG_SEQ_EOR == c::virtio_vsock_rw_VIRTIO_VSOCK_SEQ_EOR);
};
