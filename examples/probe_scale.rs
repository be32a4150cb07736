//! Probing at scale: the release `dnslb` health-checking N endpoints every
//! second (half HTTP, half TCP), against loopback servers this program
//! starts, for a bounded time. Reports the prober's CPU (per thread, from
//! `/proc/PID/task/*/stat`), RSS, the probe timing error measured on the
//! server side (interval between two probes of the same endpoint, per
//! endpoint), missed probes, and the latency of DNS queries sent during
//! the run (the query path must not be delayed by probing).
//!
//! ```text
//! cargo build --release
//! cargo run --release --example probe_scale -- [--endpoints 50000] [--seconds 60]
//!     [--ports 100] [--interval 1] [--dnslb target/release/dnslb]
//!     [--kind mixed|http|tcp] [--pin] [--net lo|veth]
//! ```
//!
//! It runs inside a network namespace of its own with only loopback (it
//! re-executes itself under `unshare -n`, so it needs root): there the
//! servers listen on `0.0.0.0:PORT` for `--ports` ports, and endpoint `e`
//! is address `127.77.X.Y` (`e / ports`) on port `e % ports`, so 50,000
//! endpoints need 100 listening sockets instead of 50,000 file
//! descriptors. One check per port (`interval`, `timeout` = interval / 2,
//! rise 2, fall 3); even ports are HTTP (`GET /`, 200 "ok", connection
//! closed), odd ports TCP (accept and close); `--kind http` or `tcp` makes
//! every port one kind. `--pin` runs dnslb on CPU 0 and this program (the
//! servers, the DNS sampler) on CPU 1, so dnslb has exactly one core.
//!
//! `--net lo` (the default) puts dnslb and the servers in that one
//! namespace: on loopback the kernel runs both ends of every TCP handshake
//! in the connecting thread, so dnslb is charged for the servers' side.
//! `--net veth` models two hosts instead: dnslb runs in a second namespace
//! (A) joined to this one (B, the servers and the DNS sampler) by a veth
//! pair, with RPS steering packets that arrive on B's end to CPU 1 and on
//! A's end to CPU 0; with `--pin`, CPU 0 then does only dnslb's own work.
//! Targets stay loopback addresses (see `VETH_SETUP`): A routes
//! 127.77.0.0/16 over the veth from its address 127.78.0.1, dnslb listens
//! for DNS on 127.78.0.1, and the sampler in B queries it from 127.78.0.2.
//! The report adds CPU 0's and CPU 1's busy time from `/proc/stat`, since
//! softirq work is charged to whichever task it interrupts.
//!
//! Everything is bounded: the run lasts `--seconds` after a warm-up of two
//! intervals, the DNS sampler sends one query every 5 ms, and dnslb is
//! stopped by its PID at the end. With `--net veth`, the process holding
//! namespace A is killed by its PID at the end or on a panic, dies with
//! this program (parent-death signal) and otherwise exits on its own after
//! the run's length plus two minutes; dnslb gets the same parent-death
//! signal. The veth pair goes with the namespaces.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const IN_NETNS: &str = "DNSLB_PROBE_SCALE_IN_NETNS";
const PORT_BASE: u16 = 20000;

struct Args {
    endpoints: usize,
    seconds: u64,
    ports: usize,
    interval: f64,
    dnslb: PathBuf,
    /// Which checks: "mixed" (even ports HTTP, odd TCP), "http" or "tcp".
    kind: String,
    /// Pin dnslb to CPU 0 and this load generator to CPU 1.
    pin: bool,
    /// Network between dnslb and the servers: "lo" (one namespace,
    /// loopback) or "veth" (two namespaces joined by a veth pair, RPS).
    net: String,
}

impl Args {
    /// Is port number `p` (0-based) an HTTP check?
    fn http(&self, p: usize) -> bool {
        match self.kind.as_str() {
            "http" => true,
            "tcp" => false,
            _ => p.is_multiple_of(2),
        }
    }
}

fn parse_args() -> Args {
    let mut a = Args {
        endpoints: 50_000,
        seconds: 60,
        ports: 100,
        interval: 1.0,
        dnslb: PathBuf::from("target/release/dnslb"),
        kind: "mixed".into(),
        pin: false,
        net: "lo".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--pin" {
            a.pin = true;
            continue;
        }
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--endpoints" => a.endpoints = v.parse().expect("--endpoints N"),
            "--seconds" => a.seconds = v.parse().expect("--seconds S"),
            "--ports" => a.ports = v.parse().expect("--ports P"),
            "--interval" => a.interval = v.parse().expect("--interval SECONDS"),
            "--dnslb" => a.dnslb = PathBuf::from(v),
            "--kind" => a.kind = v,
            "--net" => a.net = v,
            _ => panic!("unknown argument {k} (see the file's doc comment)"),
        }
    }
    assert!(
        ["mixed", "http", "tcp"].contains(&a.kind.as_str()),
        "--kind mixed|http|tcp"
    );
    assert!(["lo", "veth"].contains(&a.net.as_str()), "--net lo|veth");
    assert!(a.seconds <= 600, "--seconds is bounded to 600");
    assert!(a.ports >= 2 && a.ports <= 1000, "--ports 2..=1000");
    assert!(
        a.endpoints / a.ports < 65_000,
        "too few ports for that many endpoints"
    );
    a
}

fn endpoint_addr(e: usize, ports: usize) -> (Ipv4Addr, u16) {
    let a = e / ports;
    (
        Ipv4Addr::new(127, 77, (a / 250) as u8, (a % 250 + 1) as u8),
        PORT_BASE + (e % ports) as u16,
    )
}

fn endpoint_of(ip: Ipv4Addr, port: u16, ports: usize) -> Option<usize> {
    let o = ip.octets();
    if o[0] != 127 || o[1] != 77 || o[3] == 0 {
        return None;
    }
    let a = o[2] as usize * 250 + (o[3] as usize - 1);
    Some(a * ports + (port - PORT_BASE) as usize)
}

fn main() {
    let args = parse_args();
    if std::env::var_os(IN_NETNS).is_none() {
        let exe = std::env::current_exe().expect("own path");
        let mut cmd = Command::new(if args.pin { "taskset" } else { "unshare" });
        if args.pin {
            cmd.args(["-c", "1", "unshare"]);
        }
        // `--net veth` also needs a mount namespace, for a /sys that shows
        // this namespace's devices (their RPS masks).
        let (flags, setup): (&[&str], _) = if args.net == "veth" {
            (
                &["-n", "-m"],
                "mount -t sysfs sysfs /sys && ip link set lo up && exec \"$@\"",
            )
        } else {
            (&["-n"], "ip link set lo up && exec \"$@\"")
        };
        let status = cmd
            .args(flags)
            .args(["--", "sh", "-c", setup, "sh"])
            .arg(exe)
            .args(std::env::args().skip(1))
            .env(IN_NETNS, "1")
            .status()
            .expect("run unshare -n (needs root)");
        std::process::exit(status.code().unwrap_or(1));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(if args.pin { 1 } else { 2 })
        .enable_all()
        .build()
        .unwrap();
    // Dropped (holder killed) at the end and when `run` panics.
    let veth = (args.net == "veth").then(|| Veth::up(&args));
    rt.block_on(run(args, veth.as_ref()));
}

/// `--net veth` set-up, run in namespace B (this program's) with `$1` the
/// PID of the process holding namespace A (dnslb's). Only loopback
/// addresses: `route_localnet` lets 127/8 cross the veth, and each side's
/// `local 127.0.0.0/8` route is narrowed so that the other side's share of
/// 127/8 is routed over the veth. A: 127.0.0.1 local, 127.78.0.1 on its
/// end, 127.77.0.0/16 (the endpoints) via B's end (one neighbour entry,
/// not one per endpoint address). B: 127.0.0.1 and 127.77.0.0/16 local,
/// 127.78.0.2 on its end, 127.78.0.0/16 on the link. RPS: what arrives on
/// B's end is processed on CPU 1, on A's end on CPU 0.
const VETH_SETUP: &str = r#"
ip link add veth-b type veth peer name veth-a
ip link set veth-a netns "$1"
for d in all default veth-b; do
  sysctl -qw net.ipv4.conf.$d.route_localnet=1 net.ipv4.conf.$d.rp_filter=0
done
ip addr add 127.78.0.2/16 dev veth-b
ip link set veth-b up
ip route del local 127.0.0.0/8 dev lo table local
ip route add local 127.77.0.0/16 dev lo table local
echo 2 > /sys/class/net/veth-b/queues/rx-0/rps_cpus
nsenter -t "$1" -n -m sh -ec '
for d in all default veth-a; do
  sysctl -qw net.ipv4.conf.$d.route_localnet=1 net.ipv4.conf.$d.rp_filter=0
done
ip addr add 127.78.0.1/16 dev veth-a
ip link set veth-a up
ip route del local 127.0.0.0/8 dev lo table local
ip route add 127.77.0.0/16 via 127.78.0.2 dev veth-a src 127.78.0.1
echo 1 > /sys/class/net/veth-a/queues/rx-0/rps_cpus
'
"#;

/// dnslb's namespace (A) for `--net veth`, held by a `sleep` in a network
/// and mount namespace of its own; killed by its PID when dropped.
struct Veth {
    holder: Child,
}

impl Veth {
    fn up(a: &Args) -> Veth {
        let life = (2.0 * a.interval + a.seconds as f64 + 120.0).ceil() as u64;
        let holder = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "unshare", "-n", "-m", "sh", "-c"])
            .arg("mount -t sysfs sysfs /sys && ip link set lo up && exec sleep \"$1\"")
            .args(["sh", &life.to_string()])
            .spawn()
            .expect("run setpriv + unshare (needs root)");
        let mut v = Veth { holder };
        let pid = v.pid();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default() != "sleep\n"
        {
            assert!(
                v.holder.try_wait().unwrap().is_none() && Instant::now() < deadline,
                "the namespace holder did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = Command::new("timeout")
            .args(["30", "sh", "-ec", VETH_SETUP, "sh", &pid.to_string()])
            .output()
            .expect("run sh");
        assert!(
            out.status.success(),
            "--net veth set-up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        v
    }

    fn pid(&self) -> u32 {
        self.holder.id()
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Arrival times (µs since start) per endpoint.
type Arrivals = Arc<Mutex<Vec<Vec<u32>>>>;

async fn run(args: Args, veth: Option<&Veth>) {
    let dir = std::env::temp_dir().join(format!("dnslb-probe-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("zones")).unwrap();
    write_config(&dir, &args);

    let t0 = Instant::now();
    let arrivals: Arrivals = Arc::new(Mutex::new(vec![Vec::new(); args.endpoints]));
    for p in 0..args.ports {
        let port = PORT_BASE + p as u16;
        let l = TcpListener::bind(("0.0.0.0", port))
            .await
            .unwrap_or_else(|e| panic!("bind {port}: {e}"));
        tokio::spawn(serve(l, args.http(p), args.ports, t0, arrivals.clone()));
    }

    // The peer, measured before dnslb starts: what the kernel alone
    // charges for one probe of each kind on this machine.
    let mut floors = Vec::new();
    if veth.is_none() {
        for (kind, http, port) in [("tcp", false, PORT_BASE - 2), ("http", true, PORT_BASE - 3)] {
            let l = TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap_or_else(|e| panic!("bind {port}: {e}"));
            tokio::spawn(serve(l, http, args.ports, t0, arrivals.clone()));
            let to = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
            let pin = args.pin;
            let f = tokio::task::spawn_blocking(move || floor(to, http, pin))
                .await
                .unwrap();
            floors.push((kind, f));
        }
    }

    let dns = SocketAddr::new(
        IpAddr::V4(if veth.is_some() {
            Ipv4Addr::new(127, 78, 0, 1)
        } else {
            Ipv4Addr::LOCALHOST
        }),
        PORT_BASE - 1,
    );
    let mut argv: Vec<OsString> = Vec::new();
    if let Some(v) = veth {
        let pid = v.pid().to_string();
        argv.extend(
            [
                "nsenter",
                "-t",
                &pid,
                "-n",
                "setpriv",
                "--pdeathsig",
                "KILL",
            ]
            .map(Into::into),
        );
    }
    if args.pin {
        argv.extend(["taskset", "-c", "0"].map(Into::into));
    }
    argv.push(args.dnslb.clone().into());
    let mut child = Command::new(&argv[0]);
    let mut child = child
        .args(&argv[1..])
        .arg("serve")
        .arg("--config")
        .arg(dir.join("dnslb.toml"))
        .arg("--listen")
        .arg(dns.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", args.dnslb.display()));
    let pid = child.id();
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let (l2, err) = (log.clone(), child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            l2.lock().unwrap().push(line);
        }
    });
    let started = Instant::now();
    while !log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("listening on udp"))
    {
        if started.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            stop(&mut child);
            panic!("dnslb did not start:\n{}", log.lock().unwrap().join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let load_line = log
        .lock()
        .unwrap()
        .iter()
        .find(|l| l.contains("loaded"))
        .cloned()
        .unwrap_or_default();

    // Warm-up: first probes are spread over one interval.
    let interval = Duration::from_secs_f64(args.interval);
    tokio::time::sleep(2 * interval).await;
    let from_us = t0.elapsed().as_micros() as u32;
    let cpu0 = thread_cpu(pid);
    let (cores0, softnet0) = (cores(), softnet());
    let w0 = Instant::now();
    let window = Duration::from_secs(args.seconds);
    let dns = tokio::task::spawn_blocking(move || dns_sampler(dns, window));
    tokio::time::sleep(window).await;
    let wall = w0.elapsed();
    let cpu1 = thread_cpu(pid);
    let (cores1, softnet1) = (cores(), softnet());
    let to_us = t0.elapsed().as_micros() as u32;
    let (rss, hwm) = memory(pid);
    let dnslb_kernel = netstat(&format!("/proc/{pid}/net/netstat"));
    let dns = dns.await.unwrap();
    stop(&mut child);
    let _ = std::fs::remove_dir_all(&dir);

    let dnslb_pct = report(&args, &load_line, &cpu0, &cpu1, wall, rss, hwm, &dns);
    report_cores(&cores0, &cores1, &softnet0, &softnet1, wall);
    if veth.is_some() {
        println!(
            "kernel (servers' namespace B): {}",
            netstat("/proc/self/net/netstat")
        );
        println!("kernel (dnslb's namespace A): {dnslb_kernel}");
    } else {
        println!(
            "kernel (this namespace): {}",
            netstat("/proc/self/net/netstat")
        );
    }
    let rate = timing(&args, &arrivals.lock().unwrap(), from_us, to_us);
    report_floor(&args, &floors, dnslb_pct, rate);
    let errors: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .take(5)
        .cloned()
        .collect();
    {
        let log = log.lock().unwrap();
        let count = |pat: &str| log.iter().filter(|l| l.contains(pat)).count();
        println!(
            "dnslb log: {} endpoints marked down, {} marked up, {} overload warnings (one a minute at most)",
            count("-> down after"),
            count("-> up after"),
            count("prober overloaded")
        );
    }
    if !errors.is_empty() {
        println!("\nfirst warnings from dnslb:\n{}", errors.join("\n"));
    }
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn write_config(dir: &Path, a: &Args) {
    std::fs::write(dir.join("dnslb.toml"), "zones_dir = \"zones\"\n").unwrap();
    std::fs::write(
        dir.join("zones/scale.test.zone"),
        "$ORIGIN scale.test.\n$TTL 300\n@ SOA ns1 h 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 127.0.0.1\nstatic A 192.0.2.1\n",
    )
    .unwrap();
    let mut p = String::new();
    let timeout = a.interval / 2.0;
    for port in 0..a.ports {
        let kind = if a.http(port) { "http" } else { "tcp" };
        let path = if kind == "http" { "path = \"/\"\n" } else { "" };
        p.push_str(&format!(
            "[checks.c{port}]\nkind = \"{kind}\"\nport = {}\n{path}interval = {}\ntimeout = {timeout}\nrise = 2\nfall = 3\n\n",
            PORT_BASE + port as u16,
            a.interval
        ));
    }
    let mut members: Vec<String> = vec![String::new(); a.ports];
    for e in 0..a.endpoints {
        let (ip, port) = endpoint_addr(e, a.ports);
        let c = (port - PORT_BASE) as usize;
        members[c].push_str(&format!("  {{ address = \"{ip}\", check = \"c{c}\" }},\n"));
    }
    for (c, m) in members.iter().enumerate() {
        p.push_str(&format!(
            "[pools.p{c}]\nmembers = [\n{m}]\n\n[names.n{c}]\npolicy = \"weighted\"\npool = \"p{c}\"\n\n"
        ));
    }
    std::fs::write(dir.join("zones/scale.test.toml"), p).unwrap();
}

/// Accept probes: record the arrival, answer HTTP or just close.
async fn serve(l: TcpListener, http: bool, ports: usize, t0: Instant, arrivals: Arrivals) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            continue;
        };
        let now = t0.elapsed().as_micros() as u32;
        if let Ok(SocketAddr::V4(local)) = s.local_addr()
            && let Some(e) = endpoint_of(*local.ip(), local.port(), ports)
            && let Some(v) = arrivals.lock().unwrap().get_mut(e)
        {
            v.push(now);
        }
        if http {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let mut n = 0;
                while n < buf.len() {
                    match s.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    }
}

/// (thread name, (user, system) CPU ticks) per thread of `pid`.
fn thread_cpu(pid: u32) -> HashMap<u32, (String, (u64, u64))> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        // Fields 14 and 15 of stat (utime, stime), counted after the name.
        let ticks = (
            f[11].parse::<u64>().unwrap_or(0),
            f[12].parse::<u64>().unwrap_or(0),
        );
        let tid = t.file_name().to_string_lossy().parse().unwrap_or(0);
        out.insert(tid, (name, ticks));
    }
    out
}

fn memory(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

/// One A query every 5 ms for `window` to `server` (127.0.0.1, or
/// dnslb's veth address 127.78.0.1, queried from B's 127.78.0.2);
/// latencies in µs (lost: u32::MAX).
fn dns_sampler(server: SocketAddr, window: Duration) -> Vec<u32> {
    let from = if server.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST) {
        "127.0.0.1:0"
    } else {
        "127.78.0.2:0"
    };
    let s = UdpSocket::bind(from).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    // static.scale.test A, RD clear, no EDNS.
    let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in ["static", "scale", "test"] {
        q.push(l.len() as u8);
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let end = Instant::now() + window;
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while Instant::now() < end {
        let t = Instant::now();
        s.send_to(&q, server).unwrap();
        out.push(match s.recv_from(&mut buf) {
            Ok(_) => t.elapsed().as_micros() as u32,
            Err(_) => u32::MAX,
        });
        std::thread::sleep(Duration::from_millis(5).saturating_sub(t.elapsed()));
    }
    out
}

/// Listen-queue overflows and SYN retransmissions: where a saturated
/// loopback loses probes. `path` is a `/proc/PID/net/netstat`: the
/// counters of that process's network namespace.
fn netstat(path: &str) -> String {
    let t = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = t.lines().collect();
    let mut out = Vec::new();
    for pair in lines.chunks(2) {
        let [h, v] = pair else { continue };
        if !h.starts_with("TcpExt:") {
            continue;
        }
        for (k, n) in h.split_whitespace().zip(v.split_whitespace()) {
            if [
                "ListenOverflows",
                "ListenDrops",
                "TCPSynRetrans",
                "TCPTimeouts",
            ]
            .contains(&k)
            {
                out.push(format!("{k} {n}"));
            }
        }
    }
    out.join(", ")
}

fn pct(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[allow(clippy::too_many_arguments)]
fn report(
    a: &Args,
    load_line: &str,
    cpu0: &HashMap<u32, (String, (u64, u64))>,
    cpu1: &HashMap<u32, (String, (u64, u64))>,
    wall: Duration,
    rss_kb: u64,
    hwm_kb: u64,
    dns: &[u32],
) -> f64 {
    let hz = 100.0; // USER_HZ on Linux
    let mut by_name: HashMap<String, (f64, f64)> = HashMap::new();
    let mut busiest = 0.0f64;
    let share = |ticks: u64| ticks as f64 / hz / wall.as_secs_f64() * 100.0;
    for (tid, (name, (u1, s1))) in cpu1 {
        let (u0, s0) = cpu0.get(tid).map_or((0, 0), |x| x.1);
        let (u, s) = (share(u1 - u0), share(s1 - s0));
        let e = by_name.entry(name.clone()).or_default();
        e.0 += u;
        e.1 += s;
        if name == "dnslb" {
            busiest = busiest.max(u + s);
        }
    }
    let user: f64 = by_name.values().map(|v| v.0).sum();
    let sys: f64 = by_name.values().map(|v| v.1).sum();
    let total = user + sys;
    println!(
        "probe_scale: {} endpoints ({} HTTP, {} TCP), interval {} s, timeout {} s, {} s measured",
        a.endpoints,
        (0..a.endpoints).filter(|e| a.http(e % a.ports)).count(),
        (0..a.endpoints).filter(|e| !a.http(e % a.ports)).count(),
        a.interval,
        a.interval / 2.0,
        a.seconds
    );
    println!(
        "network: {}; {}",
        a.net,
        match (a.net.as_str(), a.pin) {
            ("veth", true) =>
                "dnslb in its own namespace on CPU 0, servers' packets on CPU 1 (RPS)",
            ("veth", false) =>
                "dnslb in its own namespace, servers' packets on CPU 1 (RPS), unpinned",
            (_, true) => "one namespace, loopback; dnslb on CPU 0, load generator on CPU 1",
            _ => "one namespace, loopback, unpinned",
        }
    );
    println!("start-up: {}", load_line.trim());
    println!(
        "dnslb CPU, % of one core: total {total:.1} (user {user:.1}, system {sys:.1}{})",
        if a.net == "lo" {
            "; on loopback the system time includes the peer's side of every TCP handshake"
        } else {
            ""
        }
    );
    let mut names: Vec<_> = by_name.into_iter().collect();
    names.sort_by(|x, y| (y.1.0 + y.1.1).total_cmp(&(x.1.0 + x.1.1)));
    for (n, (u, s)) in names {
        println!("  {n:<16} user {u:6.1}  system {s:6.1}");
    }
    println!("  busiest async worker (prober + TCP listener): {busiest:.1}");
    println!(
        "dnslb memory: RSS {:.1} MB at the end, peak {:.1} MB",
        rss_kb as f64 / 1024.0,
        hwm_kb as f64 / 1024.0
    );
    let mut d: Vec<u32> = dns.iter().copied().filter(|&x| x != u32::MAX).collect();
    d.sort_unstable();
    println!(
        "DNS queries during the run: {} sent, {} lost; latency p50 {} µs, p99 {} µs, max {} µs",
        dns.len(),
        dns.len() - d.len(),
        pct(&d, 0.5),
        pct(&d, 0.99),
        d.last().copied().unwrap_or(0)
    );
    total
}

/// Connections the peer makes per kind, at most, and for at most this long.
const FLOOR_MAX: u32 = 30_000;
const FLOOR_TIME: Duration = Duration::from_secs(2);

/// The peer: the kernel's own cost of one probe without dnslb, measured
/// in the same run. One thread (on CPU 0 with `--pin`, where dnslb will
/// run) makes blocking connections to a loopback server of this program
/// as fast as it can, for [`FLOOR_TIME`] or [`FLOOR_MAX`] connections:
/// TCP is connect and close with a reset (as dnslb's TCP check); HTTP is
/// connect, the request dnslb sends, read to the end, close. Returns
/// (user, system) CPU µs per connection of this thread (`RUSAGE_THREAD`).
fn floor(to: SocketAddr, http: bool, pin: bool) -> (f64, f64) {
    if pin {
        // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes inside it;
        // pid 0 is this thread.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(0, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
    let usage = || {
        // SAFETY: getrusage fills the zeroed struct it is given.
        let mut r: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut r) };
        let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
        (us(r.ru_utime), us(r.ru_stime))
    };
    let req = format!(
        "GET / HTTP/1.1\r\naccept: */*\r\nuser-agent: dnslb-health-check\r\nhost: {to}\r\n\r\n"
    );
    let (u0, s0) = usage();
    let start = Instant::now();
    let mut n = 0u32;
    let mut buf = [0u8; 512];
    while n < FLOOR_MAX && start.elapsed() < FLOOR_TIME {
        let Ok(mut c) = std::net::TcpStream::connect(to) else {
            continue;
        };
        if http {
            use std::io::Read;
            let _ = c.write_all(req.as_bytes());
            while matches!(c.read(&mut buf), Ok(k) if k > 0) {}
        } else {
            let _ = socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO));
        }
        n += 1;
    }
    let (u1, s1) = usage();
    let n = f64::from(n.max(1));
    ((u1 - u0) / n, (s1 - s0) / n)
}

/// dnslb's CPU per probe against the peer's per connection.
fn report_floor(a: &Args, floors: &[(&str, (f64, f64))], dnslb_pct: f64, rate: f64) {
    if floors.is_empty() {
        println!("kernel floor (peer): not measured with --net veth");
        return;
    }
    let http_share =
        (0..a.endpoints).filter(|e| a.http(e % a.ports)).count() as f64 / a.endpoints.max(1) as f64;
    let mut mix = 0.0;
    for (kind, (u, s)) in floors {
        let share = if *kind == "http" {
            http_share
        } else {
            1.0 - http_share
        };
        mix += share * (u + s);
        println!(
            "kernel floor (peer, same run, one blocking thread): {kind} {:.1} µs CPU per connection (user {u:.1}, system {s:.1}); one core: {:.0} connections/s",
            u + s,
            1e6 / (u + s)
        );
    }
    // Per probe the servers received (not per probe scheduled).
    let per_probe = dnslb_pct / 100.0 * 1e6 / rate.max(1.0);
    println!(
        "dnslb: {per_probe:.1} µs CPU per probe against the peer's {mix:.1} µs for this mix: ratio {:.2}; one core at this cost: {:.0} probes/s",
        per_probe / mix,
        1e6 / per_probe
    );
}

/// Per CPU (`cpuN` lines of `/proc/stat`): user, nice, system, idle,
/// iowait, irq, softirq, steal, in USER_HZ ticks.
fn cores() -> Vec<[u64; 8]> {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    s.lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .map(|l| {
            let mut f = [0u64; 8];
            for (d, v) in f.iter_mut().zip(l.split_whitespace().skip(1)) {
                *d = v.parse().unwrap_or(0);
            }
            f
        })
        .collect()
}

/// Per CPU (rows of `/proc/net/softnet_stat`): packets processed by its
/// network softirq, and how many times another CPU woke it with an RPS
/// IPI (`received_rps`).
fn softnet() -> Vec<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/net/softnet_stat").unwrap_or_default();
    s.lines()
        .map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .map(|x| u64::from_str_radix(x, 16).unwrap_or(0))
                .collect();
            (
                f.first().copied().unwrap_or(0),
                f.get(9).copied().unwrap_or(0),
            )
        })
        .collect()
}

/// Each CPU's busy time over the window (whoever ran on it; softirq work
/// is charged to the task it interrupts, so this is where a prober's
/// kernel side shows whole), and the packets its softirq processed.
fn report_cores(
    c0: &[[u64; 8]],
    c1: &[[u64; 8]],
    n0: &[(u64, u64)],
    n1: &[(u64, u64)],
    wall: Duration,
) {
    let share = |ticks: u64| ticks as f64 / 100.0 / wall.as_secs_f64() * 100.0;
    for (cpu, (a, b)) in c0.iter().zip(c1).enumerate() {
        let d: Vec<u64> = a.iter().zip(b).map(|(x, y)| y.saturating_sub(*x)).collect();
        let busy = d[0] + d[1] + d[2] + d[5] + d[6];
        let (pkts, rps) = match (n0.get(cpu), n1.get(cpu)) {
            (Some(x), Some(y)) => (y.0.saturating_sub(x.0), y.1.saturating_sub(x.1)),
            _ => (0, 0),
        };
        println!(
            "CPU {cpu} busy (all tasks), % of one core: {:.1} (user {:.1}, system {:.1}, irq {:.1}, softirq {:.1}; steal {:.1}); softirq processed {pkts} packets, {rps} RPS IPIs received",
            share(busy),
            share(d[0] + d[1]),
            share(d[2]),
            share(d[5]),
            share(d[6]),
            share(d[7])
        );
    }
}

/// Probe timing on the server side: every interval between two probes of
/// one endpoint inside the window, its error against the check interval.
/// Returns the probes received per second.
fn timing(a: &Args, arrivals: &[Vec<u32>], from_us: u32, to_us: u32) -> f64 {
    let want = (a.interval * 1e6) as i64;
    let mut errs: Vec<u32> = Vec::new();
    let mut probes = 0usize;
    let mut silent = 0usize;
    let mut late = 0usize;
    for v in arrivals {
        let w: Vec<u32> = v
            .iter()
            .copied()
            .filter(|&t| t >= from_us && t <= to_us)
            .collect();
        probes += w.len();
        if w.is_empty() {
            silent += 1;
        }
        for p in w.windows(2) {
            let e = (p[1] as i64 - p[0] as i64 - want).unsigned_abs() as u32;
            if e > (want / 10) as u32 {
                late += 1;
            }
            errs.push(e);
        }
    }
    errs.sort_unstable();
    let secs = (to_us - from_us) as f64 / 1e6;
    let expected = a.endpoints as f64 * secs / a.interval;
    println!(
        "probes received: {probes} in {secs:.1} s ({:.0}/s; {:.1} % of the {:.0} expected); endpoints never probed: {silent}",
        probes as f64 / secs,
        probes as f64 / expected * 100.0,
        expected
    );
    println!(
        "interval error |gap - {} s| over {} gaps: p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms; beyond ±10 %: {} ({:.3} %)",
        a.interval,
        errs.len(),
        pct(&errs, 0.5) as f64 / 1e3,
        pct(&errs, 0.99) as f64 / 1e3,
        pct(&errs, 0.999) as f64 / 1e3,
        errs.last().copied().unwrap_or(0) as f64 / 1e3,
        late,
        late as f64 / errs.len().max(1) as f64 * 100.0
    );
    let _ = std::io::stdout().flush();
    probes as f64 / secs
}
