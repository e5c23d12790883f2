//! MIME bench: decode throughput of smtpkit::mime vs mail-parser vs Python's `email` on a
//! generated corpus, and build/encode throughput of smtpkit's MessageBuilder vs lettre's
//! message builder vs mail-builder.
//!
//! `cargo bench -p smtpkit-bench --bench mime` (`SMTPKIT_BENCH_QUICK=1` for fewer runs).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use smtpkit_bench::chart::Bar;
use smtpkit_bench::{
    TempDir, bench_dir, fmt_num, median, ops_per_sec, quick, ratio, reps, run_note, table,
    write_section,
};

/// A global allocator that counts live heap bytes and their peak while `COUNTING` is on (the
/// hostile-corpus rows); otherwise it only forwards to the system allocator, so the other
/// rows pay one relaxed load per allocation.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

// SAFETY (GlobalAlloc is an unsafe trait): every call forwards to `System` with the same
// arguments; the counters are plain atomics and never affect the returned memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            let size = layout.size() as isize;
            let now = LIVE.fetch_add(size, Ordering::Relaxed) + size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            let grow = new_size as isize - layout.size() as isize;
            let now = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` with the allocation counter on; returns its result and the peak of the heap bytes
/// it allocated on top of what was live before (the count is signed, so memory allocated
/// earlier and freed inside `f` only lowers it).
fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LIVE.store(0, Ordering::SeqCst);
    PEAK.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let out = f();
    COUNTING.store(false, Ordering::SeqCst);
    (out, PEAK.load(Ordering::SeqCst).max(0) as usize)
}

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
                // The borrowed tree: what a user picks for speed (the owned `decode` is
                // `profile N COUNT owned`).
                let ops = ops_per_sec(budget, || {
                    black_box(smtpkit::mime::decode_ref(black_box(m)).expect("decode"));
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

/// The builders' input: 3 KB of text, 4 KB of HTML, a 100 KiB attachment.
fn build_input() -> BuildInput {
    BuildInput {
        text: prose(3000),
        html: format!(
            "<html><body><p>{}</p></body></html>",
            prose(4000).replace("\r\n", "<br>\r\n")
        ),
        attachment: noise(100 * 1024, 3),
    }
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

const BUILD_HEADER: [&str; 5] = [
    "message",
    "builder",
    "output bytes",
    "messages/s",
    "vs best peer",
];

/// smtpkit's value over the best peer's (higher is better), NaN when there is none.
fn best_ratio(smtpkit: f64, peers: &[f64]) -> f64 {
    let best = peers
        .iter()
        .copied()
        .filter(|x| x.is_finite() && *x > 0.0)
        .fold(f64::NAN, f64::max);
    smtpkit / best
}

/// The spread of smtpkit's ratio to the best peer across the repetitions (each repetition's
/// own ratio; the contenders alternate within a repetition): `min..max` with the median, for
/// stderr, to say how much of a ratio is noise.
fn spread(smtpkit: &[f64], peers: &[&Vec<f64>]) -> String {
    let per_rep: Vec<f64> = (0..smtpkit.len())
        .map(|r| {
            let best: Vec<f64> = peers.iter().filter_map(|p| p.get(r).copied()).collect();
            best_ratio(smtpkit.get(r).copied().unwrap_or(f64::NAN), &best)
        })
        .filter(|x| x.is_finite())
        .collect();
    let min = per_rep.iter().copied().fold(f64::INFINITY, f64::min);
    let max = per_rep.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{:.2}x (per repetition {min:.2}..{max:.2}x)",
        median(&per_rep)
    )
}

/// The hostile shapes (issue 11): each generator returns a message of about `size` bytes.
/// A generator of one hostile shape: a message of about the given size.
type Shape = fn(usize) -> Vec<u8>;

const HOSTILE: [(&str, Shape); 4] = [
    ("Content-Type with many parameters", hostile_params),
    ("`a:` header lines", hostile_headers),
    (
        "19 levels of message/rfc822 around one body",
        hostile_rfc822,
    ),
    (
        "19 levels of multipart, a text part at each",
        hostile_multipart,
    ),
];

/// One Content-Type header with distinct parameters (`p0=v` ... folded one per line) until
/// `size`, then a short body. 40 000 parameters is about 0.5 MB.
fn hostile_params(size: usize) -> Vec<u8> {
    let mut m = b"From: a@example.org\r\nContent-Type: text/plain; charset=utf-8".to_vec();
    let mut i = 0u64;
    while m.len() < size {
        m.extend_from_slice(format!(";\r\n p{i}=v").as_bytes());
        i += 1;
    }
    m.extend_from_slice(b"\r\n\r\nbody\r\n");
    m
}

/// `a:` LF lines up to `size`, then a body.
fn hostile_headers(size: usize) -> Vec<u8> {
    let mut m = b"a:\n".repeat(size / 3);
    m.extend_from_slice(b"\nbody\n");
    m
}

/// 19 nested `message/rfc822` levels, then a text/plain body of `size` bytes of prose.
fn hostile_rfc822(size: usize) -> Vec<u8> {
    let mut m = Vec::with_capacity(size + 2000);
    m.extend_from_slice(b"From: a@example.org\r\nSubject: nested\r\n");
    for _ in 0..19 {
        m.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n");
    }
    m.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n\r\n");
    m.extend_from_slice(prose(size).as_bytes());
    m
}

/// 19 nested multipart/mixed levels; each level holds a text part of `size / 20` bytes of
/// prose and the next level; the innermost holds one more text part.
fn hostile_multipart(size: usize) -> Vec<u8> {
    let text = prose(size / 20);
    let mut m = Vec::with_capacity(size + 4000);
    m.extend_from_slice(b"From: a@example.org\r\nSubject: deep\r\n");
    for d in 0..19 {
        m.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"level-{d}\"\r\n\r\n--level-{d}\r\nContent-Type: text/plain\r\n\r\n").as_bytes(),
        );
        m.extend_from_slice(text.as_bytes());
        m.extend_from_slice(format!("--level-{d}\r\n").as_bytes());
    }
    m.extend_from_slice(b"Content-Type: text/plain\r\n\r\n");
    m.extend_from_slice(text.as_bytes());
    for d in (0..19).rev() {
        m.extend_from_slice(format!("--level-{d}--\r\n").as_bytes());
    }
    m
}

/// Options with the count caps lifted, to show the decoder's own cost on shapes the default
/// caps refuse early.
fn lifted() -> smtpkit::mime::DecodeOptions {
    smtpkit::mime::DecodeOptions {
        max_headers: usize::MAX,
        max_params: usize::MAX,
        max_fields: usize::MAX,
        ..smtpkit::mime::DecodeOptions::default()
    }
}

/// The outcome of one decode, for the table.
fn outcome(r: &Result<smtpkit::mime::Part, smtpkit::mime::MimeError>) -> String {
    match r {
        Ok(_) => "Ok".into(),
        Err(e) => format!("Err: {e}"),
    }
}

/// Decodes every hostile shape at 1, 2, 4, 8 and 16 MB (`SMTPKIT_BENCH_HOSTILE_MB` may list
/// other sizes), with the default options and with the caps lifted: time per MB (median of
/// `reps()` runs) and the peak heap decode allocates, as a ratio to the input size.
fn hostile_rows() -> Vec<Vec<String>> {
    let sizes: Vec<f64> = std::env::var("SMTPKIT_BENCH_HOSTILE_MB")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1.0, 2.0, 4.0, 8.0, 16.0]);
    // `SMTPKIT_BENCH_HOSTILE_SHAPES=rfc822,multipart`: only the shapes whose name contains one
    // of the words.
    let shapes = std::env::var("SMTPKIT_BENCH_HOSTILE_SHAPES").unwrap_or_default();
    let mut rows = Vec::new();
    for (name, make) in HOSTILE {
        if !shapes.is_empty() && !shapes.split(',').any(|w| name.contains(w.trim())) {
            continue;
        }
        for (caps, opts) in [
            ("default", smtpkit::mime::DecodeOptions::default()),
            ("lifted", lifted()),
        ] {
            for &mb in &sizes {
                let input = make((mb * (1u64 << 20) as f64) as usize);
                let mut times = Vec::new();
                let mut peak = 0;
                let mut result = String::new();
                for _ in 0..reps() {
                    let t = Instant::now();
                    let (r, p) = peak_heap(|| smtpkit::mime::decode_with(black_box(&input), &opts));
                    times.push(t.elapsed().as_secs_f64());
                    peak = peak.max(p);
                    result = outcome(&r);
                    drop(r);
                }
                let secs = median(&times);
                let mbytes = input.len() as f64 / (1u64 << 20) as f64;
                eprintln!(
                    "  hostile {name} ({caps}) {mb} MB: {:.1} ms, peak {:.2}x",
                    secs * 1e3,
                    peak as f64 / input.len() as f64
                );
                rows.push(vec![
                    name.to_string(),
                    caps.to_string(),
                    format!("{:.2}", mbytes),
                    fmt_num(secs * 1e3),
                    fmt_num(secs * 1e3 / mbytes),
                    format!("{:.2}x", peak as f64 / input.len() as f64),
                    result,
                ]);
            }
        }
    }
    rows
}

/// The build table: every builder on both messages, round-robin within each repetition.
/// Returns the rows and, for the chart, smtpkit's ratio to the best peer per message.
fn build_rows(budget: Duration) -> (Vec<Vec<String>>, Vec<Bar>) {
    let inp = build_input();
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
    let mut bars = Vec::new();
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
        let peers: Vec<&Vec<f64>> = (1..builders.len()).map(|i| &bsamples[i][a]).collect();
        eprintln!("  build {label}: {}", spread(&bsamples[0][a], &peers));
        bars.push(Bar::new(*label, best_ratio(meds[0], &meds[1..])));
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

    (brows, bars)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // `-- hostile`: only the hostile-corpus table; `-- decode`: only the decode table against
    // the peers. Either prints its table and leaves BENCHMARKS.md alone.
    let only_hostile = std::env::args().any(|a| a == "hostile");
    let only_decode = std::env::args().any(|a| a == "decode");
    let only_build = std::env::args().any(|a| a == "build");
    let hostile_header = [
        "shape",
        "caps",
        "input MB",
        "ms",
        "ms per MB",
        "peak heap / input",
        "result",
    ];
    // `-- profile N`: decode corpus message N with smtpkit for 10 s (for perf record).
    if let Some(pos) = std::env::args().position(|a| a == "profile") {
        let n: usize = std::env::args()
            .nth(pos + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(2);
        let corpus = corpus();
        let m = &corpus[n.min(corpus.len() - 1)].1;
        // `-- profile N COUNT [mail-parser|owned]`: exactly COUNT decodes (for callgrind), else
        // 10 s. smtpkit's `decode_ref` unless `owned` (then `decode`).
        if let Some(count) = std::env::args()
            .nth(pos + 2)
            .and_then(|v| v.parse::<usize>().ok())
        {
            // `mail-parser` profiles the peer instead.
            if std::env::args().any(|a| a == "mail-parser") {
                let p = mail_parser::MessageParser::default();
                for _ in 0..count {
                    black_box(p.parse(black_box(&m[..])).expect("parse"));
                }
                return;
            }
            if std::env::args().any(|a| a == "owned") {
                for _ in 0..count {
                    black_box(smtpkit::mime::decode(black_box(m)).expect("decode"));
                }
                return;
            }
            for _ in 0..count {
                black_box(smtpkit::mime::decode_ref(black_box(m)).expect("decode"));
            }
            return;
        }
        let ops = ops_per_sec(Duration::from_secs(10), || {
            black_box(smtpkit::mime::decode_ref(black_box(m)).expect("decode"));
        });
        println!("{ops:.0} messages/s");
        return;
    }
    // `-- profile-build N`: build N messages (text+HTML; with `attach`, plus the attachment)
    // with smtpkit, for callgrind.
    if let Some(pos) = std::env::args().position(|a| a == "profile-build") {
        let n: usize = std::env::args()
            .nth(pos + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        let attach = std::env::args().any(|a| a == "attach");
        // `mail-builder` profiles the peer instead.
        let lib = if std::env::args().any(|a| a == "mail-builder") {
            BuildLib::MailBuilder
        } else {
            BuildLib::Smtpkit
        };
        let inp = build_input();
        for _ in 0..n {
            black_box(build(lib, black_box(&inp), attach));
        }
        return;
    }
    if only_hostile {
        println!("{}", table(&hostile_header, &hostile_rows()));
        return;
    }
    if only_build {
        let budget = Duration::from_millis(if quick() { 200 } else { 300 });
        let (rows, _) = build_rows(budget);
        println!("{}", table(&BUILD_HEADER, &rows));
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
        "smtpkit::mime::decode_ref",
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
    let mut bars = Vec::new();
    for (c, (name, m)) in corpus.iter().enumerate() {
        let meds: Vec<f64> = (0..decoders.len())
            .map(|i| median(&samples[i][c]))
            .collect();
        let peers = &meds[1..];
        // Python's decode rates are per file, in the same repetition order.
        let peer_samples: Vec<&Vec<f64>> = (1..decoders.len()).map(|i| &samples[i][c]).collect();
        eprintln!("  decode {name}: {}", spread(&samples[0][c], &peer_samples));
        bars.push(Bar::new(
            format!("decode {name}"),
            best_ratio(meds[0], peers),
        ));
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

    if only_decode {
        println!(
            "{}",
            table(
                &["message", "decoder", "MB/s", "messages/s", "vs best peer"],
                &rows
            )
        );
        return;
    }
    let hrows = hostile_rows();

    let (brows, build_bars) = build_rows(budget);
    bars.extend(
        build_bars
            .into_iter()
            .map(|b| Bar::new(format!("build {}", b.label), b.ratio)),
    );

    let mut body = String::from("## MIME\n\n");
    body.push_str(&run_note("mime"));
    body.push('\n');
    body.push_str(&smtpkit_bench::chart::write_chart(
        "mime",
        "MIME: smtpkit vs the best peer (messages/s ratio, higher is better)",
        &bars,
    ));
    body.push_str("\nDecode: the whole tree with every leaf's transfer encoding undone (smtpkit `mime::decode_ref`, the tree borrowing from the input; mail-parser `MessageParser::parse`; Python `BytesParser(policy=policy.default)` plus `get_payload(decode=True)` on every leaf, timed inside the interpreter). Each cell runs for a fixed time budget; ratios are against the best peer.\n\n");
    body.push_str(&table(
        &["message", "decoder", "MB/s", "messages/s", "vs best peer"],
        &rows,
    ));
    body.push_str("\nBuild + encode to bytes (from, 2 recipients, non-ASCII subject, 3 KB text + 4 KB HTML as multipart/alternative):\n\n");
    body.push_str(&table(&BUILD_HEADER, &brows));
    body.push_str("\nHostile corpus (issue 11): each shape at 1 to 16 MB, decoded with the default `DecodeOptions` and with the count caps lifted (`max_headers`, `max_params`, `max_fields` at `usize::MAX`). Time is the median of the repetitions; the peak is the most heap `decode_with` had allocated at once (a counting global allocator; the input itself is not counted), as a multiple of the input size. Time per MB must stay flat as the input grows, and the peak within 3x with the default caps.\n\n");
    body.push_str(&table(&hostile_header, &hrows));
    body.push_str(&format!(
        "\n(mime bench took {:.0} s)\n",
        t_start.elapsed().as_secs_f64()
    ));
    println!("{body}");
    write_section("mime", &body);
}
