//! The `auth_check` example and `smtp_server --auth-check` as users run them, against a real
//! DNS server (dnsmasq on loopback, serving the DKIM key, SPF and DMARC records) and messages
//! signed by an independent signer (Python's dkimpy); the Authentication-Results header is
//! read back by an independent parser (Python's `authres`).
//!
//! Needs `dnsmasq`, `openssl`, `python3` with `dkimpy` and `authres`: skipped when missing,
//! a failure under `CI=true`.

mod common;
use common::Client;
use common::dnsmasq::Dnsmasq;
use common::tools::{TempDir, assert_exit, example, python_modules, rsa_key, run, tool};

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use smtpkit::auth_check::results::{self, AuthResults};
use smtpkit::auth_check::{
    DkimOutcome, DkimResult, DmarcOutcome, DmarcResult, Policy, SpfIdentity, SpfOutcome, SpfResult,
};

const T: Duration = Duration::from_secs(60);

/// A 2048-bit RSA key (PKCS#1 PEM for dkimpy) and its DKIM record.
fn dkim_key(dir: &TempDir) -> (PathBuf, String) {
    let key = rsa_key(dir, "k");
    (
        key.pkcs1,
        format!("v=DKIM1; k=rsa; p={}", STANDARD.encode(key.spki)),
    )
}

/// `message` signed by dkimpy for `domain` with selector `sel` (From, To, Subject signed).
fn dkimpy_sign(dir: &TempDir, key: &Path, domain: &str, message: &[u8]) -> Vec<u8> {
    let input = dir.write("unsigned.eml", message);
    let script = "import dkim, sys\n\
        msg = open(sys.argv[1], 'rb').read()\n\
        key = open(sys.argv[2], 'rb').read()\n\
        sig = dkim.sign(msg, b'sel', sys.argv[3].encode(), key,\n\
                        include_headers=[b'from', b'to', b'subject'])\n\
        sys.stdout.buffer.write(sig + msg)\n";
    let o = run(
        Command::new("python3")
            .args(["-c", script])
            .arg(&input)
            .arg(key)
            .arg(domain),
        None,
        T,
    );
    assert_exit(&o, 0, "dkimpy sign");
    o.stdout.into_bytes()
}

/// The first 8 characters of the signature (`b=`), RFC 6008's `header.b`.
fn header_b(signed: &[u8]) -> String {
    let text = String::from_utf8_lossy(signed);
    let sig_end = text.find("\r\n\r\n").expect("header section");
    let head = &text[..sig_end];
    let b = head
        .split(';')
        .map(|t| t.split_whitespace().collect::<String>())
        .find_map(|t| t.strip_prefix("b=").map(str::to_string))
        .expect("b= tag");
    b.chars().take(8).collect()
}

/// The zone, as dnsmasq flags. TXT strings longer than dnsmasq allows are split on commas
/// (one character-string each; DKIM and SPF read them concatenated).
fn zone(key_record: &str) -> Vec<String> {
    let chunks: Vec<String> = key_record
        .as_bytes()
        .chunks(200)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let key = chunks.join(",");
    vec![
        "--local=/example.org/".to_string(),
        "--local=/other.example/".to_string(),
        format!("--txt-record=sel._domainkey.example.org,{key}"),
        format!("--txt-record=sel._domainkey.other.example,{key}"),
        "--txt-record=example.org,v=spf1 ip4:192.0.2.1 ip4:127.0.0.1 -all".to_string(),
        "--txt-record=mail.example.org,v=spf1 a -all".to_string(),
        "--host-record=mail.example.org,192.0.2.1".to_string(),
        "--txt-record=other.example,v=spf1 ip4:198.51.100.7 -all".to_string(),
        "--txt-record=_dmarc.example.org,v=DMARC1; p=reject; rua=mailto:d@example.org".to_string(),
    ]
}

const MESSAGE: &[u8] = b"From: Alice <alice@example.org>\r\n\
To: bob@example.net\r\n\
Subject: authentic?\r\n\
Message-ID: <1@example.org>\r\n\
\r\n\
Hello Bob.\r\n";

/// Each result of a header as Python's authres reads it: `method=result ptype.prop=value...`.
fn authres_reading(header: &str) -> Vec<String> {
    let script = "import authres, sys\n\
        h = authres.AuthenticationResultsHeader.parse(sys.stdin.read())\n\
        print('authserv-id', h.authserv_id)\n\
        for r in h.results:\n\
        \x20   print(' '.join(['%s=%s' % (r.method, r.result)] + ['%s.%s=%s' % (p.type, p.name, p.value) for p in r.properties]))\n";
    let o = run(
        Command::new("python3").args(["-c", script]),
        Some(header.trim_end().as_bytes()),
        T,
    );
    assert_exit(&o, 0, "python authres");
    o.stdout.lines().map(str::to_string).collect()
}

/// Everything needed for the DNS-backed tests, or None (skipped).
struct Setup {
    dir: TempDir,
    dns: Dnsmasq,
    key: PathBuf,
}

fn setup(tag: &str) -> Option<Setup> {
    tool("dnsmasq")?;
    tool("openssl")?;
    if !python_modules(&["dkim", "authres"], "dkimpy authres") {
        return None;
    }
    let dir = TempDir::new(&format!("authcheck-{tag}"));
    let (key, record) = dkim_key(&dir);
    let dns = Dnsmasq::start(&zone(&record), "mail.example.org")?;
    Some(Setup { dir, dns, key })
}

/// The auth_check example's arguments for one SMTP session, as `mx.test` sees it.
fn session<'a>(dns: &'a str, helo: &'a str, ip: &'a str, mail_from: &'a str) -> [&'a str; 10] {
    [
        "--dns",
        dns,
        "--authserv-id",
        "mx.test",
        "--helo",
        helo,
        "--ip",
        ip,
        "--mail-from",
        mail_from,
    ]
}

fn auth_check(args: &[&str], file: &Path) -> (String, Vec<String>) {
    let o = run(
        Command::new(example("auth_check")).args(args).arg(file),
        None,
        T,
    );
    assert_exit(&o, 0, "auth_check");
    let (header, json): (Vec<&str>, Vec<&str>) =
        o.stdout.lines().partition(|l| !l.starts_with('{'));
    (
        header.join("\n") + "\n",
        json.into_iter().map(str::to_string).collect(),
    )
}

// Needs the DKIM verifier, SPF and the stub resolver behind examples/common/resolver.rs.
#[test]
fn example_checks_signed_and_forged_mail_against_dnsmasq() {
    let Some(s) = setup("example") else { return };
    let dns = s.dns.addr().to_string();
    let signed = dkimpy_sign(&s.dir, &s.key, "example.org", MESSAGE);
    let b = header_b(&signed);
    let good = s.dir.write("good.eml", &signed);

    // Signed by the From domain, sent from its SPF-authorized address.
    let args = session(&dns, "mail.example.org", "192.0.2.1", "bounce@example.org");
    let (header, json) = auth_check(&args, &good);
    assert!(
        header.starts_with("Authentication-Results: mx.test;\n"),
        "{header}"
    );
    assert_eq!(
        authres_reading(&header),
        [
            "authserv-id mx.test".to_string(),
            format!(
                "dkim=pass header.d=example.org header.i=@example.org header.s=sel header.a=rsa-sha256 header.b={b}"
            ),
            "spf=pass smtp.mailfrom=bounce@example.org".to_string(),
            "spf=pass smtp.helo=mail.example.org".to_string(),
            "dmarc=pass header.from=example.org".to_string(),
        ],
        "{header}"
    );
    assert!(
        header.contains("dmarc=pass (p=reject dis=none) header.from=example.org"),
        "{header}"
    );
    assert_eq!(json.len(), 4, "{json:?}");
    assert!(json[0].starts_with(&format!(
        "{{\"method\":\"dkim\",\"result\":\"pass\",\"domain\":\"example.org\",\"selector\":\"sel\",\"identity\":\"@example.org\",\"algorithm\":\"rsa-sha256\",\"header_b\":\"{b}\""
    )), "{json:?}");
    assert!(json[1].starts_with("{\"method\":\"spf\",\"result\":\"pass\",\"identity\":\"mailfrom\",\"subject\":\"bounce@example.org\",\"domain\":\"example.org\""), "{json:?}");
    assert!(json[2].starts_with("{\"method\":\"spf\",\"result\":\"pass\",\"identity\":\"helo\",\"subject\":\"mail.example.org\",\"domain\":\"mail.example.org\""), "{json:?}");
    assert_eq!(
        json[3],
        "{\"method\":\"dmarc\",\"result\":\"pass\",\"from_domain\":\"example.org\",\"policy\":\"reject\",\"disposition\":\"none\",\"reason\":null}"
    );
    // The same file saved with LF line endings reads the same.
    let lf = String::from_utf8_lossy(&signed).replace("\r\n", "\n");
    let lf = s.dir.write("good-lf.eml", lf.as_bytes());
    assert_eq!(auth_check(&args, &lf), (header.clone(), json.clone()));

    // The body changed on the way, and sent from elsewhere: everything fails.
    let forged = String::from_utf8_lossy(&signed).replace("Hello Bob.", "Pay Mallory.");
    let bad = s.dir.write("bad.eml", forged.as_bytes());
    let args = session(
        &dns,
        "mail.example.org",
        "203.0.113.9",
        "bounce@example.org",
    );
    let (header, json) = auth_check(&args, &bad);
    assert_eq!(
        authres_reading(&header),
        [
            "authserv-id mx.test".to_string(),
            format!(
                "dkim=fail header.d=example.org header.i=@example.org header.s=sel header.a=rsa-sha256 header.b={b}"
            ),
            "spf=fail smtp.mailfrom=bounce@example.org".to_string(),
            "spf=fail smtp.helo=mail.example.org".to_string(),
            "dmarc=fail header.from=example.org".to_string(),
        ],
        "{header}"
    );
    assert!(header.contains("(p=reject dis=reject)"), "{header}");
    assert!(json[3].starts_with("{\"method\":\"dmarc\",\"result\":\"fail\",\"from_domain\":\"example.org\",\"policy\":\"reject\",\"disposition\":\"reject\",\"reason\":"), "{json:?}");

    // Signed and sent by another domain: both pass, neither is aligned with the From domain.
    let third = dkimpy_sign(&s.dir, &s.key, "other.example", MESSAGE);
    let tb = header_b(&third);
    let path = s.dir.write("third.eml", &third);
    let args = session(
        &dns,
        "out.other.example",
        "198.51.100.7",
        "list@other.example",
    );
    let (header, _) = auth_check(&args, &path);
    let reading = authres_reading(&header);
    assert_eq!(
        reading[1],
        format!(
            "dkim=pass header.d=other.example header.i=@other.example header.s=sel header.a=rsa-sha256 header.b={tb}"
        )
    );
    assert_eq!(reading[2], "spf=pass smtp.mailfrom=list@other.example");
    assert_eq!(
        reading.last().unwrap(),
        "dmarc=fail header.from=example.org"
    );
    assert!(header.contains("(p=reject dis=reject)"), "{header}");
}

/// A running `smtp_server`, killed on drop.
struct Catcher {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Catcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn catcher(maildir: &Path, args: &[&str]) -> Catcher {
    let mut child = Command::new(example("smtp_server"))
        .args(["--listen", "127.0.0.1:0", "--maildir"])
        .arg(maildir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start smtp_server");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("smtp_server listening on ").nth(1) {
                let _ = tx.send(rest.split([',', ' ']).next().unwrap_or("").to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("no 'listening on' line from smtp_server");
    Catcher {
        child,
        addr: addr.parse().expect("listening address"),
    }
}

/// The one file in `new/`, waiting (bounded) for it.
fn stored(maildir: &Path) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let files: Vec<PathBuf> = fs::read_dir(maildir.join("new"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        if let [one] = files.as_slice() {
            return fs::read(one).expect("read stored message");
        }
        assert!(
            Instant::now() < deadline,
            "no single message in new/: {files:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `message` (no line starts with a dot) over SMTP.
fn send(addr: SocketAddr, from: &str, message: &[u8]) {
    let mut c = Client::greeted(addr);
    c.cmd("EHLO mail.example.org", "250 ");
    c.cmd(&format!("MAIL FROM:<{from}>"), "250 ");
    c.cmd("RCPT TO:<bob@example.net>", "250 ");
    c.cmd("DATA", "354 ");
    c.send_raw(message);
    c.send(".\r\n");
    c.expect("250 ");
    c.cmd("QUIT", "221 ");
}

#[test]
fn catcher_stores_messages_with_the_header() {
    let Some(s) = setup("catcher") else { return };
    let signed = dkimpy_sign(&s.dir, &s.key, "example.org", MESSAGE);
    // A forged header with our authserv-id arrives with the message: it must go.
    let mut incoming =
        b"Authentication-Results: mx.test; dkim=pass header.d=example.org\r\n".to_vec();
    incoming.extend_from_slice(&signed);
    let maildir = s.dir.path("maildir");
    let dns = s.dns.addr().to_string();
    let server = catcher(
        &maildir,
        &["--auth-check", "--dns", &dns, "--hostname", "mx.test"],
    );
    send(server.addr, "bounce@example.org", &incoming);
    let file = stored(&maildir);
    let prefix = b"Return-Path: <bounce@example.org>\r\nX-Original-To: <bob@example.net>\r\n";
    assert!(
        file.starts_with(prefix),
        "{}",
        String::from_utf8_lossy(&file)
    );
    let rest = &file[prefix.len()..];
    let header_len = rest
        .windows(3)
        .position(|w| w.starts_with(b"\r\n") && !matches!(w[2], b' ' | b'\t'))
        .map(|i| i + 2)
        .expect("end of the header");
    let header = String::from_utf8_lossy(&rest[..header_len]).into_owned();
    assert!(
        header.starts_with("Authentication-Results: mx.test;\r\n"),
        "{header}"
    );
    // Then the message as received, minus the forged field.
    assert_eq!(&rest[header_len..], &signed[..]);
    // The same results as the auth_check example gives for the same session.
    let path = s.dir.write("signed.eml", &signed);
    let args = session(&dns, "mail.example.org", "127.0.0.1", "bounce@example.org");
    let (expected, _) = auth_check(&args, &path);
    assert_eq!(header.replace("\r\n", "\n"), expected);
    let value = header["Authentication-Results:".len()..].replace("\r\n", "");
    let parsed = results::parse(&value).expect("our parser reads it");
    let got: Vec<(String, String)> = parsed
        .results
        .iter()
        .map(|r| (r.method.clone(), r.result.clone()))
        .collect();
    // Needs the DKIM verifier, SPF and the stub resolver (see the example test).
    let want = [
        ("dkim", "pass"),
        ("spf", "pass"),
        ("spf", "fail"),
        ("dmarc", "pass"),
    ];
    assert_eq!(
        got,
        want.map(|(m, r)| (m.to_string(), r.to_string())),
        "{header}"
    );
}

#[test]
fn example_command_line() {
    let help = run(Command::new(example("auth_check")).arg("--help"), None, T);
    assert_exit(&help, 0, "--help");
    for flag in [
        "--ip IP",
        "--helo NAME",
        "--mail-from ADDR",
        "--dns ADDR:PORT",
        "--authserv-id ID",
    ] {
        assert!(
            help.stdout.contains(&format!("  {flag} ")),
            "{flag}: {}",
            help.stdout
        );
    }
    let v = run(
        Command::new(example("auth_check")).arg("--version"),
        None,
        T,
    );
    assert_exit(&v, 0, "--version");
    assert_eq!(
        v.stdout,
        format!("auth_check {}\n", env!("CARGO_PKG_VERSION"))
    );
    let file = "/nonexistent/message.eml";
    for (args, complaint) in [
        (
            &["--ip", "x", "--helo", "h", "--mail-from", "a@b", "f"][..],
            "auth_check: bad --ip \"x\"",
        ),
        (
            &["--helo", "h", "--mail-from", "a@b", "f"][..],
            "auth_check: missing --ip",
        ),
        (
            &["--ip", "192.0.2.1", "--mail-from", "a@b", "f"][..],
            "auth_check: missing --helo",
        ),
        (
            &["--ip", "192.0.2.1", "--helo", "h", "f"][..],
            "auth_check: missing --mail-from",
        ),
        (
            &["--ip", "192.0.2.1", "--helo", "h", "--mail-from", "a@b"][..],
            "auth_check: missing FILE",
        ),
        (
            &[
                "--ip",
                "192.0.2.1",
                "--helo",
                "h",
                "--mail-from",
                "a@b",
                "--dns",
                "nowhere",
                "f",
            ][..],
            "auth_check: bad --dns \"nowhere\"",
        ),
        (&["--bogus"][..], "auth_check: invalid option '--bogus'"),
        (
            &[
                "--ip",
                "192.0.2.1",
                "--helo",
                "h",
                "--mail-from",
                "a@b",
                file,
            ][..],
            "auth_check: cannot read /nonexistent/message.eml",
        ),
    ] {
        let o = run(Command::new(example("auth_check")).args(args), None, T);
        assert_exit(&o, 2, &format!("{args:?}"));
        assert!(o.stderr.starts_with(complaint), "{args:?}: {}", o.stderr);
        assert!(o.stdout.is_empty());
    }
    // The catcher's --dns goes with --auth-check only.
    let o = run(
        Command::new(example("smtp_server")).args(["--dns", "127.0.0.1:53"]),
        None,
        T,
    );
    assert_exit(&o, 2, "smtp_server --dns without --auth-check");
    assert!(
        o.stderr
            .starts_with("smtp_server: --dns needs --auth-check"),
        "{}",
        o.stderr
    );
}

/// Headers with awkward values (quotes, parentheses, slashes, non-token ids) as Python's
/// authres reads them: the header syntax against an independent parser.
#[test]
fn header_syntax_agrees_with_python_authres() {
    if !python_modules(&["authres"], "authres") {
        return;
    }
    let dkim = |result, d: &str, b: &str, reason: Option<&str>| DkimOutcome {
        result,
        domain: d.to_string(),
        selector: "s-1".to_string(),
        identity: Some("user@sub.example.org".to_string()),
        algorithm: "ed25519-sha256".to_string(),
        header_b: b.to_string(),
        reason: reason.map(str::to_string),
    };
    let ar = AuthResults {
        authserv_id: "mx.example.net".to_string(),
        dkim: vec![
            dkim(DkimResult::Pass, "example.org", "Ab/+9x=z", None),
            dkim(
                DkimResult::Fail,
                "example.org",
                "ZZZZZZZZ",
                Some("body hash (bh=) did not verify \\ \"really\""),
            ),
            dkim(DkimResult::PermError, "", "", Some("no key")),
        ],
        spf: vec![
            SpfOutcome {
                result: SpfResult::SoftFail,
                identity: SpfIdentity::MailFrom,
                subject: "\"odd local\"@example.org".to_string(),
                domain: "example.org".to_string(),
                explanation: None,
                reason: Some("192.0.2.1 is not (quite) authorized".to_string()),
            },
            SpfOutcome {
                result: SpfResult::None,
                identity: SpfIdentity::Helo,
                subject: "[192.0.2.1]".to_string(),
                domain: String::new(),
                explanation: None,
                reason: None,
            },
        ],
        dmarc: Some(DmarcOutcome {
            result: DmarcResult::Fail,
            from_domain: "example.org".to_string(),
            policy: Some(Policy::Quarantine),
            disposition: Policy::None,
            reason: Some("no DKIM pass, SPF softfail with example.org".to_string()),
        }),
    };
    assert_eq!(
        authres_reading(&ar.header()),
        [
            "authserv-id mx.example.net",
            "dkim=pass header.d=example.org header.i=user@sub.example.org header.s=s-1 header.a=ed25519-sha256 header.b=Ab/+9x=z",
            "dkim=fail header.d=example.org header.i=user@sub.example.org header.s=s-1 header.a=ed25519-sha256 header.b=ZZZZZZZZ",
            "dkim=permerror header.i=user@sub.example.org header.s=s-1 header.a=ed25519-sha256",
            "spf=softfail smtp.mailfrom=\"odd local\"@example.org",
            "spf=none smtp.helo=[192.0.2.1]",
            "dmarc=fail header.from=example.org",
        ]
    );
    assert_eq!(
        authres_reading(&AuthResults::new("mx.example.net").header()),
        ["authserv-id mx.example.net"]
    );
}
