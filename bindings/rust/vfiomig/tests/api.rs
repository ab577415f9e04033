//! The safe API against mock devices: states, transfers, errors, adoption,
//! the raw data path and dirty tracking.

mod common;

use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd};

use vfiomig::{mock, Device, Error, Group, LoadOptions, MigFlags, Precopy, Read, SaveOptions, State};

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}

#[test]
fn thread_traits() {
    assert_send::<vfiomig::Ctx>();
    assert_sync::<vfiomig::Ctx>();
    assert_send::<Device>();
    assert_send::<Group>();
    assert_send::<vfiomig::Cancel>();
    assert_sync::<vfiomig::Cancel>();
    assert_send::<Error>();
    assert_sync::<Error>();
}

#[test]
fn states_parse_and_path() {
    assert_eq!("pre-copy-p2p".parse::<State>().unwrap(), State::PreCopyP2p);
    let e = "sleeping".parse::<State>().unwrap_err();
    assert!(e.to_string().contains("\"sleeping\" names no migration state"), "{}", e);
    let all = MigFlags::STOP_COPY | MigFlags::P2P | MigFlags::PRE_COPY;
    assert_eq!(
        vfiomig::path(all, State::Running, State::StopCopy).unwrap(),
        vec![State::RunningP2p, State::Stop, State::StopCopy]
    );
    assert_eq!(vfiomig::path(MigFlags::STOP_COPY, State::Running, State::StopCopy).unwrap(), vec![State::Stop, State::StopCopy]);
    assert!(vfiomig::path(MigFlags::P2P, State::Running, State::Stop).is_err());
    assert!(State::Stop.arc_opens_fd(State::StopCopy));
    assert_eq!(State::RunningP2p.to_string(), "RUNNING_P2P");
}

#[test]
fn save_and_load_byte_equal() {
    let ctx = mock::context().unwrap();
    let mut src = Device::open(&ctx, "mock:src,size=300K,dirty=64K").unwrap();
    let mut dst = Device::open(&ctx, "mock:dst,size=300K,state=STOP").unwrap();
    assert_eq!(src.name(), "mock:src");
    assert_eq!(src.transport(), "mock");
    let mut f = common::tempfile();
    let mut phases = Vec::new();
    let saved = src
        .save(&f, SaveOptions::new().precopy(Precopy::Rounds(2)).progress(|p| phases.push(p.phase)))
        .unwrap();
    assert_eq!(saved.precopy_rounds, 2);
    assert!(phases.contains(&vfiomig::Phase::Precopy) && phases.contains(&vfiomig::Phase::StopCopy), "{:?}", phases);
    assert_eq!(src.state().unwrap(), State::Stop);
    common::rewind(&mut f);
    let loaded = dst.load(&f, LoadOptions::new()).unwrap();
    assert_eq!(loaded.stream_bytes, saved.stream_bytes);
    assert_eq!(dst.state().unwrap(), State::Running);

    // Both now hold one state: their raw saves are byte-equal.
    let (mut a, mut b) = (common::tempfile(), common::tempfile());
    src.save(&a, SaveOptions::new().raw(true)).unwrap();
    dst.save(&b, SaveOptions::new().raw(true)).unwrap();
    let (a, b) = (common::contents(&mut a), common::contents(&mut b));
    assert!(a.len() >= 300 << 10, "{} bytes", a.len());
    assert!(a == b, "the destination's state differs from the source's");
}

#[test]
fn errors_carry_errno_sentence_and_state() {
    let ctx = mock::context().unwrap();
    let e = Device::open(&ctx, "mock:x,colour=blue").unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL);
    assert!(e.bad_spec());
    assert!(e.message().contains("colour"), "{}", e.message());

    // A load of a corrupt stream: EBADMSG, the offset, the device in STOP.
    let mut src = Device::open(&ctx, "mock:c1,size=64K").unwrap();
    let mut dst = Device::open(&ctx, "mock:c2,size=64K,state=STOP").unwrap();
    let mut f = common::tempfile();
    src.save(&f, SaveOptions::new()).unwrap();
    let mut bytes = common::contents(&mut f);
    let n = bytes.len();
    bytes[n / 2] ^= 0x40;
    let mut g = common::tempfile();
    std::io::Write::write_all(&mut g, &bytes).unwrap();
    common::rewind(&mut g);
    let e = dst.load(&g, LoadOptions::new().force(true)).unwrap_err();
    assert_eq!(e.errno(), libc::EBADMSG, "{}", e);
    assert!(e.stream_offset().is_some());
    assert_eq!(e.device(), Some("mock:c2"));
    assert_eq!(e.state(), Some(State::Stop));
    assert_eq!(e.outcomes()[0].state, Some(State::Stop));
    assert!(e.stats().is_some());
    assert_ne!(dst.state().unwrap(), State::Running);

    // It converts into an io::Error of the errno's kind that keeps it.
    let io: std::io::Error = e.into();
    assert_eq!(io.kind(), std::io::Error::from_raw_os_error(libc::EBADMSG).kind());
    let inner = io.get_ref().unwrap().downcast_ref::<Error>().unwrap();
    assert_eq!(inner.errno(), libc::EBADMSG);
}

#[test]
fn unreachable_state_is_refused() {
    let ctx = mock::context().unwrap();
    let mut dev = Device::open(&ctx, "mock:np,flags=stop_copy").unwrap();
    let e = dev.set_state(State::RunningP2p).unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL);
    assert!(!e.message().is_empty());
    assert_eq!(dev.state().unwrap(), State::Running);
}

#[test]
fn adopt_owned_and_borrowed() {
    let ctx = mock::context().unwrap();
    let opened = Device::open(&ctx, "mock:ad,size=16K").unwrap();
    // SAFETY (of the test): the fd lives as long as `opened`, past the borrow.
    let fd = unsafe { BorrowedFd::borrow_raw(opened.as_raw_fd()) };
    let mut adopted = Device::adopt_borrowed(&ctx, fd).unwrap();
    assert_ne!(adopted.as_raw_fd(), opened.as_raw_fd(), "adopt_borrowed works on a duplicate");
    assert!(adopted.is_same(&opened));
    adopted.set_state(State::Stop).unwrap();
    assert_eq!(opened.state().unwrap(), State::Stop);
    let dup = fd.try_clone_to_owned().unwrap();
    let dup_raw = dup.as_raw_fd();
    let owned = Device::adopt(&ctx, dup).unwrap();
    assert_eq!(owned.as_raw_fd(), dup_raw);
    drop(owned);
    // The adopted fd was closed with its Device; the borrowed one was not.
    assert_eq!(unsafe { libc::fcntl(dup_raw, libc::F_GETFD) }, -1);
    drop(adopted);
    assert!(unsafe { libc::fcntl(opened.as_raw_fd(), libc::F_GETFD) } >= 0);
}

#[test]
fn raw_data_path() {
    let ctx = mock::context().unwrap();
    let mut src = Device::open(&ctx, "mock:r1,size=100K").unwrap();
    let mut dst = Device::open(&ctx, "mock:r2,size=100K,state=STOP").unwrap();
    let (fd, state) = src.begin_save(false).unwrap();
    assert_eq!(state, State::StopCopy);
    let mut data = Vec::new();
    let mut buf = vec![0u8; 7000];
    loop {
        match src.read(&fd, &mut buf, false).unwrap() {
            Read::Data(n) => data.extend_from_slice(&buf[..n]),
            Read::Again | Read::Drained => continue,
            Read::End => break,
        }
    }
    drop(fd);
    let wfd = dst.begin_load().unwrap();
    assert_eq!(dst.state().unwrap(), State::Resuming);
    let mut off = 0;
    while off < data.len() {
        off += dst.write_some(wfd.as_fd(), &data[off..(off + 4096).min(data.len())]).unwrap().unwrap_or(0);
    }
    dst.finish_load(State::Running).unwrap();
    assert_eq!(dst.state().unwrap(), State::Running);
}

#[test]
fn dirty_tracking_reports_the_dma() {
    let ctx = mock::context().unwrap();
    let mut dev = Device::open(&ctx, "mock:dt,dirtylog=1").unwrap();
    let ranges = [vfiomig::IovaRange { iova: 0, length: 1 << 20 }];
    let mut s = dev.dirty_start(&ranges, &vfiomig::DirtyOptions::default()).unwrap();
    let info = s.info();
    assert_eq!(info.mechanism, vfiomig::Mechanism::Device);
    assert_eq!(info.page_size, 4096);
    mock::dma(s.get_mut(), 3 * 4096, 2 * 4096).unwrap();
    let mut bitmap = vec![0u64; 4];
    assert_eq!(s.report(0, 1 << 20, &mut bitmap).unwrap(), 2);
    assert_eq!(bitmap[0], 0b11000);
    // A report outside the session fails, and says "all dirty".
    let mut small = vec![0u64; 1];
    let e = s.report(2 << 20, 4096, &mut small).unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL);
    s.stop().unwrap();
    assert!(s.info().stopped);
}

#[test]
fn group_refuses_a_member_twice_and_hands_it_back() {
    let ctx = mock::context().unwrap();
    let mut g = Group::new(&ctx).unwrap();
    g.add(Device::open(&ctx, "mock:g1").unwrap()).unwrap();
    let again = Device::open(&ctx, "mock:g1").unwrap();
    let e = g.add(again).unwrap_err();
    assert_eq!(e.error.errno(), libc::EEXIST);
    assert_eq!(e.device.name(), "mock:g1");
    assert_eq!(g.len(), 1);
}

#[test]
fn log_function_sees_the_library() {
    let ctx = mock::context().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let l2 = lines.clone();
    ctx.set_log(move |_, m| l2.lock().unwrap().push(m.to_string()));
    ctx.set_log_priority(7);
    let mut dev = Device::open(&ctx, "mock:lg").unwrap();
    dev.set_state(State::Stop).unwrap();
    assert!(lines.lock().unwrap().iter().any(|l| l.contains("mock:lg")));
}
