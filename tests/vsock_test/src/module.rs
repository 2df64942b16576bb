//! What the vsock_seqpacket module publishes in debugfs, and whether a
//! connection uses SEQ_BEGIN/SEQ_END markers.
//!
//! Nothing on the socket API tells marker framing from upstream's EOM
//! framing, so the cases that depend on it (zero-length records, counters,
//! statistics) read the module's `connections_markers` and
//! `connections_fallback` counters around connect()/accept() instead.

use crate::harness::{Ctx, Fail, Role};
use crate::vsock::Fd;
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
    pub records_truncated: u64,
    pub connections_markers: u64,
    pub connections_fallback: u64,
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
            records_truncated: c("records_truncated"),
            connections_markers: c("connections_markers"),
            connections_fallback: c("connections_fallback"),
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
    /// Counters moved in neither or both ways.
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

fn view_of(before: Option<Stats>, after: Option<Stats>) -> View {
    match (before, after) {
        (Some(b), Some(a)) => {
            let m = a.connections_markers > b.connections_markers;
            let f = a.connections_fallback > b.connections_fallback;
            match (m, f) {
                (true, false) => View::Markers,
                (false, true) => View::Fallback,
                _ => View::Unknown,
            }
        }
        _ => View::NoModule,
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
        let before = Stats::read();
        let fd = self.establish()?;
        let mine = view_of(before, Stats::read());
        let my_text = explain(mine);
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
}
