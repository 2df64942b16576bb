//! Cases that look at the module itself through debugfs: the marker counter
//! crossing 2^32, and the statistics counters.

use super::common::{check_received, expect_nothing_queued, recv, send_record, SLACK};
use super::records::exchange_sizes;
use crate::harness::{CaseResult, Ctx, Dir, Fail, Outcome};
use crate::module::{self, Stats};
use crate::pattern::{self, Rng};
use crate::vsock::Fd;
use crate::{diag, ensure};

/// How close to 2^32 `initial_counter` must be for the wrap case to count.
const NEAR_WRAP: u64 = 100;

fn parse_opt_u32(s: &str) -> Option<u32> {
    s.parse().ok()
}

/// Records whose SEQ_BEGIN/SEQ_END counters cross 2^32, when the harness
/// has set `initial_counter` near it on both sides (the binary only reads
/// it). Each record advances the counter by two (BEGIN and END), so enough
/// records are sent to cross the wrap. The records must arrive intact in any
/// case.
pub fn counter_wrap(ctx: &mut Ctx) -> CaseResult {
    let local = module::read_counter("initial_counter").and_then(|v| u32::try_from(v).ok());
    ctx.ctl.write_value(
        "INITCNT",
        local.map_or("none".to_string(), |v| v.to_string()),
    )?;
    let peer = parse_opt_u32(&ctx.ctl.expect_value("INITCNT")?);
    let (client, server) = if ctx.is_client() {
        (local, peer)
    } else {
        (peer, local)
    };
    let show = |v: Option<u32>| v.map_or("absent".to_string(), |v| v.to_string());
    let counters = format!(
        "initial_counter: client {}, server {}",
        show(client),
        show(server)
    );
    diag!("{counters}");

    let (fd, framing) = ctx.establish_framed()?;
    let to_wrap = local.map(|v| (1u64 << 32) - u64::from(v));
    let near = to_wrap.is_some_and(|d| d <= NEAR_WRAP);
    // Twice the counter steps to the wrap, plus a margin past it.
    let records = to_wrap
        .filter(|_| near)
        .map_or(10, |d| (d / 2 + 5).max(10) as usize);
    for dir in Dir::BOTH {
        let plan = ctx.sends(dir).then(|| {
            let mut rng = Rng::new(pattern::seed_of(&[16, dir as u64]));
            let sizes: Vec<usize> = (0..records).map(|_| rng.range(1, 70000)).collect();
            let eors: Vec<bool> = (0..records).map(|_| rng.coin()).collect();
            (sizes, eors)
        });
        let (sizes, eors) = match plan {
            Some((s, e)) => (Some(s), Some(e)),
            None => (None, None),
        };
        exchange_sizes(ctx, &fd, dir, 16, sizes, eors).map_err(|f| f.context(&counters))?;
    }

    if !framing.markers {
        return Ok(Outcome::Skip(format!(
            "{}; records arrived intact",
            framing.why
        )));
    }
    ensure!(
        client == server,
        "both sides use markers but {counters}: records passed although the two ends start from different counters (is the first SEQ_BEGIN's counter checked?)"
    );
    match (local, near) {
        (Some(v), true) => {
            diag!(
                "marker counters started at {v}, {} steps below 2^32; {records} records each way ({} markers) crossed the wrap intact",
                (1u64 << 32) - u64::from(v),
                2 * records
            );
            Ok(Outcome::Pass)
        }
        (Some(v), false) => Ok(Outcome::Skip(format!(
            "initial_counter not near the wrap ({v})"
        ))),
        (None, _) => Ok(Outcome::Skip(module::why_no_debugfs())),
    }
}

/// The record and byte counters of one end of a transfer.
#[derive(Clone, Copy)]
enum Counted {
    Sent,
    Received,
}

impl Counted {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Counted::Sent => ("records_sent", "bytes_sent"),
            Counted::Received => ("records_received", "bytes_received"),
        }
    }

    fn of(self, s: &Stats) -> (u64, u64) {
        match self {
            Counted::Sent => (s.records_sent, s.bytes_sent),
            Counted::Received => (s.records_received, s.bytes_received),
        }
    }
}

/// Checks that `what` moved the record and byte counters of `how` by
/// exactly `records` and `bytes` between two snapshots.
fn ensure_counted(
    how: Counted,
    before: &Stats,
    after: &Stats,
    (records, bytes): (u64, u64),
    what: &str,
) -> Result<(), Fail> {
    let ((r0, b0), (r1, b1)) = (how.of(before), how.of(after));
    let (r, b) = (r1.wrapping_sub(r0), b1.wrapping_sub(b0));
    let (rn, bn) = how.names();
    ensure!(
        r == records && b == bytes,
        "{what}: {rn} grew by {r} and {bn} by {b}; expected {records} and {bytes}"
    );
    Ok(())
}

fn snapshot(checks: bool) -> Result<Stats, Fail> {
    if !checks {
        return Ok(Stats::default());
    }
    Stats::read().ok_or_else(|| {
        Fail::new(format!(
            "{} disappeared during the case",
            module::DEBUGFS_DIR
        ))
    })
}

/// Record sizes of the statistics case, an empty record included (markers
/// carry it; it counts as a record of 0 bytes).
const STAT_SIZES: [usize; 6] = [0, 1, 4096, 65536, 65537, 100_000];

/// One direction: the sender checks records_sent/bytes_sent over its sends,
/// the receiver records_received/bytes_received over its receives. Each side
/// opens its window only when the peer cannot be moving the same counters
/// (on the loopback both sides share one module).
fn stats_phase(
    ctx: &mut Ctx,
    fd: &Fd,
    dir: Dir,
    sizes: &[usize],
    checks: bool,
) -> Result<(), Fail> {
    let d = dir.name();
    let k = sizes.len() as u64;
    let bytes: u64 = sizes.iter().map(|&n| n as u64).sum();
    let rec = |i: usize| pattern::record(pattern::seed_of(&[17, dir as u64, i as u64]), sizes[i]);
    if ctx.sends(dir) {
        ctx.ctl.expectln("GO")?;
        let s0 = snapshot(checks)?;
        for i in 0..sizes.len() {
            send_record(fd, &rec(i), 0, &format!("{d}: record {i}"))?;
        }
        let s1 = snapshot(checks)?;
        ctx.ctl.writeln("SENT")?;
        ctx.ctl.expectln("RECEIVED")?;
        if checks {
            let what = format!("{d}: after sending {k} records of {bytes} bytes");
            ensure_counted(Counted::Sent, &s0, &s1, (k, bytes), &what)?;
        }
    } else {
        let s0 = snapshot(checks)?;
        ctx.ctl.writeln("GO")?;
        let mut buf = vec![0u8; 100_000 + SLACK];
        for (i, len) in sizes.iter().enumerate() {
            let what = format!("{d}: record {i} ({len} bytes)");
            let r = recv(fd, &mut buf, 0, &what)?;
            check_received(&r, &buf, &rec(i), None, &what)?;
        }
        ctx.ctl.expectln("SENT")?;
        let s1 = snapshot(checks)?;
        ctx.ctl.writeln("RECEIVED")?;
        if checks {
            let what = format!("{d}: after receiving {k} records of {bytes} bytes");
            ensure_counted(Counted::Received, &s0, &s1, (k, bytes), &what)?;
        }
    }
    Ok(())
}

/// One record read into a short buffer: the reader gets MSG_TRUNC, and its
/// side counts the whole record as received, once.
fn truncation_phase(ctx: &mut Ctx, fd: &Fd, dir: Dir, checks: bool) -> Result<(), Fail> {
    let d = dir.name();
    if ctx.sends(dir) {
        ctx.ctl.expectln("GO")?;
        send_record(fd, &[7u8; 1000], 0, &format!("{d}: record to be truncated"))?;
        ctx.ctl.writeln("SENT")?;
        ctx.ctl.expectln("RECEIVED")?;
    } else {
        let s0 = snapshot(checks)?;
        ctx.ctl.writeln("GO")?;
        ctx.ctl.expectln("SENT")?;
        let mut buf = [0u8; 10];
        let r = recv(
            fd,
            &mut buf,
            0,
            &format!("{d}: 1000-byte record into 10 bytes"),
        )?;
        ensure!(r.len == 10 && r.trunc(), "{d}: 1000-byte record into 10 bytes: expected 10 with MSG_TRUNC, got {} (msg_flags {:#x})", r.len, r.flags);
        expect_nothing_queued(fd, d)?;
        let s1 = snapshot(checks)?;
        ctx.ctl.writeln("RECEIVED")?;
        if checks {
            let what = format!("{d}: one 1000-byte record read truncated");
            ensure_counted(Counted::Received, &s0, &s1, (1, 1000), &what)?;
        }
    }
    Ok(())
}

/// The module's counters follow the traffic of one connection exactly; no
/// protocol violation is counted on a healthy connection.
pub fn module_statistics(ctx: &mut Ctx) -> CaseResult {
    let start = Stats::read();
    let (fd, framing) = ctx.establish_framed()?;
    // The traffic runs whatever this side can check, because the peer may
    // be checking its own counters.
    let checks = start.is_some() && framing.markers;
    // Upstream EOM framing sends nothing for an empty record.
    let sizes = if framing.markers {
        &STAT_SIZES[..]
    } else {
        &STAT_SIZES[1..]
    };
    for dir in Dir::BOTH {
        stats_phase(ctx, &fd, dir, sizes, checks)?;
    }
    for dir in Dir::BOTH {
        truncation_phase(ctx, &fd, dir, checks)?;
    }
    // The framing reason first: it reads the same on both sides.
    if !framing.markers {
        return Ok(Outcome::Skip(format!(
            "{}: the module counts only marker-framed records",
            framing.why
        )));
    }
    let Some(start) = start else {
        return Ok(Outcome::Skip(module::why_no_debugfs()));
    };
    let end = snapshot(true)?;
    let v = end.violations.wrapping_sub(start.violations);
    ensure!(
        v == 0,
        "violations/* grew by {v} during a healthy exchange; expected 0"
    );
    Ok(Outcome::Pass)
}
