//! Records the toolchain that builds commlab, so every results file can say
//! which compiler produced the numbers in it. Cargo tells a build script which
//! `rustc` it uses through the `RUSTC` variable.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=COMMLAB_RUSTC_VERSION={version}");
    // A new toolchain rebuilds everything, this script included; nothing else
    // should make it run again.
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
