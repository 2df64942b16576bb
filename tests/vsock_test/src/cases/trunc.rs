//! Receive buffers smaller than the record, MSG_TRUNC, MSG_PEEK and a copy
//! that faults: each must consume exactly one record (or none, for a peek).

use super::common::{expect_nothing_queued, expect_record, recv, send_record, SLACK};
use crate::ensure;
use crate::harness::{CaseResult, Ctx, Dir, Fail, Outcome};
use crate::pattern;
use crate::vsock::{self, Fd};

fn seed(case: u64, dir: Dir, index: usize) -> u64 {
    pattern::seed_of(&[case, dir as u64, index as u64])
}

/// Sends `plan` (length, MSG_EOR) as records and waits until the peer has
/// checked them.
fn send_plan(
    ctx: &mut Ctx,
    fd: &Fd,
    dir: Dir,
    case: u64,
    plan: &[(usize, bool)],
) -> Result<(), Fail> {
    for (i, &(len, eor)) in plan.iter().enumerate() {
        let data = pattern::record(seed(case, dir, i), len);
        let flags = if eor { libc::MSG_EOR } else { 0 };
        send_record(
            fd,
            &data,
            flags,
            &format!("{}: record {i} ({len} bytes)", dir.name()),
        )?;
    }
    ctx.ctl.writeln("SENT")?;
    ctx.ctl.expectln("RECEIVED")
}

/// One recvmsg() into `buf_len` bytes that must return `ret`, set MSG_TRUNC
/// iff `trunc`, MSG_EOR iff `eor`, and deliver the record's first bytes.
#[expect(clippy::too_many_arguments)]
fn expect_partial(
    fd: &Fd,
    record: &[u8],
    eor: bool,
    buf_len: usize,
    flags: libc::c_int,
    ret: usize,
    trunc: bool,
    what: &str,
) -> Result<(), Fail> {
    let mut buf = vec![0u8; buf_len];
    let r = recv(fd, &mut buf, flags, what)?;
    ensure!(
        r.len == ret,
        "{what}: {}-byte record into a {buf_len}-byte buffer: expected recvmsg to return {ret}, got {} (msg_flags {:#x})",
        record.len(),
        r.len,
        r.flags
    );
    ensure!(
        r.trunc() == trunc,
        "{what}: {}-byte record into a {buf_len}-byte buffer: expected MSG_TRUNC {}in msg_flags, got msg_flags {:#x}",
        record.len(),
        if trunc { "" } else { "not " },
        r.flags
    );
    ensure!(
        r.eor() == eor,
        "{what}: record sent {} MSG_EOR, msg_flags {:#x}",
        if eor { "with" } else { "without" },
        r.flags
    );
    let n = buf_len.min(record.len());
    pattern::compare(what, &buf[..n], &record[..n]).map_err(Fail::new)
}

/// A short buffer gets what fits, MSG_TRUNC is set, the rest of the record
/// is dropped; MSG_TRUNC in the flags returns the record's real length.
pub fn msg_trunc_short_buffer(ctx: &mut Ctx) -> CaseResult {
    let fd = ctx.establish()?;
    let plan = [
        (4096, true),
        (100, false),
        (65537, true),
        (10, false),
        (3000, false),
    ];
    for dir in Dir::BOTH {
        if ctx.sends(dir) {
            send_plan(ctx, &fd, dir, 6, &plan)?;
            continue;
        }
        ctx.ctl.expectln("SENT")?;
        let rec = |i: usize| pattern::record(seed(6, dir, i), plan[i].0);
        let d = dir.name();
        expect_partial(
            &fd,
            &rec(0),
            true,
            100,
            0,
            100,
            true,
            &format!("{d}: record 0 into a short buffer"),
        )?;
        expect_record(
            &fd,
            &rec(1),
            Some(false),
            &format!("{d}: record 1, after a truncated one (the rest of record 0 must be gone)"),
        )?;
        expect_partial(
            &fd,
            &rec(2),
            true,
            1000,
            libc::MSG_TRUNC,
            65537,
            true,
            &format!("{d}: record 2 with MSG_TRUNC in the recv flags"),
        )?;
        expect_partial(
            &fd,
            &rec(3),
            false,
            10,
            0,
            10,
            false,
            &format!("{d}: record 3 into a buffer of exactly its size"),
        )?;
        expect_partial(
            &fd,
            &rec(4),
            false,
            2999,
            0,
            2999,
            true,
            &format!("{d}: record 4 into a buffer one byte short"),
        )?;
        expect_nothing_queued(&fd, &format!("{d}: after the truncated records"))?;
        ctx.ctl.writeln("RECEIVED")?;
    }
    Ok(Outcome::Pass)
}

/// MSG_PEEK does not consume; a peek and the read after it return the same
/// bytes, also for a record of many packets.
pub fn msg_peek(ctx: &mut Ctx) -> CaseResult {
    let fd = ctx.establish()?;
    let plan = [(3000, true), (200_000, false), (1, false)];
    for dir in Dir::BOTH {
        if ctx.sends(dir) {
            send_plan(ctx, &fd, dir, 7, &plan)?;
            continue;
        }
        ctx.ctl.expectln("SENT")?;
        let d = dir.name();
        let r0 = pattern::record(seed(7, dir, 0), 3000);
        let pk = libc::MSG_PEEK;
        // Twice: the first peek must leave the record where it was.
        for which in ["first", "second"] {
            expect_partial(
                &fd,
                &r0,
                true,
                3000 + SLACK,
                pk,
                3000,
                false,
                &format!("{d}: {which} peek"),
            )?;
        }
        expect_partial(
            &fd,
            &r0,
            true,
            100,
            pk,
            100,
            true,
            &format!("{d}: short peek"),
        )?;
        expect_partial(
            &fd,
            &r0,
            true,
            100,
            pk | libc::MSG_TRUNC,
            3000,
            true,
            &format!("{d}: short peek with MSG_TRUNC"),
        )?;
        expect_record(&fd, &r0, Some(true), &format!("{d}: read after the peeks"))?;

        let r1 = pattern::record(seed(7, dir, 1), 200_000);
        let mut peeked = vec![0u8; 200_000 + SLACK];
        let p = recv(
            &fd,
            &mut peeked,
            pk,
            &format!("{d}: peek of a 200000-byte record"),
        )?;
        ensure!(
            p.len == 200_000 && !p.trunc(),
            "{d}: peek of a 200000-byte record returned {} (msg_flags {:#x})",
            p.len,
            p.flags
        );
        let mut read = vec![0u8; 200_000 + SLACK];
        let r = recv(
            &fd,
            &mut read,
            0,
            &format!("{d}: read of the peeked 200000-byte record"),
        )?;
        ensure!(
            r.len == 200_000,
            "{d}: read after peek returned {} bytes, the peek {}",
            r.len,
            p.len
        );
        pattern::compare(
            &format!("{d}: peeked vs read bytes"),
            &peeked[..p.len],
            &read[..r.len],
        )?;
        pattern::compare(&format!("{d}: 200000-byte record"), &read[..r.len], &r1)?;

        expect_record(
            &fd,
            &pattern::record(seed(7, dir, 2), 1),
            Some(false),
            &format!("{d}: record after the big one"),
        )?;
        let mut b = [0u8; 8];
        match vsock::recvmsg(&fd, &mut b, pk | libc::MSG_DONTWAIT) {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
            other => {
                return Err(Fail::new(format!(
                    "{d}: MSG_PEEK|MSG_DONTWAIT on an empty queue: expected EAGAIN, got {other:?}"
                )))
            }
        }
        ctx.ctl.writeln("RECEIVED")?;
    }
    Ok(Outcome::Pass)
}

/// An anonymous mapping whose middle page is unmapped.
struct HoleyBuffer {
    base: *mut u8,
    page: usize,
}

impl HoleyBuffer {
    fn new(page: usize) -> Result<HoleyBuffer, Fail> {
        // SAFETY: a fresh anonymous mapping, no existing memory touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                3 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Fail::new(format!(
                "mmap: {}",
                std::io::Error::last_os_error()
            )));
        }
        let base = base as *mut u8;
        // SAFETY: the middle page of our own mapping.
        if unsafe { libc::munmap(base.add(page) as *mut libc::c_void, page) } != 0 {
            return Err(Fail::new(format!(
                "munmap: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(HoleyBuffer { base, page })
    }
}

impl Drop for HoleyBuffer {
    fn drop(&mut self) {
        // SAFETY: the two pages that are still mapped.
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.page);
            libc::munmap(self.base.add(2 * self.page) as *mut libc::c_void, self.page);
        }
    }
}

/// A read whose copy faults fails with EFAULT and consumes that record only:
/// the next read gets the next record whole (as vsock_test's
/// seqpacket_invalid_rec_buffer).
pub fn efault_consumes_one_record(ctx: &mut Ctx) -> CaseResult {
    let fd = ctx.establish()?;
    let page = vsock::page_size();
    let len = 3 * page;
    for dir in Dir::BOTH {
        let d = dir.name();
        if ctx.sends(dir) {
            send_record(&fd, &vec![b'a'; len], 0, &format!("{d}: record A"))?;
            send_record(&fd, &vec![b'b'; len], 0, &format!("{d}: record B"))?;
            ctx.ctl.writeln("SENT")?;
            ctx.ctl.expectln("RECEIVED")?;
            continue;
        }
        ctx.ctl.expectln("SENT")?;
        let hole = HoleyBuffer::new(page)?;
        // SAFETY: the mapping belongs to `hole` and no Rust reference points
        // into it; the kernel copies into the mapped pages and faults on the
        // hole.
        let r = unsafe { vsock::recvmsg_raw(&fd, hole.base, len, 0) };
        match r {
            Err(e) if e.raw_os_error() == Some(libc::EFAULT) => {}
            other => {
                return Err(Fail::new(format!(
                    "{d}: read of record A into a buffer with an unmapped page: expected EFAULT, got {other:?}"
                )))
            }
        }
        expect_record(
            &fd,
            &vec![b'b'; len],
            None,
            &format!("{d}: record B after the faulting read of A"),
        )?;
        expect_nothing_queued(&fd, d)?;
        ctx.ctl.writeln("RECEIVED")?;
    }
    Ok(Outcome::Pass)
}
