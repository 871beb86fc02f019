//! Where a set of numbers came from: the command that replays the run, the
//! commit of the code, the toolchain and the machine. Every results file
//! carries them, because a number without them cannot be checked.

use std::path::Path;
use std::process::Command;

use crate::results::Environment;
use crate::scenario::Scenario;

/// The toolchain `build.rs` recorded.
const TOOLCHAIN: &str = env!("COMMLAB_RUSTC_VERSION");

/// The workspace the binary was built from: where `git` is asked.
const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

pub fn environment() -> Environment {
    Environment {
        toolchain: TOOLCHAIN.to_string(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model: cpu_model().unwrap_or_else(|| "unknown".to_string()),
        os: os(),
    }
}

/// `git rev-parse --short HEAD`, with `-dirty` when tracked files have
/// uncommitted changes (untracked files, such as fresh reports, do not count);
/// `unknown` outside a git checkout.
pub fn commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(WORKSPACE)
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".to_string();
    };
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(changes) if changes.is_empty() => head,
        _ => format!("{head}-dirty"),
    }
}

/// The command that replays one scenario exactly as it ran.
pub fn replay_command(
    scenario: &Scenario,
    variants: Option<&[String]>,
    ablate: Option<&str>,
    out: &Path,
) -> String {
    let mut command = format!(
        "cargo run --release -p commlab -- run {} --seed {}",
        shell_word(&scenario.argument),
        scenario.seed
    );
    for variant in variants.unwrap_or_default() {
        command.push_str(&format!(" --variant {}", shell_word(variant)));
    }
    if let Some(ablate) = ablate {
        command.push_str(&format!(" --ablate {}", shell_word(ablate)));
    }
    if scenario.quick {
        command.push_str(" --quick");
    }
    command.push_str(&format!(
        " --out {}",
        shell_word(&out.display().to_string())
    ));
    command
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
}

/// `linux (Debian GNU/Linux 12 (bookworm), kernel 6.1.0)`, as far as known.
fn os() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|k| format!("kernel {}", k.trim()));
    let details: Vec<String> = pretty.into_iter().chain(kernel).collect();
    if details.is_empty() {
        std::env::consts::OS.to_string()
    } else {
        format!("{} ({})", std::env::consts::OS, details.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_word("baseline"), "baseline");
        assert_eq!(shell_word("my dir/x.toml"), "'my dir/x.toml'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
