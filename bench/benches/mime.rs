//! MIME bench: decode throughput of smtpkit::mime vs mail-parser vs Python's `email` on a
//! generated corpus, and build/encode throughput of smtpkit's MessageBuilder vs lettre's
//! message builder vs mail-builder.
//!
//! `cargo bench -p smtpkit-bench --bench mime` (`SMTPKIT_BENCH_QUICK=1` for fewer runs).

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use smtpkit_bench::{
    TempDir, bench_dir, fmt_num, median, ops_per_sec, quick, ratio, reps, run_note, table,
    write_section,
};

/// Deterministic pseudo-random bytes (xorshift), for attachments.
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

fn prose(n: usize) -> String {
    let words =
        "the quick brown fox jumps over the lazy dog while smtp servers relay mail between hosts ";
    let mut s = String::with_capacity(n + 100);
    let mut col = 0;
    for w in words.split(' ').cycle() {
        if s.len() >= n {
            break;
        }
        if col + w.len() > 70 {
            s.push_str("\r\n");
            col = 0;
        }
        s.push_str(w);
        s.push(' ');
        col += w.len() + 1;
    }
    s.push_str("\r\n");
    s
}

/// (name, bytes): small plain, large attachment, deep multipart.
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let small = format!(
        "Return-Path: <a@example.org>\r\nReceived: from client.example.org (127.0.0.1) by mx.example.org; Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: Alice <a@example.org>\r\nTo: Bob <b@example.net>\r\nSubject: =?UTF-8?Q?caf=C3=A9_meeting?=\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <small@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{}",
        prose(2000)
    )
    .into_bytes();
    let large = smtpkit::mime::builder::MessageBuilder::new()
        .from("Alice <a@example.org>")
        .to("Bob <b@example.net>")
        .subject("the report")
        .text(&prose(1000))
        .attach("report.bin", "application/octet-stream", noise(4 << 20, 7))
        .build()
        .expect("build large")
        .message;
    // 20 levels of multipart/mixed, each with a short quoted-printable text part.
    let depth = 20;
    let mut deep = String::from(
        "From: a@example.org\r\nTo: b@example.net\r\nSubject: deep\r\nMIME-Version: 1.0\r\n",
    );
    for d in 0..depth {
        deep.push_str(&format!("Content-Type: multipart/mixed; boundary=\"b{d}\"\r\n\r\npreamble\r\n--b{d}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nlevel {d} caf=C3=A9 =\r\ncontinued\r\n--b{d}\r\n"));
    }
    deep.push_str("Content-Type: text/plain\r\n\r\nthe bottom\r\n");
    for d in (0..depth).rev() {
        deep.push_str(&format!("--b{d}--\r\n"));
    }
    vec![
        ("small plain (2 KiB)", small),
        ("large attachment (4 MiB base64)", large),
        ("deep multipart (20 levels)", deep.into_bytes()),
    ]
}

#[derive(Clone, Copy)]
enum Decoder {
    Smtpkit,
    MailParser,
    PythonEmail,
}

fn decode_rates(
    d: Decoder,
    corpus: &[(&str, Vec<u8>)],
    files: &[std::path::PathBuf],
    budget: Duration,
) -> Vec<f64> {
    match d {
        Decoder::Smtpkit => corpus
            .iter()
            .map(|(_, m)| {
                let ops = ops_per_sec(budget, || {
                    black_box(smtpkit::mime::decode(black_box(m)).expect("decode"));
                });
                ops * m.len() as f64 / 1e6
            })
            .collect(),
        Decoder::MailParser => corpus
            .iter()
            .map(|(_, m)| {
                let p = mail_parser::MessageParser::default();
                let ops = ops_per_sec(budget, || {
                    black_box(p.parse(black_box(&m[..])).expect("parse"));
                });
                ops * m.len() as f64 / 1e6
            })
            .collect(),
        Decoder::PythonEmail => {
            let out = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
                .arg(bench_dir().join("email_decode.py"))
                .arg(budget.as_secs_f64().to_string())
                .args(files)
                .output()
                .expect("python3");
            let s = String::from_utf8_lossy(&out.stdout);
            let v: Vec<f64> = s.lines().filter_map(|l| l.trim().parse().ok()).collect();
            if v.len() == files.len() {
                v
            } else {
                eprintln!(
                    "  python email failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                vec![f64::NAN; files.len()]
            }
        }
    }
}

struct BuildInput {
    text: String,
    html: String,
    attachment: Vec<u8>,
}

#[derive(Clone, Copy)]
enum BuildLib {
    Smtpkit,
    Lettre,
    MailBuilder,
}

/// Builds one message (with or without the attachment) and returns its size.
fn build(b: BuildLib, inp: &BuildInput, attach: bool) -> usize {
    match b {
        BuildLib::Smtpkit => {
            let mut m = smtpkit::mime::builder::MessageBuilder::new()
                .from("Alice <alice@example.org>")
                .to("Bob <bob@example.net>, carol@example.com")
                .subject("Quarterly report – café")
                .text(&inp.text)
                .html(&inp.html);
            if attach {
                m = m.attach("report.pdf", "application/pdf", inp.attachment.clone());
            }
            m.build().expect("build").message.len()
        }
        BuildLib::Lettre => {
            use lettre::message::{Attachment, MultiPart, header::ContentType};
            let alt = MultiPart::alternative_plain_html(inp.text.clone(), inp.html.clone());
            let b = lettre::Message::builder()
                .from("Alice <alice@example.org>".parse().expect("from"))
                .to("Bob <bob@example.net>".parse().expect("to"))
                .to("carol@example.com".parse().expect("to"))
                .subject("Quarterly report – café");
            let m = if attach {
                b.multipart(MultiPart::mixed().multipart(alt).singlepart(
                    Attachment::new("report.pdf".into()).body(
                        inp.attachment.clone(),
                        ContentType::parse("application/pdf").expect("ct"),
                    ),
                ))
            } else {
                b.multipart(alt)
            };
            m.expect("lettre build").formatted().len()
        }
        BuildLib::MailBuilder => {
            let mut m = mail_builder::MessageBuilder::new()
                .from(("Alice", "alice@example.org"))
                .to(vec![("Bob", "bob@example.net"), ("", "carol@example.com")])
                .subject("Quarterly report – café")
                .text_body(inp.text.as_str())
                .html_body(inp.html.as_str());
            if attach {
                m = m.attachment("application/pdf", "report.pdf", inp.attachment.clone());
            }
            m.write_to_vec().expect("mail-builder").len()
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let t_start = Instant::now();
    let budget = Duration::from_millis(if quick() { 200 } else { 300 });
    let corpus = corpus();
    let dir = TempDir::new("mime");
    let files: Vec<_> = corpus
        .iter()
        .enumerate()
        .map(|(i, (_, m))| {
            let p = dir.0.join(format!("{i}.eml"));
            std::fs::write(&p, m).expect("write corpus");
            p
        })
        .collect();

    let decoders = [Decoder::Smtpkit, Decoder::MailParser, Decoder::PythonEmail];
    let dnames = [
        "smtpkit::mime::decode",
        "mail-parser 0.11",
        "Python email (policy.default)",
    ];
    // samples[decoder][corpus] -> Vec<MB/s>
    let mut samples = vec![vec![Vec::new(); corpus.len()]; decoders.len()];
    for rep in 0..reps() {
        for k in 0..decoders.len() {
            let i = (k + rep) % decoders.len();
            let r = decode_rates(decoders[i], &corpus, &files, budget);
            for (c, v) in r.into_iter().enumerate() {
                samples[i][c].push(v);
            }
        }
        eprintln!("  decode rep {rep} done");
    }
    let mut rows = Vec::new();
    for (c, (name, m)) in corpus.iter().enumerate() {
        let meds: Vec<f64> = (0..decoders.len())
            .map(|i| median(&samples[i][c]))
            .collect();
        let peers = &meds[1..];
        for i in 0..decoders.len() {
            rows.push(vec![
                format!("{name}, {} B", m.len()),
                dnames[i].to_string(),
                fmt_num(meds[i]),
                fmt_num(meds[i] * 1e6 / m.len() as f64),
                ratio(meds[i], peers, true),
            ]);
        }
    }

    let inp = BuildInput {
        text: prose(3000),
        html: format!(
            "<html><body><p>{}</p></body></html>",
            prose(4000).replace("\r\n", "<br>\r\n")
        ),
        attachment: noise(100 * 1024, 3),
    };
    let builders = [BuildLib::Smtpkit, BuildLib::Lettre, BuildLib::MailBuilder];
    let bnames = [
        "smtpkit MessageBuilder",
        "lettre Message::builder",
        "mail-builder 2",
    ];
    let mut bsamples = vec![vec![Vec::new(); 2]; builders.len()];
    for rep in 0..reps() {
        for k in 0..builders.len() {
            let i = (k + rep) % builders.len();
            for (a, attach) in [false, true].into_iter().enumerate() {
                let ops = ops_per_sec(budget, || {
                    black_box(build(builders[i], black_box(&inp), attach));
                });
                bsamples[i][a].push(ops);
            }
        }
    }
    let mut brows = Vec::new();
    for (a, label) in [
        "text + html (alternative)",
        "text + html + 100 KiB attachment",
    ]
    .iter()
    .enumerate()
    {
        let meds: Vec<f64> = (0..builders.len())
            .map(|i| median(&bsamples[i][a]))
            .collect();
        for i in 0..builders.len() {
            brows.push(vec![
                label.to_string(),
                bnames[i].to_string(),
                format!("{}", build(builders[i], &inp, a == 1)),
                fmt_num(meds[i]),
                ratio(meds[i], &meds[1..], true),
            ]);
        }
    }

    let mut body = String::from("## MIME\n\n");
    body.push_str(&run_note("mime"));
    body.push_str("\nDecode: the whole tree with every leaf's transfer encoding undone (smtpkit `mime::decode`; mail-parser `MessageParser::parse`; Python `BytesParser(policy=policy.default)` plus `get_payload(decode=True)` on every leaf, timed inside the interpreter). Each cell runs for a fixed time budget; ratios are against the best peer.\n\n");
    body.push_str(&table(
        &["message", "decoder", "MB/s", "messages/s", "vs best peer"],
        &rows,
    ));
    body.push_str("\nBuild + encode to bytes (from, 2 recipients, non-ASCII subject, 3 KB text + 4 KB HTML as multipart/alternative):\n\n");
    body.push_str(&table(
        &[
            "message",
            "builder",
            "output bytes",
            "messages/s",
            "vs best peer",
        ],
        &brows,
    ));
    body.push_str(&format!(
        "\n(mime bench took {:.0} s)\n",
        t_start.elapsed().as_secs_f64()
    ));
    println!("{body}");
    write_section("mime", &body);
}
