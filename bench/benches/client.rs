//! Client bench: smtpkit's client vs lettre's sync `SmtpTransport`, Postfix's `smtp-source`
//! and Python's smtplib, each sending the same 2000 messages of 4 KiB with 3 recipients to
//! Postfix's `smtp-sink` (its own process, on 127.0.0.1): one connection per message, one
//! reused connection, and smtpkit with and without PIPELINING. Besides messages per second,
//! the client's own CPU time per message (getrusage: the sending thread, or the child
//! process).
//!
//! `cargo bench -p smtpkit-bench --bench client` (`SMTPKIT_BENCH_QUICK=1` for fewer runs).

use std::process::Command;
use std::time::{Duration, Instant};

use lettre::Transport;
use lettre::address::Envelope;
use lettre::transport::smtp::client::SmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use smtpkit::client::{Client, Email, Options};
use smtpkit_bench::chart::{Bar, write_chart};
use smtpkit_bench::{
    ServerProc, TempDir, bench_dir, fmt_num, free_port, median, quick, ratio, reps, run_note,
    table, write_section,
};

const RCPTS: [&str; 3] = ["one@example.org", "two@example.org", "three@example.net"];
const FROM: &str = "sender@example.org";

#[derive(Clone, Copy, PartialEq)]
enum Contender {
    Smtpkit { pipelining: bool },
    Lettre,
    SmtpSource,
    Smtplib,
}

impl Contender {
    fn name(self) -> &'static str {
        match self {
            Contender::Smtpkit { pipelining: true } => "smtpkit (PIPELINING)",
            Contender::Smtpkit { pipelining: false } => "smtpkit (no pipelining)",
            Contender::Lettre => "lettre SmtpTransport",
            Contender::SmtpSource => "Postfix smtp-source",
            Contender::Smtplib => "Python smtplib",
        }
    }
}

/// At most this long per run: a client slower than n messages in this time is stopped early and
/// rated on the messages it sent (lettre sits 40 ms per message on Nagle + delayed ACK).
fn budget() -> Duration {
    Duration::from_secs(if quick() { 4 } else { 8 })
}

/// CPU seconds (user + system) used so far by this thread, or by the waited-for children.
fn cpu_seconds(who: libc::c_int) -> f64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one rusage into the pointer it is given, which points to
    // zeroed memory of that type; the value is read only when the call succeeds.
    let ru = unsafe {
        if libc::getrusage(who, ru.as_mut_ptr()) != 0 {
            return f64::NAN;
        }
        ru.assume_init()
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One run's result: messages per second and the client's CPU seconds per message.
#[derive(Clone, Copy)]
struct Rate {
    msgs_per_sec: f64,
    cpu_per_msg: f64,
}

/// Sends up to `n` messages (fewer if the time budget runs out); None on an error.
fn run(c: Contender, reused: bool, port: u16, n: usize, msg: &[u8], files: &Files) -> Option<Rate> {
    let cpu0 = cpu_seconds(libc::RUSAGE_THREAD);
    let mut rate = run_rate(c, reused, port, n, msg, files)?;
    if matches!(c, Contender::Smtpkit { .. } | Contender::Lettre) {
        // run_rate left 1 / messages sent there.
        rate.cpu_per_msg *= cpu_seconds(libc::RUSAGE_THREAD) - cpu0;
    }
    Some(rate)
}

/// The message as files: CRLF for smtplib, LF for smtp-source (which appends CRLF to each
/// line).
struct Files {
    crlf: std::path::PathBuf,
    lf: std::path::PathBuf,
}

/// `run`'s work. For the in-process clients `cpu_per_msg` is the total CPU time (run fills
/// in the thread's), for the child processes it is already per message.
fn run_rate(
    c: Contender,
    reused: bool,
    port: u16,
    n: usize,
    msg: &[u8],
    files: &Files,
) -> Option<Rate> {
    let budget = budget();
    let mut sent = 0usize;
    let more = |sent: usize, t0: Instant| sent < n && t0.elapsed() < budget;
    // In-process clients: the rate, and the CPU total divided by the messages later.
    let done = |sent: usize, t0: Instant| {
        Some(Rate {
            msgs_per_sec: sent as f64 / t0.elapsed().as_secs_f64(),
            cpu_per_msg: 1.0 / sent.max(1) as f64,
        })
    };
    match c {
        Contender::Smtpkit { pipelining } => {
            let opts = Options::relay("127.0.0.1")
                .port(port)
                .hostname("client.example.org")
                .pipelining(pipelining);
            let client = Client::new(opts).ok()?;
            let email = Email::new(FROM, &RCPTS, msg.to_vec()).ok()?;
            let t0 = Instant::now();
            if reused {
                let mut conn = client.connect().ok()?;
                while more(sent, t0) {
                    conn.deliver(&email)
                        .map_err(|e| eprintln!("  smtpkit: {e}"))
                        .ok()?;
                    sent += 1;
                }
                conn.close();
            } else {
                while more(sent, t0) {
                    client
                        .send(&email)
                        .map_err(|e| eprintln!("  smtpkit: {e}"))
                        .ok()?;
                    sent += 1;
                }
            }
            done(sent, t0)
        }
        Contender::Lettre => {
            let env = Envelope::new(
                Some(FROM.parse().ok()?),
                RCPTS.iter().map(|r| r.parse().expect("address")).collect(),
            )
            .ok()?;
            let hello = ClientId::Domain("client.example.org".into());
            let t0 = Instant::now();
            if reused {
                let mut conn = SmtpConnection::connect(
                    ("127.0.0.1", port),
                    Some(Duration::from_secs(30)),
                    &hello,
                    None,
                    None,
                )
                .map_err(|e| eprintln!("  lettre: {e}"))
                .ok()?;
                while more(sent, t0) {
                    conn.send(&env, msg)
                        .map_err(|e| eprintln!("  lettre: {e}"))
                        .ok()?;
                    sent += 1;
                }
                let _ = conn.quit();
            } else {
                // Without lettre's `pool` feature every send is its own connection (EHLO..QUIT).
                let t = lettre::SmtpTransport::builder_dangerous("127.0.0.1")
                    .port(port)
                    .hello_name(hello)
                    .build();
                while more(sent, t0) {
                    t.send_raw(&env, msg)
                        .map_err(|e| eprintln!("  lettre: {e}"))
                        .ok()?;
                    sent += 1;
                }
            }
            done(sent, t0)
        }
        Contender::SmtpSource => {
            // One session; -d keeps the connection for every message. Its CPU: the
            // children's rusage before and after (smtp-sink is reaped only later).
            let mut cmd = Command::new("/usr/sbin/smtp-source");
            cmd.args(["-s", "1", "-m", &n.to_string(), "-r", "3"])
                .args([
                    "-M",
                    "client.example.org",
                    "-f",
                    FROM,
                    "-t",
                    "rcpt@example.org",
                ])
                .arg("-F")
                .arg(&files.lf);
            if reused {
                cmd.arg("-d");
            }
            cmd.arg(format!("127.0.0.1:{port}"));
            let cpu0 = cpu_seconds(libc::RUSAGE_CHILDREN);
            let t0 = Instant::now();
            let out = cmd.output().ok()?;
            let wall = t0.elapsed().as_secs_f64();
            let cpu = cpu_seconds(libc::RUSAGE_CHILDREN) - cpu0;
            if !out.status.success() {
                eprintln!("  smtp-source: {}", String::from_utf8_lossy(&out.stderr));
                return None;
            }
            Some(Rate {
                msgs_per_sec: n as f64 / wall,
                cpu_per_msg: cpu / n as f64,
            })
        }
        Contender::Smtplib => {
            let out = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
                .arg(bench_dir().join("smtplib_client.py"))
                .arg(port.to_string())
                .arg(if reused { "reused" } else { "per-message" })
                .arg(n.to_string())
                .arg(budget.as_secs_f64().to_string())
                .arg(&files.crlf)
                .args(RCPTS)
                .output()
                .ok()?;
            if !out.status.success() {
                eprintln!("  smtplib: {}", String::from_utf8_lossy(&out.stderr));
                return None;
            }
            // The script prints messages per second and its CPU seconds per message.
            let text = String::from_utf8_lossy(&out.stdout);
            let mut v = text.split_whitespace().filter_map(|x| x.parse().ok());
            Some(Rate {
                msgs_per_sec: v.next()?,
                cpu_per_msg: v.next().unwrap_or(f64::NAN),
            })
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = if quick() { 1000 } else { 2000 };
    let msg = smtpkit_bench::message(4096, FROM, &RCPTS);
    let dir = TempDir::new("client");
    let files = Files {
        crlf: dir.0.join("msg.eml"),
        lf: dir.0.join("msg-lf.eml"),
    };
    std::fs::write(&files.crlf, &msg).expect("write message");
    let lf = String::from_utf8_lossy(&msg).replace("\r\n", "\n");
    std::fs::write(&files.lf, lf).expect("write message");
    let contenders = [
        Contender::Smtpkit { pipelining: true },
        Contender::Smtpkit { pipelining: false },
        Contender::Lettre,
        Contender::SmtpSource,
        Contender::Smtplib,
    ];
    let t_start = Instant::now();
    let mut body = String::from("## Client\n\n");
    body.push_str(&run_note("client"));
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    for reused in [false, true] {
        let mode = if reused {
            "one reused connection"
        } else {
            "one connection per message"
        };
        let mut rates = vec![Vec::new(); contenders.len()];
        let mut cpus = vec![Vec::new(); contenders.len()];
        for rep in 0..reps() {
            let port = free_port();
            let mut c = Command::new("/usr/sbin/smtp-sink");
            c.args(["-u", "nobody"])
                .arg(format!("127.0.0.1:{port}"))
                .arg("1024");
            let sink = ServerProc::spawn_on_port("smtp-sink", c, port);
            for k in 0..contenders.len() {
                let i = (k + rep) % contenders.len();
                let r = run(contenders[i], reused, sink.port, n, &msg, &files).unwrap_or(Rate {
                    msgs_per_sec: f64::NAN,
                    cpu_per_msg: f64::NAN,
                });
                eprintln!(
                    "  {mode} rep {rep} {}: {:.0} msg/s, {:.1} us CPU/msg",
                    contenders[i].name(),
                    r.msgs_per_sec,
                    r.cpu_per_msg * 1e6
                );
                rates[i].push(r.msgs_per_sec);
                cpus[i].push(r.cpu_per_msg);
            }
            drop(sink);
        }
        let meds: Vec<f64> = rates.iter().map(|r| median(r)).collect();
        let cpu_meds: Vec<f64> = cpus.iter().map(|r| median(r)).collect();
        let peer = |v: &[f64]| -> Vec<f64> {
            contenders
                .iter()
                .zip(v)
                .filter(|(c, _)| !matches!(c, Contender::Smtpkit { .. }))
                .map(|(_, m)| *m)
                .collect()
        };
        let (peers, cpu_peers) = (peer(&meds), peer(&cpu_meds));
        // The chart: each smtpkit mode against the fastest peer, and its CPU per message
        // against the thriftiest peer's (inverted, so higher is better there too).
        for (i, c) in contenders.iter().enumerate() {
            if let Contender::Smtpkit { .. } = c {
                let best = peers
                    .iter()
                    .copied()
                    .filter(|x| x.is_finite())
                    .fold(f64::NAN, f64::max);
                let least = cpu_peers
                    .iter()
                    .copied()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .fold(f64::NAN, f64::min);
                bars.push(Bar::new(
                    format!("{mode}, {}: msg/s", c.name()),
                    meds[i] / best,
                ));
                bars.push(Bar::new(
                    format!("{mode}, {}: CPU (peer / smtpkit)", c.name()),
                    least / cpu_meds[i],
                ));
            }
        }
        for (i, c) in contenders.iter().enumerate() {
            rows.push(vec![
                mode.to_string(),
                c.name().to_string(),
                fmt_num(meds[i]),
                ratio(meds[i], &peers, true),
                fmt_num(cpu_meds[i] * 1e6),
                ratio(cpu_meds[i], &cpu_peers, false),
            ]);
        }
    }
    body.push('\n');
    body.push_str(&write_chart(
        "client",
        "Client: smtpkit vs the best peer (higher is better)",
        &bars,
    ));
    body.push_str(&format!(
        "\n{n} messages of 4 KiB, 3 recipients each (at most; see below), sent to Postfix `smtp-sink -u nobody` (its own process, fresh per repetition; it advertises PIPELINING). The peers: lettre's sync `SmtpTransport` (its current release waits ~40 ms per message on Nagle + delayed ACK: it writes the body and the final `.` in two small writes without TCP_NODELAY; the fix is merged upstream, unreleased), Postfix's `smtp-source` (a C SMTP client, `-s 1 -m {n} -r 3 -F message`, `-d` for the reused connection; no Nagle stall, no PIPELINING; its time includes its process start, under 2 ms) and Python's smtplib (time excludes interpreter start). Each run of lettre and smtplib stops early after {} s (rated on the messages sent by then); smtp-source always sends all {n}. CPU per message: getrusage of the sending thread (smtpkit, lettre; `RUSAGE_THREAD`), of the child process (smtp-source; `RUSAGE_CHILDREN` around it) or of the interpreter from the first message on (smtplib; `time.process_time()`). Ratios: msg/s against the fastest peer and CPU against the thriftiest peer in the same mode (below 1.00x is less CPU).\n\n",
        budget().as_secs()
    ));
    body.push_str(&table(
        &[
            "mode",
            "client",
            "msg/s",
            "msg/s vs best peer",
            "CPU µs / msg",
            "CPU vs least peer",
        ],
        &rows,
    ));
    body.push_str(&format!(
        "\n(client bench took {:.0} s)\n",
        t_start.elapsed().as_secs_f64()
    ));
    println!("{body}");
    write_section("client", &body);
}
