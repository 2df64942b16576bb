//! Allocation faults injected into the sender's sendmsg() of marker
//! records, with /proc/thread-self/fail-nth (a kernel built with
//! FAULT_INJECTION, FAILSLAB and FAIL_PAGE_ALLOC: the debug kernel). Every
//! allocation of the send is failed in turn, until a send runs with no fault
//! left to inject; after a failed send the sender either retries the same
//! record or moves on to another. The reader must get exactly the records
//! whose send succeeded, whole, in order, and nothing else; no failure may
//! cost the connection.

use super::common::{expect_nothing_queued, expect_record, send_record};
use super::faultkit::{self, FailNth, FAILSLAB, FAIL_PAGE_ALLOC};
use crate::harness::{CaseResult, Ctx, Dir, Fail, Outcome};
use crate::vsock;
use crate::{diag, ensure, pattern};
use std::fs;

/// GFP_KERNEL allocations are exempt from fault injection unless this says
/// otherwise, in both attribute directories.
fn ignore_gfp_wait() -> [String; 2] {
    [FAILSLAB, FAIL_PAGE_ALLOC].map(|a| format!("{a}/ignore-gfp-wait"))
}

/// A record of two data packets plus its markers.
const RECORD: usize = 100_000;
const MAX_NTH: u32 = 400;

fn seed(dir: Dir, index: u32) -> u64 {
    pattern::seed_of(&[50, dir as u64, u64::from(index)])
}

pub fn fault_injection_sweep(ctx: &mut Ctx) -> CaseResult {
    if let Some(why) = faultkit::agree(ctx, "FAULTS", &[])? {
        return Ok(Outcome::Skip(why));
    }
    for dir in Dir::BOTH {
        let d = dir.name();
        let (fd, framing) = ctx.establish_framed()?;
        ensure!(framing.markers, "{d}: {}", framing.why);
        if ctx.sends(dir) {
            for f in ignore_gfp_wait() {
                fs::write(&f, "N").map_err(|e| Fail::new(format!("{f}: {e}")))?;
            }
            let fail_nth = FailNth::open()?;
            let (mut delivered, mut failed, mut next) = (Vec::new(), 0u32, 0u32);
            let mut n = 1;
            loop {
                ensure!(
                    n <= MAX_NTH,
                    "{d}: still injecting faults at allocation {MAX_NTH}"
                );
                let record = pattern::record(seed(dir, next), RECORD);
                let (sent, hit) = fail_nth.fail(n, || vsock::send(&fd, &record, libc::MSG_EOR))?;
                match sent {
                    Ok(len) if len == RECORD => {
                        delivered.push(next);
                        // The reader takes each record at once: credit
                        // never runs out, so no send waits.
                        ctx.ctl.write_value("DELIVERED", next)?;
                    }
                    Ok(len) => {
                        return Err(Fail::new(format!("{d}: fault {n}: send returned {len}")))
                    }
                    Err(e)
                        if hit
                            && matches!(
                                e.raw_os_error(),
                                Some(libc::ENOMEM | libc::ENOBUFS | libc::EFAULT)
                            ) =>
                    {
                        failed += 1
                    }
                    Err(e) => {
                        return Err(Fail::new(format!(
                            "{d}: fault {n} (injected: {hit}): send failed with {}",
                            vsock::errno_name(&e)
                        )))
                    }
                }
                // After a failure, odd faults retry the record, even ones
                // give it up for the next one.
                if !hit {
                    break;
                }
                if delivered.last() == Some(&next) || n % 2 == 0 {
                    next += 1;
                }
                n += 1;
            }
            // The connection is intact: one more record, with no fault.
            next += 1;
            send_record(
                &fd,
                &pattern::record(seed(dir, next), RECORD),
                libc::MSG_EOR,
                d,
            )?;
            delivered.push(next);
            ctx.ctl.write_value("DELIVERED", next)?;
            for f in ignore_gfp_wait() {
                let _ = fs::write(f, "Y");
            }
            diag!(
                "{d}: faults 1..{} injected, {failed} sends failed cleanly, {} records sent",
                n - 1,
                delivered.len()
            );
            ctx.ctl.writeln("END")?;
            ctx.ctl.expectln("RECEIVED")?;
        } else {
            while let Some(id) = faultkit::next_delivered(ctx)? {
                let what = format!("{d}: record {id}");
                expect_record(
                    &fd,
                    &pattern::record(seed(dir, id), RECORD),
                    Some(true),
                    &what,
                )?;
            }
            expect_nothing_queued(&fd, d)?;
            ctx.ctl.writeln("RECEIVED")?;
        }
    }
    Ok(Outcome::Pass)
}
