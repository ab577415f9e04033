//! What the integration tests share: a temporary file for streams.

#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// An anonymous temporary file (unlinked at once).
pub fn tempfile() -> File {
    let p = std::env::temp_dir().join(format!(
        "vfiomig-rust-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&p).unwrap();
    std::fs::remove_file(&p).unwrap();
    f
}

pub fn rewind(f: &mut File) {
    f.seek(SeekFrom::Start(0)).unwrap();
}

pub fn contents(f: &mut File) -> Vec<u8> {
    rewind(f);
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}
