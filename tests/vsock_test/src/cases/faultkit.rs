//! The fault injection knobs of a debug kernel (FAULT_INJECTION, FAILSLAB,
//! FAIL_PAGE_ALLOC, FAULT_INJECTION_DEBUG_FS), for the fault cases:
//! /proc/thread-self/fail-nth, the failslab and fail_page_alloc attributes in
//! debugfs, /proc/thread-self/make-it-fail for their task filter, the
//! per-cache failslab switch in sysfs for their cache filter, and the
//! kernel log, which says where each injected fault hit.
//!
//! Every file that is written while faults are armed is opened before: an
//! open() allocates, and would take a fault meant for the socket call.

use crate::harness::{Ctx, Dir, Fail};
use crate::vsock::Fd;
use std::cell::RefCell;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};

pub const FAIL_NTH: &str = "/proc/thread-self/fail-nth";
const MAKE_IT_FAIL: &str = "/proc/thread-self/make-it-fail";
pub const FAILSLAB: &str = "/sys/kernel/debug/failslab";
pub const FAIL_PAGE_ALLOC: &str = "/sys/kernel/debug/fail_page_alloc";
/// The cache of every sk_buff head: one allocation per vsock packet, on
/// whichever side builds it (sender, receiver's credit updates, vhost's
/// copy of a guest's packet, the guest's receive buffers).
pub const SKB_CACHE: &str = "/sys/kernel/slab/skbuff_head_cache/failslab";

/// Both sides check that this kernel can inject faults (`need` adds files),
/// and agree. Returns the reason to skip, if any, loudly: the debug kernel
/// has everything, a normal kernel nothing.
pub fn agree(ctx: &mut Ctx, key: &str, need: &[&str]) -> Result<Option<String>, Fail> {
    let mut want = vec![
        FAIL_NTH.to_string(),
        MAKE_IT_FAIL.to_string(),
        format!("{FAILSLAB}/probability"),
        format!("{FAIL_PAGE_ALLOC}/probability"),
    ];
    want.extend(need.iter().map(|s| s.to_string()));
    let missing: Vec<&String> = want
        .iter()
        .filter(|p| !std::path::Path::new(p).exists())
        .collect();
    let mine = if missing.is_empty() {
        "ok".to_string()
    } else {
        format!(
            "no fault injection on this kernel ({} missing; the debug kernel has it)",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    ctx.ctl.write_value(key, &mine)?;
    let theirs = ctx.ctl.expect_value(key)?;
    Ok(if mine != "ok" {
        Some(mine)
    } else if theirs != "ok" {
        Some(format!("peer: {theirs}"))
    } else {
        None
    })
}

/// Establishes one direction's connection of a fault case and names it by
/// direction, framing and what else sets it apart, as "client->server
/// (markers)" or "server->client (EOM framing, signal)".
pub fn connection(ctx: &mut Ctx, dir: Dir, what: &[&str]) -> Result<(Fd, String), Fail> {
    let (fd, framing) = ctx.establish_framed()?;
    let mut parts = vec![if framing.markers {
        "markers"
    } else {
        "EOM framing"
    }];
    parts.extend_from_slice(what);
    Ok((fd, format!("{} ({})", dir.name(), parts.join(", "))))
}

/// The receiver's side of a sender that reports each record it got out
/// whole as a `DELIVERED id` line and ends with `END`: the next id, or None
/// at the end.
pub fn next_delivered<T: std::str::FromStr>(ctx: &mut Ctx) -> Result<Option<T>, Fail> {
    let line = ctx.ctl.readln("DELIVERED or END")?;
    if line == "END" {
        return Ok(None);
    }
    line.strip_prefix("DELIVERED ")
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or_else(|| Fail::new(format!("bad line {line:?}")))
}

fn write_file(path: &str, value: &str) -> Result<(), Fail> {
    fs::write(path, value).map_err(|e| Fail::new(format!("writing {value:?} to {path}: {e}")))
}

/// Formats `v` without allocating (this runs with faults armed).
fn itoa(v: i64, buf: &mut [u8; 24]) -> &[u8] {
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// One fault attribute directory (failslab or fail_page_alloc) with its
/// `times` file open.
pub struct Attr {
    base: &'static str,
    times: fs::File,
}

impl Attr {
    fn open(base: &'static str) -> Result<Attr, Fail> {
        let path = format!("{base}/times");
        let times = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Fail::new(format!("{path}: {e}")))?;
        let a = Attr { base, times };
        // The first write through a debugfs file may allocate; not later.
        a.arm(0)?;
        Ok(a)
    }

    fn set(&self, name: &str, value: &str) -> Result<(), Fail> {
        write_file(&format!("{}/{name}", self.base), value)
    }

    /// Allows `times` more faults (-1: no limit, 0: none). debugfs
    /// attribute files cannot seek: a plain write() of the whole value.
    pub fn arm(&self, times: i64) -> Result<(), Fail> {
        let mut buf = [0u8; 24];
        (&self.times)
            .write(itoa(times, &mut buf))
            .map(drop)
            .map_err(|e| Fail::new(format!("{}/times: {e}", self.base)))
    }

    /// A fresh descriptor of `times` for one `left_from`: an attribute file
    /// reads its value once per open, and opening allocates, so it is
    /// opened before the faults are armed.
    pub fn reader(&self) -> Result<fs::File, Fail> {
        let path = format!("{}/times", self.base);
        fs::File::open(&path).map_err(|e| Fail::new(format!("{path}: {e}")))
    }

    /// How many faults are still allowed, read through a `reader()`.
    pub fn left_from(&self, mut f: fs::File) -> Result<i64, Fail> {
        let mut buf = [0u8; 24];
        let n = f
            .read(&mut buf)
            .map_err(|e| Fail::new(format!("{}/times: {e}", self.base)))?;
        let s = std::str::from_utf8(&buf[..n]).unwrap_or("").trim();
        s.parse()
            .map_err(|_| Fail::new(format!("{}/times reads {s:?}", self.base)))
    }
}

/// How the faults are picked.
#[derive(Clone, Copy)]
pub struct Setup {
    /// Percent of the eligible allocations that fail while armed.
    pub probability: u32,
    /// Only the threads that set make-it-fail (this one); else every
    /// context of this kernel, kworkers and vhost workers included.
    pub task_filter: bool,
    /// failslab only in sk_buff heads (SKB_CACHE); else in every cache.
    pub skb_cache_only: bool,
    /// Whether fail_page_alloc is armed too (orders >= 1 only: order-0
    /// pages are every page fault's and page table's).
    pub pages: bool,
    /// 0: no log; 1: a line per fault; 2: a line and the stack (rate
    /// limited by the kernel to 10 per 5 s).
    pub verbose: u32,
}

/// failslab and fail_page_alloc set up as `Setup` says, disarmed until
/// `arm`; dropping it puts every knob back to the kernel's defaults. It
/// must be dropped on the thread that made it (make-it-fail is per thread).
pub struct Injector {
    pub slab: Attr,
    pub page: Attr,
    setup: Setup,
    /// `times` readers for `disarm`, opened by `arm`.
    readers: RefCell<Option<(fs::File, fs::File)>>,
}

impl Injector {
    pub fn new(setup: Setup) -> Result<Injector, Fail> {
        let slab = Attr::open(FAILSLAB)?;
        let page = Attr::open(FAIL_PAGE_ALLOC)?;
        let yn = |b: bool| if b { "Y" } else { "N" };
        for a in [&slab, &page] {
            a.set("probability", &setup.probability.to_string())?;
            a.set("interval", "1")?;
            a.set("space", "0")?;
            a.set("verbose", &setup.verbose.to_string())?;
            a.set("task-filter", yn(setup.task_filter))?;
            // GFP_KERNEL allocations are exempt unless this says otherwise.
            a.set("ignore-gfp-wait", "N")?;
        }
        slab.set("cache-filter", yn(setup.skb_cache_only))?;
        page.set("min-order", "1")?;
        page.set("ignore-gfp-highmem", "Y")?;
        if setup.skb_cache_only {
            write_file(SKB_CACHE, "1")?;
        }
        if setup.task_filter {
            write_file(MAKE_IT_FAIL, "1")?;
        }
        Ok(Injector {
            slab,
            page,
            setup,
            readers: RefCell::new(None),
        })
    }

    /// Allows `slab` failslab faults and (if set up) `page` fail_page_alloc
    /// faults from now on.
    pub fn arm(&self, slab: i64, page: i64) -> Result<(), Fail> {
        *self.readers.borrow_mut() = Some((self.slab.reader()?, self.page.reader()?));
        self.slab.arm(slab)?;
        if self.setup.pages {
            self.page.arm(page)?;
        }
        Ok(())
    }

    /// Stops injecting; returns the faults left of (failslab, page_alloc).
    pub fn disarm(&self) -> Result<(i64, i64), Fail> {
        let Some((rs, rp)) = self.readers.borrow_mut().take() else {
            self.slab.arm(0)?;
            self.page.arm(0)?;
            return Ok((0, 0));
        };
        let s = self.slab.left_from(rs)?;
        self.slab.arm(0)?;
        let p = self.page.left_from(rp)?;
        self.page.arm(0)?;
        Ok((s, p))
    }
}

impl Drop for Injector {
    fn drop(&mut self) {
        let _ = self.slab.arm(0);
        let _ = self.page.arm(0);
        let _ = fs::write(MAKE_IT_FAIL, "0");
        if self.setup.skb_cache_only {
            let _ = fs::write(SKB_CACHE, "0");
        }
        for a in [&self.slab, &self.page] {
            let _ = a.set("probability", "0");
            let _ = a.set("task-filter", "N");
            let _ = a.set("ignore-gfp-wait", "Y");
            let _ = a.set("verbose", "2");
        }
        let _ = self.slab.set("cache-filter", "N");
    }
}

/// More faults than any case can take: "no limit" that still counts down.
const UNLIMITED: i64 = 1_000_000;

/// Runs `op` while `probability` % of this thread's slab and order >= 1
/// page allocations fail (the task filter keeps every other context out);
/// returns what `op` returned and the failslab and fail_page_alloc faults
/// injected. `op` must not allocate in userspace what it cannot lose.
pub fn with_sender_faults<R>(
    probability: u32,
    op: impl FnOnce() -> R,
) -> Result<(R, i64, i64), Fail> {
    let inj = Injector::new(Setup {
        probability,
        task_filter: true,
        skb_cache_only: false,
        pages: true,
        verbose: 0,
    })?;
    inj.arm(UNLIMITED, UNLIMITED)?;
    let r = op();
    let (slab, page) = inj.disarm()?;
    Ok((r, UNLIMITED - slab, UNLIMITED - page))
}

/// This thread's /proc/thread-self/fail-nth, opened once: opening it again
/// between arming and reading would itself allocate, and count.
pub struct FailNth(fs::File);

impl FailNth {
    pub fn open() -> Result<FailNth, Fail> {
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(FAIL_NTH)
            .map(FailNth)
            .map_err(|e| Fail::new(format!("{FAIL_NTH}: {e}")))
    }

    /// Arms the N-th allocation of this thread's next system calls to fail.
    pub fn arm(&self, n: u32) -> Result<(), Fail> {
        let mut buf = [0u8; 24];
        self.0
            .write_at(itoa(i64::from(n), &mut buf), 0)
            .map(drop)
            .map_err(|e| Fail::new(format!("{FAIL_NTH}: {e}")))
    }

    /// Whether the armed fault was injected; disarms what is left.
    pub fn injected(&self) -> Result<bool, Fail> {
        let mut buf = [0u8; 16];
        let n = self
            .0
            .read_at(&mut buf, 0)
            .map_err(|e| Fail::new(format!("{FAIL_NTH}: {e}")))?;
        self.arm(0)?;
        Ok(std::str::from_utf8(&buf[..n]).unwrap_or("").trim() == "0")
    }

    /// Runs `op` with the N-th allocation of this thread's system calls
    /// failing; returns what `op` returned and whether the fault was
    /// injected (what was not is disarmed).
    pub fn fail<R>(&self, n: u32, op: impl FnOnce() -> R) -> Result<(R, bool), Fail> {
        self.arm(n)?;
        let r = op();
        Ok((r, self.injected()?))
    }
}

/// The kernel log from the moment it was opened: where each injected fault
/// hit, from the stacks failslab/fail_page_alloc print (verbose 2).
pub struct Kmsg(fs::File);

/// One injected fault as the kernel logged it.
#[derive(Debug, Clone, Default)]
pub struct FaultSite {
    /// failslab or fail_page_alloc.
    pub attr: String,
    /// The task it hit ("kworker/0:1", "vsock_seqpacke", ...).
    pub comm: String,
    /// The first few vsock/vhost/skb functions of its stack, innermost first.
    pub path: Vec<String>,
}

impl FaultSite {
    pub fn describe(&self) -> String {
        format!(
            "{} in {}: {}",
            self.attr,
            if self.comm.is_empty() {
                "?"
            } else {
                &self.comm
            },
            if self.path.is_empty() {
                "(no vsock frame)".to_string()
            } else {
                self.path.join(" <- ")
            }
        )
    }

    /// The fault hit the allocation of a credit update: the only packet a
    /// reader's dequeue sends (virtio_transport_send_credit_update is
    /// inlined into it).
    pub fn credit_update(&self) -> bool {
        self.path.iter().any(|f| {
            f == "virtio_transport_send_credit_update"
                || (f.starts_with("virtio_transport_") && f.ends_with("_dequeue"))
        })
    }
}

impl Kmsg {
    /// Opens /dev/kmsg after its last record; None if it cannot be read.
    pub fn open() -> Option<Kmsg> {
        let f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .ok()?;
        // SAFETY: plain syscall on a descriptor we own.
        unsafe { libc::lseek(f.as_raw_fd(), 0, libc::SEEK_END) };
        Some(Kmsg(f))
    }

    /// The messages logged since the last call.
    pub fn lines(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let rec = String::from_utf8_lossy(&buf[..n]);
                    if let Some((_, msg)) = rec.split_once(';') {
                        out.push(msg.lines().next().unwrap_or("").to_string());
                    }
                }
                // EPIPE: records were overwritten; go on with the next.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        out
    }

    /// The faults logged since the last call (only those printed: the
    /// kernel rate limits them).
    pub fn faults(&mut self) -> Vec<FaultSite> {
        let mut sites: Vec<FaultSite> = Vec::new();
        for l in self.lines() {
            let t = l.trim();
            if t.starts_with("FAULT_INJECTION: forcing a failure") {
                sites.push(FaultSite::default());
                continue;
            }
            let Some(cur) = sites.last_mut() else {
                continue;
            };
            if let Some(i) = t.find("name ") {
                cur.attr = t[i + 5..].split(',').next().unwrap_or("").to_string();
            } else if let Some(i) = t.find("Comm: ") {
                cur.comm = t[i + 6..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string();
            } else {
                // "? f+0x1/0x2" frames are unreliable: left out.
                let name = t.split('+').next().unwrap_or("");
                let interesting = ["vsock", "virtio_transport", "vhost"]
                    .iter()
                    .any(|k| name.contains(k));
                if interesting
                    && t.contains('+')
                    && !t.starts_with('?')
                    && cur.path.len() < 4
                    && cur.path.last().map(String::as_str) != Some(name)
                {
                    cur.path.push(name.to_string());
                }
            }
        }
        sites
    }
}

/// "3 x failslab in kworker/0:1: a <- b; 1 x ..." for a set of faults.
pub fn summarize(sites: &[FaultSite]) -> String {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for s in sites {
        let d = s.describe();
        match seen.iter_mut().find(|(k, _)| *k == d) {
            Some((_, n)) => *n += 1,
            None => seen.push((d, 1)),
        }
    }
    if seen.is_empty() {
        return "none logged".to_string();
    }
    seen.iter()
        .map(|(d, n)| format!("{n} x {d}"))
        .collect::<Vec<_>>()
        .join("; ")
}
