//! Case table, runner and kselftest TAP output.
//!
//! Both sides walk the same case list in the same order. Before a case, each
//! side writes `CASE <id> <name> RUN|SKIP` and waits for the peer's, a full
//! barrier as in vsock_test's run_tests(), so the two halves of a case always
//! meet (the data port is reused by every case). After a case, each side
//! writes `DONE <id> pass|skip|fail <message>` and reads the peer's, so both
//! print the same verdict: a case fails if either half failed, passes if at
//! least one half ran its checks and none failed, and is skipped only if both
//! halves skipped.

use crate::control::Control;
use crate::vsock::{self, Fd};
use std::io::Write;
use std::time::Duration;

/// Prints a TAP diagnostic line (`# ...`) at once, so that the log of a run
/// that is killed still shows how far it got.
#[macro_export]
macro_rules! diag {
    ($($arg:tt)*) => {
        $crate::harness::diag_line(&format!($($arg)*))
    };
}

pub fn diag_line(s: &str) {
    let out = std::io::stdout();
    let mut out = out.lock();
    for line in s.lines() {
        let _ = writeln!(out, "# {line}");
    }
    let _ = out.flush();
}

fn tap_line(s: &str) {
    let out = std::io::stdout();
    let mut out = out.lock();
    let _ = writeln!(out, "{s}");
    let _ = out.flush();
}

/// Why a half of a case failed. `fatal` means the control channel is gone,
/// so no later case can run either.
#[derive(Debug)]
pub struct Fail {
    pub msg: String,
    pub fatal: bool,
}

impl Fail {
    pub fn new(msg: impl Into<String>) -> Fail {
        Fail {
            msg: msg.into(),
            fatal: false,
        }
    }
    pub fn fatal(msg: impl Into<String>) -> Fail {
        Fail {
            msg: msg.into(),
            fatal: true,
        }
    }
    pub fn with_fatal(msg: impl Into<String>, fatal: bool) -> Fail {
        Fail {
            msg: msg.into(),
            fatal,
        }
    }
    /// Prefixes the message with what was being done.
    pub fn context(self, what: &str) -> Fail {
        Fail {
            msg: format!("{what}: {}", self.msg),
            fatal: self.fatal,
        }
    }
}

impl From<String> for Fail {
    fn from(msg: String) -> Fail {
        Fail::new(msg)
    }
}

impl From<&str> for Fail {
    fn from(msg: &str) -> Fail {
        Fail::new(msg)
    }
}

/// Returns early with a failure unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err($crate::harness::Fail::new(format!($($arg)*)));
        }
    };
}

/// How a half of a case ended when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Skip(String),
}

pub type CaseResult = Result<Outcome, Fail>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

/// Which way records flow in a phase of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ClientToServer,
    ServerToClient,
}

impl Dir {
    pub const BOTH: [Dir; 2] = [Dir::ClientToServer, Dir::ServerToClient];

    pub fn name(self) -> &'static str {
        match self {
            Dir::ClientToServer => "client->server",
            Dir::ServerToClient => "server->client",
        }
    }
}

/// One case: `run` is called on both sides and picks its half from
/// `ctx.role`; most cases are symmetric and run once in each [`Dir`].
pub struct Case {
    pub name: &'static str,
    pub run: fn(&mut Ctx) -> CaseResult,
}

/// What a case half gets: its role, the peer's address and the control
/// channel.
pub struct Ctx<'a> {
    pub role: Role,
    pub peer_cid: u32,
    pub peer_port: u32,
    /// Seed of the randomised cases (the client's is used).
    pub seed: u64,
    pub ctl: &'a mut Control,
}

impl Ctx<'_> {
    pub fn is_client(&self) -> bool {
        self.role == Role::Client
    }

    /// Whether this side is the sender in `dir`.
    pub fn sends(&self, dir: Dir) -> bool {
        matches!(
            (self.role, dir),
            (Role::Client, Dir::ClientToServer) | (Role::Server, Dir::ServerToClient)
        )
    }

    /// Server: binds VMADDR_CID_ANY:peer_port, lets `setup` adjust the
    /// listener (its options are inherited by accepted sockets), listens and
    /// tells the client `LISTENING`.
    pub fn listen(
        &mut self,
        backlog: i32,
        setup: &dyn Fn(&Fd) -> std::io::Result<()>,
    ) -> Result<Fd, Fail> {
        let port = self.peer_port;
        let l = vsock::socket(libc::SOCK_SEQPACKET).map_err(|e| {
            format!(
                "socket(AF_VSOCK, SOCK_SEQPACKET): {}",
                vsock::errno_name(&e)
            )
        })?;
        vsock::bind(&l, libc::VMADDR_CID_ANY, port)
            .map_err(|e| format!("bind(VMADDR_CID_ANY:{port}): {}", vsock::errno_name(&e)))?;
        setup(&l).map_err(|e| format!("setting up the listener: {}", vsock::errno_name(&e)))?;
        vsock::set_recv_timeout(&l, vsock::IO_TIMEOUT)
            .map_err(|e| format!("SO_RCVTIMEO on listener: {e}"))?;
        vsock::listen(&l, backlog).map_err(|e| format!("listen: {}", vsock::errno_name(&e)))?;
        self.ctl.writeln("LISTENING")?;
        Ok(l)
    }

    /// Server: accepts one connection from a listener made by [`Ctx::listen`].
    pub fn accept(&mut self, l: &Fd) -> Result<Fd, Fail> {
        let fd = vsock::accept(l).map_err(|e| {
            format!(
                "accept on port {}: expected a connection from the client, got {}",
                self.peer_port,
                vsock::errno_name(&e)
            )
        })?;
        data_timeouts(&fd)?;
        Ok(fd)
    }

    /// Client: waits for `LISTENING` once, then connects `setup`-adjusted
    /// sockets with [`Ctx::connect_more`].
    pub fn connect(&mut self, setup: &dyn Fn(&Fd) -> std::io::Result<()>) -> Result<Fd, Fail> {
        self.ctl.expectln("LISTENING")?;
        self.connect_more(setup)
    }

    /// Client: connects one more socket to a server that is listening.
    pub fn connect_more(&mut self, setup: &dyn Fn(&Fd) -> std::io::Result<()>) -> Result<Fd, Fail> {
        let (cid, port) = (self.peer_cid, self.peer_port);
        let fd = vsock::socket(libc::SOCK_SEQPACKET).map_err(|e| {
            format!(
                "socket(AF_VSOCK, SOCK_SEQPACKET): {}",
                vsock::errno_name(&e)
            )
        })?;
        setup(&fd).map_err(|e| format!("setting up the socket: {}", vsock::errno_name(&e)))?;
        vsock::connect(&fd, cid, port).map_err(|e| {
            format!(
                "connect to {cid}:{port}: expected success, got {}",
                vsock::errno_name(&e)
            )
        })?;
        data_timeouts(&fd)?;
        Ok(fd)
    }

    /// One SOCK_SEQPACKET connection between the two sides, with `setup`
    /// applied before connect() on the client and before listen() on the
    /// server.
    pub fn establish_with(
        &mut self,
        setup: &dyn Fn(&Fd) -> std::io::Result<()>,
    ) -> Result<Fd, Fail> {
        match self.role {
            Role::Client => self.connect(setup),
            Role::Server => {
                let l = self.listen(1, setup)?;
                self.accept(&l)
            }
        }
    }

    /// One plain SOCK_SEQPACKET connection between the two sides.
    pub fn establish(&mut self) -> Result<Fd, Fail> {
        self.establish_with(&|_| Ok(()))
    }
}

/// Every data socket gets receive and send timeouts: a kernel that loses a
/// record or never returns credit makes the case fail, not hang.
fn data_timeouts(fd: &Fd) -> Result<(), Fail> {
    vsock::set_recv_timeout(fd, vsock::IO_TIMEOUT).map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    vsock::set_send_timeout(fd, vsock::IO_TIMEOUT).map_err(|e| format!("SO_SNDTIMEO: {e}"))?;
    Ok(())
}

/// How long to wait for the peer's `DONE` line: its half may still be
/// waiting out a data-path timeout after ours gave up.
const DONE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Totals {
    pub pass: usize,
    pub fail: usize,
    pub skip: usize,
}

impl Totals {
    /// kselftest exit codes: 1 for any failure, 4 (KSFT_SKIP) when nothing
    /// ran, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.fail > 0 {
            1
        } else if self.pass == 0 && self.skip > 0 {
            4
        } else {
            0
        }
    }
}

/// The single-line form of a message, for the control channel.
fn one_line(s: &str) -> String {
    s.replace('\n', " / ")
}

fn report(totals: &mut Totals, n: usize, name: &str, result: &Result<Outcome, String>) {
    match result {
        Ok(Outcome::Pass) => {
            totals.pass += 1;
            tap_line(&format!("ok {n} {name}"));
        }
        Ok(Outcome::Skip(reason)) => {
            totals.skip += 1;
            tap_line(&format!("ok {n} {name} # SKIP {}", one_line(reason)));
        }
        Err(_) => {
            totals.fail += 1;
            tap_line(&format!("not ok {n} {name}"));
        }
    }
}

/// Parses the peer's `DONE <id> <status> <message>` line.
fn parse_done(line: &str) -> Result<Outcome, String> {
    let mut parts = line.splitn(4, ' ');
    let _done = parts.next();
    let _id = parts.next();
    let status = parts.next().unwrap_or("");
    let msg = parts.next().unwrap_or("").to_string();
    match status {
        "pass" => Ok(Outcome::Pass),
        "skip" => Ok(Outcome::Skip(msg)),
        "fail" => Err(msg),
        _ => Err(format!("unintelligible DONE line from the peer: {line:?}")),
    }
}

/// Runs the selected cases against the peer and prints TAP. `selected[i]`
/// says whether case i runs on this side.
pub fn run(
    cases: &[Case],
    selected: &[bool],
    role: Role,
    peer_cid: u32,
    peer_port: u32,
    seed: u64,
    ctl: &mut Control,
) -> Totals {
    let mut totals = Totals::default();
    let mut control_lost: Option<String> = None;
    let peer = role.peer().name();

    for (i, case) in cases.iter().enumerate() {
        let id = i + 1;
        if let Some(why) = &control_lost {
            diag!("{}: not run: {why}", case.name);
            report(&mut totals, id, case.name, &Err(why.clone()));
            continue;
        }
        ctl.begin_case(id);

        // Start barrier.
        let mine = if selected[i] { "RUN" } else { "SKIP" };
        let theirs = ctl
            .writeln(&format!("CASE {id} {} {mine}", case.name))
            .and_then(|()| wait_case_line(ctl, id, case.name));
        let theirs = match theirs {
            Ok(t) => t,
            Err(f) => {
                diag!("{}: {}", case.name, f.msg);
                if f.fatal {
                    control_lost = Some(f.msg.clone());
                }
                report(&mut totals, id, case.name, &Err(f.msg));
                continue;
            }
        };
        if !selected[i] || theirs != "RUN" {
            let who = if !selected[i] { "here" } else { "by the peer" };
            report(
                &mut totals,
                id,
                case.name,
                &Ok(Outcome::Skip(format!("deselected {who} (--skip/--only)"))),
            );
            continue;
        }

        // This side's half.
        let local = {
            let mut ctx = Ctx {
                role,
                peer_cid,
                peer_port,
                seed,
                ctl: &mut *ctl,
            };
            (case.run)(&mut ctx)
        };
        if let Err(f) = &local {
            if f.fatal {
                diag!("{}: {}", case.name, f.msg);
                control_lost = Some(f.msg.clone());
                report(&mut totals, id, case.name, &Err(f.msg.clone()));
                continue;
            }
        }

        // End barrier: exchange verdicts.
        let line = match &local {
            Ok(Outcome::Pass) => format!("DONE {id} pass"),
            Ok(Outcome::Skip(r)) => format!("DONE {id} skip {}", one_line(r)),
            Err(f) => format!("DONE {id} fail {}", one_line(&f.msg)),
        };
        let remote = ctl
            .writeln(&line)
            .and_then(|()| wait_done_line(ctl, id))
            .map(|l| parse_done(&l));
        let remote = match remote {
            Ok(r) => r,
            Err(f) => {
                if f.fatal {
                    control_lost = Some(f.msg.clone());
                }
                Err(format!("no verdict from the {peer}: {}", f.msg))
            }
        };

        // Diagnostics, then the combined verdict.
        match &local {
            Err(f) => diag!("{}: {}", case.name, f.msg),
            Ok(Outcome::Skip(r)) if remote.is_err() || remote == Ok(Outcome::Pass) => {
                diag!("{}: this side skipped its checks: {r}", case.name)
            }
            _ => {}
        }
        match &remote {
            Err(m) => diag!("{}: {peer} half failed: {m}", case.name),
            Ok(Outcome::Skip(r)) if local.is_err() || matches!(local, Ok(Outcome::Pass)) => {
                diag!("{}: {peer} skipped its checks: {r}", case.name)
            }
            _ => {}
        }
        let verdict = match (&local, &remote) {
            (Err(f), _) => Err(f.msg.clone()),
            (_, Err(m)) => Err(m.clone()),
            (Ok(Outcome::Pass), _) | (_, Ok(Outcome::Pass)) => Ok(Outcome::Pass),
            (Ok(Outcome::Skip(a)), Ok(Outcome::Skip(b))) => {
                if a == b {
                    Ok(Outcome::Skip(a.clone()))
                } else {
                    Ok(Outcome::Skip(format!("{a}; {peer}: {b}")))
                }
            }
        };
        report(&mut totals, id, case.name, &verdict);
    }

    if control_lost.is_none() {
        // Final barrier, so neither side tears down the control channel
        // (and with it the peer's last verdict) too early.
        let _ = ctl.writeln("COMPLETED");
        let _ = wait_for(ctl, "COMPLETED", DONE_TIMEOUT);
    }
    totals
}

/// Waits for the peer's `CASE <id> <name> RUN|SKIP`, throwing away lines of an
/// earlier case the peer abandoned. Returns RUN or SKIP.
fn wait_case_line(ctl: &mut Control, id: usize, name: &str) -> Result<String, Fail> {
    let prefix = format!("CASE {id} ");
    loop {
        let line = ctl.read_line_raw(DONE_TIMEOUT)?;
        if let Some(rest) = line.strip_prefix(&prefix) {
            let mut it = rest.split(' ');
            let (peer_name, state) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
            if peer_name != name {
                return Err(Fail::fatal(format!(
                    "the peer runs a different case list: its case {id} is {peer_name:?}, ours is {name:?}"
                )));
            }
            return Ok(state.to_string());
        }
        diag!("discarding stale control line {line:?}");
    }
}

/// Waits for the peer's `DONE <id> ...`, unless a case half already read it.
fn wait_done_line(ctl: &mut Control, id: usize) -> Result<String, Fail> {
    if let Some(l) = ctl.take_early_done() {
        return Ok(l);
    }
    let prefix = format!("DONE {id} ");
    loop {
        let line = ctl.read_line_raw(DONE_TIMEOUT)?;
        if line.starts_with(&prefix) {
            return Ok(line);
        }
        diag!("discarding control line {line:?} left over by the case");
    }
}

fn wait_for(ctl: &mut Control, want: &str, timeout: Duration) -> Result<(), Fail> {
    loop {
        if ctl.read_line_raw(timeout)? == want {
            return Ok(());
        }
    }
}

/// Prints the kselftest totals line.
pub fn print_totals(t: &Totals) {
    tap_line(&format!(
        "# Totals: pass:{} fail:{} xfail:0 xpass:0 skip:{} error:0",
        t.pass, t.fail, t.skip
    ));
}

pub fn print_header(n: usize) {
    tap_line("TAP version 13");
    tap_line(&format!("1..{n}"));
}
