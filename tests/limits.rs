//! Limits users expect from Postfix, through the setters issue 11 adds: a junk-command budget
//! (`ServerBuilder::max_junk_commands`), a session lifetime cap
//! (`ServerBuilder::max_session_duration`), and the prefix an IPv6 client is counted by
//! (`ServerBuilder::per_ip_prefix_v6`, default 64).
//!
//! The same findings with the defaults are in `tests/findings.rs` (NOOP and refused-RCPT
//! floods, the /64 cap).

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::transport::{Segmenting, Transport, Via, Wire, v6};
use common::*;
use smtpkit::server::Server;

const MARGIN: Duration = Duration::from_secs(5);
const PER_IP_421: &str = "421 4.7.0 Too many connections from your address";
const JUNK_421: &str = "421 4.7.0 Too many commands without mail, closing connection";
const LIFETIME_421: &str = "421 4.4.2 Session time limit reached, closing connection";

/// Sends `line` `n` times, one at a time: the replies' codes, up to and including a 421,
/// which must be the junk budget's.
fn repeat(c: &mut Client, line: &str, n: usize) -> Vec<u16> {
    let mut codes = Vec::new();
    for _ in 0..n {
        if c.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .is_err()
        {
            break;
        }
        let last = c.reply().last().unwrap().clone();
        let code: u16 = last[..3].parse().unwrap();
        codes.push(code);
        if code == 421 {
            assert_eq!(last, JUNK_421);
            break;
        }
    }
    codes
}

/// A budget of 10 commands that move no mail (EHLO counts): EHLO and 9 NOOPs are answered,
/// the next gets `421 4.7.0` and the close.
#[test]
fn noop_budget() {
    let (srv, rec) = start(Server::builder().max_junk_commands(10));
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    let codes = repeat(&mut c, "NOOP", 50);
    assert_eq!(codes, [vec![250; 9], vec![421]].concat());
    assert!(c.closed());
    wait_closed(&rec, 1);
}

/// RSET, VRFY and HELP count as well: EHLO and nine of them fill a budget of 10.
#[test]
fn rset_vrfy_help_count_too() {
    let (srv, _rec) = start(Server::builder().max_junk_commands(10));
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    let mut codes = Vec::new();
    for _ in 0..3 {
        for line in ["RSET", "VRFY postmaster", "HELP"] {
            c.line(line);
            codes.push(c.reply().last().unwrap()[..3].parse::<u16>().unwrap());
        }
    }
    assert!(!codes.contains(&421), "{codes:?}");
    c.line("NOOP");
    assert_eq!(c.reply().last().unwrap(), JUNK_421);
    assert!(c.closed());
}

/// Refused recipients count against the budget: the 11th refusal's place gets 421.
#[test]
fn refused_rcpt_budget() {
    let (srv, _rec) = start(Server::builder().max_junk_commands(10));
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    // The recording handler refuses recipients starting with "bad" (550 5.1.1).
    let codes = repeat(&mut c, "RCPT TO:<bad@d.example>", 50);
    assert_eq!(codes, [vec![550; 10], vec![421]].concat());
    assert!(c.closed());
}

/// Mail keeps flowing under the budget: a session that delivers is not junk.
#[test]
fn transactions_are_not_junk() {
    let (srv, rec) = start(Server::builder().max_junk_commands(10));
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    for _ in 0..30 {
        c.send_mail("a@b.example", &["c@d.example"], "hi\r\n");
    }
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    assert_eq!(rec.lock().unwrap().messages.len(), 30);
}

/// A session that stays busy (a NOOP every 200 ms, under any budget) ends at its lifetime cap.
#[test]
fn session_lifetime_cap() {
    let life = Duration::from_secs(2);
    let (srv, rec) = start(
        Server::builder()
            .max_junk_commands(1_000_000)
            .max_session_duration(life),
    );
    let mut c = Client::greeted(srv.local_addr());
    let t = Instant::now();
    c.cmd("EHLO x.example", "250 ");
    let end = loop {
        assert!(
            t.elapsed() < life + MARGIN,
            "still open after {:.2?} (lifetime {life:?})",
            t.elapsed()
        );
        c.line("NOOP");
        let last = c.reply().last().unwrap().clone();
        if !last.starts_with("250 ") {
            break last;
        }
        sleep(Duration::from_millis(200));
    };
    assert_eq!(end, LIFETIME_421);
    assert!(t.elapsed() >= life - Duration::from_millis(300));
    assert!(c.closed());
    wait_closed(&rec, 1);
}

fn from(net: u16, host: u16) -> SocketAddr {
    SocketAddr::new(v6([0x2001, 0xdb8, 1, net, 0, 0, 0, host]), 40000)
}

/// `per_ip_prefix_v6(128)` counts exact addresses: three from one /64 are three clients.
#[test]
fn per_ip_prefix_v6_128_counts_exact_addresses() {
    let via = Via::new(Transport::ProxyV2Plain, Segmenting::OneSegment);
    let (srv, _rec) = start_via(
        via,
        Server::builder()
            .max_sessions_per_ip(2)
            .per_ip_prefix_v6(128),
    );
    let addr = srv.local_addr();
    let held: Vec<Wire> = (1..=3)
        .map(|h| Wire::ready_as(via, addr, from(2, h)).unwrap())
        .collect();
    assert_eq!(srv.stats().refused_per_ip, 0);
    drop(held);
}

/// `per_ip_prefix_v6(48)`: two /64s in one /48 are one client.
#[test]
fn per_ip_prefix_v6_48() {
    let via = Via::new(Transport::ProxyV2Plain, Segmenting::OneSegment);
    let (srv, _rec) = start_via(
        via,
        Server::builder()
            .max_sessions_per_ip(2)
            .per_ip_prefix_v6(48),
    );
    let addr = srv.local_addr();
    let _a = Wire::ready_as(via, addr, from(2, 1)).unwrap();
    let _b = Wire::ready_as(via, addr, from(3, 1)).unwrap();
    let (mut c, greeting) = Wire::open_as(via, addr, from(4, 1)).unwrap();
    assert_eq!(greeting, (421, PER_IP_421.to_string()));
    assert!(c.closed());
    assert_eq!(srv.stats().refused_per_ip, 1);
}
