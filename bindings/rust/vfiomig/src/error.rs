//! The one error type: what the library said about a failed call, as data.

use std::ffi::CStr;
use std::fmt;
use std::io;
use std::os::raw::{c_char, c_int};

use crate::state::State;
use crate::sys;
use crate::xfer::Stats;

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Where one device of a failed call is afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceOutcome {
    /// The device's canonical name (`"0000:3b:00.1"`, `"mock:a"`, ...).
    pub device: String,
    /// The state it is in after the call, after any rollback or reset;
    /// `None` where it could not be read (another call had the device).
    pub state: Option<State>,
    /// For a group member: its own failure's errno, 0 if it did not fail.
    pub errno: i32,
}

/// A failed call: the errno, the library's sentence (what went wrong and
/// what to do), and where each device it moved is now.
///
/// It is read from `vfiomig_ctx_get_error_info()` on the failing thread
/// before the call returns, so it is the call's own.  It converts into an
/// [`io::Error`] of the errno's kind that keeps it inside.
#[derive(Debug)]
pub struct Error {
    errno: i32,
    message: String,
    device: Option<String>,
    outcomes: Vec<DeviceOutcome>,
    stream_offset: Option<u64>,
    first_data_rejected: bool,
    bad_spec: bool,
    stats: Option<Stats>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

pub(crate) fn cstr(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the library returns NUL-terminated strings that live at least
    // until the thread's next call, and they are copied here.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

impl Error {
    /// An error the library did not describe (a Rust-side check, or a C
    /// call that leaves no sentence).
    pub(crate) fn from_errno(errno: i32, what: &str) -> Error {
        let os = io::Error::from_raw_os_error(errno);
        Error {
            errno,
            message: format!("{}: {}", what, os),
            device: None,
            outcomes: Vec::new(),
            stream_offset: None,
            first_data_rejected: false,
            bad_spec: false,
            stats: None,
            source: None,
        }
    }

    /// The calling thread's account of the call on `ctx` that just returned
    /// `r` (< 0).  Must run on the failing thread before its next call on
    /// `ctx`.
    pub(crate) fn last(ctx: *mut sys::vfiomig_ctx, r: c_int) -> Error {
        let errno = -r;
        let mut info = sys::vfiomig_error {
            sz: std::mem::size_of::<sys::vfiomig_error>(),
            ..Default::default()
        };
        // SAFETY: ctx is a live context and info a valid, sized out-struct.
        let have = unsafe { sys::vfiomig_ctx_get_error_info(ctx, &mut info) } == 0;
        if !have || info.err != errno {
            return Error::from_errno(errno, "libvfiomig");
        }
        let device = cstr(info.device);
        let state = if info.has_state != 0 { State::from_raw(info.state) } else { None };
        let outcomes = match &device {
            Some(d) => vec![DeviceOutcome { device: d.clone(), state, errno }],
            None => Vec::new(),
        };
        Error {
            errno,
            message: cstr(info.message).unwrap_or_default(),
            device,
            outcomes,
            stream_offset: (info.stream_offset != u64::MAX).then(|| info.stream_offset),
            first_data_rejected: info.first_data_rejected != 0,
            bad_spec: info.bad_spec != 0,
            stats: None,
            source: None,
        }
    }

    pub(crate) fn with_outcomes(mut self, outcomes: Vec<DeviceOutcome>) -> Error {
        self.outcomes = outcomes;
        self
    }

    pub(crate) fn with_stats(mut self, stats: Stats) -> Error {
        if self.stream_offset.is_none() && stats.error_offset.is_some() {
            self.stream_offset = stats.error_offset;
        }
        self.stats = Some(stats);
        self
    }

    pub(crate) fn with_source(mut self, e: io::Error) -> Error {
        self.source = Some(Box::new(e));
        self
    }

    /// The errno of the failure (positive): `ECANCELED`, `EBADMSG`, ...
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// The library's sentence: what went wrong, and what to do.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The device that failed, where the library named one.
    pub fn device(&self) -> Option<&str> {
        self.device.as_deref()
    }

    /// Where each device of the call is afterwards: the failing device for
    /// a device call, every member in the group's order for a group call.
    pub fn outcomes(&self) -> &[DeviceOutcome] {
        &self.outcomes
    }

    /// The state the failing device is in after the call, if it was read.
    pub fn state(&self) -> Option<State> {
        match &self.device {
            Some(d) => self.outcomes.iter().find(|o| &o.device == d).and_then(|o| o.state),
            None => None,
        }
    }

    /// For a transfer: where in the stream the failure was found (a load)
    /// or where writing it failed (a save).
    pub fn stream_offset(&self) -> Option<u64> {
        self.stream_offset
    }

    /// A load whose device rejected the stream's very first data: the
    /// stream is intact, but most likely from an incompatible device.
    pub fn first_data_rejected(&self) -> bool {
        self.first_data_rejected
    }

    /// An open that failed because the device spec itself is malformed.
    pub fn bad_spec(&self) -> bool {
        self.bad_spec
    }

    /// For a transfer: what had moved when it failed.
    pub fn stats(&self) -> Option<&Stats> {
        self.stats.as_ref()
    }

    /// The kind of [`io::Error`] this errno is.
    pub fn kind(&self) -> io::ErrorKind {
        io::Error::from_raw_os_error(self.errno).kind()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    /// A group hook's own error, when the hook refused a phase.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| &**e as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for io::Error {
    /// An `io::Error` of the errno's kind that carries the whole [`Error`]
    /// (`get_ref()`, `into_inner()` and a downcast give it back).
    fn from(e: Error) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

/// `r` as a result: the call's own account of a negative `r`.
pub(crate) fn check(ctx: *mut sys::vfiomig_ctx, r: c_int) -> Result<c_int> {
    if r < 0 {
        Err(Error::last(ctx, r))
    } else {
        Ok(r)
    }
}
