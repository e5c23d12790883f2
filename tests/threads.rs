//! Session threads on demand: the minimum at start, one per concurrent session under load, back
//! to the minimum when idle; the idle catcher runs at most 4 threads; dropping the
//! handle stops the server.

mod common;

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::Client;
use common::tools::example;
use smtpkit::server::{Handler, Server};

struct Accept;
impl Handler for Accept {}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "{what}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn threads_grow_with_sessions_and_retire_when_idle() {
    let srv = Server::builder()
        .min_threads(2)
        .thread_idle_timeout(Duration::from_millis(300))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn(|_| Accept)
        .unwrap();
    assert_eq!(srv.threads(), 2, "the minimum starts with the server");
    let clients: Vec<Client> = (0..20).map(|_| Client::greeted(srv.local_addr())).collect();
    // Twenty sessions at once, each greeted: twenty threads (the two started and eighteen
    // new), none waiting behind another.
    assert_eq!(srv.threads(), 20);
    assert_eq!(srv.stats().sessions, 20);
    for mut c in clients {
        c.cmd("QUIT", "221 ");
    }
    wait_until("idle threads retire down to the minimum", || {
        srv.threads() == 2
    });
    // The ones left serve new sessions without growing.
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("NOOP", "250 ");
    assert_eq!(srv.threads(), 2);
}

#[test]
fn dropping_the_handle_stops_the_server() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn(|_| Accept)
        .unwrap();
    let addr = srv.local_addr();
    let mut c = Client::greeted(addr);
    c.cmd("EHLO x.example", "250 ");
    drop(srv);
    // The idle session was told, and nothing listens any more.
    c.expect("421 4.3.2");
    assert!(std::net::TcpStream::connect(addr).is_err());
}

fn threads_of(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// Starts the catcher with `extra` flags, waits until it runs at least `at_least` threads and
/// half a second more (time to start its listener), and returns its thread count then.
fn idle_catcher_threads(tag: &str, extra: &[&str], at_least: usize) -> usize {
    let dir = std::env::temp_dir().join(format!("smtpkit-{tag}-{}", std::process::id()));
    let mut child = Command::new(example("smtp_server"))
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .arg("--maildir")
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    while threads_of(pid) < at_least && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(500));
    let n = threads_of(pid);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    n
}

#[test]
fn an_idle_catcher_runs_at_most_four_threads() {
    let idle = idle_catcher_threads("threads", &[], 1);
    assert!(idle <= 4, "idle catcher runs {idle} threads");
}

#[test]
fn the_catcher_starts_min_threads_and_refuses_more_than_max_sessions() {
    // Main, listener and the three session threads, before any session.
    let n = idle_catcher_threads("minthreads", &["--min-threads", "3"], 5);
    assert_eq!(n, 5, "catcher with --min-threads 3");

    let dir = std::env::temp_dir().join(format!("smtpkit-minthreads2-{}", std::process::id()));
    let out = Command::new(example("smtp_server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--min-threads",
            "5",
            "--max-sessions",
            "4",
        ])
        .arg("--maildir")
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().last(),
        Some("smtp_server: bad configuration: min_threads must not exceed max_sessions"),
        "{err}"
    );
}
