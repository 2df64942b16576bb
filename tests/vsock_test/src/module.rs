//! What the vsock_seqpacket module publishes in debugfs, and whether a
//! connection uses SEQ_BEGIN/SEQ_END markers.
//!
//! Nothing on the socket API tells marker framing from upstream's EOM
//! framing, so the cases that depend on it (zero-length records, counters,
//! statistics) exchange one probe record each way right after connecting
//! and read the module's `records_sent` and `records_received` around it:
//! only marker connections count records.

use crate::harness::{Ctx, Dir, Fail, Role};
use crate::vsock::{self, Fd};
use std::fs;
use std::path::Path;

pub const DEBUGFS_DIR: &str = "/sys/kernel/debug/vsock_seqpacket";
const SYSFS_MODULE: &str = "/sys/module/vsock_seqpacket";

/// Reads one numeric debugfs file of the module; None if it is not there.
pub fn read_counter(name: &str) -> Option<u64> {
    let text = fs::read_to_string(Path::new(DEBUGFS_DIR).join(name)).ok()?;
    text.trim().parse().ok()
}

/// Whether the module's debugfs directory can be read here.
pub fn debugfs_present() -> bool {
    Path::new(DEBUGFS_DIR).join("records_sent").exists()
}

/// Why there are no counters to read, for skip reasons.
pub fn why_no_debugfs() -> String {
    if Path::new(SYSFS_MODULE).exists() {
        format!("module loaded but {DEBUGFS_DIR} missing (debugfs not mounted?)")
    } else {
        "module not loaded".to_string()
    }
}

/// A snapshot of the module's counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub records_sent: u64,
    pub bytes_sent: u64,
    pub records_received: u64,
    pub bytes_received: u64,
    /// Sum of every file under `violations/`.
    pub violations: u64,
}

impl Stats {
    /// None when the module (or debugfs) is not there.
    pub fn read() -> Option<Stats> {
        if !debugfs_present() {
            return None;
        }
        let c = |n: &str| read_counter(n).unwrap_or(0);
        let mut violations = 0;
        if let Ok(dir) = fs::read_dir(Path::new(DEBUGFS_DIR).join("violations")) {
            for e in dir.flatten() {
                if let Ok(t) = fs::read_to_string(e.path()) {
                    violations += t.trim().parse::<u64>().unwrap_or(0);
                }
            }
        }
        Some(Stats {
            records_sent: c("records_sent"),
            bytes_sent: c("bytes_sent"),
            records_received: c("records_received"),
            bytes_received: c("bytes_received"),
            violations,
        })
    }
}

/// How this side saw a connection being framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Markers,
    Fallback,
    NoModule,
    /// The counters moved by something else than the probe records.
    Unknown,
}

impl View {
    fn word(self) -> &'static str {
        match self {
            View::Markers => "markers",
            View::Fallback => "fallback",
            View::NoModule => "nomodule",
            View::Unknown => "unknown",
        }
    }
    fn parse(s: &str) -> Option<View> {
        Some(match s {
            "markers" => View::Markers,
            "fallback" => View::Fallback,
            "nomodule" => View::NoModule,
            "unknown" => View::Unknown,
            _ => return None,
        })
    }
}

/// Whether a connection uses markers, as both sides agreed.
#[derive(Debug, Clone)]
pub struct Framing {
    pub markers: bool,
    /// Human-readable explanation, used as a skip reason when not `markers`.
    pub why: String,
}

/// How far `establish_framed` moves the marker counters: one probe record
/// each way, a SEQ_BEGIN and a SEQ_END each. Cases that forge markers into
/// the connection start counting there.
pub const PROBE_COUNTER_STEPS: u32 = 2;

/// The probe record, sent with MSG_EOR each way.
const PROBE: &[u8] = b"probe";

/// How the module's record counters moved around this side's probes: by
/// `sent` while it sent its probe, by `received` while it received the
/// peer's. A marker connection counts each probe once, a fallback one
/// neither.
#[derive(Debug, Clone, Copy)]
struct Moved {
    sent: u64,
    received: u64,
}

fn view_of(moved: Option<Moved>) -> View {
    match moved {
        Some(Moved {
            sent: 1,
            received: 1,
        }) => View::Markers,
        Some(Moved {
            sent: 0,
            received: 0,
        }) => View::Fallback,
        Some(_) => View::Unknown,
        None => View::NoModule,
    }
}

/// This side's account of its view; it must be written where the view was
/// taken, since only that side knows why it has no counters.
fn explain(v: View) -> String {
    match v {
        View::Markers => "markers".to_string(),
        View::Fallback => "fell back to EOM framing".to_string(),
        View::NoModule => why_no_debugfs(),
        View::Unknown => "module counters did not show the framing".to_string(),
    }
}

impl Ctx<'_> {
    /// Establishes a connection and finds out, with the peer, whether it uses
    /// markers. Sides that disagree (one saw markers, the other a fallback)
    /// are a failure: the negotiation must be symmetric.
    pub fn establish_framed(&mut self) -> Result<(Fd, Framing), Fail> {
        let fd = self.establish()?;
        let mut moved = Stats::read().map(|_| Moved {
            sent: 0,
            received: 0,
        });
        for dir in Dir::BOTH {
            let n = self.probe(&fd, dir)?;
            if let Some(m) = moved.as_mut() {
                match n {
                    Some(n) if self.sends(dir) => m.sent = n,
                    Some(n) => m.received = n,
                    // The module went away between the probes.
                    None => moved = None,
                }
            }
        }
        let mine = view_of(moved);
        let mut my_text = explain(mine);
        if let (View::Unknown, Some(m)) = (mine, moved) {
            my_text += &format!(
                " (records_sent moved by {} over our probe, records_received by {} over the peer's; expected 1 and 1, or 0 and 0)",
                m.sent, m.received
            );
        }
        self.ctl
            .write_value("FRAMING", format!("{} {my_text}", mine.word()))?;
        let line = self.ctl.expect_value("FRAMING")?;
        let (word, their_text) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let theirs = View::parse(word)
            .ok_or_else(|| Fail::new(format!("peer sent an unknown framing line {line:?}")))?;
        // Client first on both sides, so that both print the same reason.
        let (client, server) = match self.role {
            Role::Client => (my_text.as_str(), their_text),
            Role::Server => (their_text, my_text.as_str()),
        };
        let both = format!("client: {client}; server: {server}");
        let framing = match (mine, theirs) {
            (View::Markers, View::Fallback) | (View::Fallback, View::Markers) => {
                return Err(Fail::new(format!(
                    "the two ends disagree on the framing of one connection: {both}"
                )))
            }
            (View::Markers, _) | (_, View::Markers) => Framing {
                markers: true,
                why: "markers in use".into(),
            },
            _ => Framing {
                markers: false,
                why: format!("markers not in use ({both})"),
            },
        };
        Ok((fd, framing))
    }

    /// One probe record in `dir`; returns how far this side's module
    /// counted it (`records_sent` on the sender, `records_received` on the
    /// receiver), or None without the module. The receiver's window opens
    /// before the sender sends, and neither side sends anything else
    /// meanwhile, so on the loopback, where both share one module, each
    /// side still sees only this record.
    fn probe(&mut self, fd: &Fd, dir: Dir) -> Result<Option<u64>, Fail> {
        let what = format!("{}: framing probe", dir.name());
        if self.sends(dir) {
            self.ctl.expectln("PROBE")?;
            let before = Stats::read();
            match vsock::send(fd, PROBE, libc::MSG_EOR) {
                Ok(n) if n == PROBE.len() => {}
                other => {
                    return Err(Fail::new(format!(
                        "{what}: send of a {}-byte record: expected {}, got {other:?}",
                        PROBE.len(),
                        PROBE.len()
                    )))
                }
            }
            let after = Stats::read();
            self.ctl.expectln("PROBED")?;
            Ok(before
                .zip(after)
                .map(|(b, a)| a.records_sent.wrapping_sub(b.records_sent)))
        } else {
            let before = Stats::read();
            self.ctl.writeln("PROBE")?;
            let mut buf = [0u8; 64];
            let r = vsock::recvmsg(fd, &mut buf, 0).map_err(|e| {
                Fail::new(format!(
                    "{what}: expected the peer's probe record, recvmsg failed with {}",
                    vsock::errno_name(&e)
                ))
            })?;
            if &buf[..r.len] != PROBE || !r.eor() || r.trunc() {
                return Err(Fail::new(format!(
                    "{what}: expected the {}-byte probe record with MSG_EOR, got {} bytes {:?} (msg_flags {:#x})",
                    PROBE.len(),
                    r.len,
                    &buf[..r.len],
                    r.flags
                )));
            }
            let after = Stats::read();
            self.ctl.writeln("PROBED")?;
            Ok(before
                .zip(after)
                .map(|(b, a)| a.records_received.wrapping_sub(b.records_received)))
        }
    }
}
