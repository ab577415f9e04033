//! A Cancel raised from another thread ends a transfer within 500 ms and
//! leaves the sources RUNNING; it reaches only the calls it was given to.

mod common;

use std::os::unix::io::AsFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vfiomig::{mock, Cancel, Device, Group, Precopy, SaveOptions, State};

const LIMIT: Duration = Duration::from_millis(500);

/// Raises `c` after `after`, and says when.
fn raise_later(c: &Cancel, after: Duration) -> mpsc::Receiver<Instant> {
    let (tx, rx) = mpsc::channel();
    let c = c.clone();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let at = Instant::now();
        c.raise();
        tx.send(at).unwrap();
    });
    rx
}

#[test]
fn cancel_ends_a_device_save_with_the_source_running() {
    let ctx = mock::context().unwrap();
    // 16 MiB at 4 MiB/s: four seconds if nothing stops it.
    let mut dev = Device::open(&ctx, "mock:c,size=16M,rate=4M").unwrap();
    let f = common::tempfile();
    let cancel = Cancel::new();
    let raised = raise_later(&cancel, Duration::from_millis(300));
    let e = dev.save(&f, SaveOptions::new().precopy(Precopy::Auto(0)).cancel(&cancel)).unwrap_err();
    let latency = raised.recv().unwrap().elapsed();
    assert_eq!(e.errno(), libc::ECANCELED, "{}", e);
    assert!(latency < LIMIT, "the save ended {:?} after the cancel", latency);
    assert_eq!(e.state(), Some(State::Running));
    assert_eq!(dev.state().unwrap(), State::Running);

    // It stays raised, and cancels a call that starts later at once.
    assert!(cancel.is_raised());
    let e = dev.save(&f, SaveOptions::new().cancel(&cancel)).unwrap_err();
    assert_eq!(e.errno(), libc::ECANCELED);
    cancel.clear();
    let g = common::tempfile();
    let mut small = Device::open(&ctx, "mock:small,size=8K").unwrap();
    small.save(&g, SaveOptions::new().cancel(&cancel)).unwrap();
}

#[test]
fn cancel_ends_a_group_save_with_every_source_running() {
    let ctx = mock::context().unwrap();
    let mut g = Group::new(&ctx).unwrap();
    for n in ["g1", "g2"] {
        g.add(Device::open(&ctx, &format!("mock:{},size=16M,rate=4M", n)).unwrap()).unwrap();
    }
    let f = common::tempfile();
    let cancel = Cancel::new();
    let raised = raise_later(&cancel, Duration::from_millis(300));
    let e = g.save(&[f.as_fd()], SaveOptions::new().precopy(Precopy::Auto(0)).cancel(&cancel)).unwrap_err();
    let latency = raised.recv().unwrap().elapsed();
    assert_eq!(e.errno(), libc::ECANCELED, "{}", e);
    assert!(latency < LIMIT, "the group save ended {:?} after the cancel", latency);
    assert_eq!(e.outcomes().len(), 2);
    for o in e.outcomes() {
        assert_eq!(o.state, Some(State::Running), "{:?}", o);
    }
}

#[test]
fn one_cancel_ends_calls_on_two_threads_and_no_other() {
    let ctx = mock::context().unwrap();
    let cancel = Cancel::new();
    let mut workers = Vec::new();
    for n in ["t1", "t2"] {
        let mut dev = Device::open(&ctx, &format!("mock:{},size=16M,rate=4M", n)).unwrap();
        let c = cancel.clone();
        workers.push(std::thread::spawn(move || {
            let f = common::tempfile();
            let e = dev.save(&f, SaveOptions::new().precopy(Precopy::Auto(0)).cancel(&c)).unwrap_err();
            (e.errno(), dev.state().unwrap())
        }));
    }
    // A save that was not given the handle is not cancelled.
    let mut other = Device::open(&ctx, "mock:other,size=1M,rate=4M").unwrap();
    let raised = raise_later(&cancel, Duration::from_millis(100));
    let f = common::tempfile();
    other.save(&f, SaveOptions::new()).unwrap();
    let at = raised.recv().unwrap();
    for w in workers {
        assert_eq!(w.join().unwrap(), (libc::ECANCELED, State::Running));
    }
    assert!(at.elapsed() < Duration::from_secs(2));
}
