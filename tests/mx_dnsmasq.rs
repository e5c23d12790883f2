//! `smtpkit::client::mx` against a real DNS server: dnsmasq (Debian package `dnsmasq-base`)
//! started on a free loopback port, answering only from its command line (no upstream).
//!
//! Without dnsmasq the tests are skipped, except under `CI=true` where they fail.

mod common;

use std::net::IpAddr;

use common::dnsmasq::Dnsmasq;
use smtpkit::client::mx::{DnsError, MxHost, lookup_ip, resolve_mx};

/// dnsmasq serving [`zone_flags`], or None (skipped; a failure under `CI=true`).
fn dnsmasq() -> Option<Dnsmasq> {
    Dnsmasq::start(&zone_flags(), "mx1.test.example")
}

/// Number of MX records of `many.test.example`: enough that the UDP answer (no EDNS, so
/// 512 bytes at most) is truncated and the client has to ask again over TCP.
const MANY: u16 = 30;

/// The zone, as dnsmasq flags.
fn zone_flags() -> Vec<String> {
    let mut flags: Vec<String> = [
        // Two MX hosts, addresses given by --host-record (dnsmasq adds them as glue).
        "--mx-host=test.example,mx1.test.example,10",
        "--mx-host=test.example,mx2.test.example,20",
        "--host-record=mx1.test.example,127.0.0.2",
        "--host-record=mx2.test.example,127.0.0.3,2001:db8::3",
        // Equal preferences.
        "--mx-host=shuffle.test.example,mx1.test.example,5",
        "--mx-host=shuffle.test.example,mx2.test.example,5",
        // No MX, an address: implicit MX.
        "--host-record=implicit.test.example,127.0.0.4,2001:db8::4",
        // Null MX (RFC 7505): dnsmasq accepts "." as the target.
        "--mx-host=nullmx.test.example,.,0",
        // An MX whose host has no address (the name is unknown: NXDOMAIN).
        "--mx-host=noaddr.test.example,nothing.test.example,10",
        // CNAMEs: to a name with MX records, and to a name with only an address.
        "--cname=mxalias.test.example,test.example",
        "--cname=alias.test.example,implicit.test.example",
        // An IDNA name (bücher), stored in its ASCII form.
        "--host-record=xn--bcher-kva.test.example,127.0.0.5",
        // Authoritative for test.example: unknown names get NXDOMAIN at once.
        "--local=/test.example/",
    ]
    .map(String::from)
    .to_vec();
    for i in 1..=MANY {
        let host = format!("mx{i}-with-a-rather-long-label.many.test.example");
        flags.push(format!("--mx-host=many.test.example,{host},{i}"));
        flags.push(format!("--host-record={host},127.0.1.{i}"));
    }
    flags
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test IP")
}

fn host(preference: u16, name: &str, addrs: &[&str]) -> MxHost {
    MxHost {
        preference,
        name: name.to_string(),
        addrs: addrs.iter().map(|a| ip(a)).collect(),
    }
}

#[test]
fn mx_list_exact() {
    let Some(dns) = dnsmasq() else { return };
    let cfg = dns.config();
    let expected = vec![
        host(10, "mx1.test.example", &["127.0.0.2"]),
        host(20, "mx2.test.example", &["127.0.0.3", "2001:db8::3"]),
    ];
    assert_eq!(resolve_mx("test.example", &cfg).unwrap(), expected);
    // Case and the trailing dot do not matter.
    assert_eq!(resolve_mx("TEST.Example.", &cfg).unwrap(), expected);
    // Through a CNAME.
    assert_eq!(resolve_mx("mxalias.test.example", &cfg).unwrap(), expected);

    assert_eq!(
        lookup_ip("mx2.test.example", &cfg).unwrap(),
        vec![ip("127.0.0.3"), ip("2001:db8::3")]
    );
}

#[test]
fn equal_preferences_shuffled() {
    let Some(dns) = dnsmasq() else { return };
    let cfg = dns.config();
    let (mut first1, mut first2) = (0, 0);
    for _ in 0..60 {
        let hosts = resolve_mx("shuffle.test.example", &cfg).unwrap();
        let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
        assert!(hosts.iter().all(|h| h.preference == 5));
        match names.as_slice() {
            ["mx1.test.example", "mx2.test.example"] => first1 += 1,
            ["mx2.test.example", "mx1.test.example"] => first2 += 1,
            other => panic!("unexpected hosts {other:?}"),
        }
    }
    // Each order has probability 1/2: never seeing one in 60 tries is a 2^-59 event.
    assert!(first1 > 0 && first2 > 0, "{first1} / {first2}");
}

#[test]
fn implicit_null_nxdomain_noaddress() {
    let Some(dns) = dnsmasq() else { return };
    let cfg = dns.config();

    let implicit = vec![host(
        0,
        "implicit.test.example",
        &["127.0.0.4", "2001:db8::4"],
    )];
    assert_eq!(resolve_mx("implicit.test.example", &cfg).unwrap(), implicit);
    // Implicit MX through a CNAME: the canonical name.
    assert_eq!(resolve_mx("alias.test.example", &cfg).unwrap(), implicit);
    // IDNA: the query goes out as xn--bcher-kva.
    assert_eq!(
        resolve_mx("bücher.test.example", &cfg).unwrap(),
        vec![host(0, "xn--bcher-kva.test.example", &["127.0.0.5"])]
    );

    let err = resolve_mx("nullmx.test.example", &cfg).unwrap_err();
    assert!(
        matches!(&err, DnsError::NullMx(d) if d == "nullmx.test.example"),
        "{err:?}"
    );
    assert!(err.is_permanent());

    let err = resolve_mx("unknown.test.example", &cfg).unwrap_err();
    assert!(
        matches!(&err, DnsError::NxDomain(d) if d == "unknown.test.example"),
        "{err:?}"
    );
    assert!(err.is_permanent());
    let err = lookup_ip("unknown.test.example", &cfg).unwrap_err();
    assert!(matches!(err, DnsError::NxDomain(_)), "{err:?}");

    let err = resolve_mx("noaddr.test.example", &cfg).unwrap_err();
    assert!(
        matches!(&err, DnsError::NoAddress(d) if d == "noaddr.test.example"),
        "{err:?}"
    );
    assert!(err.is_permanent());

    // Outside its zone, without upstream servers, dnsmasq refuses: transient.
    let err = resolve_mx("elsewhere.invalid", &cfg).unwrap_err();
    assert!(
        matches!(&err, DnsError::Server(r) if r == "REFUSED"),
        "{err:?}"
    );
    assert!(!err.is_permanent());
}

#[test]
fn truncated_answer_over_tcp() {
    let Some(dns) = dnsmasq() else { return };
    // 30 MX records do not fit in 512 bytes: dnsmasq sets TC, the client retries over TCP
    // and keeps the 16 most preferred hosts.
    let hosts = resolve_mx("many.test.example", &dns.config()).unwrap();
    let expected: Vec<MxHost> = (1..=16u16)
        .map(|i| MxHost {
            preference: i,
            name: format!("mx{i}-with-a-rather-long-label.many.test.example"),
            addrs: vec![ip(&format!("127.0.1.{i}"))],
        })
        .collect();
    assert_eq!(hosts, expected);
}

/// The client routed by MX through dnsmasq: `test.example` has mx1 (127.0.0.2, preference 10)
/// and mx2 (127.0.0.3, preference 20), both on the same port.
mod client_failover {
    use super::*;
    use smtpkit::Reply;
    use smtpkit::client::{Client, Email, ErrorKind, Options, TlsMode};
    use smtpkit::server::{ConnInfo, Greeting, Handler, Server, ServerHandle};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Greets with `reply` (or normally), counts connections.
    struct Mx {
        greet: Option<Reply>,
        seen: Arc<AtomicUsize>,
    }
    impl Handler for Mx {
        fn on_connect(&mut self, _c: &ConnInfo) -> Greeting {
            self.seen.fetch_add(1, Ordering::SeqCst);
            match &self.greet {
                Some(r) => Greeting::Reject(r.clone()),
                None => Greeting::Accept,
            }
        }
    }

    fn mx_server(ip: &str, port: u16, greet: Option<Reply>) -> (ServerHandle, Arc<AtomicUsize>) {
        let seen = Arc::new(AtomicUsize::new(0));
        let s2 = Arc::clone(&seen);
        let srv = Server::builder()
            .bind((ip, port))
            .unwrap()
            .spawn(move |_| Mx {
                greet: greet.clone(),
                seen: Arc::clone(&s2),
            })
            .unwrap();
        (srv, seen)
    }

    /// A port free on both 127.0.0.2 and 127.0.0.3.
    fn port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.3:0").unwrap();
        let p = l.local_addr().unwrap().port();
        drop(l);
        p
    }

    fn send(
        dns: &Dnsmasq,
        port: u16,
        retries: usize,
    ) -> Result<smtpkit::client::Receipt, smtpkit::client::Error> {
        let client = Client::new(
            Options::mx("test.example")
                .port(port)
                .dns(dns.config())
                .tls(TlsMode::Never)
                .retries(retries),
        )
        .unwrap();
        client.send(&Email::new("a@example.org", &["b@test.example"], "hi\r\n").unwrap())
    }

    #[test]
    fn first_mx_down_then_second_delivers() {
        let Some(dns) = dnsmasq() else { return };
        let p = port();
        let (_mx2, seen2) = mx_server("127.0.0.3", p, None);
        let receipt = send(&dns, p, 1).unwrap();
        assert_eq!(receipt.host, "mx2.test.example");
        assert_eq!(seen2.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn first_mx_refuses_temporarily_then_second_delivers() {
        let Some(dns) = dnsmasq() else { return };
        let p = port();
        let (_mx1, seen1) = mx_server(
            "127.0.0.2",
            p,
            Some(Reply::with(421, (4, 3, 2), "try later")),
        );
        let (_mx2, seen2) = mx_server("127.0.0.3", p, None);
        let receipt = send(&dns, p, 2).unwrap();
        assert_eq!(receipt.host, "mx2.test.example");
        // retries + 1 attempts on the first host, in preference order.
        assert_eq!(seen1.load(Ordering::SeqCst), 3);
        assert_eq!(seen2.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn permanent_refusal_stops() {
        let Some(dns) = dnsmasq() else { return };
        let p = port();
        let (_mx1, seen1) = mx_server("127.0.0.2", p, Some(Reply::with(554, (5, 7, 1), "no")));
        let (_mx2, seen2) = mx_server("127.0.0.3", p, None);
        let e = send(&dns, p, 2).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Permanent);
        assert_eq!(e.host(), Some("mx1.test.example"));
        assert_eq!(
            (seen1.load(Ordering::SeqCst), seen2.load(Ordering::SeqCst)),
            (1, 0)
        );
    }
}
