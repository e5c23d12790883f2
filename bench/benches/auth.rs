//! Inbound authentication bench, DKIM part: verifications per second of
//! `smtpkit::auth_check::dkim::DkimVerifier` against dkimpy (Python `dkim`) on the same
//! signed messages. Keys come from a table for both (smtpkit: `StaticResolver`; dkimpy: a
//! dict behind its `dnsfunc`), so no DNS is timed.
//!
//! `cargo bench -p smtpkit-bench --bench auth` (`SMTPKIT_BENCH_QUICK=1` for fewer runs).
//! Needs `openssl` (the RSA key) and python3 with dkimpy and pynacl; a missing peer gives
//! "n/a" cells.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use smtpkit::auth_check::DkimResult;
use smtpkit::auth_check::dkim::DkimVerifier;
use smtpkit::dkim::{Canonicalization, Signer, SigningKey};
use smtpkit::dns::StaticResolver;
use smtpkit_bench::{
    TempDir, fmt_num, median, message, ops_per_sec, quick, ratio, reps, run_note, table,
    write_section,
};

/// dkimpy's side: argv = budget seconds, records file, message files. Prints verifications
/// per second for each message, timed inside the interpreter.
const DKIMPY: &str = r#"
import sys, time, logging, dkim
budget = float(sys.argv[1])
records = {}
with open(sys.argv[2]) as f:
    for line in f:
        name, rec = line.rstrip("\n").split("\t", 1)
        records[(name + ".").encode()] = rec.encode()
def dnsfunc(name, timeout=5):
    return records.get(name)
log = logging.getLogger("bench")
log.addHandler(logging.NullHandler())
log.propagate = False
for path in sys.argv[3:]:
    with open(path, "rb") as f:
        msg = f.read()
    assert dkim.DKIM(msg, logger=log).verify(dnsfunc=dnsfunc), path
    n, start = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - start < budget:
        dkim.DKIM(msg, logger=log).verify(dnsfunc=dnsfunc)
        n += 1
    print(n / (time.perf_counter() - start), flush=True)
"#;

struct Case {
    label: &'static str,
    message: Vec<u8>,
}

/// An RSA 2048 and an Ed25519 key made by openssl, with their DNS records.
fn keys(dir: &TempDir) -> Option<(SigningKey, String, SigningKey, String)> {
    let generate = |file: &str, args: &[&str]| -> Option<SigningKey> {
        let path = dir.0.join(file);
        let ok = Command::new("openssl")
            .arg("genpkey")
            .args(args)
            .arg("-out")
            .arg(&path)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            return None;
        }
        SigningKey::from_pem_file(&path).ok()
    };
    let rsa = generate(
        "rsa.pem",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    )?;
    let ed = generate("ed.pem", &["-algorithm", "ed25519"])?;
    let (rr, er) = (rsa.dns_txt_record(), ed.dns_txt_record());
    Some((rsa, rr, ed, er))
}

fn smtpkit_rate(m: &[u8], dns: &StaticResolver, budget: Duration) -> f64 {
    let now = SystemTime::now();
    ops_per_sec(budget, || {
        let mut v = DkimVerifier::new();
        v.update(black_box(m));
        let out = v.finish(dns, now);
        assert_eq!(out[0].result, DkimResult::Pass);
        black_box(out);
    })
}

fn dkimpy_rates(dir: &TempDir, files: &[std::path::PathBuf], budget: Duration) -> Vec<f64> {
    let script = dir.0.join("dkimpy_bench.py");
    std::fs::write(&script, DKIMPY).expect("write script");
    let out = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(&script)
        .arg(budget.as_secs_f64().to_string())
        .arg(dir.0.join("records.txt"))
        .args(files)
        .output();
    let v: Vec<f64> = match &out {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    if v.len() == files.len() {
        v
    } else {
        if let Ok(o) = out {
            eprintln!("  dkimpy failed: {}", String::from_utf8_lossy(&o.stderr));
        }
        vec![f64::NAN; files.len()]
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let t_start = Instant::now();
    let budget = Duration::from_millis(if quick() { 300 } else { 600 });
    let dir = TempDir::new("auth");
    let Some((rsa, rsa_record, ed, ed_record)) = keys(&dir) else {
        eprintln!("auth bench: openssl is needed for the RSA key");
        return;
    };
    let dns = StaticResolver::new()
        .with_txt("rsa._domainkey.example.org", &rsa_record)
        .with_txt("ed._domainkey.example.org", &ed_record);
    std::fs::write(
        dir.0.join("records.txt"),
        format!(
            "rsa._domainkey.example.org\t{rsa_record}\ned._domainkey.example.org\t{ed_record}\n"
        ),
    )
    .expect("records");
    let small = message(4 * 1024, "a@example.org", &["b@example.net"]);
    let large = message(1024 * 1024, "a@example.org", &["b@example.net"]);
    let rsa = Signer::new("example.org", "rsa", rsa);
    let ed = Signer::new("example.org", "ed", ed);
    let relaxed =
        |s: Signer| s.canonicalization(Canonicalization::Relaxed, Canonicalization::Relaxed);
    let (rsa, ed) = (relaxed(rsa), relaxed(ed));
    let cases = [
        Case {
            label: "4 KiB, rsa-sha256 2048 bits, relaxed",
            message: rsa.sign(&small).expect("sign"),
        },
        Case {
            label: "4 KiB, ed25519-sha256, relaxed",
            message: ed.sign(&small).expect("sign"),
        },
        Case {
            label: "1 MiB, rsa-sha256 2048 bits, relaxed",
            message: rsa.sign(&large).expect("sign"),
        },
    ];
    let files: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let p = dir.0.join(format!("{i}.eml"));
            std::fs::write(&p, &c.message).expect("write");
            p
        })
        .collect();

    // samples[contender][case]
    let mut samples = vec![vec![Vec::new(); cases.len()]; 2];
    for rep in 0..reps() {
        for k in 0..2 {
            match (k + rep) % 2 {
                0 => {
                    for (i, c) in cases.iter().enumerate() {
                        samples[0][i].push(smtpkit_rate(&c.message, &dns, budget));
                    }
                }
                _ => {
                    for (i, r) in dkimpy_rates(&dir, &files, budget).into_iter().enumerate() {
                        samples[1][i].push(r);
                    }
                }
            }
        }
    }
    let names = ["smtpkit DkimVerifier", "dkimpy 1.1"];
    let mut rows = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let meds = [median(&samples[0][i]), median(&samples[1][i])];
        for k in 0..2 {
            rows.push(vec![
                format!("{}, {} B", c.label, c.message.len()),
                names[k].to_string(),
                fmt_num(meds[k]),
                ratio(meds[k], &meds[1..], true),
            ]);
        }
    }
    let mut body = String::from("## Inbound authentication: DKIM verification\n\n");
    body.push_str(&run_note("auth"));
    body.push_str("\nOne verification: the whole message through the verifier (header kept, body hashed), the key looked up in a table (smtpkit `StaticResolver`, dkimpy a dict behind `dnsfunc`: no DNS timed), the signature checked; dkimpy timed inside the interpreter. Ratios are against dkimpy.\n\n");
    body.push_str(&table(
        &["message", "verifier", "verifications/s", "vs dkimpy"],
        &rows,
    ));
    body.push_str(&format!(
        "\n(auth bench took {:.0} s)\n",
        t_start.elapsed().as_secs_f64()
    ));
    println!("{body}");
    write_section("auth-dkim", &body);
}
