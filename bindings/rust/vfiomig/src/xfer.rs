//! Whole saves and loads (`vfiomig/migrate.h`): their options as builders,
//! their progress and their figures.

use std::time::Duration;

use crate::cancel::{Cancel, CallCancel};
use crate::callback::ProgressHook;
use crate::sys;

/// Which phase a transfer is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The source runs; pre-copy data flows.
    Precopy,
    /// The source is stopped; the rest flows.
    StopCopy,
    /// The destination is RESUMING.
    Load,
    /// Done.
    Done,
}

/// Where a transfer is, given to a progress closure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub phase: Phase,
    /// Device bytes moved so far, all phases.
    pub bytes: u64,
    /// Device bytes expected in all, where known.
    pub total_estimate: Option<u64>,
    /// Bytes per second, recent.
    pub rate: u64,
    pub precopy_round: u32,
    /// A save in pre-copy: the stop-copy time the remaining bytes would
    /// take at the measured bandwidth, once one is known.
    pub downtime_estimate: Option<Duration>,
    /// The save's [`SaveOptions::downtime_limit`], if any.
    pub downtime_limit: Option<Duration>,
}

impl Progress {
    pub(crate) fn from_raw(p: &sys::vfiomig_progress) -> Progress {
        let phase = match p.phase {
            sys::VFIOMIG_PHASE_PRECOPY => Phase::Precopy,
            sys::VFIOMIG_PHASE_STOP_COPY => Phase::StopCopy,
            sys::VFIOMIG_PHASE_LOAD => Phase::Load,
            _ => Phase::Done,
        };
        Progress {
            phase,
            bytes: p.bytes,
            total_estimate: (p.total_estimate != 0).then(|| p.total_estimate),
            rate: p.rate,
            precopy_round: p.precopy_round,
            downtime_estimate: (p.downtime_estimate_ns != u64::MAX && p.phase == sys::VFIOMIG_PHASE_PRECOPY)
                .then(|| Duration::from_nanos(p.downtime_estimate_ns)),
            downtime_limit: (p.downtime_limit_ns != 0).then(|| Duration::from_nanos(p.downtime_limit_ns)),
        }
    }
}

/// What a save or a load did: on success from the call, on failure from
/// [`Error::stats`](crate::Error::stats) (what had moved).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Device bytes moved while the source ran.
    pub precopy_bytes: u64,
    /// Device bytes moved while it was stopped.
    pub stop_copy_bytes: u64,
    /// Bytes written to or read from the stream.
    pub stream_bytes: u64,
    pub precopy_rounds: u32,
    /// Save: from the arc into STOP_COPY to the complete stream (a group's:
    /// from its first member's); load: RESUMING to running (or stopped).
    pub downtime: Duration,
    pub elapsed: Duration,
    /// Where a load found a failure in the stream, or a save failed to
    /// write it.
    pub error_offset: Option<u64>,
    /// A save that ran pre-copy rounds: the estimated downtime when it
    /// switched over (a group's: as its switchover decided it), to compare
    /// with [`downtime`](Self::downtime); `None` without pre-copy or when
    /// no estimate was possible.
    pub downtime_estimate: Option<Duration>,
    /// The bandwidth pre-copy measured, bytes a second.
    pub precopy_bandwidth: Option<u64>,
    /// Whether the pre-copy deadline ended pre-copy.
    pub precopy_timed_out: bool,
}

/// The estimate of a save's figures: none without rounds or when none was possible.
pub(crate) fn estimate(rounds: u32, ns: u64) -> Option<Duration> {
    (rounds != 0 && ns != u64::MAX).then(|| Duration::from_nanos(ns))
}

impl Stats {
    pub(crate) fn raw() -> sys::vfiomig_stats {
        sys::vfiomig_stats { sz: std::mem::size_of::<sys::vfiomig_stats>(), ..Default::default() }
    }

    pub(crate) fn from_raw(s: &sys::vfiomig_stats) -> Stats {
        Stats {
            precopy_bytes: s.precopy_bytes,
            stop_copy_bytes: s.stop_copy_bytes,
            stream_bytes: s.stream_bytes,
            precopy_rounds: s.precopy_rounds,
            downtime: Duration::from_nanos(s.downtime_ns),
            elapsed: Duration::from_nanos(s.elapsed_ns),
            error_offset: (s.error_offset != u64::MAX).then(|| s.error_offset),
            downtime_estimate: estimate(s.precopy_rounds, s.downtime_estimate_ns),
            precopy_bandwidth: (s.precopy_bandwidth != 0).then(|| s.precopy_bandwidth),
            precopy_timed_out: s.precopy_timed_out != 0,
        }
    }
}

/// How a save uses pre-copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Precopy {
    /// Stop the device, then copy.
    #[default]
    Never,
    /// Iterate while it pays (the dirty bytes shrink), then switch over;
    /// the limits are [`SaveOptions::dirty_threshold`],
    /// [`SaveOptions::max_precopy_bytes`] and at most this many rounds
    /// (0: the library's default, 32).
    Auto(u32),
    /// Exactly this many rounds.
    Rounds(u32),
}

/// What a save does when its pre-copy deadline passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnTimeout {
    /// Switch over anyway, once the initial bytes are sent (a device whose
    /// initial bytes are still pending fails as with `Abort`).
    #[default]
    Switch,
    /// Give up: the save fails with ETIMEDOUT, the source where it started,
    /// and the error gives the last estimate against the target.
    Abort,
}

impl OnTimeout {
    fn raw(self) -> sys::vfiomig_on_timeout {
        match self {
            OnTimeout::Switch => sys::VFIOMIG_ON_TIMEOUT_SWITCH,
            OnTimeout::Abort => sys::VFIOMIG_ON_TIMEOUT_ABORT,
        }
    }
}

/// A duration in the C options' nanoseconds (0: none), saturating.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Where a transfer leaves the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Leave {
    /// A save: STOP; a load: RUNNING.
    #[default]
    Default,
    Stop,
    Running,
}

impl Leave {
    fn raw(self) -> sys::vfiomig_leave {
        match self {
            Leave::Default => sys::VFIOMIG_LEAVE_DEFAULT,
            Leave::Stop => sys::VFIOMIG_LEAVE_STOP,
            Leave::Running => sys::VFIOMIG_LEAVE_RUNNING,
        }
    }
}

/// The options of a save, as a builder:
///
/// ```
/// # use vfiomig::{Precopy, SaveOptions};
/// let cancel = vfiomig::Cancel::new();
/// let opts = SaveOptions::new()
///     .precopy(Precopy::Auto(0))
///     .dirty_threshold(256 << 10)
///     .progress(|p| eprintln!("{:?}: {} bytes", p.phase, p.bytes))
///     .cancel(&cancel);
/// ```
#[derive(Debug, Default)]
pub struct SaveOptions<'a> {
    common: Common<'a>,
    precopy: Precopy,
    dirty_threshold: u64,
    max_precopy_bytes: u64,
    downtime_limit: Duration,
    precopy_timeout: Duration,
    on_timeout: OnTimeout,
}

/// The options of a load, as a builder.
#[derive(Debug, Default)]
pub struct LoadOptions<'a> {
    common: Common<'a>,
    force: bool,
}

/// What the options of both directions have.
#[derive(Default)]
struct Common<'a> {
    raw: bool,
    leave: Leave,
    buffer_size: usize,
    progress: Option<Box<dyn FnMut(&Progress) + 'a>>,
    cancel: Option<&'a Cancel>,
}

impl<'a> std::fmt::Debug for Common<'a> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Common")
            .field("raw", &self.raw)
            .field("leave", &self.leave)
            .field("buffer_size", &self.buffer_size)
            .field("progress", &self.progress.is_some())
            .field("cancel", &self.cancel)
            .finish()
    }
}

/// The builder calls of what both directions have.
macro_rules! common_options {
    ($options:ident) => {
        impl<'a> $options<'a> {
            /// Bare device bytes, without the library's framing
            /// (docs/stream-format.md).
            pub fn raw(mut self, raw: bool) -> Self {
                self.common.raw = raw;
                self
            }
            /// Where the device is left: a save's default is STOP, a load's
            /// RUNNING.
            pub fn leave(mut self, l: Leave) -> Self {
                self.common.leave = l;
                self
            }
            /// The I/O buffer: at least 4 KiB (0: the default, 256 KiB).  A
            /// framed load always reads whole records, whatever this says.
            pub fn buffer_size(mut self, n: usize) -> Self {
                self.common.buffer_size = n;
                self
            }
            /// Called on the calling thread as the transfer goes.  It cannot
            /// reach the device being moved (the call borrows it).  A panic in
            /// it fails the call (the devices are put back as on any failure)
            /// and is then resumed.
            pub fn progress<F: FnMut(&Progress) + 'a>(mut self, f: F) -> Self {
                self.common.progress = Some(Box::new(f));
                self
            }
            /// Watch `c`: raising it ends the call with `ECANCELED`.
            pub fn cancel(mut self, c: &'a Cancel) -> Self {
                self.common.cancel = Some(c);
                self
            }
        }
    };
}

common_options!(SaveOptions);
common_options!(LoadOptions);

impl<'a> SaveOptions<'a> {
    /// The defaults: framed, no pre-copy, the device left in STOP.
    pub fn new() -> Self {
        Self::default()
    }
    pub fn precopy(mut self, p: Precopy) -> Self {
        self.precopy = p;
        self
    }
    /// Auto pre-copy switches over once the initial bytes are sent and the
    /// dirty bytes are at most this (0: the default, 1 MiB).
    pub fn dirty_threshold(mut self, bytes: u64) -> Self {
        self.dirty_threshold = bytes;
        self
    }
    /// ... or once this many pre-copy bytes moved (0: the default, twice the
    /// stop-copy size).
    pub fn max_precopy_bytes(mut self, bytes: u64) -> Self {
        self.max_precopy_bytes = bytes;
        self
    }
    /// Auto pre-copy switches over once the estimated downtime (what the
    /// device says is left, over the bandwidth pre-copy measured) is at
    /// most this, and the initial bytes are sent; it takes the place of
    /// the dirty threshold (zero: none).
    pub fn downtime_limit(mut self, limit: Duration) -> Self {
        self.downtime_limit = limit;
        self
    }
    /// Pre-copy ends this long after it began, as `on_timeout` says (zero:
    /// no deadline).  With a downtime limit too, the round and byte limits
    /// default to none.
    pub fn precopy_timeout(mut self, timeout: Duration, on_timeout: OnTimeout) -> Self {
        self.precopy_timeout = timeout;
        self.on_timeout = on_timeout;
        self
    }
}

impl<'a> LoadOptions<'a> {
    /// The defaults: framed, the identity checked, the device left RUNNING.
    pub fn new() -> Self {
        Self::default()
    }
    /// Accept a stream of another device's identity.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
}

/// What one transfer call needs around the C call: its own cancel object,
/// its figures, and its progress closure behind the panic guard.
pub(crate) struct Call<'f, 'a> {
    cancel: CallCancel,
    stats: Box<sys::vfiomig_stats>,
    progress: Option<Box<ProgressHook<'f, 'a>>>,
}

impl<'f, 'a> Call<'f, 'a> {
    fn new(
        cancel: Option<&Cancel>,
        progress: &'f mut Option<Box<dyn FnMut(&Progress) + 'a>>,
    ) -> crate::Result<Self> {
        let cancel = CallCancel::new(cancel)?;
        let progress = progress.as_deref_mut().map(|f| Box::new(ProgressHook::new(f, cancel.as_ptr())));
        Ok(Call { cancel, stats: Box::new(Stats::raw()), progress })
    }

    /// Fills the C options' callback, cancel and stats fields.
    fn wire(
        &mut self,
        progress: &mut crate::callback::ProgressFn,
        userdata: &mut *mut std::os::raw::c_void,
        stats: &mut *mut sys::vfiomig_stats,
        cancel: &mut *mut sys::vfiomig_cancel,
    ) {
        if let Some(h) = self.progress.as_mut() {
            let (f, ud) = h.c_fn();
            *progress = f;
            *userdata = ud;
        }
        *stats = &mut *self.stats;
        *cancel = self.cancel.as_ptr();
    }

    /// After the C call: its figures; a progress panic resumes here.
    pub(crate) fn finish(self) -> Stats {
        let stats = Stats::from_raw(&self.stats);
        if let Some(h) = self.progress {
            h.resume();
        }
        stats
    }
}

impl<'a> SaveOptions<'a> {
    /// The C options, and the call state they point into.
    pub(crate) fn prepare<'f>(&'f mut self) -> crate::Result<(sys::vfiomig_save_opts, Call<'f, 'a>)> {
        let (precopy, rounds) = match self.precopy {
            Precopy::Never => (sys::VFIOMIG_PRECOPY_MODE_NEVER, 0),
            Precopy::Auto(n) => (sys::VFIOMIG_PRECOPY_MODE_AUTO, n),
            Precopy::Rounds(n) => (sys::VFIOMIG_PRECOPY_MODE_ROUNDS, n),
        };
        let mut o = sys::vfiomig_save_opts {
            sz: std::mem::size_of::<sys::vfiomig_save_opts>(),
            flags: if self.common.raw { sys::VFIOMIG_XFER_RAW } else { 0 },
            precopy,
            precopy_rounds: rounds,
            precopy_dirty_threshold: self.dirty_threshold,
            precopy_max_bytes: self.max_precopy_bytes,
            downtime_limit_ns: nanos(self.downtime_limit),
            precopy_timeout_ns: nanos(self.precopy_timeout),
            on_timeout: self.on_timeout.raw(),
            leave: self.common.leave.raw(),
            buffer_size: self.common.buffer_size,
            ..Default::default()
        };
        let mut call = Call::new(self.common.cancel, &mut self.common.progress)?;
        call.wire(&mut o.progress, &mut o.userdata, &mut o.stats, &mut o.cancel);
        Ok((o, call))
    }
}

impl<'a> LoadOptions<'a> {
    pub(crate) fn prepare<'f>(&'f mut self) -> crate::Result<(sys::vfiomig_load_opts, Call<'f, 'a>)> {
        let mut flags = 0;
        if self.common.raw {
            flags |= sys::VFIOMIG_XFER_RAW;
        }
        if self.force {
            flags |= sys::VFIOMIG_XFER_FORCE;
        }
        let mut o = sys::vfiomig_load_opts {
            sz: std::mem::size_of::<sys::vfiomig_load_opts>(),
            flags,
            leave: self.common.leave.raw(),
            buffer_size: self.common.buffer_size,
            ..Default::default()
        };
        let mut call = Call::new(self.common.cancel, &mut self.common.progress)?;
        call.wire(&mut o.progress, &mut o.userdata, &mut o.stats, &mut o.cancel);
        Ok((o, call))
    }
}
