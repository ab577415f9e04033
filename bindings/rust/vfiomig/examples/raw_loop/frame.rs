//! VFIO device state framed into a VMM's migration stream as QEMU frames it
//! (QEMU's hw/vfio/migration.c and migration/savevm.c; written from their
//! description, no code taken).
//!
//! What is modelled, in the order QEMU sends it:
//! - the file header: be32 `QEMU_VM_FILE_MAGIC` ("QEVM"), be32 version 3;
//! - the device's live sections, each a section header, the device's own
//!   frames, and a footer (`0x7e`, be32 section id):
//!   - START (`0x01`, be32 section id, u8 length + idstr, be32 instance
//!     id, be32 version id 1): `DEV_SETUP_STATE`, `END_OF_STATE`
//!     (`vfio_save_setup()`);
//!   - a PART (`0x02`, be32 section id) per pre-copy iteration: one data
//!     chunk, `END_OF_STATE` (`vfio_save_iterate()`, which reads once);
//!   - END (`0x03`): every stop-copy chunk up to the device's end of
//!     stream, then `END_OF_STATE` (`vfio_save_complete_precopy()`);
//! - a FULL section (`0x04`, header as START's) with `DEV_CONFIG_STATE`
//!   and `END_OF_STATE` (`vfio_save_state()`);
//! - `QEMU_VM_EOF` (`0x00`).
//!
//! A data chunk is be64 `DEV_DATA_STATE`, be64 size, then the bytes.
//!
//! Left out: the RAM, CPU and other devices' sections that share QEMU's
//! stream, the CONFIGURATION record (machine type), COMMANDs,
//! SUBSECTIONs and the JSON VM description; the PCI config space that
//! QEMU's vfio-pci puts between `DEV_CONFIG_STATE` and its `END_OF_STATE`
//! (this VMM has none to send: the section is empty); the switchover-ack
//! capability and its `DEV_INIT_DATA_SENT` marker, which the receiver
//! refuses as QEMU does when it was not negotiated.  Sections carry data
//! only when the device gave some: QEMU's clock-driven iterations may send
//! empty PART sections, a readiness-driven loop has no reason to.

use std::fmt;

pub const QEMU_VM_FILE_MAGIC: u32 = 0x5145_564d;
pub const QEMU_VM_FILE_VERSION: u32 = 3;
pub const QEMU_VM_EOF: u8 = 0x00;
pub const QEMU_VM_SECTION_START: u8 = 0x01;
pub const QEMU_VM_SECTION_PART: u8 = 0x02;
pub const QEMU_VM_SECTION_END: u8 = 0x03;
pub const QEMU_VM_SECTION_FULL: u8 = 0x04;
pub const QEMU_VM_SECTION_FOOTER: u8 = 0x7e;

/// The VFIO markers: all-ones high word, 0xef10 for "emulated function IO".
pub const END_OF_STATE: u64 = 0xffff_ffff_ef10_0001;
pub const DEV_CONFIG_STATE: u64 = 0xffff_ffff_ef10_0002;
pub const DEV_SETUP_STATE: u64 = 0xffff_ffff_ef10_0003;
pub const DEV_DATA_STATE: u64 = 0xffff_ffff_ef10_0004;
pub const DEV_INIT_DATA_SENT: u64 = 0xffff_ffff_ef10_0005;

/// The version QEMU registers its VFIO handlers with.
pub const VFIO_VERSION_ID: u32 = 1;

/// The largest data chunk a receiver takes.  A sender writes at most its
/// read buffer (QEMU: 1 MiB); a size far beyond that is a broken or hostile
/// stream, refused before any of its bytes reach the device.
pub const MAX_CHUNK: u64 = 16 << 20;

/// A section's type, as its first byte says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Start,
    Part,
    End,
    Full,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Start => QEMU_VM_SECTION_START,
            Kind::Part => QEMU_VM_SECTION_PART,
            Kind::End => QEMU_VM_SECTION_END,
            Kind::Full => QEMU_VM_SECTION_FULL,
        }
    }

    fn from_byte(b: u8) -> Option<Kind> {
        [Kind::Start, Kind::Part, Kind::End, Kind::Full].iter().copied().find(|k| k.byte() == b)
    }

    /// START and FULL sections name their device.
    fn names_device(self) -> bool {
        matches!(self, Kind::Start | Kind::Full)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Start => "START",
            Kind::Part => "PART",
            Kind::End => "END",
            Kind::Full => "FULL",
        })
    }
}

/// What one side framed or parsed: the sender's and the receiver's must agree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub start: u32,
    pub part: u64,
    pub end: u32,
    pub full: u32,
    /// `DEV_DATA_STATE` chunks, and the device bytes in them.
    pub chunks: u64,
    pub payload: u64,
    /// Bytes of the whole stream.
    pub stream: u64,
}

impl Counts {
    pub fn sections(&self) -> u64 {
        u64::from(self.start) + self.part + u64::from(self.end) + u64::from(self.full)
    }

    fn count(&mut self, kind: Kind) {
        match kind {
            Kind::Start => self.start += 1,
            Kind::Part => self.part += 1,
            Kind::End => self.end += 1,
            Kind::Full => self.full += 1,
        }
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sections={} start={} part={} end={} full={} chunks={} payload={} stream={}",
            self.sections(),
            self.start,
            self.part,
            self.end,
            self.full,
            self.chunks,
            self.payload,
            self.stream
        )
    }
}

/// A deliberate fault in the first data chunk, to show the receiver's refusals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corrupt {
    /// A marker no VFIO device sends.
    Marker,
    /// A size of 1 TiB.
    Size,
}

/// The sending side: appends frames to the VMM's outgoing buffer.
#[derive(Debug)]
pub struct Writer {
    section_id: u32,
    idstr: String,
    instance_id: u32,
    corrupt: Option<Corrupt>,
    pub counts: Counts,
}

impl Writer {
    /// `idstr` and `instance_id` name the device on both sides, as QEMU's
    /// "<qdev path>/vfio" does; `section_id` is the sender's own number.
    pub fn new(section_id: u32, idstr: &str, instance_id: u32, corrupt: Option<Corrupt>) -> Writer {
        assert!(!idstr.is_empty() && idstr.len() <= 255, "an idstr is 1 to 255 bytes");
        Writer { section_id, idstr: idstr.to_string(), instance_id, corrupt, counts: Counts::default() }
    }

    fn put(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(bytes);
        self.counts.stream += bytes.len() as u64;
    }

    fn put_be64(&mut self, out: &mut Vec<u8>, v: u64) {
        self.put(out, &v.to_be_bytes());
    }

    pub fn file_header(&mut self, out: &mut Vec<u8>) {
        self.put(out, &QEMU_VM_FILE_MAGIC.to_be_bytes());
        self.put(out, &QEMU_VM_FILE_VERSION.to_be_bytes());
    }

    fn section_header(&mut self, out: &mut Vec<u8>, kind: Kind) {
        let mut h = vec![kind.byte()];
        h.extend_from_slice(&self.section_id.to_be_bytes());
        if kind.names_device() {
            h.push(self.idstr.len() as u8);
            h.extend_from_slice(self.idstr.as_bytes());
            h.extend_from_slice(&self.instance_id.to_be_bytes());
            h.extend_from_slice(&VFIO_VERSION_ID.to_be_bytes());
        }
        self.counts.count(kind);
        self.put(out, &h);
    }

    /// `END_OF_STATE`, then the section's footer.
    fn close_section(&mut self, out: &mut Vec<u8>) {
        self.put_be64(out, END_OF_STATE);
        self.put(out, &[QEMU_VM_SECTION_FOOTER]);
        self.put(out, &self.section_id.to_be_bytes());
    }

    fn chunk(&mut self, out: &mut Vec<u8>, data: &[u8]) {
        let (marker, size) = match self.corrupt.take() {
            Some(Corrupt::Marker) => (DEV_DATA_STATE | 0xff, data.len() as u64),
            Some(Corrupt::Size) => (DEV_DATA_STATE, 1 << 40),
            None => (DEV_DATA_STATE, data.len() as u64),
        };
        self.put_be64(out, marker);
        self.put_be64(out, size);
        self.put(out, data);
        self.counts.chunks += 1;
        self.counts.payload += data.len() as u64;
    }

    /// The START section: the device is set up (and in pre-copy if it can).
    pub fn setup(&mut self, out: &mut Vec<u8>) {
        self.section_header(out, Kind::Start);
        self.put_be64(out, DEV_SETUP_STATE);
        self.close_section(out);
    }

    /// One pre-copy iteration: a PART section with the bytes one read gave.
    pub fn precopy_chunk(&mut self, out: &mut Vec<u8>, data: &[u8]) {
        self.section_header(out, Kind::Part);
        self.chunk(out, data);
        self.close_section(out);
    }

    /// The device stopped: the END section opens; its chunks follow.
    pub fn begin_complete(&mut self, out: &mut Vec<u8>) {
        self.section_header(out, Kind::End);
    }

    pub fn stop_copy_chunk(&mut self, out: &mut Vec<u8>, data: &[u8]) {
        self.chunk(out, data);
    }

    /// The device's stream ended: close the END section, send the (empty)
    /// config section, and end the migration stream.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.close_section(out);
        self.section_header(out, Kind::Full);
        self.put_be64(out, DEV_CONFIG_STATE);
        self.close_section(out);
        self.put(out, &[QEMU_VM_EOF]);
    }
}

/// Why the receiver refused the stream, and where.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The channel byte where the refused field starts.
    pub offset: u64,
    pub what: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "channel byte {}: {}; the stream is refused", self.offset, self.what)
    }
}

impl std::error::Error for ParseError {}

/// Where the parser is: each state but `Payload` and `Done` waits for a
/// field of a fixed length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    FileHeader,
    SectionType,
    SectionId(Kind),
    IdLen(Kind, u32),
    IdStr(Kind, u32, usize),
    InstanceVersion(Kind, u32),
    /// A VFIO marker inside a section.
    Marker(Kind, u32),
    /// The marker after `DEV_SETUP_STATE` or `DEV_CONFIG_STATE`, which
    /// QEMU's loader wants to be `END_OF_STATE` at once.
    EndAfter(Kind, u32, u64),
    ChunkSize(Kind, u32),
    Payload(Kind, u32, u64),
    FooterMark(u32),
    FooterId(u32),
    Done,
}

fn marker_name(m: u64) -> &'static str {
    match m {
        END_OF_STATE => "END_OF_STATE",
        DEV_CONFIG_STATE => "DEV_CONFIG_STATE",
        DEV_SETUP_STATE => "DEV_SETUP_STATE",
        DEV_DATA_STATE => "DEV_DATA_STATE",
        DEV_INIT_DATA_SENT => "DEV_INIT_DATA_SENT",
        _ => "?",
    }
}

/// The receiving side: takes the stream in pieces of any size and hands
/// the device bytes on as soon as they arrive.  Its memory is one field
/// (at most 255 bytes), whatever sizes the stream declares.
#[derive(Debug)]
pub struct Parser {
    idstr: String,
    instance_id: u32,
    st: St,
    acc: Vec<u8>,
    /// Bytes taken so far, and where the field being gathered began.
    offset: u64,
    field_at: u64,
    /// The section id the START section gave the device.
    section_id: Option<u32>,
    ended: bool,
    pub counts: Counts,
}

impl Parser {
    /// A receiver for the device named `idstr`, `instance_id`.
    pub fn new(idstr: &str, instance_id: u32) -> Parser {
        Parser {
            idstr: idstr.to_string(),
            instance_id,
            st: St::FileHeader,
            acc: Vec::with_capacity(256),
            offset: 0,
            field_at: 0,
            section_id: None,
            ended: false,
            counts: Counts::default(),
        }
    }

    /// Whether `QEMU_VM_EOF` came, after a complete device state.
    pub fn done(&self) -> bool {
        self.st == St::Done
    }

    /// What the parser waits for, for a stream that stops short.
    pub fn waiting_for(&self) -> String {
        match self.st {
            St::Payload(k, _, left) => format!("{} more bytes of a data chunk in the {} section", left, k),
            St::Done => "nothing (the stream is complete)".to_string(),
            St::FileHeader => "the file header".to_string(),
            St::SectionType => "the next section".to_string(),
            st => format!("the rest of a frame ({:?})", st),
        }
    }

    fn fail<T>(&self, what: String) -> Result<T, ParseError> {
        Err(ParseError { offset: self.field_at, what })
    }

    fn need(&self) -> usize {
        match self.st {
            St::FileHeader | St::InstanceVersion(..) | St::Marker(..) | St::EndAfter(..) | St::ChunkSize(..) => 8,
            St::SectionType | St::IdLen(..) | St::FooterMark(_) => 1,
            St::SectionId(_) | St::FooterId(_) => 4,
            St::IdStr(_, _, n) => n,
            St::Payload(..) | St::Done => 0,
        }
    }

    /// Take `input`: the device bytes in it are appended to `payload`.
    pub fn feed(&mut self, mut input: &[u8], payload: &mut Vec<u8>) -> Result<(), ParseError> {
        while !input.is_empty() {
            if let St::Payload(kind, id, left) = self.st {
                let n = left.min(input.len() as u64) as usize;
                payload.extend_from_slice(&input[..n]);
                self.counts.payload += n as u64;
                self.take(n);
                input = &input[n..];
                self.st = if left == n as u64 { St::Marker(kind, id) } else { St::Payload(kind, id, left - n as u64) };
                continue;
            }
            if self.st == St::Done {
                self.field_at = self.offset;
                return self.fail(format!("{} bytes after QEMU_VM_EOF, the end of the stream", input.len()));
            }
            if self.acc.is_empty() {
                self.field_at = self.offset;
            }
            let n = (self.need() - self.acc.len()).min(input.len());
            self.acc.extend_from_slice(&input[..n]);
            self.take(n);
            input = &input[n..];
            if self.acc.len() == self.need() {
                let field = std::mem::take(&mut self.acc);
                let r = self.field(&field);
                self.acc = field;
                self.acc.clear();
                r?;
            }
        }
        Ok(())
    }

    fn take(&mut self, n: usize) {
        self.offset += n as u64;
        self.counts.stream += n as u64;
    }

    /// One complete field: check it and move on.
    fn field(&mut self, f: &[u8]) -> Result<(), ParseError> {
        let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let be64 = |b: &[u8]| u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        self.st = match self.st {
            St::FileHeader => self.file_header(be32(f), be32(&f[4..]))?,
            St::SectionType => self.section_type(f[0])?,
            St::SectionId(kind) => self.section_id(kind, be32(f))?,
            St::IdLen(kind, id) => match f[0] {
                0 => return self.fail(format!("a {} section with an empty idstr", kind)),
                n => St::IdStr(kind, id, n as usize),
            },
            St::IdStr(kind, id, _) => self.idstr(kind, id, f)?,
            St::InstanceVersion(kind, id) => self.instance_version(kind, id, be32(f), be32(&f[4..]))?,
            St::Marker(kind, id) => self.marker(kind, id, be64(f))?,
            St::EndAfter(_, id, after) => match be64(f) {
                END_OF_STATE => St::FooterMark(id),
                m => {
                    return self.fail(format!(
                        "0x{:016x} after {}, where END_OF_STATE must follow at once",
                        m,
                        marker_name(after)
                    ))
                }
            },
            St::ChunkSize(kind, id) => match be64(f) {
                0 => St::Marker(kind, id),
                n if n > MAX_CHUNK => {
                    return self.fail(format!(
                        "a data chunk of {} bytes, over the {} MiB a chunk may have (QEMU sends at most 1 MiB)",
                        n,
                        MAX_CHUNK >> 20
                    ))
                }
                n => {
                    self.counts.chunks += 1;
                    St::Payload(kind, id, n)
                }
            },
            St::FooterMark(id) => match f[0] {
                QEMU_VM_SECTION_FOOTER => St::FooterId(id),
                b => return self.fail(format!("0x{:02x} where the footer (0x7e) of section {} belongs", b, id)),
            },
            St::FooterId(id) => match be32(f) {
                got if got == id => St::SectionType,
                got => return self.fail(format!("the footer of section {} says section {}", id, got)),
            },
            St::Payload(..) | St::Done => unreachable!("no field is gathered in {:?}", self.st),
        };
        Ok(())
    }

    fn file_header(&self, magic: u32, version: u32) -> Result<St, ParseError> {
        if magic != QEMU_VM_FILE_MAGIC {
            let what = format!("magic 0x{:08x}, not QEMU_VM_FILE_MAGIC (0x{:08x}, \"QEVM\")", magic, QEMU_VM_FILE_MAGIC);
            return self.fail(what);
        }
        if version != QEMU_VM_FILE_VERSION {
            return self.fail(format!("stream version {}, not {}", version, QEMU_VM_FILE_VERSION));
        }
        Ok(St::SectionType)
    }

    fn section_type(&mut self, b: u8) -> Result<St, ParseError> {
        if b == QEMU_VM_EOF {
            return match (self.section_id, self.ended, self.counts.full) {
                (Some(_), true, 1) => Ok(St::Done),
                _ => self.fail(
                    "QEMU_VM_EOF before the device's START, END and FULL sections all came: \
                     its state is incomplete"
                        .into(),
                ),
            };
        }
        match Kind::from_byte(b) {
            Some(kind) => Ok(St::SectionId(kind)),
            None => self.fail(format!(
                "section type 0x{:02x}: not START, PART, END, FULL or EOF \
                 (the other records of QEMU's stream are not modelled here)",
                b
            )),
        }
    }

    fn section_id(&mut self, kind: Kind, id: u32) -> Result<St, ParseError> {
        match (kind, self.section_id) {
            (Kind::Start, Some(known)) => self.fail(format!("a second START section (id {}; the first was {})", id, known)),
            (Kind::Start, None) => Ok(St::IdLen(kind, id)),
            (_, None) => self.fail(format!("a {} section (id {}) before the device's START section", kind, id)),
            (_, Some(known)) if known != id => self.fail(format!(
                "a {} section for section id {}, unknown here (the device is section {})",
                kind, id, known
            )),
            (Kind::Full, Some(_)) => Ok(St::IdLen(kind, id)),
            (_, Some(_)) if self.ended => self.fail(format!("a {} section after the device's END section", kind)),
            (_, Some(_)) => {
                self.counts.count(kind);
                self.ended = kind == Kind::End;
                Ok(St::Marker(kind, id))
            }
        }
    }

    fn idstr(&self, kind: Kind, id: u32, s: &[u8]) -> Result<St, ParseError> {
        if s != self.idstr.as_bytes() {
            return self.fail(format!(
                "a {} section for \"{}\": this VMM has no such device (it loads \"{}\")",
                kind,
                String::from_utf8_lossy(s),
                self.idstr
            ));
        }
        Ok(St::InstanceVersion(kind, id))
    }

    fn instance_version(&mut self, kind: Kind, id: u32, instance: u32, version: u32) -> Result<St, ParseError> {
        if instance != self.instance_id {
            return self.fail(format!(
                "a {} section for instance {} of \"{}\"; this VMM loads instance {}",
                kind, instance, self.idstr, self.instance_id
            ));
        }
        if version != VFIO_VERSION_ID {
            return self.fail(format!(
                "a {} section of version {}; the VFIO device state has version {}",
                kind, version, VFIO_VERSION_ID
            ));
        }
        if kind == Kind::Full && self.counts.full > 0 {
            return self.fail("a second FULL section (config state) for the device".into());
        }
        if kind == Kind::Start {
            self.section_id = Some(id);
        }
        self.counts.count(kind);
        Ok(St::Marker(kind, id))
    }

    /// A marker, where QEMU's sender puts it: setup in START, data in PART
    /// and END, config in FULL.
    fn marker(&self, kind: Kind, id: u32, m: u64) -> Result<St, ParseError> {
        let placed = match m {
            END_OF_STATE => return Ok(St::FooterMark(id)),
            DEV_SETUP_STATE => kind == Kind::Start,
            DEV_DATA_STATE => matches!(kind, Kind::Part | Kind::End),
            DEV_CONFIG_STATE => kind == Kind::Full,
            DEV_INIT_DATA_SENT => {
                return self.fail("DEV_INIT_DATA_SENT, but switchover-ack was not negotiated on this channel".into())
            }
            _ => {
                return self.fail(format!(
                    "unknown marker 0x{:016x} in a {} section \
                     (VFIO markers are 0xffffffffef100001 to 0xffffffffef100005)",
                    m, kind
                ))
            }
        };
        if !placed {
            return self.fail(format!("{} in a {} section, where QEMU never puts it", marker_name(m), kind));
        }
        Ok(match m {
            DEV_DATA_STATE => St::ChunkSize(kind, id),
            _ => St::EndAfter(kind, id, m),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "hostdev0/vfio";

    /// A whole stream with pre-copy and stop-copy chunks, and its payload.
    fn stream() -> (Vec<u8>, Vec<u8>, Counts) {
        let mut w = Writer::new(7, ID, 0, None);
        let mut out = Vec::new();
        let mut payload = Vec::new();
        w.file_header(&mut out);
        w.setup(&mut out);
        for (i, n) in [1usize, 300, 65536].iter().enumerate() {
            let data: Vec<u8> = (0..*n).map(|j| (i * 31 + j) as u8).collect();
            w.precopy_chunk(&mut out, &data);
            payload.extend_from_slice(&data);
        }
        w.begin_complete(&mut out);
        for n in [4096usize, 17] {
            let data = vec![0xa5u8; n];
            w.stop_copy_chunk(&mut out, &data);
            payload.extend_from_slice(&data);
        }
        w.finish(&mut out);
        (out, payload, w.counts)
    }

    fn parse_split(bytes: &[u8], mut split: impl FnMut() -> usize) -> Result<(Vec<u8>, Parser), ParseError> {
        let mut p = Parser::new(ID, 0);
        let mut payload = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = split().clamp(1, rest.len());
            p.feed(&rest[..n], &mut payload)?;
            rest = &rest[n..];
        }
        Ok((payload, p))
    }

    #[test]
    fn any_split_gives_the_same_payload_and_counts() {
        let (bytes, payload, counts) = stream();
        assert_eq!(counts.part, 3);
        assert_eq!(counts.chunks, 5);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let splits: Vec<Box<dyn FnMut() -> usize>> = vec![
            Box::new(|| usize::MAX),
            Box::new(|| 1),
            Box::new(|| 7),
            Box::new(move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % 97) as usize
            }),
        ];
        for split in splits {
            let (got, p) = parse_split(&bytes, split).expect("a good stream parses");
            assert!(p.done());
            assert!(got == payload, "payload differs");
            assert_eq!(p.counts, counts);
        }
    }

    /// `bytes` with the be64 at `at` replaced by `v`.
    fn patched(at: usize, v: u64) -> Vec<u8> {
        let mut b = stream().0;
        b[at..at + 8].copy_from_slice(&v.to_be_bytes());
        b
    }

    /// Where the first PART section's data chunk starts.
    fn first_chunk() -> usize {
        let start = 1 + 4 + 1 + ID.len() + 4 + 4 + 8 + 8 + 5;
        8 + start + 1 + 4
    }

    fn refusal(bytes: &[u8]) -> ParseError {
        parse_split(bytes, || 3).expect_err("the stream must be refused")
    }

    #[test]
    fn refuses_an_unknown_marker() {
        let at = first_chunk();
        let e = refusal(&patched(at, 0xffff_ffff_ef10_00ff));
        assert_eq!(e.offset, at as u64);
        assert!(e.what.contains("unknown marker 0xffffffffef1000ff"), "{}", e);
    }

    #[test]
    fn refuses_a_chunk_past_the_limit() {
        let at = first_chunk() + 8;
        let e = refusal(&patched(at, MAX_CHUNK + 1));
        assert_eq!(e.offset, at as u64);
        assert!(e.what.contains("over the 16 MiB"), "{}", e);
        // The limit itself is a size a chunk may have: the parser waits for its bytes.
        let (_, p) = parse_split(&patched(at, MAX_CHUNK), || 3).expect("a chunk at the limit is taken");
        assert!(!p.done());
    }

    #[test]
    fn a_corrupting_writer_is_refused_at_its_first_chunk() {
        for (corrupt, what) in [(Corrupt::Marker, "unknown marker"), (Corrupt::Size, "a data chunk of 1099511627776 bytes")] {
            let mut w = Writer::new(7, ID, 0, Some(corrupt));
            let mut out = Vec::new();
            w.file_header(&mut out);
            w.setup(&mut out);
            w.precopy_chunk(&mut out, &[1, 2, 3]);
            let e = refusal(&out);
            assert!(e.what.contains(what), "{:?}: {}", corrupt, e);
            assert!(e.offset == first_chunk() as u64 || e.offset == first_chunk() as u64 + 8, "{}", e);
        }
    }

    #[test]
    fn refuses_broken_framing() {
        let (good, _, _) = stream();
        let mut cases: Vec<(Vec<u8>, &str)> = Vec::new();
        let mut b = good.clone();
        b[0] ^= 1;
        cases.push((b, "not QEMU_VM_FILE_MAGIC"));
        let mut b = good.clone();
        b[8] = 0x09;
        cases.push((b, "section type 0x09"));
        let mut b = good.clone();
        b[8] = QEMU_VM_SECTION_PART;
        cases.push((b, "before the device's START"));
        let mut b = good.clone();
        b[8 + 1 + 4 + 1] = b'X';
        cases.push((b, "no such device"));
        cases.push((patched(first_chunk(), DEV_SETUP_STATE), "DEV_SETUP_STATE in a PART section"));
        cases.push((patched(first_chunk(), DEV_INIT_DATA_SENT), "switchover-ack"));
        let mut b = good.clone();
        b.push(0);
        cases.push((b, "after QEMU_VM_EOF"));
        let mut b = good.clone();
        let footer_id = first_chunk() - 4 - 1 - 4;
        b[footer_id + 3] ^= 1;
        cases.push((b, "the footer of section 7 says section 6"));
        let mut b = good;
        let eof = b.len() - 1;
        b.truncate(eof - (1 + 4 + 1 + ID.len() + 4 + 4 + 8 + 8 + 5));
        b.push(QEMU_VM_EOF);
        cases.push((b, "state is incomplete"));
        for (bytes, what) in cases {
            let e = refusal(&bytes);
            assert!(e.what.contains(what), "wanted \"{}\", got: {}", what, e);
        }
    }

    #[test]
    fn a_short_stream_is_not_done() {
        let (bytes, _, _) = stream();
        let (_, p) = parse_split(&bytes[..bytes.len() - 100], || 4096).unwrap();
        assert!(!p.done());
        assert!(p.waiting_for().contains("more bytes of a data chunk in the END section"), "{}", p.waiting_for());
    }
}
