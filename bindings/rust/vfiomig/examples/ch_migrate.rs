//! ch-migrate: a VM's two VFIO devices moved to another process the way
//! cloud-hypervisor moves a VM's devices, through the safe `vfiomig` API.
//!
//! ```text
//! ch-migrate [--src SPEC,SPEC] [--dst SPEC,SPEC] [--cancel-after MS]
//! ```
//!
//! The sender opens the sources as one [`Group`], starts the receiver (this
//! program, `--receive`) with one end of a socket pair as its stdin, and
//! saves the group into the socket with pre-copy while its vCPUs run.  The
//! receiver loads the group and starts its vCPUs.  Then the sender checks,
//! and prints as `RESULT` lines, that each destination holds its source's
//! bytes, that the hook came once per phase on each side, and, with
//! `--cancel-after MS`, that a cancel raised from another thread ends the
//! transfer within 500 ms with every source RUNNING.  It exits 1 if any
//! check fails.  Without `--src` and `--dst` it runs on mock devices.
//!
//! # How it maps onto cloud-hypervisor
//!
//! cloud-hypervisor describes each migratable part of a VM with a few
//! traits (its `vm-migration` crate).  This example has small traits of its
//! own with the same names and steps, implemented by [`VfioGroup`]:
//!
//! - `Pausable` (`pause`, `resume`): cloud-hypervisor takes each device
//!   straight to STOP, one after the other.  Here the group moves in two
//!   phases: every device quiesces (a P2P state: no more DMA out, still
//!   DMA in) before any stops, and the hook between the phases stops the
//!   vCPUs ([`Vcpus`], also `Pausable`).  Resuming is the same, upwards.
//! - `Snapshottable` (`id`, `snapshot`): as in cloud-hypervisor, a
//!   snapshot is taken of a paused device: STOP -> STOP_COPY, the data fd
//!   read to its end, back to STOP.  Here it is a raw save of each member:
//!   the device's own bytes, which both sides compare.
//! - `Transportable` (`send`, `receive`): cloud-hypervisor pauses the VM,
//!   snapshots each device into memory and sends the snapshots.  Here
//!   `send` is a group save with pre-copy, streamed into the socket: the
//!   devices pre-copy while the VM runs, and the pause happens inside the
//!   save, at the switchover (the hook at [`GroupPoint::Quiesced`]).
//!   `receive` is a group load, which resumes the devices, and the vCPUs
//!   at [`GroupPoint::Ready`].
//!
//! # The socket
//!
//! The sender and the receiver share a socket pair, whose receiving end
//! is the child's stdin: no name in the file system to choose, race for or
//! remove, no peer but the child, and the child takes the fd with safe
//! code alone (`Stdio::from(OwnedFd)`, `stdin().as_fd()`).  A VMM that
//! migrates between hosts gives the same calls a TCP or path socket's fd.

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::Shutdown;
use std::os::unix::io::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use vfiomig::{Cancel, Ctx, Device, Group, GroupPoint, LoadOptions, Precopy, SaveOptions, State, Stats};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage: ch-migrate [--src SPEC,SPEC] [--dst SPEC,SPEC] [--cancel-after MS]\n\
    SPEC: a device (PCI address, mdev UUID, /dev/vfio/devices/vfioN) or mock:NAME[,key=value...];\n\
    without --src and --dst it runs on mock devices";

/// The longest a cancel may take to end a transfer (issue #25).
const CANCEL_LIMIT: Duration = Duration::from_millis(500);

// ---------------------------------------------------------------- the steps

/// cloud-hypervisor's `Pausable`: a part of the VM that stops and restarts.
trait Pausable {
    fn pause(&mut self) -> io::Result<()>;
    fn resume(&mut self) -> io::Result<()>;
}

/// What a snapshot holds: each device's own bytes.
struct Snapshot {
    id: String,
    /// (device name, bytes), in the group's order.
    devices: Vec<(String, Vec<u8>)>,
}

/// cloud-hypervisor's `Snapshottable`: a part of the VM whose state can be
/// taken while it is paused.
trait Snapshottable {
    fn id(&self) -> String;
    fn snapshot(&mut self) -> io::Result<Snapshot>;
}

/// cloud-hypervisor's `Transportable`: a part of the VM whose state goes to
/// a destination.  Here the transfer is live: `send` pauses on the way.
trait Transportable: Pausable + Snapshottable {
    fn send(&mut self, to: BorrowedFd<'_>) -> io::Result<Stats>;
    fn receive(&mut self, from: BorrowedFd<'_>) -> io::Result<Stats>;
}

// ---------------------------------------------------------------- the vCPUs

/// The VM's vCPUs, as one thread that runs "guest code" while the VM runs.
/// Like a VMM's vCPU pause, `pause()` returns only once the thread is out
/// of the guest.
struct Vcpus {
    shared: Arc<(Mutex<VcpuCtl>, Condvar)>,
    thread: Option<JoinHandle<()>>,
    /// How many times they were paused or resumed.
    flips: u32,
}

#[derive(Default)]
struct VcpuCtl {
    run: bool,
    in_guest: bool,
    exit: bool,
}

impl Vcpus {
    fn start(running: bool) -> Vcpus {
        let ctl = VcpuCtl { run: running, ..VcpuCtl::default() };
        let shared = Arc::new((Mutex::new(ctl), Condvar::new()));
        let s = Arc::clone(&shared);
        let v = Vcpus { shared, thread: Some(thread::spawn(move || vcpu_loop(&s))), flips: 0 };
        v.wait_until(running);
        v
    }

    fn running(&self) -> bool {
        self.shared.0.lock().unwrap().in_guest
    }

    fn wait_until(&self, in_guest: bool) {
        let (lock, cond) = &*self.shared;
        let mut c = lock.lock().unwrap();
        while c.in_guest != in_guest {
            c = cond.wait(c).unwrap();
        }
    }

    fn set(&mut self, run: bool) -> io::Result<()> {
        {
            let (lock, cond) = &*self.shared;
            let mut c = lock.lock().unwrap();
            if c.run == run {
                let now = if run { "running" } else { "paused" };
                return Err(io::Error::new(io::ErrorKind::Other, format!("the vCPUs are {} already", now)));
            }
            c.run = run;
            cond.notify_all();
        }
        self.wait_until(run);
        self.flips += 1;
        Ok(())
    }
}

fn vcpu_loop(shared: &(Mutex<VcpuCtl>, Condvar)) {
    let (lock, cond) = shared;
    let mut c = lock.lock().unwrap();
    while !c.exit {
        if c.in_guest != c.run {
            c.in_guest = c.run;
            cond.notify_all();
        }
        if c.run {
            drop(c);
            thread::sleep(Duration::from_millis(1)); // a slice of guest code
            c = lock.lock().unwrap();
        } else {
            c = cond.wait(c).unwrap();
        }
    }
}

impl Pausable for Vcpus {
    fn pause(&mut self) -> io::Result<()> {
        self.set(false)
    }
    fn resume(&mut self) -> io::Result<()> {
        self.set(true)
    }
}

impl Drop for Vcpus {
    fn drop(&mut self) {
        let (lock, cond) = &*self.shared;
        lock.lock().unwrap().exit = true;
        cond.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ------------------------------------------------------- the devices' group

/// The VM's VFIO devices as one `vfiomig::Group`, and the vCPUs that its
/// hook stops and starts between the group's two phases.
struct VfioGroup {
    group: Group,
    vcpus: Vcpus,
    /// Raised from another thread, it ends a `send`.
    cancel: Cancel,
    /// Every call of the hook, in order.
    hooks: Vec<HookCall>,
}

/// One call of the group's hook: where, and the members' states there.
struct HookCall {
    point: GroupPoint,
    states: Vec<State>,
}

impl HookCall {
    fn words(&self) -> String {
        let states: Vec<&str> = self.states.iter().map(|s| s.name()).collect();
        format!("{:?} {}", self.point, states.join(" "))
    }
}

/// The hook of the group's calls: the members' states are recorded, and
/// the vCPUs stop where the members are quiesced and start where they are
/// ready.  An error here (vCPUs that are not where they should be) rolls
/// the group's call back.
fn vcpu_hook<'a>(
    vcpus: &'a mut Vcpus,
    log: &'a mut Vec<HookCall>,
) -> impl FnMut(GroupPoint, &[Device]) -> io::Result<()> + 'a {
    move |point, members| {
        let states = members.iter().map(Device::state).collect::<vfiomig::Result<Vec<State>>>()?;
        log.push(HookCall { point, states });
        match point {
            GroupPoint::Quiesced => vcpus.pause(),
            GroupPoint::Ready => vcpus.resume(),
        }
    }
}

impl VfioGroup {
    fn open(ctx: &Ctx, specs: &[String], vcpus: Vcpus) -> Result<VfioGroup> {
        let mut group = Group::new(ctx)?;
        for spec in specs {
            let dev = Device::open(ctx, spec).map_err(|e| format!("cannot open {}: {}", spec, e))?;
            group.add(dev)?;
        }
        Ok(VfioGroup { group, vcpus, cancel: Cancel::new(), hooks: Vec::new() })
    }

    fn names(&self) -> Vec<&str> {
        self.group.members().iter().map(Device::name).collect()
    }

    fn states(&self) -> vfiomig::Result<Vec<State>> {
        self.group.members().iter().map(Device::state).collect()
    }

    /// Every member to `target`, in two phases, with the hook between them.
    fn set_state(&mut self, target: State) -> io::Result<()> {
        let hook = vcpu_hook(&mut self.vcpus, &mut self.hooks);
        self.group.with_hook(hook).set_state(target)?;
        Ok(())
    }
}

impl Pausable for VfioGroup {
    fn pause(&mut self) -> io::Result<()> {
        self.set_state(State::Stop)
    }
    fn resume(&mut self) -> io::Result<()> {
        self.set_state(State::Running)
    }
}

impl Snapshottable for VfioGroup {
    fn id(&self) -> String {
        format!("vfio-group[{}]", self.names().join(","))
    }

    fn snapshot(&mut self) -> io::Result<Snapshot> {
        let mut devices = Vec::new();
        for i in 0..self.group.len() {
            let dev = self.group.member_mut(i).expect("a member of the group");
            let state = dev.state()?;
            if state != State::Stop {
                let e = format!("{} is {}: a snapshot is of a paused device", dev.name(), state);
                return Err(io::Error::new(io::ErrorKind::Other, e));
            }
            devices.push((dev.name().to_string(), raw_save(dev)?));
        }
        Ok(Snapshot { id: self.id(), devices })
    }
}

/// The device's own bytes: a raw save (STOP -> STOP_COPY, the data fd read
/// to its end, back to STOP) into a socket that a thread drains.
fn raw_save(dev: &mut Device) -> io::Result<Vec<u8>> {
    let (w, mut r) = UnixStream::pair()?;
    let reader = thread::spawn(move || -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes)?;
        Ok(bytes)
    });
    let saved = dev.save(&w, SaveOptions::new().raw(true));
    drop(w); // the reader's end of file
    let bytes = reader.join().expect("the snapshot's reader")?;
    saved?;
    Ok(bytes)
}

impl Transportable for VfioGroup {
    fn send(&mut self, to: BorrowedFd<'_>) -> io::Result<Stats> {
        let opts = SaveOptions::new().precopy(Precopy::Auto(0)).cancel(&self.cancel);
        let hook = vcpu_hook(&mut self.vcpus, &mut self.hooks);
        Ok(self.group.with_hook(hook).save(&[to], opts)?)
    }

    fn receive(&mut self, from: BorrowedFd<'_>) -> io::Result<Stats> {
        let hook = vcpu_hook(&mut self.vcpus, &mut self.hooks);
        Ok(self.group.with_hook(hook).load(&[from], LoadOptions::new())?)
    }
}

/// The library's account of a failed step (errno, sentence, outcomes).
fn vfiomig_error(e: &io::Error) -> Option<&vfiomig::Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<vfiomig::Error>())
}

fn errno_of(e: &io::Error) -> i32 {
    vfiomig_error(e).map(vfiomig::Error::errno).or_else(|| e.raw_os_error()).unwrap_or(0)
}

// ---------------------------------------------------------- the arguments

struct Args {
    receive: bool,
    src: Vec<String>,
    dst: Vec<String>,
    cancel_after: Option<Duration>,
}

/// `SPEC,SPEC`: device specs separated by commas; a mock spec's own
/// `,key=value` parts stay with it.
fn split_specs(list: &str) -> Vec<String> {
    let mut specs: Vec<String> = Vec::new();
    for piece in list.split(',') {
        let is_key = piece
            .split_once('=')
            .map_or(false, |(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        match specs.last_mut() {
            Some(last) if is_key => {
                last.push(',');
                last.push_str(piece);
            }
            _ => specs.push(piece.to_string()),
        }
    }
    specs
}

fn mock_specs(names: [&str; 2], sizes: [&str; 2], extra: &str) -> Vec<String> {
    names.iter().zip(sizes.iter()).map(|(n, s)| format!("mock:{},size={}{}", n, s, extra)).collect()
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Args> {
        let mut a = Args { receive: false, src: Vec::new(), dst: Vec::new(), cancel_after: None };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{} needs a value", arg));
            match arg.as_str() {
                "--src" => a.src = split_specs(&value()?),
                "--dst" => a.dst = split_specs(&value()?),
                "--cancel-after" => {
                    let v = value()?;
                    let ms = v.parse().map_err(|_| format!("--cancel-after {}: give milliseconds", v))?;
                    a.cancel_after = Some(Duration::from_millis(ms));
                }
                "--receive" => a.receive = true,
                _ => return Err(format!("unknown argument {}", arg).into()),
            }
        }
        if a.src.is_empty() && a.dst.is_empty() && !a.receive {
            a.default_mocks();
        }
        if a.dst.is_empty() || (a.src.len() != a.dst.len() && !a.receive) {
            return Err("give as many destinations (--dst) as sources (--src)".into());
        }
        Ok(a)
    }

    /// Mock devices: the sources dirty pages while they pre-copy (so that
    /// what they send last differs from what they sent first); with a
    /// cancel, they are slow (rate=), so that the transfer takes seconds.
    fn default_mocks(&mut self) {
        let (sizes, extra) = match self.cancel_after {
            None => (["1M", "320K"], ",dirty=128K"),
            Some(_) => (["16M", "16M"], ",rate=4M"),
        };
        self.src = mock_specs(["a", "b"], sizes, extra);
        self.dst = mock_specs(["d", "e"], sizes, ",state=STOP");
    }
}

/// A context for these specs: one with the mock for mock devices.
fn context(specs: &[String]) -> vfiomig::Result<Ctx> {
    let ctx = if specs.iter().any(|s| s.starts_with("mock:")) { vfiomig::mock::context()? } else { Ctx::new()? };
    ctx.set_log(|_, msg| eprintln!("ch-migrate: libvfiomig: {}", msg));
    Ok(ctx)
}

fn ensure(ok: bool, why: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(why().into())
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

// ------------------------------------------------------- the receiver side

/// The receiving process: its stdin is its socket to the sender.  It loads
/// the group, then takes a snapshot of what it loaded (pausing and resuming
/// the VM around it), and reports everything back; the sender judges.
fn receiver(dst: &[String]) -> Result<()> {
    let sock = UnixStream::from(io::stdin().as_fd().try_clone_to_owned()?);
    let ctx = context(dst)?;
    let mut vm = VfioGroup::open(&ctx, dst, Vcpus::start(false))?;
    if vm.states()?.iter().any(|&s| s != State::Stop) {
        // A fresh device runs; nothing runs on it yet, and this VM's vCPUs
        // have not started: stop it without the hook.
        vm.group.set_state(State::Stop)?;
        println!("ch-migrate receiver: {} stopped for the load", vm.names().join(", "));
    }
    let mut out = BufWriter::new(&sock);
    let loaded = vm.receive(sock.as_fd());
    match &loaded {
        Ok(stats) => writeln!(out, "load ok {}", stats.stream_bytes)?,
        Err(e) => writeln!(out, "load failed {} {}", errno_of(e), e.to_string().replace('\n', " "))?,
    }
    for h in &vm.hooks {
        writeln!(out, "hook {}", h.words())?;
    }
    writeln!(out, "vcpus {} {}", vm.vcpus.flips, if vm.vcpus.running() { "running" } else { "paused" })?;
    let results = vm.group.results()?;
    for (dev, r) in vm.group.members().iter().zip(&results) {
        writeln!(out, "member {} {} {}", dev.name(), dev.state()?, r.stream_device)?;
    }
    if loaded.is_ok() {
        vm.pause()?;
        let snap = vm.snapshot()?;
        vm.resume()?;
        for (name, bytes) in &snap.devices {
            writeln!(out, "snapshot {} {}", name, bytes.len())?;
            out.write_all(bytes)?;
        }
        println!("ch-migrate receiver: {} taken paused, resumed", snap.id);
    }
    for dev in vm.group.members() {
        writeln!(out, "final {} {}", dev.name(), dev.state()?)?;
    }
    writeln!(out, "end")?;
    out.flush()?;
    Ok(())
}

/// The receiver's report: lines of `KEY WORD...`, each `snapshot NAME LEN`
/// line followed by LEN bytes.
#[derive(Default)]
struct Report {
    lines: Vec<Vec<String>>,
    snapshots: Vec<(String, Vec<u8>)>,
}

impl Report {
    fn read(from: &UnixStream) -> Result<Report> {
        let mut r = BufReader::new(from);
        let mut report = Report::default();
        loop {
            let mut line = String::new();
            ensure(r.read_line(&mut line)? > 0, || "the receiver ended before its report did".to_string())?;
            let words: Vec<String> = line.split_whitespace().map(String::from).collect();
            match words.first().map(String::as_str) {
                Some("end") => return Ok(report),
                Some("snapshot") if words.len() == 3 => {
                    let mut bytes = vec![0; words[2].parse()?];
                    r.read_exact(&mut bytes)?;
                    report.snapshots.push((words[1].clone(), bytes));
                }
                Some(_) => report.lines.push(words),
                None => {}
            }
        }
    }

    /// The words after KEY of every line of KEY.
    fn all(&self, key: &'static str) -> impl Iterator<Item = &[String]> {
        self.lines.iter().filter(move |l| l[0] == key).map(|l| &l[1..])
    }

    fn one(&self, key: &'static str) -> Result<&[String]> {
        self.all(key).next().ok_or_else(|| format!("the receiver's report has no {} line", key).into())
    }

    /// `NAME STATE` of each member line of KEY.
    fn states(&self, key: &'static str) -> Vec<(String, String)> {
        self.all(key).map(|w| (w[0].clone(), w[1].clone())).collect()
    }
}

// --------------------------------------------------------- the sender side

fn sender(args: &Args) -> Result<()> {
    let started = Instant::now();
    let ctx = context(&args.src)?;
    let mut vm = VfioGroup::open(&ctx, &args.src, Vcpus::start(true))?;
    println!("ch-migrate: sources {} as one group, vCPUs running", vm.names().join(", "));
    let (sock, theirs) = UnixStream::pair()?;
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--receive")
        .arg("--dst")
        .arg(args.dst.join(","))
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .spawn()?;
    let mode = match args.cancel_after {
        None => {
            let sent = vm.send(sock.as_fd());
            sock.shutdown(Shutdown::Write)?;
            let report = Report::read(&sock);
            let stats = sent.map_err(|e| format!("the save failed: {}{}", e, load_failure(&report)))?;
            migrated(&mut vm, &stats, &report?)?;
            "migration"
        }
        Some(after) => {
            cancelled(&mut vm, &sock, after)?;
            "cancel"
        }
    };
    let status = child.wait()?;
    ensure(status.success(), || format!("the receiver failed ({})", status))?;
    println!("ch-migrate: PASS ({}) in {}", mode, ms(started.elapsed()));
    Ok(())
}

/// Why the receiver's load failed, if it said so: often the reason why a
/// save failed (a destination that does not fit closes the stream).
fn load_failure(report: &Result<Report>) -> String {
    match report.as_ref().ok().and_then(|r| r.one("load").ok()) {
        Some(load) if load[0] == "failed" => format!("; the receiver's load failed: {}", load[2..].join(" ")),
        _ => String::new(),
    }
}

/// After a send: the sources, the hooks, and the receiver's account.
fn migrated(vm: &mut VfioGroup, stats: &Stats, report: &Report) -> Result<()> {
    println!(
        "ch-migrate: sent {} stream bytes: {} pre-copy rounds, {} bytes pre-copied, {} stopped, downtime {}",
        stats.stream_bytes,
        stats.precopy_rounds,
        stats.precopy_bytes,
        stats.stop_copy_bytes,
        ms(stats.downtime)
    );
    ensure(stats.precopy_rounds > 0 || stats.precopy_bytes > 0, || "the save did not pre-copy".to_string())?;
    let hooks = sender_hooks(vm)?;
    let states = vm.states()?;
    ensure(states.iter().all(|&s| s == State::Stop), || format!("the sources are {:?}, not STOP", states))?;
    let snap = vm.snapshot()?;
    let load = report.one("load")?;
    ensure(load[0] == "ok", || format!("the receiver's load failed: {}", load[2..].join(" ")))?;
    ensure(load[1] == stats.stream_bytes.to_string(), || {
        format!("the receiver loaded {} stream bytes of the {} sent", load[1], stats.stream_bytes)
    })?;
    let receiver_hooks = receiver_hooks(report, true)?;
    println!("ch-migrate: RESULT state: {}", compare(&snap, report)?);
    println!("ch-migrate: RESULT hooks: sender {}; receiver {}", hooks, receiver_hooks);
    Ok(())
}

/// The sender's hook: once, at QUIESCED, every member in a P2P state, and
/// the vCPUs paused there once.
fn sender_hooks(vm: &VfioGroup) -> Result<String> {
    let p2p = |s: &State| *s == State::RunningP2p || *s == State::PreCopyP2p;
    ensure(vm.hooks.len() == 1 && vm.hooks[0].point == GroupPoint::Quiesced, || {
        let calls: Vec<String> = vm.hooks.iter().map(HookCall::words).collect();
        format!("the sender's hook was called {:?}, not once at Quiesced", calls)
    })?;
    ensure(vm.hooks[0].states.iter().all(p2p), || format!("at Quiesced the sources were {}", vm.hooks[0].words()))?;
    ensure(vm.vcpus.flips == 1 && !vm.vcpus.running(), || {
        format!("the sender's vCPUs flipped {} times, running: {}", vm.vcpus.flips, vm.vcpus.running())
    })?;
    Ok(format!("[{}] once, vCPUs paused there once", vm.hooks[0].words()))
}

/// The receiver's hook during the load: after a load, once, at READY,
/// every member in RUNNING_P2P, and the vCPUs resumed there once; after a
/// failed load, never, and the vCPUs never started.
fn receiver_hooks(report: &Report, loaded: bool) -> Result<String> {
    let hooks: Vec<&[String]> = report.all("hook").collect();
    let vcpus = report.one("vcpus")?;
    if !loaded {
        ensure(hooks.is_empty() && vcpus == ["0", "paused"], || {
            format!("after the failed load the receiver's hook was called {:?}, its vCPUs {:?}", hooks, vcpus)
        })?;
        return Ok("never called, vCPUs never started".to_string());
    }
    let ready = |h: &[String]| h[0] == "Ready" && h[1..].iter().all(|s| s == "RUNNING_P2P");
    ensure(hooks.len() == 1 && ready(hooks[0]), || {
        format!("the receiver's hook was called {:?}, not once at Ready with every member RUNNING_P2P", hooks)
    })?;
    ensure(vcpus == ["1", "running"], || format!("the receiver's vCPUs after the load: {:?}", vcpus))?;
    Ok(format!("[{}] once, vCPUs resumed there once", hooks[0].join(" ")))
}

/// (a): each destination's bytes equal its source's, byte for byte, and
/// the destinations end RUNNING.
fn compare(snap: &Snapshot, report: &Report) -> Result<String> {
    let mut equal = Vec::new();
    for m in report.all("member") {
        let (name, state, stream_device) = (&m[0], &m[1], m[2].parse::<usize>()?);
        ensure(state == "RUNNING", || format!("{} is {} after the load, not RUNNING", name, state))?;
        let (src, want) = snap.devices.get(stream_device).ok_or_else(|| format!("no source {}", stream_device))?;
        let got = report.snapshots.iter().find(|(n, _)| n == name).map(|(_, b)| b);
        let got = got.ok_or_else(|| format!("the receiver sent no snapshot of {}", name))?;
        ensure(!want.is_empty() && got == want, || {
            let at = got.iter().zip(want.iter()).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
            format!("{} ({} bytes) differs from {} ({} bytes), first at byte {}", name, got.len(), src, want.len(), at)
        })?;
        equal.push(format!("{} = {} ({} bytes)", name, src, want.len()));
    }
    ensure(equal.len() == snap.devices.len(), || {
        format!("{} destinations for {} sources", equal.len(), snap.devices.len())
    })?;
    let finals = report.states("final");
    ensure(finals.iter().all(|(_, s)| s == "RUNNING"), || format!("the destinations end {:?}", finals))?;
    Ok(format!("{} byte for byte; snapshot {}; destinations RUNNING", equal.join(", "), snap.id))
}

/// (c): a cancel raised from another thread during pre-copy ends the send
/// within CANCEL_LIMIT, every source RUNNING, the VM never paused, and the
/// receiver's load fails with no destination running.
fn cancelled(vm: &mut VfioGroup, sock: &UnixStream, after: Duration) -> Result<()> {
    let raised_at = Mutex::new(None);
    let cancel = vm.cancel.clone();
    let (sent, returned) = thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(after);
            *raised_at.lock().unwrap() = Some(Instant::now());
            cancel.raise();
        });
        let sent = vm.send(sock.as_fd());
        (sent, Instant::now())
    });
    sock.shutdown(Shutdown::Write)?;
    let raised = raised_at.into_inner().unwrap().expect("the cancel thread ran");
    let e = match sent {
        Ok(stats) => {
            let e = format!(
                "the save ended ({} bytes) before the cancel: make it slower (rate=) or cancel sooner",
                stats.stream_bytes
            );
            return Err(e.into());
        }
        Err(e) => e,
    };
    let err = vfiomig_error(&e).ok_or_else(|| format!("the save failed without the library's account: {}", e))?;
    ensure(err.errno() == libc::ECANCELED, || {
        format!("the save failed with errno {}, not ECANCELED: {}", err.errno(), err)
    })?;
    ensure(returned >= raised, || format!("the save failed before the cancel: {}", err))?;
    let latency = returned - raised;
    ensure(latency <= CANCEL_LIMIT, || {
        format!("the save ended {} after the cancel, over {}", ms(latency), ms(CANCEL_LIMIT))
    })?;
    let sources = sources_running(vm, err)?;
    ensure(vm.hooks.is_empty() && vm.vcpus.flips == 0 && vm.vcpus.running(), || {
        format!("the sender's hook was called {} times, its vCPUs flipped {} times", vm.hooks.len(), vm.vcpus.flips)
    })?;
    let report = Report::read(sock)?;
    let load = report.one("load")?;
    ensure(load[0] == "failed", || "the receiver's load of a cancelled stream succeeded".to_string())?;
    let destinations = report.states("member");
    ensure(destinations.iter().all(|(_, s)| s != "RUNNING"), || format!("after the failed load: {:?}", destinations))?;
    let receiver = receiver_hooks(&report, false)?;
    println!(
        "ch-migrate: RESULT cancel: raised after {} of pre-copy; the save failed with ECANCELED {} after the raise \
         (limit {}); sources {} (Error::outcomes() and Device::state()); the receiver's load failed ({}), {}",
        ms(after),
        ms(latency),
        ms(CANCEL_LIMIT),
        sources,
        load[2..].join(" "),
        destinations.iter().map(|(n, s)| format!("{} {}", n, s)).collect::<Vec<_>>().join(", ")
    );
    println!(
        "ch-migrate: RESULT hooks: sender never called (cancelled before the switchover), vCPUs never paused; \
         receiver {}",
        receiver
    );
    Ok(())
}

/// Every source RUNNING after the failed send: in the error's outcomes and
/// as the devices say.
fn sources_running(vm: &VfioGroup, err: &vfiomig::Error) -> Result<String> {
    let outcomes = err.outcomes();
    ensure(outcomes.len() == vm.group.len(), || {
        format!("the error has {} outcomes for {} sources", outcomes.len(), vm.group.len())
    })?;
    ensure(outcomes.iter().all(|o| o.state == Some(State::Running)), || {
        format!("the error's outcomes: {:?}", outcomes)
    })?;
    let states = vm.states()?;
    ensure(states.iter().all(|&s| s == State::Running), || format!("the sources are {:?} after the cancel", states))?;
    Ok(vm.names().iter().map(|n| format!("{} RUNNING", n)).collect::<Vec<_>>().join(", "))
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ch-migrate: {}\n{}", e, USAGE);
            return ExitCode::from(2);
        }
    };
    let (side, done) =
        if args.receive { ("ch-migrate receiver", receiver(&args.dst)) } else { ("ch-migrate", sender(&args)) };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: FAILED: {}", side, e);
            ExitCode::FAILURE
        }
    }
}
