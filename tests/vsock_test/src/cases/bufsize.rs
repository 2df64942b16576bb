//! SO_VM_SOCKETS_BUFFER_SIZE decides the largest record: set before
//! connect()/accept(), the sender gets EMSGSIZE above it and success at it.

use super::common::{
    buffer_size, expect_nothing_queued, expect_record, send_expect_errno, send_record,
};
use crate::ensure;
use crate::harness::{CaseResult, Ctx, Dir, Outcome};
use crate::pattern;
use crate::vsock;

fn seed(phase: u64, dir: Dir, index: usize) -> u64 {
    pattern::seed_of(&[10, phase, dir as u64, index as u64])
}

/// One connection per direction and size: `receiver_only` sets the buffer
/// on the receiving side only (the sender keeps the default), otherwise on
/// both sides (6.12 caps a record at the smaller of the two).
fn phase(
    ctx: &mut Ctx,
    phase: u64,
    size: u64,
    receiver_only: bool,
) -> Result<(), crate::harness::Fail> {
    for dir in Dir::BOTH {
        let d = format!(
            "{} with a {size}-byte buffer on {}",
            dir.name(),
            if receiver_only {
                "the receiver"
            } else {
                "both sides"
            }
        );
        let sender = ctx.sends(dir);
        let set_here = !sender || !receiver_only;
        let fd = ctx.establish_with(&|fd| {
            if set_here {
                vsock::set_buffer_size(fd, size)
            } else {
                Ok(())
            }
        })?;
        let len = size as usize;
        if sender {
            let peer = ctx.ctl.expect_u64("BUFSIZE")?;
            ensure!(
                peer == size,
                "{d}: receiver reports SO_VM_SOCKETS_BUFFER_SIZE {peer}, expected {size}"
            );
            send_expect_errno(
                &fd,
                &vec![0x5a; len + 1],
                libc::EMSGSIZE,
                &format!("{d}: record of buffer + 1"),
            )?;
            // Two records of exactly the buffer: the second has to wait
            // until the reader has taken the first and returned the credit.
            send_record(
                &fd,
                &pattern::record(seed(phase, dir, 0), len),
                0,
                &format!("{d}: first record of exactly the buffer"),
            )?;
            send_record(
                &fd,
                &pattern::record(seed(phase, dir, 1), len),
                libc::MSG_EOR,
                &format!("{d}: second record of exactly the buffer"),
            )?;
            send_record(
                &fd,
                &pattern::record(seed(phase, dir, 2), 1),
                0,
                &format!("{d}: 1-byte record"),
            )?;
            ctx.ctl.writeln("SENT")?;
            ctx.ctl.expectln("RECEIVED")?;
        } else {
            // The accepted socket inherits the listener's size.
            let mine = buffer_size(&fd)?;
            ensure!(
                mine == size,
                "{d}: SO_VM_SOCKETS_BUFFER_SIZE of the connected socket is {mine}, expected {size}"
            );
            ctx.ctl.write_value("BUFSIZE", mine)?;
            expect_record(
                &fd,
                &pattern::record(seed(phase, dir, 0), len),
                Some(false),
                &format!("{d}: first record of exactly the buffer"),
            )?;
            expect_record(
                &fd,
                &pattern::record(seed(phase, dir, 1), len),
                Some(true),
                &format!("{d}: second record of exactly the buffer"),
            )?;
            expect_record(
                &fd,
                &pattern::record(seed(phase, dir, 2), 1),
                Some(false),
                &format!("{d}: 1-byte record"),
            )?;
            ctx.ctl.expectln("SENT")?;
            expect_nothing_queued(&fd, &d)?;
            ctx.ctl.writeln("RECEIVED")?;
        }
    }
    Ok(())
}

/// A receiver with a 64 KiB buffer: EMSGSIZE at 64 KiB + 1, success at
/// 64 KiB. Then both sides at 1 MiB, four times the default.
pub fn buffer_size_limits(ctx: &mut Ctx) -> CaseResult {
    phase(ctx, 0, 64 * 1024, true)?;
    phase(ctx, 1, 1024 * 1024, false)?;
    Ok(Outcome::Pass)
}
