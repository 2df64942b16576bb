// SPDX-License-Identifier: GPL-2.0

//! The module's debugfs interface: statistics and knobs, as files in
//! `/sys/kernel/debug/vsock_seqpacket/`: one read-only counter a file, one
//! file a violation kind under `violations/`, and two knobs:
//! `initial_counter`, the marker counter new connections start from (a test
//! knob for the 2^32 wrap; both ends must agree on it), and `markers`, which
//! when cleared makes new connections use upstream's EOM framing (so that a
//! benchmark can compare both framings in one boot).
//!
//! C header: [`include/linux/debugfs.h`](srctree/include/linux/debugfs.h)

use crate::proto::reasm::ViolationKind;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use kernel::{c_str, debugfs::Dir, str::CStr};

/// The module's counters. Only marker connections count records, so they
/// also tell a marker connection from a fallback one.
pub(crate) struct Stats {
    pub(crate) records_sent: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) records_received: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
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
pub(crate) struct Files {
    _dir: Dir,
}

impl Files {
    /// Creates `/sys/kernel/debug/vsock_seqpacket/` and its files.
    ///
    /// As everywhere in debugfs, a failure leaves the statistics unreadable
    /// but the module working, so it is not an error.
    pub(crate) fn new() -> Self {
        let dir = Dir::new(c_str!("vsock_seqpacket"));
        let s = &STATS;
        dir.u64(c_str!("records_sent"), &s.records_sent);
        dir.u64(c_str!("bytes_sent"), &s.bytes_sent);
        dir.u64(c_str!("records_received"), &s.records_received);
        dir.u64(c_str!("bytes_received"), &s.bytes_received);
        dir.u32_rw(c_str!("initial_counter"), &INITIAL_COUNTER);
        dir.bool_rw(c_str!("markers"), &MARKERS_ENABLED);

        let violations = dir.subdir(c_str!("violations"));
        for kind in ViolationKind::ALL {
            // debugfs copies the name, so a stack buffer does.
            let mut name = [0u8; 32];
            let text = kind.name().as_bytes();
            let len = text.len().min(name.len() - 1);
            name[..len].copy_from_slice(&text[..len]);
            if let Ok(name) = CStr::from_bytes_with_nul(&name[..=len]) {
                violations.u64(name, &s.violations[kind.index()]);
            }
        }
        Self { _dir: dir }
    }
}
