//! The mock device (libvfiomig-mock), for a VMM's own tests: an
//! in-process double of a kernel migration driver that behaves as the
//! kernel does (docs/mock.md lists its keys).  Behind the `mock` feature,
//! which links libvfiomig-mock.
//!
//! ```
//! let ctx = vfiomig::mock::context()?;
//! let mut dev = vfiomig::Device::open(&ctx, "mock:a,size=4096")?;
//! assert_eq!(dev.state()?, vfiomig::State::Running);
//! dev.set_state(vfiomig::State::Stop)?;
//! // RUNNING -> RUNNING_P2P -> STOP: the kernel's path, arc by arc
//! let arcs = vfiomig::mock::journal(&ctx);
//! assert_eq!(arcs.len(), 2);
//! assert_eq!(arcs[1].to, Some(vfiomig::State::Stop));
//! # Ok::<(), vfiomig::Error>(())
//! ```

use std::ffi::CStr;

use crate::ctx::Ctx;
use crate::device::Device;
use crate::error::{check, Result};
use crate::state::State;
use crate::sys;

/// A new context on which `"mock:NAME[,key=value...]"` opens mock devices
/// (and real devices open as ever).  Each context has mocks of its own.
pub fn context() -> Result<Ctx> {
    let ctx = Ctx::new()?;
    // SAFETY: a new context that no other thread has seen yet, which is
    // when the mock must be attached.
    let r = unsafe { sys::vfiomig_mock_attach(ctx.raw()) };
    check(ctx.raw(), r)?;
    Ok(ctx)
}

/// The mock devices alive in `ctx`.
pub fn count(ctx: &Ctx) -> u32 {
    // SAFETY: a query of a live context.
    unsafe { sys::vfiomig_mock_count(ctx.raw()) }
}

/// One arc a mock completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arc {
    /// `"mock:NAME"`.
    pub device: String,
    pub from: Option<State>,
    pub to: Option<State>,
    /// CLOCK_MONOTONIC: when the arc's command began and ended.
    pub begin_ns: u64,
    pub end_ns: u64,
}

/// The arcs every mock of `ctx` completed, oldest first (the newest 4096):
/// the order of arcs across devices, for tests of a group's phases.
pub fn journal(ctx: &Ctx) -> Vec<Arc> {
    let max = sys::VFIOMIG_MOCK_JOURNAL_MAX as usize;
    let mut v: Vec<sys::vfiomig_mock_arc> = vec![Default::default(); max];
    // SAFETY: v has room for max entries.
    let n = unsafe { sys::vfiomig_mock_journal(ctx.raw(), v.as_mut_ptr(), max) }.min(max);
    v.truncate(n);
    v.iter()
        .map(|a| Arc {
            // SAFETY: the library NUL-terminates the name inside the array.
            device: unsafe { CStr::from_ptr(a.device.as_ptr()) }.to_string_lossy().into_owned(),
            from: State::from_raw(a.from),
            to: State::from_raw(a.to),
            begin_ns: a.begin_ns,
            end_ns: a.end_ns,
        })
        .collect()
}

/// Forget the journal's arcs so far.
pub fn journal_clear(ctx: &Ctx) {
    // SAFETY: a live context.
    unsafe { sys::vfiomig_mock_journal_clear(ctx.raw()) };
}

/// The mock device writes `[iova, iova + len)` by DMA now (for tests of
/// dirty tracking: drive it through [`DirtySession::get_mut`](crate::DirtySession::get_mut)
/// while a session runs).
pub fn dma(dev: &mut Device, iova: u64, len: u64) -> Result<()> {
    // SAFETY: a live device.
    let r = unsafe { sys::vfiomig_mock_dma(dev.raw(), iova, len) };
    check(dev.ctx().raw(), r).map(|_| ())
}
