//! The library context.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use crate::error::{check, Result};
use crate::sys;

type LogFn = dyn Fn(i32, &str) + Send + Sync + 'static;

/// A library context: the log function, and the kernel objects (one VFIO
/// container, one iommufd) that the devices opened through it share.
///
/// `Send` and `Sync`, as the C rules allow: any number of threads may
/// drive different devices of one context at once.  Cloning it is cheap
/// (one reference); devices and groups keep theirs.
#[derive(Clone)]
pub struct Ctx {
    inner: Arc<Inner>,
}

struct Inner {
    raw: NonNull<sys::vfiomig_ctx>,
    /// Every log function ever installed, freed with the context: another
    /// thread may still be inside one that was just replaced.
    loggers: Mutex<Vec<Box<Box<LogFn>>>>,
}

// SAFETY: the C context is thread-safe (vfiomig/vfiomig.h, Threads): what
// devices share is behind its locks, and each thread's errors are its own.
unsafe impl Send for Inner {}
unsafe impl Sync for Inner {}

impl Drop for Inner {
    fn drop(&mut self) {
        // SAFETY: the last Rust handle; devices and groups hold a Ctx, so
        // none is left, and with them no C reference that could log.
        unsafe { sys::vfiomig_ctx_unref(self.raw.as_ptr()) };
    }
}

extern "C" fn log_trampoline(userdata: *mut c_void, priority: c_int, msg: *const c_char) {
    // SAFETY: userdata is a Box<LogFn> that lives as long as the context,
    // and msg a C string valid during the call.
    let f = unsafe { &*(userdata as *const Box<LogFn>) };
    let msg = unsafe { CStr::from_ptr(msg) }.to_string_lossy();
    // A log line has no call to fail: a panic is dropped here, never
    // unwound into C.
    let _ = catch_unwind(AssertUnwindSafe(|| f(priority, &msg)));
}

impl Ctx {
    /// A new context, silent, reaching real VFIO devices (with the `mock`
    /// feature, [`mock::context()`](crate::mock::context) makes one that
    /// opens mock devices too).
    pub fn new() -> Result<Ctx> {
        let mut p = std::ptr::null_mut();
        // SAFETY: p is a valid out-pointer.
        let r = unsafe { sys::vfiomig_ctx_new(&mut p) };
        match NonNull::new(p) {
            Some(raw) if r == 0 => Ok(Ctx {
                inner: Arc::new(Inner { raw, loggers: Mutex::new(Vec::new()) }),
            }),
            _ => Err(crate::Error::from_errno(-r, "cannot create a libvfiomig context")),
        }
    }

    pub(crate) fn raw(&self) -> *mut sys::vfiomig_ctx {
        self.inner.raw.as_ptr()
    }

    /// Log through `f(priority, message)` (syslog priorities: 3 is
    /// `LOG_ERR`, 7 `LOG_DEBUG`) up to [`set_log_priority`](Ctx::set_log_priority).
    /// It may be called from several threads at once, and while the
    /// library holds a lock: it must not call this crate.  A panic in it is
    /// caught and the line dropped.
    pub fn set_log<F>(&self, f: F)
    where
        F: Fn(i32, &str) + Send + Sync + 'static,
    {
        let boxed: Box<Box<LogFn>> = Box::new(Box::new(f));
        let ud = &*boxed as *const Box<LogFn> as *mut c_void;
        let mut loggers = self.inner.loggers.lock().unwrap_or_else(|p| p.into_inner());
        loggers.push(boxed);
        // SAFETY: ud lives in self.inner.loggers until the context ends.
        unsafe { sys::vfiomig_ctx_set_log_fn(self.raw(), Some(log_trampoline), ud) };
    }

    /// Log messages up to `priority` (`LOG_ERR` = 3 by default).
    pub fn set_log_priority(&self, priority: i32) {
        // SAFETY: a live context.
        unsafe { sys::vfiomig_ctx_set_log_priority(self.raw(), priority) };
    }

    /// The VFIO devices of this host, as `(spec, driver)`: every PCI device
    /// bound to a VFIO driver and every mdev, from sysfs, without opening
    /// them.
    pub fn list_devices(&self) -> Result<Vec<(String, String)>> {
        extern "C" fn each(ud: *mut c_void, spec: *const c_char, driver: *const c_char) -> c_int {
            // SAFETY: ud is the Vec below; the strings live during the call.
            let v = unsafe { &mut *(ud as *mut Vec<(String, String)>) };
            let s = crate::error::cstr(spec).unwrap_or_default();
            let d = crate::error::cstr(driver).unwrap_or_default();
            v.push((s, d));
            0
        }
        let mut v: Vec<(String, String)> = Vec::new();
        // SAFETY: each() only pushes to v, which outlives the call.
        let r = unsafe {
            sys::vfiomig_ctx_list_devices(self.raw(), Some(each), &mut v as *mut _ as *mut c_void)
        };
        check(self.raw(), r)?;
        Ok(v)
    }
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("raw", &self.inner.raw).finish()
    }
}
