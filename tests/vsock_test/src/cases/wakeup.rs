//! When a reader may be woken: only for a whole record. Blocking and
//! non-blocking reads with nothing complete must time out / return EAGAIN.

use super::common::{expect_nothing_queued, expect_record, send_record, SLACK};
use crate::harness::{CaseResult, Ctx, Dir, Fail, Outcome};
use crate::pattern;
use crate::vsock::{self, Fd};
use crate::{diag, ensure};
use std::time::{Duration, Instant};

const BIG: usize = 200 * 1024;

fn seed(dir: Dir, index: usize) -> u64 {
    pattern::seed_of(&[9, dir as u64, index as u64])
}

/// What a reader that polls until POLLIN and then reads without blocking
/// saw, until `want` arrived whole.
#[derive(Default)]
struct PollWatch {
    /// POLLIN reported while no whole record could be read.
    early_pollin: usize,
    /// Polls that (rightly) reported nothing while the record was incomplete.
    quiet_polls: usize,
}

/// Polls `fd` (the first time without waiting) and reads with MSG_DONTWAIT
/// whenever POLLIN is reported, until the record `want` has been read, and
/// says what the polls saw; any other record, a part of one, or nothing
/// within the I/O timeout fails.
fn poll_until_record(fd: &Fd, want: &[u8], what: &str) -> Result<PollWatch, Fail> {
    let mut watch = PollWatch::default();
    let mut buf = vec![0u8; want.len() + SLACK];
    let deadline = Instant::now() + vsock::IO_TIMEOUT;
    let mut wait = Duration::ZERO;
    loop {
        ensure!(
            Instant::now() < deadline,
            "{what}: the {}-byte record was not readable within {} s ({} polls reported POLLIN without a readable record)",
            want.len(),
            vsock::IO_TIMEOUT.as_secs(),
            watch.early_pollin
        );
        let revents =
            vsock::poll(fd, libc::POLLIN, wait).map_err(|e| format!("{what}: poll: {e}"))?;
        wait = Duration::from_millis(20);
        let pollin = revents & libc::POLLIN != 0;
        match vsock::recvmsg(fd, &mut buf, libc::MSG_DONTWAIT) {
            Ok(r) => {
                super::common::check_received(&r, &buf, want, None, what)?;
                diag!(
                    "{what}: {} early POLLIN, {} quiet polls while incomplete",
                    watch.early_pollin,
                    watch.quiet_polls
                );
                return Ok(watch);
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                if pollin {
                    watch.early_pollin += 1;
                } else {
                    watch.quiet_polls += 1;
                }
            }
            Err(e) => {
                return Err(Fail::new(format!(
                    "{what}: recv(MSG_DONTWAIT): expected the record or EAGAIN, got {}",
                    vsock::errno_name(&e)
                )))
            }
        }
    }
}

/// A 200 KiB record sent with one send() wakes a polling reader only once
/// it is whole. Then the same for a record deliberately stalled half-way:
/// after a complete 200 KiB record, a second one fills the rest of the
/// peer's 256 KiB buffer and its sender waits for credit until the reader
/// takes the first, so right after that read the second is still partial.
pub fn no_wakeup_on_partial_record(ctx: &mut Ctx) -> CaseResult {
    let (fd, framing) = ctx.establish_framed()?;
    let mut early_total = 0;
    for dir in Dir::BOTH {
        let d = dir.name();
        let a = pattern::record(seed(dir, 0), BIG);
        let b1 = pattern::record(seed(dir, 1), BIG);
        let b2 = pattern::record(seed(dir, 2), BIG);
        if ctx.sends(dir) {
            ctx.ctl.expectln("POLLING")?;
            send_record(&fd, &a, 0, &format!("{d}: 200 KiB record A in one send()"))?;
            ctx.ctl.writeln("SENT")?;
            ctx.ctl.expectln("READY")?;
            send_record(&fd, &b1, 0, &format!("{d}: record B1"))?;
            ctx.ctl.writeln("B1_SENT")?;
            // Blocks for credit until the reader takes B1.
            send_record(
                &fd,
                &b2,
                0,
                &format!("{d}: record B2 (waits for credit half-way)"),
            )?;
            ctx.ctl.writeln("B2_SENT")?;
            ctx.ctl.expectln("RECEIVED")?;
            continue;
        }

        ctx.ctl.writeln("POLLING")?;
        let w = poll_until_record(&fd, &a, &format!("{d}: record A"))?;
        ctx.ctl.expectln("SENT")?;
        early_total += w.early_pollin;

        ctx.ctl.writeln("READY")?;
        ctx.ctl.expectln("B1_SENT")?;
        // Let the first part of B2 arrive and its sender block for credit.
        std::thread::sleep(Duration::from_millis(300));
        expect_record(
            &fd,
            &b1,
            None,
            &format!("{d}: record B1 (B2 partly queued behind it)"),
        )?;
        let w = poll_until_record(&fd, &b2, &format!("{d}: record B2"))?;
        ctx.ctl.expectln("B2_SENT")?;
        early_total += w.early_pollin;
        expect_nothing_queued(&fd, d)?;
        ctx.ctl.writeln("RECEIVED")?;
    }
    if !framing.markers {
        return Ok(Outcome::Skip(format!(
            "{}: upstream EOM framing may report POLLIN for a partial record, so only whole delivery was checked",
            framing.why
        )));
    }
    ensure!(
        early_total == 0,
        "poll() reported POLLIN {early_total} times while no whole record was queued (recv(MSG_DONTWAIT) then gave EAGAIN); expected POLLIN only once a record is complete"
    );
    Ok(Outcome::Pass)
}

/// With nothing sent, a blocking recv() with SO_RCVTIMEO = 2 s returns
/// EAGAIN after about 2 s, recv(MSG_DONTWAIT) returns EAGAIN at once and
/// poll() reports nothing; the connection then still carries records.
pub fn recv_timeout_no_record(ctx: &mut Ctx) -> CaseResult {
    let fd = ctx.establish()?;
    let timeout = Duration::from_secs(2);
    for dir in Dir::BOTH {
        let d = dir.name();
        let rec = pattern::record(seed(dir, 9), 1000);
        if ctx.sends(dir) {
            ctx.ctl.expectln("WAITED")?;
            send_record(&fd, &rec, 0, d)?;
            ctx.ctl.writeln("SENT")?;
            ctx.ctl.expectln("RECEIVED")?;
            continue;
        }
        vsock::set_recv_timeout(&fd, timeout).map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
        let mut buf = [0u8; 64];
        let t0 = Instant::now();
        let r = vsock::recvmsg(&fd, &mut buf, 0);
        let took = t0.elapsed();
        match r {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
            other => {
                return Err(Fail::new(format!(
                    "{d}: blocking recv with SO_RCVTIMEO 2 s and nothing sent: expected EAGAIN, got {other:?} after {took:?}"
                )))
            }
        }
        ensure!(
            took >= Duration::from_millis(1900) && took <= Duration::from_millis(3500),
            "{d}: blocking recv with SO_RCVTIMEO 2 s returned EAGAIN after {took:?}, expected about 2 s"
        );
        let t0 = Instant::now();
        match vsock::recvmsg(&fd, &mut buf, libc::MSG_DONTWAIT) {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
            other => {
                return Err(Fail::new(format!(
                    "{d}: recv(MSG_DONTWAIT) with nothing sent: expected EAGAIN, got {other:?}"
                )))
            }
        }
        let took = t0.elapsed();
        ensure!(
            took < Duration::from_millis(500),
            "{d}: recv(MSG_DONTWAIT) took {took:?}, expected it not to wait"
        );
        let revents = vsock::poll(&fd, libc::POLLIN, Duration::from_millis(200))
            .map_err(|e| format!("poll: {e}"))?;
        ensure!(
            revents & libc::POLLIN == 0,
            "{d}: poll(POLLIN) with nothing sent reported revents {revents:#x}"
        );
        vsock::set_recv_timeout(&fd, vsock::IO_TIMEOUT).map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
        ctx.ctl.writeln("WAITED")?;
        ctx.ctl.expectln("SENT")?;
        expect_record(&fd, &rec, None, &format!("{d}: record after the timeouts"))?;
        ctx.ctl.writeln("RECEIVED")?;
    }
    Ok(Outcome::Pass)
}
