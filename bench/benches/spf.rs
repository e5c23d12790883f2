//! SPF bench: `check_host()` evaluations per second, smtpkit against pyspf, on the same
//! records with DNS answered from memory on both sides (smtpkit: `StaticResolver`; pyspf: its
//! `DNSLookup` hook over a dict, as pyspf's own test driver does), so the table compares the
//! evaluators, not DNS. Each scenario's result is checked to be the same on both sides first.
//!
//! `cargo bench -p smtpkit-bench --bench spf` (`SMTPKIT_BENCH_QUICK=1` for fewer runs). Prints
//! its table and writes it to BENCHMARKS.md (section `auth-spf`).

use std::hint::black_box;
use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use smtpkit::auth_check::spf::{SpfOptions, check_host};
use smtpkit::dns::StaticResolver;
use smtpkit_bench::{fmt_num, median, quick, ratio, reps, run_note, table, write_section};

/// One record: (name, kind, value); kind A, AAAA, MX ("pref host"), PTR (value = address,
/// name = target), TXT.
type Rr = (&'static str, &'static str, &'static str);

struct Scenario {
    name: &'static str,
    ip: &'static str,
    sender: &'static str,
    zone: Vec<Rr>,
}

fn scenarios() -> Vec<Scenario> {
    let provider = vec![
        (
            "corp.example",
            "TXT",
            "v=spf1 include:_spf.a.example include:_spf.b.example mx ~all",
        ),
        (
            "_spf.a.example",
            "TXT",
            "v=spf1 ip4:203.0.113.0/24 ip4:198.18.0.0/15 ip6:2001:db8:a::/48 ~all",
        ),
        (
            "_spf.b.example",
            "TXT",
            "v=spf1 ip4:192.0.2.0/25 ip4:192.0.2.128/26 ip6:2001:db8:b::/48 ~all",
        ),
        ("corp.example", "MX", "10 mx.corp.example"),
        ("mx.corp.example", "A", "198.51.100.25"),
    ];
    let mut eleven: Vec<Rr> = vec![(
        "big.example",
        "TXT",
        "v=spf1 include:i1.big.example include:i2.big.example include:i3.big.example \
         include:i4.big.example include:i5.big.example include:i6.big.example \
         include:i7.big.example include:i8.big.example include:i9.big.example \
         include:i10.big.example include:i11.big.example -all",
    )];
    for n in [
        "i1.big.example",
        "i2.big.example",
        "i3.big.example",
        "i4.big.example",
        "i5.big.example",
        "i6.big.example",
        "i7.big.example",
        "i8.big.example",
        "i9.big.example",
        "i10.big.example",
        "i11.big.example",
    ] {
        eleven.push((n, "TXT", "v=spf1 ip4:10.0.0.0/8 ?all"));
    }
    vec![
        Scenario {
            name: "ip4 list, pass",
            ip: "192.0.2.77",
            sender: "alice@ip.example",
            zone: vec![(
                "ip.example",
                "TXT",
                "v=spf1 ip4:198.51.100.0/24 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all",
            )],
        },
        Scenario {
            name: "2 includes + mx, pass in the 2nd include",
            ip: "192.0.2.140",
            sender: "bob@corp.example",
            zone: provider.clone(),
        },
        Scenario {
            name: "2 includes + mx, softfail (IPv6)",
            ip: "2001:db8:c::1",
            sender: "bob@corp.example",
            zone: provider,
        },
        Scenario {
            name: "a + mx + ptr, pass on ptr",
            ip: "192.0.2.9",
            sender: "carol@host.example",
            zone: vec![
                ("host.example", "TXT", "v=spf1 a mx ptr -all"),
                ("host.example", "A", "192.0.2.1"),
                ("host.example", "MX", "10 mx.host.example"),
                ("mx.host.example", "A", "192.0.2.2"),
                ("out9.host.example", "PTR", "192.0.2.9"),
                ("out9.host.example", "A", "192.0.2.9"),
            ],
        },
        Scenario {
            name: "exists with macros, fail + exp",
            ip: "192.0.2.9",
            sender: "dave.smith@macro.example",
            zone: vec![
                (
                    "macro.example",
                    "TXT",
                    "v=spf1 exists:%{ir}.%{l1r.}.%{d}.list.example -all exp=why.macro.example",
                ),
                (
                    "why.macro.example",
                    "TXT",
                    "%{i} is not allowed to send for %{d}",
                ),
            ],
        },
        Scenario {
            name: "11 includes, permerror",
            ip: "192.0.2.9",
            sender: "eve@big.example",
            zone: eleven,
        },
    ]
}

fn resolver(zone: &[Rr]) -> StaticResolver {
    let mut r = StaticResolver::new();
    for (name, kind, value) in zone {
        r = match *kind {
            "A" => r.with_a(name, value.parse().expect("A")),
            "AAAA" => r.with_aaaa(name, value.parse().expect("AAAA")),
            "MX" => {
                let (pref, host) = value.split_once(' ').expect("MX");
                r.with_mx(name, pref.parse().expect("pref"), host)
            }
            "PTR" => r.with_ptr(value.parse().expect("PTR address"), name),
            _ => r.with_txt(name, value),
        };
    }
    r
}

fn domain_of(sender: &str) -> &str {
    sender.rsplit_once('@').map_or(sender, |(_, d)| d)
}

/// pyspf over a dict: prints `result ops_per_sec` per scenario (median of `reps`).
const PYSPF: &str = r#"
import ipaddress, json, sys, time
import spf
scenarios = json.loads(sys.stdin.read())
budget, reps = float(sys.argv[1]), int(sys.argv[2])
zone = {}
def lookup(name, qtype, strict=True, timeout=None, level=0):
    for k, v in zone.get((name.lower().rstrip('.'), qtype), []):
        yield k, v
spf.DNSLookup = lookup
for sc in scenarios:
    zone = {}
    for name, kind, value in sc['zone']:
        if kind == 'PTR':
            rev = ipaddress.ip_address(value).reverse_pointer
            key, val = (rev, 'PTR'), name
            name = rev
        elif kind == 'MX':
            pref, host = value.split(' ')
            key, val = (name, 'MX'), (int(pref), host)
        elif kind == 'TXT':
            key, val = (name, 'TXT'), (value.encode(),)
        else:
            key, val = (name, kind), value
        zone.setdefault(key, []).append(((name, kind), val))
    def once():
        return spf.query(i=sc['ip'], s=sc['sender'], h='helo.example').check()[0]
    result = once()
    rates = []
    for _ in range(reps):
        n, start = 0, time.perf_counter()
        while n == 0 or time.perf_counter() - start < budget:
            once(); n += 1
        rates.append(n / (time.perf_counter() - start))
    rates.sort()
    print(result, rates[len(rates) // 2])
"#;

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let budget = Duration::from_millis(if quick() { 200 } else { 500 });
    let scenarios = scenarios();
    let opts = SpfOptions::default();

    // pyspf, all scenarios in one process.
    let mut json = String::from("[");
    for (i, sc) in scenarios.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        let zone: Vec<String> = sc
            .zone
            .iter()
            .map(|(n, k, v)| format!("[{},{},{}]", json_str(n), json_str(k), json_str(v)))
            .collect();
        json.push_str(&format!(
            "{{\"ip\":{},\"sender\":{},\"zone\":[{}]}}",
            json_str(sc.ip),
            json_str(sc.sender),
            zone.join(",")
        ));
    }
    json.push(']');
    // Round-robin within every repetition: pyspf (every scenario, one process), then smtpkit.
    let mut py_rates: Vec<Vec<f64>> = vec![Vec::new(); scenarios.len()];
    let mut our_rates: Vec<Vec<f64>> = vec![Vec::new(); scenarios.len()];
    let mut py_results: Vec<String> = vec!["n/a".to_string(); scenarios.len()];
    let zones: Vec<StaticResolver> = scenarios.iter().map(|sc| resolver(&sc.zone)).collect();
    for _ in 0..reps() {
        for (i, (r, x)) in run_pyspf(&json, budget)
            .into_iter()
            .enumerate()
            .take(scenarios.len())
        {
            py_results[i] = r;
            py_rates[i].push(x);
        }
        for (i, sc) in scenarios.iter().enumerate() {
            let ip: IpAddr = sc.ip.parse().expect("scenario ip");
            let domain = domain_of(sc.sender);
            let dns = &zones[i];
            our_rates[i].push(smtpkit_bench::ops_per_sec(budget, || {
                black_box(check_host(
                    black_box(ip),
                    domain,
                    sc.sender,
                    "helo.example",
                    dns,
                    &opts,
                ));
            }));
        }
    }
    let mut rows = Vec::new();
    for (i, sc) in scenarios.iter().enumerate() {
        let ip: IpAddr = sc.ip.parse().expect("scenario ip");
        let ours = check_host(
            ip,
            domain_of(sc.sender),
            sc.sender,
            "helo.example",
            &zones[i],
            &opts,
        )
        .result;
        let ours_rate = median(&our_rates[i]);
        let py_rate = if py_rates[i].is_empty() {
            f64::NAN
        } else {
            median(&py_rates[i])
        };
        let py_result = &py_results[i];
        assert!(
            py_result == "n/a" || *py_result == ours.to_string(),
            "{}: smtpkit {ours}, pyspf {py_result}",
            sc.name
        );
        rows.push(vec![
            sc.name.to_string(),
            ours.to_string(),
            fmt_num(ours_rate),
            fmt_num(py_rate),
            ratio(ours_rate, &[py_rate], true),
        ]);
    }
    let mut body = String::from("## Inbound authentication: SPF evaluations\n\n");
    body.push_str(&run_note("spf"));
    body.push_str(&format!(
        "\n{} repetitions of {} ms per scenario and contender; DNS answered from memory on both sides (smtpkit `StaticResolver`, pyspf a dict), and \
         each scenario's result checked equal first. Ratios are against pyspf.\n\n",
        reps(),
        budget.as_millis()
    ));
    body.push_str(&table(
        &[
            "scenario",
            "result",
            "smtpkit evals/s",
            "pyspf evals/s",
            "smtpkit / pyspf",
        ],
        &rows,
    ));
    println!("{body}");
    write_section("auth-spf", &body);
}

/// One pyspf process evaluating every scenario once for `budget` each: (result, evals/s).
fn run_pyspf(json: &str, budget: Duration) -> Vec<(String, f64)> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let py = Command::new(&python)
        .args(["-c", PYSPF, &budget.as_secs_f64().to_string(), "1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(json.as_bytes())?;
            }
            child.wait_with_output()
        });
    match py {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (r, x) = l.split_once(' ')?;
                Some((r.to_string(), x.parse().ok()?))
            })
            .collect(),
        Ok(out) => {
            eprintln!("pyspf failed: {}", String::from_utf8_lossy(&out.stderr));
            Vec::new()
        }
        Err(e) => {
            eprintln!("pyspf not run: {e}");
            Vec::new()
        }
    }
}
