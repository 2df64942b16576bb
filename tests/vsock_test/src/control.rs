//! The control channel: one vsock SOCK_STREAM connection carrying text lines
//! between the two halves of every case, like vsock_test's control.c.
//!
//! It is vsock rather than TCP so that the suite runs wherever the data path
//! does (L1 <-> L2, loopback CID 1) without any IP set up.
//!
//! Every read has a deadline, so a peer that died or hangs turns into a
//! failed case rather than a hung run. A peer that gives up on a case sends
//! its `DONE` line early; a read inside a case that meets it stops with an
//! error naming the line it was waiting for, and the runner collects the
//! early `DONE` from here.

use crate::harness::Fail;
use crate::vsock::{self, Fd};
use std::time::{Duration, Instant};

/// How long a case waits for one line from its peer. Longer than any single
/// data-path timeout, so that when both wait, the data path fails first and
/// says why.
pub const LINE_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Control {
    fd: Fd,
    /// Bytes received but not yet split into lines.
    buf: Vec<u8>,
    /// The `DONE <id> ...` line of the current case if it came while a case
    /// half was still reading.
    early_done: Option<String>,
    /// The case being run, to recognise its `DONE` line.
    case_id: usize,
}

impl Control {
    fn new(fd: Fd) -> Control {
        Control {
            fd,
            buf: Vec::new(),
            early_done: None,
            case_id: 0,
        }
    }

    /// Server side: listens on VMADDR_CID_ANY:`port` and takes one peer.
    pub fn accept(port: u32, timeout: Duration) -> Result<Control, String> {
        let l = vsock::socket(libc::SOCK_STREAM).map_err(|e| format!("control socket: {e}"))?;
        vsock::bind(&l, libc::VMADDR_CID_ANY, port)
            .map_err(|e| format!("control bind to port {port}: {e}"))?;
        vsock::listen(&l, 1).map_err(|e| format!("control listen: {e}"))?;
        vsock::set_recv_timeout(&l, timeout).map_err(|e| format!("control SO_RCVTIMEO: {e}"))?;
        let fd = vsock::accept(&l).map_err(|e| {
            format!(
                "no client connected to control port {port} within {} s: {}",
                timeout.as_secs(),
                vsock::errno_name(&e)
            )
        })?;
        Ok(Control::new(fd))
    }

    /// Client side: connects to `cid:port`, retrying while the server is not
    /// up yet (it may be started after us, or boot later).
    pub fn connect(cid: u32, port: u32, timeout: Duration) -> Result<Control, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let fd =
                vsock::socket(libc::SOCK_STREAM).map_err(|e| format!("control socket: {e}"))?;
            match vsock::connect(&fd, cid, port) {
                Ok(()) => return Ok(Control::new(fd)),
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(format!(
                        "could not connect to control port {cid}:{port} within {} s: {}",
                        timeout.as_secs(),
                        vsock::errno_name(&e)
                    ))
                }
            }
        }
    }

    pub fn writeln(&mut self, line: &str) -> Result<(), Fail> {
        debug_assert!(!line.contains('\n'));
        let mut data = line.as_bytes().to_vec();
        data.push(b'\n');
        let mut off = 0;
        while off < data.len() {
            match vsock::send(&self.fd, &data[off..], 0) {
                Ok(n) => off += n,
                Err(e) => {
                    return Err(Fail::fatal(format!(
                        "control channel: sending {line:?} failed: {}",
                        vsock::errno_name(&e)
                    )))
                }
            }
        }
        Ok(())
    }

    /// Reads one line, whatever it is, waiting at most `timeout`.
    pub fn read_line_raw(&mut self, timeout: Duration) -> Result<String, Fail> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return Ok(String::from_utf8_lossy(&line[..pos]).into_owned());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Fail::new(format!(
                    "control channel: no line from the peer within {} s",
                    timeout.as_secs()
                )));
            }
            let revents = vsock::poll(&self.fd, libc::POLLIN, left)
                .map_err(|e| Fail::fatal(format!("control channel: poll: {e}")))?;
            if revents == 0 {
                continue;
            }
            let mut chunk = [0u8; 4096];
            match vsock::recvmsg(&self.fd, &mut chunk, libc::MSG_DONTWAIT) {
                Ok(r) if r.len == 0 => return Err(Fail::fatal(
                    "control channel: the peer closed the connection (did it crash or time out?)"
                        .to_string(),
                )),
                Ok(r) => self.buf.extend_from_slice(&chunk[..r.len]),
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
                Err(e) => {
                    return Err(Fail::fatal(format!(
                        "control channel: recv: {}",
                        vsock::errno_name(&e)
                    )))
                }
            }
        }
    }

    /// Starts a new case: lines of the old one can no longer end it.
    pub fn begin_case(&mut self, id: usize) {
        self.case_id = id;
        self.early_done = None;
    }

    /// Takes the peer's `DONE` line if it already came.
    pub fn take_early_done(&mut self) -> Option<String> {
        self.early_done.take()
    }

    fn is_done_line(&self, line: &str) -> bool {
        line.strip_prefix("DONE ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|id| id.parse::<usize>().ok())
            == Some(self.case_id)
    }

    /// Reads the next line of the running case. `waiting_for` only serves the
    /// error message.
    pub fn readln(&mut self, waiting_for: &str) -> Result<String, Fail> {
        self.readln_within(waiting_for, LINE_TIMEOUT)
    }

    /// [`Self::readln`] for a peer step that may take longer than
    /// [`LINE_TIMEOUT`] (a large attack on a slow debug kernel).
    pub fn readln_within(&mut self, waiting_for: &str, timeout: Duration) -> Result<String, Fail> {
        let line = self.read_line_raw(timeout).map_err(|f| {
            Fail::with_fatal(
                format!("while waiting for {waiting_for}: {}", f.msg),
                f.fatal,
            )
        })?;
        if self.is_done_line(&line) {
            let msg = format!("peer ended the case while we waited for {waiting_for}: {line:?}");
            self.early_done = Some(line);
            return Err(Fail::new(msg));
        }
        Ok(line)
    }

    /// Reads a line and checks it is exactly `want`.
    pub fn expectln(&mut self, want: &str) -> Result<(), Fail> {
        self.expectln_within(want, LINE_TIMEOUT)
    }

    /// [`Self::expectln`] with a timeout of its own.
    pub fn expectln_within(&mut self, want: &str, timeout: Duration) -> Result<(), Fail> {
        let line = self.readln_within(&format!("{want:?}"), timeout)?;
        if line == want {
            Ok(())
        } else {
            Err(Fail::new(format!(
                "control channel: expected {want:?}, got {line:?}"
            )))
        }
    }

    /// Reads a line `KEY value` and returns the value.
    pub fn expect_value(&mut self, key: &str) -> Result<String, Fail> {
        let line = self.readln(&format!("\"{key} ...\""))?;
        match line.strip_prefix(key).and_then(|r| r.strip_prefix(' ')) {
            Some(v) => Ok(v.to_string()),
            None => Err(Fail::new(format!(
                "control channel: expected \"{key} <value>\", got {line:?}"
            ))),
        }
    }

    pub fn expect_u64(&mut self, key: &str) -> Result<u64, Fail> {
        let v = self.expect_value(key)?;
        v.parse().map_err(|_| {
            Fail::new(format!(
                "control channel: expected a number after {key:?}, got {v:?}"
            ))
        })
    }

    pub fn write_value(&mut self, key: &str, value: impl std::fmt::Display) -> Result<(), Fail> {
        self.writeln(&format!("{key} {value}"))
    }
}
