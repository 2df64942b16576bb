// SPDX-License-Identifier: GPL-2.0

//! SOCK_SEQPACKET record markers for virtio vsock.
//!
//! Every record of a connection whose both ends load this module travels as
//! SEQ_BEGIN{n, len}, its bytes as RW packets, SEQ_END{n + 1, len}; the
//! receiver checks counters and lengths and queues the record only when it is
//! whole. The protocol decisions live in [`proto`], which userspace tests
//! compile from the same files; this file only connects them to the hooks of
//! `net/vmw_vsock/virtio_transport_common.c` (see `patches/`).
//!
//! Unloading: each marker connection holds a reference on this module until
//! its socket is destructed, so `rmmod` fails with EBUSY while one exists;
//! connections made after unloading use upstream's EOM framing.
//!
//! C header: [`include/linux/virtio_vsock.h`](srctree/include/linux/virtio_vsock.h)

use core::ffi::c_int;
use kernel::{bindings, error::from_result, prelude::*, types::Opaque};

// The same files build the userspace tests, so some items are unused here.
#[allow(dead_code, unreachable_pub, unused_imports)]
mod proto;
mod stats;
mod vsock;

use proto::{
    classify, FrameError, Reassembler, RxEvent, RxOutcome, TxFramer, Violation, FLAG_SEQ_EOR,
    OP_RST, OP_RW, OP_SHUTDOWN, SEQ_HDR_LEN,
};
use stats::{add, STATS};
use vsock::{Message, VsockSock};

module! {
    type: VsockSeqpacket,
    name: "vsock_seqpacket",
    author: "vsock-seqpacket developers",
    description: "SEQ_BEGIN/SEQ_END record markers for virtio vsock SOCK_SEQPACKET",
    license: "GPL",
}

/// Framing state of one marker connection, both directions.
pub(crate) struct Connection {
    tx: TxFramer,
    rx: Reassembler,
}

struct VsockSeqpacket {
    _registration: Registration,
    _debugfs: stats::Debugfs,
}

impl kernel::Module for VsockSeqpacket {
    fn init(module: &'static ThisModule) -> Result<Self> {
        self_check()?;
        // Counters first: connections count into them as soon as we register.
        let debugfs = stats::Debugfs::new();
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
        let plan = tx.plan(len, eor).map_err(|_| EINVAL)?;
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
        tx.commit(&plan).map_err(|_| EINVAL)?;
    }
    Ok(())
}

/// The hook table registered with virtio_transport_common; unregistered on drop.
struct Registration {
    ops: KBox<Opaque<bindings::virtio_vsock_seq_ops>>,
}

// SAFETY: The table is only read by C, under the rules of
// `virtio_vsock_seq_register()`.
unsafe impl Send for Registration {}
// SAFETY: `&Registration` gives no access to the table.
unsafe impl Sync for Registration {}

impl Registration {
    fn new(module: &'static ThisModule) -> Result<Self> {
        let table = bindings::virtio_vsock_seq_ops {
            owner: module.as_ptr(),
            init: Some(init_callback),
            destroy: Some(destroy_callback),
            established: Some(established_callback),
            enqueue: Some(enqueue_callback),
            recv: Some(recv_callback),
            dequeued: Some(dequeued_callback),
        };
        let ops = KBox::new(Opaque::new(table), GFP_KERNEL)?;
        // SAFETY: `ops` is a complete table that lives until `drop`, which
        // unregisters it first.
        kernel::error::to_result(unsafe { bindings::virtio_vsock_seq_register(ops.get()) })?;
        Ok(Self { ops })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: Registered in `new`. After this returns no new connection
        // uses the table, and the ones that do pin this module.
        unsafe { bindings::virtio_vsock_seq_unregister(self.ops.get()) };
    }
}

/// # Safety
///
/// Called by C with a locked virtio vsock socket.
unsafe extern "C" fn init_callback(vsk: *mut bindings::vsock_sock) -> c_int {
    from_result(|| {
        // Declining leaves the connection to upstream's EOM framing.
        if !stats::MARKERS_ENABLED.load(core::sync::atomic::Ordering::Relaxed) {
            return Err(ENOTSUPP);
        }
        let first = stats::INITIAL_COUNTER.load(core::sync::atomic::Ordering::Relaxed);
        let conn = KBox::new(
            Connection {
                tx: TxFramer::new(first),
                rx: Reassembler::new(first),
            },
            GFP_KERNEL,
        )?;
        // SAFETY: By this function's contract.
        unsafe { VsockSock::from_raw(vsk) }.set_connection(conn);
        Ok(0)
    })
}

/// # Safety
///
/// Called by C while destructing a socket that `init_callback` succeeded on.
unsafe extern "C" fn destroy_callback(vsk: *mut bindings::vsock_sock) {
    // SAFETY: The socket is no longer shared while it is destructed.
    drop(unsafe { VsockSock::from_raw(vsk) }.take_connection());
}

/// # Safety
///
/// Called by C for an established SOCK_SEQPACKET connection.
unsafe extern "C" fn established_callback(_vsk: *mut bindings::vsock_sock, markers: bool) {
    let counter = if markers {
        &STATS.connections_markers
    } else {
        &STATS.connections_fallback
    };
    add(counter, 1);
}

/// # Safety
///
/// Called by C with a locked marker connection and the sender's message.
unsafe extern "C" fn enqueue_callback(
    vsk: *mut bindings::vsock_sock,
    msg: *mut bindings::msghdr,
    len: usize,
    eor: bool,
) -> isize {
    // SAFETY: By this function's contract.
    let sock = unsafe { VsockSock::from_raw(vsk) };
    // SAFETY: `msg` is valid for the whole callback.
    let mut msg = unsafe { Message::from_raw(msg) };
    match send_record(sock, &mut msg, len, eor) {
        // CAST: at most `len`, which the socket layer bounds to the peer's buffer.
        Ok(sent) => sent as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// Sends a whole record: the socket layer calls this only once the peer's
/// credit covers all of it, so every call is a new record. The core plans
/// both markers; C builds every packet before it sends the first, so a
/// failure sends nothing and the counter stays, and the same or another
/// record may follow.
fn send_record(sock: &mut VsockSock, msg: &mut Message, len: usize, eor: bool) -> Result<usize> {
    let len32 = u32::try_from(len).map_err(|_| EINVAL)?;
    let plan = sock
        .connection()?
        .tx
        .plan(len32, eor)
        .map_err(frame_error)?;
    sock.send_record(msg, len, &plan)?;
    sock.connection()?.tx.commit(&plan).map_err(frame_error)?;
    add(&STATS.records_sent, 1);
    add(&STATS.bytes_sent, u64::from(len32));
    Ok(len)
}

/// An errno that the kernel crate of 6.12 does not name, as C returns it.
fn errno(code: u32) -> c_int {
    // CAST: errno constants are small positive numbers.
    -(code as c_int)
}

/// `EPROTO`, which the kernel crate of 6.12 does not name.
fn eproto() -> Error {
    Error::from_errno(errno(bindings::EPROTO))
}

fn frame_error(_: FrameError) -> Error {
    eproto()
}

/// # Safety
///
/// Called by C with a locked marker connection; for RW, SEQ_BEGIN and
/// SEQ_END `marker` points to 8 bytes, for SHUTDOWN and RST it is null.
unsafe extern "C" fn recv_callback(
    vsk: *mut bindings::vsock_sock,
    op: u16,
    flags: u32,
    marker: *const u8,
    len: u32,
    buf_alloc: u32,
) -> c_int {
    // SAFETY: By this function's contract.
    let sock = unsafe { VsockSock::from_raw(vsk) };
    let Ok(conn) = sock.connection() else {
        return eproto().to_errno();
    };

    let verdict = match op {
        // A reset may cut a record (our own sender resets when it cannot
        // finish one): no violation, but the reader must hear of it.
        OP_RST => {
            let open = conn.rx.is_open();
            conn.rx.reset();
            return if open { errno(bindings::ECONNRESET) } else { 0 };
        }
        OP_SHUTDOWN if flags & bindings::virtio_vsock_shutdown_VIRTIO_VSOCK_SHUTDOWN_SEND == 0 => {
            return 0
        }
        OP_SHUTDOWN => conn.rx.on_shutdown().map(|()| RxOutcome::Opened),
        _ => {
            let event = if op == OP_RW {
                Ok(RxEvent::Data { len, flags })
            } else if len as usize != SEQ_HDR_LEN {
                Err(Violation::BadMarker)
            } else {
                // SAFETY: By this function's contract `marker` holds 8
                // readable bytes for SEQ_BEGIN and SEQ_END.
                let marker = unsafe { core::slice::from_raw_parts(marker, SEQ_HDR_LEN) };
                classify(op, flags, marker)
            };
            event.and_then(|ev| conn.rx.on_event(ev, buf_alloc))
        }
    };
    match verdict {
        Ok(RxOutcome::Opened) => bindings::virtio_vsock_seq_verdict_VIRTIO_VSOCK_SEQ_DROP as c_int,
        Ok(RxOutcome::Queued) => bindings::virtio_vsock_seq_verdict_VIRTIO_VSOCK_SEQ_QUEUE as c_int,
        Ok(RxOutcome::Complete { len, eor }) => {
            add(&STATS.records_received, 1);
            add(&STATS.bytes_received, u64::from(len));
            if eor {
                bindings::virtio_vsock_seq_verdict_VIRTIO_VSOCK_SEQ_RECORD_EOR as c_int
            } else {
                bindings::virtio_vsock_seq_verdict_VIRTIO_VSOCK_SEQ_RECORD as c_int
            }
        }
        Err(violation) => {
            add(&STATS.violations[violation.kind().index()], 1);
            // SAFETY: `net_ratelimit()` has no preconditions; it is the
            // kernel's shared limit for log lines that packets cause.
            if unsafe { bindings::net_ratelimit() } != 0 {
                let (cid, port) = sock.remote();
                pr_warn!(
                    "protocol violation from {}:{}: {} ({:?}); connection reset\n",
                    cid,
                    port,
                    violation.describe(),
                    violation
                );
            }
            eproto().to_errno()
        }
    }
}

/// # Safety
///
/// Called by C with a locked marker connection after a dequeue.
unsafe extern "C" fn dequeued_callback(
    _vsk: *mut bindings::vsock_sock,
    record_len: isize,
    buf_len: usize,
) {
    // CAST: checked non-negative first.
    if record_len >= 0 && record_len as usize > buf_len {
        add(&STATS.records_truncated, 1);
    }
}

/// A `SeqHdr` is what both sides of the FFI agree a marker payload is.
const _: () = assert!(core::mem::size_of::<bindings::virtio_vsock_seq_hdr>() == SEQ_HDR_LEN);
