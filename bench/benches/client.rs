//! Client bench: smtpkit's client vs lettre's sync `SmtpTransport` vs Python's smtplib, each
//! sending the same 2000 messages of 4 KiB with 3 recipients to Postfix's `smtp-sink`
//! (its own process, on 127.0.0.1): one connection per message, one reused connection, and
//! smtpkit with and without PIPELINING.
//!
//! `cargo bench -p smtpkit-bench --bench client` (`SMTPKIT_BENCH_QUICK=1` for fewer runs).

use std::process::Command;
use std::time::{Duration, Instant};

use lettre::Transport;
use lettre::address::Envelope;
use lettre::transport::smtp::client::SmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use smtpkit::client::{Client, Email, Options};
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
    Smtplib,
}

impl Contender {
    fn name(self) -> &'static str {
        match self {
            Contender::Smtpkit { pipelining: true } => "smtpkit (PIPELINING)",
            Contender::Smtpkit { pipelining: false } => "smtpkit (no pipelining)",
            Contender::Lettre => "lettre SmtpTransport",
            Contender::Smtplib => "Python smtplib",
        }
    }
}

/// At most this long per run: a client slower than n messages in this time is stopped early and
/// rated on the messages it sent (lettre sits 40 ms per message on Nagle + delayed ACK).
fn budget() -> Duration {
    Duration::from_secs(if quick() { 4 } else { 8 })
}

/// Sends up to `n` messages (fewer if the time budget runs out); returns messages per second
/// (None on an error).
fn run(
    c: Contender,
    reused: bool,
    port: u16,
    n: usize,
    msg: &[u8],
    msg_file: &std::path::Path,
) -> Option<f64> {
    let budget = budget();
    let mut sent = 0usize;
    let more = |sent: usize, t0: Instant| sent < n && t0.elapsed() < budget;
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
            Some(sent as f64 / t0.elapsed().as_secs_f64())
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
            Some(sent as f64 / t0.elapsed().as_secs_f64())
        }
        Contender::Smtplib => {
            let out = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
                .arg(bench_dir().join("smtplib_client.py"))
                .arg(port.to_string())
                .arg(if reused { "reused" } else { "per-message" })
                .arg(n.to_string())
                .arg(budget.as_secs_f64().to_string())
                .arg(msg_file)
                .args(RCPTS)
                .output()
                .ok()?;
            if !out.status.success() {
                eprintln!("  smtplib: {}", String::from_utf8_lossy(&out.stderr));
                return None;
            }
            // The script prints messages per second.
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
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
    let msg_file = dir.0.join("msg.eml");
    std::fs::write(&msg_file, &msg).expect("write message");
    let contenders = [
        Contender::Smtpkit { pipelining: true },
        Contender::Smtpkit { pipelining: false },
        Contender::Lettre,
        Contender::Smtplib,
    ];
    let t_start = Instant::now();
    let mut body = String::from("## Client\n\n");
    body.push_str(&run_note("client"));
    body.push_str(&format!(
        "\n{n} messages of 4 KiB, 3 recipients each (at most; see below), sent to Postfix `smtp-sink -u nobody` (its own process, fresh per repetition; it advertises PIPELINING). smtplib's time excludes interpreter start. Each run stops early after {} s (rated on the messages sent by then): lettre waits ~40 ms per message on Nagle + delayed ACK (it writes the body and the final `.` in two small writes without TCP_NODELAY), so 2000 of its messages would take 80 s per run. The ratio column is msg/s against the best peer (lettre, smtplib) in the same mode.\n\n",
        budget().as_secs()
    ));
    let mut rows = Vec::new();
    for reused in [false, true] {
        let mut rates = vec![Vec::new(); contenders.len()];
        for rep in 0..reps() {
            let port = free_port();
            let mut c = Command::new("/usr/sbin/smtp-sink");
            c.args(["-u", "nobody"])
                .arg(format!("127.0.0.1:{port}"))
                .arg("1024");
            let sink = ServerProc::spawn_on_port("smtp-sink", c, port);
            for k in 0..contenders.len() {
                let i = (k + rep) % contenders.len();
                let rate =
                    run(contenders[i], reused, sink.port, n, &msg, &msg_file).unwrap_or(f64::NAN);
                eprintln!(
                    "  {} rep {rep} {}: {rate:.0} msg/s",
                    if reused { "reused" } else { "per-message" },
                    contenders[i].name()
                );
                rates[i].push(rate);
            }
            drop(sink);
        }
        let meds: Vec<f64> = rates.iter().map(|r| median(r)).collect();
        let peers: Vec<f64> = contenders
            .iter()
            .zip(&meds)
            .filter(|(c, _)| !matches!(c, Contender::Smtpkit { .. }))
            .map(|(_, m)| *m)
            .collect();
        for (c, m) in contenders.iter().zip(&meds) {
            rows.push(vec![
                if reused {
                    "one reused connection"
                } else {
                    "one connection per message"
                }
                .to_string(),
                c.name().to_string(),
                fmt_num(*m),
                ratio(*m, &peers, true),
            ]);
        }
    }
    body.push_str(&table(&["mode", "client", "msg/s", "vs best peer"], &rows));
    body.push_str(&format!(
        "\n(client bench took {:.0} s)\n",
        t_start.elapsed().as_secs_f64()
    ));
    println!("{body}");
    write_section("client", &body);
}
