//! Server bench: every server runs as its own process, driven by Postfix's `smtp-source`
//! (HELO, no pipelining; one connection per message, or reused with `-d`) over loopback; then
//! STARTTLS sessions per second (smtpkit's client as the generator) and RSS with 1000 idle
//! sessions. The example mail catcher (`examples/smtp_server.rs`, built here in release) runs
//! with its Maildir on tmpfs (`/dev/shm`), with and without `fsync`.
//!
//! `cargo bench -p smtpkit-bench --bench server` (`SMTPKIT_BENCH_QUICK=1` for fewer runs).

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use smtpkit_bench::chart::{Bar, write_chart_vs};
use smtpkit_bench::{
    ServerProc, TempDir, fmt_num, free_port, median, quick, ratio, reps, run_note, table,
    write_section, write_test_cert,
};

const SMTP_SOURCE: &str = "/usr/sbin/smtp-source";
const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

#[derive(Clone, Copy, PartialEq)]
enum Srv {
    SmtpkitSink,
    SmtpkitCollect,
    Catcher,
    CatcherNoFsync,
    SmtpSink,
    /// smtp-sink writing each message to its own file (`-d`): the catcher's like-for-like peer.
    SmtpSinkDump,
    Aiosmtpd,
    Mailin,
}

impl Srv {
    fn name(self) -> &'static str {
        match self {
            Srv::SmtpkitSink => "smtpkit (discard)",
            Srv::SmtpkitCollect => "smtpkit (collect)",
            Srv::Catcher => "smtpkit catcher (Maildir, fsync)",
            Srv::CatcherNoFsync => "smtpkit catcher (Maildir, --no-fsync)",
            Srv::SmtpSink => "Postfix smtp-sink",
            Srv::SmtpSinkDump => "Postfix smtp-sink -d (a file per message)",
            Srv::Aiosmtpd => "aiosmtpd",
            Srv::Mailin => "mailin-embedded",
        }
    }
    /// smtpkit's catchers: a file per message, compared with smtp-sink -d as well.
    fn writes_files(self) -> bool {
        matches!(self, Srv::Catcher | Srv::CatcherNoFsync)
    }
    fn is_smtpkit(self) -> bool {
        matches!(
            self,
            Srv::SmtpkitSink | Srv::SmtpkitCollect | Srv::Catcher | Srv::CatcherNoFsync
        )
    }
}

/// Builds the example catcher in release (the bench's own profile) and returns its path.
fn build_catcher() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--example",
            "smtp_server",
            "-p",
            "smtpkit",
        ])
        .current_dir(smtpkit_bench::root_dir())
        .status()
        .expect("run cargo build --example smtp_server");
    assert!(st.success(), "cargo build --example smtp_server failed");
    // This bench runs from target/release/deps/.
    let exe = std::env::current_exe().expect("current_exe");
    let release = exe.parent().and_then(Path::parent).expect("target/release");
    release.join("examples").join("smtp_server")
}

/// Where the catcher's Maildirs go: tmpfs when there is one (as smtp-sink, which discards,
/// never touches a disk).
fn maildir_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

static CATCHER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// A running catcher and its Maildir, removed on drop.
struct Maildir(PathBuf);

impl Drop for Maildir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// A fresh directory on tmpfs for one run's files (removed on drop).
fn fresh_maildir() -> Maildir {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = maildir_root().join(format!(
        "smtpkit-bench-maildir-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    Maildir(dir)
}

/// Starts smtp-sink writing each message to a file of its own under a fresh directory,
/// writable by `nobody` (smtp-sink drops to it).
fn start_smtp_sink_dump() -> (ServerProc, Option<Maildir>) {
    use std::os::unix::fs::PermissionsExt;
    let md = fresh_maildir();
    std::fs::create_dir_all(&md.0).expect("dump dir");
    std::fs::set_permissions(&md.0, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let port = free_port();
    let mut c = Command::new(SMTP_SINK);
    // The template's directories (day, hour) are made as needed; a random suffix ends each name.
    c.args(["-u", "nobody", "-m", "1100", "-d"])
        .arg(md.0.join("%d/%H/%M%S."))
        .arg(format!("127.0.0.1:{port}"))
        .arg("1024");
    (
        ServerProc::spawn_on_port(Srv::SmtpSinkDump.name(), c, port),
        Some(md),
    )
}

/// Starts the catcher with a fresh Maildir.
fn start_catcher(srv: Srv) -> (ServerProc, Option<Maildir>) {
    let name = srv.name();
    {
        let md = fresh_maildir();
        let dir = md.0.clone();
        let port = free_port();
        let bin = CATCHER.get().expect("catcher built");
        // exec keeps the PID (CPU and RSS are the catcher's); its INFO line per message goes
        // to /dev/null, not to the bench's output.
        let mut c = Command::new("/bin/sh");
        c.arg("-c")
            .arg(format!(
                "exec \"$0\" --listen 127.0.0.1:{port} --maildir \"$1\" --max-sessions 1100 --max-per-ip 1100 --min-threads 8 {} 2>/dev/null",
                if srv == Srv::CatcherNoFsync { "--no-fsync" } else { "" }
            ))
            .arg(bin)
            .arg(&dir);
        (ServerProc::spawn_on_port(name, c, port), Some(md))
    }
}

fn start(srv: Srv, tls: Option<(&Path, &Path)>) -> (ServerProc, Option<Maildir>) {
    let name = srv.name();
    let p = match srv {
        Srv::SmtpkitSink | Srv::SmtpkitCollect => {
            let bin = if srv == Srv::SmtpkitSink {
                env!("CARGO_BIN_EXE_smtpkit_sink")
            } else {
                env!("CARGO_BIN_EXE_smtpkit_collect")
            };
            let mut c = Command::new(bin);
            if let Some((cert, key)) = tls {
                c.arg(cert).arg(key);
            }
            ServerProc::spawn_printing_port(name, c)
        }
        Srv::Mailin => {
            ServerProc::spawn_printing_port(name, Command::new(env!("CARGO_BIN_EXE_mailin_sink")))
        }
        Srv::Aiosmtpd => {
            let mut c = Command::new(python());
            c.arg(smtpkit_bench::bench_dir().join("aiosmtpd_sink.py"));
            if let Some((cert, key)) = tls {
                c.arg(cert).arg(key);
            }
            ServerProc::spawn_printing_port(name, c)
        }
        Srv::SmtpSink => {
            let port = free_port();
            let mut c = Command::new(SMTP_SINK);
            // -m: up to 1100 concurrent sessions (default 256).
            c.args(["-u", "nobody", "-m", "1100"])
                .arg(format!("127.0.0.1:{port}"))
                .arg("1024");
            ServerProc::spawn_on_port(name, c, port)
        }
        Srv::Catcher | Srv::CatcherNoFsync => return start_catcher(srv),
        Srv::SmtpSinkDump => return start_smtp_sink_dump(),
    };
    (p, None)
}

/// Runs smtp-source against `port`; returns elapsed seconds, or None on failure or timeout.
fn smtp_source(port: u16, sessions: usize, msgs: usize, size: usize, reuse: bool) -> Option<f64> {
    let start = Instant::now();
    let mut child = Command::new(SMTP_SOURCE)
        .args(if reuse { &["-d"][..] } else { &[][..] })
        .args([
            "-s",
            &sessions.to_string(),
            "-m",
            &msgs.to_string(),
            "-l",
            &size.to_string(),
        ])
        .args([
            "-f",
            "sender@example.org",
            "-t",
            "rcpt@example.org",
            "-M",
            "client.example.org",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn smtp-source");
    let deadline = start + Duration::from_secs(120);
    loop {
        if let Some(st) = child.try_wait().expect("wait smtp-source") {
            let secs = start.elapsed().as_secs_f64();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            if !st.success() || !err.trim().is_empty() {
                eprintln!(
                    "  smtp-source: {st}: {}",
                    err.lines().take(3).collect::<Vec<_>>().join(" / ")
                );
                if !st.success() {
                    return None;
                }
            }
            return Some(secs);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("  smtp-source timed out");
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[derive(Default, Clone)]
struct Samples {
    rate: Vec<f64>,
    cpu_per_k: Vec<f64>,
    hwm_mib: Vec<f64>,
}

fn rotate<T: Copy>(v: &[T], by: usize) -> Vec<T> {
    let n = v.len();
    (0..n).map(|i| v[(i + by) % n]).collect()
}

/// One load of the throughput table: sessions, and whether connections are reused (`-d`).
struct Load {
    sessions: usize,
    reuse: bool,
}

impl Load {
    fn label(&self) -> String {
        if self.reuse {
            format!("{}, reused (-d)", self.sessions)
        } else {
            self.sessions.to_string()
        }
    }
}

/// Medians of one server at one load.
#[derive(Clone, Copy)]
struct Med {
    rate: f64,
    cpu: f64,
    hwm: f64,
}

/// The throughput tables; `bars` gets each smtpkit row's msg/s against smtp-sink's.
fn throughput(servers: &[Srv], bars: &mut Vec<Bar>) -> String {
    let sizes: [(usize, &str, usize, &[Load]); 2] = [
        (
            4096,
            "4 KiB",
            if quick() { 1500 } else { 3000 },
            &[
                Load {
                    sessions: 1,
                    reuse: false,
                },
                Load {
                    sessions: 10,
                    reuse: false,
                },
                Load {
                    sessions: 40,
                    reuse: false,
                },
                Load {
                    sessions: 10,
                    reuse: true,
                },
            ],
        ),
        (
            1 << 20,
            "1 MiB",
            if quick() { 100 } else { 200 },
            &[
                Load {
                    sessions: 1,
                    reuse: false,
                },
                Load {
                    sessions: 10,
                    reuse: false,
                },
            ],
        ),
    ];
    let find = |want: Srv| servers.iter().position(|&s| s == want);
    let mut out = String::new();
    for &(size, label, msgs, loads) in &sizes {
        let mut rows = Vec::new();
        for load in loads {
            let sessions = load.sessions;
            // Reused connections cost a fifth as much CPU per message: five times the
            // messages keep the CPU reading (in 10 ms ticks) as precise as the other rows'.
            let msgs = if load.reuse { msgs * 5 } else { msgs }.max(sessions);
            let mut samples = vec![Samples::default(); servers.len()];
            for rep in 0..reps() {
                for (i, srv) in rotate(&(0..servers.len()).collect::<Vec<_>>(), rep)
                    .into_iter()
                    .map(|i| (i, servers[i]))
                {
                    let (p, maildir) = start(srv, None);
                    let cpu0 = p.cpu_seconds();
                    let secs = smtp_source(p.port, sessions, msgs, size, load.reuse);
                    // Let the server finish its last replies/teardown before reading CPU.
                    std::thread::sleep(Duration::from_millis(50));
                    let cpu = p.cpu_seconds() - cpu0;
                    let hwm = p.status_kib("VmHWM") as f64 / 1024.0;
                    drop(p);
                    drop(maildir);
                    let s = &mut samples[i];
                    match secs {
                        Some(t) => {
                            s.rate.push(msgs as f64 / t);
                            s.cpu_per_k.push(cpu * 1000.0 / msgs as f64);
                            s.hwm_mib.push(hwm);
                        }
                        None => s.rate.push(f64::NAN),
                    }
                    eprintln!(
                        "  {label} x{} rep {rep} {}: {:.0} msg/s, cpu {cpu:.2}s, hwm {hwm:.1} MiB",
                        load.label(),
                        srv.name(),
                        secs.map(|t| msgs as f64 / t).unwrap_or(f64::NAN)
                    );
                }
            }
            let med: Vec<Med> = samples
                .iter()
                .map(|s| Med {
                    rate: median(&s.rate),
                    cpu: median(&s.cpu_per_k),
                    hwm: median(&s.hwm_mib),
                })
                .collect();
            let peers: Vec<f64> = servers
                .iter()
                .zip(&med)
                .filter(|(s, _)| !s.is_smtpkit())
                .map(|(_, m)| m.rate)
                .collect();
            let sink = find(Srv::SmtpSink).map(|i| med[i]);
            let dump = find(Srv::SmtpSinkDump).map(|i| med[i]);
            let mailin = find(Srv::Mailin).map(|i| med[i]);
            for (srv, m) in servers.iter().zip(&med) {
                if let (true, Some(p)) = (srv.is_smtpkit(), sink) {
                    bars.push(Bar::new(
                        format!("{label}, {}: {}", load.label(), srv.name()),
                        m.rate / p.rate,
                    ));
                }
                let against = |peer: Option<Med>, f: fn(&Med) -> f64| match peer {
                    Some(p) if srv.is_smtpkit() => ratio(f(m), &[f(&p)], true),
                    _ => String::new(),
                };
                rows.push(vec![
                    load.label(),
                    srv.name().to_string(),
                    fmt_num(m.rate),
                    fmt_num(m.cpu),
                    fmt_num(m.hwm),
                    ratio(m.rate, &peers, true),
                    against(sink, |m| m.rate),
                    against(sink, |m| m.cpu),
                    against(mailin, |m| m.rate),
                    // The catchers write a file per message, as smtp-sink -d does.
                    if srv.writes_files() {
                        against(dump, |m| m.rate)
                    } else {
                        String::new()
                    },
                    if srv.writes_files() {
                        against(dump, |m| m.cpu)
                    } else {
                        String::new()
                    },
                ]);
            }
        }
        out.push_str(&format!(
            "\n#### {label} messages ({msgs} messages per run, five times as many on reused connections; one connection per message unless reused)\n\n"
        ));
        out.push_str(&table(
            &[
                "sessions",
                "server",
                "msg/s",
                "CPU s / 1000 msg",
                "peak RSS MiB",
                "msg/s vs best peer",
                "msg/s vs smtp-sink",
                "CPU vs smtp-sink",
                "msg/s vs mailin",
                "msg/s vs smtp-sink -d",
                "CPU vs smtp-sink -d",
            ],
            &rows,
        ));
    }
    out
}

/// STARTTLS sessions per second: connect, EHLO, STARTTLS, EHLO, one 4 KiB message, QUIT.
fn starttls(dir: &Path) -> String {
    let (cert, key, pem) = write_test_cert(dir);
    let servers = [Srv::SmtpkitSink, Srv::Aiosmtpd];
    let sessions = if quick() { 300 } else { 1000 };
    let threads = 4;
    let msg = smtpkit_bench::message(4096, "sender@example.org", &["rcpt@example.org"]);
    let mut rates = vec![Vec::new(); servers.len()];
    let mut cpus = vec![Vec::new(); servers.len()];
    for rep in 0..reps() {
        for i in rotate(&[0usize, 1], rep) {
            let (p, _) = start(servers[i], Some((&cert, &key)));
            let opts = smtpkit::client::Options::relay("127.0.0.1")
                .port(p.port)
                .hostname("client.example.org")
                .tls(smtpkit::client::TlsMode::Required)
                .trust(smtpkit::tls::ClientTrust::roots_from_pem(pem.as_bytes()).expect("trust"));
            let client = smtpkit::client::Client::new(opts).expect("client");
            let email = smtpkit::client::Email::new(
                "sender@example.org",
                &["rcpt@example.org"],
                msg.clone(),
            )
            .expect("email");
            let next = Arc::new(AtomicUsize::new(0));
            let failed = Arc::new(AtomicUsize::new(0));
            let cpu0 = p.cpu_seconds();
            let t0 = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    let (client, email, next, failed) =
                        (&client, &email, next.clone(), failed.clone());
                    s.spawn(move || {
                        while next.fetch_add(1, Ordering::Relaxed) < sessions {
                            if let Err(e) = client.send(email)
                                && failed.fetch_add(1, Ordering::Relaxed) == 0
                            {
                                eprintln!("  starttls send failed: {e}");
                            }
                        }
                    });
                }
            });
            let secs = t0.elapsed().as_secs_f64();
            std::thread::sleep(Duration::from_millis(50));
            let cpu = p.cpu_seconds() - cpu0;
            let bad = failed.load(Ordering::Relaxed);
            let rate = if bad == 0 {
                sessions as f64 / secs
            } else {
                f64::NAN
            };
            eprintln!(
                "  STARTTLS rep {rep} {}: {rate:.0} sessions/s ({bad} failed)",
                servers[i].name()
            );
            rates[i].push(rate);
            cpus[i].push(cpu * 1000.0 / sessions as f64);
        }
    }
    let peer = median(&rates[1]);
    let rows: Vec<Vec<String>> = (0..servers.len())
        .map(|i| {
            let r = median(&rates[i]);
            vec![
                servers[i].name().replace(" (discard)", ""),
                fmt_num(r),
                fmt_num(median(&cpus[i])),
                ratio(r, &[peer], true),
            ]
        })
        .collect();
    format!(
        "\n#### STARTTLS sessions ({sessions} sessions per run from {threads} client threads; each: EHLO, STARTTLS, EHLO, one 4 KiB message, QUIT; smtpkit's client, rustls/ring, TLS 1.3, self-signed rcgen certificate)\n\n{}",
        table(
            &[
                "server",
                "sessions/s",
                "server CPU s / 1000 sessions",
                "vs aiosmtpd"
            ],
            &rows
        )
    )
}

/// RSS with 1000 idle sessions that sit after the greeting.
fn idle(servers: &[Srv]) -> String {
    const N: usize = 1000;
    let mut base = vec![Vec::new(); servers.len()];
    let mut loaded = vec![Vec::new(); servers.len()];
    let mut greeted = vec![0usize; servers.len()];
    for rep in 0..reps() {
        for i in rotate(&(0..servers.len()).collect::<Vec<_>>(), rep) {
            let (p, _) = start(servers[i], None);
            std::thread::sleep(Duration::from_millis(100));
            let rss0 = p.status_kib("VmRSS") as f64 / 1024.0;
            let mut conns = Vec::with_capacity(N);
            let mut ok = 0;
            let deadline = Instant::now() + Duration::from_secs(15);
            for _ in 0..N {
                if let Ok(s) = TcpStream::connect(("127.0.0.1", p.port)) {
                    conns.push(s);
                }
            }
            for s in &mut conns {
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(10));
                let _ = s.set_read_timeout(Some(left));
                let mut b = [0u8; 512];
                if matches!(s.read(&mut b), Ok(n) if n >= 3 && &b[..3] == b"220") {
                    ok += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(300));
            let rss = p.status_kib("VmRSS") as f64 / 1024.0;
            drop(conns);
            drop(p);
            eprintln!(
                "  idle rep {rep} {}: {ok}/{N} greeted, RSS {rss0:.1} -> {rss:.1} MiB",
                servers[i].name()
            );
            base[i].push(rss0);
            loaded[i].push(rss);
            greeted[i] = greeted[i].max(ok);
        }
    }
    let peers: Vec<f64> = servers
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_smtpkit())
        .map(|(i, _)| median(&loaded[i]))
        .collect();
    let rows: Vec<Vec<String>> = servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let l = median(&loaded[i]);
            let b = median(&base[i]);
            vec![
                s.name().to_string(),
                format!("{}/{N}", greeted[i]),
                fmt_num(b),
                fmt_num(l),
                fmt_num((l - b) * 1024.0 / N as f64),
                ratio(l, &peers, false),
            ]
        })
        .collect();
    format!(
        "\n#### 1000 idle sessions (connected, greeted, silent; VmRSS)\n\n{}",
        table(
            &[
                "server",
                "greeted",
                "RSS idle MiB",
                "RSS with 1000 sessions MiB",
                "KiB / session",
                "RSS vs lowest peer"
            ],
            &rows
        )
    )
}

/// The vCPUs this process may run on when `taskset` narrowed them below the online set (every
/// server and smtp-source the bench starts inherits the same set); None when unpinned.
fn pinned_cpus() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?
        .trim()
        .to_string();
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").ok()?;
    (allowed != online.trim()).then_some(allowed)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    for tool in [SMTP_SOURCE, SMTP_SINK] {
        assert!(
            Path::new(tool).exists(),
            "{tool} missing: apt-get install postfix"
        );
    }
    let servers = [
        Srv::SmtpkitSink,
        Srv::SmtpkitCollect,
        Srv::SmtpSink,
        Srv::Aiosmtpd,
        Srv::Mailin,
    ];
    let with_catcher = [
        Srv::SmtpkitSink,
        Srv::SmtpkitCollect,
        Srv::Catcher,
        Srv::CatcherNoFsync,
        Srv::SmtpSink,
        Srv::SmtpSinkDump,
        Srv::Aiosmtpd,
        Srv::Mailin,
    ];
    CATCHER.get_or_init(build_catcher);
    let dir = TempDir::new("server");
    let t0 = Instant::now();
    let mut body = String::from("## Server\n\n");
    body.push_str(&run_note("server"));
    body.push_str(
        "\nLoad: Postfix `smtp-source -s SESSIONS -m MSGS -l SIZE` (HELO, no pipelining, 1 recipient; one connection per message, or with `-d` each session's connection reused for all its messages) on 127.0.0.1. Each server is its own process, started fresh for every run and stopped by PID; CPU = utime+stime of that process (/proc/PID/stat) during the run; peak RSS = VmHWM. \"vs best peer\" is msg/s against the best non-smtpkit server (smtp-sink, aiosmtpd, mailin-embedded) at the same load; the next three columns compare each smtpkit row with smtp-sink (msg/s, and CPU per message: lower is better) and with mailin-embedded. smtpkit's session limits are raised to 1100 (defaults 128 / 50 per IP) and it starts 8 session threads with the server (`min_threads`, `--min-threads`; default 1); mailin-embedded runs 1024 worker threads (default 4); smtp-sink runs with `-u nobody -m 1100` and discards; `smtp-sink -d` is the same, writing each message (with its envelope as headers) to a file of its own on tmpfs, without fsync, the catchers' like-for-like peer (the last two columns). The catcher is `examples/smtp_server.rs` as shipped (an INFO log line per message, to /dev/null here), its Maildir on tmpfs (`/dev/shm`), with its default `fsync` of each file and of `new/`, and with `--no-fsync`.\n",
    );
    let mut bars = Vec::new();
    let tables = throughput(&with_catcher, &mut bars);
    let pinned = pinned_cpus();
    let (section, chart) = match &pinned {
        Some(cpus) => {
            body = body.replacen(
                "## Server\n\n",
                &format!(
                    "## Server, every process on vCPU {cpus}\n\n`taskset -c {cpus} cargo bench -p smtpkit-bench --bench server`: the bench, every server and smtp-source share the same vCPU(s), so no wake-up crosses to another vCPU (on this VM such a wake-up costs several times a message's own work; see \"Where the rest goes\"). This isolates each server's own work per message; the unpinned table above is the placement the scheduler picks. Only the throughput tables run here.\n\n"
                ),
                1,
            );
            ("server-pinned", "server-pinned")
        }
        None => ("server", "server"),
    };
    body.push_str(&write_chart_vs(
        chart,
        "smtpkit msg/s / Postfix smtp-sink msg/s, same load (higher is better)",
        "smtp-sink",
        &bars,
    ));
    body.push_str(&tables);
    if pinned.is_none() {
        body.push_str(&starttls(&dir.0));
        body.push_str(&idle(&servers));
    }
    body.push_str(&format!(
        "\n(server bench took {:.0} s)\n",
        t0.elapsed().as_secs_f64()
    ));
    println!("{body}");
    write_section(section, &body);
}
