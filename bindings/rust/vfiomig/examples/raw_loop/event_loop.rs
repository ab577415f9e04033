//! The VMM's event loop: one thread, one poll() over the source's saving
//! data fd, both ends of the migration channel, the destination's resuming
//! data fd and a cancel fd.  Every fd is non-blocking, so no call waits:
//! only poll() does.
//!
//! Back-pressure runs end to end: the source is read only while the
//! channel's outgoing buffer holds less than a chunk, and the channel is
//! read only while less than a chunk waits for the destination, so memory
//! stays at a few chunks whatever the device's size.

use std::io;
use std::os::unix::io::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use vfiomig::{Device, PrecopyInfo, Read, State};

use crate::frame::{Counts, Corrupt, Parser, Writer};

/// How long to wait for a data fd that poll() cannot watch, or for a
/// device that has emptied its pre-copy data for now, before reading again.
const TICK: Duration = Duration::from_millis(10);
/// Nothing moving for this long ends the migration.
const STALL: Duration = Duration::from_secs(10);

/// When the source switches over to stop-copy.  The rule is checked each
/// time the device has emptied its pre-copy data for now: switch once the
/// initial bytes are all sent (the uAPI asks for that) and either the
/// dirty bytes are at most `dirty_threshold` or `max_rounds` rounds (the
/// initial image is the first) have been sent.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub dirty_threshold: u64,
    pub max_rounds: u32,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// The source's read buffer, and the back-pressure limit.
    pub chunk: usize,
    /// The most one read of the channel takes (a small one splits frames).
    pub recv_chunk: usize,
    /// SO_SNDBUF and SO_RCVBUF of the channel (a small one forces partial writes).
    pub sockbuf: Option<usize>,
    pub rule: Rule,
    /// The device's name in the stream on both sides.
    pub idstr: String,
    pub corrupt: Option<Corrupt>,
}

/// What the loop did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Rounds sent in pre-copy (0: the device had none).
    pub rounds: u32,
    pub precopy_bytes: u64,
    pub stop_copy_bytes: u64,
    /// The source's state when the loop ended.
    pub src_state: Option<State>,
    pub sent: Counts,
    pub received: Counts,
    pub sends: u64,
    pub partial_sends: u64,
    pub send_again: u64,
    pub recv_reads: u64,
    /// Device bytes the destination took, and how often it took nothing.
    pub delivered: u64,
    pub dst_full: u64,
    pub switched_at: Option<Instant>,
}

pub enum Outcome {
    Done(Report),
    Cancelled(Report),
}

fn os_err(what: &str) -> String {
    format!("{}: {}", what, io::Error::last_os_error())
}

pub fn owned(fd: RawFd, what: &str) -> Result<OwnedFd, String> {
    if fd < 0 {
        return Err(os_err(what));
    }
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn set_nonblocking(fd: &OwnedFd, what: &str) -> Result<(), String> {
    // SAFETY: fcntl on an fd we own.
    let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    // SAFETY: as above.
    if fl < 0 || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) } < 0 {
        return Err(os_err(&format!("{}: cannot set O_NONBLOCK", what)));
    }
    Ok(())
}

/// The VMM's migration channel: both ends of a non-blocking socketpair.
fn channel(sockbuf: Option<usize>) -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [-1; 2];
    let kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: fds has room for two.
    if unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr()) } < 0 {
        return Err(os_err("socketpair"));
    }
    let (w, r) = (owned(fds[0], "socketpair")?, owned(fds[1], "socketpair")?);
    if let Some(n) = sockbuf {
        for (fd, opt) in [(&w, libc::SO_SNDBUF), (&r, libc::SO_RCVBUF)] {
            let v = n as libc::c_int;
            // SAFETY: an int option of our own socket.
            let rc = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&v as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc < 0 {
                return Err(os_err("setsockopt of the channel's buffer"));
            }
        }
    }
    Ok((w, r))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    PreCopy,
    StopCopy,
    Done,
}

/// How the source's fd is waited for: poll() for POLLIN, and/or until a time.
#[derive(Clone, Copy, Debug)]
struct Wait {
    poll_in: bool,
    until: Option<Instant>,
}

const READABLE: Wait = Wait { poll_in: true, until: None };

/// The channel's sending end, with the frames not yet sent.
struct Tx {
    fd: OwnedFd,
    out: Vec<u8>,
    sent_to: usize,
    writer: Writer,
    sends: u64,
    partial: u64,
    again: u64,
}

impl Tx {
    fn backlog(&self) -> usize {
        self.out.len() - self.sent_to
    }

    /// Append frames with `f`, after dropping what was sent.
    fn frame(&mut self, f: impl FnOnce(&mut Writer, &mut Vec<u8>)) {
        self.out.drain(..self.sent_to);
        self.sent_to = 0;
        f(&mut self.writer, &mut self.out);
    }

    /// One send() of the frames not yet sent.
    fn send(&mut self) -> Result<bool, String> {
        let left = &self.out[self.sent_to..];
        // SAFETY: a readable buffer of its length; MSG_NOSIGNAL: a closed
        // receiver is an error here, not a SIGPIPE.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), left.as_ptr().cast(), left.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            return match io::Error::last_os_error().kind() {
                io::ErrorKind::WouldBlock => {
                    self.again += 1;
                    Ok(false)
                }
                io::ErrorKind::Interrupted => Ok(false),
                _ => Err(os_err("sending on the migration channel")),
            };
        }
        self.sends += 1;
        if (n as usize) < left.len() {
            self.partial += 1;
        }
        self.sent_to += n as usize;
        Ok(n > 0)
    }
}

/// The sending side: the source device, its data fd, and the channel.
struct Source<'d> {
    dev: &'d mut Device,
    fd: OwnedFd,
    phase: Phase,
    buf: Vec<u8>,
    rule: Rule,
    wait: Wait,
    /// The device said it has no pre-copy data for now, and no new data
    /// has come since: the next data begins a round.
    drained: bool,
    tx: Tx,
    report: Report,
}

impl<'d> Source<'d> {
    fn active(&self) -> bool {
        self.phase != Phase::Done
    }

    /// The stream's start: the header, the START section, and if the device
    /// went straight to STOP_COPY, the END section's opening.
    fn start(&mut self) -> Result<(), String> {
        let precopy = self.phase == Phase::PreCopy;
        self.tx.frame(|w, out| {
            w.file_header(out);
            w.setup(out);
            if !precopy {
                w.begin_complete(out);
            }
        });
        if precopy {
            self.report.rounds = 1;
        }
        Ok(())
    }

    /// One read of the data fd; `ready` says poll() reported it readable.
    fn step(&mut self, ready: bool) -> Result<bool, String> {
        let precopy = self.phase == Phase::PreCopy;
        let chunk = self.buf.len();
        let r = self.dev.read(&self.fd, &mut self.buf[..chunk], precopy);
        match r.map_err(|e| format!("reading the source's data fd: {}", e))? {
            Read::Data(n) => {
                let data = &self.buf[..n];
                if precopy {
                    self.tx.frame(|w, out| w.precopy_chunk(out, data));
                    self.report.precopy_bytes += n as u64;
                    if std::mem::take(&mut self.drained) {
                        self.report.rounds += 1;
                    }
                } else {
                    self.tx.frame(|w, out| w.stop_copy_chunk(out, data));
                    self.report.stop_copy_bytes += n as u64;
                }
                // Read on until the fd says Again or Drained: poll() never
                // reports the temporary end of pre-copy (the fd is just empty).
                self.wait = Wait { poll_in: true, until: Some(Instant::now()) };
                Ok(true)
            }
            // Only STOP_COPY ends: a pre-copy read says Drained at its end.
            Read::End => {
                self.tx.frame(|w, out| w.finish(out));
                self.phase = Phase::Done;
                Ok(true)
            }
            // The device has no pre-copy data for now: its counters decide
            // whether to switch over.  If not, the next round comes when the
            // device has made it (mlx5 makes it inside PRECOPY_INFO).
            Read::Drained => {
                let info = self.dev.precopy_info(&self.fd).map_err(|e| format!("pre-copy info: {}", e))?;
                if self.decide(info)? {
                    return Ok(true);
                }
                self.drained = true;
                self.wait = Wait { poll_in: true, until: Some(Instant::now() + TICK) };
                Ok(false)
            }
            // Nothing ready yet.  A readable fd that has nothing has no poll
            // op (mtty's): poll() would say ready forever, so wait a tick.
            Read::Again => {
                let until = ready.then(|| Instant::now() + TICK);
                self.wait = Wait { poll_in: !ready, until };
                Ok(false)
            }
        }
    }

    /// At the temporary end: switch over by the rule, or go on with the
    /// round the device has queued.  True if it switched.
    fn decide(&mut self, info: PrecopyInfo) -> Result<bool, String> {
        let rule = self.rule;
        let converged = info.dirty_bytes <= rule.dirty_threshold || self.report.rounds >= rule.max_rounds;
        if info.initial_bytes > 0 || !converged {
            return Ok(false);
        }
        self.report.switched_at = Some(Instant::now());
        self.dev.switch_over().map_err(|e| format!("switching the source over to STOP_COPY: {}", e))?;
        self.tx.frame(|w, out| w.begin_complete(out));
        self.phase = Phase::StopCopy;
        self.wait = READABLE;
        Ok(true)
    }
}

/// The receiving side: the channel's reading end, the parser, and the
/// destination device with the bytes it has not taken yet.
struct Sink<'d> {
    dev: &'d mut Device,
    fd: OwnedFd,
    rx: OwnedFd,
    parser: Parser,
    inbuf: Vec<u8>,
    pending: Vec<u8>,
    written: usize,
    reads: u64,
    delivered: u64,
    full: u64,
}

impl<'d> Sink<'d> {
    fn backlog(&self) -> usize {
        self.pending.len() - self.written
    }

    fn done(&self) -> bool {
        self.parser.done() && self.backlog() == 0
    }

    /// One read of the channel, parsed.
    fn recv(&mut self) -> Result<bool, String> {
        self.pending.drain(..self.written);
        self.written = 0;
        // SAFETY: a writable buffer of its length.
        let n = unsafe { libc::read(self.rx.as_raw_fd(), self.inbuf.as_mut_ptr().cast(), self.inbuf.len()) };
        if n < 0 {
            return match io::Error::last_os_error().kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(false),
                _ => Err(os_err("reading the migration channel")),
            };
        }
        if n == 0 {
            return Err(format!(
                "the migration channel closed after {} bytes, while the receiver waited for {}",
                self.parser.counts.stream,
                self.parser.waiting_for()
            ));
        }
        self.reads += 1;
        self.parser
            .feed(&self.inbuf[..n as usize], &mut self.pending)
            .map_err(|e| format!("the receiver refused the stream: {}", e))?;
        Ok(true)
    }

    /// One write_some() of what the destination has not taken yet.
    fn write(&mut self) -> Result<bool, String> {
        let r = self.dev.write_some(&self.fd, &self.pending[self.written..]);
        match r.map_err(|e| format!("the destination refused its data: {}", e))? {
            Some(n) => {
                self.written += n;
                self.delivered += n as u64;
                Ok(n > 0)
            }
            None => {
                self.full += 1;
                Ok(false)
            }
        }
    }
}

fn pollfd(fd: &impl AsRawFd, events: libc::c_short, on: bool) -> libc::pollfd {
    // A negative fd is skipped: an fd not waited for must not wake poll()
    // with its POLLHUP either.
    libc::pollfd { fd: if on { fd.as_raw_fd() } else { -1 }, events, revents: 0 }
}

fn timeout_ms(until: Instant) -> libc::c_int {
    let d = until.saturating_duration_since(Instant::now());
    ((d.as_micros() + 999) / 1000).min(libc::c_int::MAX as u128) as libc::c_int
}

/// The loop itself: true if the cancel fd fired.
fn run(s: &mut Source<'_>, d: &mut Sink<'_>, cfg: &Config, cancel: BorrowedFd<'_>) -> Result<bool, String> {
    let mut last_move = Instant::now();
    loop {
        if !s.active() && s.tx.backlog() == 0 && d.done() {
            return Ok(false);
        }
        let read_src = s.active() && s.tx.backlog() < cfg.chunk;
        let mut fds = [
            pollfd(&cancel, libc::POLLIN, true),
            pollfd(&s.fd, libc::POLLIN, read_src && s.wait.poll_in),
            pollfd(&s.tx.fd, libc::POLLOUT, s.tx.backlog() > 0),
            pollfd(&d.rx, libc::POLLIN, !d.parser.done() && d.backlog() < cfg.chunk),
            pollfd(&d.fd, libc::POLLOUT, d.backlog() > 0),
        ];
        let mut until = last_move + STALL;
        if let (true, Some(t)) = (read_src, s.wait.until) {
            until = until.min(t);
        }
        // SAFETY: fds is an array of pollfds of its length.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms(until)) } < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(os_err("poll"));
        }
        if fds[0].revents != 0 {
            return Ok(true);
        }
        let now = Instant::now();
        let src_due = s.wait.until.map_or(false, |t| now >= t);
        let mut moved = false;
        if read_src && (fds[1].revents != 0 || src_due) {
            moved |= s.step(fds[1].revents != 0)?;
        }
        if fds[2].revents != 0 {
            moved |= s.tx.send()?;
        }
        if fds[3].revents != 0 {
            moved |= d.recv()?;
        }
        if fds[4].revents != 0 {
            moved |= d.write()?;
        }
        if moved {
            last_move = now;
        } else if now >= last_move + STALL {
            return Err(format!(
                "nothing moved for {} s: the source is in {:?}, {} bytes of frames are unsent, {} device bytes wait \
                 for the destination, and the receiver waits for {}",
                STALL.as_secs(),
                s.phase,
                s.tx.backlog(),
                d.backlog(),
                d.parser.waiting_for()
            ));
        }
    }
}

/// Migrate `src` into `dst` through the loop.  The destination is made
/// RESUMING first (a refused destination leaves the source alone), then
/// the source starts saving, with pre-copy if it offers it.  On success
/// the source is in STOP_COPY with its stream read to the end and the
/// destination RESUMING with all of it written: the caller finishes both.
/// On a cancel or a failure the caller puts both back.
pub fn migrate(src: &mut Device, dst: &mut Device, cfg: &Config, cancel: BorrowedFd<'_>) -> Result<Outcome, String> {
    let load_fd = dst.begin_load().map_err(|e| format!("starting the load: {}", e))?;
    set_nonblocking(&load_fd, "the destination's data fd")?;
    let (tx, rx) = channel(cfg.sockbuf)?;
    let begun = Instant::now();
    let (save_fd, state) = src.begin_save(true).map_err(|e| format!("starting the save: {}", e))?;
    set_nonblocking(&save_fd, "the source's data fd")?;
    let stopped = state == State::StopCopy;
    let mut s = Source {
        dev: src,
        fd: save_fd,
        phase: if stopped { Phase::StopCopy } else { Phase::PreCopy },
        buf: vec![0; cfg.chunk],
        rule: cfg.rule,
        wait: READABLE,
        drained: false,
        tx: Tx {
            fd: tx,
            out: Vec::with_capacity(2 * cfg.chunk),
            sent_to: 0,
            writer: Writer::new(1, &cfg.idstr, 0, cfg.corrupt),
            sends: 0,
            partial: 0,
            again: 0,
        },
        // Without pre-copy the downtime began as the save did.
        report: Report { switched_at: stopped.then(|| begun), ..Report::default() },
    };
    s.start()?;
    let mut d = Sink {
        dev: dst,
        fd: load_fd,
        rx,
        parser: Parser::new(&cfg.idstr, 0),
        inbuf: vec![0; cfg.recv_chunk],
        pending: Vec::with_capacity(cfg.chunk + cfg.recv_chunk),
        written: 0,
        reads: 0,
        delivered: 0,
        full: 0,
    };
    let cancelled = run(&mut s, &mut d, cfg, cancel)?;
    let mut report = s.report;
    report.src_state = s.dev.state().ok();
    report.sent = s.tx.writer.counts;
    report.sends = s.tx.sends;
    report.partial_sends = s.tx.partial;
    report.send_again = s.tx.again;
    report.received = d.parser.counts;
    report.recv_reads = d.reads;
    report.delivered = d.delivered;
    report.dst_full = d.full;
    Ok(if cancelled { Outcome::Cancelled(report) } else { Outcome::Done(report) })
}
