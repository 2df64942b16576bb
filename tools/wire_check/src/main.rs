//! `wire_check CAPTURE MARKER_PORT FALLBACK_PORT`: checks a vsockmon capture (pcap, link type
//! VSOCK) with the protocol core the module runs; see the library's documentation for what it
//! asserts. Prints what it saw, one line per record; exits 1 on the first mismatch, 2 when the
//! capture cannot be read or the arguments are wrong.

use std::fs::File;
use std::io::BufReader;
use std::process::ExitCode;

use vsock_seqpacket_wire_check::{check, read_capture, Ports};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let parse = |s: &String| s.parse::<u32>().ok();
    let (path, ports) = match args.as_slice() {
        [_, path, m, f] => match (parse(m), parse(f)) {
            (Some(marker), Some(fallback)) => (path, Ports { marker, fallback }),
            _ => return usage(),
        },
        _ => return usage(),
    };
    let packets = match File::open(path)
        .map_err(|e| e.to_string())
        .and_then(|f| read_capture(BufReader::new(f)))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("wire: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    match check(&packets, ports, &mut |line| println!("wire: {line}")) {
        Ok(s) => {
            for ((src, dst), d) in &s.marker {
                println!(
                    "wire: summary markers {src} -> {dst}: records={} bytes={} eor={}",
                    d.records, d.bytes, d.eor
                );
            }
            for ((src, dst), d) in &s.fallback {
                println!(
                    "wire: summary fallback {src} -> {dst}: records={} bytes={}",
                    d.records, d.bytes
                );
            }
            let records: u32 = s.marker.values().map(|d| d.records).sum();
            println!(
                "wire: ok: {records} marker records checked by the module's reassembler, \
                 {} fallback records, {} packets of other connections",
                s.fallback.values().map(|d| d.records).sum::<u32>(),
                s.other
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("wire: FAIL: {e}");
            ExitCode::from(1)
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: wire_check CAPTURE MARKER_PORT FALLBACK_PORT");
    ExitCode::from(2)
}
