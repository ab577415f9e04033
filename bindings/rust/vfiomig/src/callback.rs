//! Closures called from C: no panic unwinds into the library.  A panic is
//! caught at the boundary, the call is made to fail (a hook returns an
//! error, a progress closure raises the call's own cancel object), and the
//! panic is resumed on the Rust side once the C call has returned, with
//! its devices put back as for any failure.

use std::any::Any;
use std::os::raw::c_void;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use crate::sys;
use crate::xfer::Progress;

/// The first panic of a call's callbacks, to resume after the call.
#[derive(Default)]
pub(crate) struct Caught(Option<Box<dyn Any + Send + 'static>>);

impl Caught {
    /// Runs `f`; `None` if it panicked (the panic is kept).
    pub(crate) fn run<R>(&mut self, f: impl FnOnce() -> R) -> Option<R> {
        if self.0.is_some() {
            return None; // a closure that panicked is not called again
        }
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => Some(r),
            Err(payload) => {
                self.0 = Some(payload);
                None
            }
        }
    }

    /// Re-raises the kept panic, if any.
    pub(crate) fn resume(self) {
        if let Some(p) = self.0 {
            resume_unwind(p);
        }
    }
}

/// The C type of a progress callback.
pub(crate) type ProgressFn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, p: *const sys::vfiomig_progress)>;

/// A call's progress closure, as C calls it.
pub(crate) struct ProgressHook<'f, 'a> {
    f: &'f mut (dyn FnMut(&Progress) + 'a),
    cancel: *mut sys::vfiomig_cancel,
    caught: Caught,
}

impl<'f, 'a> ProgressHook<'f, 'a> {
    pub(crate) fn new(f: &'f mut (dyn FnMut(&Progress) + 'a), cancel: *mut sys::vfiomig_cancel) -> Self {
        ProgressHook { f, cancel, caught: Caught::default() }
    }

    /// The C callback and its userdata, valid while `self` stays put.
    pub(crate) fn c_fn(&mut self) -> (ProgressFn, *mut c_void) {
        (Some(progress_trampoline), self as *mut Self as *mut c_void)
    }

    pub(crate) fn resume(self) {
        self.caught.resume();
    }
}

unsafe extern "C" fn progress_trampoline(userdata: *mut c_void, p: *const sys::vfiomig_progress) {
    // SAFETY: userdata is the ProgressHook of the call that is running, on
    // this thread (C calls progress on the calling thread), and p is valid
    // during the callback.
    let hook = &mut *(userdata as *mut ProgressHook<'_, '_>);
    let progress = Progress::from_raw(&*p);
    let f = &mut hook.f;
    if hook.caught.run(|| f(&progress)).is_none() {
        // SAFETY: the call's cancel object outlives the call.
        sys::vfiomig_cancel_raise(hook.cancel);
    }
}
