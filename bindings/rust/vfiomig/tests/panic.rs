//! A panic in a progress closure or a hook never crosses into C: the call
//! fails cleanly (the devices are put back), then the panic resumes here.

mod common;

use std::os::unix::io::AsFd;
use std::panic::{catch_unwind, AssertUnwindSafe};

use vfiomig::{mock, Device, Group, LoadOptions, Precopy, SaveOptions, State};

fn message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default()
}

#[test]
fn progress_panic_fails_the_save_and_resumes() {
    let ctx = mock::context().unwrap();
    let mut dev = Device::open(&ctx, "mock:p,size=2M,rate=8M").unwrap();
    let f = common::tempfile();
    let mut calls = 0;
    let r = catch_unwind(AssertUnwindSafe(|| {
        dev.save(
            &f,
            SaveOptions::new().precopy(Precopy::Auto(0)).progress(|_| {
                calls += 1;
                if calls == 2 {
                    panic!("progress closure gave up");
                }
            }),
        )
    }));
    let payload = r.expect_err("the panic must resume after the call");
    assert_eq!(message(payload), "progress closure gave up");
    assert_eq!(calls, 2, "a closure that panicked is not called again");
    // The save failed as a cancelled one does: the source runs on.
    assert_eq!(dev.state().unwrap(), State::Running);
    // ... and the device and the context still work.
    let g = common::tempfile();
    dev.save(&g, SaveOptions::new()).unwrap();
    assert_eq!(dev.state().unwrap(), State::Stop);
}

#[test]
fn hook_panic_rolls_the_group_back_and_resumes() {
    let ctx = mock::context().unwrap();
    let mut g = Group::new(&ctx).unwrap();
    for n in ["hp1", "hp2"] {
        g.add(Device::open(&ctx, &format!("mock:{},size=64K", n)).unwrap()).unwrap();
    }
    let f = common::tempfile();
    let r = catch_unwind(AssertUnwindSafe(|| {
        g.with_hook(|_, _: &[Device]| -> std::io::Result<()> { panic!("hook gave up") })
            .save(&[f.as_fd()], SaveOptions::new())
    }));
    assert_eq!(message(r.expect_err("the panic must resume")), "hook gave up");
    for m in g.members() {
        assert_eq!(m.state().unwrap(), State::Running);
    }
    g.set_state(State::Stop).unwrap();
}

#[test]
fn load_progress_panic_leaves_no_destination_running() {
    let ctx = mock::context().unwrap();
    let mut src = Device::open(&ctx, "mock:lp1,size=4M").unwrap();
    let mut dst = Device::open(&ctx, "mock:lp2,size=4M,state=STOP,rate=8M").unwrap();
    let mut f = common::tempfile();
    src.save(&f, SaveOptions::new()).unwrap();
    common::rewind(&mut f);
    let r = catch_unwind(AssertUnwindSafe(|| {
        dst.load(&f, LoadOptions::new().progress(|p| {
            if p.phase == vfiomig::Phase::Load && p.bytes > 0 {
                panic!("load progress gave up");
            }
        }))
    }));
    assert_eq!(message(r.expect_err("the panic must resume")), "load progress gave up");
    // Loaded in part, so never running: reset and left in STOP.
    assert_eq!(dst.state().unwrap(), State::Stop);
}
