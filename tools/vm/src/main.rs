//! Joins a virtio-serial port, found by its name, to a TCP socket on the
//! loopback interface, so that the kernel's vsock_test can keep its TCP
//! control channel inside each VM while the bytes cross between VMs on a
//! virtio-serial port.
//!
//! Usage: vsock_relay PORT_NAME (--listen|--connect) 127.0.0.1:PORT

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

const CONNECT_PATIENCE: Duration = Duration::from_secs(60);

fn find_port(name: &str) -> io::Result<PathBuf> {
    for entry in fs::read_dir("/sys/class/virtio-ports")? {
        let entry = entry?;
        let port_name = fs::read_to_string(entry.path().join("name")).unwrap_or_default();
        if port_name.trim() == name {
            return Ok(PathBuf::from("/dev").join(entry.file_name()));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("no virtio-serial port named {name}"),
    ))
}

fn loopback_only(addr: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("bad address {addr}: {e}"))?;
    if addr.ip() != Ipv4Addr::LOCALHOST {
        return Err(format!("{addr}: the relay only talks to 127.0.0.1"));
    }
    Ok(addr)
}

fn connect_with_patience(addr: SocketAddr) -> io::Result<TcpStream> {
    let start = Instant::now();
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => return Ok(s),
            Err(e) if start.elapsed() > CONNECT_PATIENCE => return Err(e),
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Waits until the host side of the port is connected. Until then a read
/// of the port returns EOF at once (virtio_console reports POLLHUP), and a
/// relay that started reading early would end before the first byte.
fn wait_for_host(port: &File, name: &str) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let start = Instant::now();
    loop {
        let mut p = libc::pollfd {
            fd: port.as_raw_fd(),
            events: libc::POLLIN | libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: `p` is one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut p, 1, 100) };
        if n >= 0 && p.revents & libc::POLLHUP == 0 {
            return Ok(());
        }
        if start.elapsed() > CONNECT_PATIENCE {
            return Err(format!(
                "the host side of port {name} did not connect within {CONNECT_PATIENCE:?}"
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn copy_until_eof(mut from: impl Read, mut to: impl Write) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() || to.flush().is_err() {
                    return;
                }
            }
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let [name, mode, addr] = args else {
        return Err("usage: vsock_relay PORT_NAME (--listen|--connect) 127.0.0.1:PORT".into());
    };
    let addr = loopback_only(addr)?;
    let path = find_port(name).map_err(|e| e.to_string())?;
    let port = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("open {}: {e}", path.display()))?;
    if mode == "--connect" {
        // The TCP peer starts its protocol once connected: join it only
        // when bytes can flow.
        wait_for_host(&port, name)?;
    }
    let tcp = match mode.as_str() {
        "--listen" => {
            let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
            listener
                .accept()
                .map_err(|e| format!("accept on {addr}: {e}"))?
                .0
        }
        "--connect" => connect_with_patience(addr).map_err(|e| format!("connect {addr}: {e}"))?,
        other => return Err(format!("unknown mode {other}")),
    };
    wait_for_host(&port, name)?;
    let port_out: File = port.try_clone().map_err(|e| e.to_string())?;
    let tcp_out = tcp.try_clone().map_err(|e| e.to_string())?;
    let to_port = thread::spawn(move || copy_until_eof(tcp, port_out));
    copy_until_eof(port, tcp_out);
    let _ = to_port.join();
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vsock_relay: {e}");
            ExitCode::FAILURE
        }
    }
}
