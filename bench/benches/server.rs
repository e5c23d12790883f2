//! Server bench: every server runs as its own process, driven by Postfix's `smtp-source`
//! (HELO, no pipelining, one connection per message) over loopback; then STARTTLS sessions per
//! second (smtpkit's client as the generator) and RSS with 1000 idle sessions.
//!
//! `cargo bench -p smtpkit-bench --bench server` (`SMTPKIT_BENCH_QUICK=1` for fewer runs).

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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
    SmtpSink,
    Aiosmtpd,
    Mailin,
}

impl Srv {
    fn name(self) -> &'static str {
        match self {
            Srv::SmtpkitSink => "smtpkit (discard)",
            Srv::SmtpkitCollect => "smtpkit (collect)",
            Srv::SmtpSink => "Postfix smtp-sink",
            Srv::Aiosmtpd => "aiosmtpd",
            Srv::Mailin => "mailin-embedded",
        }
    }
    fn is_smtpkit(self) -> bool {
        matches!(self, Srv::SmtpkitSink | Srv::SmtpkitCollect)
    }
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn start(srv: Srv, tls: Option<(&Path, &Path)>) -> ServerProc {
    let name = srv.name();
    match srv {
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
    }
}

/// Runs smtp-source against `port`; returns elapsed seconds, or None on failure or timeout.
fn smtp_source(port: u16, sessions: usize, msgs: usize, size: usize) -> Option<f64> {
    let start = Instant::now();
    let mut child = Command::new(SMTP_SOURCE)
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

fn throughput(servers: &[Srv]) -> String {
    let sizes: [(usize, &str, usize); 2] = if quick() {
        [(4096, "4 KiB", 1000), (1 << 20, "1 MiB", 100)]
    } else {
        [(4096, "4 KiB", 2000), (1 << 20, "1 MiB", 200)]
    };
    let mut out = String::new();
    for &(size, label, msgs) in &sizes {
        let mut rows = Vec::new();
        for &sessions in &[1usize, 10, 100] {
            let msgs = msgs.max(sessions);
            let mut samples = vec![Samples::default(); servers.len()];
            for rep in 0..reps() {
                for (i, srv) in rotate(&(0..servers.len()).collect::<Vec<_>>(), rep)
                    .into_iter()
                    .map(|i| (i, servers[i]))
                {
                    let p = start(srv, None);
                    let cpu0 = p.cpu_seconds();
                    let secs = smtp_source(p.port, sessions, msgs, size);
                    // Let the server finish its last replies/teardown before reading CPU.
                    std::thread::sleep(Duration::from_millis(50));
                    let cpu = p.cpu_seconds() - cpu0;
                    let hwm = p.status_kib("VmHWM") as f64 / 1024.0;
                    drop(p);
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
                        "  {label} x{sessions} rep {rep} {}: {:.0} msg/s, cpu {cpu:.2}s, hwm {hwm:.1} MiB",
                        srv.name(),
                        secs.map(|t| msgs as f64 / t).unwrap_or(f64::NAN)
                    );
                }
            }
            let med: Vec<(f64, f64, f64)> = samples
                .iter()
                .map(|s| (median(&s.rate), median(&s.cpu_per_k), median(&s.hwm_mib)))
                .collect();
            let peers: Vec<f64> = servers
                .iter()
                .zip(&med)
                .filter(|(s, _)| !s.is_smtpkit())
                .map(|(_, m)| m.0)
                .collect();
            for (srv, m) in servers.iter().zip(&med) {
                rows.push(vec![
                    format!("{sessions}"),
                    srv.name().to_string(),
                    fmt_num(m.0),
                    fmt_num(m.1),
                    fmt_num(m.2),
                    ratio(m.0, &peers, true),
                ]);
            }
        }
        out.push_str(&format!(
            "\n#### {label} messages ({} messages per run, one connection per message)\n\n",
            msgs
        ));
        out.push_str(&table(
            &[
                "sessions",
                "server",
                "msg/s",
                "CPU s / 1000 msg",
                "peak RSS MiB",
                "msg/s vs best peer",
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
            let p = start(servers[i], Some((&cert, &key)));
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
            let p = start(servers[i], None);
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
    let dir = TempDir::new("server");
    let t0 = Instant::now();
    let mut body = String::from("## Server\n\n");
    body.push_str(&run_note("server"));
    body.push_str(
        "\nLoad: Postfix `smtp-source -s SESSIONS -m MSGS -l SIZE` (HELO, no pipelining, one connection per message, 1 recipient) on 127.0.0.1. Each server is its own process, started fresh for every run and stopped by PID; CPU = utime+stime of that process (/proc/PID/stat) during the run; peak RSS = VmHWM. The ratio column is msg/s against the best non-smtpkit server (smtp-sink, aiosmtpd, mailin-embedded) at the same load. smtpkit's session limits are raised to 1100 (defaults 128 / 50 per IP); mailin-embedded runs 1024 worker threads (default 4); smtp-sink runs with `-u nobody -m 1100`.\n",
    );
    body.push_str(&throughput(&servers));
    body.push_str(&starttls(&dir.0));
    body.push_str(&idle(&servers));
    body.push_str(&format!(
        "\n(server bench took {:.0} s)\n",
        t0.elapsed().as_secs_f64()
    ));
    println!("{body}");
    write_section("server", &body);
}
