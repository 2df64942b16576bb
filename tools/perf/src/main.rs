//! vsock_seqpacket_perf: record throughput and round-trip latency over
//! AF_VSOCK, in the style of the kernel's tools/testing/vsock/vsock_perf.
//!
//!   vsock_seqpacket_perf receiver [--port P] [--buf-size B] [--once]
//!   vsock_seqpacket_perf sender --cid C [--port P] --type seqpacket|stream
//!                        --size N [--bytes N | --duration S] [--buf-size B]
//!                        [--label L]
//!   vsock_seqpacket_perf rtt --cid C [--port P] --type seqpacket|stream
//!                        --size N [--duration S] [--buf-size B] [--label L]
//!   vsock_seqpacket_perf quit --cid C [--port P]
//!
//! The receiver listens for SOCK_SEQPACKET on P and SOCK_STREAM on P + 1
//! (default 1300) and serves one connection at a time until a `quit`.
//!
//! Round trips (`rtt`): the client sends one record, the receiver sends it
//! back, the client waits for the whole echo before it sends the next
//! record; one request in flight, so each round trip is a request/response
//! latency. After a few warm-up round trips it times every one for the
//! given seconds and prints
//!
//!   RESULT label=L mode=rtt type=seqpacket size=64 round_trips=N secs=S
//!     timer=tsc|monotonic round_trips_per_s=R rtt_p50_us=P rtt_p99_us=P rtt_mean_us=M
//!     rtt_min_us=M rtt_max_us=M tx_user_ms=U tx_sys_ms=S rx_user_ms=U
//!     rx_sys_ms=S
//!
//! (tx_ is the client, rx_ the echoing receiver; percentiles are
//! nearest-rank.) Round trips are timed with the CPU's time-stamp counter,
//! scaled to nanoseconds by the monotonic clock over the whole run: a VM
//! under TCG now and then boots without a calibrated TSC and keeps time in
//! jiffies (4 ms steps), which would make single round trips unmeasurable,
//! while the run's total stays accurate to a few tenths of a percent.
//!
//! Buffers: the sender's own vsock buffer bounds its window (Linux caps the
//! credit it uses at its own buffer size too); it defaults to upstream's
//! 256 KiB, or twice the record size for records over 128 KiB. The
//! receiver's defaults to 8 MiB, so that a window of 64-byte records stays
//! within the receive queue's per-skb budget (buffer / SKB_TRUESIZE(0), about
//! 14,000 skbs): beyond it Linux resets a SOCK_SEQPACKET connection with
//! ENOBUFS, whatever the framing. Every framing runs with the same buffers. A
//! sender announces its record size in a 16-byte hello, sends records of that
//! size for the given bytes or seconds, and shuts its side down; the receiver
//! checks every record (SOCK_SEQPACKET: exactly one record of that size a
//! recvmsg(), never MSG_TRUNC) and answers with its own figures. The sender
//! then prints one line:
//!
//!   RESULT label=L type=seqpacket size=64 records=N bytes=N secs=S
//!     records_per_s=R mb_per_s=M tx_user_ms=U tx_sys_ms=S rx_user_ms=U
//!     rx_sys_ms=S
//!
//! `secs` is the receiver's time from the hello to the end of the data, so
//! the rates are what was delivered; CPU times are getrusage() of each
//! process over the transfer. MB is 10^6 bytes. Exit status: 0 on success,
//! 1 when anything failed or a record arrived damaged, 2 for bad usage.

use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use vsock_seqpacket_socket::{self as vsock, Fd};

const MAGIC: u32 = 0x5053_5156; // "VQSP" little-endian
const FLAG_QUIT: u32 = 1;
/// The hello of a round-trip client: echo every record.
const FLAG_ECHO: u32 = 2;
/// Round trips before the timed ones (connection set-up, cold caches).
const RTT_WARMUP: u32 = 16;
const HELLO_LEN: usize = 16;
const SUMMARY_LEN: usize = 48;
const DEFAULT_PORT: u32 = 1300;
/// See the buffers paragraph at the top.
const DEFAULT_RX_BUF_SIZE: u64 = 8 << 20;
const DEFAULT_TX_WINDOW: u64 = 256 << 10;
/// How long a receiver waits for the sender's next bytes, and a sender for
/// credit or the receiver's summary, before giving up instead of hanging.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SockType {
    Seqpacket,
    Stream,
}

impl SockType {
    fn raw(self) -> libc::c_int {
        match self {
            SockType::Seqpacket => libc::SOCK_SEQPACKET,
            SockType::Stream => libc::SOCK_STREAM,
        }
    }
    fn name(self) -> &'static str {
        match self {
            SockType::Seqpacket => "seqpacket",
            SockType::Stream => "stream",
        }
    }
    fn port(self, base: u32) -> u32 {
        match self {
            SockType::Seqpacket => base,
            SockType::Stream => base + 1,
        }
    }
}

/// What the receiver measured for one connection.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
struct Summary {
    records: u64,
    bytes: u64,
    elapsed_ns: u64,
    user_us: u64,
    sys_us: u64,
    /// Records that arrived with the wrong length or truncated.
    damaged: u64,
}

impl Summary {
    fn encode(&self) -> [u8; SUMMARY_LEN] {
        let mut out = [0u8; SUMMARY_LEN];
        let fields = [
            self.records,
            self.bytes,
            self.elapsed_ns,
            self.user_us,
            self.sys_us,
            self.damaged,
        ];
        for (chunk, v) in out.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        out
    }
    fn decode(buf: &[u8; SUMMARY_LEN]) -> Self {
        let f = |i: usize| u64::from_le_bytes(buf[i * 8..i * 8 + 8].try_into().unwrap());
        Summary {
            records: f(0),
            bytes: f(1),
            elapsed_ns: f(2),
            user_us: f(3),
            sys_us: f(4),
            damaged: f(5),
        }
    }
}

fn hello(size: u32, flags: u32) -> [u8; HELLO_LEN] {
    let mut h = [0u8; HELLO_LEN];
    h[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    h[4..8].copy_from_slice(&flags.to_le_bytes());
    h[8..12].copy_from_slice(&size.to_le_bytes());
    h
}

/// (flags, record size) of a hello, or None when it is not one.
fn parse_hello(h: &[u8]) -> Option<(u32, u32)> {
    let word = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap());
    (h.len() == HELLO_LEN && word(0) == MAGIC).then(|| (word(4), word(8)))
}

/// User and system CPU time of this process, in microseconds.
fn cpu_us() -> (u64, u64) {
    // SAFETY: rusage is plain old data; getrusage() fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let us = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000 + tv.tv_usec as u64;
    (us(ru.ru_utime), us(ru.ru_stime))
}

fn err(what: &str, e: io::Error) -> String {
    format!("{what}: {}", vsock::errno_name(&e))
}

/// Sends all of `buf`: one record for SOCK_SEQPACKET, as many writes as it
/// takes for SOCK_STREAM.
fn send_all(fd: &Fd, ty: SockType, mut buf: &[u8]) -> Result<(), String> {
    loop {
        let n = vsock::send(fd, buf, 0).map_err(|e| err("send", e))?;
        if ty == SockType::Seqpacket && n != buf.len() {
            return Err(format!("send: {n} of a {}-byte record", buf.len()));
        }
        buf = &buf[n..];
        if buf.is_empty() {
            return Ok(());
        }
    }
}

/// Reads exactly `buf.len()` bytes (SOCK_STREAM) or one record of that
/// length (SOCK_SEQPACKET).
fn recv_exact(fd: &Fd, ty: SockType, buf: &mut [u8]) -> Result<(), String> {
    let mut got = 0;
    while got < buf.len() {
        let r = vsock::recvmsg(fd, &mut buf[got..], 0).map_err(|e| err("recv", e))?;
        if r.len == 0 {
            return Err("connection closed early".into());
        }
        if ty == SockType::Seqpacket && (r.len != buf.len() || r.trunc()) {
            return Err(format!(
                "expected a {}-byte record, got {}",
                buf.len(),
                r.len
            ));
        }
        got += r.len;
    }
    Ok(())
}

fn listener(ty: SockType, port: u32, buf_size: u64) -> Result<Fd, String> {
    let what = format!("{} listener on port {port}", ty.name());
    let fd = vsock::socket(ty.raw()).map_err(|e| err(&what, e))?;
    vsock::set_buffer_size(&fd, buf_size).map_err(|e| err(&what, e))?;
    vsock::bind(&fd, libc::VMADDR_CID_ANY, port).map_err(|e| err(&what, e))?;
    vsock::listen(&fd, 4).map_err(|e| err(&what, e))?;
    Ok(fd)
}

/// Serves one connection; Ok(true) when it asked the receiver to quit.
fn serve(conn: Fd, ty: SockType) -> Result<bool, String> {
    vsock::set_recv_timeout(&conn, STALL_TIMEOUT).map_err(|e| err("SO_RCVTIMEO", e))?;
    let mut h = [0u8; HELLO_LEN];
    recv_exact(&conn, ty, &mut h)?;
    let (flags, size) = parse_hello(&h).ok_or("not a vsock_seqpacket_perf hello")?;
    if flags & FLAG_QUIT != 0 {
        send_all(&conn, ty, &Summary::default().encode())?;
        return Ok(true);
    }
    let size = size as usize;
    if size == 0 {
        return Err("record size 0 in the hello".into());
    }
    if flags & FLAG_ECHO != 0 {
        return echo(&conn, ty, size).map(|()| false);
    }
    let mut buf = vec![0u8; size];
    let (user0, sys0) = cpu_us();
    let start = Instant::now();
    let mut s = Summary::default();
    loop {
        let r = vsock::recvmsg(&conn, &mut buf, 0).map_err(|e| err("recv", e))?;
        if r.len == 0 {
            break; // the sender shut down: records are never empty here
        }
        if ty == SockType::Seqpacket {
            s.records += 1;
            if r.len != size || r.trunc() {
                s.damaged += 1;
            }
        }
        s.bytes += r.len as u64;
    }
    s.elapsed_ns = start.elapsed().as_nanos() as u64;
    if ty == SockType::Stream {
        s.records = s.bytes / size as u64;
        s.damaged = u64::from(s.bytes % size as u64 != 0);
    }
    let (user1, sys1) = cpu_us();
    s.user_us = user1 - user0;
    s.sys_us = sys1 - sys0;
    send_all(&conn, ty, &s.encode())?;
    Ok(false)
}

/// Receives one record of `buf.len()` bytes (SOCK_SEQPACKET: one
/// recvmsg(); SOCK_STREAM: as many reads as it takes). Ok(false) at the end
/// of the connection before a record; Ok(true) with `damaged` set when a
/// SOCK_SEQPACKET record had the wrong length or was truncated.
fn recv_record(fd: &Fd, ty: SockType, buf: &mut [u8], damaged: &mut bool) -> Result<bool, String> {
    let mut got = 0;
    while got < buf.len() {
        let r = vsock::recvmsg(fd, &mut buf[got..], 0).map_err(|e| err("recv", e))?;
        if r.len == 0 {
            if got == 0 {
                return Ok(false);
            }
            return Err("connection closed inside a record".into());
        }
        if ty == SockType::Seqpacket {
            *damaged = r.len != buf.len() || r.trunc();
            return Ok(true);
        }
        got += r.len;
    }
    Ok(true)
}

/// The receiver's side of `rtt`: sends every record back as it came, until
/// the client shuts down, then answers with its summary.
fn echo(conn: &Fd, ty: SockType, size: usize) -> Result<(), String> {
    let mut buf = vec![0u8; size];
    let (user0, sys0) = cpu_us();
    let start = Instant::now();
    let mut s = Summary::default();
    let mut damaged = false;
    while recv_record(conn, ty, &mut buf, &mut damaged)? {
        s.records += 1;
        s.bytes += size as u64;
        if damaged {
            s.damaged += 1;
        }
        send_all(conn, ty, &buf)?;
    }
    s.elapsed_ns = start.elapsed().as_nanos() as u64;
    let (user1, sys1) = cpu_us();
    s.user_us = user1 - user0;
    s.sys_us = sys1 - sys0;
    send_all(conn, ty, &s.encode())
}

fn receiver(port: u32, buf_size: u64, once: bool) -> Result<(), String> {
    let listeners = [
        (
            SockType::Seqpacket,
            listener(SockType::Seqpacket, port, buf_size)?,
        ),
        (
            SockType::Stream,
            listener(SockType::Stream, port + 1, buf_size)?,
        ),
    ];
    println!(
        "receiver: listening on ports {port} (seqpacket) and {} (stream)",
        port + 1
    );
    loop {
        let mut fds = listeners.each_ref().map(|(_, fd)| libc::pollfd {
            fd: fd.raw(),
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: fds is an array of valid pollfds of the length passed.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(err("poll", e));
        }
        for (pfd, (ty, fd)) in fds.iter().zip(&listeners) {
            if pfd.revents == 0 {
                continue;
            }
            let conn = vsock::accept(fd).map_err(|e| err("accept", e))?;
            match serve(conn, *ty) {
                Ok(true) => return Ok(()),
                Ok(false) if once => return Ok(()),
                Ok(false) => {}
                // One bad sender does not end the server; its own run fails.
                Err(e) => eprintln!("receiver: {} connection: {e}", ty.name()),
            }
        }
    }
}

enum Amount {
    Bytes(u64),
    Duration(Duration),
}

struct SenderArgs {
    cid: u32,
    buf_size: u64,
    port: u32,
    ty: SockType,
    size: u32,
    amount: Amount,
    label: String,
}

fn connect(cid: u32, port: u32, ty: SockType, buf_size: u64) -> Result<Fd, String> {
    let what = format!("connect to {cid}:{port} ({})", ty.name());
    let fd = vsock::socket(ty.raw()).map_err(|e| err(&what, e))?;
    vsock::set_buffer_size(&fd, buf_size).map_err(|e| err(&what, e))?;
    // The default 2 s is too short for an L1 under TCG on a loaded machine.
    vsock::set_connect_timeout(&fd, STALL_TIMEOUT).map_err(|e| err(&what, e))?;
    vsock::connect(&fd, cid, port).map_err(|e| err(&what, e))?;
    vsock::set_recv_timeout(&fd, STALL_TIMEOUT).map_err(|e| err("SO_RCVTIMEO", e))?;
    vsock::set_send_timeout(&fd, STALL_TIMEOUT).map_err(|e| err("SO_SNDTIMEO", e))?;
    Ok(fd)
}

fn read_summary(fd: &Fd, ty: SockType) -> Result<Summary, String> {
    let mut buf = [0u8; SUMMARY_LEN];
    recv_exact(fd, ty, &mut buf).map_err(|e| format!("receiver's summary: {e}"))?;
    Ok(Summary::decode(&buf))
}

fn sender(a: &SenderArgs) -> Result<(), String> {
    let fd = connect(a.cid, a.ty.port(a.port), a.ty, a.buf_size)?;
    send_all(&fd, a.ty, &hello(a.size, 0))?;
    let record: Vec<u8> = (0..a.size).map(|i| i as u8).collect();
    let (user0, sys0) = cpu_us();
    let start = Instant::now();
    let mut sent = 0u64;
    loop {
        let more = match a.amount {
            Amount::Bytes(total) => sent * u64::from(a.size) < total,
            Amount::Duration(d) => start.elapsed() < d,
        };
        if !more {
            break;
        }
        send_all(&fd, a.ty, &record)?;
        sent += 1;
    }
    vsock::shutdown(&fd, libc::SHUT_WR).map_err(|e| err("shutdown", e))?;
    let (user1, sys1) = cpu_us();
    let rx = read_summary(&fd, a.ty)?;

    let secs = rx.elapsed_ns as f64 / 1e9;
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "RESULT label={} type={} size={} records={} bytes={} secs={:.3} records_per_s={:.0} \
         mb_per_s={:.2} tx_user_ms={:.1} tx_sys_ms={:.1} rx_user_ms={:.1} rx_sys_ms={:.1}",
        a.label,
        a.ty.name(),
        a.size,
        rx.records,
        rx.bytes,
        secs,
        rx.records as f64 / secs,
        rx.bytes as f64 / secs / 1e6,
        ms(user1 - user0),
        ms(sys1 - sys0),
        ms(rx.user_us),
        ms(rx.sys_us),
    );
    let expected = sent * u64::from(a.size);
    if rx.damaged != 0 || rx.bytes != expected || rx.records != sent {
        return Err(format!(
            "sent {sent} records ({expected} bytes); the receiver got {} records ({} bytes), {} damaged",
            rx.records, rx.bytes, rx.damaged
        ));
    }
    Ok(())
}

/// A clock for single round trips: the time-stamp counter where there is
/// one (see the top of the file), else the monotonic clock in nanoseconds.
#[cfg(target_arch = "x86_64")]
fn ticks() -> u64 {
    // SAFETY: RDTSC only reads the time-stamp counter; Linux lets user
    // space execute it.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
fn ticks() -> u64 {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// What ticks() reads, for the RESULT line.
#[cfg(target_arch = "x86_64")]
const TIMER: &str = "tsc";
#[cfg(not(target_arch = "x86_64"))]
const TIMER: &str = "monotonic";

/// Nearest-rank percentile `p` (0-100] of sorted `v`, which is not empty.
fn percentile(v: &[u64], p: u32) -> u64 {
    let rank = (v.len() * p as usize).div_ceil(100).max(1);
    v[rank - 1]
}

/// The client of a round-trip run: one record out, its echo back, again.
fn rtt(a: &SenderArgs) -> Result<(), String> {
    let fd = connect(a.cid, a.ty.port(a.port), a.ty, a.buf_size)?;
    send_all(&fd, a.ty, &hello(a.size, FLAG_ECHO))?;
    let record: Vec<u8> = (0..a.size).map(|i| (i as u8) ^ 0x5a).collect();
    let mut back = vec![0u8; a.size as usize];
    let mut damaged = false;
    let mut round_trip = |fd: &Fd| -> Result<(), String> {
        send_all(fd, a.ty, &record)?;
        if !recv_record(fd, a.ty, &mut back, &mut damaged)? {
            return Err("the receiver closed the connection".into());
        }
        if damaged || back.first() != record.first() || back.last() != record.last() {
            return Err(format!(
                "the echo of a {}-byte record came back damaged",
                a.size
            ));
        }
        Ok(())
    };
    for _ in 0..RTT_WARMUP {
        round_trip(&fd)?;
    }
    let limit = match a.amount {
        Amount::Duration(d) => d,
        Amount::Bytes(_) => return Err("rtt takes --duration, not --bytes".into()),
    };
    let mut times: Vec<u64> = Vec::with_capacity(1 << 16);
    let (user0, sys0) = cpu_us();
    let start = Instant::now();
    let ticks0 = ticks();
    while start.elapsed() < limit {
        let t = ticks();
        round_trip(&fd)?;
        times.push(ticks().wrapping_sub(t));
    }
    let ticks_total = ticks().wrapping_sub(ticks0);
    let elapsed = start.elapsed().as_secs_f64();
    // Ticks to nanoseconds, by the monotonic clock over the whole run.
    let ns_per_tick = elapsed * 1e9 / ticks_total.max(1) as f64;
    for t in &mut times {
        *t = (*t as f64 * ns_per_tick) as u64;
    }
    vsock::shutdown(&fd, libc::SHUT_WR).map_err(|e| err("shutdown", e))?;
    let (user1, sys1) = cpu_us();
    let rx = read_summary(&fd, a.ty)?;
    let n = times.len() as u64;
    let expected = n + u64::from(RTT_WARMUP);
    if rx.damaged != 0 || rx.records != expected {
        return Err(format!(
            "{expected} round trips; the receiver echoed {} records, {} damaged",
            rx.records, rx.damaged
        ));
    }
    let mean = times.iter().sum::<u64>() as f64 / n as f64;
    times.sort_unstable();
    let us = |ns: u64| ns as f64 / 1000.0;
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "RESULT label={} mode=rtt type={} size={} round_trips={n} secs={elapsed:.3} timer={TIMER} \
         round_trips_per_s={:.0} rtt_p50_us={:.1} rtt_p99_us={:.1} rtt_mean_us={:.1} \
         rtt_min_us={:.1} rtt_max_us={:.1} tx_user_ms={:.1} tx_sys_ms={:.1} rx_user_ms={:.1} \
         rx_sys_ms={:.1}",
        a.label,
        a.ty.name(),
        a.size,
        n as f64 / elapsed,
        us(percentile(&times, 50)),
        us(percentile(&times, 99)),
        mean / 1000.0,
        us(times[0]),
        us(times[times.len() - 1]),
        ms(user1 - user0),
        ms(sys1 - sys0),
        ms(rx.user_us),
        ms(rx.sys_us),
    );
    Ok(())
}

fn quit(cid: u32, port: u32) -> Result<(), String> {
    let fd = connect(cid, port, SockType::Seqpacket, DEFAULT_TX_WINDOW)?;
    send_all(&fd, SockType::Seqpacket, &hello(0, FLAG_QUIT))?;
    read_summary(&fd, SockType::Seqpacket).map(drop)
}

/// "64", "4K", "1M" (binary multiples).
fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 1 << 10),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 1 << 20),
        Some(b'G' | b'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("not a size: {s:?} (e.g. 64, 4K, 1M)"))
}

const USAGE: &str = "usage:
  vsock_seqpacket_perf receiver [--port P] [--buf-size B] [--once]
  vsock_seqpacket_perf sender --cid C [--port P] --type seqpacket|stream --size N
                       [--bytes N | --duration SECONDS] [--buf-size B] [--label L]
  vsock_seqpacket_perf rtt --cid C [--port P] --type seqpacket|stream --size N
                       [--duration SECONDS] [--buf-size B] [--label L]
  vsock_seqpacket_perf quit --cid C [--port P]
The receiver listens on P (SOCK_SEQPACKET) and P+1 (SOCK_STREAM); P defaults to 1300.";

enum Command {
    Receiver {
        port: u32,
        buf_size: u64,
        once: bool,
    },
    Sender(SenderArgs),
    Rtt(SenderArgs),
    Quit {
        cid: u32,
        port: u32,
    },
}

fn parse(args: &[String]) -> Result<Command, String> {
    let mode = args.first().ok_or("no mode given")?;
    let mut port = DEFAULT_PORT;
    let mut buf_size = None;
    let mut once = false;
    let mut cid = None;
    let mut ty = None;
    let mut size = None;
    let mut amount = None;
    let mut label = String::from("-");
    let mut it = args[1..].iter();
    while let Some(opt) = it.next() {
        if opt == "--once" {
            once = true;
            continue;
        }
        let val = it.next().ok_or_else(|| format!("{opt} needs a value"))?;
        let number = |v: &str| {
            v.parse::<u32>()
                .map_err(|_| format!("{opt}: not a number: {v:?}"))
        };
        match opt.as_str() {
            "--port" => port = number(val)?,
            "--cid" => cid = Some(number(val)?),
            "--buf-size" => buf_size = Some(parse_size(val)?),
            "--type" => {
                ty = Some(match val.as_str() {
                    "seqpacket" => SockType::Seqpacket,
                    "stream" => SockType::Stream,
                    _ => return Err(format!("--type must be seqpacket or stream, not {val:?}")),
                })
            }
            "--size" => {
                let s = parse_size(val)?;
                if s == 0 || s > u64::from(u32::MAX) {
                    return Err(format!("--size must be between 1 and 4G-1, not {val}"));
                }
                size = Some(s as u32);
            }
            "--bytes" => amount = Some(Amount::Bytes(parse_size(val)?)),
            "--duration" => {
                let secs: f64 = val
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| {
                        format!("--duration: not a positive number of seconds: {val:?}")
                    })?;
                amount = Some(Amount::Duration(Duration::from_secs_f64(secs)));
            }
            "--label" => label = val.clone(),
            _ => return Err(format!("unknown option {opt}")),
        }
    }
    if port == u32::MAX {
        return Err("--port must leave room for P+1".into());
    }
    Ok(match mode.as_str() {
        "receiver" => Command::Receiver {
            port,
            buf_size: buf_size.unwrap_or(DEFAULT_RX_BUF_SIZE),
            once,
        },
        "sender" | "rtt" => {
            let size = size.ok_or_else(|| format!("{mode} needs --size"))?;
            let a = SenderArgs {
                cid: cid.ok_or_else(|| format!("{mode} needs --cid"))?,
                buf_size: buf_size.unwrap_or(DEFAULT_TX_WINDOW.max(2 * u64::from(size))),
                port,
                ty: ty.ok_or_else(|| format!("{mode} needs --type"))?,
                size,
                amount: amount.unwrap_or(Amount::Duration(Duration::from_secs(1))),
                label,
            };
            if mode == "rtt" {
                if matches!(a.amount, Amount::Bytes(_)) {
                    return Err("rtt takes --duration, not --bytes".into());
                }
                Command::Rtt(a)
            } else {
                Command::Sender(a)
            }
        }
        "quit" => Command::Quit {
            cid: cid.ok_or("quit needs --cid")?,
            port,
        },
        _ => return Err(format!("unknown mode {mode:?}")),
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let cmd = match parse(&args) {
        Ok(cmd) => cmd,
        Err(e) => {
            eprintln!("vsock_seqpacket_perf: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd {
        Command::Receiver {
            port,
            buf_size,
            once,
        } => receiver(port, buf_size, once),
        Command::Sender(a) => sender(&a),
        Command::Rtt(a) => rtt(&a),
        Command::Quit { cid, port } => quit(cid, port),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vsock_seqpacket_perf: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_round_trips() {
        let s = Summary {
            records: 1,
            bytes: 2,
            elapsed_ns: 3,
            user_us: 4,
            sys_us: 5,
            damaged: 6,
        };
        assert_eq!(Summary::decode(&s.encode()), s);
    }

    #[test]
    fn hello_round_trips_and_rejects_garbage() {
        assert_eq!(
            parse_hello(&hello(4096, FLAG_QUIT)),
            Some((FLAG_QUIT, 4096))
        );
        assert_eq!(parse_hello(&[0u8; HELLO_LEN]), None);
        assert_eq!(parse_hello(&hello(1, 0)[..8]), None);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=200).collect();
        assert_eq!(percentile(&v, 50), 100);
        assert_eq!(percentile(&v, 99), 198);
        assert_eq!(percentile(&v, 100), 200);
        assert_eq!(percentile(&[7], 50), 7);
        assert_eq!(percentile(&[7], 99), 7);
    }

    #[test]
    fn rtt_parses_and_refuses_bytes() {
        let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(matches!(
            parse(&args(
                "rtt --cid 1 --type seqpacket --size 64 --duration 0.5"
            )),
            Ok(Command::Rtt(_))
        ));
        assert!(parse(&args("rtt --cid 1 --type stream --size 64 --bytes 1M")).is_err());
        assert!(parse(&args("rtt --cid 1 --type stream")).is_err());
    }

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("64"), Ok(64));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert!(parse_size("x").is_err());
        assert!(parse_size("").is_err());
    }
}
