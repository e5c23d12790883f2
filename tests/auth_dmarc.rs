//! DMARC evaluation against an independent implementation: the PyPI package `dmarc` (its
//! `DMARCPolicy`, which takes the DKIM and SPF results directly), with the organizational
//! domain from `publicsuffix2` (another copy of the Public Suffix List, read by other code).
//!
//! A generated corpus: From domains (subdomains, `co.uk`, `com.au`, `github.io`), DMARC
//! records at the From domain and/or its organizational domain (random `p`, `sp`, `adkim`,
//! `aspf`, `pct`, unknown tags, odd spacing), DKIM outcomes (0 to 3, random results and
//! signing domains) and an SPF outcome (random result and domain). Both sides get the same
//! DNS table and the same DKIM/SPF results; they must agree on the result (`pass`, `fail`,
//! `none`), the policy that applies (`p` or `sp`) and the disposition.
//!
//! What the harness does itself, because `dmarc` leaves it to the caller: record discovery
//! (`_dmarc.<From>`, then `_dmarc.<organizational domain>` by `publicsuffix2`) and `pct`
//! (the same fixed sample per case, 0 to 99: the policy applies when it is below `pct`,
//! else the next less strict disposition, RFC 7489 §6.6.4).
//!
//! Left out of the corpus, with the reason (and covered by unit tests in
//! `src/auth_check/dmarc.rs`):
//! - a DKIM or SPF domain that is itself a public suffix (`co.uk`): `dmarc` aligns it in
//!   relaxed mode with every domain under it, RFC 7489 does not (organizational domains differ);
//! - TLDs not on the list: `publicsuffix2` (2019 list, no implicit `*` rule) gives the TLD as
//!   the organizational domain, the PSL algorithm the name below it;
//! - invalid `p` with a valid `rua` (RFC 7489 §6.6.3 says act as `p=none`; `dmarc` refuses
//!   the record), and several records at one name (`dmarc` has no discovery).
//!
//! Needs `python3` with the PyPI packages `dmarc` and `publicsuffix2`: skipped when missing,
//! a failure under `CI=true`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::tools::{python_modules, run};

use smtpkit::auth_check::dmarc::{self, Options, Sampling};
use smtpkit::auth_check::{
    DkimOutcome, DkimResult, DmarcResult, Policy, SpfIdentity, SpfOutcome, SpfResult,
};
use smtpkit::dns::StaticResolver;

const ORACLE: &str = r#"
import json, re, sys
import dmarc
from publicsuffix2 import PublicSuffixList

psl = PublicSuffixList()
V = re.compile(r'^\s*v\s*=\s*DMARC1\s*(;|$)')
LESS = {'reject': 'quarantine', 'quarantine': 'none', 'none': 'none'}

def find(dns, name):
    return [t for t in dns.get('_dmarc.' + name, []) if V.match(t)]

for line in sys.stdin:
    case = json.loads(line)
    dns, frm = case['dns'], case['from']
    org = psl.get_sld(frm)
    recs, at = find(dns, frm), frm
    if not recs and org != frm:
        recs, at = find(dns, org), org
    if not recs:
        print('none - none')
        continue
    pol = dmarc.DMARCPolicy(record=recs[0], domain=frm,
                            org_domain=(org if at != frm else None),
                            publicsuffix=psl, strict=False)
    results = []
    for d in case['dkim']:
        results.append(dmarc.DKIMAuthResult(d['d'], dmarc.DKIMResult(d['r'])))
    s = case['spf']
    results.append(dmarc.SPFAuthResult(s['d'], dmarc.SPFResult(s['r'])))
    try:
        pol.verify(auth_results=results)
    except dmarc.PolicyError:
        pass
    res = pol.result
    # The policy that applies: dmarc gives it as the disposition of a failing message.
    policy = (pol.policy.sp if at != frm and pol.policy.sp is not dmarc.DMARCDisposition.UNSPECIFIED
              else pol.policy.p).value
    if res.result is dmarc.DMARCResult.PASS:
        print('pass %s none' % policy)
    else:
        dis = res.disposition.value
        if pol.policy.pct <= case['sample']:
            dis = LESS[dis]
        print('fail %s %s' % (policy, dis))
    sys.stdout.flush()
"#;

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// From domains, grouped by organizational domain; DKIM/SPF domains are drawn from the same
/// pool (never a bare public suffix).
const DOMAINS: &[&str] = &[
    "example.org",
    "mail.example.org",
    "a.b.example.org",
    "EXAMPLE.org",
    "example.net",
    "lists.example.net",
    "example.co.uk",
    "shop.example.co.uk",
    "other.co.uk",
    "mail.other.co.uk",
    "example.com.au",
    "news.example.com.au",
    "user.github.io",
    "x.user.github.io",
    "someone.github.io",
];

const POLICIES: &[&str] = &["none", "quarantine", "reject", "NONE", "Reject"];

fn record(rng: &mut Rng) -> String {
    let mut tags = vec![format!("p={}", rng.pick(POLICIES))];
    if rng.chance(40) {
        tags.push(format!("sp={}", rng.pick(POLICIES)));
    }
    if rng.chance(40) {
        tags.push(format!("adkim={}", rng.pick(&["r", "s", "S"])));
    }
    if rng.chance(40) {
        tags.push(format!("aspf={}", rng.pick(&["r", "s"])));
    }
    if rng.chance(30) {
        tags.push(format!("pct={}", rng.pick(&[0, 1, 50, 100])));
    }
    if rng.chance(20) {
        tags.push("rua=mailto:dmarc@example.org".to_string());
    }
    if rng.chance(10) {
        tags.push("x-future=1".to_string());
    }
    // p first after v in most records, anywhere in some (both sides allow it).
    if rng.chance(20) {
        let k = rng.below(tags.len());
        tags.swap(0, k);
    }
    let sep = *rng.pick(&["; ", ";", " ; "]);
    let end = *rng.pick(&["", ";", "; "]);
    format!("v=DMARC1{sep}{}{end}", tags.join(sep))
}

struct Case {
    from: String,
    dns: Vec<(String, String)>,
    dkim: Vec<DkimOutcome>,
    spf: SpfOutcome,
    /// The `pct=` sample (0..=99) for this message.
    sample: u8,
}

fn dkim_result(rng: &mut Rng) -> DkimResult {
    *rng.pick(&[
        DkimResult::Pass,
        DkimResult::Pass,
        DkimResult::Fail,
        DkimResult::Neutral,
        DkimResult::Policy,
        DkimResult::TempError,
        DkimResult::PermError,
    ])
}

fn spf_result(rng: &mut Rng) -> SpfResult {
    *rng.pick(&[
        SpfResult::Pass,
        SpfResult::Pass,
        SpfResult::Fail,
        SpfResult::SoftFail,
        SpfResult::Neutral,
        SpfResult::None,
        SpfResult::TempError,
        SpfResult::PermError,
    ])
}

/// A domain for a DKIM signature or the SPF check: half the time one with the From domain's
/// organizational domain (the From domain itself, a parent, a sibling), else any.
fn auth_domain(rng: &mut Rng, from: &str) -> String {
    let org = dmarc::organizational_domain(from);
    let related: Vec<String> = DOMAINS
        .iter()
        .map(|d| d.to_ascii_lowercase())
        .filter(|d| dmarc::organizational_domain(d) == org)
        .collect();
    if rng.chance(50) && !related.is_empty() {
        rng.pick(&related).clone()
    } else {
        rng.pick(DOMAINS).to_ascii_lowercase()
    }
}

fn generate(n: usize) -> Vec<Case> {
    let mut rng = Rng(0x5EED_D3A4C);
    (0..n)
        .map(|_| {
            let from = rng.pick(DOMAINS).to_string();
            let lower = from.to_ascii_lowercase();
            let org = dmarc::organizational_domain(&lower);
            let mut dns = Vec::new();
            // A record at the organizational domain, at the From domain, both, or neither.
            if rng.chance(70) {
                dns.push((format!("_dmarc.{org}"), record(&mut rng)));
            }
            if lower != org && rng.chance(30) {
                dns.push((format!("_dmarc.{lower}"), record(&mut rng)));
            }
            if rng.chance(15) {
                // A TXT record that is not DMARC's, which discovery skips.
                let at = rng.pick(&[org.clone(), lower.clone()]).clone();
                dns.push((format!("_dmarc.{at}"), "v=spf1 -all".to_string()));
            }
            let dkim = (0..rng.below(4))
                .map(|_| DkimOutcome {
                    result: dkim_result(&mut rng),
                    domain: auth_domain(&mut rng, &lower),
                    selector: "s".to_string(),
                    identity: None,
                    algorithm: "rsa-sha256".to_string(),
                    header_b: "abcdefgh".to_string(),
                    reason: None,
                })
                .collect();
            let spf_domain = auth_domain(&mut rng, &lower);
            let spf = SpfOutcome {
                result: spf_result(&mut rng),
                identity: SpfIdentity::MailFrom,
                subject: format!("bounce@{spf_domain}"),
                domain: spf_domain,
                explanation: None,
                reason: None,
            };
            let sample = *rng.pick(&[0, 0, 1, 49, 50, 99]);
            Case {
                from,
                dns,
                dkim,
                spf,
                sample,
            }
        })
        .collect()
}

fn json(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn case_json(c: &Case, sample: u8) -> String {
    let mut dns: Vec<(String, Vec<String>)> = Vec::new();
    for (name, txt) in &c.dns {
        match dns.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => v.push(json(txt)),
            None => dns.push((name.clone(), vec![json(txt)])),
        }
    }
    let dns: Vec<String> = dns
        .iter()
        .map(|(n, v)| format!("{}: [{}]", json(n), v.join(", ")))
        .collect();
    let dkim: Vec<String> = c
        .dkim
        .iter()
        .map(|d| format!("{{\"d\": {}, \"r\": \"{}\"}}", json(&d.domain), d.result))
        .collect();
    format!(
        "{{\"from\": {}, \"sample\": {sample}, \"dns\": {{{}}}, \"dkim\": [{}], \"spf\": {{\"d\": {}, \"r\": \"{}\"}}}}",
        json(&c.from.to_ascii_lowercase()),
        dns.join(", "),
        dkim.join(", "),
        json(&c.spf.domain),
        c.spf.result,
    )
}

fn ours(c: &Case, sample: u8) -> String {
    let mut dns = StaticResolver::new();
    for (name, txt) in &c.dns {
        dns = dns.with_txt(name, txt);
    }
    let opts = Options {
        sampling: Sampling::Fixed(sample),
        nonexistent_policy: false,
    };
    let out = dmarc::evaluate_with(&c.from, &c.dkim, &c.spf, &dns, &opts).outcome;
    let policy = out.policy.map_or("-".to_string(), |p| p.to_string());
    match out.result {
        DmarcResult::None => format!("none {policy} {}", out.disposition),
        r => format!("{r} {policy} {}", out.disposition),
    }
}

#[test]
fn dmarc_agrees_with_the_python_dmarc_package() {
    if !python_modules(&["dmarc", "publicsuffix2"], "dmarc publicsuffix2") {
        return;
    }
    let cases = generate(1000);
    let input: String = cases
        .iter()
        .map(|c| case_json(c, c.sample) + "\n")
        .collect();
    let out = run(
        Command::new("python3").args(["-c", ORACLE]),
        Some(input.as_bytes()),
        Duration::from_secs(600),
    );
    assert!(out.status.success(), "oracle failed: {}", out.stderr);
    let theirs: Vec<String> = out.stdout.lines().map(str::to_string).collect();
    assert_eq!(theirs.len(), cases.len(), "one answer per case");
    let mut mismatches = Vec::new();
    let mut counts = std::collections::BTreeMap::new();
    for (c, theirs) in cases.iter().zip(&theirs) {
        let ours = ours(c, c.sample);
        *counts
            .entry(ours.split(' ').next().unwrap_or("").to_string())
            .or_insert(0) += 1;
        if &ours != theirs {
            mismatches.push(format!(
                "from {} dns {:?} dkim {:?} spf {} {}: ours {ours:?}, dmarc {theirs:?}",
                c.from,
                c.dns,
                c.dkim
                    .iter()
                    .map(|d| format!("{}={}", d.domain, d.result))
                    .collect::<Vec<_>>(),
                c.spf.domain,
                c.spf.result
            ));
        }
    }
    println!(
        "DMARC corpus: {} cases ({counts:?}), {} disagreements",
        cases.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} cases disagree; first ones:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches[..mismatches.len().min(10)].join("\n")
    );
    // The corpus covers every outcome.
    for r in ["pass", "fail", "none"] {
        assert!(counts.get(r).copied().unwrap_or(0) >= 50, "{r}: {counts:?}");
    }
}

#[test]
fn the_policies_seen_in_the_corpus() {
    // Every policy value reaches both the p and the sp paths of the corpus.
    let cases = generate(1000);
    let mut seen = std::collections::HashSet::new();
    for c in &cases {
        let p = ours(c, 0);
        seen.insert(p.split(' ').nth(1).unwrap_or("").to_string());
    }
    for p in [Policy::None, Policy::Quarantine, Policy::Reject] {
        assert!(seen.contains(&p.to_string()), "{seen:?}");
    }
}
