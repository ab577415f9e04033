//! The migration states and the kernel's transition rules
//! (`vfiomig/state.h`): pure functions, usable from any thread.

use std::ffi::{CStr, CString};
use std::fmt;
use std::str::FromStr;

use crate::sys;

/// A VFIO migration v2 device state.  The discriminants are the kernel's
/// `enum vfio_device_mig_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum State {
    Error = 0,
    Stop = 1,
    Running = 2,
    StopCopy = 3,
    Resuming = 4,
    RunningP2p = 5,
    PreCopy = 6,
    PreCopyP2p = 7,
}

impl State {
    /// Every state, in the kernel's order.
    pub const ALL: [State; 8] = [
        State::Error,
        State::Stop,
        State::Running,
        State::StopCopy,
        State::Resuming,
        State::RunningP2p,
        State::PreCopy,
        State::PreCopyP2p,
    ];

    /// The state of a kernel number; `None` for one this library does not
    /// know (a newer kernel's).
    pub fn from_raw(raw: u32) -> Option<State> {
        State::ALL.get(raw as usize).copied()
    }

    /// The canonical name: `"RUNNING"`, `"PRE_COPY_P2P"`, ...
    pub fn name(self) -> &'static str {
        // SAFETY: every State is defined, so the library returns one of its
        // static strings.
        unsafe { CStr::from_ptr(sys::vfiomig_state_name(self as u32)) }
            .to_str()
            .unwrap_or("?")
    }

    /// Whether the kernel hands out a new data fd on the single arc
    /// `self -> to` (STOP -> STOP_COPY, RUNNING -> PRE_COPY,
    /// RUNNING_P2P -> PRE_COPY_P2P, STOP -> RESUMING).
    pub fn arc_opens_fd(self, to: State) -> bool {
        // SAFETY: a pure function of two integers.
        unsafe { sys::vfiomig_fsm_arc_opens_fd(self as u32, to as u32) == 1 }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseStateError(String);

impl fmt::Display for ParseStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\"{}\" names no migration state: use one of ERROR, STOP, RUNNING, STOP_COPY, \
             RESUMING, RUNNING_P2P, PRE_COPY, PRE_COPY_P2P",
            self.0
        )
    }
}

impl std::error::Error for ParseStateError {}

impl FromStr for State {
    type Err = ParseStateError;

    /// Case-insensitive, with `-` for `_` accepted (`"pre-copy-p2p"`).
    fn from_str(s: &str) -> Result<State, ParseStateError> {
        let err = || ParseStateError(s.to_string());
        let c = CString::new(s).map_err(|_| err())?;
        let mut raw: sys::vfiomig_state = 0;
        // SAFETY: c is a valid C string and raw a valid out-pointer.
        if unsafe { sys::vfiomig_state_parse(c.as_ptr(), &mut raw) } < 0 {
            return Err(err());
        }
        State::from_raw(raw).ok_or_else(err)
    }
}

/// A device's migration capability flags (`VFIO_DEVICE_FEATURE_MIGRATION`),
/// with any bits a newer kernel defines kept as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct MigFlags(pub u64);

impl MigFlags {
    pub const STOP_COPY: MigFlags = MigFlags(sys::VFIOMIG_MIG_STOP_COPY as u64);
    pub const P2P: MigFlags = MigFlags(sys::VFIOMIG_MIG_P2P as u64);
    pub const PRE_COPY: MigFlags = MigFlags(sys::VFIOMIG_MIG_PRE_COPY as u64);

    /// Whether every bit of `other` is set here.
    pub fn contains(self, other: MigFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for MigFlags {
    type Output = MigFlags;
    fn bitor(self, o: MigFlags) -> MigFlags {
        MigFlags(self.0 | o.0)
    }
}

/// Why the kernel would refuse a path (`vfiomig_fsm_next()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// The arc is not allowed on a device with these flags.
    NotAllowed,
    /// The flags lack STOP_COPY, which every migratable device has.
    NoStopCopy,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAllowed => "the kernel allows no such path on a device with these flags",
            PathError::NoStopCopy => "the flags lack STOP_COPY: no migratable device has them",
        })
    }
}

impl std::error::Error for PathError {}

/// Every state the kernel passes through from `from` to `to` (`to` last;
/// empty when they are equal), on a device with `flags`.
pub fn path(flags: MigFlags, from: State, to: State) -> Result<Vec<State>, PathError> {
    let mut hops = [0 as sys::vfiomig_state; 16];
    // SAFETY: hops has room for hops.len() states.
    let n = unsafe {
        sys::vfiomig_fsm_path(flags.0, from as u32, to as u32, hops.as_mut_ptr(), hops.len())
    };
    match n {
        n if n >= 0 => Ok(hops[..n as usize].iter().filter_map(|&s| State::from_raw(s)).collect()),
        n if n == -libc::EOPNOTSUPP => Err(PathError::NoStopCopy),
        _ => Err(PathError::NotAllowed),
    }
}
