//! Prints the ratio table from the estimates the last `cargo bench` left.
//!
//! `cargo run -p commlab-benches --bin ratios [-- --criterion-dir DIR]`

use std::path::PathBuf;

use clap::Parser;
use commlab_benches::machine::Machine;
use commlab_benches::ratios::{default_criterion_dir, render};

/// Every criterion estimate of commlab as a ratio to its floor.
#[derive(Debug, Parser)]
struct Args {
    /// Where criterion wrote its estimates. Default: `$CRITERION_HOME`, else
    /// `$CARGO_TARGET_DIR/criterion`, else the workspace's `target/criterion`.
    #[arg(long)]
    criterion_dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = args.criterion_dir.unwrap_or_else(default_criterion_dir);
    println!("Machine: {}\n", Machine::describe());
    println!("Estimates from {}\n", dir.display());
    print!("{}", render(&dir));
    Ok(())
}
