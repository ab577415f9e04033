//! raw-loop: the raw data path of the safe `vfiomig` crate driven from a
//! VMM's own single-threaded poll() loop, with the device state framed into
//! the VMM's migration stream the way QEMU frames VFIO devices
//! (raw_loop/frame.rs says what is modelled and what is left out).
//!
//! One source and one destination device (mock devices by default).  The
//! source saves through its data fd (O_NONBLOCK, POLLIN), the frames go
//! over a non-blocking socketpair that stands for the migration channel
//! (POLLOUT when its buffer is full, POLLIN on the far end), the receiver
//! parses them incrementally and writes the device bytes to the
//! destination's data fd (O_NONBLOCK, `write_some()` on POLLOUT).
//! raw_loop/event_loop.rs has the loop and the switch-over rule: once the
//! device has emptied its pre-copy data for now, switch when its initial
//! bytes are sent and its dirty bytes are at most `--dirty-threshold` or
//! `--max-rounds` rounds went.
//!
//! Then it checks what it claims: the destination finishes the load and
//! runs, both devices are saved raw into memory and compared byte for byte
//! (and the destination's own state, saved before, must differ, or the
//! comparison would prove nothing), the frames the two sides counted agree.
//! `--cancel-after MS` raises a cancel from a second thread through an
//! eventfd the loop polls: the loop stops, the source runs again, the
//! destination is reset and stopped, all within 500 ms.
//!
//! It prints one `key: name=value ...` line per result and `result: PASS`,
//! or says what failed on stderr and exits 1 (2 for a bad command line).

use std::fs::File;
use std::os::unix::io::{AsFd, AsRawFd, OwnedFd};
use std::process::exit;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vfiomig::{Device, Leave, State};

#[path = "raw_loop/check.rs"]
mod check;
#[path = "raw_loop/event_loop.rs"]
mod event_loop;
#[path = "raw_loop/frame.rs"]
mod frame;

use check::{check_report, check_state, ensure, raw_state};
use event_loop::{owned, Config, Outcome, Report, Rule};
use frame::Corrupt;

const USAGE: &str = "usage: raw-loop [--src SPEC] [--dst SPEC] [--size SIZE] [--dirty-threshold SIZE] \
[--max-rounds N] [--chunk SIZE] [--recv-chunk SIZE] [--sockbuf SIZE] [--cancel-after MS] [--corrupt marker|size]
  --src, --dst       device specs (default mock:src,size=SIZE,dirty=1M and mock:dst,size=SIZE,state=STOP)
  --size             the default mocks' size (default 16M)
  --dirty-threshold  switch over once the dirty bytes are at most this (default 256K)
  --max-rounds       ... or once this many pre-copy rounds went (default 4)
  --chunk            the source's read buffer (default 1M, as QEMU's)
  --recv-chunk       the most one read of the channel takes (default 256K)
  --sockbuf          the channel's socket buffers (default: the system's)
  --cancel-after     cancel from another thread after MS milliseconds
  --corrupt          send a bad marker or size in the first data chunk
SIZE takes K, M, G (powers of 1024).";

/// The device's name in the stream, as QEMU's "<qdev id>/vfio".
const IDSTR: &str = "hostdev0/vfio";
/// How soon after a cancel both devices must be back.
const CANCEL_LIMIT: Duration = Duration::from_millis(500);

#[derive(Debug)]
struct Args {
    src: String,
    dst: String,
    cfg: Config,
    cancel_after: Option<Duration>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, shift) = match s.chars().last() {
        Some('K') | Some('k') => (&s[..s.len() - 1], 10),
        Some('M') | Some('m') => (&s[..s.len() - 1], 20),
        Some('G') | Some('g') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("\"{}\" is no size: write a number with K, M or G if you like (\"64K\")", s))
}

fn parse_usize(s: &str, min: u64) -> Result<usize, String> {
    match parse_size(s)? {
        n if n < min => Err(format!("{} is too small: at least {} is needed", s, min)),
        n => usize::try_from(n).map_err(|_| format!("{} is too large", s)),
    }
}

impl Args {
    fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
        let (mut src, mut dst, mut size) = (None, None, "16M".to_string());
        let mut cfg = Config {
            chunk: 1 << 20,
            recv_chunk: 256 << 10,
            sockbuf: None,
            rule: Rule { dirty_threshold: 256 << 10, max_rounds: 4 },
            idstr: IDSTR.to_string(),
            corrupt: None,
        };
        let mut cancel_after = None;
        while let Some(opt) = it.next() {
            let mut val = || it.next().ok_or_else(|| format!("{} needs a value", opt));
            match opt.as_str() {
                "--src" => src = Some(val()?),
                "--dst" => dst = Some(val()?),
                "--size" => size = val()?,
                "--dirty-threshold" => cfg.rule.dirty_threshold = parse_size(&val()?)?,
                "--max-rounds" => {
                    let v = val()?;
                    cfg.rule.max_rounds = v.parse().map_err(|_| format!("--max-rounds {}: give a number of rounds", v))?
                }
                "--chunk" => cfg.chunk = parse_usize(&val()?, 4096)?,
                "--recv-chunk" => cfg.recv_chunk = parse_usize(&val()?, 1)?,
                "--sockbuf" => cfg.sockbuf = Some(parse_usize(&val()?, 1)?),
                "--cancel-after" => {
                    let v = val()?;
                    let ms = v.parse().map_err(|_| format!("--cancel-after {}: give milliseconds", v))?;
                    cancel_after = Some(Duration::from_millis(ms));
                }
                "--corrupt" => {
                    cfg.corrupt = Some(match val()?.as_str() {
                        "marker" => Corrupt::Marker,
                        "size" => Corrupt::Size,
                        v => return Err(format!("--corrupt {}: say marker or size", v)),
                    })
                }
                "-h" | "--help" => return Err(String::new()),
                _ => return Err(format!("unknown option {}", opt)),
            }
        }
        parse_size(&size)?;
        Ok(Args {
            src: src.unwrap_or_else(|| format!("mock:src,size={},dirty=1M", size)),
            dst: dst.unwrap_or_else(|| format!("mock:dst,size={},state=STOP", size)),
            cfg,
            cancel_after,
        })
    }
}

/// The cancel: an eventfd the loop polls, written by a second thread.
struct Canceller {
    fd: OwnedFd,
    thread: Option<JoinHandle<Result<Instant, String>>>,
}

impl Canceller {
    /// With `after`, a thread raises it then and returns when it did.
    fn new(after: Option<Duration>) -> Result<Canceller, String> {
        // SAFETY: plain eventfd(2).
        let fd = owned(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) }, "eventfd")?;
        let thread = match after {
            None => None,
            Some(after) => {
                let raw = fd.try_clone().map_err(|e| format!("duplicating the eventfd: {}", e))?;
                Some(std::thread::spawn(move || {
                    std::thread::sleep(after);
                    let at = Instant::now();
                    let one = 1u64.to_ne_bytes();
                    // SAFETY: 8 readable bytes to our own eventfd.
                    let n = unsafe { libc::write(raw.as_raw_fd(), one.as_ptr().cast(), one.len()) };
                    match n {
                        8 => Ok(at),
                        _ => Err(format!("raising the cancel: {}", std::io::Error::last_os_error())),
                    }
                }))
            }
        };
        Ok(Canceller { fd, thread })
    }

    /// When the cancel was raised.
    fn raised_at(&mut self) -> Result<Instant, String> {
        let t = self.thread.take().ok_or("no cancel thread runs")?;
        t.join().map_err(|_| "the cancel thread panicked".to_string())?
    }
}

fn state_of(dev: &Device) -> String {
    dev.state().map(|s| s.to_string()).unwrap_or_else(|e| format!("unknown ({})", e))
}

/// After a cancel or a failure: the source runs again, as the VM it
/// belongs to still does; the destination, which may hold part of a
/// state, is reset (which drops it) and stopped, as it started: it must
/// not run.  Both must end there.
fn put_back(src: &mut Device, dst: &mut Device) -> Result<(), String> {
    if src.set_state(State::Running).is_err() {
        src.recover().map_err(|e| format!("the source cannot be recovered: {}", e))?;
        src.set_state(State::Running).map_err(|e| format!("the source cannot run again: {}", e))?;
    }
    dst.reset().map_err(|e| format!("the destination cannot be reset: {}", e))?;
    dst.set_state(State::Stop).map_err(|e| format!("the destination cannot be stopped: {}", e))?;
    let (s, d) = (src.state(), dst.state());
    println!("devices: src={} dst={} (put back)", state_of(src), state_of(dst));
    ensure(matches!((s, d), (Ok(State::Running), Ok(State::Stop))), || {
        format!("after putting back, the source is {} and the destination {}", state_of(src), state_of(dst))
    })
}

fn print_report(r: &Report) {
    println!("precopy: rounds={} bytes={}", r.rounds, r.precopy_bytes);
    println!("stopcopy: bytes={}", r.stop_copy_bytes);
    println!("frames-sent: {}", r.sent);
    println!("frames-received: {}", r.received);
    println!(
        "channel: sends={} partial={} again={} reads={} delivered={} dst_full={}",
        r.sends, r.partial_sends, r.send_again, r.recv_reads, r.delivered, r.dst_full
    );
}

/// Fail with `why`, after putting both devices back (and saying so if
/// that failed too).
fn fail_back(src: &mut Device, dst: &mut Device, why: String) -> Result<(), String> {
    match put_back(src, dst) {
        Ok(()) => Err(why),
        Err(e) => Err(format!("{}; then {}", why, e)),
    }
}

/// A cancelled migration: both devices back, in time.
fn cancelled(src: &mut Device, dst: &mut Device, r: &Report, cancel: &mut Canceller) -> Result<(), String> {
    let phase = r.src_state.map_or("?".to_string(), |s| s.to_string());
    put_back(src, dst)?;
    let latency = cancel.raised_at()?.elapsed();
    print_report(r);
    println!("cancel: phase={} latency_ms={:.3}", phase, latency.as_secs_f64() * 1e3);
    ensure(latency <= CANCEL_LIMIT, || {
        format!("the devices were back {:?} after the cancel, later than {:?}", latency, CANCEL_LIMIT)
    })
}

/// A complete transfer: the destination runs, the source stops, and the
/// checks of what it claims.
fn finish(src: &mut Device, dst: &mut Device, r: &Report, t0: Instant, dst_before: &mut File) -> Result<(), String> {
    if let Err(e) = dst.finish_load(State::Running) {
        return fail_back(src, dst, format!("the destination refused the state it was given: {}", e));
    }
    let downtime = r.switched_at.map_or(0.0, |t| t.elapsed().as_secs_f64() * 1e3);
    let elapsed = t0.elapsed();
    // The save's cleanup, after the destination runs (QEMU's too): it would
    // only add to the downtime before.
    src.set_state(State::Stop).map_err(|e| format!("stopping the source after the save: {}", e))?;
    print_report(r);
    println!("time: elapsed_ms={:.1} downtime_ms={:.1}", elapsed.as_secs_f64() * 1e3, downtime);
    check_report(r)?;
    check_state(src, dst, dst_before)?;
    println!("devices: src={} dst={}", state_of(src), state_of(dst));
    ensure(src.state().ok() == Some(State::Stop) && dst.state().ok() == Some(State::Running), || {
        format!("the source ended {} and the destination {}", state_of(src), state_of(dst))
    })
}

fn run(args: &Args) -> Result<(), String> {
    let ctx = vfiomig::mock::context().map_err(|e| e.to_string())?;
    let mut src = Device::open(&ctx, &args.src).map_err(|e| format!("opening the source: {}", e))?;
    let mut dst = Device::open(&ctx, &args.dst).map_err(|e| format!("opening the destination: {}", e))?;
    println!("devices: src={} ({}) dst={} ({})", src.name(), state_of(&src), dst.name(), state_of(&dst));
    let mut dst_before = raw_state(&mut dst, Leave::Stop)?;
    let mut cancel = Canceller::new(args.cancel_after)?;
    let t0 = Instant::now();
    match event_loop::migrate(&mut src, &mut dst, &args.cfg, cancel.fd.as_fd()) {
        Err(e) => fail_back(&mut src, &mut dst, e),
        Ok(Outcome::Cancelled(r)) => cancelled(&mut src, &mut dst, &r, &mut cancel),
        Ok(Outcome::Done(_)) if args.cancel_after.is_some() => {
            let why = format!(
                "the migration finished in {:?}, before the cancel: make it slower (a mock's rate=) or cancel sooner",
                t0.elapsed()
            );
            fail_back(&mut src, &mut dst, why)
        }
        Ok(Outcome::Done(r)) => finish(&mut src, &mut dst, &r, t0, &mut dst_before),
    }
}

fn main() {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("raw-loop: {}", e);
            }
            eprintln!("{}", USAGE);
            exit(if e.is_empty() { 0 } else { 2 });
        }
    };
    match run(&args) {
        Ok(()) => println!("result: PASS"),
        Err(e) => {
            eprintln!("raw-loop: FAILED: {}", e);
            println!("result: FAIL");
            exit(1);
        }
    }
}
