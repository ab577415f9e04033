//! Runs the raw-loop example (examples/raw_loop.rs) on mock devices and
//! checks what it prints: it must exit 0 with `result: PASS` where the
//! migration works, and 1 with the reason where it must not, and its
//! figures must be the mock's (docs/mock.md, "Stream format" and
//! "Pre-copy": a stream is 40 + 24 * pages + size + 24 bytes, and a dirty
//! round is ceil(dirty / 64 KiB) pages of 24 + 65536 bytes each).
//!
//! `cargo test` builds the example first; `cargo test --test
//! example_raw_loop` alone does not, so build it with `--examples` then.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

// The example's framing, whose unit tests (the parser on any split, its
// refusals) run here: an example with `test = true` would be built only as
// a test harness by `cargo test`, and the binary run below would go stale.
#[path = "../examples/raw_loop/frame.rs"]
mod frame;

/// The example keeps both CPUs busy: one run at a time keeps the cancel's
/// timing its own.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const PAGE: u64 = 65536;
const TIMEOUT: Duration = Duration::from_secs(120);

fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    exe.parent().and_then(|d| d.parent()).expect("target/debug").join("examples/raw-loop")
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The `name=value` fields of the line `key: ...` (the last such line).
    fn fields(&self, key: &str) -> HashMap<String, String> {
        let prefix = format!("{}: ", key);
        let line = self.stdout.lines().filter(|l| l.starts_with(&prefix)).last();
        let line = line.unwrap_or_else(|| panic!("no \"{}\" line in:\n{}", key, self.stdout));
        line[prefix.len()..]
            .split_whitespace()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn num(&self, key: &str, name: &str) -> f64 {
        let f = self.fields(key);
        let v = f.get(name).unwrap_or_else(|| panic!("no {}= on the \"{}\" line of:\n{}", name, key, self.stdout));
        v.parse().unwrap_or_else(|_| panic!("{}={} is no number", name, v))
    }

    fn int(&self, key: &str, name: &str) -> u64 {
        self.num(key, name) as u64
    }

    fn line(&self, key: &str) -> &str {
        let prefix = format!("{}: ", key);
        self.stdout.lines().filter(|l| l.starts_with(&prefix)).last().unwrap_or("")
    }

    fn passed(&self) {
        assert!(
            self.code == Some(0) && self.stdout.ends_with("result: PASS\n"),
            "the example failed ({:?}):\n{}\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
    }

    /// It failed as it should: exit 1, saying `why`, with both devices put back.
    fn refused(&self, why: &str) {
        assert!(
            self.code == Some(1) && self.stdout.ends_with("result: FAIL\n") && self.stderr.contains(why),
            "wanted a failure saying \"{}\", got ({:?}):\n{}\n{}",
            why,
            self.code,
            self.stdout,
            self.stderr
        );
        assert_eq!(self.line("devices"), "devices: src=RUNNING dst=STOP (put back)", "{}", self.stdout);
    }
}

fn run(args: &[&str]) -> Run {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut child = Command::new(example())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {}", example().display(), e));
    let t0 = Instant::now();
    // Its output is a few lines: the pipes never fill while it runs.
    let code = loop {
        if let Some(st) = child.try_wait().expect("waiting for the example") {
            break st.code();
        }
        if t0.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("raw-loop {:?} ran for more than {:?}", args, TIMEOUT);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    Run { code, stdout, stderr }
}

fn pages(size: u64) -> u64 {
    (size + PAGE - 1) / PAGE
}

/// A plain save of a mock: header, every page, end.
fn stream_len(size: u64) -> u64 {
    40 + 24 * pages(size) + size + 24
}

/// One dirty round of a mock of `size` with `dirty=`.
fn round_len(size: u64, dirty: u64) -> u64 {
    pages(dirty).min(pages(size)) * (24 + PAGE)
}

/// What every complete run shows: the two sides counted the same frames,
/// one START, END and FULL section, a chunk per PART section and per
/// stop-copy read, and equal state; the devices end where a migration
/// leaves them.
fn complete(r: &Run) {
    r.passed();
    let sent = r.line("frames-sent").trim_start_matches("frames-sent: ");
    assert_eq!(sent, r.line("frames-received").trim_start_matches("frames-received: "), "{}", r.stdout);
    for (name, want) in [("start", 1), ("end", 1), ("full", 1)] {
        assert_eq!(r.int("frames-sent", name), want, "{}", r.stdout);
    }
    let device_bytes = r.int("precopy", "bytes") + r.int("stopcopy", "bytes");
    assert_eq!(r.int("frames-sent", "payload"), device_bytes, "{}", r.stdout);
    assert_eq!(r.int("channel", "delivered"), device_bytes, "{}", r.stdout);
    assert!(r.int("frames-sent", "chunks") >= r.int("frames-sent", "part"), "{}", r.stdout);
    assert_eq!(r.line("devices"), "devices: src=STOP dst=RUNNING", "{}", r.stdout);
}

#[test]
fn state_arrives_byte_equal_at_several_sizes() {
    // No dirty pages: one round (the initial image), then only the end.
    let r = run(&["--src", "mock:src,size=1M,dirty=0", "--dst", "mock:dst,size=1M,state=STOP"]);
    complete(&r);
    let size = 1 << 20;
    assert_eq!(r.int("precopy", "rounds"), 1);
    assert_eq!(r.int("precopy", "bytes"), stream_len(size) - 24);
    assert_eq!(r.int("stopcopy", "bytes"), 24);
    assert_eq!(r.int("state", "bytes"), stream_len(size));

    // Dirty rounds over the threshold: the round limit decides.  The round
    // the last query queued moves in stop-copy, with the final one.
    let (size, dirty) = (4 << 20, 256 << 10);
    let r = run(&[
        "--src",
        "mock:src,size=4M,dirty=256K",
        "--dst",
        "mock:dst,size=4M,state=STOP",
        "--dirty-threshold",
        "64K",
        "--max-rounds",
        "3",
    ]);
    complete(&r);
    assert_eq!(r.int("precopy", "rounds"), 3);
    assert_eq!(r.int("precopy", "bytes"), stream_len(size) - 24 + 2 * round_len(size, dirty));
    assert_eq!(r.int("stopcopy", "bytes"), 2 * round_len(size, dirty) + 24);
    assert_eq!(r.int("state", "bytes"), stream_len(size));

    // Dirty rounds under the threshold: switch at the first chance.
    let (size, dirty) = (48 << 20, 512 << 10);
    let r = run(&[
        "--src",
        "mock:src,size=48M,dirty=512K",
        "--dst",
        "mock:dst,size=48M,state=STOP",
        "--dirty-threshold",
        "1M",
    ]);
    complete(&r);
    assert_eq!(r.int("precopy", "rounds"), 1);
    assert_eq!(r.int("precopy", "bytes"), stream_len(size) - 24);
    assert_eq!(r.int("stopcopy", "bytes"), 2 * round_len(size, dirty) + 24);
    assert_eq!(r.int("state", "bytes"), stream_len(size));
    // The default chunk is 1 MiB: one PART section per read, none larger.
    assert!(r.int("frames-sent", "part") >= (stream_len(size) - 24) >> 20, "{}", r.stdout);

    // A device without pre-copy: straight to STOP_COPY, no PART section.
    let r = run(&[
        "--src",
        "mock:src,size=2M,flags=stop_copy+p2p",
        "--dst",
        "mock:dst,size=2M,state=STOP,flags=stop_copy+p2p",
    ]);
    complete(&r);
    assert_eq!(r.int("precopy", "rounds"), 0);
    assert_eq!(r.int("frames-sent", "part"), 0);
    assert_eq!(r.int("stopcopy", "bytes"), stream_len(2 << 20));
}

#[test]
fn a_tiny_channel_splits_frames_anywhere() {
    // A 4 KiB socket buffer takes part of nearly every send, and reads of
    // 7 bytes cut every field of every frame somewhere.
    let r = run(&[
        "--src",
        "mock:src,size=512K,dirty=64K",
        "--dst",
        "mock:dst,size=512K,state=STOP",
        "--sockbuf",
        "4096",
        "--recv-chunk",
        "7",
        "--dirty-threshold",
        "32K",
    ]);
    complete(&r);
    let stream = r.int("frames-sent", "stream");
    assert!(r.int("channel", "partial") > 0, "no partial send:\n{}", r.stdout);
    assert!(r.int("channel", "reads") >= stream / 7, "{}", r.stdout);
    assert_eq!(r.int("precopy", "rounds"), 4);

    // Bigger, with reads that end at odd places.
    let r = run(&["--size", "8M", "--sockbuf", "4096", "--recv-chunk", "4093", "--chunk", "64K"]);
    complete(&r);
    assert!(r.int("channel", "partial") > 0, "no partial send:\n{}", r.stdout);
    assert_eq!(r.int("state", "bytes"), stream_len(8 << 20));
}

#[test]
fn a_cancel_puts_both_devices_back_within_500ms() {
    // A slow source (32 MiB/s for 64 MiB) is still in pre-copy at 200 ms.
    let r = run(&[
        "--src",
        "mock:src,size=64M,rate=32M",
        "--dst",
        "mock:dst,size=64M,state=STOP",
        "--cancel-after",
        "200",
    ]);
    r.passed();
    assert_eq!(r.line("devices"), "devices: src=RUNNING dst=STOP (put back)", "{}", r.stdout);
    assert_eq!(r.fields("cancel")["phase"], "PRE_COPY", "{}", r.stdout);
    assert!(r.num("cancel", "latency_ms") < 500.0, "{}", r.stdout);
    assert!(r.int("precopy", "bytes") > 0, "nothing moved before the cancel:\n{}", r.stdout);

    // Without pre-copy the source is stopped when the cancel comes: it runs again.
    let r = run(&[
        "--src",
        "mock:src,size=64M,rate=32M,flags=stop_copy+p2p",
        "--dst",
        "mock:dst,size=64M,state=STOP,flags=stop_copy+p2p",
        "--cancel-after",
        "200",
    ]);
    r.passed();
    assert_eq!(r.line("devices"), "devices: src=RUNNING dst=STOP (put back)", "{}", r.stdout);
    assert_eq!(r.fields("cancel")["phase"], "STOP_COPY", "{}", r.stdout);
    assert!(r.num("cancel", "latency_ms") < 500.0, "{}", r.stdout);

    // A cancel that comes after the end cancels nothing: that is no pass.
    let r = run(&["--size", "1M", "--cancel-after", "3000"]);
    r.refused("before the cancel");
}

#[test]
fn a_bad_stream_or_state_fails_and_puts_both_back() {
    run(&["--size", "1M", "--corrupt", "marker"]).refused("unknown marker 0xffffffffef1000ff in a PART section");
    run(&["--size", "1M", "--corrupt", "size"]).refused("a data chunk of 1099511627776 bytes, over the 16 MiB");
    // The destination refuses a state of another size as its first bytes arrive.
    run(&["--src", "mock:src,size=1M", "--dst", "mock:dst,size=2M,state=STOP"]).refused("rejected the data");
}

#[test]
fn a_different_state_fails_the_comparison() {
    // The mock's stream carries the saving device's flags (byte 12): a
    // destination with other flags loads the state, and then saves
    // different bytes, which the comparison must see.
    let r = run(&[
        "--src",
        "mock:src,size=1M,flags=stop_copy+p2p",
        "--dst",
        "mock:dst,size=1M,state=STOP,flags=stop_copy+p2p+pre_copy",
    ]);
    assert!(
        r.code == Some(1) && r.stderr.contains("the destination's state differs from the source's at byte 12"),
        "{:?}\n{}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
}

#[test]
fn a_bad_command_line_says_so() {
    let r = run(&["--max-rounds", "many"]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("--max-rounds many: give a number of rounds"), "{}", r.stderr);
    assert!(r.stderr.contains("usage: raw-loop"), "{}", r.stderr);
}
