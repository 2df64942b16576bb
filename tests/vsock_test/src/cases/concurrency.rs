//! Many connections at once, and many writers on one connection.

use super::common::{check_received, expect_nothing_queued, recv, send_record, SLACK};
use crate::ensure;
use crate::harness::{CaseResult, Ctx, Dir, Fail, Outcome};
use crate::pattern::{self, Rng};
use crate::vsock::Fd;

const CONNECTIONS: usize = 16;
const ROUNDS: usize = 8;

fn conn_record(dir: Dir, conn: usize, round: usize) -> Vec<u8> {
    let seed = pattern::seed_of(&[11, dir as u64, conn as u64, round as u64]);
    let len = Rng::new(seed).range(1, 16 * 1024);
    pattern::record(seed, len)
}

/// 16 connections to one listener; records go out round-robin over all of
/// them and are read back connection by connection in reverse order, so
/// the transport carries them interleaved and each socket must keep its own
/// records apart.
pub fn many_connections(ctx: &mut Ctx) -> CaseResult {
    // Each connection's first record names it, so accept order does not matter.
    let mut fds: Vec<Option<Fd>> = (0..CONNECTIONS).map(|_| None).collect();
    if ctx.is_client() {
        ctx.ctl.expectln("LISTENING")?;
        for (i, slot) in fds.iter_mut().enumerate() {
            let fd = ctx.connect_more(&|_| Ok(()))?;
            send_record(
                &fd,
                &(i as u64).to_le_bytes(),
                0,
                &format!("hello on connection {i}"),
            )?;
            *slot = Some(fd);
        }
    } else {
        let l = ctx.listen(CONNECTIONS as i32, &|_| Ok(()))?;
        for n in 0..CONNECTIONS {
            let fd = ctx
                .accept(&l)
                .map_err(|f| f.context(&format!("connection {n} of {CONNECTIONS}")))?;
            let mut b = [0u8; 8 + SLACK];
            let r = recv(&fd, &mut b, 0, &format!("hello on accepted connection {n}"))?;
            ensure!(
                r.len == 8,
                "hello on accepted connection {n}: expected 8 bytes, got {}",
                r.len
            );
            let i = u64::from_le_bytes(b[..8].try_into().expect("8 bytes")) as usize;
            ensure!(i < CONNECTIONS && fds[i].is_none(), "hello on accepted connection {n} names connection {i}, which is out of range or taken");
            fds[i] = Some(fd);
        }
    }
    let fds: Vec<Fd> = fds
        .into_iter()
        .map(|f| f.expect("every slot filled"))
        .collect();

    for dir in Dir::BOTH {
        let d = dir.name();
        if ctx.sends(dir) {
            for round in 0..ROUNDS {
                for (i, fd) in fds.iter().enumerate() {
                    send_record(
                        fd,
                        &conn_record(dir, i, round),
                        0,
                        &format!("{d}: connection {i}, round {round}"),
                    )?;
                }
            }
            ctx.ctl.writeln("SENT")?;
            ctx.ctl.expectln("RECEIVED")?;
        } else {
            ctx.ctl.expectln("SENT")?;
            let mut buf = vec![0u8; 16 * 1024 + SLACK];
            for (i, fd) in fds.iter().enumerate().rev() {
                for round in 0..ROUNDS {
                    let what = format!("{d}: connection {i}, round {round}");
                    let want = conn_record(dir, i, round);
                    let r = recv(fd, &mut buf, 0, &what)?;
                    check_received(&r, &buf, &want, Some(false), &what)?;
                }
                expect_nothing_queued(fd, &format!("{d}: connection {i} after its records"))?;
            }
            ctx.ctl.writeln("RECEIVED")?;
        }
    }
    Ok(Outcome::Pass)
}

const WRITERS: usize = 4;
const PER_WRITER: usize = 64;
const HEADER: usize = 12;

/// The record writer `w` sends as its `seq`-th: a header (writer, seq,
/// length) and bytes derived from all three, so a record made of pieces of
/// two is caught however the pieces fall.
fn writer_record(dir: Dir, w: usize, seq: usize) -> (Vec<u8>, bool) {
    let seed = pattern::seed_of(&[12, dir as u64, w as u64, seq as u64]);
    let mut rng = Rng::new(seed);
    let len = rng.range(HEADER, 64 * 1024);
    let mut rec = pattern::record(seed, len);
    rec[0..4].copy_from_slice(&(w as u32).to_le_bytes());
    rec[4..8].copy_from_slice(&(seq as u32).to_le_bytes());
    rec[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    (rec, rng.coin())
}

/// Four threads send on one socket at once while the peer reads: every
/// record must arrive whole and unmixed, each writer's in its order. A
/// writer that waits for credit half-way through a record releases the
/// socket lock, so this needs the sender to keep other writers out until its
/// record is finished, which the design promises with markers; upstream EOM
/// framing mixes such records, so without markers the case is skipped.
pub fn concurrent_writers(ctx: &mut Ctx) -> CaseResult {
    let (fd, framing) = ctx.establish_framed()?;
    if !framing.markers {
        return Ok(Outcome::Skip(format!(
            "{}: upstream EOM framing does not keep concurrent writers' records apart",
            framing.why
        )));
    }
    for dir in Dir::BOTH {
        let d = dir.name();
        if ctx.sends(dir) {
            ctx.ctl.expectln("READING")?;
            let errors: Vec<Fail> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..WRITERS)
                    .map(|w| {
                        let fd = &fd;
                        s.spawn(move || -> Result<(), Fail> {
                            for seq in 0..PER_WRITER {
                                let (rec, eor) = writer_record(dir, w, seq);
                                let flags = if eor { libc::MSG_EOR } else { 0 };
                                send_record(
                                    fd,
                                    &rec,
                                    flags,
                                    &format!("{d}: writer {w}, record {seq} ({} bytes)", rec.len()),
                                )?;
                            }
                            Ok(())
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .filter_map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(Fail::new("writer thread panicked")))
                            .err()
                    })
                    .collect()
            });
            if let Some(first) = errors.into_iter().next() {
                return Err(first);
            }
            ctx.ctl.writeln("SENT")?;
            ctx.ctl.expectln("RECEIVED")?;
        } else {
            ctx.ctl.writeln("READING")?;
            let mut next = [0usize; WRITERS];
            let mut buf = vec![0u8; 64 * 1024 + SLACK];
            for n in 0..WRITERS * PER_WRITER {
                let what = format!("{d}: record {n} of {}", WRITERS * PER_WRITER);
                let r = recv(&fd, &mut buf, 0, &what)?;
                ensure!(
                    r.len >= HEADER,
                    "{what}: {} bytes, shorter than any record sent ({HEADER})",
                    r.len
                );
                let field = |at: usize| {
                    u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize
                };
                let (w, seq, len) = (field(0), field(4), field(8));
                ensure!(w < WRITERS, "{what}: header names writer {w}, there are {WRITERS}: not the start of a record");
                ensure!(
                    seq == next[w],
                    "{what}: writer {w}'s record {seq} arrived, expected its record {} (records lost, reordered or merged)",
                    next[w]
                );
                let (want, eor) = writer_record(dir, w, seq);
                ensure!(
                    len == want.len(),
                    "{what}: header of writer {w} record {seq} says {len} bytes, expected {}",
                    want.len()
                );
                check_received(
                    &r,
                    &buf,
                    &want,
                    Some(eor),
                    &format!("{what} (writer {w}, seq {seq})"),
                )?;
                next[w] += 1;
            }
            ctx.ctl.expectln("SENT")?;
            expect_nothing_queued(&fd, d)?;
            ctx.ctl.writeln("RECEIVED")?;
        }
    }
    Ok(Outcome::Pass)
}
