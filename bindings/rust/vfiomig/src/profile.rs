//! Device profiles and the compatibility check (`vfiomig/profile.h`,
//! docs/compatibility.md): what decides whether a device's state loads
//! into another device, as JSON between hosts, and the verdict per field.

use std::ffi::CStr;
use std::os::raw::{c_char, c_void};
use std::ptr::NonNull;

use crate::device::Device;
use crate::error::{check, cstr, Error, Result};
use crate::{sys, Ctx};

/// The verdict on one field, from the best to the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Compat {
    /// The two profiles agree (or the field is not known on both sides).
    Same,
    /// They differ, and the state still loads.
    Compatible,
    /// The state would be refused.
    Incompatible,
}

impl Compat {
    fn from_raw(v: u32) -> Compat {
        match v {
            sys::VFIOMIG_COMPAT_SAME => Compat::Same,
            sys::VFIOMIG_COMPAT_COMPATIBLE => Compat::Compatible,
            _ => Compat::Incompatible,
        }
    }
}

/// One field's verdict, with its reason and the source of its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `"pci_ids"`, `"mdev_type"`, ...
    pub field: String,
    pub verdict: Compat,
    pub reason: String,
    /// `"kernel uAPI"`, `"mtty"`, `"mlx5_vfio_pci"`, ...
    pub source: String,
    /// A group check's source member and the destination it was matched
    /// with (-1: none); 0 and 0 for one device.
    pub member: i32,
    pub peer: i32,
}

/// A device's profile: an owned value, any thread may use it.
#[derive(Debug)]
pub struct Profile {
    raw: NonNull<sys::vfiomig_profile>,
}

// SAFETY: a profile is a plain value that references no device or context.
unsafe impl Send for Profile {}
// SAFETY: every call on a profile only reads it.
unsafe impl Sync for Profile {}

impl Drop for Profile {
    fn drop(&mut self) {
        // SAFETY: our own profile, freed once.
        unsafe { sys::vfiomig_profile_free(self.raw.as_ptr()) };
    }
}

fn owned(p: *mut sys::vfiomig_profile) -> Result<Profile> {
    let raw = NonNull::new(p).ok_or_else(|| Error::from_errno(libc::EIO, "libvfiomig returned no profile"))?;
    Ok(Profile { raw })
}

impl Device {
    /// The device's profile (`vfiomig_dev_get_profile()`); nothing is sent
    /// that changes the device.
    pub fn profile(&self) -> Result<Profile> {
        let mut p = std::ptr::null_mut();
        // SAFETY: a live device (a query: any thread not driving it), a valid out-pointer.
        let r = unsafe { sys::vfiomig_dev_get_profile(self.raw(), &mut p) };
        check(self.ctx().raw(), r)?;
        owned(p)
    }
}

impl Profile {
    /// The name of the device it was taken from.
    pub fn name(&self) -> String {
        // SAFETY: a live profile; the string lives as long as it.
        cstr(unsafe { sys::vfiomig_profile_get_name(self.raw.as_ptr()) }).unwrap_or_default()
    }

    /// The profile as one JSON object (`profile DEV --json`).
    pub fn to_json(&self) -> Result<String> {
        let mut s: *mut c_char = std::ptr::null_mut();
        // SAFETY: a live profile and a valid out-pointer; the string is ours to free.
        let r = unsafe { sys::vfiomig_profile_to_json(self.raw.as_ptr(), &mut s) };
        if r < 0 {
            return Err(Error::from_errno(-r, "writing the profile"));
        }
        // SAFETY: a NUL-terminated string from malloc(), copied, then freed.
        let json = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
        unsafe { libc::free(s as *mut c_void) };
        Ok(json)
    }

    /// Profiles read from another host's JSON: one object, or a group's
    /// array (at most 64).  The text is untrusted: anything else is an
    /// error that says what is wrong and where.
    pub fn from_json(ctx: &Ctx, json: &str) -> Result<Vec<Profile>> {
        let mut p: [*mut sys::vfiomig_profile; 64] = [std::ptr::null_mut(); 64];
        let mut n = 0usize;
        // SAFETY: json is len bytes; p has room for 64; the profiles become ours.
        let r = unsafe {
            sys::vfiomig_profile_from_json(ctx.raw(), json.as_ptr() as *const c_char, json.len(),
                                           p.as_mut_ptr(), p.len(), &mut n)
        };
        check(ctx.raw(), r)?;
        p[..n].iter().map(|&x| owned(x)).collect()
    }
}

unsafe extern "C" fn take(userdata: *mut c_void, v: *const sys::vfiomig_profile_verdict) {
    // SAFETY: userdata is the Vec below, v a verdict valid during this call.
    let (out, v) = (&mut *(userdata as *mut Vec<Verdict>), &*v);
    out.push(Verdict {
        field: cstr(v.field).unwrap_or_default(),
        verdict: Compat::from_raw(v.verdict),
        reason: cstr(v.reason).unwrap_or_default(),
        source: cstr(v.source).unwrap_or_default(),
        member: v.member,
        peer: v.peer,
    });
}

/// Whether a state saved from `src` loads into `dst`: the worst verdict and
/// each field's (`vfiomig_profile_check()`, the load's own comparison).
pub fn check_profiles(ctx: &Ctx, src: &Profile, dst: &Profile) -> Result<(Compat, Vec<Verdict>)> {
    let mut out: Vec<Verdict> = Vec::new();
    // SAFETY: live profiles; take() only pushes onto out, and cannot panic
    // but by allocation failure, which aborts.
    let r = unsafe {
        sys::vfiomig_profile_check(ctx.raw(), src.raw.as_ptr(), dst.raw.as_ptr(), Some(take),
                                   &mut out as *mut Vec<Verdict> as *mut c_void)
    };
    Ok((Compat::from_raw(check(ctx.raw(), r)? as u32), out))
}

/// A group's check: the source members matched with the destination's
/// profiles as a group load matches them (`vfiomig_profile_check_group()`).
pub fn check_group_profiles(ctx: &Ctx, src: &[Profile], dst: &[Profile]) -> Result<(Compat, Vec<Verdict>)> {
    let s: Vec<*mut sys::vfiomig_profile> = src.iter().map(|p| p.raw.as_ptr()).collect();
    let d: Vec<*mut sys::vfiomig_profile> = dst.iter().map(|p| p.raw.as_ptr()).collect();
    let mut out: Vec<Verdict> = Vec::new();
    // SAFETY: arrays of live profiles of the lengths given; take() as above.
    let r = unsafe {
        sys::vfiomig_profile_check_group(ctx.raw(), s.as_ptr(), s.len(), d.as_ptr(), d.len(),
                                         Some(take), &mut out as *mut Vec<Verdict> as *mut c_void)
    };
    Ok((Compat::from_raw(check(ctx.raw(), r)? as u32), out))
}

#[cfg(all(test, feature = "mock"))]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_check() {
        let ctx = crate::mock::context().unwrap();
        let a = Device::open(&ctx, "mock:a,mdev_type=mtty-1").unwrap();
        let b = Device::open(&ctx, "mock:b,mdev_type=mtty-2").unwrap();
        let pa = a.profile().unwrap();
        let back = Profile::from_json(&ctx, &pa.to_json().unwrap()).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].name(), "mock:a");
        assert_eq!(check_profiles(&ctx, &pa, &back[0]).unwrap().0, Compat::Same);
        let (worst, fields) = check_profiles(&ctx, &pa, &b.profile().unwrap()).unwrap();
        assert_eq!(worst, Compat::Incompatible);
        let mdev = fields.iter().find(|v| v.field == "mdev_type").unwrap();
        assert_eq!((mdev.verdict, mdev.source.as_str()), (Compat::Incompatible, "mtty"));
        let e = Profile::from_json(&ctx, "{}").unwrap_err();
        assert_eq!(e.errno(), libc::EBADMSG);
        assert!(e.message().contains("not a device profile"), "{}", e.message());
        let (g, _) = check_group_profiles(&ctx, &[b.profile().unwrap(), pa],
                                          &Profile::from_json(&ctx, &format!("[{},{}]",
                                              back[0].to_json().unwrap(),
                                              b.profile().unwrap().to_json().unwrap())).unwrap())
            .unwrap();
        assert_eq!(g, Compat::Same);
    }
}
