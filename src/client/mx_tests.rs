//! MX selection and the stub resolver against a fake DNS server on loopback.

use super::*;
use crate::dns::*;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::RData;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX};
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::net::{SocketAddr, SocketAddrV6, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a fake server lives at most, whatever the test does.
const SERVER_LIFETIME: Duration = Duration::from_secs(30);

type Handler = dyn Fn(&Message, bool) -> Vec<Vec<u8>> + Send + Sync;

/// A fake DNS server on 127.0.0.1: UDP and TCP on the same port. The handler gets each
/// query (and whether it came over TCP) and returns the raw messages to send back.
/// It stops after `max_queries`, after `SERVER_LIFETIME`, or when dropped.
struct FakeDns {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<(String, RecordType, bool)>>>,
    threads: Vec<JoinHandle<()>>,
}

impl FakeDns {
    fn start(
        max_queries: usize,
        handler: impl Fn(&Message, bool) -> Vec<Vec<u8>> + Send + Sync + 'static,
    ) -> FakeDns {
        let handler: Arc<Handler> = Arc::new(handler);
        let (udp, tcp) = bind_pair();
        let addr = udp.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(Mutex::new(0usize));
        let started = Instant::now();
        let alive = {
            let stop = stop.clone();
            let count = count.clone();
            move || {
                !stop.load(Ordering::SeqCst)
                    && *count.lock().unwrap() < max_queries
                    && started.elapsed() < SERVER_LIFETIME
            }
        };
        let record = {
            let log = log.clone();
            move |q: &Message, tcp: bool| {
                *count.lock().unwrap() += 1;
                if let Some(query) = q.queries.first() {
                    log.lock()
                        .unwrap()
                        .push((name_string(&query.name), query.query_type, tcp));
                }
            }
        };
        let record = Arc::new(record);
        let udp_thread = {
            let (alive, record, handler) = (alive.clone(), record.clone(), handler.clone());
            thread::spawn(move || {
                udp.set_read_timeout(Some(Duration::from_millis(20)))
                    .unwrap();
                let mut buf = vec![0u8; 4096];
                while alive() {
                    let Ok((len, peer)) = udp.recv_from(&mut buf) else {
                        continue;
                    };
                    let Ok(query) = Message::from_vec(&buf[..len]) else {
                        continue;
                    };
                    record(&query, false);
                    for reply in handler(&query, false) {
                        let _ = udp.send_to(&reply, peer);
                    }
                }
            })
        };
        let tcp_thread = thread::spawn(move || {
            tcp.set_nonblocking(true).unwrap();
            while alive() {
                let Ok((mut conn, _)) = tcp.accept() else {
                    thread::sleep(Duration::from_millis(10));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut prefix = [0u8; 2];
                if conn.read_exact(&mut prefix).is_err() {
                    continue;
                }
                let mut body = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
                if conn.read_exact(&mut body).is_err() {
                    continue;
                }
                let Ok(query) = Message::from_vec(&body) else {
                    continue;
                };
                record(&query, true);
                for reply in handler(&query, true) {
                    let len = u16::try_from(reply.len()).unwrap().to_be_bytes();
                    let _ = conn.write_all(&len);
                    let _ = conn.write_all(&reply);
                }
            }
        });
        FakeDns {
            addr,
            stop,
            log,
            threads: vec![udp_thread, tcp_thread],
        }
    }

    /// A server answering from `zone`.
    fn zone(max_queries: usize, zone: Zone) -> FakeDns {
        FakeDns::start(max_queries, move |q, _| {
            vec![zone.answer(q).to_vec().unwrap()]
        })
    }

    fn cfg(&self) -> DnsConfig {
        DnsConfig {
            nameservers: vec![self.addr],
            timeout: Duration::from_secs(2),
            attempts: 1,
        }
    }

    /// The questions received so far: (name, type, over TCP).
    fn log(&self) -> Vec<(String, RecordType, bool)> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A UDP socket and a TCP listener on the same loopback port.
fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
            return (udp, tcp);
        }
    }
    panic!("no free port for UDP and TCP");
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn mx(owner: &str, pref: u16, exchange: &str) -> Record {
    Record::from_rdata(name(owner), 60, RData::MX(MX::new(pref, name(exchange))))
}

fn a(owner: &str, ip: &str) -> Record {
    Record::from_rdata(name(owner), 60, RData::A(A(ip.parse().unwrap())))
}

fn aaaa(owner: &str, ip: &str) -> Record {
    Record::from_rdata(name(owner), 60, RData::AAAA(AAAA(ip.parse().unwrap())))
}

fn cname(owner: &str, target: &str) -> Record {
    Record::from_rdata(name(owner), 60, RData::CNAME(CNAME(name(target))))
}

/// A tiny authoritative table: answers (following CNAMEs), NODATA for known names,
/// NXDOMAIN otherwise; optionally glue for MX targets in the additional section.
#[derive(Clone, Default)]
struct Zone {
    records: Vec<Record>,
    glue: bool,
}

impl Zone {
    fn new(records: Vec<Record>) -> Zone {
        Zone {
            records,
            glue: false,
        }
    }

    fn with_glue(mut self) -> Zone {
        self.glue = true;
        self
    }

    fn answer(&self, q: &Message) -> Message {
        let mut resp = Message::response(q.metadata.id, OpCode::Query);
        resp.metadata.recursion_desired = q.metadata.recursion_desired;
        resp.metadata.recursion_available = true;
        let Some(query) = q.queries.first().cloned() else {
            resp.metadata.response_code = ResponseCode::FormErr;
            return resp;
        };
        resp.add_query(query.clone());
        let mut owner = query.name.clone();
        for _ in 0..20 {
            let found: Vec<Record> = self
                .records
                .iter()
                .filter(|r| r.name == owner && r.record_type() == query.query_type)
                .cloned()
                .collect();
            if !found.is_empty() {
                for r in &found {
                    if let (true, RData::MX(m)) = (self.glue, &r.data) {
                        for g in self.records.iter().filter(|g| {
                            g.name == m.exchange
                                && matches!(g.record_type(), RecordType::A | RecordType::AAAA)
                        }) {
                            resp.add_additional(g.clone());
                        }
                    }
                }
                resp.add_answers(found);
                return resp;
            }
            let next = self.records.iter().find_map(|r| match &r.data {
                RData::CNAME(c) if r.name == owner => Some((r.clone(), c.0.clone())),
                _ => None,
            });
            match next {
                Some((r, target)) => {
                    resp.add_answer(r);
                    owner = target;
                }
                None => break,
            }
        }
        if !self.records.iter().any(|r| r.name == owner) {
            resp.metadata.response_code = ResponseCode::NXDomain;
        }
        resp
    }
}

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

// ---- resolv.conf ----

#[test]
fn resolv_conf_parsing() {
    let text = "\
# generated\n\
; another comment\n\
search example.org\n\
nameserver 192.0.2.53   # trailing comment\n\
nameserver 2001:db8::53\n\
nameserver fe80::1%eth0\n\
nameserver 198.51.100.1\n\
options ndots:2 timeout:3 attempts:4 rotate\n";
    let cfg = DnsConfig::parse_resolv_conf(text);
    assert_eq!(
        cfg.nameservers,
        vec![
            "192.0.2.53:53".parse::<SocketAddr>().unwrap(),
            "[2001:db8::53]:53".parse().unwrap(),
            "[fe80::1]:53".parse().unwrap(),
        ]
    );
    assert_eq!(cfg.timeout, Duration::from_secs(3));
    assert_eq!(cfg.attempts, 4);
}

#[test]
fn resolv_conf_edge_cases() {
    // Defaults, loopback fallback, garbage ignored.
    let cfg =
        DnsConfig::parse_resolv_conf("nameserver not-an-ip\nnameserver\n#nameserver 1.2.3.4\n");
    assert_eq!(cfg.nameservers, vec!["127.0.0.1:53".parse().unwrap()]);
    assert_eq!(cfg.timeout, Duration::from_secs(5));
    assert_eq!(cfg.attempts, 2);
    assert_eq!(DnsConfig::parse_resolv_conf(""), cfg);

    // Clamping like glibc, last value wins, numeric scope kept, socket address extension.
    let cfg = DnsConfig::parse_resolv_conf(
        "options timeout:0 attempts:99\noptions timeout:100\n\
         nameserver fe80::1%7\nnameserver 127.0.0.1:5353\n\tnameserver\t[::1]:5353\n",
    );
    assert_eq!(cfg.timeout, Duration::from_secs(30));
    assert_eq!(cfg.attempts, 5);
    assert_eq!(
        cfg.nameservers,
        vec![
            SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 0, 7)),
            "127.0.0.1:5353".parse().unwrap(),
            "[::1]:5353".parse().unwrap(),
        ]
    );
    let cfg = DnsConfig::parse_resolv_conf("options attempts:0 timeout:x\n");
    assert_eq!((cfg.attempts, cfg.timeout), (1, Duration::from_secs(5)));

    let one = DnsConfig::with_nameserver("127.0.0.1:5300".parse().unwrap());
    assert_eq!(one.nameservers.len(), 1);
    assert_eq!((one.timeout, one.attempts), (Duration::from_secs(5), 2));
    // from_system never fails and always has a nameserver.
    assert!(!DnsConfig::default().nameservers.is_empty());
}

// ---- names ----

#[test]
fn names_literals_and_idna() {
    let cfg = DnsConfig::with_nameserver("127.0.0.1:9".parse().unwrap());
    // IP literals: no query at all (port 9 would not answer).
    assert_eq!(lookup_ip("192.0.2.7", &cfg).unwrap(), vec![v4("192.0.2.7")]);
    assert_eq!(
        lookup_ip("[192.0.2.7]", &cfg).unwrap(),
        vec![v4("192.0.2.7")]
    );
    assert_eq!(
        lookup_ip("[IPv6:2001:db8::7]", &cfg).unwrap(),
        vec![v4("2001:db8::7")]
    );
    assert_eq!(
        resolve_mx("[192.0.2.7]", &cfg).unwrap(),
        vec![MxHost {
            preference: 0,
            name: "192.0.2.7".into(),
            addrs: vec![v4("192.0.2.7")]
        }]
    );
    for bad in [
        "",
        ".",
        "a..b",
        ".a.b",
        "a.b..",
        "exa mple.com",
        "a\\.b.com",
        "*.example.com",
        "bad/char.com",
        "[192.0.2.300]",
        "[IPv6:1.2.3.4]",
        &format!("{}.com", "a".repeat(64)),
        &format!("{}com", "abcdefghi.".repeat(26)),
        &format!("{}.com", "ü".repeat(300)),
    ] {
        let err = lookup_ip(bad, &cfg).unwrap_err();
        assert!(matches!(err, DnsError::InvalidName(_)), "{bad:?}: {err:?}");
        assert!(err.is_permanent());
        assert!(matches!(
            resolve_mx(bad, &cfg),
            Err(DnsError::InvalidName(_))
        ));
    }
    assert_eq!(
        name_string(&parse_domain("Bücher.Example.").unwrap()),
        "xn--bcher-kva.example"
    );
    assert_eq!(
        name_string(&parse_domain("MAIL.Example.COM").unwrap()),
        "mail.example.com"
    );
    assert_eq!(
        name_string(&parse_domain("_dmarc.example").unwrap()),
        "_dmarc.example"
    );
}

// ---- MX ordering ----

#[test]
fn mx_sorted_with_addresses_from_additional_section() {
    let zone = Zone::new(vec![
        mx("example.org.", 20, "mx2.example.org."),
        mx("example.org.", 10, "MX1.example.org."),
        a("mx1.example.org.", "192.0.2.1"),
        aaaa("mx1.example.org.", "2001:db8::1"),
        a("mx1.example.org.", "192.0.2.11"),
        a("mx2.example.org.", "192.0.2.2"),
    ])
    .with_glue();
    let server = FakeDns::zone(10, zone);
    let hosts = resolve_mx("Example.ORG.", &server.cfg()).unwrap();
    assert_eq!(
        hosts,
        vec![
            MxHost {
                preference: 10,
                name: "mx1.example.org".into(),
                addrs: vec![v4("192.0.2.1"), v4("192.0.2.11"), v4("2001:db8::1")],
            },
            MxHost {
                preference: 20,
                name: "mx2.example.org".into(),
                addrs: vec![v4("192.0.2.2")],
            },
        ]
    );
    // One query: the addresses came from the additional section.
    assert_eq!(
        server.log(),
        vec![("example.org".into(), RecordType::MX, false)]
    );
}

#[test]
fn mx_addresses_queried_without_additional_section() {
    let zone = Zone::new(vec![
        mx("example.org.", 10, "mx1.example.org."),
        mx("example.org.", 10, "mx1.example.org."),
        mx("example.org.", 30, "mx1.example.org."),
        mx("example.org.", 20, "gone.example.org."),
        a("mx1.example.org.", "192.0.2.1"),
        aaaa("mx1.example.org.", "2001:db8::1"),
    ]);
    let server = FakeDns::zone(10, zone);
    let hosts = resolve_mx("example.org", &server.cfg()).unwrap();
    assert_eq!(
        hosts,
        vec![
            MxHost {
                preference: 10,
                name: "mx1.example.org".into(),
                addrs: vec![v4("192.0.2.1"), v4("2001:db8::1")],
            },
            // NXDOMAIN for this host: kept, without addresses.
            MxHost {
                preference: 20,
                name: "gone.example.org".into(),
                addrs: vec![],
            },
        ]
    );
    assert_eq!(
        server.log(),
        vec![
            ("example.org".into(), RecordType::MX, false),
            ("mx1.example.org".into(), RecordType::A, false),
            ("mx1.example.org".into(), RecordType::AAAA, false),
            ("gone.example.org".into(), RecordType::A, false),
        ]
    );
}

#[test]
fn equal_preferences_are_shuffled_lower_first() {
    let zone = Zone::new(vec![
        mx("example.org.", 10, "a.example.org."),
        mx("example.org.", 10, "b.example.org."),
        mx("example.org.", 5, "first.example.org."),
        mx("example.org.", 50, "last.example.org."),
        a("a.example.org.", "192.0.2.1"),
        a("b.example.org.", "192.0.2.2"),
        a("first.example.org.", "192.0.2.3"),
        a("last.example.org.", "192.0.2.4"),
    ])
    .with_glue();
    let server = FakeDns::zone(200, zone);
    let (mut ab, mut ba) = (0, 0);
    for _ in 0..100 {
        let hosts = resolve_mx("example.org", &server.cfg()).unwrap();
        let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names.len(), 4);
        assert_eq!(names[0], "first.example.org");
        assert_eq!(names[3], "last.example.org");
        match (names[1], names[2]) {
            ("a.example.org", "b.example.org") => ab += 1,
            ("b.example.org", "a.example.org") => ba += 1,
            other => panic!("unexpected order {other:?}"),
        }
    }
    // Each order has probability 1/2: missing one in 100 tries is a 2^-99 event.
    assert!(ab > 0 && ba > 0, "ab={ab} ba={ba}");

    // The pure helper too: runs stay in place.
    let mut list: Vec<(u16, u8)> = vec![(1, 0), (2, 1), (2, 2), (2, 3), (3, 4)];
    shuffle_equal_preferences(&mut list);
    assert_eq!(list[0], (1, 0));
    assert_eq!(list[4], (3, 4));
    assert!(list[1..4].iter().all(|(p, _)| *p == 2));
}

// ---- special answers ----

#[test]
fn null_mx_nxdomain_and_implicit_mx() {
    let zone = Zone::new(vec![
        mx("null.example.", 0, "."),
        mx("mixed.example.", 0, "."),
        mx("mixed.example.", 10, "mx.mixed.example."),
        // Not a host name: skipped.
        Record::from_rdata(
            name("mixed.example."),
            60,
            RData::MX(MX::new(
                1,
                Name::from_labels([&b"bad/host"[..], &b"example"[..]]).unwrap(),
            )),
        ),
        a("mx.mixed.example.", "192.0.2.9"),
        a("implicit.example.", "192.0.2.5"),
        aaaa("implicit.example.", "2001:db8::5"),
        a("v4only.example.", "192.0.2.6"),
        // A name that exists but has no address.
        mx("nothing.example.", 1, "x.example."),
        mx("justmx.example.", 10, "nothing.example."),
    ]);
    let server = FakeDns::zone(100, zone);
    let cfg = server.cfg();

    let err = resolve_mx("null.example", &cfg).unwrap_err();
    assert!(
        matches!(&err, DnsError::NullMx(d) if d == "null.example"),
        "{err:?}"
    );
    assert!(err.is_permanent());

    // A null MX beside real ones is ignored.
    let hosts = resolve_mx("mixed.example", &cfg).unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].name, "mx.mixed.example");

    let err = resolve_mx("nowhere.example", &cfg).unwrap_err();
    assert!(
        matches!(&err, DnsError::NxDomain(d) if d == "nowhere.example"),
        "{err:?}"
    );
    assert!(err.is_permanent());
    assert!(matches!(
        lookup_ip("nowhere.example", &cfg),
        Err(DnsError::NxDomain(_))
    ));

    // NODATA for MX: the domain itself, preference 0, A then AAAA.
    assert_eq!(
        resolve_mx("implicit.example", &cfg).unwrap(),
        vec![MxHost {
            preference: 0,
            name: "implicit.example".into(),
            addrs: vec![v4("192.0.2.5"), v4("2001:db8::5")],
        }]
    );
    assert_eq!(
        lookup_ip("v4only.example", &cfg).unwrap(),
        vec![v4("192.0.2.6")]
    );

    // MX hosts without any address: NoAddress, permanent.
    let err = resolve_mx("justmx.example", &cfg).unwrap_err();
    assert!(
        matches!(&err, DnsError::NoAddress(d) if d == "justmx.example"),
        "{err:?}"
    );
    assert!(err.is_permanent());
    assert!(matches!(
        lookup_ip("nothing.example", &cfg),
        Err(DnsError::NoAddress(_))
    ));
}

#[test]
fn cname_chains_followed_and_bounded() {
    let mut records = vec![
        cname("alias.example.", "step.example."),
        cname("step.example.", "real.example."),
        mx("real.example.", 10, "mx.real.example."),
        cname("mx.real.example.", "host.real.example."),
        a("host.real.example.", "192.0.2.10"),
        cname("loop1.example.", "loop2.example."),
        cname("loop2.example.", "loop1.example."),
        // An implicit MX through a CNAME.
        cname("www.example.", "web.example."),
        a("web.example.", "192.0.2.20"),
    ];
    // A long chain: c0 -> c1 -> ... -> c12.
    for i in 0..12 {
        records.push(cname(
            &format!("c{i}.example."),
            &format!("c{}.example.", i + 1),
        ));
    }
    records.push(mx("c12.example.", 1, "host.real.example."));
    // A CNAME to a name that is not a host name (a space in a label).
    let weird = Name::from_labels([&b"a b"[..], &b"example"[..]]).unwrap();
    records.push(Record::from_rdata(
        name("weird.example."),
        60,
        RData::CNAME(CNAME(weird.clone())),
    ));
    records.push(Record::from_rdata(
        weird,
        60,
        RData::A(A("192.0.2.99".parse().unwrap())),
    ));
    let server = FakeDns::zone(100, Zone::new(records));
    let cfg = server.cfg();

    assert_eq!(
        resolve_mx("alias.example", &cfg).unwrap(),
        vec![MxHost {
            preference: 10,
            name: "mx.real.example".into(),
            addrs: vec![v4("192.0.2.10")],
        }]
    );
    assert_eq!(
        resolve_mx("www.example", &cfg).unwrap(),
        vec![MxHost {
            preference: 0,
            name: "web.example".into(),
            addrs: vec![v4("192.0.2.20")],
        }]
    );
    assert!(matches!(
        resolve_mx("loop1.example", &cfg),
        Err(DnsError::Malformed(_))
    ));
    assert!(matches!(
        resolve_mx("c0.example", &cfg),
        Err(DnsError::Malformed(_))
    ));
    assert!(matches!(
        resolve_mx("weird.example", &cfg),
        Err(DnsError::Malformed(_))
    ));
}

#[test]
fn chain_not_chased_by_server_is_queried() {
    // The server returns only the CNAME; the client asks for the target itself.
    let server = FakeDns::start(10, |q, _| {
        let query = q.queries[0].clone();
        let mut resp = Message::response(q.metadata.id, OpCode::Query);
        resp.add_query(query.clone());
        if query.name == name("alias.example.") {
            resp.add_answer(cname("alias.example.", "real.example."));
        } else if query.name == name("real.example.") && query.query_type == RecordType::MX {
            resp.add_answer(mx("real.example.", 5, "mx.example."));
            resp.add_additional(a("mx.example.", "192.0.2.30"));
        }
        vec![resp.to_vec().unwrap()]
    });
    let hosts = resolve_mx("alias.example", &server.cfg()).unwrap();
    assert_eq!(hosts[0].name, "mx.example");
    assert_eq!(hosts[0].addrs, vec![v4("192.0.2.30")]);
    assert_eq!(server.log().len(), 2);
}

// ---- transport and validation ----

#[test]
fn mismatched_responses_are_ignored() {
    let zone = Zone::new(vec![
        mx("example.org.", 10, "good.example.org."),
        a("good.example.org.", "192.0.2.1"),
    ])
    .with_glue();
    let server = FakeDns::start(10, move |q, _| {
        let good = zone.answer(q);
        let evil = |f: &dyn Fn(&mut Message)| {
            let mut m = Message::response(q.metadata.id, OpCode::Query);
            m.add_query(q.queries[0].clone());
            m.add_answer(mx("example.org.", 0, "evil.example."));
            m.add_additional(a("evil.example.", "203.0.113.66"));
            f(&mut m);
            m.to_vec().unwrap()
        };
        vec![
            // Wrong id.
            evil(&|m| m.metadata.id = q.metadata.id.wrapping_add(1)),
            // Wrong question name, then wrong type.
            evil(&|m| m.queries[0].name = name("other.example.")),
            evil(&|m| m.queries[0].query_type = RecordType::TXT),
            // A query, not a response.
            evil(&|m| m.metadata.message_type = MessageType::Query),
            // Two questions.
            evil(&|m| m.queries.push(m.queries[0].clone())),
            // Garbage with another id; too short to carry any id.
            vec![
                (q.metadata.id ^ 0xffff).to_be_bytes()[0],
                0,
                0xff,
                0xff,
                0xff,
            ],
            vec![0x01],
            good.to_vec().unwrap(),
        ]
    });
    let hosts = resolve_mx("example.org", &server.cfg()).unwrap();
    assert_eq!(
        hosts,
        vec![MxHost {
            preference: 10,
            name: "good.example.org".into(),
            addrs: vec![v4("192.0.2.1")],
        }]
    );
}

#[test]
fn garbage_with_our_id_is_malformed() {
    let server = FakeDns::start(10, |q, _| {
        let mut bytes = q.metadata.id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0x81, 0x80, 0, 5, 0, 9]);
        vec![bytes]
    });
    let err = lookup_ip("example.org", &server.cfg()).unwrap_err();
    assert!(matches!(err, DnsError::Malformed(_)), "{err:?}");
    assert!(!err.is_permanent());
}

#[test]
fn truncated_answer_retried_over_tcp() {
    let zone = Zone::new(vec![
        mx("big.example.", 10, "mx1.big.example."),
        mx("big.example.", 20, "mx2.big.example."),
        a("mx1.big.example.", "192.0.2.1"),
        a("mx2.big.example.", "192.0.2.2"),
    ])
    .with_glue();
    let server = FakeDns::start(10, move |q, tcp| {
        let full = zone.answer(q);
        if tcp {
            vec![full.to_vec().unwrap()]
        } else {
            vec![full.truncate().to_vec().unwrap()]
        }
    });
    let hosts = resolve_mx("big.example", &server.cfg()).unwrap();
    let names: Vec<_> = hosts
        .iter()
        .map(|h| (h.name.as_str(), h.addrs.clone()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("mx1.big.example", vec![v4("192.0.2.1")]),
            ("mx2.big.example", vec![v4("192.0.2.2")]),
        ]
    );
    assert_eq!(
        server.log(),
        vec![
            ("big.example".into(), RecordType::MX, false),
            ("big.example".into(), RecordType::MX, true),
        ]
    );
}

#[test]
fn server_errors_and_failover() {
    let servfail = FakeDns::start(10, |q, _| {
        vec![
            Message::error_msg(q.metadata.id, OpCode::Query, ResponseCode::ServFail)
                .to_vec()
                .unwrap(),
        ]
    });
    let mut cfg = servfail.cfg();
    cfg.attempts = 2;
    let err = resolve_mx("example.org", &cfg).unwrap_err();
    assert!(
        matches!(&err, DnsError::Server(r) if r == "SERVFAIL"),
        "{err:?}"
    );
    assert!(!err.is_permanent());
    // Tried twice (attempts), the question-less error answer accepted.
    assert_eq!(servfail.log().len(), 2);

    // A silent server first, then a REFUSED one, then a good one.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let refused = FakeDns::start(10, |q, _| {
        let mut m = Message::error_msg(q.metadata.id, OpCode::Query, ResponseCode::Refused);
        m.add_query(q.queries[0].clone());
        vec![m.to_vec().unwrap()]
    });
    let good = FakeDns::zone(
        10,
        Zone::new(vec![
            mx("example.org.", 1, "mx.example.org."),
            a("mx.example.org.", "192.0.2.1"),
        ])
        .with_glue(),
    );
    let cfg = DnsConfig {
        nameservers: vec![silent.local_addr().unwrap(), refused.addr, good.addr],
        timeout: Duration::from_millis(300),
        attempts: 2,
    };
    let hosts = resolve_mx("example.org", &cfg).unwrap();
    assert_eq!(hosts[0].addrs, vec![v4("192.0.2.1")]);
    assert_eq!(refused.log().len(), 1);
}

#[test]
fn timeout_is_bounded_and_transient() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let cfg = DnsConfig {
        nameservers: vec![silent.local_addr().unwrap()],
        timeout: Duration::from_millis(200),
        attempts: 2,
    };
    let start = Instant::now();
    let err = resolve_mx("example.org", &cfg).unwrap_err();
    let elapsed = start.elapsed();
    assert!(matches!(err, DnsError::Timeout), "{err:?}");
    assert!(!err.is_permanent());
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");

    // A flood of unrelated datagrams cannot hold the client past its deadline either.
    let flood = FakeDns::start(10, |q, _| {
        let mut m = Message::response(q.metadata.id.wrapping_add(1), OpCode::Query);
        m.add_query(q.queries[0].clone());
        vec![m.to_vec().unwrap(); 200]
    });
    let mut cfg = flood.cfg();
    cfg.timeout = Duration::from_millis(300);
    let start = Instant::now();
    assert!(matches!(
        lookup_ip("example.org", &cfg),
        Err(DnsError::Timeout)
    ));
    assert!(start.elapsed() < Duration::from_secs(2));

    let empty = DnsConfig {
        nameservers: vec![],
        timeout: Duration::from_millis(100),
        attempts: 1,
    };
    assert!(matches!(
        lookup_ip("example.org", &empty),
        Err(DnsError::Io(_))
    ));
}

#[test]
fn idna_query_is_sent_in_ascii() {
    let server = FakeDns::zone(
        10,
        Zone::new(vec![a("xn--bcher-kva.example.", "192.0.2.44")]),
    );
    assert_eq!(
        resolve_mx("BÜCHER.example.", &server.cfg()).unwrap(),
        vec![MxHost {
            preference: 0,
            name: "xn--bcher-kva.example".into(),
            addrs: vec![v4("192.0.2.44")],
        }]
    );
    assert_eq!(
        server.log()[0],
        ("xn--bcher-kva.example".into(), RecordType::MX, false)
    );
}

#[test]
fn error_display_and_source() {
    use std::error::Error as _;
    let io = DnsError::from(io::Error::other("boom"));
    assert!(io.source().is_some());
    assert!(io.to_string().contains("boom"));
    assert!(DnsError::Timeout.source().is_none());
    assert_eq!(
        DnsError::NxDomain("x.example".into()).to_string(),
        "domain x.example does not exist (NXDOMAIN)"
    );
    assert!(
        DnsError::Server("SERVFAIL".into())
            .to_string()
            .contains("SERVFAIL")
    );
    assert!(!DnsError::Malformed("x".into()).is_permanent());
    assert_eq!(rcode_name(ResponseCode::Refused), "REFUSED");
    assert_eq!(
        rcode_name(<ResponseCode as From<u16>>::from(3841)),
        "RCODE3841"
    );
}
