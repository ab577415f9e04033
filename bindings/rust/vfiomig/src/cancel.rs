//! Cancelling a call from another thread.
//!
//! The C library cancels the calls that watch one `struct vfiomig_cancel`.
//! Here every save and load watches a C object of its own, made for the
//! call: a [`Cancel`] raises the objects of every call it was given to,
//! and a panicking progress closure raises only its own call's.  A cancel
//! never reaches a call it was not given to.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::sys;

/// A handle that cancels the calls it is given to (in
/// [`SaveOptions::cancel`](crate::SaveOptions::cancel) and
/// [`LoadOptions::cancel`](crate::LoadOptions::cancel)).  Clone it and
/// raise it from any thread: a watching call notices at once, even in the
/// middle of a wait, puts its devices back as on any failure (a source
/// keeps running), and fails with `ECANCELED`.  It stays raised, and
/// cancels calls that start later, until [`clear`](Cancel::clear).
///
/// It is not for a signal handler (it takes a lock); a program that
/// cancels on SIGINT raises it from a thread that waits for the signal.
#[derive(Clone, Default)]
pub struct Cancel {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    raised: AtomicBool,
    calls: Mutex<Vec<RawCancel>>,
}

impl Cancel {
    /// A cancel handle, not raised.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    fn calls(&self) -> MutexGuard<'_, Vec<RawCancel>> {
        // A poisoned list is still a list: nothing panics while holding it.
        self.inner.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cancel every call watching this handle, and those that start later.
    pub fn raise(&self) {
        let calls = self.calls();
        self.inner.raised.store(true, Ordering::SeqCst);
        for c in calls.iter() {
            c.raise();
        }
    }

    /// Lower it again, for the next call.
    pub fn clear(&self) {
        let calls = self.calls();
        self.inner.raised.store(false, Ordering::SeqCst);
        for c in calls.iter() {
            // SAFETY: a registered object lives until it is unregistered.
            unsafe { sys::vfiomig_cancel_clear(c.0.as_ptr()) };
        }
    }

    /// Whether it is raised.
    pub fn is_raised(&self) -> bool {
        self.inner.raised.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel").field("raised", &self.is_raised()).finish()
    }
}

/// One C cancel object.
struct RawCancel(NonNull<sys::vfiomig_cancel>);

// SAFETY: the C object is an eventfd, raised and cleared from any thread.
unsafe impl Send for RawCancel {}

impl RawCancel {
    fn raise(&self) {
        // SAFETY: the object lives as long as self.
        unsafe { sys::vfiomig_cancel_raise(self.0.as_ptr()) };
    }
}

/// The C cancel object of one call: raised by the call's [`Cancel`], if it
/// has one, and by a panic in the call's own callbacks.
pub(crate) struct CallCancel {
    raw: RawCancel,
    user: Option<Cancel>,
}

impl CallCancel {
    pub(crate) fn new(user: Option<&Cancel>) -> Result<CallCancel> {
        let mut p = std::ptr::null_mut();
        // SAFETY: p is a valid out-pointer.
        let r = unsafe { sys::vfiomig_cancel_new(&mut p) };
        let raw = match NonNull::new(p) {
            Some(nn) if r == 0 => RawCancel(nn),
            _ => return Err(Error::from_errno(-r, "cannot create the call's cancel object")),
        };
        if let Some(u) = user {
            let mut calls = u.calls();
            if u.is_raised() {
                raw.raise();
            }
            calls.push(RawCancel(raw.0));
        }
        Ok(CallCancel { raw, user: user.cloned() })
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::vfiomig_cancel {
        self.raw.0.as_ptr()
    }
}

impl Drop for CallCancel {
    fn drop(&mut self) {
        if let Some(u) = &self.user {
            u.calls().retain(|c| c.0 != self.raw.0);
        }
        // SAFETY: no call watches it any more, and no Cancel can reach it.
        unsafe { sys::vfiomig_cancel_unref(self.raw.0.as_ptr()) };
    }
}
