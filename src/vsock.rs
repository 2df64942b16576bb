// SPDX-License-Identifier: GPL-2.0

//! Thin safe wrappers for the C objects the module touches: a virtio vsock
//! socket and the message a sender passes to it.
//!
//! C header: [`include/linux/virtio_vsock.h`](srctree/include/linux/virtio_vsock.h)

use crate::proto::{RecordPlan, FLAG_SEQ_EOR};
use crate::Connection;
use kernel::{bindings, error::to_result, prelude::*, types::Opaque};

/// A socket of a virtio vsock transport (`struct vsock_sock`).
///
/// # Invariants
///
/// `trans` points to the socket's `struct virtio_vsock_sock`, and whoever
/// holds a `&mut VsockSock` holds the socket's lock (`lock_sock()`), so the
/// framing state in `seq_priv` is not shared.
#[repr(transparent)]
pub(crate) struct VsockSock(Opaque<bindings::vsock_sock>);

impl VsockSock {
    /// Creates a mutable reference to a socket from a pointer C passed in.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for `'a`, its `trans` is a `struct virtio_vsock_sock`,
    /// and the caller holds the socket's lock for `'a` (or is the only user
    /// left, as in the destruct path).
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::vsock_sock) -> &'a mut Self {
        // CAST: `Self` is `repr(transparent)` over `Opaque<bindings::vsock_sock>`,
        // which has the layout of `bindings::vsock_sock`.
        let ptr = ptr.cast::<Self>();
        // SAFETY: By the function's requirements the pointer is valid and
        // the socket lock gives this reference exclusive access.
        unsafe { &mut *ptr }
    }

    fn as_ptr(&self) -> *mut bindings::vsock_sock {
        self.0.get()
    }

    fn transport(&self) -> *mut bindings::virtio_vsock_sock {
        // SAFETY: `self` is valid by the type invariant; `trans` is a plain field.
        unsafe { (*self.as_ptr()).trans.cast() }
    }

    /// The peer's address: CID and port.
    pub(crate) fn remote(&self) -> (u32, u32) {
        // SAFETY: `self` is valid by the type invariant; the address is a
        // plain field that does not change while the socket is connected.
        let remote = unsafe { &(*self.as_ptr()).remote_addr };
        (remote.svm_cid, remote.svm_port)
    }

    /// Attaches the framing state of this connection.
    pub(crate) fn set_connection(&mut self, conn: KBox<Connection>) {
        let vvs = self.transport();
        // SAFETY: `vvs` is valid by the type invariant, and the socket lock
        // serialises every access to `seq_priv`.
        unsafe { (*vvs).seq_priv = KBox::into_raw(conn).cast() };
    }

    /// Detaches the framing state, if any.
    pub(crate) fn take_connection(&mut self) -> Option<KBox<Connection>> {
        let vvs = self.transport();
        // SAFETY: As in `set_connection`.
        let raw = unsafe { core::mem::replace(&mut (*vvs).seq_priv, core::ptr::null_mut()) };
        if raw.is_null() {
            return None;
        }
        // SAFETY: A non-null `seq_priv` was made by `KBox::into_raw` in
        // `set_connection` and has just been cleared, so it is owned once.
        Some(unsafe { KBox::from_raw(raw.cast()) })
    }

    /// The framing state C attached with the `init` callback.
    pub(crate) fn connection(&mut self) -> Result<&mut Connection> {
        let vvs = self.transport();
        // SAFETY: As in `set_connection`.
        let raw = unsafe { (*vvs).seq_priv }.cast::<Connection>();
        if raw.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: `seq_priv` holds a live `KBox<Connection>` from
        // `set_connection`; the socket lock makes this the only reference.
        Ok(unsafe { &mut *raw })
    }

    /// Sends a whole record as planned: SEQ_BEGIN, `len` bytes of `msg`,
    /// SEQ_END. Nothing is sent when it fails, unless the transport itself
    /// failed mid-record, and then C has reset the connection.
    pub(crate) fn send_record(
        &mut self,
        msg: &mut Message,
        len: usize,
        plan: &RecordPlan,
    ) -> Result {
        let begin = plan.begin.encode();
        let end = plan.end.encode();
        let flags = if plan.eor { FLAG_SEQ_EOR } else { 0 };
        // SAFETY: The socket is valid and locked; `msg` is valid by its type
        // invariant; `begin` and `end` have the size and (packed, byte)
        // alignment of `struct virtio_vsock_seq_hdr` and are only read
        // during the call.
        let ret = unsafe {
            bindings::virtio_transport_send_seq_record(
                self.as_ptr(),
                msg.0,
                len,
                begin.as_ptr().cast(),
                end.as_ptr().cast(),
                flags,
            )
        };
        to_result(ret)
    }
}

/// The message a sender passed to `sendmsg()` (`struct msghdr`).
///
/// # Invariants
///
/// The pointer is valid for as long as the value lives.
pub(crate) struct Message(*mut bindings::msghdr);

impl Message {
    /// Wraps the message of an `enqueue` callback.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for the lifetime of the returned value.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::msghdr) -> Self {
        // INVARIANT: By the function's requirements.
        Self(ptr)
    }
}
