//! dnsmasq (Debian package `dnsmasq-base`) as a DNS server for the tests: started on a free
//! loopback port, answering only from its command line (no upstream, no /etc/hosts), killed
//! by its handle when dropped.

use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use smtpkit::dns::{DnsConfig, Resolver, StubResolver};

use super::tools::tool;

/// How long one start may take before a fresh port is tried.
const READY: Duration = Duration::from_secs(10);
/// How many ports are tried.
const ATTEMPTS: usize = 5;

/// A running dnsmasq, killed (by its handle) when dropped.
pub struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Dnsmasq {
    /// Starts dnsmasq on a free loopback port with `flags` (after the fixed ones) and waits,
    /// bounded, until it gives an address for `probe` (a name with an A record in `flags`).
    /// None (the test is skipped) when dnsmasq is not installed; under `CI=true` that fails.
    pub fn start(flags: &[String], probe: &str) -> Option<Dnsmasq> {
        let bin = tool("dnsmasq")?;
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            // A free port: bind, note it, drop. Another process may take it meanwhile (or its
            // TCP side may be busy): then dnsmasq exits and another port is tried.
            let port = UdpSocket::bind("127.0.0.1:0")
                .and_then(|s| s.local_addr())
                .expect("bind a UDP socket on loopback")
                .port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let log = std::env::temp_dir()
                .join(format!("smtpkit-dnsmasq-{}-{port}.log", std::process::id()));
            let stderr = fs::File::create(&log).expect("create the dnsmasq log file");
            let child = Command::new(&bin)
                .args([
                    "--keep-in-foreground", // no fork; not --no-daemon (debug mode)
                    "--conf-file=/dev/null",
                    "--no-resolv",
                    "--no-hosts",
                    "--pid-file=",      // none
                    "--log-facility=-", // stderr (to the log file), not syslog
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    &format!("--port={port}"),
                ])
                .args(flags)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("spawn dnsmasq");
            let mut server = Dnsmasq { child, addr, log };
            match server.wait_ready(probe) {
                Ok(()) => return Some(server),
                Err(why) => failures.push(why),
            }
        }
        panic!("dnsmasq did not start: {failures:#?}");
    }

    /// Polls until dnsmasq answers `probe` with an address, it exits, or [`READY`] passes.
    fn wait_ready(&mut self, probe: &str) -> Result<(), String> {
        let dns = StubResolver::new(DnsConfig {
            nameservers: vec![self.addr],
            timeout: Duration::from_millis(200),
            attempts: 1,
        });
        let started = Instant::now();
        while started.elapsed() < READY {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("dnsmasq exited ({status}): {}", self.log()));
            }
            if dns.a(probe).is_ok_and(|a| !a.is_empty()) {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "no answer for {probe} on {} within {READY:?}: {}",
            self.addr,
            self.log()
        ))
    }

    /// Where it listens (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A resolver configuration for it alone (2 s timeout, 2 attempts).
    pub fn config(&self) -> DnsConfig {
        DnsConfig {
            nameservers: vec![self.addr],
            timeout: Duration::from_secs(2),
            attempts: 2,
        }
    }

    /// What dnsmasq wrote so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills it now (dropping does too).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.stop();
        // A failing test shows what dnsmasq saw.
        if thread::panicking() {
            eprintln!("dnsmasq log ({}):\n{}", self.addr, self.log());
        }
        let _ = fs::remove_file(&self.log);
    }
}
