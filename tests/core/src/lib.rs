//! Userspace build of the vsock-seqpacket protocol core.
//!
//! The kernel module includes the very same files (`src/proto`) as a submodule; this crate
//! compiles them as a `no_std` library so that they can be unit-tested, property-tested,
//! fuzzed and benchmarked in userspace.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[path = "../../../src/proto/mod.rs"]
mod proto;

// The module imports from the submodules; userspace gets one flat namespace.
pub use proto::{framer::*, reasm::*, wire::*};
