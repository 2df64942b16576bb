//! Record-level checks shared by the cases; each failure says what was
//! expected and what came.

use crate::harness::{Ctx, Dir, Fail};
use crate::pattern;
use crate::vsock::{self, Fd, Received};

/// Slack added to receive buffers, so that two records merged into one show
/// up as a wrong length instead of a silently truncated read.
pub const SLACK: usize = 4096;

/// Sends `data` as one record; it must go out whole.
pub fn send_record(fd: &Fd, data: &[u8], flags: libc::c_int, what: &str) -> Result<(), Fail> {
    match vsock::send(fd, data, flags) {
        Ok(n) if n == data.len() => Ok(()),
        Ok(n) => Err(Fail::new(format!(
            "{what}: send of a {}-byte record returned {n}, expected {}",
            data.len(),
            data.len()
        ))),
        Err(e) => Err(Fail::new(format!(
            "{what}: send of a {}-byte record failed with {}, expected success",
            data.len(),
            vsock::errno_name(&e)
        ))),
    }
}

/// Sends `data` as one record and expects it to be refused with `errno`.
pub fn send_expect_errno(fd: &Fd, data: &[u8], errno: i32, what: &str) -> Result<(), Fail> {
    let want = vsock::errno_name(&std::io::Error::from_raw_os_error(errno));
    match vsock::send(fd, data, 0) {
        Ok(n) => Err(Fail::new(format!(
            "{what}: send of a {}-byte record returned {n}, expected {want}",
            data.len()
        ))),
        Err(e) if e.raw_os_error() == Some(errno) => Ok(()),
        Err(e) => Err(Fail::new(format!(
            "{what}: send of a {}-byte record failed with {}, expected {want}",
            data.len(),
            vsock::errno_name(&e)
        ))),
    }
}

/// One recvmsg(); an error is a failure.
pub fn recv(fd: &Fd, buf: &mut [u8], flags: libc::c_int, what: &str) -> Result<Received, Fail> {
    vsock::recvmsg(fd, buf, flags).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EAGAIN) && flags & libc::MSG_DONTWAIT == 0 {
            format!(" (no record within {} s)", vsock::IO_TIMEOUT.as_secs())
        } else {
            String::new()
        };
        Fail::new(format!(
            "{what}: expected a record, recvmsg failed with {}{hint}",
            vsock::errno_name(&e)
        ))
    })
}

/// Receives one record and checks that it is exactly `want`, whole, and
/// carries MSG_EOR iff `eor` (when given).
pub fn expect_record(fd: &Fd, want: &[u8], eor: Option<bool>, what: &str) -> Result<(), Fail> {
    let mut buf = vec![0u8; want.len() + SLACK];
    let r = recv(fd, &mut buf, 0, what)?;
    check_received(&r, &buf, want, eor, what)
}

/// Checks what one recvmsg() into a buffer larger than the record gave.
pub fn check_received(
    r: &Received,
    buf: &[u8],
    want: &[u8],
    eor: Option<bool>,
    what: &str,
) -> Result<(), Fail> {
    if r.len != want.len() {
        return Err(Fail::new(format!(
            "{what}: expected a {}-byte record, recvmsg returned {} (msg_flags {:#x}){}",
            want.len(),
            r.len,
            r.flags,
            if r.len == 0 {
                " - EOF or an empty record"
            } else {
                ""
            }
        )));
    }
    if r.trunc() {
        return Err(Fail::new(format!(
            "{what}: MSG_TRUNC set in msg_flags although the {}-byte buffer held the {}-byte record",
            buf.len(),
            want.len()
        )));
    }
    if let Some(eor) = eor {
        if r.eor() != eor {
            return Err(Fail::new(format!(
                "{what}: record sent {} MSG_EOR, but msg_flags {:#x} {} it",
                if eor { "with" } else { "without" },
                r.flags,
                if r.eor() { "has" } else { "lacks" }
            )));
        }
    }
    pattern::compare(what, &buf[..r.len], want).map_err(Fail::new)
}

/// Checks that no record is waiting: a non-blocking read must give EAGAIN.
pub fn expect_nothing_queued(fd: &Fd, what: &str) -> Result<(), Fail> {
    let mut buf = [0u8; 16];
    match vsock::recvmsg(fd, &mut buf, libc::MSG_DONTWAIT) {
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(()),
        Err(e) => Err(Fail::new(format!(
            "{what}: expected EAGAIN from recv(MSG_DONTWAIT) (nothing queued), got {}",
            vsock::errno_name(&e)
        ))),
        Ok(r) => Err(Fail::new(format!(
            "{what}: expected EAGAIN from recv(MSG_DONTWAIT) (nothing queued), got a {}-byte record/EOF (msg_flags {:#x})",
            r.len, r.flags
        ))),
    }
}

/// The largest record this side may send to a peer whose
/// SO_VM_SOCKETS_BUFFER_SIZE is `peer_buf`: 6.12 caps a record at the smaller
/// of the peer's and its own buffer.
pub fn record_limit(fd: &Fd, peer_buf: u64) -> Result<usize, Fail> {
    let own = vsock::buffer_size(fd)
        .map_err(|e| format!("getsockopt(SO_VM_SOCKETS_BUFFER_SIZE): {e}"))?;
    if own != peer_buf {
        crate::diag!(
            "buffer sizes differ: ours {own}, peer's {peer_buf}; records are capped at the smaller"
        );
    }
    Ok(own.min(peer_buf) as usize)
}

/// The receiver tells the sender its buffer size; the sender picks the
/// record length from the largest record it may send (`pick`) and tells it
/// back. Both sides return that length.
pub fn agree_record_len(
    ctx: &mut Ctx,
    fd: &Fd,
    dir: Dir,
    pick: impl FnOnce(usize) -> usize,
) -> Result<usize, Fail> {
    if ctx.sends(dir) {
        let peer_buf = ctx.ctl.expect_u64("BUFSIZE")?;
        let len = pick(record_limit(fd, peer_buf)?);
        ctx.ctl.write_value("LEN", len)?;
        Ok(len)
    } else {
        ctx.ctl.write_value("BUFSIZE", buffer_size(fd)?)?;
        Ok(ctx.ctl.expect_u64("LEN")? as usize)
    }
}

/// This side's SO_VM_SOCKETS_BUFFER_SIZE.
pub fn buffer_size(fd: &Fd) -> Result<u64, Fail> {
    vsock::buffer_size(fd)
        .map_err(|e| Fail::new(format!("getsockopt(SO_VM_SOCKETS_BUFFER_SIZE): {e}")))
}
