//! Safe Rust API of libvfiomig: drive Linux VFIO devices through the
//! kernel's device-migration protocol v2, as a VMM does.
//!
//! - [`Ctx`] holds what devices share; [`Device`] is one device, opened by
//!   spec or adopted from the fd a VMM already holds; [`Group`] moves
//!   devices that may DMA into each other through the P2P phases, with a
//!   hook between them.
//! - Whole saves and loads ([`Device::save`], [`Group::save`], ...) go to
//!   and from anything [`AsFd`](std::os::unix::io::AsFd), with
//!   [`SaveOptions`] and [`LoadOptions`] as builders, a progress closure
//!   and a [`Cancel`] handle; the raw data path ([`Device::begin_save`],
//!   [`Device::read`], ...) serves a VMM's own event loop; a
//!   [`DirtySession`] reports the pages a device wrote.
//! - Every failure is one [`Error`]: the errno, the library's sentence,
//!   and where each device is afterwards.
//!
//! # Threads
//!
//! The C rules of `vfiomig/vfiomig.h` are in the types.  A `Ctx` is `Send +
//! Sync`.  A `Device` or a `Group` is driven by one thread at a time: every
//! call that drives it takes `&mut self`, neither is `Clone`, and both are
//! `Send` but not `Sync`, so a second thread cannot drive (or query) one
//! that a first is driving: the compiler refuses where the library would
//! say `EBUSY`.  A device added to a group belongs to the group.
//! Callbacks (progress, a group's hook) get no way to drive what their
//! call moves, where the library would say `EDEADLK`.  A [`Cancel`] is
//! `Clone + Send + Sync`.  A panic in a callback never crosses into C: the
//! call fails (its devices are put back as on any failure), then the
//! panic resumes.
//!
//! # Example
//!
//! ```
//! use vfiomig::{Device, LoadOptions, SaveOptions, State};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ctx = vfiomig::mock::context()?; // Ctx::new() for real devices
//! let mut src = Device::open(&ctx, "mock:src,size=65536")?;
//! let mut dst = Device::open(&ctx, "mock:dst,size=65536,state=STOP")?;
//! let mut file = tempfile()?;
//! let saved = src.save(&file, SaveOptions::new())?;
//! rewind(&mut file)?;
//! let loaded = dst.load(&file, LoadOptions::new())?;
//! assert_eq!(saved.stream_bytes, loaded.stream_bytes);
//! assert_eq!(dst.state()?, State::Running);
//! # Ok(()) }
//! # fn tempfile() -> std::io::Result<std::fs::File> {
//! #     let p = std::env::temp_dir().join(format!("vfiomig-doc-{}", std::process::id()));
//! #     let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&p)?;
//! #     std::fs::remove_file(&p)?;
//! #     Ok(f)
//! # }
//! # fn rewind(f: &mut std::fs::File) -> std::io::Result<u64> {
//! #     use std::io::Seek;
//! #     f.seek(std::io::SeekFrom::Start(0))
//! # }
//! ```
#![deny(missing_debug_implementations)]

pub use vfiomig_sys as sys;

mod callback;
mod cancel;
mod ctx;
mod data;
mod device;
mod dirty;
mod error;
mod group;
mod profile;
mod state;
mod xfer;

#[cfg(feature = "mock")]
pub mod mock;

pub use cancel::Cancel;
pub use ctx::Ctx;
pub use data::Read;
pub use device::{Caps, Device, PciIds, PrecopyInfo};
pub use dirty::{DirtyInfo, DirtyOptions, DirtySession, IovaRange, Mechanism};
pub use error::{DeviceOutcome, Error, Result};
pub use profile::{check_group_profiles, check_profiles, Compat, Profile, Verdict};
pub use group::{AddError, Group, GroupPoint, Hooked, MemberResult};
pub use state::{path, MigFlags, ParseStateError, State};
pub use xfer::{Leave, LoadOptions, OnTimeout, Precopy, Progress, SaveOptions, Stats, Phase};

/// The Rust blocks of docs/rust.md, compiled (and run, where not
/// `no_run`) as doc tests, so that the page cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/rust.md")]
pub struct RustMd;
