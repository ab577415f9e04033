//! raw-loop's checks of what it claims: the figures of the loop agree
//! with each other, and the state on the far side is the source's, byte
//! for byte.

use std::fs::File;
use std::io::{Read as _, Seek, SeekFrom};
use std::os::unix::io::AsFd;

use vfiomig::{Device, Leave, SaveOptions};

use crate::event_loop::{owned, Report};

pub fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

/// A device's state saved raw (its bare data stream) into a memfd.
pub fn raw_state(dev: &mut Device, leave: Leave) -> Result<File, String> {
    let name = b"raw-loop-state\0";
    // SAFETY: a NUL-terminated name.
    let fd = owned(unsafe { libc::memfd_create(name.as_ptr().cast(), libc::MFD_CLOEXEC) }, "memfd_create")?;
    let mut f = File::from(fd);
    dev.save(f.as_fd(), SaveOptions::new().raw(true).leave(leave))
        .map_err(|e| format!("saving {} raw for the comparison: {}", dev.name(), e))?;
    f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    Ok(f)
}

/// Where two saved states first differ (the shorter one's length if it
/// is a prefix of the other), or None if they are equal.
fn first_difference(a: &mut File, b: &mut File) -> Result<Option<u64>, String> {
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut off = 0u64;
    loop {
        let (na, nb) = (read_full(a, &mut ba)?, read_full(b, &mut bb)?);
        let n = na.min(nb);
        // Slices compare as memcmp; only a difference is looked for byte by byte.
        if ba[..n] != bb[..n] {
            let i = ba[..n].iter().zip(&bb[..n]).position(|(x, y)| x != y).unwrap_or(0);
            return Ok(Some(off + i as u64));
        }
        if na != nb {
            return Ok(Some(off + n as u64));
        }
        if n == 0 {
            return Ok(None);
        }
        off += n as u64;
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> Result<usize, String> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]).map_err(|e| format!("reading a saved state back: {}", e))? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// What a complete migration must show, whatever the device.
pub fn check_report(r: &Report) -> Result<(), String> {
    let device_bytes = r.precopy_bytes + r.stop_copy_bytes;
    ensure(r.sent == r.received, || format!("the sender framed {} but the receiver parsed {}", r.sent, r.received))?;
    ensure(r.sent.payload == device_bytes && r.delivered == device_bytes, || {
        format!("{} device bytes were read, {} framed, {} delivered", device_bytes, r.sent.payload, r.delivered)
    })?;
    ensure(device_bytes > 0, || "no device state moved at all".into())?;
    ensure((r.sent.start, r.sent.end, r.sent.full) == (1, 1, 1), || format!("sections: {}", r.sent))?;
    // One PART section per pre-copy read.
    ensure((r.rounds == 0) == (r.precopy_bytes == 0) && (r.sent.part > 0) == (r.precopy_bytes > 0), || {
        format!("{} pre-copy rounds, {} bytes, {} PART sections", r.rounds, r.precopy_bytes, r.sent.part)
    })
}

/// The state on both sides after the load: equal, and not because the
/// destination held it already.
pub fn check_state(src: &mut Device, dst: &mut Device, dst_before: &mut File) -> Result<(), String> {
    let mut s = raw_state(src, Leave::Default)?;
    let mut d = raw_state(dst, Leave::Running)?;
    let diff = first_difference(&mut s, &mut d)?;
    ensure(diff.is_none(), || {
        format!("the destination's state differs from the source's at byte {}", diff.unwrap_or(0))
    })?;
    s.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let before = first_difference(&mut s, dst_before)?;
    ensure(before.is_some(), || {
        "the destination held the source's state before the migration, so the comparison proves nothing: \
         give the devices different names"
            .into()
    })?;
    let len = s.metadata().map_err(|e| e.to_string())?.len();
    println!("state: equal bytes={} (the destination's own state differed at byte {})", len, before.unwrap_or(0));
    Ok(())
}
