//! The core has no panic paths, no warnings and nothing the module does not use when built
//! like the kernel builds Rust.
//!
//! `no_panic/harness.rs` includes `src/proto` as a private submodule of a `no_std` crate, as the
//! module does, and calls exactly what the module calls; it is compiled with the kernel's
//! code-generation options (panic=abort, overflow checks, opt-level 2) and the kernel's rustc
//! lint flags as errors, so an item of the core the module never uses fails it as dead code.
//! The object file must then contain no reference to `core::panicking` (no overflow, bounds or
//! unwrap panics).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn core_builds_like_the_kernel_without_panics_or_warnings() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let harness = dir.join("tests/no_panic/harness.rs");
    let obj = std::env::temp_dir().join(format!("vsock-core-no-panic-{}.o", std::process::id()));
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .args([
            "--edition=2021",
            "--crate-type=rlib",
            "--crate-name=no_panic_harness",
            "--emit=obj",
            "-Cpanic=abort",
            "-Coverflow-checks=on",
            "-Copt-level=2",
            "-Dwarnings",
            "-Dunsafe_op_in_unsafe_fn",
            "-Dnon_ascii_idents",
            "-Drust_2018_idioms",
            "-Dunreachable_pub",
            "-Dmissing_docs",
        ])
        .arg(&harness)
        .arg("-o")
        .arg(&obj)
        .output()
        .expect("run rustc");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rustc failed:\n{stderr}");
    assert!(stderr.trim().is_empty(), "rustc printed:\n{stderr}");

    let bytes = std::fs::read(&obj).expect("read object");
    let _ = std::fs::remove_file(&obj);
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    // The entry points are really in the object, so the check below is not vacuous.
    for sym in [
        "k_consts",
        "k_tx",
        "k_recv",
        "k_close",
        "k_new",
        "k_debugfs",
    ] {
        assert!(has(sym.as_bytes()), "symbol {sym} missing from the object");
    }
    assert!(!has(b"panicking"), "the core references core::panicking");
    assert!(!has(b"panic_bounds_check"), "the core has a bounds check");
}
