// SPDX-License-Identifier: GPL-2.0

//! Protocol core of SOCK_SEQPACKET record framing for virtio-vsock (SEQ_BEGIN / SEQ_END).
//!
//! Pure logic, and only what the module runs: the marker payload and the op/flag values it
//! needs, the sender's record plan, the receiver's reassembler and the violation kinds. It uses
//! only `core`, allocates nothing, has no `unsafe` and never panics, so the same files build
//! into the kernel module and into the userspace tests.

pub mod framer;
pub mod reasm;
pub mod wire;
