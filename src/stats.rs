// SPDX-License-Identifier: GPL-2.0

//! Statistics and knobs, published as files in
//! `/sys/kernel/debug/vsock_seqpacket/`: one read-only counter a file, one
//! file a violation kind under `violations/`, and two knobs:
//! `initial_counter`, the marker counter new connections start from (a test
//! knob for the 2^32 wrap; both ends must agree on it), and `markers`, which
//! when cleared makes new connections use upstream's EOM framing (so that a
//! benchmark can compare both framings in one boot).
//!
//! C header: [`include/linux/debugfs.h`](srctree/include/linux/debugfs.h)

use crate::proto::ViolationKind;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use kernel::{bindings, c_str, str::CStr};

/// The module's counters.
pub(crate) struct Stats {
    pub(crate) records_sent: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) records_received: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    pub(crate) records_truncated: AtomicU64,
    pub(crate) connections_markers: AtomicU64,
    pub(crate) connections_fallback: AtomicU64,
    pub(crate) violations: [AtomicU64; ViolationKind::COUNT],
}

#[expect(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);

/// Every counter of the module, reset when it is loaded.
pub(crate) static STATS: Stats = Stats {
    records_sent: ZERO,
    bytes_sent: ZERO,
    records_received: ZERO,
    bytes_received: ZERO,
    records_truncated: ZERO,
    connections_markers: ZERO,
    connections_fallback: ZERO,
    violations: [ZERO; ViolationKind::COUNT],
};

/// Marker counter that new connections start from.
pub(crate) static INITIAL_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Whether new connections ask for (and accept) markers.
pub(crate) static MARKERS_ENABLED: AtomicBool = AtomicBool::new(true);

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Relaxed);
}

/// The module's debugfs directory; removed with everything in it on drop.
///
/// # Invariants
///
/// `dir` is what `debugfs_create_dir()` returned: a dentry or an error
/// pointer, both of which `debugfs_remove()` accepts.
pub(crate) struct Debugfs {
    dir: *mut bindings::dentry,
}

// SAFETY: The dentry pointer is only handed back to debugfs, which does its
// own locking, so the handle may move between threads.
unsafe impl Send for Debugfs {}
// SAFETY: `&Debugfs` gives no access to the dentry.
unsafe impl Sync for Debugfs {}

fn dir(name: &CStr, parent: *mut bindings::dentry) -> *mut bindings::dentry {
    // SAFETY: `name` is NUL-terminated; `parent` is null or a dentry of ours.
    unsafe { bindings::debugfs_create_dir(name.as_char_ptr(), parent) }
}

fn counter_file(name: &CStr, parent: *mut bindings::dentry, counter: &'static AtomicU64) {
    // SAFETY: `name` is NUL-terminated; the counter is a static, so it
    // outlives the file (removed in `Debugfs::drop`). `AtomicU64` has the
    // in-memory representation of `u64`; debugfs only reads it.
    unsafe { bindings::debugfs_create_u64(name.as_char_ptr(), 0o444, parent, counter.as_ptr()) };
}

impl Debugfs {
    /// Creates `/sys/kernel/debug/vsock_seqpacket/` and its files.
    ///
    /// As everywhere in debugfs, a failure leaves the statistics unreadable
    /// but the module working, so it is not an error.
    pub(crate) fn new() -> Self {
        let top = dir(c_str!("vsock_seqpacket"), core::ptr::null_mut());
        let s = &STATS;
        counter_file(c_str!("records_sent"), top, &s.records_sent);
        counter_file(c_str!("bytes_sent"), top, &s.bytes_sent);
        counter_file(c_str!("records_received"), top, &s.records_received);
        counter_file(c_str!("bytes_received"), top, &s.bytes_received);
        counter_file(c_str!("records_truncated"), top, &s.records_truncated);
        counter_file(c_str!("connections_markers"), top, &s.connections_markers);
        counter_file(c_str!("connections_fallback"), top, &s.connections_fallback);
        // SAFETY: As in `counter_file`; debugfs also writes this u32, which
        // `AtomicU32` allows through its pointer.
        unsafe {
            bindings::debugfs_create_u32(
                c_str!("initial_counter").as_char_ptr(),
                0o644,
                top,
                INITIAL_COUNTER.as_ptr(),
            )
        };
        // SAFETY: As above, for a bool that debugfs reads and writes.
        unsafe {
            bindings::debugfs_create_bool(
                c_str!("markers").as_char_ptr(),
                0o644,
                top,
                MARKERS_ENABLED.as_ptr(),
            )
        };

        let violations = dir(c_str!("violations"), top);
        // The hooks never hand the core another op, and a connection is
        // reset at its first violation: these two cannot come off the wire.
        let reachable =
            |k: &ViolationKind| !matches!(k, ViolationKind::UnexpectedOp | ViolationKind::Poisoned);
        for kind in ViolationKind::ALL.iter().copied().filter(reachable) {
            // debugfs copies the name, so a stack buffer does.
            let mut name = [0u8; 32];
            let text = kind.name().as_bytes();
            let len = text.len().min(name.len() - 1);
            name[..len].copy_from_slice(&text[..len]);
            // SAFETY: `name` is NUL-terminated (its last byte is never written).
            let name = unsafe { CStr::from_bytes_with_nul_unchecked(&name[..=len]) };
            counter_file(name, violations, &s.violations[kind.index()]);
        }

        // INVARIANT: `top` is what `debugfs_create_dir()` returned.
        Self { dir: top }
    }
}

impl Drop for Debugfs {
    fn drop(&mut self) {
        // SAFETY: By the type invariant; files go before the counters, which
        // are statics of this module.
        unsafe { bindings::debugfs_remove(self.dir) };
    }
}
