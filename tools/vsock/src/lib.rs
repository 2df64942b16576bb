//! Thin, checked wrappers around the AF_VSOCK socket calls that the test
//! suite (tests/vsock_test) and the benchmark (tools/perf) make.
//!
//! Everything returns `io::Result` so that a caller can turn the errno into
//! a message that says what it expected; nothing here decides whether an
//! outcome is right.

use std::io;
use std::mem;
use std::os::fd::RawFd;
use std::time::Duration;

/// `SO_VM_SOCKETS_*` options of `<linux/vm_sockets.h>`, at level `AF_VSOCK`;
/// the libc crate does not carry them.
pub const SO_VM_SOCKETS_BUFFER_SIZE: libc::c_int = 0;
pub const SO_VM_SOCKETS_BUFFER_MAX_SIZE: libc::c_int = 2;
/// `SO_VM_SOCKETS_CONNECT_TIMEOUT`, in its 64-bit `timeval` form on x86_64.
pub const SO_VM_SOCKETS_CONNECT_TIMEOUT: libc::c_int = 6;

/// An owned file descriptor, closed on drop.
#[derive(Debug)]
pub struct Fd(RawFd);

impl Fd {
    pub fn raw(&self) -> RawFd {
        self.0
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor and nobody uses it after drop.
        unsafe { libc::close(self.0) };
    }
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// Retries a call interrupted by a signal: only the watchdog sends one, and it
/// ends the process anyway.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            other => return other,
        }
    }
}

fn sockaddr(cid: u32, port: u32) -> libc::sockaddr_vm {
    // SAFETY: sockaddr_vm is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_vm = unsafe { mem::zeroed() };
    sa.svm_family = libc::AF_VSOCK as libc::sa_family_t;
    sa.svm_cid = cid;
    sa.svm_port = port;
    sa
}

pub fn socket(ty: libc::c_int) -> io::Result<Fd> {
    // SAFETY: plain syscall.
    let fd = cvt(unsafe { libc::socket(libc::AF_VSOCK, ty | libc::SOCK_CLOEXEC, 0) })?;
    Ok(Fd(fd))
}

pub fn bind(fd: &Fd, cid: u32, port: u32) -> io::Result<()> {
    let sa = sockaddr(cid, port);
    // SAFETY: sa is a valid sockaddr_vm of the length passed.
    cvt(unsafe {
        libc::bind(
            fd.raw(),
            &sa as *const _ as *const libc::sockaddr,
            mem::size_of_val(&sa) as libc::socklen_t,
        )
    })?;
    Ok(())
}

pub fn listen(fd: &Fd, backlog: i32) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt(unsafe { libc::listen(fd.raw(), backlog) })?;
    Ok(())
}

/// Accepts one connection; the listener's SO_RCVTIMEO bounds the wait.
pub fn accept(fd: &Fd) -> io::Result<Fd> {
    retry(|| {
        // SAFETY: a null address is allowed by accept4().
        let c = unsafe {
            libc::accept4(
                fd.raw(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        cvt(c).map(Fd)
    })
}

pub fn connect(fd: &Fd, cid: u32, port: u32) -> io::Result<()> {
    let sa = sockaddr(cid, port);
    retry(|| {
        // SAFETY: sa is a valid sockaddr_vm of the length passed.
        cvt(unsafe {
            libc::connect(
                fd.raw(),
                &sa as *const _ as *const libc::sockaddr,
                mem::size_of_val(&sa) as libc::socklen_t,
            )
        })
        .map(drop)
    })
}

fn setsockopt<T>(fd: &Fd, level: libc::c_int, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: val points to a T of the size passed.
    cvt(unsafe {
        libc::setsockopt(
            fd.raw(),
            level,
            name,
            val as *const T as *const libc::c_void,
            mem::size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

fn getsockopt<T: Default>(fd: &Fd, level: libc::c_int, name: libc::c_int) -> io::Result<T> {
    let mut val = T::default();
    let mut len = mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: val is a writable T of the length passed.
    cvt(unsafe {
        libc::getsockopt(
            fd.raw(),
            level,
            name,
            &mut val as *mut T as *mut libc::c_void,
            &mut len,
        )
    })?;
    Ok(val)
}

fn timeval(d: Duration) -> libc::timeval {
    libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: d.subsec_micros() as libc::suseconds_t,
    }
}

fn set_timeout(fd: &Fd, name: libc::c_int, d: Duration) -> io::Result<()> {
    setsockopt(fd, libc::SOL_SOCKET, name, &timeval(d))
}

pub fn set_recv_timeout(fd: &Fd, d: Duration) -> io::Result<()> {
    set_timeout(fd, libc::SO_RCVTIMEO, d)
}

pub fn set_send_timeout(fd: &Fd, d: Duration) -> io::Result<()> {
    set_timeout(fd, libc::SO_SNDTIMEO, d)
}

/// How long a connect() may wait for the peer's answer (2 s by default).
pub fn set_connect_timeout(fd: &Fd, d: Duration) -> io::Result<()> {
    setsockopt(
        fd,
        libc::AF_VSOCK,
        SO_VM_SOCKETS_CONNECT_TIMEOUT,
        &timeval(d),
    )
}

/// Sets the vsock receive buffer, raising the maximum first when needed
/// (the kernel clamps the size to the maximum).
pub fn set_buffer_size(fd: &Fd, size: u64) -> io::Result<()> {
    let max: u64 = getsockopt(fd, libc::AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE)?;
    if size > max {
        setsockopt(fd, libc::AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &size)?;
    }
    setsockopt(fd, libc::AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &size)
}

pub fn buffer_size(fd: &Fd) -> io::Result<u64> {
    getsockopt(fd, libc::AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE)
}

/// One send() call: for SOCK_SEQPACKET, exactly one record.
pub fn send(fd: &Fd, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
    retry(|| send_once(fd, buf, flags))
}

/// What one recvmsg() returned.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    /// The return value: bytes copied, or the record's length with MSG_TRUNC.
    pub len: usize,
    /// `msg_flags` as the kernel set them.
    pub flags: libc::c_int,
}

impl Received {
    pub fn eor(&self) -> bool {
        self.flags & libc::MSG_EOR != 0
    }
    pub fn trunc(&self) -> bool {
        self.flags & libc::MSG_TRUNC != 0
    }
}

/// One recvmsg() call into `buf`.
pub fn recvmsg(fd: &Fd, buf: &mut [u8], flags: libc::c_int) -> io::Result<Received> {
    // SAFETY: a raw pointer/length pair that recvmsg() may write through;
    // only used for the call below.
    unsafe { recvmsg_raw(fd, buf.as_mut_ptr(), buf.len(), flags) }
}

/// recvmsg() into raw memory, for the cases that hand the kernel a buffer
/// with an unmapped hole on purpose.
///
/// # Safety
/// `ptr..ptr+len` must not overlap memory that Rust code holds references to
/// (the kernel checks mapping itself; a hole just gives EFAULT).
pub unsafe fn recvmsg_raw(
    fd: &Fd,
    ptr: *mut u8,
    len: usize,
    flags: libc::c_int,
) -> io::Result<Received> {
    retry(|| {
        let mut iov = libc::iovec {
            iov_base: ptr as *mut libc::c_void,
            iov_len: len,
        };
        // SAFETY: msghdr is plain old data; all-zero is valid.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        // SAFETY: msg describes one iovec the caller vouched for.
        let n = cvt_size(unsafe { libc::recvmsg(fd.raw(), &mut msg, flags) })?;
        Ok(Received {
            len: n,
            flags: msg.msg_flags,
        })
    })
}

/// poll() for one descriptor; returns revents (0 on timeout).
pub fn poll(fd: &Fd, events: libc::c_short, timeout: Duration) -> io::Result<libc::c_short> {
    let mut p = libc::pollfd {
        fd: fd.raw(),
        events,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: p is one valid pollfd.
    let n = retry(|| cvt(unsafe { libc::poll(&mut p, 1, ms) }))?;
    Ok(if n == 0 { 0 } else { p.revents })
}

pub fn shutdown(fd: &Fd, how: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt(unsafe { libc::shutdown(fd.raw(), how) })?;
    Ok(())
}

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: plain libc call.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// Names an errno the way the failure messages use it ("EMSGSIZE (90)").
pub fn errno_name(err: &io::Error) -> String {
    let Some(code) = err.raw_os_error() else {
        return err.to_string();
    };
    let name = match code {
        libc::EAGAIN => "EAGAIN",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EPIPE => "EPIPE",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOTCONN => "ENOTCONN",
        libc::EFAULT => "EFAULT",
        libc::EPROTO => "EPROTO",
        libc::EINVAL => "EINVAL",
        libc::ENOBUFS => "ENOBUFS",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ENODEV => "ENODEV",
        libc::EINTR => "EINTR",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::ESHUTDOWN => "ESHUTDOWN",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        _ => return format!("{err}"),
    };
    format!("{name} ({err})")
}

/// One send() call that is not retried when a signal interrupts it, for the
/// cases that interrupt senders on purpose.
pub fn send_once(fd: &Fd, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: buf is valid for reads of its length.
    cvt_size(unsafe {
        libc::send(
            fd.raw(),
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            flags | libc::MSG_NOSIGNAL,
        )
    })
}
