//! Built by `tests/no_panic.rs` the way the kernel builds Rust (no_std, panic=abort, overflow
//! checks, opt-level 2, the kernel's lints as errors). Like the module, it includes `src/proto`
//! as a private submodule and calls exactly what the module calls (src/vsock_seqpacket.rs,
//! src/debugfs.rs), each from an unmangled entry point so that it is code-generated: anything
//! else in the core is dead code, an error here as in the kernel build. The object must not
//! reference anything from `core::panicking`.

#![no_std]

// The same files are the userspace core crate's public API, hence `pub`.
#[expect(unreachable_pub)]
#[forbid(unsafe_code)]
#[path = "../../../../src/proto/mod.rs"]
mod proto;

use core::fmt::Write;
use proto::{
    framer::TxFramer,
    reasm::{classify, Reassembler, RxEvent, RxOutcome, Violation, ViolationKind},
    wire::{FLAG_SEQ_EOM, FLAG_SEQ_EOR, OP_SEQ_BEGIN, OP_SEQ_END, SEQ_HDR_LEN},
};

/// The values the module checks against the uapi at compile time.
#[no_mangle]
pub extern "C" fn k_consts() -> u32 {
    SEQ_HDR_LEN as u32 ^ u32::from(OP_SEQ_BEGIN) ^ u32::from(OP_SEQ_END) ^ FLAG_SEQ_EOM
        ^ FLAG_SEQ_EOR
}

/// `send_record`: plans both markers, encodes them, commits once the record went out.
#[no_mangle]
pub extern "C" fn k_tx(tx: &mut TxFramer, len: u32, eor: bool, sent: bool, out: &mut [u8; 16]) {
    let plan = tx.plan(len, eor);
    let [b0, b1, b2, b3, b4, b5, b6, b7] = plan.begin.encode();
    let [e0, e1, e2, e3, e4, e5, e6, e7] = plan.end.encode();
    *out = [b0, b1, b2, b3, b4, b5, b6, b7, e0, e1, e2, e3, e4, e5, e6, e7 ^ plan.eor as u8];
    if sent {
        tx.commit(&plan);
    }
}

/// Where a violation goes: its counter's index and its log line (`describe`, `{:?}`).
fn violation(v: Violation) -> usize {
    let mut w = Sink(0);
    let _ = write!(w, "{}: {:?}", v.describe(), v);
    v.kind().index() ^ w.0
}

struct Sink(usize);

impl Write for Sink {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0 = self.0.wrapping_add(s.len());
        Ok(())
    }
}

/// `recv`: a marker with or without its header, or data, to the reassembler.
#[no_mangle]
pub extern "C" fn k_recv(
    rx: &mut Reassembler,
    op: u16,
    flags: u32,
    hdr: Option<&[u8; SEQ_HDR_LEN]>,
    data: bool,
    len: u32,
    buf_alloc: u32,
) -> usize {
    let event = if data {
        RxEvent::Data { len, flags }
    } else {
        match hdr.map(|hdr| classify(op, flags, hdr)) {
            None => return violation(Violation::BadMarker),
            Some(None) => return 1,
            Some(Some(event)) => event,
        }
    };
    match rx.on_event(event, buf_alloc) {
        Ok(RxOutcome::Opened) => 2,
        Ok(RxOutcome::Queued) => 3,
        Ok(RxOutcome::Complete { len, eor }) => len as usize ^ eor as usize,
        Err(v) => violation(v),
    }
}

/// `close`: a reset or the peer's shutdown.
#[no_mangle]
pub extern "C" fn k_close(rx: &mut Reassembler, reset: bool) -> usize {
    if reset {
        let open = rx.is_open();
        rx.reset();
        return open as usize;
    }
    rx.on_shutdown().map_or_else(violation, |()| 0)
}

/// `init` and the load-time self-check.
#[no_mangle]
pub extern "C" fn k_new(first: u32, tx: &mut TxFramer, rx: &mut Reassembler) {
    *tx = TxFramer::new(first);
    *rx = Reassembler::new(first);
}

/// debugfs: one file a violation kind, named by it, indexing the counters.
#[no_mangle]
pub extern "C" fn k_debugfs(names: &mut [usize; ViolationKind::COUNT]) {
    for kind in ViolationKind::ALL {
        if let Some(slot) = names.get_mut(kind.index()) {
            *slot = kind.name().len();
        }
    }
}
