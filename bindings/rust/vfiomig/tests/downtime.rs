//! A save to a downtime target through the safe API: the estimate, the
//! deadline's two choices, progress, and a group's member figures.

mod common;

use std::os::unix::io::AsFd;
use std::time::Duration;

use vfiomig::{mock, Device, Group, OnTimeout, SaveOptions, State};

const MS: Duration = Duration::from_millis(1);

#[test]
fn target_met_and_reported() {
    let ctx = mock::context().unwrap();
    let mut dev = Device::open(&ctx, "mock:t,size=8M,rate=64M,dirtyplan=4M").unwrap();
    let f = common::tempfile();
    let st = dev.save(&f, SaveOptions::new().precopy(vfiomig::Precopy::Auto(0)).downtime_limit(50 * MS)).unwrap();
    let est = st.downtime_estimate.expect("an estimate at the switchover");
    assert!(est <= 50 * MS, "{:?}", est);
    assert!(st.precopy_bandwidth.unwrap() > 0);
    assert!(!st.precopy_timed_out);
}

#[test]
fn progress_has_the_estimate_and_the_target() {
    let ctx = mock::context().unwrap();
    let mut dev = Device::open(&ctx, "mock:p,size=4M,rate=8M,dirtyplan=2M").unwrap();
    let f = common::tempfile();
    let mut seen = Vec::new();
    dev.save(
        &f,
        SaveOptions::new()
            .precopy(vfiomig::Precopy::Auto(0))
            .downtime_limit(20 * MS)
            .precopy_timeout(Duration::from_millis(1500), OnTimeout::Switch)
            .progress(|p| seen.push((p.phase, p.downtime_estimate, p.downtime_limit))),
    )
    .unwrap();
    let pre = seen.iter().filter(|s| s.0 == vfiomig::Phase::Precopy);
    assert!(pre.clone().all(|s| s.2 == Some(20 * MS)), "{:?}", seen);
    assert!(pre.clone().any(|s| s.1.is_some()), "{:?}", seen);
    assert!(seen[0].1.is_none(), "no estimate before a round: {:?}", seen);
}

#[test]
fn deadline_abort_and_switch() {
    let ctx = mock::context().unwrap();
    let mut dev = Device::open(&ctx, "mock:a,size=1M,rate=8M,dirtyplan=16M").unwrap();
    let f = common::tempfile();
    let opts = || {
        SaveOptions::new().precopy(vfiomig::Precopy::Auto(0)).downtime_limit(10 * MS)
    };
    let e = dev.save(&f, opts().precopy_timeout(300 * MS, OnTimeout::Abort)).unwrap_err();
    assert_eq!(e.errno(), libc::ETIMEDOUT);
    assert!(e.message().contains("a target of 10.0 ms"), "{}", e.message());
    assert_eq!(dev.state().unwrap(), State::Running);
    let st = dev.save(&f, opts().precopy_timeout(300 * MS, OnTimeout::Switch)).unwrap();
    assert!(st.precopy_timed_out);
    assert!(st.downtime_estimate.unwrap() > 10 * MS);
}

#[test]
fn group_members_have_their_figures() {
    let ctx = mock::context().unwrap();
    let mut g = Group::new(&ctx).unwrap();
    g.add(Device::open(&ctx, "mock:ga,size=2M,rate=32M,dirtyplan=2M").unwrap()).map_err(|_| ()).unwrap();
    g.add(Device::open(&ctx, "mock:gb,size=1M,rate=16M,dirtyplan=1M").unwrap()).map_err(|_| ()).unwrap();
    let f = common::tempfile();
    let st = g
        .save(
            &[f.as_fd()],
            SaveOptions::new()
                .precopy(vfiomig::Precopy::Auto(0))
                .downtime_limit(50 * MS)
                .precopy_timeout(Duration::from_secs(5), OnTimeout::Switch),
        )
        .unwrap();
    assert!(st.downtime_estimate.is_some());
    for i in 0..2 {
        let r = g.result(i).unwrap();
        assert!(r.downtime_estimate.is_some() && r.precopy_bandwidth.is_some(), "{:?}", r);
    }
}
