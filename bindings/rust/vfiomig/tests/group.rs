//! Groups through the safe API: the hook once per phase, in the phases'
//! order (the mock's journal), a hook that refuses, and a group migration.

mod common;

use std::io;
use std::os::unix::io::AsFd;

use vfiomig::{mock, Ctx, Device, Group, GroupPoint, LoadOptions, Precopy, SaveOptions, State};

fn group(ctx: &Ctx, names: &[&str], keys: &str) -> Group {
    let mut g = Group::new(ctx).unwrap();
    for n in names {
        g.add(Device::open(ctx, &format!("mock:{}{}", n, keys)).unwrap()).unwrap();
    }
    g
}

/// The index of the first journal arc into `to`, and of the last.
fn span(ctx: &Ctx, to: State) -> (usize, usize) {
    let j = mock::journal(ctx);
    let idx: Vec<usize> = j.iter().enumerate().filter(|(_, a)| a.to == Some(to)).map(|(i, _)| i).collect();
    (idx[0], *idx.last().unwrap())
}

#[test]
fn hook_once_per_phase_between_the_phases() {
    let ctx = mock::context().unwrap();
    let mut g = group(&ctx, &["h1", "h2"], "");
    let mut calls = Vec::new();
    let mut seen_states = Vec::new();
    g.with_hook(|point, members: &[Device]| {
        calls.push(point);
        for m in members {
            seen_states.push(m.state().unwrap());
        }
        Ok(())
    })
    .set_state(State::Stop)
    .unwrap();
    assert_eq!(calls, vec![GroupPoint::Quiesced]);
    assert_eq!(seen_states, vec![State::RunningP2p, State::RunningP2p]);
    let (_, last_p2p) = span(&ctx, State::RunningP2p);
    let (first_stop, _) = span(&ctx, State::Stop);
    assert!(last_p2p < first_stop, "a member stopped before every member was quiesced");

    mock::journal_clear(&ctx);
    let mut calls = Vec::new();
    g.with_hook(|p, _: &[Device]| {
        calls.push(p);
        Ok(())
    })
    .set_state(State::Running)
    .unwrap();
    assert_eq!(calls, vec![GroupPoint::Ready]);
    let (_, last_p2p) = span(&ctx, State::RunningP2p);
    let (first_run, _) = span(&ctx, State::Running);
    assert!(last_p2p < first_run, "a member ran before every member was loaded");
}

#[test]
fn a_hook_that_refuses_rolls_back_with_its_error() {
    let ctx = mock::context().unwrap();
    let mut g = group(&ctx, &["r1", "r2"], "");
    let e = g
        .with_hook(|_, _: &[Device]| Err(io::Error::new(io::ErrorKind::Other, "the vCPUs would not stop")))
        .set_state(State::Stop)
        .unwrap_err();
    assert_eq!(e.errno(), libc::ECANCELED);
    let source = std::error::Error::source(&e).expect("the hook's error");
    assert_eq!(source.to_string(), "the vCPUs would not stop");
    assert_eq!(e.outcomes().len(), 2);
    for o in e.outcomes() {
        assert_eq!(o.state, Some(State::Running), "{:?}", o);
    }
    let e = g.with_hook(|_, _: &[Device]| Err(io::Error::from_raw_os_error(libc::EIO))).set_state(State::Stop).unwrap_err();
    assert_eq!(e.errno(), libc::EIO);
    for m in g.members() {
        assert_eq!(m.state().unwrap(), State::Running);
    }
}

#[test]
fn group_migration_with_precopy_is_byte_equal() {
    let ctx = mock::context().unwrap();
    let mut src = group(&ctx, &["s1", "s2"], ",size=200K,dirty=64K");
    let mut dst = Group::new(&ctx).unwrap();
    for n in ["d1", "d2"] {
        dst.add(Device::open(&ctx, &format!("mock:{},size=200K,state=STOP", n)).unwrap()).unwrap();
    }
    let mut f = common::tempfile();
    let mut points = Vec::new();
    let saved = src
        .with_hook(|p, _: &[Device]| {
            points.push(p);
            Ok(())
        })
        .save(&[f.as_fd()], SaveOptions::new().precopy(Precopy::Rounds(2)))
        .unwrap();
    assert_eq!(points, vec![GroupPoint::Quiesced]);
    assert_eq!(saved.precopy_rounds, 2);
    common::rewind(&mut f);
    let mut points = Vec::new();
    dst.with_hook(|p, _: &[Device]| {
        points.push(p);
        Ok(())
    })
    .load(&[f.as_fd()], LoadOptions::new())
    .unwrap();
    assert_eq!(points, vec![GroupPoint::Ready]);
    let results = dst.results().unwrap();
    assert_eq!(results.iter().map(|r| r.stream_device).collect::<Vec<_>>(), vec![0, 1]);
    for (s, d) in src.members().iter().zip(dst.members()) {
        assert_eq!(d.state().unwrap(), State::Running);
        assert_eq!(s.state().unwrap(), State::Stop);
    }
    for i in 0..2 {
        let (mut a, mut b) = (common::tempfile(), common::tempfile());
        src.member_mut(i).unwrap().save(&a, SaveOptions::new().raw(true)).unwrap();
        dst.member_mut(i).unwrap().save(&b, SaveOptions::new().raw(true)).unwrap();
        assert!(common::contents(&mut a) == common::contents(&mut b), "member {} differs", i);
    }
}

#[test]
fn set_state_hands_out_each_members_data_fd() {
    let ctx = mock::context().unwrap();
    let mut g = group(&ctx, &["f1", "f2"], ",state=STOP");
    let fds = g.set_state(State::StopCopy).unwrap();
    assert_eq!(fds.len(), 2);
    assert!(fds.iter().all(|f| f.is_some()));
    drop(fds);
    g.set_state(State::Stop).unwrap();
}
