//! vsock_seqpacket_test: a kselftest-style client/server suite for
//! SOCK_SEQPACKET over AF_VSOCK with SEQ_BEGIN/SEQ_END record markers.
//!
//! Modelled on the kernel's tools/testing/vsock/vsock_test: start the
//! server on one end and the client on the other with the same options;
//! they meet on a vsock control connection and run every case in step, each
//! side printing TAP (kselftest format). See `--help`.

mod cases;
mod control;
mod harness;
mod module;
mod pattern;
mod vsock;

use harness::Role;
use std::process::exit;
use std::time::Duration;

const USAGE: &str = "\
Usage: vsock_seqpacket_test --mode=client|server [--peer-cid=N] [options]

Runs SOCK_SEQPACKET record tests over AF_VSOCK between a server and a
client; start both with the same case selection. Output is kselftest TAP.

  --mode=client|server  which half to run
  --peer-cid=N          the server's CID (client only; 1 = loopback)
  --peer-port=N         data port, default 1234 (the server listens on
                        VMADDR_CID_ANY:N)
  --control-port=N      control port, default 1235 (vsock SOCK_STREAM)
  --list                print the cases as \"id name\" lines and exit
  --skip=ID             skip a case, by id or name (repeatable)
  --only=ID             run only these cases, by id or name (repeatable)
  --seed=N              seed of the randomised cases (the client's counts)
  --control-timeout=SECS  how long the server waits for the client to
                        appear on the control port, default 120 (the client
                        retries for 30 s)
  --watchdog=SECS       abort the run SECS after the control connection is
                        up, default 300
  --help                this text

Exit status: 0 all cases passed or skipped, 1 a case failed, 4 all skipped.
The module's debugfs directory (/sys/kernel/debug/vsock_seqpacket) is
read, never written: set initial_counter from the harness for the wrap
case.
";

struct Opts {
    role: Role,
    peer_cid: Option<u32>,
    peer_port: u32,
    control_port: u32,
    skip: Vec<String>,
    only: Vec<String>,
    seed: u64,
    control_timeout: u64,
    watchdog: u32,
}

fn usage_error(msg: &str) -> ! {
    eprintln!("vsock_seqpacket_test: {msg}\n\n{USAGE}");
    exit(2)
}

fn number<T: std::str::FromStr>(opt: &str, v: &str) -> T {
    v.parse()
        .unwrap_or_else(|_| usage_error(&format!("{opt}: not a number: {v:?}")))
}

fn parse_args() -> Opts {
    let mut role = None;
    let mut o = Opts {
        role: Role::Client,
        peer_cid: None,
        peer_port: 1234,
        control_port: 1235,
        skip: Vec::new(),
        only: Vec::new(),
        seed: 0x5eed_0001,
        control_timeout: 120,
        watchdog: 300,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| usage_error(&format!("{name} needs a value")))
        };
        match name.as_str() {
            "--help" | "-h" => {
                print!("{USAGE}");
                exit(0)
            }
            "--list" => {
                for (i, c) in cases::CASES.iter().enumerate() {
                    println!("{} {}", i + 1, c.name);
                }
                exit(0)
            }
            "--mode" => {
                role = Some(match value().as_str() {
                    "client" => Role::Client,
                    "server" => Role::Server,
                    m => usage_error(&format!("--mode: expected client or server, got {m:?}")),
                })
            }
            "--peer-cid" => o.peer_cid = Some(number(&name, &value())),
            "--peer-port" => o.peer_port = number(&name, &value()),
            "--control-port" => o.control_port = number(&name, &value()),
            "--skip" => o.skip.push(value()),
            "--only" => o.only.push(value()),
            "--seed" => o.seed = number(&name, &value()),
            "--control-timeout" => o.control_timeout = number(&name, &value()),
            "--watchdog" => o.watchdog = number(&name, &value()),
            _ => usage_error(&format!("unknown option {arg:?}")),
        }
    }
    o.role = role.unwrap_or_else(|| usage_error("--mode is required"));
    if o.role == Role::Client && o.peer_cid.is_none() {
        usage_error("--peer-cid is required in client mode");
    }
    o
}

/// Resolves `--skip`/`--only` into one flag per case; an unknown id or name
/// is a usage error rather than a silently empty selection.
fn select(o: &Opts) -> Vec<bool> {
    let find = |key: &str| -> usize {
        cases::CASES
            .iter()
            .enumerate()
            .position(|(i, c)| c.name == key || key.parse::<usize>().ok() == Some(i + 1))
            .unwrap_or_else(|| usage_error(&format!("no case {key:?} (see --list)")))
    };
    let mut sel = vec![o.only.is_empty(); cases::CASES.len()];
    for k in &o.only {
        sel[find(k)] = true;
    }
    for k in &o.skip {
        sel[find(k)] = false;
    }
    sel
}

extern "C" fn watchdog_fired(_: libc::c_int) {
    let msg = b"Bail out! watchdog: the run took longer than --watchdog allows\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe.
    unsafe {
        libc::write(1, msg.as_ptr() as *const libc::c_void, msg.len());
        libc::_exit(1);
    }
}

/// Arms a global deadline: every blocking call has its own timeout, but a
/// bug in the suite itself must not hang a CI run either. Armed once the
/// peer is there, so that a slow boot of the peer's VM does not count.
fn arm_watchdog(secs: u32) {
    // SAFETY: installs an async-signal-safe handler; sigaction is zeroed
    // POD before the fields are set.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = watchdog_fired as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        libc::alarm(secs);
    }
}

fn main() {
    let o = parse_args();
    let selected = select(&o);

    harness::print_header(cases::CASES.len());
    diag!(
        "vsock_seqpacket_test {}: peer-cid {}, data port {}, control port {}",
        o.role.name(),
        o.peer_cid.map_or("any".to_string(), |c| c.to_string()),
        o.peer_port,
        o.control_port
    );
    if module::debugfs_present() {
        diag!("vsock_seqpacket module: loaded ({})", module::DEBUGFS_DIR);
    } else {
        diag!("vsock_seqpacket module: {}", module::why_no_debugfs());
    }

    let ctl = match o.role {
        Role::Server => {
            control::Control::accept(o.control_port, Duration::from_secs(o.control_timeout))
        }
        Role::Client => control::Control::connect(
            o.peer_cid.expect("checked in parse_args"),
            o.control_port,
            Duration::from_secs(30),
        ),
    };
    let mut ctl = match ctl {
        Ok(c) => c,
        Err(e) => {
            // Nothing can run; report every case so the plan still adds up.
            let mut t = harness::Totals::default();
            diag!("control channel: {e}");
            for (i, c) in cases::CASES.iter().enumerate() {
                println!("not ok {} {}", i + 1, c.name);
                t.fail += 1;
            }
            harness::print_totals(&t);
            exit(1)
        }
    };

    arm_watchdog(o.watchdog);
    let totals = harness::run(
        cases::CASES,
        &selected,
        o.role,
        o.peer_cid.unwrap_or(libc::VMADDR_CID_ANY),
        o.peer_port,
        o.seed,
        &mut ctl,
    );
    harness::print_totals(&totals);
    exit(totals.exit_code())
}
