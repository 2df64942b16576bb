//! Closing and shutting down in the middle of a stream of records: complete
//! records are still delivered, then EOF; nothing hangs.

use super::common::{expect_record, send_record};
use crate::harness::{CaseResult, Ctx, Dir, Fail, Outcome};
use crate::pattern;
use crate::vsock::{self, Fd};
use crate::{diag, ensure};
use std::time::{Duration, Instant};

fn seed(case: u64, dir: Dir, index: usize) -> u64 {
    pattern::seed_of(&[case, dir as u64, index as u64])
}

/// After the peer closed or shut down its sending side, reads must return
/// 0 (EOF) or an error at once, and keep doing so; a read that times out
/// means the reader was never told.
fn expect_eof(fd: &Fd, what: &str) -> Result<(), Fail> {
    for attempt in 0..2 {
        let mut buf = [0u8; 64];
        let t0 = Instant::now();
        match vsock::recvmsg(fd, &mut buf, 0) {
            Ok(r) if r.len == 0 => {}
            Ok(r) => {
                return Err(Fail::new(format!(
                    "{what}: read {attempt} after the last record: expected EOF, got a {}-byte record",
                    r.len
                )))
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                return Err(Fail::new(format!(
                    "{what}: read {attempt} after the last record: expected EOF, but recv blocked for {:?} and timed out",
                    t0.elapsed()
                )))
            }
            Err(e) => diag!("{what}: read {attempt} after the last record: {} (accepted as end of connection)", vsock::errno_name(&e)),
        }
    }
    Ok(())
}

/// The sender sends five records and closes before the reader has read
/// anything; the reader gets exactly those five, then EOF.
pub fn close_after_records(ctx: &mut Ctx) -> CaseResult {
    let plan = [
        (1, true),
        (4096, false),
        (65537, true),
        (100_000, false),
        (7, true),
    ];
    for dir in Dir::BOTH {
        let d = dir.name();
        let fd = ctx.establish()?;
        if ctx.sends(dir) {
            for (i, &(len, eor)) in plan.iter().enumerate() {
                let flags = if eor { libc::MSG_EOR } else { 0 };
                send_record(
                    &fd,
                    &pattern::record(seed(13, dir, i), len),
                    flags,
                    &format!("{d}: record {i}"),
                )?;
            }
            drop(fd);
            ctx.ctl.writeln("CLOSED")?;
            ctx.ctl.expectln("RECEIVED")?;
        } else {
            ctx.ctl.expectln("CLOSED")?;
            for (i, &(len, eor)) in plan.iter().enumerate() {
                let want = pattern::record(seed(13, dir, i), len);
                expect_record(
                    &fd,
                    &want,
                    Some(eor),
                    &format!("{d}: record {i} of {} sent before close", plan.len()),
                )?;
            }
            expect_eof(&fd, d)?;
            ctx.ctl.writeln("RECEIVED")?;
        }
    }
    Ok(Outcome::Pass)
}

/// shutdown(SHUT_WR) after three records: the reader gets them, then EOF,
/// and can still send back; the shut side gets EPIPE when it sends.
pub fn shutdown_write_after_records(ctx: &mut Ctx) -> CaseResult {
    let plan = [(100, false), (70000, true), (1, false)];
    for dir in Dir::BOTH {
        let d = dir.name();
        let fd = ctx.establish()?;
        let reply = pattern::record(seed(14, dir, 99), 333);
        if ctx.sends(dir) {
            for (i, &(len, eor)) in plan.iter().enumerate() {
                let flags = if eor { libc::MSG_EOR } else { 0 };
                send_record(
                    &fd,
                    &pattern::record(seed(14, dir, i), len),
                    flags,
                    &format!("{d}: record {i}"),
                )?;
            }
            vsock::shutdown(&fd, libc::SHUT_WR)
                .map_err(|e| format!("{d}: shutdown(SHUT_WR): {e}"))?;
            ctx.ctl.writeln("SHUT")?;
            ctx.ctl.expectln("REPLIED")?;
            expect_record(
                &fd,
                &reply,
                None,
                &format!("{d}: reply to the side that shut its writing down"),
            )?;
            match vsock::send(&fd, b"late", 0) {
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {}
                other => {
                    return Err(Fail::new(format!(
                        "{d}: send after shutdown(SHUT_WR): expected EPIPE, got {other:?}"
                    )))
                }
            }
            ctx.ctl.writeln("CHECKED")?;
        } else {
            ctx.ctl.expectln("SHUT")?;
            for (i, &(len, eor)) in plan.iter().enumerate() {
                let want = pattern::record(seed(14, dir, i), len);
                expect_record(
                    &fd,
                    &want,
                    Some(eor),
                    &format!("{d}: record {i} sent before SHUT_WR"),
                )?;
            }
            expect_eof(&fd, d)?;
            send_record(
                &fd,
                &reply,
                0,
                &format!("{d}: reply after the peer's SHUT_WR"),
            )?;
            ctx.ctl.writeln("REPLIED")?;
            ctx.ctl.expectln("CHECKED")?;
        }
    }
    Ok(Outcome::Pass)
}

/// The reader closes while the sender is blocked half-way through a record
/// for lack of credit: the blocked send() must fail promptly (EPIPE or
/// ECONNRESET), not wait out its timeout, and the records before it count
/// as sent.
pub fn close_while_sender_blocked(ctx: &mut Ctx) -> CaseResult {
    const LEN: usize = 100_000;
    for dir in Dir::BOTH {
        let d = dir.name();
        let fd = ctx.establish()?;
        if !ctx.sends(dir) {
            ctx.ctl.expectln("BLOCKED")?;
            drop(fd);
            ctx.ctl.writeln("CLOSED")?;
            ctx.ctl.expectln("CHECKED")?;
            continue;
        }
        let (sent, err, took) = std::thread::scope(|s| -> Result<_, Fail> {
            let writer = s.spawn(|| {
                let mut sent = 0;
                for i in 0..16 {
                    let rec = pattern::record(seed(15, dir, i), LEN);
                    if let Err(e) = vsock::send(&fd, &rec, 0) {
                        return (sent, Some(e), Instant::now());
                    }
                    sent += 1;
                }
                (sent, None, Instant::now())
            });
            // 256 KiB of credit take two records and part of the third.
            std::thread::sleep(Duration::from_millis(500));
            ctx.ctl.writeln("BLOCKED")?;
            ctx.ctl.expectln("CLOSED")?;
            let closed = Instant::now();
            let (sent, err, end) = writer
                .join()
                .map_err(|_| Fail::new("writer thread panicked"))?;
            Ok((sent, err, end.saturating_duration_since(closed)))
        })?;
        let Some(err) = err else {
            return Err(Fail::new(format!(
                "{d}: all 16 records of {LEN} bytes were sent although the reader read nothing and closed; expected the sender to block and then fail"
            )));
        };
        ensure!(
            err.raw_os_error() != Some(libc::EAGAIN),
            "{d}: blocked send() was not woken by the peer's close: it timed out with EAGAIN after SO_SNDTIMEO ({} s)",
            vsock::IO_TIMEOUT.as_secs()
        );
        ensure!(
            matches!(
                err.raw_os_error(),
                Some(libc::EPIPE) | Some(libc::ECONNRESET)
            ),
            "{d}: blocked send() after the peer closed: expected EPIPE or ECONNRESET, got {}",
            vsock::errno_name(&err)
        );
        ensure!(
            sent >= 1,
            "{d}: no record of {LEN} bytes went out before the sender blocked; the peer's buffer should hold two"
        );
        diag!("{d}: {sent} records sent, then the blocked send failed with {} {took:?} after the close", vsock::errno_name(&err));
        ctx.ctl.writeln("CHECKED")?;
    }
    Ok(Outcome::Pass)
}
