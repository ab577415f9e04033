//! The raw data path (`vfiomig/data.h`), for a VMM that frames device
//! data into its own migration stream and drives it from its own loop:
//! begin, read or write, finish.  Set `O_NONBLOCK` on a data fd for an
//! event loop: then [`Device::read`] and [`Device::write_some`] never
//! wait, and `poll()` says when to call them again (a data fd without a
//! poll op, as mtty's, is always ready).

use std::os::unix::io::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::device::Device;
use crate::error::{check, Error, Result};
use crate::state::State;
use crate::sys;

/// What one [`Device::read`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// This many bytes of device state.
    Data(usize),
    /// A non-blocking fd has nothing ready yet: poll for POLLIN.
    Again,
    /// The device has no more pre-copy data for now (the temporary end of
    /// pre-copy: the driver's ENOMSG, or mtty's 0): ask
    /// [`Device::precopy_info`], then read on or switch over.
    Drained,
    /// The end of the device's state (STOP_COPY only).
    End,
}

impl Device {
    fn data_check(&self, r: isize) -> Result<isize> {
        if r < 0 {
            Err(Error::last(self.ctx().raw(), r as i32))
        } else {
            Ok(r)
        }
    }

    /// Start saving: the saving data fd, and the state the device is now
    /// in (PRE_COPY, PRE_COPY_P2P, or STOP_COPY).  With `precopy`, a running
    /// device that offers pre-copy starts it; otherwise it stops.
    pub fn begin_save(&mut self, precopy: bool) -> Result<(OwnedFd, State)> {
        let mut fd: RawFd = -1;
        let mut s: sys::vfiomig_state = 0;
        let flags = if precopy { sys::VFIOMIG_SAVE_PRECOPY } else { 0 };
        // SAFETY: valid out-pointers; the fd becomes ours.
        let r = unsafe { sys::vfiomig_data_begin_save(self.raw(), flags, &mut fd, &mut s) };
        check(self.ctx().raw(), r)?;
        // SAFETY: the library hands the data fd over.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let state = State::from_raw(s).unwrap_or(State::StopCopy);
        Ok((fd, state))
    }

    /// One read of a saving data fd.  `precopy` says the device is in a
    /// PRE_COPY state, where no data is a pause ([`Read::Drained`]), not
    /// the end.
    pub fn read(&mut self, data_fd: impl AsFd, buf: &mut [u8], precopy: bool) -> Result<Read> {
        let flags = sys::VFIOMIG_READ_DRAINED | if precopy { sys::VFIOMIG_READ_PRECOPY } else { 0 };
        // SAFETY: buf is writable for its length; the fd is borrowed.
        let r = unsafe {
            sys::vfiomig_data_read(self.raw(), data_fd.as_fd().as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags)
        };
        match r {
            0 => Ok(Read::End),
            n if n > 0 => Ok(Read::Data(n as usize)),
            n if n == -(libc::EAGAIN as isize) => Ok(Read::Again),
            n if n == -(libc::ENOMSG as isize) => Ok(Read::Drained),
            n => self.data_check(n).map(|_| Read::End),
        }
    }

    /// Switch a pre-copying device over to STOP_COPY: the same data fd then
    /// carries the rest of its state.
    pub fn switch_over(&mut self) -> Result<()> {
        self.set_state(State::StopCopy).map(|_| ())
    }

    /// Start loading: the device goes to RESUMING (stopped on the way if it
    /// runs); the fd to write its state to.
    pub fn begin_load(&mut self) -> Result<OwnedFd> {
        let mut fd: RawFd = -1;
        // SAFETY: a valid out-pointer; the fd becomes ours.
        let r = unsafe { sys::vfiomig_data_begin_load(self.raw(), &mut fd) };
        check(self.ctx().raw(), r)?;
        // SAFETY: the library hands the data fd over.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Write all of `buf` to a resuming data fd; on a non-blocking fd this
    /// waits in `poll()` until the driver took it all.
    pub fn write_all(&mut self, data_fd: impl AsFd, buf: &[u8]) -> Result<()> {
        // SAFETY: buf is readable for its length; the fd is borrowed.
        let r = unsafe { sys::vfiomig_data_write(self.raw(), data_fd.as_fd().as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
        check(self.ctx().raw(), r).map(|_| ())
    }

    /// One write of what a resuming data fd takes now: the bytes taken, or
    /// `None` if a non-blocking fd takes nothing now (poll for POLLOUT).
    pub fn write_some(&mut self, data_fd: impl AsFd, buf: &[u8]) -> Result<Option<usize>> {
        // SAFETY: as for write_all().
        let r = unsafe {
            sys::vfiomig_data_write_some(self.raw(), data_fd.as_fd().as_raw_fd(), buf.as_ptr().cast(), buf.len())
        };
        if r == -(libc::EAGAIN as isize) {
            return Ok(None);
        }
        self.data_check(r).map(|n| Some(n as usize))
    }

    /// End loading: RESUMING -> STOP (where the driver checks what it was
    /// given), then `target` (usually RUNNING).  On failure the device
    /// stays where the driver left it; [`Device::recover`] resets it.
    pub fn finish_load(&mut self, target: State) -> Result<()> {
        // SAFETY: a live device.
        let r = unsafe { sys::vfiomig_data_finish_load(self.raw(), target as u32) };
        check(self.ctx().raw(), r).map(|_| ())
    }
}
