//! One VFIO device and its migration state machine (`vfiomig/dev.h`).

use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;

use crate::ctx::Ctx;
use crate::error::{check, Error, Result};
use crate::state::{MigFlags, State};
use crate::sys;
use crate::xfer::{Call, LoadOptions, SaveOptions, Stats};

/// A device's PCI identity, from sysfs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PciIds {
    pub vendor: u16,
    pub device: u16,
    pub subsystem_vendor: u16,
    pub subsystem_device: u16,
    pub revision: u8,
}

/// Optional device capabilities, probed when the device opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Caps(pub u32);

impl Caps {
    /// `VFIO_DEVICE_FEATURE_MIG_DATA_SIZE`.
    pub const MIG_DATA_SIZE: Caps = Caps(sys::VFIOMIG_CAP_MIG_DATA_SIZE);
    /// `VFIO_DEVICE_FEATURE_DMA_LOGGING_*`.
    pub const DMA_LOGGING: Caps = Caps(sys::VFIOMIG_CAP_DMA_LOGGING);
    /// `VFIO_DEVICE_FLAGS_RESET`.
    pub const RESET_ADVERTISED: Caps = Caps(sys::VFIOMIG_CAP_RESET_ADVERTISED);
    /// `MIG_PRECOPY_INFOv2` (Linux 7.1).
    pub const PRECOPY_INFO_V2: Caps = Caps(sys::VFIOMIG_CAP_PRECOPY_INFO_V2);

    pub fn contains(self, other: Caps) -> bool {
        self.0 & other.0 == other.0
    }
}

/// A device's pre-copy counters (`VFIO_MIG_GET_PRECOPY_INFO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrecopyInfo {
    pub initial_bytes: u64,
    pub dirty_bytes: u64,
    /// The device started its initial bytes over (after
    /// [`Device::enable_precopy_reinit`]).
    pub reinit: bool,
}

/// One VFIO device, opened or adopted.
///
/// The C rule is that one device is driven by one thread at a time; here
/// every call that drives it takes `&mut self`, and a `Device` is not
/// `Clone`, so two threads cannot drive it at once: sharing it needs a
/// `Mutex`, which serialises them.  It is `Send` (move it to the thread
/// that drives it) but not `Sync`: its queries ([`state`](Device::state)
/// and [`stop_copy_size`](Device::stop_copy_size)) are calls that the
/// library would refuse from a second thread while a first one drives it.
///
/// ```compile_fail
/// // Two threads cannot drive one device: set_state() needs `&mut`.
/// fn two_threads(dev: &mut vfiomig::Device) {
///     std::thread::scope(|s| {
///         s.spawn(|| dev.set_state(vfiomig::State::Stop));
///         s.spawn(|| dev.set_state(vfiomig::State::Running));
///     });
/// }
/// ```
///
/// ```compile_fail
/// // Nor query it from one while another drives it: a Device is not Sync.
/// fn query_while_driving(dev: &vfiomig::Device) {
///     std::thread::scope(|s| {
///         s.spawn(|| dev.state());
///     });
/// }
/// ```
///
/// ```no_run
/// // Behind a Mutex, one thread at a time, it may be shared: this compiles.
/// fn shared(dev: vfiomig::Device) {
///     let dev = std::sync::Mutex::new(dev);
///     std::thread::scope(|s| {
///         s.spawn(|| dev.lock().unwrap().set_state(vfiomig::State::Stop));
///         s.spawn(|| dev.lock().unwrap().set_state(vfiomig::State::Running));
///     });
/// }
/// ```
///
/// ```compile_fail
/// // A Device is no Clone: a second handle would be a second driver.
/// fn second_handle(dev: &vfiomig::Device) -> vfiomig::Device {
///     dev.clone()
/// }
/// ```
pub struct Device {
    raw: NonNull<sys::vfiomig_dev>,
    ctx: Ctx,
    /// An adopted fd the caller handed over: closed after the library let
    /// go of the device (the library never closes an adopted fd itself).
    _adopted: Option<OwnedFd>,
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: a device may be driven from any thread, one at a time, which
// `&mut self` guarantees; reference counting is thread-safe.
unsafe impl Send for Device {}

impl Drop for Device {
    fn drop(&mut self) {
        // SAFETY: our own reference; an adopted fd closes after it.
        unsafe { sys::vfiomig_dev_unref(self.raw.as_ptr()) };
    }
}

fn new_device(ctx: &Ctx, r: i32, p: *mut sys::vfiomig_dev, adopted: Option<OwnedFd>) -> Result<Device> {
    check(ctx.raw(), r)?;
    let raw = NonNull::new(p).ok_or_else(|| Error::from_errno(libc::EIO, "libvfiomig returned no device"))?;
    Ok(Device { raw, ctx: ctx.clone(), _adopted: adopted, _not_sync: PhantomData })
}

impl Device {
    /// Open a device: a PCI address (`"0000:3b:00.1"`), an mdev UUID, a
    /// VFIO cdev (`"/dev/vfio/devices/vfio3"`), a sysfs path, or, on a
    /// context with the mock, `"mock:NAME[,key=value...]"`.
    pub fn open(ctx: &Ctx, spec: &str) -> Result<Device> {
        let c = CString::new(spec).map_err(|_| Error::from_errno(libc::EINVAL, "a device spec with a NUL byte"))?;
        let mut p = std::ptr::null_mut();
        // SAFETY: a live context, a C string, a valid out-pointer.
        let r = unsafe { sys::vfiomig_dev_open(ctx.raw(), c.as_ptr(), &mut p) };
        new_device(ctx, r, p, None)
    }

    /// Adopt a device fd the VMM hands over (a legacy group's device fd,
    /// or a cdev bound to an iommufd): it is closed when the `Device` is
    /// dropped, after the library let go of it.  If the library refuses it (no VFIO
    /// device, no migration support), the fd is closed with the error; a
    /// VMM that wants it back either way uses [`Device::adopt_borrowed`].
    pub fn adopt(ctx: &Ctx, fd: OwnedFd) -> Result<Device> {
        let mut p = std::ptr::null_mut();
        // SAFETY: fd is open for the whole life of the device (it is kept).
        let r = unsafe { sys::vfiomig_dev_adopt(ctx.raw(), fd.as_raw_fd(), &mut p) };
        new_device(ctx, r, p, Some(fd))
    }

    /// Adopt a device fd the VMM keeps: the library works on a duplicate
    /// (the same open device file), which the `Device` closes, so that the
    /// VMM's fd stays open and its own.  This is cloud-hypervisor's case,
    /// whose `VfioDevice` already holds the device fd.
    pub fn adopt_borrowed(ctx: &Ctx, fd: BorrowedFd<'_>) -> Result<Device> {
        // F_DUPFD_CLOEXEC: every fd of the library is close-on-exec.
        // SAFETY: fcntl on a borrowed, open fd.
        let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
        if dup < 0 {
            let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EBADF);
            return Err(Error::from_errno(e, "cannot duplicate the device fd"));
        }
        // SAFETY: dup is a new fd that nothing else owns.
        Device::adopt(ctx, unsafe { OwnedFd::from_raw_fd(dup) })
    }

    pub(crate) fn raw(&self) -> *mut sys::vfiomig_dev {
        self.raw.as_ptr()
    }

    pub(crate) fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    fn check(&self, r: i32) -> Result<i32> {
        check(self.ctx.raw(), r)
    }

    fn c_str(&self, p: *const std::os::raw::c_char) -> Option<&str> {
        // SAFETY: the accessors' strings are static or live while the device.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("?"))
    }

    /// The canonical name: `"0000:3b:00.1"`, a UUID, `"vfio3"`, `"mock:NAME"`,
    /// or `"fd:N"` for an adopted fd of unknown origin.
    pub fn name(&self) -> &str {
        // SAFETY: an accessor, safe from any thread.
        self.c_str(unsafe { sys::vfiomig_dev_get_name(self.raw()) }).unwrap_or("?")
    }

    /// The device fd, borrowed from the device.
    pub fn as_raw_fd(&self) -> RawFd {
        // SAFETY: an accessor.
        unsafe { sys::vfiomig_dev_get_fd(self.raw()) }
    }

    /// `"vfio-group"`, `"vfio-cdev"`, `"adopted"` or `"mock"`.
    pub fn transport(&self) -> &str {
        // SAFETY: an accessor.
        self.c_str(unsafe { sys::vfiomig_dev_get_transport(self.raw()) }).unwrap_or("?")
    }

    /// The kernel driver bound to it, where known.
    pub fn driver(&self) -> Option<&str> {
        // SAFETY: an accessor.
        self.c_str(unsafe { sys::vfiomig_dev_get_driver(self.raw()) })
    }

    /// The backend that understands its data stream: `"mlx5"`, `"generic"`, `"mock"`.
    pub fn backend(&self) -> &str {
        // SAFETY: an accessor.
        self.c_str(unsafe { sys::vfiomig_dev_get_backend(self.raw()) }).unwrap_or("?")
    }

    /// Its PCI identity; `None` for an mdev, or where it is unknown.
    pub fn pci_ids(&self) -> Option<PciIds> {
        let mut i = PciIds { vendor: 0, device: 0, subsystem_vendor: 0, subsystem_device: 0, revision: 0 };
        // SAFETY: an accessor with valid out-pointers.
        let r = unsafe {
            sys::vfiomig_dev_get_pci_ids(
                self.raw(),
                &mut i.vendor,
                &mut i.device,
                &mut i.subsystem_vendor,
                &mut i.subsystem_device,
                &mut i.revision,
            )
        };
        (r == 0).then(|| i)
    }

    /// The migration flags read when it opened.
    pub fn mig_flags(&self) -> MigFlags {
        let mut f = 0u64;
        // SAFETY: an accessor.
        unsafe { sys::vfiomig_dev_get_mig_flags(self.raw(), &mut f) };
        MigFlags(f)
    }

    /// Its optional capabilities.
    pub fn caps(&self) -> Caps {
        let mut c = 0u32;
        // SAFETY: an accessor.
        unsafe { sys::vfiomig_dev_get_caps(self.raw(), &mut c) };
        Caps(c)
    }

    /// Whether `other` drives the same device (another spec, an adopted fd
    /// of it, a second open).
    pub fn is_same(&self, other: &Device) -> bool {
        // SAFETY: a query of two live devices.
        unsafe { sys::vfiomig_dev_is_same(self.raw(), other.raw()) == 1 }
    }

    /// Ask the kernel for the device's state.  A query: allowed from a
    /// group's hook.
    pub fn state(&self) -> Result<State> {
        let mut s: sys::vfiomig_state = 0;
        // SAFETY: a valid out-pointer; `&self` of a !Sync device is this thread's.
        let r = unsafe { sys::vfiomig_dev_get_state(self.raw(), &mut s) };
        self.check(r)?;
        State::from_raw(s).ok_or_else(|| Error::from_errno(libc::EPROTO, "a state the library does not know"))
    }

    /// The estimated STOP_COPY stream length (`MIG_DATA_SIZE`).  A query.
    pub fn stop_copy_size(&self) -> Result<u64> {
        let mut n = 0u64;
        // SAFETY: a valid out-pointer.
        let r = unsafe { sys::vfiomig_dev_get_stop_copy_size(self.raw(), &mut n) };
        self.check(r).map(|_| n)
    }

    /// Whether a save or a load may start now (RUNNING, RUNNING_P2P or STOP).
    pub fn check_ready(&mut self) -> Result<()> {
        // SAFETY: a live device, driven by this thread alone.
        let r = unsafe { sys::vfiomig_dev_check_ready(self.raw()) };
        self.check(r).map(|_| ())
    }

    /// Move the device to `target`; the data fd the final arc opens, if it
    /// opens one (STOP -> STOP_COPY, RUNNING -> PRE_COPY, ...).  After a
    /// failure, [`Error::state`] says where the device is.
    pub fn set_state(&mut self, target: State) -> Result<Option<OwnedFd>> {
        let mut fd: RawFd = -1;
        // SAFETY: a valid out-pointer; the fd, if any, becomes ours.
        let r = unsafe { sys::vfiomig_dev_set_state(self.raw(), target as u32, &mut fd) };
        self.check(r)?;
        // SAFETY: the library hands the new data fd over to the caller.
        Ok((fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Walk paths one arc per request (shows which arc of a driver fails).
    pub fn set_stepwise(&mut self, enable: bool) {
        // SAFETY: a live device.
        unsafe { sys::vfiomig_dev_set_stepwise(self.raw(), enable as i32) };
    }

    /// `VFIO_DEVICE_RESET`: the device comes back RUNNING.
    pub fn reset(&mut self) -> Result<()> {
        // SAFETY: a live device.
        let r = unsafe { sys::vfiomig_dev_reset(self.raw()) };
        self.check(r).map(|_| ())
    }

    /// Bring the device out of a failed transition (reset it if it needs
    /// it); `true` if it was reset.
    pub fn recover(&mut self) -> Result<bool> {
        // SAFETY: a live device; the state out-pointer may be NULL.
        let r = unsafe { sys::vfiomig_dev_recover(self.raw(), std::ptr::null_mut()) };
        self.check(r).map(|r| r == 1)
    }

    /// Ask the kernel to report REINIT (Linux 7.1).
    pub fn enable_precopy_reinit(&mut self) -> Result<()> {
        // SAFETY: a live device.
        let r = unsafe { sys::vfiomig_dev_enable_precopy_reinit(self.raw()) };
        self.check(r).map(|_| ())
    }

    /// The pre-copy counters of a PRE_COPY data fd.
    pub fn precopy_info(&mut self, data_fd: impl AsFd) -> Result<PrecopyInfo> {
        let (mut i, mut d, mut f) = (0u64, 0u64, 0u32);
        // SAFETY: valid out-pointers; the fd is borrowed for the call.
        let r = unsafe {
            sys::vfiomig_dev_get_precopy_info_flags(self.raw(), data_fd.as_fd().as_raw_fd(), &mut i, &mut d, &mut f)
        };
        self.check(r)?;
        Ok(PrecopyInfo { initial_bytes: i, dirty_bytes: d, reinit: f & sys::VFIOMIG_PRECOPY_INFO_REINIT != 0 })
    }

    /// Save the device's state into `out` (a file, a pipe, a socket).  If
    /// anything fails, the device goes back to the state it started in: a
    /// running VM keeps running.
    pub fn save(&mut self, out: impl AsFd, mut opts: SaveOptions<'_>) -> Result<Stats> {
        let (o, call) = opts.prepare()?;
        // SAFETY: o points into `call`, which lives across the call; the fd
        // is borrowed for it.
        let r = unsafe { sys::vfiomig_dev_save(self.raw(), out.as_fd().as_raw_fd(), &o) };
        self.transfer_result(r, call)
    }

    /// Load a saved state from `input` into the device.  A destination is
    /// never left running with part of a state.
    pub fn load(&mut self, input: impl AsFd, mut opts: LoadOptions<'_>) -> Result<Stats> {
        let (o, call) = opts.prepare()?;
        // SAFETY: as for save().
        let r = unsafe { sys::vfiomig_dev_load(self.raw(), input.as_fd().as_raw_fd(), &o) };
        self.transfer_result(r, call)
    }

    /// A transfer's outcome: its failure's account first (the thread's
    /// until its next call), then its figures; a progress panic resumes.
    fn transfer_result(&self, r: i32, call: Call<'_, '_>) -> Result<Stats> {
        let err = (r < 0).then(|| Error::last(self.ctx.raw(), r));
        let stats = call.finish();
        match err {
            Some(e) => Err(e.with_stats(stats)),
            None => Ok(stats),
        }
    }
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device").field("name", &self.name()).field("transport", &self.transport()).finish()
    }
}
