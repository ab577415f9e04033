//! The ch-migrate example (examples/ch_migrate.rs) on mock devices, as
//! `cargo test` built it: a migration, and a cancelled one.  The example
//! checks its own results and exits 1 when one fails; here its exit status
//! and the lines that report the results must be right.

use std::path::PathBuf;
use std::process::Command;

fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    // target/debug/deps/THIS -> target/debug/examples/ch-migrate
    exe.parent().and_then(|deps| deps.parent()).expect("target/debug").join("examples/ch-migrate")
}

/// The example's stdout lines; it must exit 0.
fn run(args: &[&str]) -> Vec<String> {
    let out = Command::new(example()).args(args).output().expect("ch-migrate runs (cargo test builds the examples)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ch-migrate {:?}: {}\n{}{}",
        args,
        out.status,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(String::from).collect()
}

/// The text of the line `ch-migrate: RESULT WHAT: ...`.
fn result<'a>(lines: &'a [String], what: &str) -> &'a str {
    let prefix = format!("ch-migrate: RESULT {}: ", what);
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no RESULT {} line in:\n{}", what, lines.join("\n")))
}

fn passed(lines: &[String], mode: &str) -> bool {
    lines.iter().any(|l| l.starts_with(&format!("ch-migrate: PASS ({})", mode)))
}

#[test]
fn migration_moves_the_bytes_and_calls_each_hook_once() {
    let lines = run(&[]);
    // The default mocks: mock:a (1 MiB) and mock:b (320 KiB) into mock:d and
    // mock:e; a raw save of a mock is 40 + 24 * pages + size + 24 bytes.
    let state = result(&lines, "state");
    assert!(
        state.starts_with("mock:d = mock:a (1049024 bytes), mock:e = mock:b (327864 bytes) byte for byte"),
        "{}",
        state
    );
    assert!(state.ends_with("destinations RUNNING"), "{}", state);
    assert_eq!(
        result(&lines, "hooks"),
        "sender [Quiesced PRE_COPY_P2P PRE_COPY_P2P] once, vCPUs paused there once; \
         receiver [Ready RUNNING_P2P RUNNING_P2P] once, vCPUs resumed there once"
    );
    assert!(passed(&lines, "migration"), "{}", lines.join("\n"));
}

#[test]
fn cancel_ends_the_transfer_within_500_ms_with_the_sources_running() {
    let lines = run(&["--cancel-after", "300"]);
    let cancel = result(&lines, "cancel");
    let latency = cancel
        .split_once("the save failed with ECANCELED ")
        .and_then(|(_, rest)| rest.split_once(" ms after the raise"))
        .and_then(|(ms, _)| ms.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no latency in: {}", cancel));
    assert!(latency <= 500.0, "{}", cancel);
    assert!(
        cancel.contains("sources mock:a RUNNING, mock:b RUNNING (Error::outcomes() and Device::state())"),
        "{}",
        cancel
    );
    assert!(cancel.ends_with("mock:d STOP, mock:e STOP"), "{}", cancel);
    assert_eq!(
        result(&lines, "hooks"),
        "sender never called (cancelled before the switchover), vCPUs never paused; \
         receiver never called, vCPUs never started"
    );
    assert!(passed(&lines, "cancel"), "{}", lines.join("\n"));
}
