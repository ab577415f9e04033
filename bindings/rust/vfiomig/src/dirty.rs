//! Dirty-page tracking (`vfiomig/dirty.h`): which guest pages a device
//! wrote by DMA, while the VMM copies memory in rounds.

use std::ptr::NonNull;

use crate::ctx::Ctx;
use crate::device::Device;
use crate::error::{check, Error, Result};
use crate::group::Group;
use crate::sys;

/// `[iova, iova + length)` in the device's IOVA space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct IovaRange {
    pub iova: u64,
    pub length: u64,
}

// The ranges go to C as they are: the same layout as the C struct.
const _: () = assert!(std::mem::size_of::<IovaRange>() == std::mem::size_of::<sys::vfiomig_iova_range>());
const _: () = assert!(std::mem::align_of::<IovaRange>() == std::mem::align_of::<sys::vfiomig_iova_range>());

/// Which tracker a session uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// The device's DMA logging where it has it, else the IOMMU's where
    /// that can be had.
    Auto,
    /// `VFIO_DEVICE_FEATURE_DMA_LOGGING_*`.
    Device,
    /// iommufd's HWPT dirty tracking.
    Iommu,
}

/// The options of a tracking session.
#[derive(Clone, Copy, Debug)]
pub struct DirtyOptions {
    /// A power of two of at least 4 KiB; 0: the host's page size.
    pub page_size: u64,
    /// Collapse the ranges to at most this many; 0: what the kernel takes.
    pub max_ranges: u32,
    pub mechanism: Mechanism,
    /// IOMMU tracking of an adopted device: the VMM's iommufd and the HWPT
    /// it attached the device to (`None`: the library's own, for a cdev it
    /// opened).
    pub iommu_hwpt: Option<(std::os::unix::io::RawFd, u32)>,
}

impl Default for DirtyOptions {
    fn default() -> Self {
        DirtyOptions { page_size: 0, max_ranges: 0, mechanism: Mechanism::Auto, iommu_hwpt: None }
    }
}

/// What a session tracks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirtyInfo {
    pub mechanism: Mechanism,
    /// The page size of every report's bitmap: the driver's.
    pub page_size: u64,
    /// What the devices were asked to track: the ranges, or fewer collapsed ones.
    pub ranges: Vec<IovaRange>,
    /// The tracked ranges span memory that was not listed.
    pub over_reports: bool,
    pub devices: u32,
    pub stopped: bool,
}

/// A tracking session over a device or a group (`T`).  It borrows what it
/// tracks for its whole life, so that nothing else drives it meanwhile (a
/// session call would fail with `EBUSY` while another thread drives the
/// device); drive the device between reports through
/// [`get_mut`](DirtySession::get_mut).  Dropping it stops tracking.
pub struct DirtySession<'a, T> {
    raw: NonNull<sys::vfiomig_dirty>,
    ctx: Ctx,
    owner: &'a mut T,
}

// SAFETY: a session is driven by one thread at a time (`&mut self`), and
// what it borrows is Send.
unsafe impl<'a, T: Send> Send for DirtySession<'a, T> {}

fn c_opts(o: &DirtyOptions) -> sys::vfiomig_dirty_opts {
    let (iommufd, hwpt_id) = o.iommu_hwpt.unwrap_or((0, 0));
    sys::vfiomig_dirty_opts {
        sz: std::mem::size_of::<sys::vfiomig_dirty_opts>(),
        page_size: o.page_size,
        max_ranges: o.max_ranges,
        mechanism: match o.mechanism {
            Mechanism::Auto => sys::VFIOMIG_DIRTY_AUTO,
            Mechanism::Device => sys::VFIOMIG_DIRTY_DEVICE,
            Mechanism::Iommu => sys::VFIOMIG_DIRTY_IOMMU,
        },
        iommufd,
        hwpt_id,
    }
}

fn start<'a, T>(
    ctx: &Ctx,
    owner: &'a mut T,
    r: i32,
    p: *mut sys::vfiomig_dirty,
) -> Result<DirtySession<'a, T>> {
    check(ctx.raw(), r)?;
    let raw = NonNull::new(p).ok_or_else(|| Error::from_errno(libc::EIO, "libvfiomig returned no session"))?;
    Ok(DirtySession { raw, ctx: ctx.clone(), owner })
}

impl Device {
    /// Start tracking the pages this device writes by DMA over `ranges`
    /// (the guest's memory in IOVA space, page-aligned, none overlapping).
    pub fn dirty_start(&mut self, ranges: &[IovaRange], opts: &DirtyOptions) -> Result<DirtySession<'_, Device>> {
        let o = c_opts(opts);
        let mut p = std::ptr::null_mut();
        // SAFETY: IovaRange has the C layout; valid pointers for the call.
        let r = unsafe { sys::vfiomig_dirty_start(self.raw(), ranges.as_ptr().cast(), ranges.len(), &o, &mut p) };
        let ctx = self.ctx().clone();
        start(&ctx, self, r, p)
    }
}

impl Group {
    /// Start tracking on every member, over the same ranges; a report is
    /// the union of the members'.
    pub fn dirty_start(&mut self, ranges: &[IovaRange], opts: &DirtyOptions) -> Result<DirtySession<'_, Group>> {
        let o = c_opts(opts);
        let mut p = std::ptr::null_mut();
        let (g, ctx) = self.raw_parts();
        // SAFETY: as for Device::dirty_start().
        let r = unsafe { sys::vfiomig_group_dirty_start(g, ranges.as_ptr().cast(), ranges.len(), &o, &mut p) };
        start(&ctx, self, r, p)
    }
}

impl<'a, T> DirtySession<'a, T> {
    /// What it tracks.
    pub fn info(&self) -> DirtyInfo {
        let mut i = sys::vfiomig_dirty_info { sz: std::mem::size_of::<sys::vfiomig_dirty_info>(), ..Default::default() };
        // SAFETY: a live session and a sized out-struct.
        unsafe { sys::vfiomig_dirty_get_info(self.raw.as_ptr(), &mut i) };
        let ranges = if i.ranges.is_null() {
            Vec::new()
        } else {
            // SAFETY: the session's own array of n_ranges, copied here.
            unsafe { std::slice::from_raw_parts(i.ranges.cast::<IovaRange>(), i.n_ranges) }.to_vec()
        };
        DirtyInfo {
            mechanism: match i.mechanism {
                sys::VFIOMIG_DIRTY_DEVICE => Mechanism::Device,
                sys::VFIOMIG_DIRTY_IOMMU => Mechanism::Iommu,
                _ => Mechanism::Auto,
            },
            page_size: i.page_size,
            ranges,
            over_reports: i.over_reports,
            devices: i.n_devices,
            stopped: i.stopped,
        }
    }

    /// Read and clear the dirty pages of `[iova, iova + length)` into
    /// `bitmap` (bit n of word n / 64 is the page at iova + n * page_size);
    /// the number of dirty pages.  After any failure the bitmap says every
    /// page of the range is dirty: a lost dirty bit corrupts the guest,
    /// an extra one only costs a copy.
    pub fn report(&mut self, iova: u64, length: u64, bitmap: &mut [u64]) -> Result<u64> {
        let mut dirty = 0u64;
        // SAFETY: bitmap is writable for its size in bytes.
        let r = unsafe {
            sys::vfiomig_dirty_report(
                self.raw.as_ptr(),
                iova,
                length,
                bitmap.as_mut_ptr(),
                std::mem::size_of_val(bitmap),
                &mut dirty,
            )
        };
        check(self.ctx.raw(), r).map(|_| dirty)
    }

    /// Stop tracking; reports fail with `ESRCH` from now on.
    pub fn stop(&mut self) -> Result<()> {
        // SAFETY: a live session.
        let r = unsafe { sys::vfiomig_dirty_stop(self.raw.as_ptr()) };
        check(self.ctx.raw(), r).map(|_| ())
    }

    /// What is tracked, to drive it between reports (on this thread).
    pub fn get_mut(&mut self) -> &mut T {
        self.owner
    }
}

impl<'a, T> std::fmt::Debug for DirtySession<'a, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirtySession").field("info", &self.info()).finish()
    }
}

impl<'a, T> Drop for DirtySession<'a, T> {
    fn drop(&mut self) {
        // SAFETY: our session; nothing else holds it.
        unsafe { sys::vfiomig_dirty_free(self.raw.as_ptr()) };
    }
}
