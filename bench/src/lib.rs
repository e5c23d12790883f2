//! Shared helpers for smtpkit's benchmarks: processes under test, /proc readings, medians,
//! markdown tables and the `BENCHMARKS.md` writer. All servers run as their own processes,
//! started here and stopped by PID; all traffic stays on 127.0.0.1.

pub mod chart;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `bench/` directory (where the Python helpers live).
pub fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace root (where `BENCHMARKS.md` lives).
pub fn root_dir() -> PathBuf {
    bench_dir()
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf()
}

/// `SMTPKIT_BENCH_QUICK=1`: fewer repetitions and smaller counts.
pub fn quick() -> bool {
    std::env::var("SMTPKIT_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Repetitions per measurement (median taken): 5, or 3 in quick mode.
pub fn reps() -> usize {
    if quick() { 3 } else { 5 }
}

/// A free loopback port (bound then released; for servers that need an explicit port).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// A server under test: one child process, stopped (SIGKILL by PID) on drop.
pub struct ServerProc {
    pub name: String,
    pub child: Child,
    pub port: u16,
    pid: u32,
}

impl ServerProc {
    /// Starts a program that binds 127.0.0.1:0 and prints its port as the first stdout line.
    pub fn spawn_printing_port(name: &str, mut cmd: Command) -> ServerProc {
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let out = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .expect("read port line");
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}: expected a port, got {line:?}"));
        let pid = child.id();
        ServerProc {
            name: name.into(),
            child,
            port,
            pid,
        }
    }

    /// Starts a program listening on `port` (given on its command line) and waits until the
    /// port accepts a connection and sends a greeting (at most 10 s).
    pub fn spawn_on_port(name: &str, mut cmd: Command, port: u16) -> ServerProc {
        cmd.stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null());
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut b = [0u8; 64];
                let _ = s.read(&mut b);
                break;
            }
            assert!(Instant::now() < deadline, "{name} did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        ServerProc {
            name: name.into(),
            child,
            port,
            pid,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// utime + stime of the process (all its threads), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid)
    }

    /// A field of /proc/PID/status in KiB (VmHWM, VmRSS).
    pub fn status_kib(&self, field: &str) -> u64 {
        status_kib(self.pid, field)
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clock_ticks() -> f64 {
    // getconf CLK_TCK; 100 on every Linux we run on, but ask once.
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime from /proc/PID/stat, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised comm; utime and stime are fields 14 and 15 (1-based).
    let rest = match s.rfind(')') {
        Some(i) => &s[i + 2..],
        None => return 0.0,
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ut: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let st: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (ut + st) / clock_ticks()
}

/// A `kB` field of /proc/PID/status.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    for line in s.lines() {
        if let Some(v) = line.strip_prefix(field).and_then(|v| v.strip_prefix(':')) {
            return v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
        }
    }
    0
}

/// The median (mean of the middle two for an even count); NaN for none.
pub fn median(v: &[f64]) -> f64 {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Formats a number with a sensible number of digits.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x >= 1000.0 {
        format!("{x:.0}")
    } else if x >= 100.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// A ratio cell: smtpkit's value against the best peer's (`higher_is_better` picks "best").
/// For rows of peers the cell is the row's value against the best peer as well.
pub fn ratio(value: f64, peers: &[f64], higher_is_better: bool) -> String {
    let peers: Vec<f64> = peers
        .iter()
        .copied()
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    if peers.is_empty() || !value.is_finite() {
        return "n/a".into();
    }
    let best = if higher_is_better {
        peers.iter().copied().fold(f64::MIN, f64::max)
    } else {
        peers.iter().copied().fold(f64::MAX, f64::min)
    };
    format!("{:.2}x", value / best)
}

/// A markdown table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::new();
    s.push_str(&format!("| {} |\n", header.join(" | ")));
    s.push_str(&format!("|{}\n", " --- |".repeat(header.len())));
    for r in rows {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s
}

/// Cores, memory, CPU model and kernel.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    // The machine's cores, not this process's share (`taskset` narrows available_parallelism).
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let python = Command::new("python3")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "{cores} cores ({model}), {:.1} GiB RAM, Linux {}, {rustc}, {python}; loopback only, shared noisy machine",
        mem_kib as f64 / 1024.0 / 1024.0,
        kernel.trim()
    )
}

/// Replaces (or appends) the section `name` of BENCHMARKS.md, between HTML comment markers,
/// so the three benches each own their part of the file.
pub fn write_section(name: &str, body: &str) {
    let path = root_dir().join("BENCHMARKS.md");
    write_section_at(&path, name, body);
}

fn write_section_at(path: &Path, name: &str, body: &str) {
    let mut doc = std::fs::read_to_string(path).unwrap_or_else(|_| HEADER.to_string());
    let start = format!("<!-- bench:{name}:start -->");
    let end = format!("<!-- bench:{name}:end -->");
    let block = format!("{start}\n{}\n{end}", body.trim_end());
    match (doc.find(&start), doc.find(&end)) {
        (Some(a), Some(b)) if b > a => doc.replace_range(a..b + end.len(), &block),
        _ => {
            if !doc.ends_with('\n') {
                doc.push('\n');
            }
            doc.push('\n');
            doc.push_str(&block);
            doc.push('\n');
        }
    }
    std::fs::write(path, doc).expect("write BENCHMARKS.md");
}

const HEADER: &str = "# smtpkit benchmarks

Written by the benches in `bench/` (a workspace member that holds every peer dependency, so
the root package never builds them). Each section below is rewritten by its own bench.

```sh
cargo bench -p smtpkit-bench                          # all three: client, mime, server (~7 min)
SMTPKIT_BENCH_QUICK=1 cargo bench -p smtpkit-bench    # fewer repetitions (3) and messages
cargo bench -p smtpkit-bench --bench server           # or client, mime: one section
```

Needs Postfix's `smtp-source` and `smtp-sink` (Debian `postfix`), `python3` with `aiosmtpd`,
and `libssl-dev` (mailin-embedded's TLS backend). Loopback only; every server under test is
its own process, started and stopped (by PID) by the bench.
";

/// The run description shared by every section's header.
pub fn run_note(bench: &str) -> String {
    let reps = reps();
    format!(
        "Command: `{}cargo bench -p smtpkit-bench --bench {bench}` (all: `cargo bench -p smtpkit-bench`).  \nMachine: {}.  \nMedian of {reps} repetitions{}; the contenders alternate round-robin within every repetition, so machine noise cancels in the ratios.  \n",
        if quick() {
            "SMTPKIT_BENCH_QUICK=1 "
        } else {
            ""
        },
        machine(),
        if quick() {
            " (quick mode: fewer than the 5 the full run uses)"
        } else {
            ""
        }
    )
}

/// Runs `f` repeatedly for about `budget` (at least once) and returns operations per second.
pub fn ops_per_sec(budget: Duration, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while n == 0 || start.elapsed() < budget {
        f();
        n += 1;
        if n >= 10_000_000 {
            break;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// A test CA-less self-signed certificate for 127.0.0.1/localhost, written as PEM files into
/// `dir`; returns (cert path, key path, cert PEM).
pub fn write_test_cert(dir: &Path) -> (PathBuf, PathBuf, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("rcgen");
    let cert_pem = ck.cert.pem();
    let key_pem = ck.signing_key.serialize_pem();
    std::fs::create_dir_all(dir).expect("mkdir");
    let c = dir.join("cert.pem");
    let k = dir.join("key.pem");
    std::fs::write(&c, &cert_pem).expect("write cert");
    std::fs::write(&k, &key_pem).expect("write key");
    (c, k, cert_pem)
}

/// A temporary directory under target/ removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("smtpkit-bench-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("mkdir tmp");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A 4 KiB-ish (or any size) RFC 5322 message with CRLF lines of 76 characters.
pub fn message(size: usize, from: &str, to: &[&str]) -> Vec<u8> {
    let mut m = format!(
        "From: <{from}>\r\nTo: {}\r\nSubject: benchmark message\r\nMessage-ID: <bench@example.org>\r\n\r\n",
        to.iter().map(|t| format!("<{t}>")).collect::<Vec<_>>().join(", ")
    )
    .into_bytes();
    let line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd\r\n";
    while m.len() + line.len() <= size {
        m.extend_from_slice(line);
    }
    m
}

/// The smtpkit server used by `smtpkit_sink` and `smtpkit_collect`: binds 127.0.0.1:0, prints
/// the port, serves forever. Arguments: `[CERT KEY]` for STARTTLS. Session limits are raised
/// to 1100 (defaults: 128 in all, 50 per IP) because every load comes from 127.0.0.1.
pub fn run_smtpkit_server(collecting: bool) -> std::io::Result<()> {
    use smtpkit::Reply;
    use smtpkit::server::{Envelope, Handler, Server};
    use std::io::Write;

    struct Sink;
    impl Handler for Sink {} // the default on_data streams the body into io::sink()

    struct Collect;
    impl Handler for Collect {
        fn on_data(&mut self, _env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
            let body = smtpkit::server::collect(data).map_err(|_| Reply::TRANSACTION_FAILED)?;
            std::hint::black_box(body);
            Ok(Reply::QUEUED)
        }
    }

    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut b = Server::builder()
        .hostname("bench.example.org")
        .max_sessions(1100)
        .max_sessions_per_ip(1100)
        // As mailin-embedded's threads, started before the load (see BENCHMARKS.md,
        // "Session 8").
        .min_threads(8);
    if let [cert, key] = &args[..] {
        let tls =
            smtpkit::tls::ServerTls::from_pem_files(cert, key).map_err(std::io::Error::other)?;
        b = b.tls(tls);
    }
    let server = b.bind("127.0.0.1:0")?;
    let mut out = std::io::stdout();
    writeln!(out, "{}", server.local_addr().port())?;
    out.flush()?;
    if collecting {
        server.serve(|_| Collect)
    } else {
        server.serve(|_| Sink)
    }
}
