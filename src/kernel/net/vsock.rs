// SPDX-License-Identifier: GPL-2.0

//! Virtio vsock SOCK_SEQPACKET record framing.
//!
//! A framing provider sends and judges the records of the SOCK_SEQPACKET
//! connections whose both ends negotiated SEQ_BEGIN/SEQ_END markers; the
//! virtio transport does the rest (credit, queues, wake-ups, resets).
//!
//! C headers: [`include/linux/virtio_vsock_seq.h`](srctree/include/linux/virtio_vsock_seq.h),
//! [`include/uapi/linux/virtio_vsock.h`](srctree/include/uapi/linux/virtio_vsock.h).

use crate::{
    bindings,
    error::{from_result, to_result},
    ffi::c_int,
    prelude::*,
    types::Opaque,
};
use core::marker::PhantomData;

/// Size of a marker's payload, `struct virtio_vsock_seq_hdr`.
pub const SEQ_HDR_LEN: usize = core::mem::size_of::<bindings::virtio_vsock_seq_hdr>();

/// A marker's payload as it travels, `struct virtio_vsock_seq_hdr` in its
/// wire byte order, for the provider's own codec.
pub type SeqHdrBytes = [u8; SEQ_HDR_LEN];

/// A connected virtio vsock socket (`struct vsock_sock`) with markers.
///
/// # Invariants
///
/// The socket is valid and its `trans` is a `struct virtio_vsock_sock`. The
/// caller of the callback that made this reference holds the socket's lock
/// (`lock_sock()`) or is its last user (destruction).
#[repr(transparent)]
pub struct Socket(Opaque<bindings::vsock_sock>);

impl Socket {
    /// Creates a reference to a socket from a pointer C passed in.
    ///
    /// # Safety
    ///
    /// For `'a`, `ptr` is valid, its `trans` is a `struct virtio_vsock_sock`,
    /// and the caller holds the socket's lock or is its last user.
    unsafe fn from_raw<'a>(ptr: *mut bindings::vsock_sock) -> &'a Self {
        // CAST: `Self` is `repr(transparent)` over `Opaque<bindings::vsock_sock>`,
        // which has the layout of `bindings::vsock_sock`.
        let ptr = ptr.cast::<Self>();
        // SAFETY: By the function's requirements the pointer is valid for `'a`.
        unsafe { &*ptr }
    }

    fn as_raw(&self) -> *mut bindings::vsock_sock {
        self.0.get()
    }

    /// The peer's address: its CID and port.
    pub fn remote(&self) -> (u32, u32) {
        // SAFETY: The socket is valid by the type invariant, and its remote
        // address does not change while it is connected.
        let remote = unsafe { &(*self.as_raw()).remote_addr };
        (remote.svm_cid, remote.svm_port)
    }

    /// Sends a whole record: SEQ_BEGIN `begin`, the first `len` bytes of
    /// `msg`, SEQ_END `end` (flagged with EOR when `eor`).
    ///
    /// The transport builds every packet before it sends the first, so an
    /// error leaves nothing with the peer and the connection as it was,
    /// unless the transport itself failed after the first packet: then it
    /// has reset the connection.
    pub fn send_record(
        &self,
        msg: &mut Message,
        len: usize,
        begin: &SeqHdrBytes,
        end: &SeqHdrBytes,
        eor: bool,
    ) -> Result {
        let begin = seq_hdr(begin);
        let end = seq_hdr(end);
        let end_flags = if eor {
            bindings::virtio_vsock_rw_VIRTIO_VSOCK_SEQ_EOR
        } else {
            0
        };
        // SAFETY: The socket is valid and locked by the type invariant, the
        // message by its own; `begin` and `end` live across the call, which
        // only reads them.
        to_result(unsafe {
            bindings::virtio_transport_send_seq_record(
                self.as_raw(),
                msg.0.get(),
                len,
                &begin,
                &end,
                end_flags,
            )
        })
    }
}

/// The C struct holding `bytes` as they are, in wire (little-endian) order.
fn seq_hdr(bytes: &SeqHdrBytes) -> bindings::virtio_vsock_seq_hdr {
    let [c0, c1, c2, c3, l0, l1, l2, l3] = *bytes;
    bindings::virtio_vsock_seq_hdr {
        msg_cnt: u32::from_ne_bytes([c0, c1, c2, c3]),
        msg_len: u32::from_ne_bytes([l0, l1, l2, l3]),
    }
}

/// The wire bytes of a C `struct virtio_vsock_seq_hdr`.
fn seq_hdr_bytes(hdr: &bindings::virtio_vsock_seq_hdr) -> SeqHdrBytes {
    // Copies first: the struct is packed.
    let (cnt, len) = (hdr.msg_cnt, hdr.msg_len);
    let [c0, c1, c2, c3] = cnt.to_ne_bytes();
    let [l0, l1, l2, l3] = len.to_ne_bytes();
    [c0, c1, c2, c3, l0, l1, l2, l3]
}

/// The message of a `sendmsg()` call (`struct msghdr`).
///
/// # Invariants
///
/// The message is valid for as long as the reference to it lives.
#[repr(transparent)]
pub struct Message(Opaque<bindings::msghdr>);

impl Message {
    /// # Safety
    ///
    /// `ptr` is valid and not used by anyone else for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::msghdr) -> &'a mut Self {
        // CAST: `Self` is `repr(transparent)` over `Opaque<bindings::msghdr>`.
        let ptr = ptr.cast::<Self>();
        // SAFETY: By the function's requirements.
        unsafe { &mut *ptr }
    }
}

/// A packet received on a marker connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet {
    /// Record data (`VIRTIO_VSOCK_OP_RW`) of `len` bytes.
    Data {
        /// Payload length.
        len: u32,
        /// The packet's flags.
        flags: u32,
    },
    /// `VIRTIO_VSOCK_OP_SEQ_BEGIN` or `VIRTIO_VSOCK_OP_SEQ_END`.
    Marker {
        /// The op.
        op: u16,
        /// The packet's flags.
        flags: u32,
        /// Payload length.
        len: u32,
        /// The header, when the payload is exactly one.
        hdr: Option<SeqHdrBytes>,
    },
}

/// How the peer ends a marker connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    /// `VIRTIO_VSOCK_OP_SHUTDOWN`; `send` when the peer will send no more.
    Shutdown {
        /// `VIRTIO_VSOCK_SHUTDOWN_SEND` is set.
        send: bool,
    },
    /// `VIRTIO_VSOCK_OP_RST`.
    Reset,
}

/// What the framing decided about a received packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A marker that the framing consumed.
    Drop,
    /// Record data, to be queued for the reader.
    Queue,
    /// The SEQ_END of a complete record; `eor` when it was sent with MSG_EOR.
    Record {
        /// The record ends with MSG_EOR.
        eor: bool,
    },
}

impl Verdict {
    fn to_c(self) -> c_int {
        let verdict = match self {
            Self::Drop => bindings::virtio_vsock_seq_verdict_VIRTIO_VSOCK_SEQ_DROP,
            Self::Queue => bindings::virtio_vsock_seq_verdict_VIRTIO_VSOCK_SEQ_QUEUE,
            Self::Record { eor: false } => {
                bindings::virtio_vsock_seq_verdict_VIRTIO_VSOCK_SEQ_RECORD
            }
            Self::Record { eor: true } => {
                bindings::virtio_vsock_seq_verdict_VIRTIO_VSOCK_SEQ_RECORD_EOR
            }
        };
        // CAST: The verdicts are 0 to 3.
        verdict as c_int
    }
}

/// The framing of one marker connection, both directions.
///
/// The transport creates it when a SOCK_SEQPACKET connection is being made
/// and drops it when the socket is destructed. Every method runs with the
/// socket locked.
#[vtable]
pub trait Framing: Sized + Send {
    /// Creates the framing of a new SOCK_SEQPACKET connection; an error
    /// leaves the connection to upstream's EOM framing.
    fn init(sock: &Socket) -> Result<Self>;

    /// Sends a whole record of `len` bytes of `msg` with
    /// [`Socket::send_record`]: the peer's credit covers it. Returns `len`.
    fn send_record(
        &mut self,
        sock: &Socket,
        msg: &mut Message,
        len: usize,
        eor: bool,
    ) -> Result<usize>;

    /// Judges a received packet; an error is a protocol violation, and the
    /// transport resets the connection with it.
    fn recv(&mut self, sock: &Socket, packet: Packet, buf_alloc: u32) -> Result<Verdict>;

    /// The peer shuts down or resets the connection; an error means that
    /// this cut an open record, and the reader gets it.
    fn close(&mut self, sock: &Socket, how: Close) -> Result;
}

/// The `extern "C"` callbacks of a [`Framing`].
struct Adapter<T: Framing> {
    _p: PhantomData<T>,
}

impl<T: Framing> Adapter<T> {
    /// The framing attached to a socket.
    ///
    /// # Safety
    ///
    /// `vsk` is valid with a `struct virtio_vsock_sock` as `trans`, the
    /// caller holds its lock, and `init_callback` succeeded on it.
    unsafe fn framing<'a>(vsk: *mut bindings::vsock_sock) -> &'a mut T {
        // SAFETY: By the function's requirements `trans` is valid.
        let vvs = unsafe { (*vsk).trans.cast::<bindings::virtio_vsock_sock>() };
        // SAFETY: `init_callback` stored a `KBox<T>` in `seq_priv`, which
        // only `destroy_callback` takes back; the socket lock makes this the
        // only reference to it.
        unsafe { &mut *(*vvs).seq_priv.cast::<T>() }
    }

    /// # Safety
    ///
    /// `vsk` is a locked SOCK_SEQPACKET socket of a virtio transport.
    unsafe extern "C" fn init_callback(vsk: *mut bindings::vsock_sock) -> c_int {
        from_result(|| {
            // SAFETY: By the function's requirements.
            let sock = unsafe { Socket::from_raw(vsk) };
            let framing = KBox::new(T::init(sock)?, GFP_KERNEL)?;
            // SAFETY: `trans` is valid by the function's requirements, and
            // the socket lock serialises every access to `seq_priv`.
            unsafe {
                let vvs = (*vsk).trans.cast::<bindings::virtio_vsock_sock>();
                (*vvs).seq_priv = KBox::into_raw(framing).cast();
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// `vsk` is a socket being destructed, on which `init_callback` succeeded.
    unsafe extern "C" fn destroy_callback(vsk: *mut bindings::vsock_sock) {
        // SAFETY: `trans` is valid by the function's requirements, and
        // nobody else uses the socket any more.
        let vvs = unsafe { (*vsk).trans.cast::<bindings::virtio_vsock_sock>() };
        // SAFETY: As above.
        let raw = unsafe { core::mem::take(&mut (*vvs).seq_priv) };
        if !raw.is_null() {
            // SAFETY: A non-null `seq_priv` is the `KBox<T>` of
            // `init_callback`, and it has just been cleared: owned once.
            drop(unsafe { KBox::from_raw(raw.cast::<T>()) });
        }
    }

    /// # Safety
    ///
    /// `vsk` is a locked marker connection and `msg` the message of its
    /// `sendmsg()`.
    unsafe extern "C" fn enqueue_callback(
        vsk: *mut bindings::vsock_sock,
        msg: *mut bindings::msghdr,
        len: usize,
        eor: bool,
    ) -> isize {
        from_result(|| {
            // SAFETY: By the function's requirements.
            let sock = unsafe { Socket::from_raw(vsk) };
            // SAFETY: By the function's requirements; only this call uses it.
            let msg = unsafe { Message::from_raw(msg) };
            // SAFETY: A marker connection has its framing attached.
            let framing = unsafe { Self::framing(vsk) };
            let sent = framing.send_record(sock, msg, len, eor)?;
            isize::try_from(sent).map_err(|_| EINVAL)
        })
    }

    /// # Safety
    ///
    /// `vsk` is a locked marker connection; `hdr` is null or points to a
    /// marker's header for the duration of the call.
    unsafe extern "C" fn recv_callback(
        vsk: *mut bindings::vsock_sock,
        op: u16,
        flags: u32,
        hdr: *const bindings::virtio_vsock_seq_hdr,
        len: u32,
        buf_alloc: u32,
    ) -> c_int {
        from_result(|| {
            // SAFETY: By the function's requirements.
            let sock = unsafe { Socket::from_raw(vsk) };
            // SAFETY: A marker connection has its framing attached.
            let framing = unsafe { Self::framing(vsk) };
            // CAST: The ops are small numbers, which bindgen gives as `u32`.
            let packet = match u32::from(op) {
                bindings::virtio_vsock_op_VIRTIO_VSOCK_OP_RST => {
                    framing.close(sock, Close::Reset)?;
                    return Ok(0);
                }
                bindings::virtio_vsock_op_VIRTIO_VSOCK_OP_SHUTDOWN => {
                    let send = flags & bindings::virtio_vsock_shutdown_VIRTIO_VSOCK_SHUTDOWN_SEND;
                    framing.close(sock, Close::Shutdown { send: send != 0 })?;
                    return Ok(0);
                }
                bindings::virtio_vsock_op_VIRTIO_VSOCK_OP_RW => Packet::Data { len, flags },
                _ => Packet::Marker {
                    op,
                    flags,
                    len,
                    // SAFETY: By the function's requirements a non-null
                    // `hdr` points to a header.
                    hdr: unsafe { hdr.as_ref() }.map(seq_hdr_bytes),
                },
            };
            Ok(framing.recv(sock, packet, buf_alloc)?.to_c())
        })
    }

    /// The hook table of `T`, without its owner.
    const OPS: bindings::virtio_vsock_seq_ops = bindings::virtio_vsock_seq_ops {
        owner: core::ptr::null_mut(),
        init: Some(Self::init_callback),
        destroy: Some(Self::destroy_callback),
        enqueue: Some(Self::enqueue_callback),
        recv: Some(Self::recv_callback),
    };
}

/// The registration of a [`Framing`] with the virtio vsock transport.
///
/// # Invariants
///
/// `ops` is registered with `virtio_vsock_seq_register()` and stays so
/// until `drop`.
pub struct Registration<T: Framing> {
    ops: KBox<Opaque<bindings::virtio_vsock_seq_ops>>,
    _p: PhantomData<T>,
}

// SAFETY: The table is only read, by C, under the rules of
// `virtio_vsock_seq_register()`; the handle may move between threads.
unsafe impl<T: Framing> Send for Registration<T> {}

// SAFETY: `&Registration` gives no access to anything.
unsafe impl<T: Framing> Sync for Registration<T> {}

impl<T: Framing> Registration<T> {
    /// Registers `T` for the marker connections made from now on. Fails with
    /// `EBUSY` if another framing is registered.
    pub fn new(module: &'static ThisModule) -> Result<Self> {
        let mut ops = Adapter::<T>::OPS;
        ops.owner = module.as_ptr();
        let ops = KBox::new(Opaque::new(ops), GFP_KERNEL)?;
        // SAFETY: `ops` is a complete table whose callbacks match their C
        // contracts, and it lives until `drop`, which unregisters it first.
        to_result(unsafe { bindings::virtio_vsock_seq_register(ops.get()) })?;
        // INVARIANT: Registered just above.
        Ok(Self {
            ops,
            _p: PhantomData,
        })
    }
}

impl<T: Framing> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: Registered by the type invariant. After this returns no
        // new connection uses the table, and the ones that do hold a
        // reference on the module that owns `T`, so its code stays.
        unsafe { bindings::virtio_vsock_seq_unregister(self.ops.get()) };
    }
}
