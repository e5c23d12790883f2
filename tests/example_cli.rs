//! The command-line convention every example follows (send keeps its own parsing loop, since
//! `--notify` belongs to the `--to` before it, but the same help, version and errors): `--help` to stdout with a line per flag and exit 0,
//! `--version`, `--flag=value`, an unknown flag or a bad value exits 2 with one line naming
//! it. Plus the flags added with it: `mime_dump --pretty`, `dkim_sign --dns-record`.

mod common;
use common::pki;
use common::tools::{Output, assert_exit, example, run};

use std::process::Command;
use std::time::Duration;

fn ex(name: &str, args: &[&str], input: Option<&[u8]>) -> Output {
    run(
        Command::new(example(name)).args(args),
        input,
        Duration::from_secs(30),
    )
}

const EXAMPLES: [(&str, &[&str]); 6] = [
    (
        "smtp_server",
        &[
            "--listen ADDR",
            "--http ADDR",
            "--print",
            "--auth-check",
            "--dns ADDR:PORT",
        ],
    ),
    (
        "send",
        &[
            "--from ADDR",
            "--to ADDR",
            "--relay HOST[:PORT]",
            "--insecure",
        ],
    ),
    ("mime_dump", &["--pretty"]),
    (
        "dkim_sign",
        &["--key PEM", "--domain D", "--selector S", "--dns-record"],
    ),
    (
        "build_message",
        &[
            "--from ADDR",
            "--to LIST",
            "--attach FILE",
            "--send HOST:PORT",
        ],
    ),
    (
        "auth_check",
        &[
            "--ip IP",
            "--helo NAME",
            "--mail-from ADDR",
            "--dns ADDR:PORT",
            "--authserv-id ID",
        ],
    ),
];

#[test]
fn help_is_on_stdout_with_a_line_per_flag() {
    for (name, flags) in EXAMPLES {
        for help in ["--help", "-h"] {
            let o = ex(name, &[help], None);
            assert_exit(&o, 0, &format!("{name} {help}"));
            assert_eq!(o.stderr, "", "{name} {help}");
            let first = o.stdout.lines().next().unwrap_or("");
            assert!(
                first.starts_with(&format!("{name} {}: ", env!("CARGO_PKG_VERSION"))),
                "{name}: {first:?}"
            );
            assert!(
                o.stdout
                    .lines()
                    .any(|l| l.starts_with(&format!("usage: {name} "))),
                "{name}: {}",
                o.stdout
            );
            for flag in flags.iter().chain(&["-h, --help", "-V, --version"]) {
                assert!(
                    o.stdout
                        .lines()
                        .any(|l| l.starts_with(&format!("  {flag}  "))),
                    "{name}: no line for {flag}:\n{}",
                    o.stdout
                );
            }
        }
    }
}

#[test]
fn version() {
    for (name, _) in EXAMPLES {
        for flag in ["--version", "-V"] {
            let o = ex(name, &[flag], None);
            assert_exit(&o, 0, &format!("{name} {flag}"));
            assert_eq!(o.stdout, format!("{name} {}\n", env!("CARGO_PKG_VERSION")));
        }
    }
}

#[test]
fn unknown_flags_and_bad_values_exit_2_naming_them() {
    for (name, _) in EXAMPLES {
        let o = ex(name, &["--frobnicate"], None);
        assert_exit(&o, 2, &format!("{name} --frobnicate"));
        assert_eq!(o.stdout, "", "{name}");
        let lines: Vec<&str> = o.stderr.lines().collect();
        assert_eq!(
            lines.first().copied(),
            Some(format!("{name}: invalid option '--frobnicate'").as_str()),
            "{name}: {}",
            o.stderr
        );
        assert!(
            lines[1].starts_with(&format!("usage: {name} ")),
            "{name}: {}",
            o.stderr
        );
    }
    // A flag that wants a value, given none.
    let o = ex("dkim_sign", &["--key"], None);
    assert_exit(&o, 2, "dkim_sign --key");
    assert_eq!(
        o.stderr.lines().next(),
        Some("dkim_sign: missing argument for option '--key'")
    );
    // A flag that takes no value, given one.
    let o = ex("mime_dump", &["--pretty=yes"], None);
    assert_exit(&o, 2, "mime_dump --pretty=yes");
    assert!(
        o.stderr
            .starts_with("mime_dump: unexpected argument for option '--pretty'"),
        "{}",
        o.stderr
    );
    // A bad number.
    let o = ex("smtp_server", &["--max-recipients=many"], None);
    assert_exit(&o, 2, "--max-recipients=many");
    assert_eq!(
        o.stderr.lines().next(),
        Some("smtp_server: bad --max-recipients \"many\"")
    );
}

const SMALL: &[u8] = b"From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n";

#[test]
fn mime_dump_pretty() {
    let compact = ex("mime_dump", &["-"], Some(SMALL));
    assert_exit(&compact, 0, "mime_dump");
    assert_eq!(
        compact.stdout,
        "{\"content_type\": \"text/plain\", \"params\": {\"charset\": \"us-ascii\"}, \"disposition\": null, \
         \"disposition_params\": {}, \"headers\": [[\"From\", \"a@example.org\"], \
         [\"Subject\", \"hi\"]], \"text\": \"hello\\r\\n\"}\n"
    );
    let pretty = ex("mime_dump", &["--pretty", "-"], Some(SMALL));
    assert_exit(&pretty, 0, "mime_dump --pretty");
    assert_eq!(
        pretty.stdout,
        r#"{
  "content_type": "text/plain",
  "params": {
    "charset": "us-ascii"
  },
  "disposition": null,
  "disposition_params": {},
  "headers": [
    [
      "From",
      "a@example.org"
    ],
    [
      "Subject",
      "hi"
    ]
  ],
  "text": "hello\r\n"
}
"#
    );
    // Brackets, commas and colons inside strings are left alone.
    let tricky = b"Subject: [a, {b}: c] \"q\"\r\n\r\nx\r\n";
    let o = ex("mime_dump", &["--pretty"], Some(tricky));
    assert!(
        o.stdout.contains("      \"[a, {b}: c] \\\"q\\\"\"\n"),
        "{}",
        o.stdout
    );
}

#[test]
fn dkim_sign_dns_record() {
    let dir = pki::TempDir::new("dns-record");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let path = dir.write("ed.pem", key.serialize_pem().as_bytes());
    let path = path.to_str().unwrap();
    let want = smtpkit::dkim::SigningKey::from_pem(key.serialize_pem().as_bytes())
        .unwrap()
        .dns_txt_record();
    assert!(want.starts_with("v=DKIM1; k=ed25519; p="), "{want}");

    let o = ex(
        "dkim_sign",
        &[
            "--key",
            path,
            "--dns-record",
            "--domain=example.com",
            "--selector",
            "s2026",
        ],
        None,
    );
    assert_exit(&o, 0, "dkim_sign --dns-record");
    assert_eq!(
        o.stdout,
        format!("s2026._domainkey.example.com. IN TXT \"{want}\"\n")
    );
    let o = ex("dkim_sign", &["--key", path, "--dns-record"], None);
    assert_exit(&o, 0, "dkim_sign --dns-record without a name");
    assert_eq!(o.stdout, format!("\"{want}\"\n"));
}
