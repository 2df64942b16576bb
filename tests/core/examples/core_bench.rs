//! Throughput of the protocol core: records per second through what the module runs per
//! record: `TxFramer::plan` and both markers encoded on the sending side, `commit`; on the
//! receiving side each marker's header through `classify` and every packet to the
//! `Reassembler`. The record's bytes go as RW packets of at most `pkt` bytes, split as C splits
//! them (64 KiB is what the transport sends). Payload bytes are not copied: the figure is the
//! framing overhead, not a data rate. A figure, never pass/fail.
//!
//! Run: `cargo run --release -p vsock-seqpacket-core --example core_bench`
//! (`BENCH_SECONDS` sets the time per case, default 1).

use std::hint::black_box;
use std::time::{Duration, Instant};

use vsock_seqpacket_core::*;

/// `VIRTIO_VSOCK_MAX_PKT_BUF_SIZE`: the RW packet size the transport (C) sends.
const MAX_PKT: u32 = 64 * 1024;

/// Receive buffer of the receiving socket.
const RX_BUF: u32 = 256 * 1024;

/// Frames and reassembles one record of `len` bytes; returns the number of packets.
fn one_record(tx: &mut TxFramer, rx: &mut Reassembler, len: u32, pkt: u32) -> u64 {
    let plan = tx.plan(len, true);
    let (begin, end) = black_box((plan.begin.encode(), plan.end.encode()));
    let ev = classify(OP_SEQ_BEGIN, 0, &begin).expect("marker");
    rx.on_event(ev, RX_BUF).expect("begin accepted");
    let mut pkts = 2;
    let mut rest = len;
    while rest > 0 {
        let n = rest.min(pkt);
        let ev = RxEvent::Data {
            len: black_box(n),
            flags: 0,
        };
        black_box(rx.on_event(ev, RX_BUF).expect("data accepted"));
        rest -= n;
        pkts += 1;
    }
    let flags = if plan.eor { FLAG_SEQ_EOR } else { 0 };
    let ev = classify(OP_SEQ_END, flags, &end).expect("marker");
    match rx.on_event(ev, RX_BUF) {
        Ok(RxOutcome::Complete { len: got, .. }) => assert_eq!(got, len),
        other => panic!("record not complete: {other:?}"),
    }
    tx.commit(&plan);
    pkts
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let budget = Duration::from_secs_f64(secs);
    println!("core_bench: plan/commit + classify + reassembler per record (marker codec included, no payload copy)");
    println!(
        "{:>10} {:>9} {:>10} {:>14} {:>14} {:>10}",
        "record", "pkt", "pkts/rec", "records/s", "packets/s", "ns/record"
    );
    let cases = [
        (0u32, MAX_PKT, "0 B"),
        (64, MAX_PKT, "64 B"),
        (4096, MAX_PKT, "4 KiB"),
        (64 * 1024, 4096, "64 KiB"),
        (64 * 1024, MAX_PKT, "64 KiB"),
        (256 * 1024, MAX_PKT, "256 KiB"),
    ];
    for (len, pkt, name) in cases {
        let mut tx = TxFramer::new(0);
        let mut rx = Reassembler::new(0);
        let mut records: u64 = 0;
        let mut pkts: u64 = 0;
        let start = Instant::now();
        while start.elapsed() < budget {
            for _ in 0..256 {
                pkts += one_record(&mut tx, &mut rx, black_box(len), pkt);
            }
            records += 256;
        }
        let t = start.elapsed().as_secs_f64();
        println!(
            "{:>10} {:>9} {:>10} {:>14.0} {:>14.0} {:>10.1}",
            name,
            format!("{} KiB", pkt / 1024),
            pkts / records,
            records as f64 / t,
            pkts as f64 / t,
            t * 1e9 / records as f64
        );
    }
}
