//! Device groups (`vfiomig/group.h`): devices that may DMA into each
//! other are quiesced together (a P2P state) before any stops, and loaded
//! together before any runs, with a hook between the two phases.

use std::cell::Cell;
use std::io;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};
use std::os::unix::io::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::time::Duration;

use crate::callback::Caught;
use crate::ctx::Ctx;
use crate::device::Device;
use crate::error::{check, DeviceOutcome, Error, Result};
use crate::state::State;
use crate::sys;
use crate::xfer::{LoadOptions, SaveOptions, Stats};

/// Where a group transition calls its hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupPoint {
    /// Every member is in a P2P state and none has stopped yet: no peer can
    /// write to a member any more.  A VMM stops its vCPUs here.
    Quiesced,
    /// Every member is loaded and in a P2P state, and none runs yet.  A VMM
    /// starts its vCPUs after the call returns.
    Ready,
}

impl std::fmt::Display for GroupPoint {
    /// `QUIESCED` or `READY`, as the C names say.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GroupPoint::Quiesced => "QUIESCED",
            GroupPoint::Ready => "READY",
        })
    }
}

/// How one member fared in the group's last call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberResult {
    pub device: String,
    /// 0, or the errno of this member's own failure.
    pub errno: i32,
    /// Where it is after the call, if that could be read.
    pub state: Option<State>,
    pub precopy_bytes: u64,
    pub stop_copy_bytes: u64,
    pub precopy_rounds: u32,
    pub downtime: Duration,
    /// A load: the stream device it took; a save: its own index.
    pub stream_device: i32,
    /// A save that ran pre-copy rounds: its own estimated downtime at the
    /// group's switchover, if one was possible.
    pub downtime_estimate: Option<Duration>,
    /// The bandwidth of its pre-copy, bytes a second.
    pub precopy_bandwidth: Option<u64>,
}

/// A group of devices moved together.
///
/// Like a [`Device`], a group is driven by one thread at a time (`&mut
/// self`), is `Send` and not `Sync`.  It owns its members: a device added
/// to a group can be reached only through it, so no other thread can
/// drive a member while the group moves it, and the hook, which gets the
/// members as `&[Device]`, can query them but not drive them.
///
/// ```compile_fail
/// // The hook cannot drive a member: it only gets `&[Device]`.
/// fn hook_drives(g: &mut vfiomig::Group) {
///     let _ = g.with_hook(|_, members: &[vfiomig::Device]| {
///         members[0].set_state(vfiomig::State::Stop).map(|_| ()).map_err(Into::into)
///     }).set_state(vfiomig::State::Stop);
/// }
/// ```
///
/// ```compile_fail
/// // Nor can it reach the group it is the hook of.
/// fn hook_reenters(g: &mut vfiomig::Group) {
///     let mut h = g.with_hook(|_, _: &[vfiomig::Device]| Ok(()));
///     let _ = h.set_state(vfiomig::State::Stop);
///     let _ = g.set_state(vfiomig::State::Running);
///     let _ = h.set_state(vfiomig::State::Running);
/// }
/// ```
pub struct Group {
    raw: NonNull<sys::vfiomig_group>,
    ctx: Ctx,
    members: Vec<Device>,
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: a group may be driven from any thread, one at a time (`&mut`).
unsafe impl Send for Group {}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: our reference; the members' Rust handles drop after it.
        unsafe { sys::vfiomig_group_unref(self.raw.as_ptr()) };
    }
}

/// A device the group refused, handed back with the reason.
#[derive(Debug)]
pub struct AddError {
    pub error: Error,
    pub device: Device,
}

impl std::fmt::Display for AddError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for AddError {}

impl From<AddError> for Error {
    fn from(e: AddError) -> Error {
        e.error
    }
}

/// The hook of one group call, as C calls it.
struct HookCall<'h> {
    f: &'h mut dyn FnMut(GroupPoint, &[Device]) -> io::Result<()>,
    members: *const [Device],
    caught: Caught,
    error: Option<io::Error>,
}

unsafe extern "C" fn hook_trampoline(ud: *mut c_void, _g: *mut sys::vfiomig_group, point: sys::vfiomig_group_point) -> c_int {
    // SAFETY: ud is the HookCall of the group call running on this thread
    // (the hook comes on the calling thread), and its members outlive it.
    let h = &mut *(ud as *mut HookCall<'_>);
    let members = &*h.members;
    let point = if point == sys::VFIOMIG_GROUP_READY { GroupPoint::Ready } else { GroupPoint::Quiesced };
    let f = &mut h.f;
    match h.caught.run(|| f(point, members)) {
        Some(Ok(())) => 0,
        Some(Err(e)) => {
            let n = e.raw_os_error().filter(|&n| n > 0).unwrap_or(libc::ECANCELED);
            h.error = Some(e);
            -n
        }
        None => -libc::ECANCELED,
    }
}

type Hook<'h> = Option<&'h mut dyn FnMut(GroupPoint, &[Device]) -> io::Result<()>>;

impl Group {
    /// An empty group; members without P2P states are refused in a group
    /// of several (see [`Group::allowing_no_p2p`]).
    pub fn new(ctx: &Ctx) -> Result<Group> {
        Group::with_flags(ctx, 0)
    }

    /// An empty group that accepts members without P2P states: such a
    /// member stops while a peer may still DMA into it.
    pub fn allowing_no_p2p(ctx: &Ctx) -> Result<Group> {
        Group::with_flags(ctx, sys::VFIOMIG_GROUP_ALLOW_NO_P2P)
    }

    fn with_flags(ctx: &Ctx, flags: u32) -> Result<Group> {
        let mut p = std::ptr::null_mut();
        // SAFETY: a valid out-pointer.
        let r = unsafe { sys::vfiomig_group_new(ctx.raw(), flags, &mut p) };
        check(ctx.raw(), r)?;
        let raw = NonNull::new(p).ok_or_else(|| Error::from_errno(libc::EIO, "libvfiomig returned no group"))?;
        Ok(Group { raw, ctx: ctx.clone(), members: Vec::new(), _not_sync: PhantomData })
    }

    /// Append a device (of this group's context): the group's order is
    /// the order of results and of a group stream's devices.  A device
    /// already in the group, through any handle, is refused and handed back.
    pub fn add(&mut self, dev: Device) -> std::result::Result<(), AddError> {
        // SAFETY: both live; the group takes a C reference of its own.
        let r = unsafe { sys::vfiomig_group_add(self.raw.as_ptr(), dev.raw()) };
        if r < 0 {
            return Err(AddError { error: Error::last(self.ctx.raw(), r), device: dev });
        }
        self.members.push(dev);
        Ok(())
    }

    pub(crate) fn raw_parts(&self) -> (*mut sys::vfiomig_group, Ctx) {
        (self.raw.as_ptr(), self.ctx.clone())
    }

    /// The members, in the group's order.
    pub fn members(&self) -> &[Device] {
        &self.members
    }

    /// One member, to drive on its own between group calls.
    pub fn member_mut(&mut self, index: usize) -> Option<&mut Device> {
        self.members.get_mut(index)
    }

    /// The members back; the group ends.
    pub fn into_members(mut self) -> Vec<Device> {
        std::mem::take(&mut self.members)
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// How member `index` fared in the last group call.
    pub fn result(&self, index: usize) -> Result<MemberResult> {
        let mut r = sys::vfiomig_group_result { sz: std::mem::size_of::<sys::vfiomig_group_result>(), ..Default::default() };
        let dev = self.members.get(index).ok_or_else(|| Error::from_errno(libc::EINVAL, "no such member"))?;
        // SAFETY: a query with a valid, sized out-struct.
        let rc = unsafe { sys::vfiomig_group_get_result(self.raw.as_ptr(), index as u32, &mut r) };
        check(self.ctx.raw(), rc)?;
        Ok(MemberResult {
            device: dev.name().to_string(),
            errno: r.err,
            state: if r.has_state != 0 { State::from_raw(r.state) } else { None },
            precopy_bytes: r.precopy_bytes,
            stop_copy_bytes: r.stop_copy_bytes,
            precopy_rounds: r.precopy_rounds,
            downtime: Duration::from_nanos(r.downtime_ns),
            stream_device: r.stream_device,
            downtime_estimate: crate::xfer::estimate(r.precopy_rounds, r.downtime_estimate_ns),
            precopy_bandwidth: (r.precopy_bandwidth != 0).then(|| r.precopy_bandwidth),
        })
    }

    /// Every member's result, in the group's order.
    pub fn results(&self) -> Result<Vec<MemberResult>> {
        (0..self.members.len()).map(|i| self.result(i)).collect()
    }

    /// A builder of calls that run `hook` between their two phases (at
    /// [`GroupPoint::Quiesced`] and [`GroupPoint::Ready`]).  An `Err` from
    /// the hook aborts the transition: every member goes back where it
    /// started, and the call fails with the hook's errno (`ECANCELED` if it
    /// has none), the hook's error as its `source()`.  A panic in it does
    /// the same, then resumes.
    pub fn with_hook<F>(&mut self, hook: F) -> Hooked<'_, F>
    where
        F: FnMut(GroupPoint, &[Device]) -> io::Result<()>,
    {
        Hooked { group: self, hook }
    }

    /// Move every member to `target`, in two phases where a running
    /// boundary is crossed; each member's new data fd, where its final arc
    /// opens one.
    pub fn set_state(&mut self, target: State) -> Result<Vec<Option<OwnedFd>>> {
        self.do_set_state(target, None)
    }

    /// Save every member, concurrently: into one stream of the whole group
    /// (one fd), or one stream per member (as many fds as members).
    pub fn save(&mut self, out: &[BorrowedFd<'_>], opts: SaveOptions<'_>) -> Result<Stats> {
        self.do_save(out, opts, None)
    }

    /// Load a group's stream (one fd) or a stream per member.
    pub fn load(&mut self, input: &[BorrowedFd<'_>], opts: LoadOptions<'_>) -> Result<Stats> {
        self.do_load(input, opts, None)
    }

    /// Runs `op` on the group with `hook` installed, and turns a failure
    /// into an [`Error`] with every member's outcome.
    fn run(&mut self, hook: Hook<'_>, op: impl FnOnce(*mut sys::vfiomig_group) -> c_int) -> Result<c_int> {
        let g = self.raw.as_ptr();
        let mut call = hook.map(|f| HookCall { f, members: self.members.as_slice(), caught: Caught::default(), error: None });
        if let Some(h) = call.as_mut() {
            // SAFETY: h stays put until the hook is removed below.
            unsafe { sys::vfiomig_group_set_hook(g, Some(hook_trampoline), h as *mut HookCall<'_> as *mut c_void) };
        }
        let r = op(g);
        // The failure's account first: it is the thread's until its next call.
        let err = (r < 0).then(|| Error::last(self.ctx.raw(), r));
        if call.is_some() {
            // SAFETY: removing the hook; no call is running.
            unsafe { sys::vfiomig_group_set_hook(g, None, std::ptr::null_mut()) };
        }
        let hook_error = call.and_then(|h| {
            h.caught.resume();
            h.error
        });
        match err {
            None => Ok(r),
            Some(mut e) => {
                let outcomes = self.results().map(|rs| {
                    rs.into_iter().map(|m| DeviceOutcome { device: m.device, state: m.state, errno: m.errno }).collect()
                });
                if let Ok(o) = outcomes {
                    e = e.with_outcomes(o);
                }
                if let Some(he) = hook_error {
                    e = e.with_source(he);
                }
                Err(e)
            }
        }
    }

    fn do_set_state(&mut self, target: State, hook: Hook<'_>) -> Result<Vec<Option<OwnedFd>>> {
        let mut fds: Vec<RawFd> = vec![-1; self.members.len()];
        let p = fds.as_mut_ptr();
        // SAFETY: fds has one slot per member.
        self.run(hook, |g| unsafe { sys::vfiomig_group_set_state(g, target as u32, p) })?;
        // SAFETY: the library hands each new data fd over.
        Ok(fds.into_iter().map(|fd| (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })).collect())
    }

    fn do_save(&mut self, out: &[BorrowedFd<'_>], mut opts: SaveOptions<'_>, hook: Hook<'_>) -> Result<Stats> {
        let fds: Vec<RawFd> = out.iter().map(|f| f.as_raw_fd()).collect();
        let (o, call) = opts.prepare()?;
        // SAFETY: o points into `call`; the fds are borrowed for the call.
        let r = self.run(hook, |g| unsafe { sys::vfiomig_group_save(g, fds.as_ptr(), fds.len() as u32, &o) });
        let stats = call.finish();
        r.map(|_| stats).map_err(|e| e.with_stats(stats))
    }

    fn do_load(&mut self, input: &[BorrowedFd<'_>], mut opts: LoadOptions<'_>, hook: Hook<'_>) -> Result<Stats> {
        let fds: Vec<RawFd> = input.iter().map(|f| f.as_raw_fd()).collect();
        let (o, call) = opts.prepare()?;
        // SAFETY: as for do_save().
        let r = self.run(hook, |g| unsafe { sys::vfiomig_group_load(g, fds.as_ptr(), fds.len() as u32, &o) });
        let stats = call.finish();
        r.map(|_| stats).map_err(|e| e.with_stats(stats))
    }
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").field("members", &self.members).finish()
    }
}

impl<'g, F> std::fmt::Debug for Hooked<'g, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooked").field("group", &self.group).finish()
    }
}

/// A group with a hook for its next calls ([`Group::with_hook`]).
pub struct Hooked<'g, F> {
    group: &'g mut Group,
    hook: F,
}

impl<'g, F> Hooked<'g, F>
where
    F: FnMut(GroupPoint, &[Device]) -> io::Result<()>,
{
    /// [`Group::set_state`] with the hook.
    pub fn set_state(&mut self, target: State) -> Result<Vec<Option<OwnedFd>>> {
        self.group.do_set_state(target, Some(&mut self.hook))
    }

    /// [`Group::save`] with the hook (at the switchover).
    pub fn save(&mut self, out: &[BorrowedFd<'_>], opts: SaveOptions<'_>) -> Result<Stats> {
        self.group.do_save(out, opts, Some(&mut self.hook))
    }

    /// [`Group::load`] with the hook (at READY, and at QUIESCED if members
    /// run when it begins).
    pub fn load(&mut self, input: &[BorrowedFd<'_>], opts: LoadOptions<'_>) -> Result<Stats> {
        self.group.do_load(input, opts, Some(&mut self.hook))
    }
}
