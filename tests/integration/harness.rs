//! The server under test: a scratch directory of zone files and config, the
//! real `dnslb` binary started on a free loopback port, killed on drop.
//!
//! Modelled on hickory-dns's `bin/tests/integration/server_harness.rs`: the
//! bound address comes from the server's own log line ("listening on udp
//! ADDR"), not from a port the test guesses, so tests run in parallel without
//! port races. The admin API gets a free port too (`--admin-listen
//! 127.0.0.1:0`, read from "admin listening on http ADDR"), never the
//! default 8053. Every stderr line is forwarded to the test's output so a
//! failing test shows what the server said.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Path of the binary under test, built by cargo for this test target.
pub const DNSLB: &str = env!("CARGO_BIN_EXE_dnslb");

/// How long a server may take to log its listening addresses. Generous:
/// the machine is shared and debug builds start slowly under load.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A scratch directory under the system temp dir, removed on drop.
///
/// `tempfile` is not in the dependency tree, and this is all we need.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("dnslb-itest-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A config file plus a `zones/` directory, written to a [`TempDir`].
pub struct Setup {
    dir: TempDir,
}

impl Setup {
    /// `zones`: (zone name, master file text); `config`: extra TOML lines
    /// appended after `zones_dir = "zones"`.
    pub fn new(tag: &str, zones: &[(&str, &str)], config: &str) -> Self {
        let dir = TempDir::new(tag);
        let zdir = dir.path().join("zones");
        std::fs::create_dir_all(&zdir).expect("create zones dir");
        for (name, text) in zones {
            std::fs::write(zdir.join(format!("{name}.zone")), text).expect("write zone");
        }
        let cfg = format!("zones_dir = \"zones\"\n{config}\n");
        std::fs::write(dir.path().join("dnslb.toml"), cfg).expect("write config");
        Self { dir }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("dnslb.toml")
    }

    /// The path a zone file of this setup was written to.
    pub fn zone_file(&self, name: &str) -> PathBuf {
        self.dir.path().join("zones").join(format!("{name}.zone"))
    }

    /// The policy file of zone `name`: `NAME.toml` beside `NAME.zone`.
    pub fn policy_file(&self, name: &str) -> PathBuf {
        self.dir.path().join("zones").join(format!("{name}.toml"))
    }

    /// Write (or replace) the policy file of zone `name`.
    pub fn write_policy(&self, name: &str, text: &str) {
        std::fs::write(self.policy_file(name), text).expect("write policy file");
    }

    /// Start `dnslb serve` on this setup, on 127.0.0.1 port 0.
    pub fn serve(&self) -> TestServer {
        TestServer::start(&self.serve_args(&[]), None)
    }

    /// Start `dnslb serve` on this setup with one `--listen` per address.
    pub fn serve_on(&self, listen: &[&str]) -> TestServer {
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--config".into(),
            self.config().display().to_string(),
        ];
        for l in listen {
            args.push("--listen".into());
            args.push(l.to_string());
        }
        TestServer::start(&args, None)
    }

    /// Start `dnslb serve` on this setup with extra arguments (an
    /// `--admin-listen` among them replaces the harness's).
    pub fn serve_with(&self, extra: &[&str]) -> TestServer {
        TestServer::start(&self.serve_args(extra), None)
    }

    /// [`Setup::serve_with`] with environment variables set or removed.
    pub fn serve_env(&self, extra: &[&str], env: &[(&str, Option<&str>)]) -> TestServer {
        TestServer::start_env(&self.serve_args(extra), None, env)
    }

    /// The directory holding the config file and `zones/`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Start `dnslb serve --engine hickory` on this setup.
    pub fn serve_hickory(&self) -> TestServer {
        TestServer::start(&self.serve_args(&["--engine", "hickory"]), None)
    }

    fn serve_args(&self, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "serve".into(),
            "--config".into(),
            self.config().display().to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }

    /// Run `dnslb serve` expecting it to refuse to start; returns its exit
    /// status and stderr.
    pub fn serve_expecting_failure(&self) -> (ExitStatus, String) {
        self.serve_expecting_failure_with(&[])
    }

    /// [`Setup::serve_expecting_failure`] with extra `serve` arguments.
    pub fn serve_expecting_failure_with(&self, extra: &[&str]) -> (ExitStatus, String) {
        self.serve_expecting_failure_env(extra, &[])
    }

    /// [`Setup::serve_expecting_failure_with`] with environment variables.
    pub fn serve_expecting_failure_env(
        &self,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (ExitStatus, String) {
        let mut cmd = dnslb_command(&with_admin(self.serve_args(extra)), None);
        cmd.envs(env.iter().copied());
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dnslb");
        let mut stderr = child.stderr.take().expect("stderr piped");
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let status = loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                break st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("dnslb serve did not exit on a broken zone set");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, reader.join().expect("stderr reader"))
    }

    /// Run `dnslb check --config` on this setup.
    pub fn check(&self) -> CmdOutput {
        run(&[
            "check".into(),
            "--config".into(),
            self.config().display().to_string(),
        ])
    }
}

/// `serve` arguments with the admin API on a free loopback port, unless
/// they choose an admin address themselves: parallel servers must not all
/// try the default 127.0.0.1:8053.
fn with_admin(mut args: Vec<String>) -> Vec<String> {
    if !args.iter().any(|a| a == "--admin-listen") {
        args.push("--admin-listen".into());
        args.push("127.0.0.1:0".into());
    }
    args
}

fn dnslb_command(args: &[String], cwd: Option<&Path>) -> Command {
    let mut c = Command::new(DNSLB);
    c.args(args).stdin(Stdio::null());
    // The listening lines are logged at info; a developer's RUST_LOG must
    // not hide them.
    c.env("RUST_LOG", "info");
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    c
}

/// Output of a finished `dnslb` command.
pub struct CmdOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Run `dnslb ARGS` to completion.
pub fn run(args: &[String]) -> CmdOutput {
    let out = dnslb_command(args, None).output().expect("run dnslb");
    CmdOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Run `dnslb ARGS` to completion, killing it and failing the test when it
/// has not exited within `limit` (a command that hangs on a bad input
/// fails instead of hanging the test run).
pub fn run_bounded(args: &[&str], limit: Duration) -> CmdOutput {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let mut child = dnslb_command(&args, None)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dnslb");
    fn reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    }
    let out_t = reader(child.stdout.take().expect("stdout piped"));
    let err_t = reader(child.stderr.take().expect("stderr piped"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dnslb {args:?} did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    CmdOutput {
        status,
        stdout: out_t.join().expect("stdout reader"),
        stderr: err_t.join().expect("stderr reader"),
    }
}

/// How a reload went, as the server logged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// `reloaded`: every file loaded.
    Clean,
    /// `reload incomplete`: the new snapshot is served, but some files had
    /// errors (their zones keep their previous version).
    Partial,
    /// `reload failed`: nothing changed.
    Failed,
}

/// A running `dnslb serve`, killed when dropped.
pub struct TestServer {
    child: Child,
    /// UDP and TCP address of the first listener (they share the port).
    pub addr: SocketAddr,
    /// Every (udp, tcp) address pair the server logged, in order.
    pub listeners: Vec<(SocketAddr, SocketAddr)>,
    /// Address of the admin API, from its "admin listening on http" line.
    pub admin: Option<SocketAddr>,
    /// stderr up to and including the last listening line.
    pub startup_log: Vec<String>,
    /// Every stderr line so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    /// Spawn `dnslb ARGS` (in `cwd` if given) and wait until it has logged
    /// a listening line for every `--listen` argument.
    pub fn start(args: &[String], cwd: Option<&Path>) -> Self {
        Self::start_env(args, cwd, &[])
    }

    /// [`TestServer::start`] with environment variables set (`Some`) or
    /// removed (`None`), `RUST_LOG` included.
    pub fn start_env(args: &[String], cwd: Option<&Path>, env: &[(&str, Option<&str>)]) -> Self {
        let expected = args.iter().filter(|a| *a == "--listen").count().max(1);
        let args = with_admin(args.to_vec());
        let mut cmd = dnslb_command(&args, cwd);
        for (k, v) in env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dnslb");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel::<String>();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        // Forward every line; threads spawned by a test inherit its output
        // capture, so these show up with a failing test's output.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[dnslb] {line}");
                log2.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        let mut admin = None;
        let mut seen = Vec::new();
        while udp.len() < expected || tcp.len() < expected {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(a) = addr_after(&line, "admin listening on http ") {
                        admin = Some(a);
                    } else if let Some(a) = addr_after(&line, "listening on udp ") {
                        udp.push(a);
                    } else if let Some(a) = addr_after(&line, "listening on tcp ") {
                        tcp.push(a);
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    panic!(
                        "dnslb did not log its listening addresses within {START_TIMEOUT:?} \
                         (exit: {status:?}); stderr so far:\n{}",
                        seen.join("\n")
                    );
                }
            }
        }
        let listeners: Vec<_> = udp.into_iter().zip(tcp).collect();
        for (u, t) in &listeners {
            assert_eq!(u, t, "UDP and TCP should share one address");
        }
        Self {
            child,
            addr: listeners[0].0,
            listeners,
            admin,
            startup_log: seen,
            log,
        }
    }

    /// Wait until a stderr line containing `text` has appeared, at most
    /// `limit`; true if it did.
    pub fn wait_for_log(&self, text: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.log.lock().unwrap().iter().any(|l| l.contains(text)) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many stderr lines so far contain `text`.
    pub fn log_count(&self, text: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(text))
            .count()
    }

    /// Every stderr line so far that contains `text`.
    pub fn log_lines(&self, text: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(text))
            .cloned()
            .collect()
    }

    /// Send SIGHUP and wait (at most 10 s) for the outcome of that reload
    /// to be logged: true if everything reloaded cleanly, false if some
    /// file had errors (see [`TestServer::reload_outcome`]).
    pub fn reload(&self) -> bool {
        self.reload_outcome() == Reload::Clean
    }

    /// Send SIGHUP and wait (at most 10 s) for the outcome of the reload
    /// it caused. Reloads caused only by file changes (the watcher) are
    /// told apart by the `cause` the reloader logs.
    pub fn reload_outcome(&self) -> Reload {
        let count = |what: &str| {
            self.log
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.contains(what) && l.contains("SIGHUP"))
                .count()
        };
        const OK: &str = "dnslb::reload: reloaded";
        const PARTIAL: &str = "dnslb::reload: reload incomplete";
        const FAILED: &str = "dnslb::reload: reload failed";
        let before = [count(OK), count(PARTIAL), count(FAILED)];
        self.signal("HUP");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = [count(OK), count(PARTIAL), count(FAILED)];
            for (i, outcome) in [Reload::Clean, Reload::Partial, Reload::Failed]
                .into_iter()
                .enumerate()
            {
                if now[i] > before[i] {
                    // The lines logged right after the outcome (the
                    // summary) reach the reader thread a moment later.
                    std::thread::sleep(Duration::from_millis(200));
                    return outcome;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no reload outcome logged within 10 s of SIGHUP"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last `n` stderr lines, for assertion messages.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(n)..].join("\n")
    }

    /// Send `signal` (e.g. "HUP", "TERM") to the server process, by its id.
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{signal} failed");
    }

    /// Wait up to `limit` for the process to exit; its status if it did.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return Some(st);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://ADDR` of the admin API (panics when it is off).
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin.expect("the admin API is on"))
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn addr_after(line: &str, marker: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(marker)? + marker.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// The repository root (for the shipped `zones/` and `dnslb.toml`).
/// `dig @127.0.0.1 -p PORT +time=3 +tries=1 ARGS...`: its standard
/// output; fails the test when dig exits non-zero.
pub fn dig(port: u16, args: &[&str]) -> String {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=3", "+tries=1"])
        .args(args)
        .output()
        .expect("run dig");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "dig {args:?} failed:\n{stdout}");
    stdout
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
