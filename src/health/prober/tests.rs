//! Prober tests: scripted probes on a manual clock (and paused tokio
//! time), plus real HTTP and TCP probes on loopback.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::time::Instant;

use super::*;
use crate::health::TargetRegistry;
use crate::health::check::Check;
use crate::health::check::CheckKind;
use crate::health::clock::manual::ManualClock;
use crate::health::probe::{ProbeError, Success};
use crate::health::probe::{ProbeFuture, TargetProbe};
use crate::health::testutil::{LOCALHOST, Reply, TestServer, check, http, key};
use crate::health::{Status, TargetId, TargetKey};
use std::net::SocketAddr;

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// What a scripted probe does.
#[derive(Clone, Debug)]
enum Act {
    Ok,
    /// Succeed after this much time on the script's clock.
    Take(Duration),
    Fail,
    Hang,
    Panic,
    /// Succeed with this load figure.
    Load(f32),
    /// Succeed without the load figure the check asks for.
    NoLoad,
}

#[derive(Default)]
struct ScriptState {
    /// Results of each target's probes, cycled; default all `Ok`.
    plans: HashMap<SocketAddr, Vec<Act>>,
    /// Every probe start: target and time since the script began.
    starts: Vec<(SocketAddr, Duration)>,
    /// `prepare` panics this many more times for a target.
    prepare_panics: HashMap<SocketAddr, u32>,
    /// `prepare` blocks its thread this long, once, for a target.
    prepare_blocks: HashMap<SocketAddr, Duration>,
}

/// A [`Probe`] whose results the test decides; no network at all.
#[derive(Clone)]
struct Script {
    clock: Arc<dyn Clock>,
    start: Instant,
    st: Arc<Mutex<ScriptState>>,
}

impl Script {
    fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            start: clock.now(),
            clock,
            st: Default::default(),
        }
    }

    fn plan(&self, addr: SocketAddr, acts: Vec<Act>) {
        self.st.lock().unwrap().plans.insert(addr, acts);
    }

    fn starts_of(&self, addr: SocketAddr) -> Vec<Duration> {
        let st = self.st.lock().unwrap();
        st.starts
            .iter()
            .filter(|(a, _)| *a == addr)
            .map(|(_, t)| *t)
            .collect()
    }
}

impl Probe for Script {
    fn prepare(&self, _check: &Arc<Check>, addr: SocketAddr) -> Box<dyn TargetProbe> {
        let (panic, block) = {
            let mut st = self.st.lock().unwrap();
            let panic = match st.prepare_panics.get_mut(&addr) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            };
            (panic, st.prepare_blocks.remove(&addr))
        };
        if let Some(d) = block {
            // Stuck, without taking the worker's other tasks with it.
            tokio::task::block_in_place(|| std::thread::sleep(d));
        }
        assert!(!panic, "scripted prepare panic");
        Box::new(ScriptTarget {
            script: self.clone(),
            addr,
        })
    }
}

struct ScriptTarget {
    script: Script,
    addr: SocketAddr,
}

impl TargetProbe for ScriptTarget {
    fn probe(&self) -> ProbeFuture {
        let s = &self.script;
        let at = s.clock.now() - s.start;
        let act = {
            let mut st = s.st.lock().unwrap();
            let n = st.starts.iter().filter(|(a, _)| *a == self.addr).count();
            st.starts.push((self.addr, at));
            let plan = st.plans.get(&self.addr).cloned().unwrap_or(vec![Act::Ok]);
            plan[n % plan.len()].clone()
        };
        let clock = s.clock.clone();
        Box::pin(async move {
            match act {
                Act::Ok => Ok(Success::Status(200)),
                Act::Take(d) => {
                    clock.sleep_until(clock.now() + d).await;
                    Ok(Success::Status(200))
                }
                Act::Fail => Err(ProbeError::Status(500)),
                Act::Hang => std::future::pending().await,
                Act::Panic => panic!("scripted probe panic"),
                Act::Load(v) => Ok(Success::Load(200, v)),
                Act::NoLoad => Ok(Success::NoLoad(
                    200,
                    crate::health::probe::LoadMiss::NoHeader,
                )),
            }
        })
    }
}

/// Endpoint 127.0.0.`i` (scripted probes never connect to it).
fn ip(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, i))
}

/// Where the probes of [`tcp_key`]`(i, …)` go.
fn at(i: u8) -> SocketAddr {
    SocketAddr::new(ip(i), 9)
}

/// A tcp check on port 9, interval 1 s, timeout 0.5 s, rise 2, fall 3.
fn tcp_key(i: u8, f: impl FnOnce(&mut Check)) -> TargetKey {
    let mut c = check(CheckKind::Tcp, 9);
    c.interval = SEC;
    c.timeout = 500 * MS;
    f(&mut c);
    key(ip(i), c)
}

fn options(clock: Arc<dyn Clock>, script: &Script) -> ProberOptions {
    ProberOptions {
        probe: Arc::new(script.clone()),
        clock,
        watchdog_period: SEC,
        seed: Some(7),
        fleet: None,
    }
}

/// One tcp target (`tcp_key(1, …)`, cell 0) probed by `script` on `clock`:
/// the prober, its table, the cell and the prober's token.
fn one_target(
    clock: &Arc<ManualClock>,
    script: &Script,
) -> (Prober, Arc<HealthTable>, TargetId, CancellationToken) {
    let k = tcp_key(1, |_| {});
    let id = TargetId(0);
    let table = Arc::new(HealthTable::for_targets([(id, &k)]));
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        vec![(id, k)],
        table.clone(),
        cancel.clone(),
        options(clock.clone(), script),
    );
    (prober, table, id, cancel)
}

async fn report_of(p: &Prober, addr: SocketAddr) -> TargetReport {
    p.report()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.probe_addr == addr)
        .expect("target is probed")
}

thread_local! {
    static LOG_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Log lines emitted on this thread (the test's current-thread runtime
/// runs the whole prober there). One global subscriber feeds per-thread
/// buffers: scoped `set_default` subscribers race with other test
/// threads over tracing's global max level and lose events.
struct Logs;

struct ThreadBuf;

impl io::Write for ThreadBuf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        LOG_BUF.with(|buf| buf.borrow_mut().extend_from_slice(b));
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> Self {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            let sub = tracing_subscriber::fmt()
                .with_writer(|| ThreadBuf)
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .finish();
            tracing::subscriber::set_global_default(sub)
                .expect("no other global subscriber in lib tests");
        });
        LOG_BUF.with(|buf| buf.borrow_mut().clear());
        Logs
    }

    fn text(&self) -> String {
        LOG_BUF.with(|buf| String::from_utf8_lossy(&buf.borrow()).into_owned())
    }
}

/// The production clock on tokio's paused time: the deadline rule, the
/// return after `rise`, and flapping inside the thresholds, all with
/// `TokioClock` rather than the manual test clock.
#[tokio::test(start_paused = true)]
async fn paused_tokio_time_down_up_and_no_flapping() {
    let clock: Arc<dyn Clock> = Arc::new(crate::health::clock::TokioClock);
    let script = Script::new(clock.clone());
    script.plan(at(2), vec![Act::Hang]);
    let k = tcp_key(2, |_| {});
    let id = TargetId(0);
    let table = Arc::new(HealthTable::for_targets([(id, &k)]));
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        vec![(id, k)],
        table.clone(),
        cancel.clone(),
        options(clock.clone(), &script),
    );
    let step = 10 * MS;
    let t0 = tokio::time::Instant::now();
    let wait_for = |want: Status| {
        let table = table.clone();
        async move {
            while table.status(id) != want {
                assert!(t0.elapsed() < 30 * SEC, "never became {want}");
                tokio::time::sleep(step).await;
            }
            t0.elapsed()
        }
    };

    let down = wait_for(Status::Down).await;
    // interval × fall + timeout (1 s × 3 + 0.5 s), to the polling step;
    // and not before the third probe can have timed out.
    assert!(down <= 3 * SEC + 500 * MS + step, "down after {down:?}");
    assert!(down >= 2 * SEC + 500 * MS, "down too early: {down:?}");
    assert_eq!(script.starts_of(at(2)).len(), 3);

    script.plan(at(2), vec![Act::Ok]);
    let up = wait_for(Status::Up).await;
    assert!(
        up - down <= 2 * SEC + step,
        "rise × interval: {:?}",
        up - down
    );

    // Every other probe fails: fall = 3 is never reached, so it stays up.
    script.plan(at(2), vec![Act::Fail, Act::Ok]);
    let before = script.starts_of(at(2)).len();
    let until = tokio::time::Instant::now() + 20 * SEC;
    while tokio::time::Instant::now() < until {
        assert_eq!(
            table.status(id),
            Status::Up,
            "flapped at {:?}",
            t0.elapsed()
        );
        tokio::time::sleep(step).await;
    }
    assert!(
        script.starts_of(at(2)).len() - before >= 19,
        "probes kept running"
    );

    cancel.cancel();
    prober.join().await.unwrap();
}

#[tokio::test]
async fn dead_target_goes_down_within_interval_times_fall_plus_timeout() {
    let logs = Logs::capture();
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    script.plan(at(1), vec![Act::Hang]);
    let (prober, table, id, cancel) = one_target(&clock, &script);
    let step = 10 * MS;

    let down = clock
        .advance_until(step, 10 * SEC, || table.status(id) == Status::Down)
        .await
        .expect("goes down");
    // interval × fall + timeout
    assert!(down <= 3 * SEC + 500 * MS, "down after {down:?}");
    let starts = script.starts_of(at(1));
    assert_eq!(starts.len(), 3, "{starts:?}");
    assert!(starts[0] < SEC, "first probe jittered within one interval");
    assert_eq!(starts[1] - starts[0], SEC);
    assert_eq!(starts[2] - starts[1], SEC);
    // Down exactly when the third probe timed out (to the step).
    let third_timeout = starts[2] + 500 * MS;
    assert!(down >= third_timeout && down < third_timeout + step);
    let r = report_of(&prober, at(1)).await;
    assert_eq!(r.last_error, Some(ProbeError::Timeout(500 * MS)));
    assert_eq!((r.probes, r.failures, r.rtt_us), (3, 3, None));
    assert_eq!((r.consecutive_failures, r.changes), (3, 1));
    assert!(r.last_change.is_some() && r.last_probe >= r.last_change);

    script.plan(at(1), vec![Act::Ok]);
    let up = clock
        .advance_until(step, 10 * SEC, || table.status(id) == Status::Up)
        .await
        .expect("comes back");
    let starts = script.starts_of(at(1));
    assert_eq!(starts.len(), 5, "rise = 2 successes: {starts:?}");
    assert!(up >= starts[4] && up < starts[4] + step);
    assert!(up - down <= 2 * SEC, "rise × interval");
    let r = report_of(&prober, at(1)).await;
    assert_eq!((r.consecutive_failures, r.changes), (0, 2));

    let text = logs.text();
    assert_eq!(text.matches("health up -> down").count(), 1, "{text}");
    assert_eq!(text.matches("health down -> up").count(), 1, "{text}");
    for field in [
        "addr=127.0.0.1:9",
        "check=web",
        "reason=timeout after 0.5 s",
        "reason=status 200",
    ] {
        assert!(text.contains(field), "{field:?} missing from {text}");
    }
    cancel.cancel();
    prober.join().await.unwrap();
}

/// A probe whose timeout fires long after its deadline (the process had
/// no CPU: more probes than its core can make, or a stalled host) says
/// nothing about the target: counted as inconclusive, not as a failure,
/// with one "prober overloaded" warning; on-time timeouts afterwards
/// still take the target down.
#[tokio::test]
async fn a_timeout_that_fires_late_is_inconclusive() {
    let logs = Logs::capture();
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    script.plan(at(1), vec![Act::Hang]);
    let (prober, table, id, cancel) = one_target(&clock, &script);
    assert_eq!(table.status(id), Status::Up);
    clock
        .advance_until(MS, 2 * SEC, || script.starts_of(at(1)).len() == 1)
        .await
        .expect("first probe");
    // The timeout is due in 0.5 s; it runs 1 s late.
    clock.stall(1500 * MS).await;
    let r = report_of(&prober, at(1)).await;
    assert_eq!((r.probes, r.failures, r.inconclusive), (0, 0, 1));
    assert_eq!(r.consecutive_failures, 0);
    assert_eq!(table.status(id), Status::Up);
    let text = logs.text();
    assert!(text.contains("prober overloaded"), "{text}");
    assert!(text.contains("late_ms=1000"), "{text}");

    // On time again: the next timeout is still not trusted (a probe ran
    // late since its previous due time), then three in a row take it down.
    clock
        .advance_until(10 * MS, 10 * SEC, || table.status(id) == Status::Down)
        .await
        .expect("goes down once the prober keeps time");
    let r = report_of(&prober, at(1)).await;
    assert_eq!((r.probes, r.failures, r.inconclusive), (3, 3, 2));
    cancel.cancel();
    prober.join().await.unwrap();
}

/// A probe whose start comes later than the overload slack is skipped
/// (load shedding): nothing is sent, the target keeps its state, and the
/// next probe keeps the cadence.
#[tokio::test]
async fn a_probe_due_while_the_prober_is_stalled_is_skipped() {
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    let (prober, table, id, cancel) = one_target(&clock, &script);
    clock
        .advance_until(MS, 2 * SEC, || script.starts_of(at(1)).len() == 1)
        .await
        .expect("first probe");
    // The next probe is due 1 s after the first; the prober wakes 0.2 s
    // after that, later than the 50 ms slack of a 0.5 s timeout.
    clock.stall(1200 * MS).await;
    assert_eq!(
        script.starts_of(at(1)).len(),
        1,
        "the late probe is skipped"
    );
    let r = report_of(&prober, at(1)).await;
    assert_eq!((r.probes, r.inconclusive), (1, 1));
    clock
        .advance_until(10 * MS, 2 * SEC, || script.starts_of(at(1)).len() == 2)
        .await
        .expect("next probe");
    let starts = script.starts_of(at(1));
    assert_eq!(starts[1] - starts[0], 2 * SEC, "{starts:?}");
    assert_eq!(table.status(id), Status::Up);
    assert_eq!(overload_slack(500 * MS), 50 * MS);
    assert_eq!(overload_slack(100 * MS), 20 * MS);
    cancel.cancel();
    prober.join().await.unwrap();
}

/// While the prober sheds load, a timeout that fires on time is not
/// trusted either (the CPU was short while the probe ran); once a whole
/// interval passes without a late probe, timeouts count again, so a dead
/// endpoint still goes down after an overload.
#[tokio::test]
async fn timeouts_are_not_trusted_while_the_prober_sheds_load() {
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    // First probe good, then the endpoint hangs.
    script.plan(
        at(1),
        vec![Act::Ok, Act::Hang, Act::Hang, Act::Hang, Act::Hang],
    );
    let (prober, table, id, cancel) = one_target(&clock, &script);
    clock
        .advance_until(MS, 2 * SEC, || script.starts_of(at(1)).len() == 1)
        .await
        .expect("first probe");
    // The second probe (due 1 s later) is skipped: the prober wakes 0.2 s late.
    clock.stall(1200 * MS).await;
    // The third starts on time and hangs; its timeout fires on time, but
    // a probe ran late since its previous due time: inconclusive.
    clock
        .advance_until(10 * MS, 3 * SEC, || script.starts_of(at(1)).len() == 3)
        .await
        .expect("the probe after the skipped one");
    let r = report_of(&prober, at(1)).await;
    assert_eq!((r.probes, r.failures, r.inconclusive), (1, 0, 2), "{r:?}");
    // From the fourth on, timeouts count: down after `fall` = 3.
    clock
        .advance_until(10 * MS, 10 * SEC, || table.status(id) == Status::Down)
        .await
        .expect("goes down after the overload");
    let r = report_of(&prober, at(1)).await;
    assert_eq!((r.probes, r.failures, r.inconclusive), (4, 3, 2), "{r:?}");
    cancel.cancel();
    prober.join().await.unwrap();
}

#[tokio::test]
async fn flapping_within_thresholds_changes_nothing() {
    let logs = Logs::capture();
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    let up = tcp_key(1, |c| c.fall = 2);
    let down = tcp_key(2, |c| {
        c.rise = 2;
        c.initial_state = Status::Down;
    });
    script.plan(at(1), vec![Act::Fail, Act::Ok]);
    script.plan(at(2), vec![Act::Ok, Act::Fail]);
    let targets = vec![(TargetId(0), up), (TargetId(1), down)];
    let table = Arc::new(HealthTable::new(2, Status::Up));
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        targets,
        table.clone(),
        cancel.clone(),
        options(clock.clone(), &script),
    );
    assert_eq!(
        table.status(TargetId(1)),
        Status::Down,
        "initial state written at start"
    );
    for _ in 0..60 {
        clock.advance(SEC).await;
        assert_eq!(table.status(TargetId(0)), Status::Up);
        assert_eq!(table.status(TargetId(1)), Status::Down);
    }
    for i in [1, 2] {
        let r = report_of(&prober, at(i)).await;
        assert!(r.probes >= 59, "{r:?}");
        assert!(r.failures >= 29, "{r:?}");
    }
    assert!(!logs.text().contains("health "), "{}", logs.text());
    cancel.cancel();
    prober.join().await.unwrap();
}

#[tokio::test]
async fn rtt_is_a_moving_average_of_successful_probes() {
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    script.plan(
        at(1),
        vec![
            Act::Take(100 * MS),
            Act::Take(200 * MS),
            Act::Fail,
            Act::Take(400 * MS),
        ],
    );
    let id = TargetId(0);
    let table = Arc::new(HealthTable::new(1, Status::Up));
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        vec![(id, tcp_key(1, |_| {}))],
        table.clone(),
        cancel.clone(),
        options(clock.clone(), &script),
    );
    assert_eq!(table.rtt_us(id), None, "unknown before the first probe");
    // (completed probes, expected average in µs): 100 ms, then
    // 100 + 0.3 × (200 − 100), a failure leaves it, then
    // 130 + 0.3 × (400 − 130).
    for (n, want) in [(1, 100_000), (2, 130_000), (3, 130_000), (4, 211_000)] {
        clock
            .advance_until(MS, 5 * SEC, || script.starts_of(at(1)).len() == n)
            .await
            .expect("probe started");
        // Past the longest probe (0.4 s), short of the next (1 s on).
        clock.advance(500 * MS).await;
        let r = report_of(&prober, at(1)).await;
        assert_eq!(r.probes, n as u64);
        assert_eq!(table.rtt_us(id), Some(want), "after {n} probes");
        assert_eq!(r.rtt_us, Some(want));
    }
    cancel.cancel();
    prober.join().await.unwrap();
}

#[tokio::test]
async fn initial_down_needs_rise_successes() {
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    let k = tcp_key(1, |c| {
        c.rise = 3;
        c.initial_state = Status::Down;
    });
    let table = Arc::new(HealthTable::new(1, Status::Up));
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        vec![(TargetId(0), k)],
        table.clone(),
        cancel.clone(),
        options(clock.clone(), &script),
    );
    for (probes, want) in [
        (0, Status::Down),
        (1, Status::Down),
        (2, Status::Down),
        (3, Status::Up),
    ] {
        clock
            .advance_until(10 * MS, 5 * SEC, || script.starts_of(at(1)).len() == probes)
            .await
            .expect("probe ran");
        assert_eq!(table.status(TargetId(0)), want, "after {probes} probes");
    }
    cancel.cancel();
    prober.join().await.unwrap();
}

#[tokio::test]
async fn first_probes_are_spread_over_one_interval() {
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    let targets: Vec<_> = (1..=20)
        .map(|i| (TargetId(i as u32 - 1), tcp_key(i, |_| {})))
        .collect();
    let table = Arc::new(HealthTable::new(20, Status::Up));
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        targets,
        table,
        cancel.clone(),
        options(clock.clone(), &script),
    );
    clock.advance(999 * MS).await;
    let mut firsts = Vec::new();
    for i in 1..=20 {
        let s = script.starts_of(at(i));
        assert_eq!(s.len(), 1, "target {i}: {s:?}");
        firsts.push(s[0]);
    }
    firsts.sort();
    firsts.dedup();
    assert!(firsts.len() >= 15, "{firsts:?}");
    assert!(
        firsts[firsts.len() - 1] - firsts[0] >= 500 * MS,
        "{firsts:?}"
    );
    // Then each keeps its own phase.
    clock.advance(SEC).await;
    for i in 1..=20 {
        let s = script.starts_of(at(i));
        assert_eq!(s.len(), 2, "target {i}: {s:?}");
        assert_eq!(s[1] - s[0], SEC);
    }
    cancel.cancel();
    prober.join().await.unwrap();
}

#[tokio::test]
async fn a_panicking_probe_fails_only_its_own_target() {
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    script.plan(at(1), vec![Act::Panic]);
    let targets = vec![
        (TargetId(0), tcp_key(1, |_| {})),
        (TargetId(1), tcp_key(2, |_| {})),
    ];
    let table = Arc::new(HealthTable::new(2, Status::Up));
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        targets,
        table.clone(),
        cancel.clone(),
        options(clock.clone(), &script),
    );
    clock.advance(10 * SEC).await;
    let a = report_of(&prober, at(1)).await;
    assert_eq!(
        a.last_error,
        Some(ProbeError::Panicked("scripted probe panic".into()))
    );
    assert!(a.probes >= 9, "{a:?}");
    assert_eq!(a.restarts, 0, "the loop survives a probe panic");
    assert_eq!(table.status(TargetId(0)), Status::Down);
    let b = report_of(&prober, at(2)).await;
    assert!(b.probes >= 9 && b.failures == 0, "{b:?}");
    assert_eq!(table.status(TargetId(1)), Status::Up);
    cancel.cancel();
    prober.join().await.unwrap();
}

#[tokio::test]
async fn a_task_that_dies_is_restarted() {
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    script.plan(at(1), vec![Act::Fail]);
    script.st.lock().unwrap().prepare_panics.insert(at(1), 2);
    let targets = vec![
        (TargetId(0), tcp_key(1, |_| {})),
        (TargetId(1), tcp_key(2, |_| {})),
    ];
    let table = Arc::new(HealthTable::new(2, Status::Up));
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        targets,
        table.clone(),
        cancel.clone(),
        options(clock.clone(), &script),
    );
    clock.advance(10 * SEC).await;
    let a = report_of(&prober, at(1)).await;
    assert_eq!(a.restarts, 2, "{a:?}");
    // Two lost intervals to the dead tasks, then probing as usual.
    assert!((6..=8).contains(&a.probes), "{a:?}");
    assert_eq!(table.status(TargetId(0)), Status::Down);
    let b = report_of(&prober, at(2)).await;
    assert_eq!(b.restarts, 0);
    assert!(b.probes >= 9, "{b:?}");
    cancel.cancel();
    prober.join().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_task_is_restarted_by_the_watchdog() {
    // Real time: the stuck task blocks a worker thread, which a virtual
    // clock on a single thread cannot survive.
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let script = Script::new(clock.clone());
    let fast = |c: &mut Check| {
        c.interval = 100 * MS;
        c.timeout = 50 * MS;
    };
    script
        .st
        .lock()
        .unwrap()
        .prepare_blocks
        .insert(at(1), 1500 * MS);
    let targets = vec![
        (TargetId(0), tcp_key(1, fast)),
        (TargetId(1), tcp_key(2, fast)),
    ];
    let table = Arc::new(HealthTable::new(2, Status::Up));
    let cancel = CancellationToken::new();
    let mut opts = options(clock, &script);
    opts.watchdog_period = 50 * MS;
    let prober = spawn_prober(targets, table, cancel.clone(), opts);
    // Silence limit: 2 × 100 ms + 50 ms + 50 ms after the last beat.
    tokio::time::sleep(1000 * MS).await;
    let a = report_of(&prober, at(1)).await;
    assert!(a.restarts >= 1, "{a:?}");
    assert!(a.probes >= 2, "the replacement probes: {a:?}");
    let b = report_of(&prober, at(2)).await;
    assert_eq!(b.restarts, 0, "{b:?}");
    assert!(b.probes >= 5, "{b:?}");
    cancel.cancel();
    prober.join().await.unwrap();
}

#[tokio::test]
async fn reconcile_keeps_state_by_key_and_stops_removed_targets() {
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    let (a, b, c, d) = (
        tcp_key(1, |c| c.fall = 2),
        tcp_key(2, |_| {}),
        tcp_key(3, |_| {}),
        tcp_key(4, |_| {}),
    );
    script.plan(at(1), vec![Act::Fail]);
    let mut old_reg = TargetRegistry::new();
    for k in [&a, &b, &c] {
        old_reg.intern(k.clone());
    }
    let old = Arc::new(HealthTable::for_targets(old_reg.iter()));
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        old_reg.to_targets(),
        old.clone(),
        cancel.clone(),
        options(clock.clone(), &script),
    );
    let a_old = old_reg.id_of(&a).unwrap();
    clock
        .advance_until(10 * MS, 10 * SEC, || old.status(a_old) == Status::Down)
        .await
        .expect("a goes down");
    let a_before = report_of(&prober, at(1)).await;

    // Reload: b and a swap ids, c goes, d comes.
    let mut new_reg = TargetRegistry::new();
    for k in [&b, &a, &d] {
        new_reg.intern(k.clone());
    }
    let (a_new, b_new, d_new) = (
        new_reg.id_of(&a).unwrap(),
        new_reg.id_of(&b).unwrap(),
        new_reg.id_of(&d).unwrap(),
    );
    assert_ne!(a_new, a_old);
    // A table that knows nothing: the prober writes what it knows.
    let new = Arc::new(HealthTable::new(3, Status::Up));
    prober
        .reconcile(new_reg.to_targets(), new.clone())
        .await
        .unwrap();
    assert_eq!(new.status(a_new), Status::Down, "state carried by key");
    assert_eq!(new.status(b_new), Status::Up);
    assert_eq!(new.status(d_new), Status::Up);
    let c_probes = script.starts_of(at(3)).len();
    let d_probes = script.starts_of(at(4)).len();
    assert_eq!(d_probes, 0, "new target starts after its jitter");

    script.plan(at(2), vec![Act::Fail]);
    clock.advance(10 * SEC).await;
    assert_eq!(
        script.starts_of(at(3)).len(),
        c_probes,
        "removed target no longer probed"
    );
    assert!(script.starts_of(at(4)).len() >= 9);
    let reports = prober.report().await.unwrap();
    assert_eq!(reports.len(), 3);
    let a_after = report_of(&prober, at(1)).await;
    assert_eq!(a_after.ids, vec![a_new]);
    assert!(
        a_after.probes >= a_before.probes + 9,
        "counters continue: {a_before:?} {a_after:?}"
    );
    assert_eq!(a_after.restarts, 0, "same task");
    // b's fall lands in the new table only.
    assert_eq!(new.status(b_new), Status::Down);
    assert_eq!(old.status(old_reg.id_of(&b).unwrap()), Status::Up);
    cancel.cancel();
    prober.join().await.unwrap();
}

/// Editing a check (its timeout) makes a new key; the endpoint keeps its
/// state by address + check name instead of starting again from
/// `initial_state` (check_edit_resurrects.sh). Two new keys of the same
/// address and name are ambiguous: neither inherits.
#[tokio::test]
async fn an_edited_check_keeps_the_state_of_its_endpoint() {
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    script.plan(at(1), vec![Act::Fail]);
    script.plan(at(2), vec![Act::Fail]);
    let (a, b) = (tcp_key(1, |_| {}), tcp_key(2, |_| {}));
    let mut old_reg = TargetRegistry::new();
    old_reg.intern(a.clone());
    old_reg.intern(b.clone());
    let old = Arc::new(HealthTable::for_targets(old_reg.iter()));
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        old_reg.to_targets(),
        old.clone(),
        cancel.clone(),
        options(clock.clone(), &script),
    );
    clock
        .advance_until(10 * MS, 10 * SEC, || {
            old.status(TargetId(0)) == Status::Down && old.status(TargetId(1)) == Status::Down
        })
        .await
        .expect("both go down");

    // a: its timeout edited. b: edited into two checks of the same name
    // (two zones), so which one is b's successor is unknown.
    let a2 = tcp_key(1, |c| c.timeout = 600 * MS);
    let b2 = tcp_key(2, |c| c.port = 10);
    let b3 = tcp_key(2, |c| c.port = 11);
    let mut new_reg = TargetRegistry::new();
    for k in [&a2, &b2, &b3] {
        new_reg.intern(k.clone());
    }
    let new = Arc::new(HealthTable::carry_over(&old, &old_reg, new_reg.iter()));
    assert_eq!(
        new.status(TargetId(0)),
        Status::Down,
        "table carried by name"
    );
    assert_eq!(
        new.status(TargetId(1)),
        Status::Up,
        "ambiguous: initial state"
    );
    prober
        .reconcile(new_reg.to_targets(), new.clone())
        .await
        .unwrap();
    assert_eq!(
        new.status(TargetId(0)),
        Status::Down,
        "prober carried by name"
    );
    assert_eq!(new.status(TargetId(1)), Status::Up);
    assert_eq!(new.status(TargetId(2)), Status::Up);
    cancel.cancel();
    prober.join().await.unwrap();
}

#[tokio::test]
async fn one_probe_per_unique_target_and_unchecked_targets_stay_up() {
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    script.plan(at(1), vec![Act::Fail]);
    let k = tcp_key(1, |_| {});
    let unchecked = TargetKey {
        addr: ip(5),
        check: None,
    };
    let targets = vec![
        (TargetId(0), k.clone()),
        (TargetId(1), k),
        (TargetId(2), unchecked),
    ];
    let table = Arc::new(HealthTable::new(3, Status::Down));
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        targets,
        table.clone(),
        cancel.clone(),
        options(clock.clone(), &script),
    );
    assert_eq!(table.status(TargetId(2)), Status::Up);
    clock.advance(10 * SEC).await;
    let n = script.starts_of(at(1)).len();
    assert!(
        (9..=10).contains(&n),
        "one probe per interval, not two: {n}"
    );
    assert_eq!(table.status(TargetId(0)), Status::Down);
    assert_eq!(table.status(TargetId(1)), Status::Down);
    assert_eq!(table.status(TargetId(2)), Status::Up);
    let reports = prober.report().await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].ids, vec![TargetId(0), TargetId(1)]);
    cancel.cancel();
    prober.join().await.unwrap();
}

#[tokio::test]
async fn cancel_stops_every_task() {
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    script.plan(at(2), vec![Act::Hang]);
    let targets = vec![
        (TargetId(0), tcp_key(1, |_| {})),
        (TargetId(1), tcp_key(2, |_| {})),
    ];
    let table = Arc::new(HealthTable::new(2, Status::Up));
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        targets,
        table,
        cancel.clone(),
        options(clock.clone(), &script),
    );
    clock.advance(3 * SEC).await;
    cancel.cancel();
    ManualClock::settle().await;
    assert_eq!(prober.report().await.unwrap_err(), ProberError::Stopped);
    prober.join().await.unwrap();
    let n = script.st.lock().unwrap().starts.len();
    assert!(n >= 4);
    clock.advance(10 * SEC).await;
    assert_eq!(script.st.lock().unwrap().starts.len(), n);
}

fn fast_http(port: u16) -> Check {
    let mut c = check(CheckKind::Http(http()), port);
    c.interval = 100 * MS;
    c.timeout = 50 * MS;
    c
}

/// Poll `cond` on the real clock; the time it took, or a panic after `limit`.
async fn wait_for(what: &str, limit: Duration, cond: impl Fn() -> bool) -> Duration {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(5 * MS).await;
    }
    t0.elapsed()
}

#[tokio::test]
async fn dead_http_target_goes_down_and_comes_back_on_the_real_clock() {
    // interval 0.1 s, timeout 0.05 s, rise 2, fall 3.
    let srv = TestServer::start(Reply::Http(200, "ok")).await;
    let id = TargetId(0);
    let k = key(LOCALHOST, fast_http(srv.addr.port()));
    let table = Arc::new(HealthTable::for_targets([(id, &k)]));
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        vec![(id, k)],
        table.clone(),
        cancel.clone(),
        ProberOptions::default(),
    );
    let ok = || table.status(id) == Status::Up;
    let down = || table.status(id) == Status::Down;
    // The bound: interval × fall + timeout = 0.35 s, plus slack for a
    // busy machine. It cannot be faster than fall probes (≥ 0.2 s).
    let bound = 1500 * MS;
    wait_for("first probes", 2 * SEC, || table.rtt_us(id).is_some()).await;
    assert!(ok());

    srv.set(Reply::Http(500, "broken"));
    let t = wait_for("down on 500", bound, down).await;
    assert!(
        t >= 150 * MS,
        "went down after {t:?}: fewer than fall probes?"
    );
    assert_eq!(
        only_report(&prober).await.last_error,
        Some(ProbeError::Status(500))
    );
    srv.set(Reply::Http(200, "ok"));
    let t = wait_for("up again", bound, ok).await;
    assert!(t >= 50 * MS, "came up after {t:?}: fewer than rise probes?");

    srv.set(Reply::Hang);
    wait_for("down on timeout", bound, down).await;
    assert_eq!(
        only_report(&prober).await.last_error,
        Some(ProbeError::Timeout(50 * MS))
    );
    srv.set(Reply::Http(200, "ok"));
    wait_for("up again", bound, ok).await;

    srv.stop().await;
    wait_for("down when refused", bound, down).await;
    assert_eq!(
        only_report(&prober).await.last_error,
        Some(ProbeError::Refused)
    );
    cancel.cancel();
    prober.join().await.unwrap();
}

async fn only_report(p: &Prober) -> TargetReport {
    let mut r = p.report().await.unwrap();
    assert_eq!(r.len(), 1);
    r.pop().unwrap()
}

#[tokio::test]
async fn tcp_check_follows_probe_address_and_port() {
    // The server listens on 127.0.0.1 only; the endpoint is 127.0.0.2,
    // so a probe that ignored probe_address would be refused.
    let srv = TestServer::start(Reply::Close).await;
    let mut c = check(CheckKind::Tcp, srv.addr.port());
    c.interval = 100 * MS;
    c.timeout = 50 * MS;
    c.probe_address = Some(LOCALHOST);
    let id = TargetId(0);
    let k = key(ip(2), c);
    let table = Arc::new(HealthTable::for_targets([(id, &k)]));
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        vec![(id, k)],
        table.clone(),
        cancel.clone(),
        ProberOptions::default(),
    );
    wait_for("connected", 2 * SEC, || table.rtt_us(id).is_some()).await;
    let r = only_report(&prober).await;
    assert_eq!(r.probe_addr, srv.addr);
    assert_eq!(r.last_success, Some(Success::Connected));
    assert_eq!(r.failures, 0);
    srv.stop().await;
    wait_for("down when refused", 1500 * MS, || {
        table.status(id) == Status::Down
    })
    .await;
    assert_eq!(
        only_report(&prober).await.last_error,
        Some(ProbeError::Refused)
    );
    cancel.cancel();
    prober.join().await.unwrap();
}

/// A target whose responses carry a load figure keeps the last one in
/// the table; after [`LOAD_STALE_PROBES`] probes in a row without one
/// (failures included) it is dropped, which is logged once, and a new
/// figure brings it back, logged once too. Health is unaffected.
#[tokio::test]
async fn load_figures_go_stale_and_come_back() {
    use crate::health::check::{LoadFeedback, LoadKind, LoadSource};
    let logs = Logs::capture();
    let clock = Arc::new(ManualClock::new());
    let script = Script::new(clock.clone());
    let mut c = check(CheckKind::Http(http()), 9);
    c.interval = SEC;
    c.timeout = 500 * MS;
    if let CheckKind::Http(h) = &mut c.kind {
        h.load = Some(Box::new(LoadFeedback {
            source: LoadSource::Header("x-load".into()),
            kind: LoadKind::Connections,
        }));
    }
    let k = key(ip(3), c);
    let id = TargetId(0);
    let table = Arc::new(HealthTable::for_targets([(id, &k)]));
    // figures 7 then 9, then two misses (the 9 stays), a failure (the
    // third miss: dropped), more misses (no second line), then 4 again
    script.plan(
        at(3),
        vec![
            Act::Load(7.0),
            Act::Load(9.0),
            Act::NoLoad,
            Act::NoLoad,
            Act::Fail,
            Act::NoLoad,
            Act::NoLoad,
            Act::Load(4.0),
        ],
    );
    let cancel = CancellationToken::new();
    let prober = spawn_prober(
        vec![(id, k)],
        table.clone(),
        cancel.clone(),
        options(clock.clone(), &script),
    );
    let step = 10 * MS;
    let probes = |n: usize| {
        let script = script.clone();
        move || script.starts_of(at(3)).len() >= n
    };
    let mut seen = Vec::new();
    for n in 1..=8 {
        clock
            .advance_until(step, 5 * SEC, probes(n))
            .await
            .expect("probes run");
        // let the probe's result land
        clock.advance_until(step, 100 * MS, || false).await;
        seen.push(table.load(id));
    }
    assert_eq!(
        seen,
        [
            Some(7.0),
            Some(9.0),
            Some(9.0),
            Some(9.0),
            None,
            None,
            None,
            Some(4.0)
        ]
    );
    assert_eq!(table.status(id), Status::Up, "one failure is not a flip");
    let text = logs.text();
    let stale = "no load figure in 3 probes in a row: using the configured weight";
    assert_eq!(text.matches(stale).count(), 1, "{text}");
    assert!(text.contains("reason=unexpected status 500"), "{text}");
    assert_eq!(text.matches("load figures are back").count(), 1, "{text}");
    assert_eq!(report_of(&prober, at(3)).await.load, Some(4.0));
    cancel.cancel();
    prober.join().await.unwrap();
}

/// Cluster mode: the cell is the fleet's decision. A target this instance
/// sees down stays up while two live peers see it up; it goes down once
/// they are gone (or the store is); its own view is published once it
/// has a probe result, and withdrawn when a reload removes the target.
#[tokio::test(start_paused = true)]
async fn the_fleet_decides_the_cell() {
    use crate::health::fleet::{Fleet, View, fleet_key};
    use crate::health::quorum::{Observation, Quorum};
    let clock: Arc<dyn Clock> = Arc::new(crate::health::clock::TokioClock);
    let script = Script::new(clock.clone());
    script.plan(at(3), vec![Act::Fail]);
    let k = tcp_key(3, |_| {});
    let fk: Arc<str> = fleet_key(&k).unwrap().into();
    let id = TargetId(0);
    let table = Arc::new(HealthTable::for_targets([(id, &k)]));
    let fleet = Arc::new(Fleet::new("a", Quorum::default()));
    let up = View {
        obs: Observation::UP,
        rtt_us: Some(1000),
        last_probe: Some(std::time::SystemTime::now()),
        check: "c".into(),
    };
    let mut peers = HashMap::new();
    for n in ["b", "c"] {
        peers.insert(n.to_string(), HashMap::from([(fk.clone(), up.clone())]));
    }
    fleet.connect(peers, vec!["a".into(), "b".into(), "c".into()]);
    let cancel = CancellationToken::new();
    let mut opts = options(clock.clone(), &script);
    opts.fleet = Some(fleet.clone());
    let prober = spawn_prober(vec![(id, k.clone())], table.clone(), cancel.clone(), opts);
    let t0 = tokio::time::Instant::now();
    // Own state machine goes down after fall = 3 failures...
    while report_of(&prober, at(3)).await.status != Status::Down {
        assert!(t0.elapsed() < 30 * SEC, "own view never went down");
        tokio::time::sleep(100 * MS).await;
    }
    // ...but 2 of 3 vantage points see it up: still up, marked failing.
    let cell = table.cell(id);
    assert_eq!(cell.status(), Status::Up);
    assert!(cell.failing());
    let pending = fleet.take_pending();
    assert_eq!(pending.len(), 1, "own view waits to be published");
    assert_eq!(pending[0].1.as_ref().unwrap().obs, Observation::DOWN);
    // One peer leaves: 1 of 2 is not more than half.
    fleet.peer("c", &fk, None);
    fleet.peers_updated();
    let t1 = tokio::time::Instant::now();
    while table.status(id) != Status::Down {
        assert!(t1.elapsed() < 5 * SEC, "peer change not applied");
        tokio::time::sleep(10 * MS).await;
    }
    // The store goes away: own view only (down), peers dropped.
    fleet.disconnect("gone".into());
    tokio::time::sleep(100 * MS).await;
    assert_eq!(table.status(id), Status::Down);
    assert_eq!(fleet.views(&fk).len(), 1);
    // A reload without the target withdraws its observation.
    prober
        .reconcile(
            Vec::<ProbeTarget>::new(),
            Arc::new(HealthTable::new(0, Status::Up)),
        )
        .await
        .unwrap();
    let pending = fleet.take_pending();
    assert_eq!((pending.len(), pending[0].1.is_none()), (1, true));
    cancel.cancel();
    prober.join().await.unwrap();
}
