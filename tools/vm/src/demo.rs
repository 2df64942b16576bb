//! Sends a few SOCK_SEQPACKET records each way over vsock and prints them as
//! received, with their flags: the main job's demonstration.
//!
//!   vsock_demo server PORT            accept one connection, receive, then send
//!   vsock_demo client CID PORT        connect, send, then receive
//!   vsock_demo hold-server PORT       accept one connection and keep it until EOF
//!   vsock_demo hold-client CID PORT   connect, print "connected", keep it until stdin closes
//!   vsock_demo listen-pending PORT    listen, never accept, close the listener when stdin closes
//!
//! With `--no-empty` (both ends) the empty record is left out: upstream's EOM
//! framing, which a connection falls back to without markers, cannot send one.

use std::io::{self, Read};
use std::mem::{size_of, zeroed};
use std::process::ExitCode;

/// A record to send: its bytes and whether it ends with MSG_EOR.
const RECORDS: &[(&str, usize, bool)] = &[
    ("hello", 5, true),
    ("without-eor", 11, false),
    ("big", 100 * 1024, true),
    ("empty", 0, true),
    ("truncated", 64, true),
];
/// The receiver reads the last record into a buffer this small, to show MSG_TRUNC.
const SMALL_BUF: usize = 32;

struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value.
        unsafe { libc::close(self.0) };
    }
}

fn check(ret: i32, what: &str) -> io::Result<i32> {
    if ret < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(ret)
}

fn addr(cid: u32, port: u32) -> libc::sockaddr_vm {
    // SAFETY: sockaddr_vm is plain data; all-zero is valid.
    let mut sa: libc::sockaddr_vm = unsafe { zeroed() };
    sa.svm_family = libc::AF_VSOCK as libc::sa_family_t;
    sa.svm_cid = cid;
    sa.svm_port = port;
    sa
}

fn socket() -> io::Result<Fd> {
    // SAFETY: plain syscall.
    check(
        unsafe { libc::socket(libc::AF_VSOCK, libc::SOCK_SEQPACKET, 0) },
        "socket",
    )
    .map(Fd)
}

fn accept_one(port: u32) -> io::Result<Fd> {
    let listener = listen_on(port, 1)?;
    // SAFETY: null address arguments are allowed.
    check(
        unsafe { libc::accept(listener.0, std::ptr::null_mut(), std::ptr::null_mut()) },
        "accept",
    )
    .map(Fd)
}

fn listen_on(port: u32, backlog: i32) -> io::Result<Fd> {
    let listener = socket()?;
    let sa = addr(libc::VMADDR_CID_ANY, port);
    let len = size_of::<libc::sockaddr_vm>() as libc::socklen_t;
    // SAFETY: `sa` is a valid sockaddr_vm of `len` bytes.
    check(
        unsafe { libc::bind(listener.0, (&sa as *const libc::sockaddr_vm).cast(), len) },
        "bind",
    )?;
    // SAFETY: plain syscall on an owned descriptor.
    check(unsafe { libc::listen(listener.0, backlog) }, "listen")?;
    println!("listening on port {port}");
    Ok(listener)
}

fn connect(cid: u32, port: u32) -> io::Result<Fd> {
    let sock = socket()?;
    let sa = addr(cid, port);
    let len = size_of::<libc::sockaddr_vm>() as libc::socklen_t;
    for attempt in 0.. {
        // SAFETY: `sa` is a valid sockaddr_vm of `len` bytes.
        let ret = unsafe { libc::connect(sock.0, (&sa as *const libc::sockaddr_vm).cast(), len) };
        if ret == 0 {
            return Ok(sock);
        }
        if attempt == 100 {
            return check(ret, "connect").map(|_| sock);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    unreachable!()
}

fn payload(name: &str, len: usize) -> Vec<u8> {
    name.bytes().cycle().take(len).collect()
}

fn records(no_empty: bool) -> impl Iterator<Item = &'static (&'static str, usize, bool)> {
    RECORDS.iter().filter(move |r| !(no_empty && r.1 == 0))
}

fn send_all(sock: &Fd, who: &str, no_empty: bool) -> io::Result<()> {
    for &(name, len, eor) in records(no_empty) {
        let data = payload(name, len);
        let flags = if eor { libc::MSG_EOR } else { 0 };
        // SAFETY: `data` is valid for `len` bytes.
        let sent = unsafe { libc::send(sock.0, data.as_ptr().cast(), len, flags) };
        check(sent as i32, "send")?;
        println!(
            "{who} sent     {name:<12} len={len:<6} flags={}",
            if eor { "EOR" } else { "-" }
        );
    }
    Ok(())
}

fn recv_all(sock: &Fd, who: &str, no_empty: bool) -> io::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    for (i, &(name, len, _)) in records(no_empty).enumerate() {
        let cap = if i + 1 == RECORDS.len() {
            SMALL_BUF
        } else {
            buf.len()
        };
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: cap,
        };
        // SAFETY: msghdr is plain data; all-zero is valid.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        // SAFETY: `msg` points to one iovec over `buf`, valid for `cap` bytes.
        let got = unsafe { libc::recvmsg(sock.0, &mut msg, 0) };
        check(got as i32, "recvmsg")?;
        let got = got as usize;
        let mut flags = Vec::new();
        if msg.msg_flags & libc::MSG_EOR != 0 {
            flags.push("EOR");
        }
        if msg.msg_flags & libc::MSG_TRUNC != 0 {
            flags.push("TRUNC");
        }
        let shown = String::from_utf8_lossy(&buf[..got.min(16)]).into_owned();
        let intact = buf[..got] == payload(name, len)[..got]
            && (got == len || msg.msg_flags & libc::MSG_TRUNC != 0);
        println!(
            "{who} received len={got:<6} flags={:<9} data={shown:?}{} {}",
            if flags.is_empty() {
                "-".into()
            } else {
                flags.join("|")
            },
            if got > 16 { "..." } else { "" },
            if intact { "(intact)" } else { "(CORRUPT)" }
        );
        if !intact {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("record {name} corrupt"),
            ));
        }
    }
    Ok(())
}

fn hold(sock: &Fd) -> io::Result<()> {
    println!("connected");
    let mut byte = [0u8; 1];
    // Waits for the peer (server) or for our stdin (client) to end.
    // SAFETY: `byte` is valid for one byte.
    let _ = unsafe { libc::recv(sock.0, byte.as_mut_ptr().cast(), 1, 0) };
    Ok(())
}

fn run(mut args: Vec<String>) -> io::Result<()> {
    let before = args.len();
    args.retain(|a| a != "--no-empty");
    let no_empty = args.len() != before;
    let num = |s: &String| {
        s.parse::<u32>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{s}: {e}")))
    };
    match args.as_slice() {
        [m, port] if m == "server" => {
            let sock = accept_one(num(port)?)?;
            recv_all(&sock, "server", no_empty)?;
            send_all(&sock, "server", no_empty)
        }
        [m, cid, port] if m == "client" => {
            let sock = connect(num(cid)?, num(port)?)?;
            send_all(&sock, "client", no_empty)?;
            recv_all(&sock, "client", no_empty)
        }
        [m, port] if m == "hold-server" => hold(&accept_one(num(port)?)?),
        [m, port] if m == "listen-pending" => {
            let listener = listen_on(num(port)?, 8)?;
            let _ = io::stdin().read(&mut [0u8; 1]);
            drop(listener);
            Ok(())
        }
        [m, cid, port] if m == "hold-client" => {
            let sock = connect(num(cid)?, num(port)?)?;
            println!("connected");
            let _ = io::stdin().read(&mut [0u8; 1]);
            drop(sock);
            Ok(())
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "usage: vsock_demo [--no-empty] server PORT | client CID PORT | hold-server PORT | hold-client CID PORT | listen-pending PORT",
        )),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vsock_demo: {e}");
            ExitCode::FAILURE
        }
    }
}
