//! Property tests (proptest, 256 cases each unless PROPTEST_CASES says otherwise) for the
//! parsers, codecs and the session state machine. The fuzz targets in `fuzz/` cover the same
//! ground with coverage guidance; these run in every `cargo test`.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::Config;

use smtpkit::Reply;
use smtpkit::address::{Mailbox, PathOptions};
use smtpkit::command::{Command, Param};
use smtpkit::data::{BareLinePolicy, DataDecoder, DataError, DataLimits, dot_stuff};
use smtpkit::dsn::decode_xtext;
use smtpkit::mime::addr::{self, Address, NamedMailbox};
use smtpkit::mime::{self, Body, Part};
use smtpkit::reply::{EnhancedCode, parse_reply_line};
use smtpkit::server::proxy::{self, ProxyHeader};
use smtpkit::server::{ConnInfo, Envelope, Greeting, Handler, Server};

fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Command parser

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?"
}

fn domain() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..4).prop_map(|l| l.join("."))
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    let local = prop_oneof![
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-z0-9_-]{1,8}){0,2}",
        // Quoted: spaces, dots in odd places, quotes and backslashes.
        "[a-z .\"\\\\@,]{1,12}",
    ];
    let domain = prop_oneof![
        4 => domain(),
        1 => (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| format!("[{a}.{b}.{c}.{d}]")),
    ];
    (local, domain).prop_map(|(local_part, domain)| Mailbox { local_part, domain })
}

fn params() -> impl Strategy<Value = Vec<Param>> {
    prop::collection::vec(
        ("[A-Z0-9][A-Z0-9-]{0,8}", prop::option::of("[!-<>-~]{1,10}"))
            .prop_map(|(keyword, value)| Param { keyword, value }),
        0..4,
    )
}

fn free_text() -> impl Strategy<Value = String> {
    // No leading or trailing blanks (the parser trims them), inner runs kept.
    "[a-zA-Z0-9<>@.]([a-zA-Z0-9<>@. \t]{0,20}[a-zA-Z0-9<>@.])?"
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        domain().prop_map(Command::Helo),
        domain().prop_map(Command::Ehlo),
        domain().prop_map(Command::Lhlo),
        (prop::option::of(mailbox()), params())
            .prop_map(|(from, params)| Command::Mail { from, params }),
        (mailbox(), params()).prop_map(|(to, params)| Command::Rcpt { to, params }),
        Just(Command::Data),
        (any::<u64>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat { size, last }),
        Just(Command::Rset),
        Just(Command::Noop),
        Just(Command::Quit),
        free_text().prop_map(Command::Vrfy),
        free_text().prop_map(Command::Expn),
        prop::option::of(free_text()).prop_map(Command::Help),
        Just(Command::StartTls),
        ("[A-Z0-9-]{1,10}", prop::option::of("[A-Za-z0-9+/=]{1,20}"))
            .prop_map(|(mechanism, initial)| Command::Auth { mechanism, initial }),
        ("X[A-Z]{1,8}", prop::option::of(free_text())).prop_map(|(verb, args)| Command::Unknown {
            verb,
            args: args.unwrap_or_default()
        }),
    ]
}

fn path_text(m: &Option<Mailbox>) -> String {
    m.as_ref().map(|m| m.to_string()).unwrap_or_default()
}

fn params_text(params: &[Param]) -> String {
    params
        .iter()
        .map(|p| match &p.value {
            Some(v) => format!(" {}={v}", p.keyword),
            None => format!(" {}", p.keyword),
        })
        .collect()
}

/// One way of writing a command; `case` varies the verb's case, `sep` the separators.
fn format_command(cmd: &Command, lower: bool, sep: &str) -> String {
    let verb = |v: &str| {
        if lower {
            v.to_ascii_lowercase()
        } else {
            v.to_owned()
        }
    };
    match cmd {
        Command::Helo(d) => format!("{}{sep}{d}", verb("HELO")),
        Command::Ehlo(d) => format!("{}{sep}{d}", verb("EHLO")),
        Command::Lhlo(d) => format!("{}{sep}{d}", verb("LHLO")),
        Command::Mail { from, params } => format!(
            "{}{sep}{}<{}>{}",
            verb("MAIL"),
            verb("FROM:"),
            path_text(from),
            params_text(params)
        ),
        Command::Rcpt { to, params } => format!(
            "{}{sep}{}<{to}>{}",
            verb("RCPT"),
            verb("TO:"),
            params_text(params)
        ),
        Command::Data => verb("DATA"),
        Command::Bdat { size, last } => {
            format!(
                "{}{sep}{size}{}",
                verb("BDAT"),
                if *last { " LAST" } else { "" }
            )
        }
        Command::Rset => verb("RSET"),
        Command::Noop => verb("NOOP"),
        Command::Quit => verb("QUIT"),
        Command::Vrfy(a) => format!("{}{sep}{a}", verb("VRFY")),
        Command::Expn(a) => format!("{}{sep}{a}", verb("EXPN")),
        Command::Help(None) => verb("HELP"),
        Command::Help(Some(a)) => format!("{}{sep}{a}", verb("HELP")),
        Command::StartTls => verb("STARTTLS"),
        Command::Auth { mechanism, initial } => match initial {
            Some(i) => format!("{}{sep}{mechanism} {i}", verb("AUTH")),
            None => format!("{}{sep}{mechanism}", verb("AUTH")),
        },
        Command::Unknown { verb: v, args } if args.is_empty() => verb(v),
        Command::Unknown { verb: v, args } => format!("{}{sep}{args}", verb(v)),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn command_parser_never_panics(line in prop::collection::vec(any::<u8>(), 0..300)) {
        for opts in [PathOptions::default(), PathOptions { strict_lengths: false, allow_unbracketed: false }] {
            if let Err(e) = Command::parse(&line, &opts) {
                let (code, _, _) = e.reply_parts();
                prop_assert!((500..600).contains(&code));
            }
        }
    }

    #[test]
    fn command_parser_never_panics_on_near_commands(
        verb in prop::sample::select(vec!["MAIL FROM:", "RCPT TO:", "BDAT ", "AUTH ", "EHLO ", "DATA ", "VRFY "]),
        rest in "[ -~\t\u{80}-\u{10ffff}]{0,80}",
    ) {
        let _ = Command::parse(format!("{verb}{rest}").as_bytes(), &PathOptions::default());
    }

    #[test]
    fn command_round_trip(cmd in command(), lower in any::<bool>(), sep in prop::sample::select(vec![" ", "\t", "  "]), crlf in any::<bool>()) {
        let mut line = format_command(&cmd, lower, sep);
        if crlf {
            line.push_str("\r\n");
        }
        let opts = PathOptions { strict_lengths: false, allow_unbracketed: true };
        let parsed = Command::parse(line.as_bytes(), &opts);
        prop_assert_eq!(parsed, Ok(cmd), "line {:?}", line);
    }
}

// ---------------------------------------------------------------------------------------------
// Replies

fn reply() -> impl Strategy<Value = Reply> {
    let enhanced = prop::option::of((0u16..1000, 0u16..1000));
    let lines = prop::collection::vec("[ -~]{0,30}", 1..5);
    // Enhanced codes exist for the classes 2, 4 and 5 only (RFC 3463).
    let code = prop_oneof![200u16..300, 300u16..400, 400u16..600];
    (code, enhanced, lines).prop_map(|(code, e, lines)| {
        let e = e.filter(|_| code / 100 != 3);
        let class = (code / 100) as u8;
        let text: Vec<String> = lines
            .into_iter()
            .map(|l| {
                // A line that itself starts like an enhanced code would be read as one.
                if e.is_none() && l.split(' ').next().and_then(EnhancedCode::parse).is_some() {
                    format!("x{l}")
                } else {
                    l
                }
            })
            .collect();
        Reply::new(
            code,
            e.map(|(s, d)| EnhancedCode::new(class, s, d)),
            text.join("\n"),
        )
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn reply_format_parse_round_trip(r in reply()) {
        let wire = r.to_bytes();
        let text = String::from_utf8(wire).unwrap();
        prop_assert!(text.ends_with("\r\n"));
        let lines: Vec<&str> = text.trim_end_matches("\r\n").split("\r\n").collect();
        for l in &lines {
            let (code, _, _) = parse_reply_line(l).unwrap();
            prop_assert_eq!(code, r.code);
        }
        let back = Reply::parse_lines(lines).unwrap();
        prop_assert_eq!(back, r);
    }

    #[test]
    fn reply_parser_never_panics(text in "[0-9 \\-a-z.\r\n]{0,80}") {
        for l in text.split('\n') {
            let _ = parse_reply_line(l);
        }
        let _ = Reply::parse_lines(text.split('\n'));
    }
}

// ---------------------------------------------------------------------------------------------
// DATA decoder

fn decode_in_chunks(
    limits: DataLimits,
    body: &[u8],
    cuts: &[usize],
) -> (Vec<u8>, usize, bool, Option<DataError>) {
    let mut d = DataDecoder::new(limits);
    let mut out = Vec::new();
    let mut used = 0;
    let mut start = 0;
    let mut ends: Vec<usize> = cuts.iter().map(|&c| c.min(body.len())).collect();
    ends.sort_unstable();
    ends.push(body.len());
    for end in ends {
        let end = end.max(start);
        let n = d.feed(&body[start..end], &mut out);
        used += n;
        if d.is_done() {
            break;
        }
        assert_eq!(n, end - start, "input left over before the end");
        start = end;
    }
    (out, used, d.is_done(), d.error())
}

/// Bytes rich in what matters to the decoder: CR, LF, dots.
fn body_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => Just(b'\r'),
            3 => Just(b'\n'),
            3 => Just(b'.'),
            2 => Just(b'a'),
            1 => any::<u8>(),
        ],
        0..max,
    )
}

fn policy() -> impl Strategy<Value = BareLinePolicy> {
    prop::sample::select(vec![
        BareLinePolicy::Reject,
        BareLinePolicy::Normalize,
        BareLinePolicy::Strip,
        BareLinePolicy::Allow,
    ])
}

fn normalise_crlf(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if body.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            _ => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn first_terminator_end(raw: &[u8]) -> Option<usize> {
    if raw.starts_with(b".\r\n") {
        return Some(3);
    }
    raw.windows(5)
        .position(|w| w == b"\r\n.\r\n")
        .map(|i| i + 5)
}

const SMUGGLE: [&[u8]; 5] = [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\n", b"\r.\r\n"];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn data_decoder_is_chunk_invariant(
        body in body_bytes(400),
        cuts in prop::collection::vec(0usize..400, 0..12),
        bare_line in policy(),
        max_size in prop::option::of(0u64..300),
        max_line in prop::option::of(1usize..40),
    ) {
        let limits = DataLimits { max_size, max_line, bare_line };
        let whole = decode_in_chunks(limits, &body, &[]);
        let split = decode_in_chunks(limits, &body, &cuts);
        let every: Vec<usize> = (1..body.len()).collect();
        let bytewise = decode_in_chunks(limits, &body, &every);
        prop_assert_eq!(&split, &whole);
        prop_assert_eq!(&bytewise, &whole);
        // Done exactly at the first real terminator, or never.
        match first_terminator_end(&body) {
            Some(end) => prop_assert_eq!((whole.1, whole.2), (end, true)),
            None => prop_assert_eq!((whole.1, whole.2), (body.len(), false)),
        }
    }

    #[test]
    fn stuff_then_unstuff_is_identity(body in body_bytes(600), policy in policy()) {
        let wire = dot_stuff(&body);
        let limits = DataLimits { max_size: None, max_line: None, bare_line: policy };
        let (out, used, done, error) = decode_in_chunks(limits, &wire, &[wire.len() / 3]);
        prop_assert!(done);
        prop_assert_eq!(used, wire.len());
        prop_assert_eq!(error, None);
        prop_assert_eq!(out, normalise_crlf(&body));
    }

    #[test]
    fn smuggled_terminators_never_end_data(
        pieces in prop::collection::vec(
            prop_oneof![
                3 => prop::sample::select(SMUGGLE.to_vec()).prop_map(<[u8]>::to_vec),
                2 => "[a-z .]{0,6}".prop_map(String::into_bytes),
                1 => Just(b"\r\n".to_vec()),
                1 => Just(b".".to_vec()),
            ],
            1..16,
        ),
        tail in "[a-z]{0,6}",
        bare_line in policy(),
        cuts in prop::collection::vec(0usize..200, 0..6),
    ) {
        let mut body: Vec<u8> = pieces.concat();
        prop_assume!(SMUGGLE.iter().any(|s| body.windows(s.len()).any(|w| w == *s)));
        // The real terminator: the first CRLF.CRLF once one is appended (it may be completed
        // by the bytes before it); the smuggling forms before it must not end the message.
        body.extend_from_slice(b"\r\n.\r\n");
        let real_end = first_terminator_end(&body).unwrap();
        body.extend_from_slice(b"MAIL FROM:<evil@example.com>\r\n");
        body.extend_from_slice(tail.as_bytes());
        let limits = DataLimits { max_size: None, max_line: None, bare_line };
        let (_, used, done, _) = decode_in_chunks(limits, &body, &cuts);
        prop_assert!(done);
        prop_assert_eq!(used, real_end, "ended at {} not at CRLF.CRLF ({})", used, real_end);
    }
}

// ---------------------------------------------------------------------------------------------
// PROXY protocol

fn v1(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let proto = if source.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {proto} {} {} {} {}\r\n",
        source.ip(),
        destination.ip(),
        source.port(),
        destination.port()
    )
    .into_bytes()
}

fn v2(source: SocketAddr, destination: SocketAddr, tlvs: &[u8]) -> Vec<u8> {
    let mut out = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    out.push(0x21); // version 2, PROXY
    let mut addrs = Vec::new();
    match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.push(0x11);
            addrs.extend_from_slice(&s.octets());
            addrs.extend_from_slice(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            out.push(0x21);
            addrs.extend_from_slice(&s.octets());
            addrs.extend_from_slice(&d.octets());
        }
        _ => unreachable!(),
    }
    addrs.extend_from_slice(&source.port().to_be_bytes());
    addrs.extend_from_slice(&destination.port().to_be_bytes());
    addrs.extend_from_slice(tlvs);
    out.extend_from_slice(&(addrs.len() as u16).to_be_bytes());
    out.extend_from_slice(&addrs);
    out
}

fn address_pair() -> impl Strategy<Value = (SocketAddr, SocketAddr)> {
    prop_oneof![
        (any::<u32>(), any::<u16>(), any::<u32>(), any::<u16>()).prop_map(|(a, p, b, q)| (
            SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), p),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::from(b)), q)
        )),
        (any::<u128>(), any::<u16>(), any::<u128>(), any::<u16>()).prop_map(|(a, p, b, q)| (
            SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), p),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::from(b)), q)
        )),
    ]
}

/// TLVs: type, 16-bit length, value.
fn tlvs() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (any::<u8>(), prop::collection::vec(any::<u8>(), 0..20)),
        0..3,
    )
    .prop_map(|t| {
        let mut out = Vec::new();
        for (kind, value) in t {
            out.push(kind);
            out.extend_from_slice(&(value.len() as u16).to_be_bytes());
            out.extend_from_slice(&value);
        }
        out
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn proxy_headers_give_back_the_addresses(
        (source, destination) in address_pair(),
        version2 in any::<bool>(),
        tlvs in tlvs(),
        after in "[A-Z \r\n]{0,10}",
    ) {
        let header = if version2 { v2(source, destination, &tlvs) } else { v1(source, destination) };
        let mut buf = header.clone();
        buf.extend_from_slice(after.as_bytes());
        let want = ProxyHeader::Tcp { source, destination };
        prop_assert_eq!(proxy::parse(&buf), Ok(Some((want, header.len()))));
        // Any prefix: read more.
        for k in 0..header.len() {
            prop_assert_eq!(proxy::parse(&header[..k]), Ok(None), "prefix {}", k);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// MIME trees

fn mime_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-zA-Z0-9 ,.;:!?=_-]{0,30}",
            Just("Grüße, café, 日本語, 😀".to_owned()),
            Just(".".to_owned()),
            Just("From here".to_owned()),
            "x{80,200}",
        ],
        0..6,
    )
    .prop_flat_map(|lines| {
        let n = lines.len();
        (
            Just(lines),
            prop::collection::vec(prop::sample::select(vec!["\r\n", "\n", "\r"]), n),
        )
    })
    .prop_map(|(lines, ends)| {
        lines
            .iter()
            .zip(ends)
            .map(|(l, e)| format!("{l}{e}"))
            .collect()
    })
}

fn header_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-zA-Z0-9]{1,12}",
            Just("Grüße".to_owned()),
            Just("日本語".to_owned()),
            Just("a=?b".to_owned())
        ],
        1..6,
    )
    .prop_map(|w| w.join(" "))
}

fn leaf() -> impl Strategy<Value = Part> {
    prop_oneof![
        (prop::sample::select(vec!["plain", "html"]), mime_text())
            .prop_map(|(s, t)| Part::text(s, t)),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| Part::bytes(
            "application",
            "octet-stream",
            b
        )),
    ]
}

fn tree() -> impl Strategy<Value = Part> {
    let with_disposition = |p: BoxedStrategy<Part>| {
        (
            p,
            prop::option::of(prop::option::of(prop::sample::select(vec![
                "a.txt",
                "Bericht für März.pdf",
                "x y \"z\".bin",
            ]))),
        )
            .prop_map(|(p, d)| match d {
                Some(name) => p.disposition("attachment", name),
                None => p,
            })
    };
    let inner = with_disposition(leaf().boxed()).prop_recursive(3, 12, 4, move |inner| {
        prop_oneof![
            (
                prop::sample::select(vec!["mixed", "alternative", "related"]),
                prop::collection::vec(inner.clone(), 0..4)
            )
                .prop_map(|(s, parts)| Part::multipart(s, parts)),
            (inner, header_text())
                .prop_map(|(p, subject)| Part::message(p.header("Subject", &subject))),
        ]
    });
    (inner, header_text(), prop::option::of(header_text())).prop_map(|(p, subject, x)| {
        let p = p
            .header("Subject", &subject)
            .header("From", "Jörg <jorg@example.com>");
        match x {
            Some(x) => p.header("X-Test", &x),
            None => p,
        }
    })
}

/// What survives a round trip: headers by name and value (without the MIME ones and those the
/// encoder adds), the multipart boundary dropped.
fn normalise(p: &Part, top: bool) -> Part {
    let mut p = p.clone();
    p.headers.retain(|h| {
        let n = h.name.to_ascii_lowercase();
        let mime = matches!(
            n.as_str(),
            "content-type" | "content-transfer-encoding" | "content-disposition"
        );
        let added = top && matches!(n.as_str(), "date" | "message-id" | "mime-version");
        !mime && !added
    });
    for h in &mut p.headers {
        h.raw.clear();
    }
    if p.content_type.mime_type == "multipart" {
        p.content_type.params.retain(|(n, _)| n != "boundary");
    }
    p.body = match &p.body {
        Body::Multipart(parts) => {
            Body::Multipart(parts.iter().map(|c| normalise(c, false)).collect())
        }
        Body::Message(inner) => Body::Message(Box::new(normalise(inner, false))),
        other => other.clone(),
    };
    p
}

fn assert_smtp_safe(data: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(!data.contains(&0), "NUL");
    for line in data.split(|&b| b == b'\n') {
        prop_assert!(line.len() <= 999, "line over 998 octets");
    }
    let mut prev = 0u8;
    for (i, &b) in data.iter().enumerate() {
        prop_assert!(b != b'\n' || prev == b'\r', "bare LF at {}", i);
        prop_assert!(prev != b'\r' || b == b'\n', "bare CR at {}", i);
        prev = b;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mime_decode_encode_round_trip(t in tree()) {
        let wire = mime::encode(&t);
        assert_smtp_safe(&wire)?;
        let back = mime::decode(&wire).unwrap();
        prop_assert_eq!(normalise(&back, true), normalise(&t, true));
    }

    #[test]
    fn mime_decode_never_panics(data in prop::collection::vec(
        prop_oneof![any::<u8>(), Just(b'\n'), Just(b'-'), Just(b':'), Just(b'=')], 0..400)) {
        let mut msg = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n".to_vec();
        msg.extend_from_slice(&data);
        if let Ok(p) = mime::decode(&msg) {
            assert_smtp_safe(&mime::encode(&p))?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Address lists and xtext

fn named_mailbox() -> impl Strategy<Value = NamedMailbox> {
    let name = prop::option::of(prop_oneof![
        "[A-Za-z]{1,8}( [A-Za-z.]{1,8}){0,2}",
        Just("Jörg Müller".to_owned()),
        Just("Smith, John".to_owned()),
        Just("\"Q\" (x) <y>".to_owned()),
        Just("李 小龙".to_owned()),
    ]);
    let local = prop_oneof![
        "[a-z0-9_+-]{1,8}(\\.[a-z0-9]{1,6}){0,2}",
        Just("\"john doe\"".to_owned())
    ];
    (name, local, domain())
        .prop_map(|(n, l, d)| NamedMailbox::new(n.as_deref(), &format!("{l}@{d}")))
}

fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        4 => named_mailbox().prop_map(Address::Mailbox),
        1 => ("[A-Z][a-z]{0,8}( [a-z]{1,6})?", prop::collection::vec(named_mailbox(), 0..3))
            .prop_map(|(name, members)| Address::Group { name, members }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn address_list_format_parse_round_trip(list in prop::collection::vec(address(), 1..5), utf8 in any::<bool>()) {
        let text = addr::format_list(&list, utf8);
        prop_assert_eq!(addr::parse_list(&text), list.clone(), "{}", text);
        prop_assert_eq!(addr::parse_list_strict(&text), Ok(list), "{}", text);
    }

    #[test]
    fn address_list_parser_reparses_its_output(s in "[a-z@<>\",;:().\\[\\] \\\\=?é]{0,40}") {
        let list = addr::parse_list(&s);
        if !list.is_empty() {
            let text = addr::format_list(&list, true);
            prop_assert_eq!(addr::parse_list(&text), list, "{:?} -> {:?}", s, text);
        }
    }

    #[test]
    fn xtext_decodes_what_was_encoded(s in "\\PC{0,30}") {
        let mut enc = String::new();
        for b in s.bytes() {
            if (33..=126).contains(&b) && b != b'+' && b != b'=' {
                enc.push(b as char);
            } else {
                enc.push_str(&format!("+{b:02X}"));
            }
        }
        prop_assert_eq!(decode_xtext(&enc), Some(s));
    }
}

// ---------------------------------------------------------------------------------------------
// Whole sessions over real sockets

#[derive(Default)]
struct Seen {
    connects: usize,
    closes: usize,
    messages: Vec<Vec<u8>>,
}

struct Sink(Arc<Mutex<Seen>>);

impl Handler for Sink {
    fn on_connect(&mut self, _c: &ConnInfo) -> Greeting {
        self.0.lock().unwrap().connects += 1;
        Greeting::Accept
    }
    fn on_data(&mut self, _env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        let body = smtpkit::server::collect(data).map_err(|_| Reply::TRANSACTION_FAILED)?;
        self.0.lock().unwrap().messages.push(body);
        Ok(Reply::QUEUED)
    }
    fn on_close(&mut self) {
        self.0.lock().unwrap().closes += 1;
    }
}

/// One step of a client script.
#[derive(Debug, Clone)]
enum Step {
    Helo,
    Mail,
    Rcpt,
    Data(Vec<u8>),
    Rset,
    Noop,
    Quit,
    /// A line the server answers with one error and no state change.
    Junk(&'static str),
}

#[derive(Clone, Copy, PartialEq)]
enum St {
    Fresh,
    Ready,
    Mail,
    Rcpt,
}

// A refused BDAT consumes its chunk (RFC 3030 §2), so the BDAT lines here carry none.
const JUNK: [&str; 10] = [
    "",
    "FOO bar",
    "MAIL FROM:<<<",
    "RCPT TO:<>",
    "BDAT 0",
    "BDAT x",
    "AUTH PLAIN",
    "STARTTLS",
    "VRFY",
    "HELO",
];

fn data_body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            Just(b"line\r\n".to_vec()),
            Just(b"..stuffed\r\n".to_vec()),
            prop::sample::select(SMUGGLE.to_vec()).prop_map(<[u8]>::to_vec),
            Just(b"MAIL FROM:<evil@example.com>\r\n".to_vec()),
            "[a-z .]{0,8}".prop_map(String::into_bytes),
        ],
        0..6,
    )
    .prop_map(|p| {
        // Whatever it holds, no CRLF.CRLF before the end, and it ends with CRLF.
        let mut b = p.concat();
        if !b.ends_with(b"\r\n") {
            b.extend_from_slice(b"\r\n");
        }
        let mut i = 0;
        while i + 3 <= b.len() {
            if &b[i..i + 3] == b".\r\n"
                && (i == 0 || b[..i].ends_with(b"\r\n") || b[..i].ends_with(b"\n"))
            {
                b.insert(i, b'.');
            }
            i += 1;
        }
        b
    })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Helo),
        3 => Just(Step::Mail),
        3 => Just(Step::Rcpt),
        3 => data_body().prop_map(Step::Data),
        1 => Just(Step::Rset),
        1 => Just(Step::Noop),
        1 => Just(Step::Quit),
        2 => prop::sample::select(JUNK.to_vec()).prop_map(Step::Junk),
    ]
}

/// Random steps, often grouped into whole transactions (MAIL, RCPT, DATA) so that messages
/// are delivered in most cases, and out-of-order or junk steps in between.
fn script_steps() -> impl Strategy<Value = Vec<Step>> {
    let group = prop_oneof![
        3 => step().prop_map(|s| vec![s]),
        2 => data_body().prop_map(|b| vec![Step::Mail, Step::Rcpt, Step::Data(b)]),
    ];
    (
        prop::bool::weighted(0.8),
        prop::collection::vec(group, 0..8),
    )
        .prop_map(|(hello, groups)| {
            let mut steps = if hello { vec![Step::Helo] } else { vec![] };
            steps.extend(groups.into_iter().flatten());
            steps
        })
}

/// The bytes of a script, and for each step the byte offset where its command line ends (a
/// reply is owed once the input reaches it) plus, for DATA in the right state, where the body
/// ends (the message and its reply are owed once the input reaches that).
struct Script {
    bytes: Vec<u8>,
    /// (offset after which the reply is owed, message body delivered with it)
    owed: Vec<(usize, Option<Vec<u8>>)>,
}

fn build(steps: &[Step], bare_lf: &[bool]) -> Script {
    let mut bytes = Vec::new();
    let mut owed = Vec::new();
    let mut st = St::Fresh;
    for (k, step) in steps.iter().enumerate() {
        let eol: &[u8] = if bare_lf.get(k) == Some(&true) {
            b"\n"
        } else {
            b"\r\n"
        };
        let line = |text: &str, bytes: &mut Vec<u8>| {
            bytes.extend_from_slice(text.as_bytes());
            bytes.extend_from_slice(eol);
            bytes.len()
        };
        match step {
            Step::Helo => {
                owed.push((line("EHLO client.example", &mut bytes), None));
                st = St::Ready;
            }
            Step::Mail => {
                owed.push((line("MAIL FROM:<a@example.com>", &mut bytes), None));
                if st == St::Ready {
                    st = St::Mail;
                }
            }
            Step::Rcpt => {
                owed.push((line("RCPT TO:<b@example.com>", &mut bytes), None));
                if matches!(st, St::Mail | St::Rcpt) {
                    st = St::Rcpt;
                }
            }
            Step::Data(body) => {
                let end = line("DATA", &mut bytes);
                if st == St::Rcpt {
                    // 354 now; the final reply and the message once the terminator is in.
                    owed.push((end, None));
                    bytes.extend_from_slice(body);
                    bytes.extend_from_slice(b".\r\n");
                    let mut decoder = DataDecoder::new(DataLimits {
                        max_size: None,
                        max_line: None,
                        bare_line: BareLinePolicy::Allow,
                    });
                    let mut message = Vec::new();
                    let mut raw = body.clone();
                    raw.extend_from_slice(b".\r\n");
                    assert_eq!(decoder.feed(&raw, &mut message), raw.len(), "{raw:?}");
                    assert!(decoder.is_done());
                    owed.push((bytes.len(), Some(message)));
                    st = St::Ready;
                } else {
                    owed.push((end, None));
                }
            }
            Step::Rset => {
                owed.push((line("RSET", &mut bytes), None));
                if st != St::Fresh {
                    st = St::Ready;
                }
            }
            Step::Noop => owed.push((line("NOOP", &mut bytes), None)),
            Step::Quit => {
                owed.push((line("QUIT", &mut bytes), None));
                break;
            }
            Step::Junk(text) => owed.push((line(text, &mut bytes), None)),
        }
    }
    Script { bytes, owed }
}

/// Reads replies to EOF; returns them, each as its lines (checked well-formed).
fn read_replies(s: &mut TcpStream) -> Result<Vec<Vec<String>>, TestCaseError> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => return Err(TestCaseError::fail(format!("reading replies: {e}"))),
        }
    }
    let text = String::from_utf8(raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(text.is_empty() || text.ends_with("\r\n"), "{:?}", text);
    let mut replies = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for line in text.split_terminator("\r\n") {
        prop_assert!(!line.contains(['\r', '\n']), "{:?}", line);
        let (code, more, _) =
            parse_reply_line(line).map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        if let Some(first) = current.first() {
            prop_assert_eq!(&first[..3], &code.to_string()[..], "{:?}", text);
        }
        current.push(line.to_owned());
        if !more {
            replies.push(std::mem::take(&mut current));
        }
    }
    prop_assert!(
        current.is_empty(),
        "unfinished multi-line reply in {:?}",
        text
    );
    Ok(replies)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sessions_answer_every_complete_line_once(
        steps in script_steps(),
        bare_lf in prop::collection::vec(prop::bool::weighted(0.2), 32),
        chunks in prop::collection::vec(1usize..64, 1..8),
        fin in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let seen: Arc<Mutex<Seen>> = Default::default();
        let s2 = Arc::clone(&seen);
        let handle = Server::builder()
            .hostname("prop.example")
            .bare_line_policy(BareLinePolicy::Allow)
            .max_errors(1000)
            .max_sessions(2)
            .bind("127.0.0.1:0")
            .unwrap()
            .spawn(move |_| Sink(Arc::clone(&s2)))
            .unwrap();
        let script = build(&steps, &bare_lf);
        let cut = fin.map_or(script.bytes.len(), |i| i.index(script.bytes.len() + 1));
        let sent = &script.bytes[..cut];

        let mut s = TcpStream::connect(handle.local_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut pos = 0;
        let mut k = 0;
        while pos < sent.len() {
            let n = chunks[k % chunks.len()].min(sent.len() - pos);
            if s.write_all(&sent[pos..pos + n]).is_err() {
                break;
            }
            pos += n;
            k += 1;
        }
        let _ = s.shutdown(Shutdown::Write);
        let replies = read_replies(&mut s)?;

        let owed: Vec<&(usize, Option<Vec<u8>>)> = script.owed.iter().filter(|(end, _)| *end <= cut).collect();
        let want_messages: Vec<Vec<u8>> = owed.iter().filter_map(|(_, m)| m.clone()).collect();
        prop_assert_eq!(replies.len(), owed.len() + 1, "replies {:?} for {:?}", replies, String::from_utf8_lossy(sent));
        prop_assert!(replies[0][0].starts_with("220 "), "{:?}", replies[0]);

        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            {
                let seen = seen.lock().unwrap();
                if seen.closes >= 1 || Instant::now() > deadline {
                    prop_assert_eq!(seen.connects, 1);
                    prop_assert_eq!(seen.closes, 1, "on_close once");
                    prop_assert_eq!(&seen.messages, &want_messages);
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        handle.shutdown(Duration::from_secs(1));
        // on_close is still exactly once after the shutdown.
        prop_assert_eq!(seen.lock().unwrap().closes, 1);
    }
}
