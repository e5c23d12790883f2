//! The DNS layer of inbound authentication and DKIM verification, against real peers:
//!
//! - `smtpkit::dns::{StubResolver, CachingResolver}` against dnsmasq (Debian package
//!   `dnsmasq-base`) started on a free loopback port, answering only from its command line:
//!   TXT strings concatenated, a TXT record too long for UDP (TCP fallback), NXDOMAIN vs
//!   NODATA, A/AAAA/MX/PTR, the cache answering after dnsmasq is gone, timeouts not cached.
//! - `smtpkit::auth_check::dkim::DkimVerifier` against dkimpy (Python `dkim`) as the oracle,
//!   over a generated corpus signed by dkimpy and by `smtpkit::dkim::Signer` (RSA 1024, 2048
//!   and 4096 bits, Ed25519, rsa-sha1, every canonicalisation, `l=`, several signatures,
//!   folded headers, tampered copies, expired `x=`, future `t=`, revoked and missing keys,
//!   `t=s`, `t=y`, `h=` without From). The keys are published by dnsmasq; dkimpy reads them
//!   through dnspython from the same dnsmasq, smtpkit through its `StubResolver`.
//!
//! Needs dnsmasq, python3 with `dkimpy`, `pynacl`, `dnspython` and `cryptography` (key
//! generation). Missing ones skip the tests, or fail them under `CI=true`.
//!
//! Deliberate differences from dkimpy (checked, not tolerated blindly):
//! - rsa-sha1 and `l=` with unsigned content after it: dkimpy passes; smtpkit verifies and
//!   reports `policy` (its defaults; `VerifyOptions::allow_sha1`/`allow_partial_body` make
//!   them passes).
//! - A key record with `t=s` while `i=` is a subdomain of `d=`, and a key record whose `h=`
//!   does not list the signature's hash: dkimpy ignores both tags and passes; smtpkit gives
//!   permerror as RFC 6376 §3.6.1 requires.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::dnsmasq::Dnsmasq;
use common::tools::{TempDir, assert_exit, python_modules, run, tool};
use smtpkit::auth_check::dkim::{DkimVerifier, VerifyOptions};
use smtpkit::auth_check::{DkimOutcome, DkimResult};
use smtpkit::dkim::{Canonicalization, Signer, SigningKey};
use smtpkit::dns::{CachingResolver, DnsConfig, DnsError, Resolver, StubResolver};

/// 2000 characters: more than a 255-octet string and than a 512-octet UDP answer.
fn long_text() -> String {
    (0..2000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect()
}

/// dnsmasq's TTL for its own records (its default is 0: never cached).
const LOCAL_TTL: &str = "--local-ttl=300";

fn dns_zone() -> Vec<String> {
    vec![
        LOCAL_TTL.into(),
        "--local=/test.example/".into(),
        "--host-record=host.test.example,127.0.0.9,2001:db8::9".into(),
        "--txt-record=multi.test.example,v=spf1 ,include:a.test.example ,-all".into(),
        "--txt-record=two.test.example,first".into(),
        "--txt-record=two.test.example,second".into(),
        format!("--txt-record=long.test.example,{}", long_text()),
        "--mx-host=test.example,mx.test.example,10".into(),
        "--cname=alias.test.example,multi.test.example".into(),
        "--ptr-record=9.0.0.127.in-addr.arpa,host.test.example".into(),
    ]
}

#[test]
fn stub_resolver_against_dnsmasq() {
    let Some(server) = Dnsmasq::start(&dns_zone(), "host.test.example") else {
        return;
    };
    let dns = StubResolver::new(server.config());
    // One record of three strings: concatenated.
    assert_eq!(
        dns.txt("multi.test.example").unwrap(),
        ["v=spf1 include:a.test.example -all"]
    );
    // Two records; order as served.
    let mut two = dns.txt("two.test.example").unwrap();
    two.sort();
    assert_eq!(two, ["first", "second"]);
    // dnsmasq splits the long text into 255-octet strings, and the answer is over 512 octets:
    // truncated over UDP, asked again over TCP.
    assert_eq!(dns.txt("long.test.example").unwrap(), [long_text()]);
    // Through a CNAME.
    assert_eq!(
        dns.txt("ALIAS.test.example.").unwrap(),
        ["v=spf1 include:a.test.example -all"]
    );
    // NODATA (the name exists, no TXT) vs NXDOMAIN.
    assert_eq!(dns.txt("host.test.example").unwrap(), Vec::<String>::new());
    assert!(matches!(
        dns.txt("nothing.test.example"),
        Err(DnsError::NxDomain(n)) if n == "nothing.test.example"
    ));
    assert_eq!(
        dns.a("host.test.example").unwrap(),
        ["127.0.0.9".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    assert_eq!(
        dns.aaaa("host.test.example").unwrap(),
        ["2001:db8::9".parse::<std::net::Ipv6Addr>().unwrap()]
    );
    assert_eq!(
        dns.mx("test.example").unwrap(),
        [(10, "mx.test.example".to_string())]
    );
    assert_eq!(
        dns.ptr("127.0.0.9".parse::<IpAddr>().unwrap()).unwrap(),
        ["host.test.example"]
    );
    assert!(matches!(
        dns.a("bad name.test.example"),
        Err(DnsError::InvalidName(_))
    ));
}

#[test]
fn cache_answers_after_the_server_is_gone() {
    let Some(mut server) = Dnsmasq::start(&dns_zone(), "host.test.example") else {
        return;
    };
    let cfg = DnsConfig {
        timeout: Duration::from_millis(300),
        attempts: 1,
        ..server.config()
    };
    let dns = CachingResolver::new(StubResolver::new(cfg));
    assert_eq!(dns.txt("long.test.example").unwrap(), [long_text()]);
    assert!(dns.txt("host.test.example").unwrap().is_empty());
    assert!(matches!(
        dns.txt("nothing.test.example"),
        Err(DnsError::NxDomain(_))
    ));
    assert_eq!(dns.mx("test.example").unwrap().len(), 1);
    assert_eq!(dns.len(), 4);
    server.stop();
    // From the cache: records, NODATA and NXDOMAIN.
    assert_eq!(dns.txt("LONG.test.example.").unwrap(), [long_text()]);
    assert!(dns.txt("host.test.example").unwrap().is_empty());
    assert!(matches!(
        dns.txt("nothing.test.example"),
        Err(DnsError::NxDomain(_))
    ));
    assert_eq!(dns.mx("test.example").unwrap().len(), 1);
    // Not cached: the server is asked, and is gone.
    let err = dns.txt("multi.test.example").unwrap_err();
    assert!(!err.is_permanent(), "{err}");
    assert_eq!(dns.len(), 4);
}

#[test]
fn timeouts_are_not_cached() {
    // A "server" that reads the queries and never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let dns = CachingResolver::new(StubResolver::new(DnsConfig {
        nameservers: vec![silent.local_addr().expect("addr")],
        timeout: Duration::from_millis(200),
        attempts: 1,
    }));
    let mut buf = [0u8; 512];
    for _ in 0..2 {
        assert!(matches!(
            dns.txt("sel._domainkey.example.com"),
            Err(DnsError::Timeout)
        ));
        // Each lookup reached the network.
        silent.recv(&mut buf).expect("a query");
    }
    assert!(dns.is_empty());
}

// ---------------------------------------------------------------------------------------
// DKIM against dkimpy.

/// prepare DIR: keys, records.json, base/*.eml.
/// build DIR NOW: corpus/*.eml from base/ (signed by dkimpy) and rust/ (signed by smtpkit),
///   with tampered copies.
/// verify DIR PORT: every signature of every corpus/*.eml with dkimpy, keys read from
///   dnsmasq through dnspython: "NAME TAB IDX TAB PASS|FAIL TAB reason".
const CORPUS_PY: &str = r#"
import base64, json, logging, os, random, re, sys, time
cmd, d = sys.argv[1], sys.argv[2]
os.makedirs(d, exist_ok=True)
DOMAIN = b"example.com"

def read(p):
    with open(p, "rb") as f:
        return f.read()

def write(p, data):
    with open(p, "wb") as f:
        f.write(data)

if cmd == "prepare":
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import rsa, ed25519
    os.makedirs(os.path.join(d, "keys"), exist_ok=True)
    os.makedirs(os.path.join(d, "base"), exist_ok=True)
    records = {}
    def spki(pub):
        return base64.b64encode(pub.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)).decode()
    for bits in (1024, 2048, 4096):
        k = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        write(os.path.join(d, "keys", "r%d.pem" % bits), k.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption()))
        records["r%d" % bits] = "v=DKIM1; k=rsa; p=" + spki(k.public_key())
        if bits == 2048:
            records["strict"] = "v=DKIM1; k=rsa; t=s; p=" + spki(k.public_key())
            records["onlysha1"] = "v=DKIM1; k=rsa; h=sha1; p=" + spki(k.public_key())
            records["revoked"] = "v=DKIM1; k=rsa; p="
    e = ed25519.Ed25519PrivateKey.generate()
    write(os.path.join(d, "keys", "ed.pem"), e.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()))
    seed = e.private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption())
    write(os.path.join(d, "keys", "ed.seed"), base64.b64encode(seed))
    raw = base64.b64encode(e.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)).decode()
    records["ed"] = "v=DKIM1; k=ed25519; p=" + raw
    records["testing"] = "v=DKIM1; k=ed25519; t=y; p=" + raw
    with open(os.path.join(d, "records.json"), "w") as f:
        json.dump(records, f)
    rnd = random.Random(17)
    words = ["alpha", "beta", "gamma", "delta", "réunion", "naïve", "x" * 70, "tab\there", "  two  spaces"]
    for i in range(int(sys.argv[3])):
        h = []
        if i % 3 == 0:
            h.append("Received: from relay%d.example.net (relay [192.0.2.%d])\r\n\tby mx.example.org; Mon, 1 Jan 2024 00:00:00 +0000" % (i, i % 250))
        h.append("From: \"Sender %d\" <user%d@example.com>" % (i, i))
        if i % 4 == 1:
            h.append("To: one@example.org,\r\n  two@example.org,\r\n\tthree@example.org")
        else:
            h.append("To: rcpt%d@example.org" % i)
        subj = " ".join(rnd.choice(words) for _ in range(1 + i % 12))
        if i % 5 == 2:
            subj = subj + "\r\n continued   on a second line\t"
        h.append(("SUBJECT" if i % 7 == 3 else "Subject") + ": " + subj)
        h.append("Date: Mon, %d Jan 2024 10:00:00 +0000" % (1 + i % 28))
        h.append("Message-ID: <%d.corpus@example.com>" % i)
        if i % 2:
            h.append("MIME-Version: 1.0")
            h.append("Content-Type: text/plain; charset=utf-8")
        if i % 6 == 5:
            h.append("X-Mixed-Case:   value   with    spaces   ")
        lines = []
        kind = i % 8
        if kind == 0:
            lines = []
        elif kind == 1:
            lines = ["Hello.", "", "Bye."]
        elif kind == 2:
            lines = ["trailing space   ", "\ttab start", "mid  \t  dle", "", "", ""]
        elif kind == 3:
            lines = ["y" * 998, "short"]
        elif kind == 4:
            lines = ["  ", "\t", "", "text after blank-ish lines", " \t "]
        else:
            lines = [" ".join(rnd.choice(words) for _ in range(rnd.randint(0, 15))) for _ in range(rnd.randint(1, 40))]
        body = "".join(l + "\r\n" for l in lines)
        msg = "\r\n".join(h) + "\r\n\r\n" + body
        write(os.path.join(d, "base", "b%03d.eml" % i), msg.encode("utf-8"))

elif cmd == "build":
    import dkim
    now = int(sys.argv[3])
    keys = {n: read(os.path.join(d, "keys", n + ".pem")) for n in ("r1024", "r2048", "r4096")}
    edseed = read(os.path.join(d, "keys", "ed.seed"))
    out = os.path.join(d, "corpus")
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(42)
    CANONS = [(b"simple", b"simple"), (b"simple", b"relaxed"), (b"relaxed", b"simple"), (b"relaxed", b"relaxed")]
    def sign(msg, sel, key, canon, alg=None, length=False, identity=None):
        k = edseed if key == "ed" else keys[key]
        if alg is None:
            alg = b"ed25519-sha256" if key == "ed" else b"rsa-sha256"
        sig = dkim.DKIM(msg).sign(sel.encode(), DOMAIN, k, signature_algorithm=alg,
                                  canonicalize=canon, length=length, identity=identity)
        return sig + msg
    signed = {}
    bases = sorted(os.listdir(os.path.join(d, "base")))
    for n, name in enumerate(bases):
        msg = read(os.path.join(d, "base", name))
        stem = name[:-4]
        for key in ("r1024", "r2048", "ed"):
            for c in CANONS:
                signed["%s_py_%s_%s%s" % (stem, key, c[0][:1].decode(), c[1][:1].decode())] = sign(msg, key, key, c)
        c = CANONS[n % 4]
        if n % 6 == 0:
            signed[stem + "_py_r4096"] = sign(msg, "r4096", "r4096", c)
        if n % 4 == 1:
            signed[stem + "_py_sha1"] = sign(msg, "r2048", "r2048", c, alg=b"rsa-sha1")
        if n % 3 == 0:
            m = sign(msg, "r2048", "r2048", c, length=True)
            signed[stem + "_py_len"] = m
            signed[stem + "_py_len_appended"] = m + b"-- \r\nappended footer\r\n"
        if n % 5 == 0:
            signed[stem + "_py_strict_sub"] = sign(msg, "strict", "r2048", c, identity=b"user@sub.example.com")
            signed[stem + "_py_strict_same"] = sign(msg, "strict", "r2048", c, identity=b"user@example.com")
            signed[stem + "_py_testing"] = sign(msg, "testing", "ed", c)
            signed[stem + "_py_onlysha1"] = sign(msg, "onlysha1", "r2048", c)
            signed[stem + "_py_revoked"] = sign(msg, "revoked", "r2048", c)
            signed[stem + "_py_nokey"] = sign(msg, "missing", "r2048", c)
        if n % 4 == 2:
            signed[stem + "_py_double"] = sign(sign(msg, "ed", "ed", c), "r2048", "r2048", CANONS[(n + 1) % 4])
    rust = os.path.join(d, "rust")
    for name in sorted(os.listdir(rust)):
        msg = read(os.path.join(rust, name))
        signed[name[:-4]] = msg
        if name.endswith("_rr.eml") and "_rs_ed_" in name:
            # A dkimpy signature on top of smtpkit's.
            signed[name[:-4] + "_plus_py"] = sign(msg, "ed", "ed", CANONS[3])
    def mutate(kind, m):
        head, sep, body = m.partition(b"\r\n\r\n")
        if kind == "body_word":
            words = re.findall(rb"[a-z]{4,}", body)
            if not words:
                return None
            w = rnd.choice(words)
            return head + sep + body.replace(w, w.upper(), 1)
        if kind == "body_ws":
            if b"\r\n" not in body:
                return None
            return head + sep + body.replace(b"\r\n", b"  \r\n", 1)
        if kind == "body_blank":
            return m + b"\r\n\r\n"
        if kind == "body_drop":
            return head + sep
        if kind == "hdr_case":
            return m.replace(b"\r\nDate:", b"\r\nDATE:", 1)
        if kind == "hdr_ws":
            return m.replace(b"\r\nDate: ", b"\r\nDate:   \t", 1)
        if kind == "hdr_fold":
            return m.replace(b"\r\nDate: ", b"\r\nDate:\r\n ", 1)
        if kind == "hdr_value":
            return m.replace(b"Message-ID: <", b"Message-ID: <x", 1)
        if kind == "hdr_added":
            return b"X-Added: by a relay\r\n" + m
        if kind == "h_without_from":
            fields = re.split(rb"\r\n(?=[^ \t])", head)
            for i, f in enumerate(fields):
                if f.lower().startswith(b"dkim-signature:"):
                    def drop(mo):
                        names = [x for x in mo.group(2).split(b":") if x.strip().lower() != b"from"]
                        return mo.group(1) + b":".join(names)
                    fields[i] = re.sub(rb"([;\s]h=)([^;]*)", drop, f, count=1)
                    break
            return b"\r\n".join(fields) + sep + body
        if kind == "b_flip":
            return re.sub(rb"([;\s]b=\s*)([A-Za-z0-9+/])", lambda mo: mo.group(1) + (b"A" if mo.group(2) != b"A" else b"B"), m, count=1)
        raise ValueError(kind)
    KINDS = ["body_word", "body_ws", "body_blank", "body_drop", "hdr_case", "hdr_ws", "hdr_fold", "hdr_value", "hdr_added", "h_without_from", "b_flip"]
    corpus = dict(signed)
    for name, m in signed.items():
        if rnd.random() < 0.45:
            kind = rnd.choice(KINDS)
            t = mutate(kind, m)
            if t is not None and t != m:
                corpus[name + "_t_" + kind] = t
    for name, m in corpus.items():
        write(os.path.join(out, name + ".eml"), m)
    print(len(corpus))

elif cmd == "verify":
    import dkim, dns.resolver
    port = int(sys.argv[3])
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = port
    r.lifetime = 5
    def dnsfunc(name, timeout=5):
        try:
            a = r.resolve(name.decode(), "TXT", tcp=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return None
        if a.rrset is None:
            return None
        return b"".join(a.rrset[0].strings)
    log = logging.getLogger("dkim-corpus")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    out = os.path.join(d, "corpus")
    for name in sorted(os.listdir(out)):
        msg = read(os.path.join(out, name))
        head = msg.partition(b"\r\n\r\n")[0]
        count = len(re.findall(rb"(?im)^dkim-signature\s*:", head))
        for i in range(count):
            try:
                ok = dkim.DKIM(msg, logger=log).verify(idx=i, dnsfunc=dnsfunc)
                why = "" if ok else "did not verify"
            except Exception as e:
                ok, why = False, type(e).__name__ + ": " + str(e)
            why = why.replace("\n", " ").replace("\t", " ")
            print("%s\t%d\t%s\t%s" % (name[:-4], i, "PASS" if ok else "FAIL", why), flush=True)
"#;

/// Runs the corpus script (bounded to 10 minutes); returns its stdout.
fn python(dir: &TempDir, args: &[&str]) -> String {
    let script = dir.write("corpus.py", CORPUS_PY.as_bytes());
    let o = run(
        Command::new("python3").arg(&script).args(args),
        None,
        Duration::from_secs(600),
    );
    assert_exit(&o, 0, &format!("python3 {args:?}"));
    o.stdout
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

const CANONS: [(Canonicalization, Canonicalization, &str); 4] = [
    (Canonicalization::Simple, Canonicalization::Simple, "ss"),
    (Canonicalization::Simple, Canonicalization::Relaxed, "sr"),
    (Canonicalization::Relaxed, Canonicalization::Simple, "rs"),
    (Canonicalization::Relaxed, Canonicalization::Relaxed, "rr"),
];

/// Signs the base messages with smtpkit's Signer into rust/.
fn sign_with_smtpkit(dir: &TempDir, now: SystemTime) {
    let rust = dir.path("rust");
    fs::create_dir_all(&rust).expect("mkdir");
    let key = |name: &str| {
        SigningKey::from_pem_file(dir.path(&format!("keys/{name}.pem"))).expect("load key")
    };
    let mut bases: Vec<PathBuf> = fs::read_dir(dir.path("base"))
        .expect("base dir")
        .map(|e| e.expect("entry").path())
        .collect();
    bases.sort();
    let day = Duration::from_secs(86_400);
    for (n, path) in bases.iter().enumerate().take(30) {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_string();
        let msg = fs::read(path).expect("read base");
        let write = |name: String, signed: Vec<u8>| {
            fs::write(rust.join(format!("{name}.eml")), signed).expect("write");
        };
        let sign = |signer: &Signer, at: SystemTime, msg: &[u8]| -> Vec<u8> {
            let header = signer.signature_header_at(msg, at).expect("sign");
            let mut out = header.into_bytes();
            out.extend_from_slice(msg);
            out
        };
        for keyname in ["r2048", "ed"] {
            for (h, b, c) in CANONS {
                let signer =
                    Signer::new("example.com", keyname, key(keyname)).canonicalization(h, b);
                write(format!("{stem}_rs_{keyname}_{c}"), sign(&signer, now, &msg));
            }
        }
        let (h, b, _) = CANONS[n % 4];
        let base = || Signer::new("example.com", "ed", key("ed")).canonicalization(h, b);
        if n % 3 == 0 {
            let signed = sign(&base().body_length(true), now, &msg);
            let mut appended = signed.clone();
            appended.extend_from_slice(b"appended by a list\r\n");
            write(format!("{stem}_rs_len"), signed);
            write(format!("{stem}_rs_len_appended"), appended);
        }
        if n % 4 == 0 {
            write(
                format!("{stem}_rs_expired"),
                sign(&base().expiration(day), now - 3 * day, &msg),
            );
            write(
                format!("{stem}_rs_future"),
                sign(&base(), now + 2 * day, &msg),
            );
            write(
                format!("{stem}_rs_expires_later"),
                sign(&base().expiration(day), now, &msg),
            );
            let strict = Signer::new("example.com", "strict", key("r2048"))
                .canonicalization(h, b)
                .identity("user@sub.example.com");
            write(format!("{stem}_rs_strict_sub"), sign(&strict, now, &msg));
            let oversigned_off = base().oversign(&[]).identity("@example.com");
            write(
                format!("{stem}_rs_no_oversign"),
                sign(&oversigned_off, now, &msg),
            );
        }
        if n % 5 == 1 {
            let first = sign(&base(), now, &msg);
            let second = Signer::new("example.com", "r2048", key("r2048"))
                .canonicalization(CANONS[(n + 2) % 4].0, CANONS[(n + 2) % 4].1);
            write(format!("{stem}_rs_double"), sign(&second, now, &first));
        }
    }
}

/// dnsmasq flags publishing the key records.
fn key_flags(dir: &TempDir) -> Vec<String> {
    let json = fs::read_to_string(dir.path("records.json")).expect("records.json");
    // A flat JSON object of strings without escapes: read it by hand.
    let mut flags = vec![
        LOCAL_TTL.to_string(),
        "--local=/example.com/".to_string(),
        "--host-record=probe.example.com,127.0.0.1".to_string(),
    ];
    let inner = json.trim().trim_start_matches('{').trim_end_matches('}');
    for pair in inner.split("\", \"") {
        let pair = pair.trim_matches('"');
        let (sel, record) = pair.split_once("\": \"").expect("selector: record");
        assert!(!record.contains(',') && !record.contains('"'), "{record}");
        flags.push(format!(
            "--txt-record={sel}._domainkey.example.com,{record}"
        ));
    }
    flags
}

/// Agreement of one smtpkit outcome with dkimpy's verdict: Ok(None) agrees, Ok(Some(why))
/// is a documented difference, Err is a disagreement.
fn compare(
    name: &str,
    ours: &DkimOutcome,
    dkimpy_pass: bool,
) -> Result<Option<&'static str>, String> {
    let reason = ours.reason.as_deref().unwrap_or("");
    match (ours.result, dkimpy_pass) {
        (DkimResult::Pass, true) => Ok(None),
        (
            DkimResult::Fail | DkimResult::PermError | DkimResult::TempError | DkimResult::Neutral,
            false,
        ) => Ok(None),
        (DkimResult::Policy, true) if reason.contains("rsa-sha1") => Ok(Some("rsa-sha1: policy")),
        (DkimResult::Policy, true) if reason.contains("not covered by l=") => {
            Ok(Some("l= with unsigned content: policy"))
        }
        (DkimResult::PermError, true) if reason.contains("(t=s)") => {
            Ok(Some("key t=s with i= in a subdomain: permerror"))
        }
        (DkimResult::PermError, true) if reason.contains("(h=)") && name.contains("onlysha1") => {
            Ok(Some("key h=sha1 with an rsa-sha256 signature: permerror"))
        }
        (r, p) => Err(format!(
            "{name}: smtpkit {r} ({reason}), dkimpy {}",
            if p { "pass" } else { "fail" }
        )),
    }
}

/// The result each category of untampered message must get from smtpkit, whatever dkimpy
/// says: (name ending, result of the first signature, words of the reason).
const CATEGORIES: &[(&str, DkimResult, &str)] = &[
    ("_py_sha1", DkimResult::Policy, "weak algorithm rsa-sha1"),
    ("_py_len", DkimResult::Pass, ""),
    ("_py_len_appended", DkimResult::Policy, "not covered by l="),
    ("_rs_len_appended", DkimResult::Policy, "not covered by l="),
    ("_py_strict_sub", DkimResult::PermError, "(t=s)"),
    ("_rs_strict_sub", DkimResult::PermError, "(t=s)"),
    ("_py_strict_same", DkimResult::Pass, ""),
    ("_py_testing", DkimResult::Pass, "key in testing mode (t=y)"),
    (
        "_py_onlysha1",
        DkimResult::PermError,
        "key does not allow sha256 (h=)",
    ),
    (
        "_py_revoked",
        DkimResult::PermError,
        "key revoked (empty p=)",
    ),
    ("_py_nokey", DkimResult::PermError, "(NXDOMAIN)"),
    ("_py_r4096", DkimResult::Pass, ""),
    (
        "_rs_expired",
        DkimResult::PermError,
        "signature expired (x=)",
    ),
    (
        "_rs_future",
        DkimResult::PermError,
        "signature timestamp in the future (t=)",
    ),
    ("_rs_expires_later", DkimResult::Pass, ""),
    ("_rs_no_oversign", DkimResult::Pass, ""),
    (
        "_t_h_without_from",
        DkimResult::PermError,
        "From is not signed (h=)",
    ),
    ("_t_body_word", DkimResult::Fail, "body hash did not verify"),
    ("_t_body_drop", DkimResult::Fail, "body hash did not verify"),
    ("_t_hdr_value", DkimResult::Fail, "signature did not verify"),
    ("_t_b_flip", DkimResult::Fail, "signature did not verify"),
];

fn check_category(name: &str, ours: &[DkimOutcome]) {
    for (end, result, words) in CATEGORIES {
        // Tampered copies only for the _t_ categories (of a message that passed).
        let clean = !name.contains("_t_") || end.starts_with("_t_");
        if name.ends_with(end) && clean {
            let plain = name.strip_suffix(end).unwrap_or(name);
            let was_clean = !end.starts_with("_t_")
                || !(plain.contains("_len")
                    || plain.contains("sha1")
                    || plain.contains("strict")
                    || plain.contains("revoked")
                    || plain.contains("nokey")
                    || plain.contains("expired")
                    || plain.contains("future")
                    || plain.contains("onlysha1"));
            // An empty body canonicalises (simple) to one CRLF, which l= covers: what is
            // appended then changes the signed part too.
            let empty_body = name
                .get(1..4)
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n % 8 == 0);
            if !was_clean || (empty_body && end.ends_with("_len_appended")) {
                return;
            }
            // The signature the tampering reached is the first (topmost) one.
            let o = &ours[0];
            assert_eq!(o.result, *result, "{name}: {o:?}");
            assert!(
                o.reason.as_deref().unwrap_or("").contains(words),
                "{name}: {o:?}"
            );
        }
    }
}

#[test]
fn dkim_corpus_agrees_with_dkimpy() {
    if tool("dnsmasq").is_none()
        || tool("python3").is_none()
        || !python_modules(
            &["dkim", "nacl", "dns.resolver", "cryptography"],
            "dkimpy pynacl dnspython cryptography",
        )
    {
        return;
    }
    let dir = TempDir::new("auth-dkim");
    let dir_s = dir.0.to_str().expect("utf-8 temp path").to_string();
    python(&dir, &["prepare", &dir_s, "40"]);
    let now = SystemTime::now();
    sign_with_smtpkit(&dir, now);
    let built = python(&dir, &["build", &dir_s, &unix(now).to_string()]);
    let Some(server) = Dnsmasq::start(&key_flags(&dir), "probe.example.com") else {
        return;
    };
    let port = server.addr().port().to_string();
    let verdicts = python(&dir, &["verify", &dir_s, &port]);

    // dkimpy's verdict per (message, signature index).
    let mut dkimpy: BTreeMap<String, Vec<(bool, String)>> = BTreeMap::new();
    for line in verdicts.lines() {
        let mut parts = line.splitn(4, '\t');
        let (Some(name), Some(idx), Some(verdict)) = (parts.next(), parts.next(), parts.next())
        else {
            panic!("bad verifier line {line:?}");
        };
        let why = parts.next().unwrap_or("").to_string();
        let list = dkimpy.entry(name.to_string()).or_default();
        assert_eq!(idx.parse::<usize>().ok(), Some(list.len()), "{line}");
        list.push((verdict == "PASS", why));
    }

    let dns = CachingResolver::new(StubResolver::new(server.config()));
    let mut names: Vec<String> = fs::read_dir(dir.path("corpus"))
        .expect("corpus")
        .map(|e| {
            let p = e.expect("entry").path();
            p.file_stem()
                .and_then(|s| s.to_str())
                .expect("name")
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names.len().to_string(), built.trim(), "corpus size");
    let mut disagreements = Vec::new();
    let mut documented: BTreeMap<&str, usize> = BTreeMap::new();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let mut signatures = 0;
    for (n, name) in names.iter().enumerate() {
        let msg = fs::read(dir.path(&format!("corpus/{name}.eml"))).expect("read");
        let mut v = DkimVerifier::with_options(VerifyOptions::new());
        // Pieces of varied sizes, down to one octet.
        let chunk = 1 + (n * 389) % 3000;
        for piece in msg.chunks(chunk) {
            v.update(piece);
        }
        let ours = v.finish(&dns, now);
        let theirs = dkimpy.get(name).cloned().unwrap_or_default();
        if ours.len() != theirs.len() {
            disagreements.push(format!(
                "{name}: {} outcomes, dkimpy saw {} signatures",
                ours.len(),
                theirs.len()
            ));
            continue;
        }
        check_category(name, &ours);
        for (o, (pass, why)) in ours.iter().zip(&theirs) {
            signatures += 1;
            *tally.entry(o.result.to_string()).or_default() += 1;
            match compare(name, o, *pass) {
                Ok(None) => {}
                Ok(Some(doc)) => *documented.entry(doc).or_default() += 1,
                Err(e) => disagreements.push(format!("{e} [dkimpy: {why}]")),
            }
            assert_eq!(o.domain, "example.com", "{name}");
            assert_eq!(o.header_b.len(), 8, "{name}");
        }
    }
    eprintln!(
        "DKIM corpus: {} messages, {signatures} signatures; smtpkit results {tally:?}; \
         documented differences {documented:?}; disagreements {}",
        names.len(),
        disagreements.len()
    );
    assert!(names.len() >= 300, "corpus too small: {}", names.len());
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    // Every documented difference occurred (so each is exercised), and each category of the
    // corpus got the result it should.
    assert_eq!(documented.len(), 4, "{documented:?}");
    for must_pass in [
        "b000_py_r1024_ss",
        "b001_py_ed_rr",
        "b006_py_r4096",
        "b000_rs_expires_later",
    ] {
        if let Some(t) = dkimpy.get(must_pass) {
            assert!(t[0].0, "{must_pass}: dkimpy {:?}", t[0]);
        }
    }
}
