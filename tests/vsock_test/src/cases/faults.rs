//! Allocation faults injected into the sender's sendmsg() of marker
//! records, with /proc/thread-self/fail-nth (a kernel built with
//! FAULT_INJECTION, FAILSLAB and FAIL_PAGE_ALLOC: the debug kernel). Every
//! allocation of the send is failed in turn, until a send runs with no fault
//! left to inject; after a failed send the sender either retries the same
//! record or moves on to another. The reader must get exactly the records
//! whose send succeeded, whole, in order, and nothing else; no failure may
//! cost the connection.

use super::common::{expect_nothing_queued, expect_record, send_record};
use crate::harness::{CaseResult, Ctx, Dir, Fail, Outcome};
use crate::vsock;
use crate::{diag, ensure, pattern};
use std::fs;
use std::os::unix::fs::FileExt;

const FAIL_NTH: &str = "/proc/thread-self/fail-nth";
/// GFP_KERNEL allocations are exempt from fault injection unless these say
/// otherwise.
const IGNORE_GFP_WAIT: [&str; 2] = [
    "/sys/kernel/debug/failslab/ignore-gfp-wait",
    "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait",
];
/// A record of two data packets plus its markers.
const RECORD: usize = 100_000;
const MAX_NTH: u32 = 400;

fn seed(dir: Dir, index: u32) -> u64 {
    pattern::seed_of(&[50, dir as u64, u64::from(index)])
}

/// This thread's /proc/thread-self/fail-nth, opened once: opening it again
/// between arming and reading would itself allocate, and count.
struct FailNth(fs::File);

impl FailNth {
    fn open() -> Result<FailNth, Fail> {
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(FAIL_NTH)
            .map(FailNth)
            .map_err(|e| Fail::new(format!("{FAIL_NTH}: {e}")))
    }

    /// Arms the N-th allocation of this thread's next system calls to fail.
    fn arm(&self, n: u32) -> Result<(), Fail> {
        self.0
            .write_at(n.to_string().as_bytes(), 0)
            .map(drop)
            .map_err(|e| Fail::new(format!("{FAIL_NTH}: {e}")))
    }

    /// Whether the armed fault was injected; disarms what is left.
    fn injected(&self) -> Result<bool, Fail> {
        let mut buf = [0u8; 16];
        let n = self
            .0
            .read_at(&mut buf, 0)
            .map_err(|e| Fail::new(format!("{FAIL_NTH}: {e}")))?;
        self.arm(0)?;
        Ok(String::from_utf8_lossy(&buf[..n]).trim() == "0")
    }
}

pub fn fault_injection_sweep(ctx: &mut Ctx) -> CaseResult {
    let mine = if std::path::Path::new(FAIL_NTH).exists() {
        "ok".to_string()
    } else {
        format!("{FAIL_NTH} missing: this kernel has no fault injection (the debug kernel has)")
    };
    ctx.ctl.write_value("FAULTS", &mine)?;
    let theirs = ctx.ctl.expect_value("FAULTS")?;
    if mine != "ok" || theirs != "ok" {
        return Ok(Outcome::Skip(if mine != "ok" { mine } else { theirs }));
    }
    for dir in Dir::BOTH {
        let d = dir.name();
        let (fd, framing) = ctx.establish_framed()?;
        ensure!(framing.markers, "{d}: {}", framing.why);
        if ctx.sends(dir) {
            for f in IGNORE_GFP_WAIT {
                fs::write(f, "N").map_err(|e| Fail::new(format!("{f}: {e}")))?;
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
                fail_nth.arm(n)?;
                let sent = vsock::send(&fd, &record, libc::MSG_EOR);
                let hit = fail_nth.injected()?;
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
            for f in IGNORE_GFP_WAIT {
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
            loop {
                let line = ctx.ctl.readln("DELIVERED or END")?;
                if line == "END" {
                    break;
                }
                let id: u32 = line
                    .strip_prefix("DELIVERED ")
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| Fail::new(format!("bad line {line:?}")))?;
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
