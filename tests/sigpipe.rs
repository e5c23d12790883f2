//! A host program whose SIGPIPE is at its default (as a C program embedding Rust, or one that
//! restores it) must not die when a TLS peer vanishes while the server writes to it.
//!
//! Rust binaries ignore SIGPIPE at startup, so the test re-runs its own binary as a child that
//! restores the default disposition (the only `unsafe` in the project, confined to this test
//! fixture: std has no safe way to set a signal disposition), runs a TLS server in it, and has
//! peers vanish mid-write. The child must still be alive and serving at the end.

mod common;
use common::pki;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use smtpkit::server::{Handler, Server};

const CHILD_ENV: &str = "SMTPKIT_SIGPIPE_CHILD";

struct Accept;
impl Handler for Accept {}

/// The child: default SIGPIPE, a TLS server, the ports on stdout, then wait (bounded).
fn child() {
    // SAFETY: setting a signal disposition to its default at the start of a single-purpose
    // test process, before any thread that could race on it exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // The parent's certificate, so the parent's client (trusting the parent's CA) verifies it.
    let cert = std::env::var("SMTPKIT_SIGPIPE_CERT").expect("cert");
    let key = std::env::var("SMTPKIT_SIGPIPE_KEY").expect("key");
    let identity =
        smtpkit::tls::Identity::from_pem(cert.as_bytes(), key.as_bytes()).expect("identity");
    let handle = Server::builder()
        .tls(smtpkit::tls::ServerTls::new(identity))
        .bind("127.0.0.1:0")
        .and_then(|s| s.bind_implicit_tls("127.0.0.1:0"))
        .and_then(|s| s.spawn(|_| Accept))
        .expect("server");
    println!(
        "PORTS {} {}",
        handle.local_addrs()[0].port(),
        handle.local_addrs()[1].port()
    );
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(60));
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn tls_peers_vanishing_mid_write_do_not_kill_the_process() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut child = Kill(
        Command::new(exe)
            .args([
                "--exact",
                "tls_peers_vanishing_mid_write_do_not_kill_the_process",
                "--nocapture",
            ])
            .env(CHILD_ENV, "1")
            .env("SMTPKIT_SIGPIPE_CERT", &pki::pki().mx.cert)
            .env("SMTPKIT_SIGPIPE_KEY", &pki::pki().mx.key)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    let ports = loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "child ended before printing its ports"
        );
        if let Some(rest) = line.strip_prefix("PORTS ") {
            let p: Vec<u16> = rest
                .split_whitespace()
                .map(|p| p.parse().unwrap())
                .collect();
            break p;
        }
    };
    let implicit = std::net::SocketAddr::from(([127, 0, 0, 1], ports[1]));
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..40 {
        assert!(Instant::now() < deadline);
        let sock = TcpStream::connect(implicit).unwrap();
        let mut t =
            pki::TlsClient::handshake(sock.try_clone().unwrap(), "mx.example").expect("handshake");
        // Pipeline many commands, then vanish with unread replies (RST): the server's writes
        // (replies, then close_notify) meet a dead socket.
        let mut burst = String::from("EHLO x.example\r\n");
        for _ in 0..200 {
            burst.push_str("NOOP\r\n");
        }
        let _ = t.tls.write_all(burst.as_bytes());
        let _ = t.tls.flush();
        if i % 2 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(t);
        drop(sock);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the server process died: {:?}",
        child.0.try_wait()
    );
    // And it still serves.
    let sock = TcpStream::connect(implicit).unwrap();
    let mut t = pki::TlsClient::handshake(sock, "mx.example").unwrap();
    assert!(t.read_line().starts_with("220 "));
    t.cmd("QUIT", "221 ");
}
