//! Record boundaries: fixed and random sizes, the size limit, empty records
//! and MSG_EOR.

use super::common::{
    buffer_size, check_received, expect_nothing_queued, expect_record, record_limit, recv,
    send_expect_errno, send_record, SLACK,
};
use crate::harness::{CaseResult, Ctx, Dir, Fail, Outcome};
use crate::pattern::{self, Rng};
use crate::vsock::{self, Fd};
use crate::{diag, ensure};

fn seed(case: u64, dir: Dir, index: usize) -> u64 {
    pattern::seed_of(&[case, dir as u64, index as u64])
}

fn join<T: ToString>(v: &[T]) -> String {
    v.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

fn parse_list<T: std::str::FromStr>(s: &str, what: &str) -> Result<Vec<T>, Fail> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.parse()
                .map_err(|_| Fail::new(format!("control channel: bad {what} list {s:?}")))
        })
        .collect()
}

/// The receiver tells the sender its buffer size; the sender returns the
/// largest record it may send.
pub(super) fn agree_limit(ctx: &mut Ctx, fd: &Fd, dir: Dir) -> Result<Option<usize>, Fail> {
    if ctx.sends(dir) {
        let peer_buf = ctx.ctl.expect_u64("BUFSIZE")?;
        Ok(Some(record_limit(fd, peer_buf)?))
    } else {
        ctx.ctl.write_value("BUFSIZE", buffer_size(fd)?)?;
        Ok(None)
    }
}

/// Sends `sizes` as records with per-record checksums, or receives and
/// checks them; the receiver reads while the sender writes, since together
/// they exceed the peer's buffer.
pub(super) fn exchange_sizes(
    ctx: &mut Ctx,
    fd: &Fd,
    dir: Dir,
    case: u64,
    sizes: Option<Vec<usize>>,
    eors: Option<Vec<bool>>,
) -> Result<(), Fail> {
    if ctx.sends(dir) {
        let sizes = sizes.expect("the sender picks the sizes");
        let eors = eors.unwrap_or_else(|| vec![false; sizes.len()]);
        ctx.ctl.write_value("SIZES", join(&sizes))?;
        ctx.ctl.write_value(
            "EORS",
            eors.iter()
                .map(|&e| if e { "1" } else { "0" })
                .collect::<String>(),
        )?;
        let mut sums = Vec::with_capacity(sizes.len());
        for (i, (&len, &eor)) in sizes.iter().zip(&eors).enumerate() {
            let data = pattern::record(seed(case, dir, i), len);
            let flags = if eor { libc::MSG_EOR } else { 0 };
            send_record(
                fd,
                &data,
                flags,
                &format!("{} record {i} ({len} bytes)", dir.name()),
            )?;
            sums.push(format!("{:x}", pattern::checksum(&data)));
        }
        ctx.ctl.write_value("SUMS", sums.join(","))?;
        ctx.ctl.expectln("RECEIVED")?;
    } else {
        let sizes: Vec<usize> = parse_list(&ctx.ctl.expect_value("SIZES")?, "size")?;
        let eors: Vec<bool> = ctx
            .ctl
            .expect_value("EORS")?
            .bytes()
            .map(|b| b == b'1')
            .collect();
        ensure!(
            eors.len() == sizes.len(),
            "control channel: {} sizes but {} EOR flags",
            sizes.len(),
            eors.len()
        );
        let max = sizes.iter().copied().max().unwrap_or(0);
        let mut buf = vec![0u8; max + SLACK];
        let mut sums = Vec::with_capacity(sizes.len());
        for (i, (&len, &eor)) in sizes.iter().zip(&eors).enumerate() {
            let what = format!("{} record {i} of {} ({len} bytes)", dir.name(), sizes.len());
            let want = pattern::record(seed(case, dir, i), len);
            let r = recv(fd, &mut buf, 0, &what)?;
            check_received(&r, &buf, &want, Some(eor), &what)?;
            sums.push(pattern::checksum(&buf[..r.len]));
        }
        let theirs: Vec<String> = parse_list(&ctx.ctl.expect_value("SUMS")?, "checksum")?;
        ensure!(
            theirs.len() == sums.len(),
            "sender reported {} checksums for {} records",
            theirs.len(),
            sums.len()
        );
        for (i, (mine, theirs)) in sums.iter().zip(&theirs).enumerate() {
            ensure!(
                format!("{mine:x}") == *theirs,
                "{} record {i}: sender's checksum {theirs}, receiver's {mine:x}",
                dir.name()
            );
        }
        expect_nothing_queued(fd, &format!("after the last {} record", dir.name()))?;
        ctx.ctl.writeln("RECEIVED")?;
    }
    Ok(())
}

/// Sizes around the page, the 64 KiB virtio packet limit and the peer's
/// buffer: each is a place where a record is split into packets
/// differently.
pub fn record_sizes(ctx: &mut Ctx) -> CaseResult {
    let fd = ctx.establish()?;
    let page = vsock::page_size();
    for dir in Dir::BOTH {
        let sizes = agree_limit(ctx, &fd, dir)?.map(|limit| {
            let mut s: Vec<usize> = [1, page - 1, page, page + 1, 65535, 65536, 65537, limit]
                .into_iter()
                .filter(|&n| n <= limit)
                .collect();
            s.dedup();
            s
        });
        exchange_sizes(ctx, &fd, dir, 1, sizes, None)?;
    }
    Ok(Outcome::Pass)
}

/// A record one byte above the limit is refused whole with EMSGSIZE and
/// leaves nothing behind; the connection keeps working at the limit.
pub fn record_too_big(ctx: &mut Ctx) -> CaseResult {
    let fd = ctx.establish()?;
    for dir in Dir::BOTH {
        let what = dir.name();
        if let Some(limit) = agree_limit(ctx, &fd, dir)? {
            let big = pattern::record(seed(2, dir, 0), limit + 1);
            send_expect_errno(&fd, &big, libc::EMSGSIZE, &format!("{what}: limit + 1"))?;
            let huge = vec![0x55u8; 4 * limit];
            send_expect_errno(&fd, &huge, libc::EMSGSIZE, &format!("{what}: 4 x limit"))?;
            let ok = pattern::record(seed(2, dir, 1), limit);
            send_record(
                &fd,
                &ok,
                0,
                &format!("{what}: record of exactly the limit after EMSGSIZE"),
            )?;
            ctx.ctl.write_value("SENT", limit)?;
            ctx.ctl.expectln("RECEIVED")?;
        } else {
            let limit = ctx.ctl.expect_u64("SENT")? as usize;
            let want = pattern::record(seed(2, dir, 1), limit);
            expect_record(
                &fd,
                &want,
                Some(false),
                &format!("{what}: the record after the refused ones"),
            )?;
            expect_nothing_queued(&fd, &format!("{what}: after the refused records"))?;
            ctx.ctl.writeln("RECEIVED")?;
        }
    }
    Ok(Outcome::Pass)
}

/// Empty records with markers: each recv() returns 0 for exactly one record
/// (MSG_EOR as sent) and the records around them are intact. Upstream EOM
/// framing cannot carry them: a zero-length send succeeds and sends nothing,
/// which is checked, and the case skipped.
pub fn zero_length_records(ctx: &mut Ctx) -> CaseResult {
    let (fd, framing) = ctx.establish_framed()?;
    for dir in Dir::BOTH {
        let what = dir.name();
        if !framing.markers {
            let after = pattern::record(seed(3, dir, 99), 5);
            if ctx.sends(dir) {
                match vsock::send(&fd, &[], 0) {
                    Ok(0) => {}
                    other => {
                        return Err(Fail::new(format!(
                            "{what}: zero-length send without markers: expected 0, got {other:?}"
                        )))
                    }
                }
                send_record(&fd, &after, 0, what)?;
                ctx.ctl.writeln("SENT")?;
                ctx.ctl.expectln("RECEIVED")?;
            } else {
                ctx.ctl.expectln("SENT")?;
                expect_record(&fd, &after, None, &format!("{what}: first record after an empty send without markers (nothing should have been sent for it)"))?;
                expect_nothing_queued(&fd, what)?;
                ctx.ctl.writeln("RECEIVED")?;
            }
            continue;
        }

        let plan: [(usize, bool); 8] = [
            (0, false),
            (5, false),
            (0, true),
            (0, false),
            (70000, true),
            (0, false),
            (3, true),
            (0, true),
        ];
        if ctx.sends(dir) {
            for (i, &(len, eor)) in plan.iter().enumerate() {
                let data = pattern::record(seed(3, dir, i), len);
                let flags = if eor { libc::MSG_EOR } else { 0 };
                send_record(
                    &fd,
                    &data,
                    flags,
                    &format!("{what}: record {i} ({len} bytes)"),
                )?;
            }
            ctx.ctl.writeln("SENT")?;
            ctx.ctl.expectln("RECEIVED")?;
        } else {
            // Everything is queued before reading, so that an empty record
            // cannot be mistaken for a record that has not arrived yet; the
            // sender keeps its socket open, so a 0 is never EOF here.
            ctx.ctl.expectln("SENT")?;
            for (i, &(len, eor)) in plan.iter().enumerate() {
                let w = format!("{what}: record {i} ({len} bytes, EOR {eor})");
                let want = pattern::record(seed(3, dir, i), len);
                expect_record(&fd, &want, Some(eor), &w)?;
            }
            expect_nothing_queued(&fd, &format!("{what}: after the last record"))?;
            ctx.ctl.writeln("RECEIVED")?;
        }
    }
    if !framing.markers {
        return Ok(Outcome::Skip(format!(
            "{}: a zero-length send sends nothing (checked), so empty records cannot round-trip",
            framing.why
        )));
    }
    Ok(Outcome::Pass)
}

/// A reader is woken for an empty record like for any other: a blocked
/// recv() returns 0 for it, and poll() reports POLLIN while one is queued.
/// Needs markers (upstream cannot send empty records).
pub fn zero_length_record_wakeup(ctx: &mut Ctx) -> CaseResult {
    let (fd, framing) = ctx.establish_framed()?;
    if !framing.markers {
        return Ok(Outcome::Skip(framing.why));
    }
    for dir in Dir::BOTH {
        let d = dir.name();
        if ctx.sends(dir) {
            ctx.ctl.expectln("WAITING")?;
            // Give the reader time to block.
            std::thread::sleep(std::time::Duration::from_millis(300));
            send_record(
                &fd,
                &[],
                0,
                &format!("{d}: empty record for a blocked reader"),
            )?;
            ctx.ctl.expectln("READY")?;
            send_record(
                &fd,
                &[],
                libc::MSG_EOR,
                &format!("{d}: empty record for poll()"),
            )?;
            ctx.ctl.writeln("SENT")?;
            ctx.ctl.expectln("RECEIVED")?;
            continue;
        }
        ctx.ctl.writeln("WAITING")?;
        let mut buf = [0u8; 16];
        let t0 = std::time::Instant::now();
        let r = recv(
            &fd,
            &mut buf,
            0,
            &format!("{d}: blocked recv() while an empty record is sent"),
        )?;
        ensure!(
            r.len == 0 && !r.trunc() && !r.eor(),
            "{d}: blocked recv() woken by an empty record: expected 0 with no MSG_TRUNC/MSG_EOR, got {} (msg_flags {:#x}) after {:?}",
            r.len,
            r.flags,
            t0.elapsed()
        );
        // A 0 from EOF would repeat; the record must be gone instead.
        expect_nothing_queued(
            &fd,
            &format!("{d}: after the empty record that woke recv()"),
        )?;

        ctx.ctl.writeln("READY")?;
        ctx.ctl.expectln("SENT")?;
        let revents = vsock::poll(&fd, libc::POLLIN, std::time::Duration::from_secs(2))
            .map_err(|e| format!("poll: {e}"))?;
        let r = recv(
            &fd,
            &mut buf,
            libc::MSG_DONTWAIT,
            &format!("{d}: queued empty record"),
        )?;
        ensure!(
            r.len == 0 && !r.trunc() && r.eor(),
            "{d}: queued empty record sent with MSG_EOR: expected 0 with MSG_EOR and no MSG_TRUNC, got {} (msg_flags {:#x})",
            r.len,
            r.flags
        );
        expect_nothing_queued(&fd, &format!("{d}: after the queued empty record"))?;
        ensure!(
            revents & libc::POLLIN != 0,
            "{d}: an empty record was queued (recv(MSG_DONTWAIT) returned it), but poll(POLLIN, 2 s) reported revents {revents:#x}: expected POLLIN; a poll()/epoll-driven reader is never woken for an empty record"
        );
        ctx.ctl.writeln("RECEIVED")?;
    }
    Ok(Outcome::Pass)
}

const RANDOM_RECORDS: usize = 200;

/// Seeded random sizes from 1 byte to the limit with random MSG_EOR, checked
/// record by record against the sender's checksums.
pub fn random_record_sizes(ctx: &mut Ctx) -> CaseResult {
    let fd = ctx.establish()?;
    let page = vsock::page_size();
    // The client's seed decides, so both sides print the same one.
    let seed_base = if ctx.is_client() {
        ctx.ctl.write_value("SEED", ctx.seed)?;
        ctx.seed
    } else {
        ctx.ctl.expect_u64("SEED")?
    };
    diag!("random_record_sizes: seed {seed_base} (rerun with --seed={seed_base})");
    for dir in Dir::BOTH {
        let plan = agree_limit(ctx, &fd, dir)?.map(|limit| {
            let mut rng = Rng::new(pattern::seed_of(&[seed_base, dir as u64]));
            (0..RANDOM_RECORDS)
                .map(|_| {
                    let len = match rng.range(0, 2) {
                        0 => rng.range(1, page),
                        1 => rng.range(page, 65536 + page),
                        _ => rng.range(65536, limit),
                    };
                    (len.min(limit), rng.coin())
                })
                .unzip::<usize, bool, Vec<_>, Vec<_>>()
        });
        let (sizes, eors) = match plan {
            Some((s, e)) => (Some(s), Some(e)),
            None => (None, None),
        };
        exchange_sizes(ctx, &fd, dir, seed_base ^ 4, sizes, eors)?;
    }
    Ok(Outcome::Pass)
}

/// MSG_EOR is reported exactly as the sender set it, for records of one
/// packet and of several.
pub fn msg_eor_flag(ctx: &mut Ctx) -> CaseResult {
    let fd = ctx.establish()?;
    for dir in Dir::BOTH {
        let plan = ctx.sends(dir).then(|| {
            let mut rng = Rng::new(pattern::seed_of(&[5, dir as u64]));
            let sizes = [1usize, 100, 4096, 65537, 70000, 7];
            let mut s = Vec::new();
            let mut e = Vec::new();
            for i in 0..32 {
                s.push(sizes[i % sizes.len()]);
                // Both values after each other, then random.
                e.push(if i < 4 { i % 2 == 0 } else { rng.coin() });
            }
            (s, e)
        });
        let (sizes, eors) = match plan {
            Some((s, e)) => (Some(s), Some(e)),
            None => (None, None),
        };
        exchange_sizes(ctx, &fd, dir, 5, sizes, eors)?;
    }
    Ok(Outcome::Pass)
}

/// Runs of empty records, each run with its own flags.
const EMPTY_RUNS: [(usize, bool); 3] = [(3000, true), (1, false), (500, false)];

/// A sender looping on empty records to a reader that reads nothing until
/// they are all sent: empty records take no credit, so the sender never
/// waits, and none may be lost or cost the connection. Runs of them share
/// one skb at the receiver.
pub fn empty_record_flood(ctx: &mut Ctx) -> CaseResult {
    let (fd, framing) = ctx.establish_framed()?;
    if !framing.markers {
        return Ok(Outcome::Skip(format!(
            "EOM framing cannot send empty records; {}",
            framing.why
        )));
    }
    for dir in Dir::BOTH {
        let what = dir.name();
        let marker = pattern::record(seed(34, dir, 0), 10);
        if ctx.sends(dir) {
            for (run, &(count, eor)) in EMPTY_RUNS.iter().enumerate() {
                let flags = if eor { libc::MSG_EOR } else { 0 };
                for i in 0..count {
                    match vsock::send(&fd, &[], flags | libc::MSG_DONTWAIT) {
                        Ok(0) => {}
                        other => {
                            return Err(Fail::new(format!(
                                "{what}: empty record {i} of run {run}: expected 0, got {other:?}"
                            )))
                        }
                    }
                }
                send_record(&fd, &marker, libc::MSG_EOR, what)?;
            }
            ctx.ctl.writeln("SENT")?;
            ctx.ctl.expectln("RECEIVED")?;
        } else {
            ctx.ctl.expectln("SENT")?;
            for (run, &(count, eor)) in EMPTY_RUNS.iter().enumerate() {
                for i in 0..count {
                    let mut buf = [0u8; 16];
                    let r = recv(&fd, &mut buf, 0, what)?;
                    ensure!(
                        r.len == 0 && r.eor() == eor,
                        "{what}: empty record {i} of run {run}: got {} bytes, msg_flags {:#x}",
                        r.len,
                        r.flags
                    );
                }
                expect_record(
                    &fd,
                    &marker,
                    Some(true),
                    &format!("{what}: record after run {run}"),
                )?;
            }
            expect_nothing_queued(&fd, what)?;
            ctx.ctl.writeln("RECEIVED")?;
        }
    }
    Ok(Outcome::Pass)
}
