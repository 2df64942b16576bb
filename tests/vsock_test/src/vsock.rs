//! The AF_VSOCK calls the cases make (the vsock-seqpacket-socket crate,
//! shared with the benchmark), and how long the cases let one of them block.

use std::time::Duration;

pub use vsock_seqpacket_socket::*;

/// How long any single blocking socket call may take before the case fails
/// instead of hanging.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
