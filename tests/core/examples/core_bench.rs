//! Throughput of the protocol core: records per second through the sender's framer and the
//! receiver's reassembler, including what the glue does per packet with the core (header
//! encode + decode, marker payload encode + classify, credit accounting). Payload bytes are not
//! copied: the figure is the framing overhead, not a data rate. A figure, never pass/fail.
//!
//! Run: `cargo run --release -p vsock-seqpacket-core --example core_bench`
//! (`BENCH_SECONDS` sets the time per case, default 1).

use std::hint::black_box;
use std::time::{Duration, Instant};

use vsock_seqpacket_core::*;

/// Payload bytes handed to `classify` for RW packets.
static PAYLOAD: [u8; MAX_PKT_BUF_SIZE as usize] = [0; MAX_PKT_BUF_SIZE as usize];

/// Sends one packet's header through the codec, as the glue would.
fn wire(op: u16, flags: u32, len: u32, credit: &Credit) -> PacketHdr {
    let hdr = PacketHdr {
        src_cid: 3,
        dst_cid: 2,
        src_port: 1024,
        dst_port: 1234,
        len,
        type_: TYPE_SEQPACKET,
        op,
        flags,
        buf_alloc: credit.buf_alloc,
        fwd_cnt: credit.fwd_cnt,
    };
    PacketHdr::decode(&black_box(hdr.encode())).expect("header")
}

/// Frames and reassembles one record of `len` bytes; returns the number of packets.
fn one_record(
    tx: &mut TxFramer,
    rx: &mut Reassembler,
    credit: &mut Credit,
    len: u32,
    max_pkt: u32,
) -> u64 {
    let rx_buf = credit.buf_alloc;
    let begin = tx.begin(len, true).expect("begin");
    let hdr = wire(OP_SEQ_BEGIN, 0, SEQ_HDR_LEN as u32, credit);
    let ev = classify(hdr.op, hdr.flags, &begin.encode()).expect("classify");
    rx.on_event(ev, rx_buf).expect("begin accepted");
    let mut pkts = 2;
    loop {
        match tx.next_frame(credit.peer_free(), max_pkt) {
            FrameStep::Data(n) => {
                let granted = credit.take(n);
                debug_assert_eq!(granted, n);
                let hdr = wire(OP_RW, 0, n, credit);
                let payload = &PAYLOAD[..hdr.len as usize];
                let ev = classify(hdr.op, hdr.flags, black_box(payload)).expect("classify");
                black_box(rx.on_event(ev, rx_buf).expect("data accepted"));
                pkts += 1;
            }
            FrameStep::End(end, eor) => {
                let flags = if eor { FLAG_SEQ_EOR } else { 0 };
                let hdr = wire(OP_SEQ_END, flags, SEQ_HDR_LEN as u32, credit);
                let ev = classify(hdr.op, hdr.flags, &end.encode()).expect("classify");
                match rx.on_event(ev, rx_buf) {
                    Ok(RxOutcome::Complete { len: got, .. }) => assert_eq!(got, len),
                    other => panic!("record not complete: {other:?}"),
                }
                // The reader consumes the record; the peer learns it from the next header.
                credit.consumed(len);
                credit.on_peer_update(credit.buf_alloc, credit.fwd_cnt);
                return pkts;
            }
            step => panic!("unexpected {step:?}"),
        }
    }
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let budget = Duration::from_secs_f64(secs);
    println!("core_bench: framer + reassembler per record (header/marker codec and credit included, no payload copy)");
    println!(
        "{:>10} {:>9} {:>10} {:>14} {:>14} {:>10}",
        "record", "max_pkt", "pkts/rec", "records/s", "packets/s", "ns/record"
    );
    let cases = [
        (64u32, 4096u32, "64 B"),
        (4096, 4096, "4 KiB"),
        (64 * 1024, 4096, "64 KiB"),
        (64 * 1024, MAX_PKT_BUF_SIZE, "64 KiB"),
    ];
    for (len, max_pkt, name) in cases {
        let mut tx = TxFramer::new(0);
        let mut rx = Reassembler::new(0);
        let mut credit = Credit {
            buf_alloc: 256 * 1024,
            peer_buf_alloc: 256 * 1024,
            ..Credit::default()
        };
        let mut records: u64 = 0;
        let mut pkts: u64 = 0;
        let start = Instant::now();
        while start.elapsed() < budget {
            for _ in 0..256 {
                pkts += one_record(&mut tx, &mut rx, &mut credit, black_box(len), max_pkt);
            }
            records += 256;
        }
        let t = start.elapsed().as_secs_f64();
        let max = if max_pkt >= 1024 {
            format!("{} KiB", max_pkt / 1024)
        } else {
            format!("{max_pkt} B")
        };
        println!(
            "{:>10} {:>9} {:>10} {:>14.0} {:>14.0} {:>10.1}",
            name,
            max,
            pkts / records,
            records as f64 / t,
            pkts as f64 / t,
            t * 1e9 / records as f64
        );
    }
}
