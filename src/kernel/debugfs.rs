// SPDX-License-Identifier: GPL-2.0

//! Debugfs: directories of files that show, and let root set, values of
//! the kernel.
//!
//! As everywhere in debugfs, creating a file may fail without an error:
//! the value is then not visible, and nothing else changes.
//!
//! C header: [`include/linux/debugfs.h`](srctree/include/linux/debugfs.h)

use crate::{bindings, str::CStr};
use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};

/// A directory in debugfs; see [`Dir`] and [`SubDir`].
///
/// # Invariants
///
/// `dentry` is what `debugfs_create_dir()` returned, a dentry or an error
/// pointer (both accepted as a parent), and is not removed while `self`
/// lives.
pub struct Entry {
    dentry: *mut bindings::dentry,
}

impl Entry {
    fn create_dir(name: &CStr, parent: *mut bindings::dentry) -> Self {
        // SAFETY: `name` is NUL-terminated and `parent` null or a live dentry.
        let dentry = unsafe { bindings::debugfs_create_dir(name.as_char_ptr(), parent) };
        // INVARIANT: Returned by `debugfs_create_dir()`.
        Self { dentry }
    }

    /// Creates a subdirectory, removed with this directory.
    pub fn subdir(&self, name: &CStr) -> SubDir<'_> {
        SubDir(Self::create_dir(name, self.dentry), PhantomData)
    }

    /// Creates a read-only file showing `value`.
    pub fn u64(&self, name: &CStr, value: &'static AtomicU64) {
        // `AtomicU64` has the in-memory representation of `u64`, and debugfs
        // reads it with a single load.
        // SAFETY: `name` is NUL-terminated, the parent is valid by the type
        // invariant, and `value` is a static, so it outlives the file.
        unsafe {
            bindings::debugfs_create_u64(name.as_char_ptr(), 0o444, self.dentry, value.as_ptr())
        };
    }

    /// Creates a file that shows `value` and lets root set it.
    pub fn u32_rw(&self, name: &CStr, value: &'static AtomicU32) {
        // SAFETY: As in `u64`; debugfs also stores to the value, which
        // `AtomicU32` allows through its pointer.
        unsafe {
            bindings::debugfs_create_u32(name.as_char_ptr(), 0o644, self.dentry, value.as_ptr())
        };
    }

    /// Creates a file that shows `value` and lets root set it.
    pub fn bool_rw(&self, name: &CStr, value: &'static AtomicBool) {
        // SAFETY: As in `u32_rw`, for a `bool`.
        unsafe {
            bindings::debugfs_create_bool(name.as_char_ptr(), 0o644, self.dentry, value.as_ptr())
        };
    }
}

/// A top-level debugfs directory, removed with everything in it on drop.
pub struct Dir(Entry);

// SAFETY: The dentry is only handed back to debugfs, which does its own
// locking, so the handle may move between threads.
unsafe impl Send for Dir {}

// SAFETY: Every method through `&Dir` is a debugfs call, which is safe to
// make from several threads.
unsafe impl Sync for Dir {}

impl Dir {
    /// Creates `/sys/kernel/debug/<name>/`.
    pub fn new(name: &CStr) -> Self {
        Self(Entry::create_dir(name, core::ptr::null_mut()))
    }
}

impl core::ops::Deref for Dir {
    type Target = Entry;

    fn deref(&self) -> &Entry {
        &self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: By the invariant of `Entry`; the files go before the
        // statics they show, and every `SubDir` borrowed from this is gone.
        unsafe { bindings::debugfs_remove(self.0.dentry) };
    }
}

/// A directory inside a [`Dir`], removed with it.
pub struct SubDir<'a>(Entry, PhantomData<&'a Entry>);

impl core::ops::Deref for SubDir<'_> {
    type Target = Entry;

    fn deref(&self) -> &Entry {
        &self.0
    }
}
