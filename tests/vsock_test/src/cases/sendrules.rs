//! All-or-nothing record sends: a send that times out, is interrupted by a
//! signal or finds too little credit sends nothing of its record, and the
//! connection lives on. Upstream 6.12 sent part of the record and merged its
//! rest into the next one; with markers the project reset the connection.

use super::common::{
    agree_record_len, expect_nothing_queued, expect_record, record_limit, send_record,
};
use crate::harness::{CaseResult, Ctx, Dir, Fail, Outcome};
use crate::vsock;
use crate::{diag, ensure, pattern};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn seed(case: u64, dir: Dir, index: usize) -> u64 {
    pattern::seed_of(&[case, dir as u64, index as u64])
}

extern "C" fn ignore_signal(_: libc::c_int) {}

/// Interrupts the calling thread with SIGUSR1 after `first`, then every
/// `every` (if given), until dropped. The handler does nothing and is
/// installed without SA_RESTART, so a blocked send() returns EINTR.
pub(super) struct Interrupter {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Interrupter {
    pub(super) fn start(first: Duration, every: Option<Duration>) -> Interrupter {
        // SAFETY: installs a handler that does nothing; sigaction is
        // zeroed plain data.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = ignore_signal as *const () as usize;
            libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
        }
        // SAFETY: plain libc call.
        let target = unsafe { libc::pthread_self() };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(first);
            while !flag.load(Ordering::Relaxed) {
                // SAFETY: `target` is the thread that owns this value, alive
                // until `drop` joins us.
                unsafe { libc::pthread_kill(target, libc::SIGUSR1) };
                match every {
                    Some(d) => std::thread::sleep(d),
                    None => break,
                }
            }
        });
        Interrupter {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Interrupter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How the blocked send of the merge cases is made to give up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum GiveUp {
    Timeout,
    Signal,
}

/// The receiver's buffer fills with a record of 2/5 of it; a record of 4/5
/// then waits for credit and gives up. The sender's next records are one of
/// exactly the length a partial send would have left unsent, then one of
/// another length: the reader must get the first record, then these two,
/// whole and apart, and the connection must live on.
fn merge_case(ctx: &mut Ctx, case: u64, how: GiveUp) -> CaseResult {
    for dir in Dir::BOTH {
        let d = dir.name();
        let fd = ctx.establish()?;
        if ctx.sends(dir) {
            let peer_buf = ctx.ctl.expect_u64("BUFSIZE")?;
            let limit = record_limit(&fd, peer_buf)?;
            let (filler, big) = (limit * 2 / 5, limit * 4 / 5);
            let unsent = big - (limit - filler);
            let plan = [filler, unsent, 1000];
            ctx.ctl.write_value("PLAN", format!("{filler} {unsent}"))?;
            send_record(
                &fd,
                &pattern::record(seed(case, dir, 0), filler),
                libc::MSG_EOR,
                d,
            )?;
            let record = pattern::record(seed(case, dir, 99), big);
            let (result, want) = match how {
                GiveUp::Timeout => {
                    vsock::set_send_timeout(&fd, Duration::from_millis(300))
                        .map_err(|e| format!("SO_SNDTIMEO: {e}"))?;
                    let r = vsock::send_once(&fd, &record, 0);
                    vsock::set_send_timeout(&fd, vsock::IO_TIMEOUT)
                        .map_err(|e| format!("SO_SNDTIMEO: {e}"))?;
                    (r, libc::EAGAIN)
                }
                GiveUp::Signal => {
                    let _irq = Interrupter::start(Duration::from_millis(300), None);
                    (vsock::send_once(&fd, &record, 0), libc::EINTR)
                }
            };
            match result {
                Err(e) if e.raw_os_error() == Some(want) => {}
                other => {
                    return Err(Fail::new(format!(
                    "{d}: a {big}-byte record with credit for {} bytes: expected {}, got {other:?}",
                    limit - filler,
                    vsock::errno_name(&std::io::Error::from_raw_os_error(want))
                )))
                }
            }
            for (i, &len) in plan.iter().enumerate().skip(1) {
                send_record(
                    &fd,
                    &pattern::record(seed(case, dir, i), len),
                    libc::MSG_EOR,
                    &format!("{d}: record {i} ({len} bytes) after the send that gave up"),
                )?;
            }
            ctx.ctl.writeln("SENT")?;
            ctx.ctl.expectln("RECEIVED")?;
        } else {
            let buf = vsock::buffer_size(&fd).map_err(|e| format!("buffer size: {e}"))?;
            ctx.ctl.write_value("BUFSIZE", buf)?;
            let plan = ctx.ctl.expect_value("PLAN")?;
            let lens: Vec<usize> = plan.split(' ').filter_map(|s| s.parse().ok()).collect();
            ensure!(lens.len() == 2, "bad PLAN line {plan:?}");
            ctx.ctl.expectln("SENT")?;
            for (i, &len) in [lens[0], lens[1], 1000].iter().enumerate() {
                expect_record(
                    &fd,
                    &pattern::record(seed(case, dir, i), len),
                    Some(true),
                    &format!("{d}: record {i} ({len} bytes; a merged record would be longer)"),
                )?;
            }
            expect_nothing_queued(&fd, d)?;
            ctx.ctl.writeln("RECEIVED")?;
        }
    }
    Ok(Outcome::Pass)
}

/// SO_SNDTIMEO ends a send that waits for credit: EAGAIN, nothing sent.
pub fn timed_out_send_sends_nothing(ctx: &mut Ctx) -> CaseResult {
    merge_case(ctx, 30, GiveUp::Timeout)
}

/// A signal ends a send that waits for credit: EINTR, nothing sent.
pub fn interrupted_send_sends_nothing(ctx: &mut Ctx) -> CaseResult {
    merge_case(ctx, 31, GiveUp::Signal)
}

/// The reader of the retry cases: `count` records, each whole and with
/// MSG_EOR, a pause before each, then nothing more; tells the sender.
fn read_slowly(
    ctx: &mut Ctx,
    fd: &vsock::Fd,
    d: &str,
    count: usize,
    pause: Duration,
    record: impl Fn(usize) -> Vec<u8>,
) -> Result<(), Fail> {
    for i in 0..count {
        std::thread::sleep(pause);
        expect_record(fd, &record(i), Some(true), &format!("{d}: record {i}"))?;
    }
    expect_nothing_queued(fd, d)?;
    ctx.ctl.writeln("RECEIVED")
}

const RETRY_BUF: u64 = 64 * 1024;
const RETRY_RECORD: usize = 60 * 1024;
const RETRY_COUNT: usize = 40;

/// A MSG_DONTWAIT sender of records near the buffer size, to a slow reader:
/// every EAGAIN leaves the connection intact, poll(POLLOUT) reports room
/// only when the record that waits fits, and every record arrives.
pub fn nonblocking_send_retries(ctx: &mut Ctx) -> CaseResult {
    for dir in Dir::BOTH {
        let d = dir.name();
        let fd = ctx.establish_with(&|fd| vsock::set_buffer_size(fd, RETRY_BUF))?;
        if ctx.sends(dir) {
            let (mut eagain, mut false_pollout) = (0usize, 0usize);
            for i in 0..RETRY_COUNT {
                let record = pattern::record(seed(32, dir, i), RETRY_RECORD);
                let mut polled = false;
                loop {
                    match vsock::send(&fd, &record, libc::MSG_DONTWAIT | libc::MSG_EOR) {
                        Ok(n) if n == record.len() => break,
                        Ok(n) => return Err(Fail::new(format!("{d}: record {i}: send returned {n}"))),
                        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                            eagain += 1;
                            if polled {
                                false_pollout += 1;
                            }
                            let ev = vsock::poll(&fd, libc::POLLOUT, vsock::IO_TIMEOUT)
                                .map_err(|e| format!("{d}: poll: {e}"))?;
                            ensure!(
                                ev & libc::POLLOUT != 0,
                                "{d}: record {i}: no POLLOUT within {:?} (revents {ev:#x})",
                                vsock::IO_TIMEOUT
                            );
                            polled = true;
                        }
                        Err(e) => {
                            return Err(Fail::new(format!(
                                "{d}: record {i} after {eagain} EAGAINs: {} (the connection must survive)",
                                vsock::errno_name(&e)
                            )))
                        }
                    }
                }
            }
            diag!("{d}: {RETRY_COUNT} records of {RETRY_RECORD} bytes, {eagain} EAGAIN, {false_pollout} POLLOUT followed by EAGAIN");
            ensure!(
                false_pollout == 0,
                "{d}: poll() reported POLLOUT {false_pollout} times when the record did not fit"
            );
            ctx.ctl.expectln("RECEIVED")?;
        } else {
            read_slowly(ctx, &fd, d, RETRY_COUNT, Duration::from_millis(5), |i| {
                pattern::record(seed(32, dir, i), RETRY_RECORD)
            })?;
        }
    }
    Ok(Outcome::Pass)
}

const STORM_RECORDS: usize = 24;

/// A blocking sender of records of half the buffer, interrupted by a signal
/// every millisecond, retries each EINTR: no record is lost, merged or cut,
/// and the connection is never reset.
pub fn sender_under_signal_storm(ctx: &mut Ctx) -> CaseResult {
    for dir in Dir::BOTH {
        let d = dir.name();
        let fd = ctx.establish()?;
        let len = agree_record_len(ctx, &fd, dir, |limit| limit / 2)?;
        if ctx.sends(dir) {
            let mut eintr = 0usize;
            {
                let _irq = Interrupter::start(Duration::ZERO, Some(Duration::from_millis(1)));
                for i in 0..STORM_RECORDS {
                    let record = pattern::record(seed(33, dir, i), len);
                    loop {
                        match vsock::send_once(&fd, &record, libc::MSG_EOR) {
                            Ok(n) if n == len => break,
                            Err(e) if e.raw_os_error() == Some(libc::EINTR) => eintr += 1,
                            other => {
                                return Err(Fail::new(format!(
                                    "{d}: record {i} after {eintr} EINTRs: {other:?} (the connection must survive)"
                                )))
                            }
                        }
                    }
                }
            }
            diag!("{d}: {STORM_RECORDS} records of {len} bytes, {eintr} sends interrupted and retried");
            ctx.ctl.expectln("RECEIVED")?;
        } else {
            read_slowly(ctx, &fd, d, STORM_RECORDS, Duration::from_millis(3), |i| {
                pattern::record(seed(33, dir, i), len)
            })?;
        }
    }
    Ok(Outcome::Pass)
}

const ASK_SMALL: usize = 64;
const ASK_SMALL_COUNT: usize = 16;

/// A marker connection's reader does not return credit after every record,
/// only when the sender may need it, so a sender whose record needs more
/// than the credit it knows of asks for it (CREDIT_REQUEST). Small records
/// leave a little credit unacknowledged, then comes a record of the whole
/// buffer: first once the reader has taken the small ones (the answer to the
/// request returns the credit), then while the reader takes them only later
/// (the reader remembers the request and updates once it has caught up).
/// Each big record must go out within SO_SNDTIMEO: a sender that never got
/// the credit back would wait for good.
pub fn credit_request_big_record(ctx: &mut Ctx) -> CaseResult {
    for dir in Dir::BOTH {
        let d = dir.name();
        let fd = ctx.establish()?;
        let limit = agree_record_len(ctx, &fd, dir, |limit| limit)?;
        if ctx.sends(dir) {
            vsock::set_send_timeout(&fd, Duration::from_secs(5))
                .map_err(|e| format!("SO_SNDTIMEO: {e}"))?;
            for (round, reader_first) in [true, false].into_iter().enumerate() {
                for i in 0..ASK_SMALL_COUNT {
                    send_record(
                        &fd,
                        &pattern::record(seed(35, dir, round * 100 + i), ASK_SMALL),
                        libc::MSG_EOR,
                        &format!("{d}: round {round}: small record {i}"),
                    )?;
                }
                if reader_first {
                    ctx.ctl.expectln("TAKEN")?;
                }
                let t = Instant::now();
                send_record(
                    &fd,
                    &pattern::record(seed(35, dir, round * 100 + 99), limit),
                    libc::MSG_EOR,
                    &format!(
                        "{d}: round {round}: a {limit}-byte record after {ASK_SMALL_COUNT} of {ASK_SMALL} bytes that the reader had {}taken (its credit never came back)",
                        if reader_first { "" } else { "not yet " }
                    ),
                )?;
                diag!(
                    "{d}: round {round}: the {limit}-byte record went out after {} ms, the small records {}",
                    t.elapsed().as_millis(),
                    if reader_first { "taken before" } else { "taken after" }
                );
                ctx.ctl.writeln("SENT")?;
            }
            ctx.ctl.expectln("RECEIVED")?;
        } else {
            for (round, reader_first) in [true, false].into_iter().enumerate() {
                if !reader_first {
                    // The sender waits for the big record's credit meanwhile.
                    std::thread::sleep(Duration::from_millis(300));
                }
                for i in 0..ASK_SMALL_COUNT {
                    expect_record(
                        &fd,
                        &pattern::record(seed(35, dir, round * 100 + i), ASK_SMALL),
                        Some(true),
                        &format!("{d}: round {round}: small record {i}"),
                    )?;
                }
                if reader_first {
                    ctx.ctl.writeln("TAKEN")?;
                }
                expect_record(
                    &fd,
                    &pattern::record(seed(35, dir, round * 100 + 99), limit),
                    Some(true),
                    &format!("{d}: round {round}: the {limit}-byte record"),
                )?;
                ctx.ctl.expectln("SENT")?;
            }
            expect_nothing_queued(&fd, d)?;
            ctx.ctl.writeln("RECEIVED")?;
        }
    }
    Ok(Outcome::Pass)
}
