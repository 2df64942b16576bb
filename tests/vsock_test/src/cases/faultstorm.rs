//! More allocation faults (issue 10, item 3; issue 9, item 1), on the debug
//! kernel: two faults in one send, random faults on a stream of records at
//! the sender and at the receiver, a lost credit update, and the merge case
//! of the send rules with faults injected. Whatever fails, the reader gets
//! whole records only, never a partial, merged or corrupt one; a sender gets
//! ENOMEM with nothing sent or success; a dead connection is reported to its
//! reader (an error, then EOF); no wait is unbounded.

use super::common::{
    agree_record_len, check_received, expect_nothing_queued, expect_record, record_limit, SLACK,
};
use super::faultkit::{self, with_sender_faults, FailNth, Injector, Kmsg, Setup};
use super::sendrules::Interrupter;
use crate::harness::{CaseResult, Ctx, Dir, Fail, Outcome};
use crate::vsock::{self, Fd};
use crate::{diag, ensure, pattern};
use std::time::{Duration, Instant};

fn seed(case: u64, dir: Dir, index: usize) -> u64 {
    pattern::seed_of(&[case, dir as u64, index as u64])
}

// ---------------------------------------------------------------------------
// a) Two faults in one send.

/// Two data packets and their markers.
const TWO_RECORD: usize = 100_000;
const TWO_MAX_NTH: u32 = 400;

/// For every position N: the N-th allocation of a record's sendmsg() fails
/// (fail-nth) and so does the next slab allocation of this thread after it
/// (failslab, task filter, times=1): inside the same sendmsg() when the
/// first fault was absorbed (kmemleak's metadata falls back to its pool) or
/// made the send carry on, else in the retry. Each failed send must return
/// ENOMEM with nothing sent; the retry of the same record and a different
/// next record arrive whole, and nothing else does.
pub fn fault_two_in_one_send(ctx: &mut Ctx) -> CaseResult {
    if let Some(why) = faultkit::agree(ctx, "FAULTS", &[])? {
        return Ok(Outcome::Skip(why));
    }
    for dir in Dir::BOTH {
        let (fd, d) = faultkit::connection(ctx, dir, &[])?;
        if ctx.sends(dir) {
            let inj = Injector::new(Setup {
                probability: 100,
                task_filter: true,
                skb_cache_only: false,
                pages: false,
                verbose: 0,
            })?;
            let fail_nth = FailNth::open()?;
            let (mut failed, mut both_in_send, mut absorbed, mut retry_failed) = (0, 0, 0, 0);
            let mut delivered = Vec::new();
            let (reported, mut count) = (0, 0usize);
            let mut id = 0usize;
            let mut n = 1;
            let result = loop {
                if n > TWO_MAX_NTH {
                    break Err(format!(
                        "still injecting faults at allocation {TWO_MAX_NTH}"
                    ));
                }
                let record = pattern::record(seed(70, dir, id), TWO_RECORD);
                // Readers of `times` for after the send and the retries.
                let mut readers = (0..7)
                    .map(|_| inj.slab.reader())
                    .collect::<Result<Vec<_>, _>>()?;
                let mut left = || -> Result<i64, Fail> {
                    let r = readers.pop().ok_or("out of times readers")?;
                    inj.slab.left_from(r)
                };
                inj.slab.arm(1)?;
                let (sent, first) =
                    fail_nth.fail(n, || vsock::send(&fd, &record, libc::MSG_EOR))?;
                let second = left()? == 0;
                if !first {
                    inj.slab.arm(0)?;
                    match sent {
                        Ok(len) if len == TWO_RECORD => delivered.push(id),
                        other => break Err(format!("fault {n} not reached, yet send: {other:?}")),
                    }
                    break Ok(());
                }
                match sent {
                    Ok(len) if len == TWO_RECORD => {
                        absorbed += 1;
                        if second {
                            both_in_send += 1;
                        }
                        delivered.push(id);
                    }
                    Ok(len) => break Err(format!("faults {n},+1: send returned {len}")),
                    Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
                        failed += 1;
                        if second {
                            both_in_send += 1;
                        }
                        // The same record again: the second fault, if
                        // still pending, fails the first try.
                        let mut ok = false;
                        for _ in 0..3 {
                            let before = left()?;
                            match vsock::send(&fd, &record, libc::MSG_EOR) {
                                Ok(len) if len == TWO_RECORD => {
                                    ok = true;
                                    break;
                                }
                                Err(e)
                                    if e.raw_os_error() == Some(libc::ENOMEM)
                                        && before == 1
                                        && left()? == 0 =>
                                {
                                    retry_failed += 1
                                }
                                other => {
                                    inj.slab.arm(0)?;
                                    return Err(Fail::new(format!(
                                        "{d}: faults {n},+1: the retry of the record: {other:?}"
                                    )));
                                }
                            }
                        }
                        if !ok {
                            break Err(format!("faults {n},+1: the retry never went out"));
                        }
                        delivered.push(id);
                    }
                    Err(e) => {
                        break Err(format!(
                            "faults {n},+1 (second in this send: {second}): send failed with {}, expected ENOMEM",
                            vsock::errno_name(&e)
                        ))
                    }
                }
                inj.slab.arm(0)?;
                // A different record next, with no fault.
                id += 1;
                let next = pattern::record(seed(70, dir, id), TWO_RECORD);
                match vsock::send(&fd, &next, libc::MSG_EOR) {
                    Ok(len) if len == TWO_RECORD => delivered.push(id),
                    other => {
                        break Err(format!(
                            "faults {n},+1: the next record, with no fault: {other:?}"
                        ))
                    }
                }
                id += 1;
                n += 1;
                // The reader takes these records only now, so the next
                // iteration's sends may wait for credit while one record
                // stays queued unread: the reader returns credit for each
                // record it reads while a CREDIT_REQUEST is pending (patch
                // 13; before its fix this stalled the sender for good).
                for i in delivered.drain(reported..) {
                    ctx.ctl.write_value("DELIVERED", i)?;
                    count += 1;
                }
            };
            inj.slab.arm(0)?;
            drop(inj);
            diag!(
                "{d}: fault pairs at allocations (1,+1)..({},+1): {failed} sends failed with ENOMEM, {both_in_send} sends took both faults, {absorbed} sends succeeded although faulted, {retry_failed} retries failed on the pending second fault; {} records sent",
                n - 1,
                count + delivered.len()
            );
            for i in delivered.drain(..) {
                ctx.ctl.write_value("DELIVERED", i)?;
            }
            ctx.ctl.writeln("END")?;
            ctx.ctl.expectln("RECEIVED")?;
            result.map_err(|m| Fail::new(format!("{d}: {m}")))?;
            ensure!(
                both_in_send > 0,
                "{d}: no send took both faults: this case did not test what it says"
            );
        } else {
            let mut ids = Vec::new();
            while let Some(id) = faultkit::next_delivered::<usize>(ctx)? {
                let k = ids.len();
                ids.push(id);
                expect_record(
                    &fd,
                    &pattern::record(seed(70, dir, id), TWO_RECORD),
                    Some(true),
                    &format!(
                        "{d}: record #{k} (id {id}; a partial or merged record has another length)"
                    ),
                )?;
            }
            expect_nothing_queued(&fd, &d)?;
            diag!("{d}: {} records received intact, nothing else", ids.len());
            ctx.ctl.writeln("RECEIVED")?;
        }
    }
    Ok(Outcome::Pass)
}

// ---------------------------------------------------------------------------
// b) Random faults on a stream of records.

const STREAM_MAX: usize = 130_000;

/// Record `i` of a stream: a third small, a third up to one packet, a third
/// of two packets.
fn stream_record(case: u64, dir: Dir, i: usize) -> Vec<u8> {
    let s = seed(case, dir, i);
    let mut r = pattern::Rng::new(s);
    let len = match r.range(0, 2) {
        0 => r.range(1, 2000),
        1 => r.range(2001, 65536),
        _ => r.range(65537, STREAM_MAX),
    };
    pattern::record(s ^ 1, len)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendEnd {
    All,
    Errno(i32),
    Short(usize),
}

impl SendEnd {
    fn describe(self) -> String {
        match self {
            SendEnd::All => "all-sent".to_string(),
            SendEnd::Errno(e) => {
                vsock::errno_name(&std::io::Error::from_raw_os_error(e)).replace(' ', "_")
            }
            SendEnd::Short(n) => format!("short-send-of-{n}"),
        }
    }
}

struct SendOut {
    sent: usize,
    enomem: usize,
    end: SendEnd,
    /// How long the call that ended the stream took.
    last_call: Duration,
}

/// Sends every record, retrying one that fails with ENOMEM (nothing of it
/// was sent); stops at any other outcome. Allocates nothing: it runs with
/// this thread's faults armed.
fn send_stream(fd: &Fd, records: &[Vec<u8>]) -> SendOut {
    let mut enomem = 0;
    let mut last_call = Duration::ZERO;
    for (i, rec) in records.iter().enumerate() {
        let mut tries = 0;
        loop {
            let t = Instant::now();
            let r = vsock::send(fd, rec, libc::MSG_EOR);
            last_call = t.elapsed();
            match r {
                Ok(n) if n == rec.len() => break,
                Ok(n) => {
                    return SendOut {
                        sent: i,
                        enomem,
                        end: SendEnd::Short(n),
                        last_call,
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOMEM) && tries < 1000 => {
                    enomem += 1;
                    tries += 1;
                }
                Err(e) => {
                    return SendOut {
                        sent: i,
                        enomem,
                        end: SendEnd::Errno(e.raw_os_error().unwrap_or(0)),
                        last_call,
                    }
                }
            }
        }
    }
    SendOut {
        sent: records.len(),
        enomem,
        end: SendEnd::All,
        last_call,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadEnd {
    All,
    /// recvmsg failed with this errno; then EOF came (or not).
    Error(i32, bool),
    /// recvmsg returned 0 (EOF) with no error before it.
    SilentEof,
    /// No record for `QUIET` seconds.
    Timeout,
}

impl ReadEnd {
    fn describe(self) -> String {
        match self {
            ReadEnd::All => "all-received".to_string(),
            ReadEnd::Error(e, eof) => format!(
                "{}-then-{}",
                vsock::errno_name(&std::io::Error::from_raw_os_error(e)).replace(' ', "_"),
                if eof { "EOF" } else { "no-EOF" }
            ),
            ReadEnd::SilentEof => "silent-EOF".to_string(),
            ReadEnd::Timeout => "no-record-for-10s".to_string(),
        }
    }
}

const QUIET: u32 = 10;

/// Reads up to `count` records, each checked against `want(i)`; a wrong one
/// (partial, merged, corrupt) fails at once. `tick` runs before each read.
fn read_stream(
    fd: &Fd,
    count: usize,
    want: &dyn Fn(usize) -> Vec<u8>,
    d: &str,
    tick: &mut dyn FnMut(usize) -> Result<(), Fail>,
) -> Result<(usize, ReadEnd), Fail> {
    vsock::set_recv_timeout(fd, Duration::from_secs(1)).map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    let mut buf = vec![0u8; STREAM_MAX + SLACK];
    let (mut got, mut quiet) = (0, 0);
    while got < count {
        tick(got)?;
        match vsock::recvmsg(fd, &mut buf, 0) {
            Ok(r) if r.len == 0 => return Ok((got, ReadEnd::SilentEof)),
            Ok(r) => {
                check_received(
                    &r,
                    &buf,
                    &want(got),
                    Some(true),
                    &format!("{d}: record {got}"),
                )?;
                got += 1;
                quiet = 0;
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                quiet += 1;
                if quiet >= QUIET {
                    return Ok((got, ReadEnd::Timeout));
                }
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EPROTO | libc::ECONNRESET | libc::ENOBUFS)
                ) =>
            {
                let eof = matches!(vsock::recvmsg(fd, &mut buf, 0), Ok(r) if r.len == 0);
                return Ok((got, ReadEnd::Error(e.raw_os_error().unwrap_or(0), eof)));
            }
            Err(e) => {
                return Err(Fail::new(format!(
                    "{d}: record {got}: recvmsg failed with {}",
                    vsock::errno_name(&e)
                )))
            }
        }
    }
    tick(got)?;
    Ok((got, ReadEnd::All))
}

const SENDER_RECORDS: usize = 150;
const SENDER_PROBABILITY: u32 = 10;

/// Random faults (10 % of the sending thread's slab and order >= 1 page
/// allocations) while it sends a stream of records of 1 B to 130 KB,
/// retrying each ENOMEM: every send fails with ENOMEM or goes out whole, the
/// reader gets every record whole and in order, nothing else.
pub fn fault_random_sender(ctx: &mut Ctx) -> CaseResult {
    if let Some(why) = faultkit::agree(ctx, "FAULTS", &[])? {
        return Ok(Outcome::Skip(why));
    }
    for dir in Dir::BOTH {
        let (fd, d) = faultkit::connection(ctx, dir, &[])?;
        if ctx.sends(dir) {
            let records: Vec<Vec<u8>> = (0..SENDER_RECORDS)
                .map(|i| stream_record(71, dir, i))
                .collect();
            let bytes: usize = records.iter().map(Vec::len).sum();
            let t0 = Instant::now();
            let (out, slab, pages) =
                with_sender_faults(SENDER_PROBABILITY, || send_stream(&fd, &records))?;
            diag!(
                "{d}: {slab} slab + {pages} page faults injected into the sender in {:.1} s; {} of {SENDER_RECORDS} records ({bytes} bytes in all) sent, {} sends failed with ENOMEM and were retried; end: {}",
                t0.elapsed().as_secs_f64(),
                out.sent,
                out.enomem,
                out.end.describe()
            );
            ctx.ctl
                .write_value("SENT", format!("{} {}", out.sent, out.end.describe()))?;
            let got = ctx.ctl.expect_value("GOT")?;
            ensure!(
                out.end == SendEnd::All,
                "{d}: the stream stopped at record {} with {} after {:?} (expected ENOMEM or success only); receiver: {got}",
                out.sent,
                out.end.describe(),
                out.last_call
            );
            ensure!(
                slab + pages > 0 && out.enomem > 0,
                "{d}: {slab} + {pages} faults, {} ENOMEM: the case tested nothing",
                out.enomem
            );
        } else {
            let (got, end) = read_stream(
                &fd,
                SENDER_RECORDS,
                &|i| stream_record(71, dir, i),
                &d,
                &mut |_| Ok(()),
            )?;
            let sent = ctx.ctl.expect_value("SENT")?;
            if end == ReadEnd::All {
                expect_nothing_queued(&fd, &d)?;
            }
            ctx.ctl
                .write_value("GOT", format!("{got} {}", end.describe()))?;
            diag!(
                "{d}: {got} records received intact, end: {}",
                end.describe()
            );
            ensure!(
                end == ReadEnd::All,
                "{d}: {got} of {SENDER_RECORDS} records, then {} (sender: {sent})",
                end.describe()
            );
        }
    }
    Ok(Outcome::Pass)
}

const RECEIVER_RECORDS: usize = 200;
const RECEIVER_PROBABILITY: u32 = 20;
const RECEIVER_FAULTS: i64 = 40;
const RECEIVER_WINDOW: Duration = Duration::from_secs(3);
const STALL_SEND_TIMEOUT: Duration = Duration::from_secs(8);

/// Random faults on the receiving side: once the first record is in, every
/// sk_buff head allocated by the receiver's kernel fails with probability
/// 20 % (failslab, no task filter, cache filter on skbuff_head_cache), 40
/// faults at most, for 3 s: the rx work (kworker), vhost's worker, the
/// reader's credit updates (and, in one VM, the sender too). The reader gets
/// whole records in order; if the connection dies, an error then EOF; the
/// sender gets ENOMEM, success, or a reset; a sender that waits for credit
/// while the reader has taken everything is a stall, reported with the
/// faults the kernel logged.
pub fn fault_random_receiver(ctx: &mut Ctx) -> CaseResult {
    if let Some(why) = faultkit::agree(ctx, "FAULTS", &[faultkit::SKB_CACHE])? {
        return Ok(Outcome::Skip(why));
    }
    for dir in Dir::BOTH {
        let (fd, d) = faultkit::connection(ctx, dir, &[])?;
        if ctx.sends(dir) {
            let records: Vec<Vec<u8>> = (0..RECEIVER_RECORDS)
                .map(|i| stream_record(72, dir, i))
                .collect();
            vsock::set_send_timeout(&fd, STALL_SEND_TIMEOUT)
                .map_err(|e| format!("SO_SNDTIMEO: {e}"))?;
            let out = send_stream(&fd, &records);
            // The receiver speaks first: its faults are off by then.
            let got = ctx.ctl.expect_value("GOT")?;
            ctx.ctl.write_value(
                "SENT",
                format!(
                    "{} {} {} {}",
                    out.sent,
                    out.enomem,
                    out.end.describe(),
                    out.last_call.as_millis()
                ),
            )?;
            diag!(
                "{d}: sender: {} of {RECEIVER_RECORDS} records sent, {} ENOMEM retried, end: {} (last call {} ms); receiver: {got}",
                out.sent,
                out.enomem,
                out.end.describe(),
                out.last_call.as_millis()
            );
            let dead = matches!(out.end, SendEnd::Errno(libc::ECONNRESET | libc::EPIPE));
            ensure!(
                out.end == SendEnd::All || dead || out.end == SendEnd::Errno(libc::EAGAIN),
                "{d}: sender: {} at record {} (expected success, ENOMEM, or a reset)",
                out.end.describe(),
                out.sent
            );
        } else {
            let mut kmsg = Kmsg::open();
            let inj = Injector::new(Setup {
                probability: RECEIVER_PROBABILITY,
                task_filter: false,
                skb_cache_only: true,
                pages: false,
                verbose: 2,
            })?;
            let mut armed: Option<Instant> = None;
            let mut closed: Option<(i64, Duration)> = None;
            let read = read_stream(
                &fd,
                RECEIVER_RECORDS,
                &|i| stream_record(72, dir, i),
                &d,
                &mut |got| {
                    if got >= 1 && armed.is_none() {
                        inj.arm(RECEIVER_FAULTS, 0)?;
                        armed = Some(Instant::now());
                    }
                    if let (Some(t), None) = (armed, closed) {
                        if t.elapsed() >= RECEIVER_WINDOW {
                            closed = Some((RECEIVER_FAULTS - inj.disarm()?.0, t.elapsed()));
                        }
                    }
                    Ok(())
                },
            );
            if let (Some(t), None) = (armed, closed) {
                closed = Some((RECEIVER_FAULTS - inj.disarm()?.0, t.elapsed()));
            }
            drop(inj);
            let (faults, window) = closed.unwrap_or((0, Duration::ZERO));
            let sites = kmsg.as_mut().map(|k| k.faults()).unwrap_or_default();
            let credit = sites.iter().filter(|s| s.credit_update()).count();
            let where_ = faultkit::summarize(&sites);
            let (got, end) = match read {
                Ok(r) => r,
                Err(f) => {
                    let _ = ctx.ctl.write_value("GOT", "bad-record");
                    return Err(f.context(&format!("faults at: {where_}")));
                }
            };
            if end == ReadEnd::All {
                expect_nothing_queued(&fd, &d)?;
            }
            ctx.ctl
                .write_value("GOT", format!("{got} {}", end.describe()))?;
            let sent = ctx.ctl.expect_value("SENT")?;
            let mut it = sent.split(' ');
            let (s_n, s_enomem, s_end) = (
                it.next().unwrap_or("?"),
                it.next().unwrap_or("?"),
                it.next().unwrap_or("?").to_string(),
            );
            diag!(
                "{d}: {faults} sk_buff faults injected at the receiver in {:.1} s ({} logged: {credit} in a credit update); {got} records received intact, end: {}; sender: {s_n} sent, {s_enomem} ENOMEM, end: {s_end}",
                window.as_secs_f64(),
                sites.len(),
                end.describe()
            );
            diag!("{d}: faults at: {where_}");
            ensure!(
                faults > 0,
                "{d}: no fault was injected: the case tested nothing"
            );
            match end {
                ReadEnd::All => {}
                ReadEnd::Error(_, true) => {
                    diag!("{d}: the connection died and its reader was told")
                }
                ReadEnd::Error(e, false) => {
                    return Err(Fail::new(format!(
                        "{d}: after {got} records recvmsg failed with {}, but no EOF followed",
                        vsock::errno_name(&std::io::Error::from_raw_os_error(e))
                    )))
                }
                ReadEnd::SilentEof => {
                    return Err(Fail::new(format!(
                        "{d}: EOF after {got} of {RECEIVER_RECORDS} records with no error before it (sender: {s_end}); faults at: {where_}"
                    )))
                }
                ReadEnd::Timeout => {
                    return Err(Fail::new(format!(
                        "{d}: SENDER STALLED: the reader had taken all {got} records that came and its queue was empty, yet no record came for {QUIET} s and the sender's send() waited {} s for credit ({s_end}); {credit} of the {} logged faults hit the reader's credit update in its dequeue (a CREDIT_UPDATE that fails to allocate is never sent again; see credit_update_lost); faults at: {where_}",
                        STALL_SEND_TIMEOUT.as_secs(),
                        sites.len()
                    )))
                }
            }
        }
    }
    Ok(Outcome::Pass)
}

/// The reader's CREDIT_UPDATE fails to allocate: the first allocation of
/// the recvmsg() that takes the last queued record fails (fail-nth 1 in the
/// reader's thread; the kernel log says where it hit). The sender waits for
/// that credit with a record of 3/5 of the buffer behind one of 3/5. First
/// without the fault (the second record must arrive), then with it.
pub fn credit_update_lost(ctx: &mut Ctx) -> CaseResult {
    if let Some(why) = faultkit::agree(ctx, "FAULTS", &[])? {
        return Ok(Outcome::Skip(why));
    }
    let mut stalls = Vec::new();
    for dir in Dir::BOTH {
        for fault in [false, true] {
            let what = if fault {
                "credit update failed"
            } else {
                "no fault"
            };
            let (fd, d) = faultkit::connection(ctx, dir, &[what])?;
            let len = agree_record_len(ctx, &fd, dir, |limit| limit * 3 / 5)?;
            if ctx.sends(dir) {
                let a = pattern::record(seed(73, dir, 0), len);
                let b = pattern::record(seed(73, dir, 1), len);
                vsock::send(&fd, &a, libc::MSG_EOR)
                    .map_err(|e| format!("{d}: record A: {}", vsock::errno_name(&e)))?;
                ctx.ctl.writeln("A_SENT")?;
                vsock::set_send_timeout(&fd, Duration::from_secs(6))
                    .map_err(|e| format!("SO_SNDTIMEO: {e}"))?;
                let t = Instant::now();
                let r = vsock::send(&fd, &b, libc::MSG_EOR);
                let took = t.elapsed();
                let outcome = match r {
                    Ok(n) if n == len => "sent".to_string(),
                    Ok(n) => format!("short-{n}"),
                    Err(e) => vsock::errno_name(&e).replace(' ', "_"),
                };
                ctx.ctl
                    .write_value("B", format!("{outcome} {}", took.as_millis()))?;
                ctx.ctl.expectln("RESULT")?;
            } else {
                let buf = vsock::buffer_size(&fd).map_err(|e| format!("buffer size: {e}"))?;
                ctx.ctl.expectln("A_SENT")?;
                // Let the sender block on record B.
                std::thread::sleep(Duration::from_millis(300));
                let a = pattern::record(seed(73, dir, 0), len);
                let mut sites = Vec::new();
                if fault {
                    let mut kmsg = Kmsg::open();
                    let inj = Injector::new(Setup {
                        probability: 0,
                        task_filter: false,
                        skb_cache_only: false,
                        pages: false,
                        verbose: 2,
                    })?;
                    let fail_nth = FailNth::open()?;
                    let (r, hit) = fail_nth.fail(1, || {
                        expect_record(&fd, &a, Some(true), &format!("{d}: record A"))
                    })?;
                    drop(inj);
                    r?;
                    sites = kmsg.as_mut().map(|k| k.faults()).unwrap_or_default();
                    ensure!(
                        hit,
                        "{d}: the recvmsg() of record A allocated nothing: no credit update to fail"
                    );
                } else {
                    expect_record(&fd, &a, Some(true), &format!("{d}: record A"))?;
                }
                let b = pattern::record(seed(73, dir, 1), len);
                let t = Instant::now();
                let rb = expect_record(&fd, &b, Some(true), &format!("{d}: record B"));
                let waited = t.elapsed();
                let sender = ctx.ctl.expect_value("B")?;
                ctx.ctl.writeln("RESULT")?;
                let site = faultkit::summarize(&sites);
                diag!(
                    "{d}: record B ({len} bytes) {} after {} ms; sender: {sender}; fault at: {site}",
                    if rb.is_ok() { "arrived" } else { "did not arrive" },
                    waited.as_millis()
                );
                match (rb, fault) {
                    (Ok(()), _) => {}
                    (Err(f), false) => return Err(f.context("without any fault")),
                    (Err(_), true) => stalls.push(format!(
                        "{d}: SENDER STALLED WITH CREDIT AVAILABLE: the reader's recvmsg() of record A (fail-nth 1 in its thread) failed the allocation {site}; the reader then had taken everything ({buf}-byte buffer empty), but the sender's {len}-byte record B got no credit (sender: {sender}) and the reader got nothing for {} s: a CREDIT_UPDATE that fails to allocate is not sent again, and nothing else returns that credit",
                        waited.as_secs()
                    )),
                }
            }
        }
    }
    if !stalls.is_empty() {
        return Err(Fail::new(format!(
            "kernel gap, not fixable from the tests: {}",
            stalls.join(" / ")
        )));
    }
    Ok(Outcome::Pass)
}

// ---------------------------------------------------------------------------
// c) The merge case with faults injected.

#[derive(Clone, Copy, PartialEq, Eq)]
enum GiveUp {
    Timeout,
    Signal,
}

const MERGE_PROBABILITY: u32 = 30;

/// The merge case of the send rules (a record of 4/5 of the buffer behind
/// one of 2/5 gives up waiting for credit by SO_SNDTIMEO or a signal; then
/// a record of exactly the length a partial send would have left, one of
/// two packets and a small one), with 30 % of the sender's allocations
/// failing from the send that gives up to the last one (each ENOMEM is
/// retried). The reader must get the four records whole and apart.
pub fn fault_merge_under_faults(ctx: &mut Ctx) -> CaseResult {
    if let Some(why) = faultkit::agree(ctx, "FAULTS", &[])? {
        return Ok(Outcome::Skip(why));
    }
    for (h, how) in [GiveUp::Timeout, GiveUp::Signal].into_iter().enumerate() {
        for dir in Dir::BOTH {
            let what = if how == GiveUp::Timeout {
                "SO_SNDTIMEO"
            } else {
                "signal"
            };
            let (fd, d) = faultkit::connection(ctx, dir, &[what])?;
            let case = 74 + h as u64;
            if ctx.sends(dir) {
                let peer_buf = ctx.ctl.expect_u64("BUFSIZE")?;
                let limit = record_limit(&fd, peer_buf)?;
                let (filler, big) = (limit * 2 / 5, limit * 4 / 5);
                let unsent = big - (limit - filler);
                let other = (limit / 2).min(100_000);
                let plan = [filler, unsent, other, 1000];
                ctx.ctl
                    .write_value("PLAN", format!("{filler} {unsent} {other}"))?;
                let records: Vec<Vec<u8>> = plan
                    .iter()
                    .enumerate()
                    .map(|(i, &len)| pattern::record(seed(case, dir, i), len))
                    .collect();
                let giving_up = pattern::record(seed(case, dir, 99), big);
                vsock::send(&fd, &records[0], libc::MSG_EOR)
                    .map_err(|e| format!("{d}: filler: {}", vsock::errno_name(&e)))?;
                if how == GiveUp::Timeout {
                    vsock::set_send_timeout(&fd, Duration::from_millis(300))
                        .map_err(|e| format!("SO_SNDTIMEO: {e}"))?;
                }
                // Before the faults: a thread inherits make-it-fail.
                let irq = (how == GiveUp::Signal)
                    .then(|| Interrupter::start(Duration::from_millis(300), None));
                let ((gave_up, out), slab, pages) = with_sender_faults(MERGE_PROBABILITY, || {
                    let gave_up = vsock::send_once(&fd, &giving_up, 0);
                    drop(irq);
                    if how == GiveUp::Timeout {
                        let _ = vsock::set_send_timeout(&fd, vsock::IO_TIMEOUT);
                    }
                    (gave_up, send_stream(&fd, &records[1..]))
                })?;
                let want = if how == GiveUp::Timeout {
                    libc::EAGAIN
                } else {
                    libc::EINTR
                };
                diag!(
                    "{d}: {slab} slab + {pages} page faults injected; the {big}-byte send gave up with {:?}; then {} of 3 records sent ({unsent}, {other}, 1000 bytes), {} sends failed with ENOMEM and were retried; end: {}",
                    gave_up.as_ref().map_err(vsock::errno_name),
                    out.sent,
                    out.enomem,
                    out.end.describe()
                );
                ctx.ctl.writeln("SENT")?;
                ctx.ctl.expectln("RECEIVED")?;
                match gave_up {
                    Err(e) if e.raw_os_error() == Some(want) || e.raw_os_error() == Some(libc::ENOMEM) => {}
                    other => {
                        return Err(Fail::new(format!(
                            "{d}: the {big}-byte record with credit for {}: expected {} (or ENOMEM), got {other:?}",
                            limit - filler,
                            vsock::errno_name(&std::io::Error::from_raw_os_error(want))
                        )))
                    }
                }
                ensure!(
                    out.end == SendEnd::All,
                    "{d}: the records after the send that gave up: {} at record {}",
                    out.end.describe(),
                    out.sent + 1
                );
            } else {
                let buf = vsock::buffer_size(&fd).map_err(|e| format!("buffer size: {e}"))?;
                ctx.ctl.write_value("BUFSIZE", buf)?;
                let plan = ctx.ctl.expect_value("PLAN")?;
                let lens: Vec<usize> = plan.split(' ').filter_map(|s| s.parse().ok()).collect();
                ensure!(lens.len() == 3, "bad PLAN line {plan:?}");
                ctx.ctl.expectln("SENT")?;
                let mut result = Ok(());
                for (i, &len) in [lens[0], lens[1], lens[2], 1000].iter().enumerate() {
                    result = expect_record(
                        &fd,
                        &pattern::record(seed(case, dir, i), len),
                        Some(true),
                        &format!("{d}: record {i} ({len} bytes; a merged record would be longer)"),
                    );
                    if result.is_err() {
                        break;
                    }
                }
                if result.is_ok() {
                    result = expect_nothing_queued(&fd, &d);
                }
                ctx.ctl.writeln("RECEIVED")?;
                result?;
                diag!("{d}: 4 records received whole and apart");
            }
        }
    }
    Ok(Outcome::Pass)
}
