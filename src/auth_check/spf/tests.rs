//! Unit tests of the SPF parser, macros and evaluation (DNS from a `StaticResolver`).

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::dns::StaticResolver;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

// --- the parser -------------------------------------------------------------------------

#[test]
fn parses_every_mechanism_and_modifier() {
    let r = Record::parse(
        "v=spf1 +all -include:a.example ~a ?a:b.example/24//64 mx//96 mx:c.example/16 ptr \
         ptr:d.example ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{i}.e.example \
         redirect=f.example exp=g.example other=%{d}",
    )
    .unwrap();
    let q: Vec<Qualifier> = r.directives.iter().map(|d| d.qualifier).collect();
    assert_eq!(
        q[..4],
        [
            Qualifier::Pass,
            Qualifier::Fail,
            Qualifier::SoftFail,
            Qualifier::Neutral
        ]
    );
    assert_eq!(r.directives.len(), 11);
    assert!(matches!(
        r.directives[3].mechanism,
        Mechanism::A {
            domain: Some(_),
            cidr4: 24,
            cidr6: 64
        }
    ));
    assert!(matches!(
        r.directives[4].mechanism,
        Mechanism::Mx {
            domain: None,
            cidr4: 32,
            cidr6: 96
        }
    ));
    assert_eq!(
        r.directives[8].mechanism,
        Mechanism::Ip4 {
            addr: v4("192.0.2.0"),
            prefix: 24
        }
    );
    assert_eq!(
        r.directives[9].mechanism,
        Mechanism::Ip6 {
            addr: "2001:db8::".parse().unwrap(),
            prefix: 32
        }
    );
    assert!(r.redirect.is_some() && r.exp.is_some());
    // Names are case-insensitive; terms are separated by any number of spaces.
    assert!(Record::parse("V=SPF1  IP4:192.0.2.1   -ALL  ").is_ok());
    assert!(Record::parse("v=spf1").unwrap().directives.is_empty());
}

#[test]
fn syntax_errors() {
    for bad in [
        "v=spf1 ip4:192.0.2.0/33",
        "v=spf1 ip4:192.0.02.1",
        "v=spf1 ip4:192.0.2",
        "v=spf1 ip4:192.0.2.1//64",
        "v=spf1 ip6:2001:db8::/129",
        "v=spf1 ip6:192.0.2.1",
        "v=spf1 a/24/",
        "v=spf1 a:example.com/",
        "v=spf1 a/033",
        "v=spf1 a:192.0.2.1",
        "v=spf1 a:example.123",
        "v=spf1 include",
        "v=spf1 include:",
        "v=spf1 exists",
        "v=spf1 all:foo",
        "v=spf1 -all/24",
        "v=spf1 foo",
        "v=spf1 foo:bar.example",
        "v=spf1 -redirect=a.example",
        "v=spf1 redirect=a.example redirect=b.example",
        "v=spf1 exp=a.example exp=b.example",
        "v=spf1 redirect=",
        "v=spf1 exists:%{x}.example",
        "v=spf1 exists:%{c}.example",
        "v=spf1 exists:%{d0}.example",
        "v=spf1 exists:%{d}%.example",
        "v=spf1 exists:%{d.example",
        "v=spf1 unknown=%",
        "v=spf1 a:ctrl.example\rptr",
        "v=spf1 a:caf\u{e9}.example",
        "v=spf1\t-all",
    ] {
        assert!(Record::parse(bad).is_err(), "{bad:?} should not parse");
    }
    assert_eq!(
        Record::parse("v=spf1 redirect=a.example Redirect=b.example"),
        Err(RecordError::DuplicateModifier("redirect"))
    );
    assert_eq!(Record::parse("v=spf10 -all"), Err(RecordError::NotSpf));
    assert_eq!(
        Record::parse(&format!("v=spf1 {}", "a ".repeat(MAX_RECORD_LEN))),
        Err(RecordError::TooLong)
    );
}

#[test]
fn domain_specs_with_macros_and_slashes() {
    // A domain-end may be a macro; `/` in a macro literal is not a CIDR.
    assert!(Record::parse("v=spf1 a:%{d} exists:%{i}.%{s1}.100/86400.rate.%{d}").is_ok());
    let r = Record::parse("v=spf1 -mx:%%%_/.Clara.de/27").unwrap();
    assert!(matches!(
        r.directives[0].mechanism,
        Mechanism::Mx { cidr4: 27, .. }
    ));
    // A trailing dot is allowed.
    assert!(Record::parse("v=spf1 a:mail.example.com.").is_ok());
}

#[test]
fn spf_record_selection() {
    assert!(is_spf_record("v=spf1"));
    assert!(is_spf_record("V=Spf1 -all"));
    assert!(!is_spf_record("v=spf10"));
    assert!(!is_spf_record("v=spf1-all"));
    assert!(!is_spf_record(" v=spf1"));
}

// --- macros -----------------------------------------------------------------------------

fn expand(s: &str, ip: &str) -> String {
    let ctx = MacroContext {
        sender: "strong-bad@email.example.com",
        local: "strong-bad",
        sender_domain: "email.example.com",
        domain: "email.example.com",
        ip: ip.parse().unwrap(),
        helo: "mx.example.org",
        receiver: "rcv.example.net",
        timestamp: 1234,
    };
    MacroString::parse(s, true)
        .unwrap()
        .expand(&ctx, &mut || "mx.example.org".to_string())
        .unwrap()
}

#[test]
fn rfc7208_section_7_4_examples() {
    for (m, want) in [
        ("%{s}", "strong-bad@email.example.com"),
        ("%{o}", "email.example.com"),
        ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"),
        ("%{d3}", "email.example.com"),
        ("%{d2}", "example.com"),
        ("%{d1}", "com"),
        ("%{dr}", "com.example.email"),
        ("%{d2r}", "example.email"),
        ("%{l}", "strong-bad"),
        ("%{l-}", "strong.bad"),
        ("%{lr}", "strong-bad"),
        ("%{lr-}", "bad.strong"),
        ("%{l1r-}", "strong"),
        (
            "%{ir}.%{v}._spf.%{d2}",
            "3.2.0.192.in-addr._spf.example.com",
        ),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        (
            "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
            "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
        ),
        (
            "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
            "3.2.0.192.in-addr.strong.lp._spf.example.com",
        ),
        (
            "%{d2}.trusted-domains.example.net",
            "example.com.trusted-domains.example.net",
        ),
        ("%{p}", "mx.example.org"),
        ("%{p2}", "example.org"),
        ("%%%_%-", "% %20"),
        ("%{S}", "strong-bad%40email.example.com"),
        (
            "%{c} %{r} %{t} %{h}",
            "192.0.2.3 rcv.example.net 1234 mx.example.org",
        ),
        ("%{l+-}", "strong.bad"),
        ("%{d99}", "email.example.com"),
    ] {
        assert_eq!(expand(m, "192.0.2.3"), want, "{m}");
    }
    assert_eq!(
        expand("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01"),
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
    );
    assert_eq!(expand("%{c}", "2001:db8::cb01"), "2001:db8::cb01");
}

#[test]
fn p_is_asked_once_and_only_when_used() {
    let ctx = MacroContext {
        sender: "a@b.example",
        local: "a",
        sender_domain: "b.example",
        domain: "b.example",
        ip: ip("192.0.2.1"),
        helo: "h",
        receiver: "r",
        timestamp: 0,
    };
    let mut asked = 0;
    let ms = MacroString::parse("%{p}.%{p1}.x", false).unwrap();
    assert!(ms.uses_p());
    let out = ms
        .expand(&ctx, &mut || {
            asked += 1;
            "host.b.example".to_string()
        })
        .unwrap();
    assert_eq!((out.as_str(), asked), ("host.b.example.example.x", 1));
    assert!(!MacroString::parse("%{d}", false).unwrap().uses_p());
}

#[test]
fn expansion_is_bounded_and_truncated() {
    let long_local = "x".repeat(60);
    let ctx = MacroContext {
        sender: "s",
        local: &long_local,
        sender_domain: "d",
        domain: "d",
        ip: ip("192.0.2.1"),
        helo: "h",
        receiver: "r",
        timestamp: 0,
    };
    let huge = MacroString::parse(&"%{l}".repeat(1000), false).unwrap();
    assert!(huge.expand(&ctx, &mut String::new).is_err());
    let name = format!("{}.example.com", vec!["a".repeat(60); 5].join("."));
    let cut = truncate_domain(&name);
    assert!(cut.len() <= 253 && name.ends_with(cut) && cut.starts_with('a'));
    assert_eq!(truncate_domain("example.com."), "example.com");
}

// --- evaluation -------------------------------------------------------------------------

fn outcome(dns: &StaticResolver, client: &str, from: &str) -> SpfOutcome {
    check_mail_from(ip(client), from, "helo.example", dns)
}

#[test]
fn outcome_fields() {
    let dns = StaticResolver::new()
        .with_txt(
            "example.org",
            "v=spf1 ip4:192.0.2.0/24 -all exp=why.example.org",
        )
        .with_txt("why.example.org", "%{i} may not send for %{d}");
    let pass = outcome(&dns, "192.0.2.7", "Bob@Example.ORG");
    assert_eq!(pass.result, SpfResult::Pass);
    assert_eq!(pass.identity, SpfIdentity::MailFrom);
    assert_eq!(pass.subject, "Bob@Example.ORG");
    assert_eq!(pass.domain, "example.org");
    assert_eq!((pass.explanation, pass.reason), (None, None));
    let fail = outcome(&dns, "198.51.100.1", "bob@example.org");
    assert_eq!(fail.result, SpfResult::Fail);
    assert_eq!(
        fail.explanation.as_deref(),
        Some("198.51.100.1 may not send for example.org")
    );
    // The null path checks postmaster@helo.
    let dns = dns.with_txt("helo.example", "v=spf1 -all");
    let null = outcome(&dns, "192.0.2.7", "");
    assert_eq!(null.result, SpfResult::Fail);
    assert_eq!(null.subject, "postmaster@helo.example");
    assert_eq!(null.domain, "helo.example");
    // None, with a reason.
    let none = outcome(&dns, "192.0.2.7", "a@nowhere.example");
    assert_eq!(none.result, SpfResult::None);
    assert!(none.reason.is_some());
}

#[test]
fn helo_identity() {
    let dns = StaticResolver::new()
        .with_txt("mail.example.org", "v=spf1 a -all")
        .with_a("mail.example.org", v4("192.0.2.1"));
    let o = check_helo(ip("192.0.2.1"), "mail.example.org", &dns);
    assert_eq!(o.result, SpfResult::Pass);
    assert_eq!(o.identity, SpfIdentity::Helo);
    assert_eq!(
        (o.subject.as_str(), o.domain.as_str()),
        ("mail.example.org", "mail.example.org")
    );
    assert_eq!(
        check_helo(ip("192.0.2.2"), "mail.example.org", &dns).result,
        SpfResult::Fail
    );
    for literal in ["[192.0.2.1]", "[IPv6:2001:db8::1]", "192.0.2.1"] {
        let o = check_helo(ip("192.0.2.1"), literal, &dns);
        assert_eq!(o.result, SpfResult::None, "{literal}");
        assert!(o.reason.is_some());
    }
    // A single-label HELO is not a checkable domain (§4.3).
    assert_eq!(
        check_helo(ip("192.0.2.1"), "localhost", &dns).result,
        SpfResult::None
    );
}

#[test]
fn invalid_domains_are_none() {
    let dns = StaticResolver::new();
    for from in [
        "a@b..example",
        "a@[192.0.2.1]",
        "a@nodot",
        &format!("a@{}.example", "x".repeat(64)),
        &format!("a@{}example", "abcdefgh.".repeat(29)),
    ] {
        assert_eq!(
            outcome(&dns, "192.0.2.1", from).result,
            SpfResult::None,
            "{from}"
        );
    }
}

#[test]
fn temperror_and_permerror() {
    let dns = StaticResolver::new()
        .with_failure("down.example")
        .with_txt("two.example", "v=spf1 -all")
        .with_txt("two.example", "v=spf1 +all")
        .with_txt("inc.example", "v=spf1 include:down.example -all")
        .with_txt("incnone.example", "v=spf1 include:none.example -all")
        .with_txt("rednone.example", "v=spf1 redirect=none.example")
        .with_txt("bad.example", "v=spf1 ip4:300.1.1.1");
    let r = |d: &str| outcome(&dns, "192.0.2.1", &format!("x@{d}"));
    assert_eq!(r("down.example").result, SpfResult::TempError);
    assert!(r("down.example").reason.is_some());
    assert_eq!(r("inc.example").result, SpfResult::TempError);
    for d in [
        "two.example",
        "incnone.example",
        "rednone.example",
        "bad.example",
    ] {
        let o = r(d);
        assert_eq!(o.result, SpfResult::PermError, "{d}");
        assert!(o.reason.is_some(), "{d}");
    }
}

#[test]
fn include_semantics() {
    let dns = StaticResolver::new()
        .with_txt("pass.example", "v=spf1 +all")
        .with_txt("fail.example", "v=spf1 -all")
        .with_txt("soft.example", "v=spf1 ~all")
        .with_txt("neutral.example", "v=spf1 ?all")
        .with_txt("p.example", "v=spf1 include:pass.example -all")
        .with_txt("f.example", "v=spf1 include:fail.example ~all")
        .with_txt("s.example", "v=spf1 include:soft.example ?all")
        .with_txt("n.example", "v=spf1 include:neutral.example -all")
        .with_txt("neg.example", "v=spf1 -include:pass.example +all");
    let r = |d: &str| outcome(&dns, "192.0.2.1", &format!("x@{d}")).result;
    assert_eq!(r("p.example"), SpfResult::Pass);
    assert_eq!(r("f.example"), SpfResult::SoftFail);
    assert_eq!(r("s.example"), SpfResult::Neutral);
    assert_eq!(r("n.example"), SpfResult::Fail);
    assert_eq!(r("neg.example"), SpfResult::Fail);
}

#[test]
fn redirect_and_explanations() {
    let dns = StaticResolver::new()
        .with_txt("a.example", "v=spf1 redirect=b.example exp=ea.example")
        .with_txt("b.example", "v=spf1 -all exp=eb.example")
        .with_txt("ea.example", "from a")
        .with_txt("eb.example", "from b %{d} %{o}")
        .with_txt("c.example", "v=spf1 include:b.example -all exp=ec.example")
        .with_txt("ec.example", "from c")
        .with_txt("d.example", "v=spf1 -all exp=two.example")
        .with_txt("two.example", "one")
        .with_txt("two.example", "two");
    let r = |d: &str| outcome(&dns, "192.0.2.1", &format!("x@{d}"));
    // A redirect's explanation is the target's, with %{d} the target (§6.1, §6.2).
    assert_eq!(
        r("a.example").explanation.as_deref(),
        Some("from b b.example a.example")
    );
    // An include's explanation is never used.
    assert_eq!(r("c.example").explanation.as_deref(), Some("from c"));
    // Two TXT records: no explanation, still a fail.
    let d = r("d.example");
    assert_eq!((d.result, d.explanation), (SpfResult::Fail, None));
}

#[test]
fn lookup_limits_are_configurable() {
    let eleven = format!("v=spf1{} -all", " a".repeat(11));
    let dns = StaticResolver::new()
        .with_txt("many.example", &eleven)
        .with_a("many.example", v4("203.0.113.1"));
    let client = ip("192.0.2.1");
    assert_eq!(
        outcome(&dns, "192.0.2.1", "x@many.example").result,
        SpfResult::PermError
    );
    let opts = SpfOptions {
        max_dns_mechanisms: 11,
        ..SpfOptions::default()
    };
    let o = check_mail_from_with(client, "x@many.example", "h", &dns, &opts);
    assert_eq!(o.result, SpfResult::Fail);
    // Zero lookups allowed: the first `a` is over the limit.
    let zero = SpfOptions {
        max_dns_mechanisms: 0,
        ..SpfOptions::default()
    };
    let o = check_mail_from_with(client, "x@many.example", "h", &dns, &zero);
    assert_eq!(o.result, SpfResult::PermError);
}

#[test]
fn void_lookup_limit() {
    let dns = StaticResolver::new()
        .with_txt("v2.example", "v=spf1 a:n1.example a:n2.example -all")
        .with_txt(
            "v3.example",
            "v=spf1 a:n1.example a:n2.example exists:n3.example -all",
        )
        .with_txt("empty.example", "v=spf1 a -all");
    let r = |d: &str| outcome(&dns, "192.0.2.1", &format!("x@{d}")).result;
    assert_eq!(r("v2.example"), SpfResult::Fail);
    assert_eq!(r("v3.example"), SpfResult::PermError);
    // NODATA counts as void too; one is fine.
    assert_eq!(r("empty.example"), SpfResult::Fail);
    let strict = SpfOptions {
        max_void_lookups: 1,
        ..SpfOptions::default()
    };
    let o = check_mail_from_with(ip("192.0.2.1"), "x@v2.example", "h", &dns, &strict);
    assert_eq!(o.result, SpfResult::PermError);
}

#[test]
fn mx_limit_and_matching() {
    let mut dns = StaticResolver::new()
        .with_txt("ten.example", "v=spf1 mx -all")
        .with_txt("eleven.example", "v=spf1 mx -all");
    for i in 1..=11u8 {
        let host = format!("m{i}.example");
        dns = dns.with_a(&host, Ipv4Addr::new(192, 0, 2, i));
        if i <= 10 {
            dns = dns.with_mx("ten.example", u16::from(i), &host);
        }
        dns = dns.with_mx("eleven.example", u16::from(i), &host);
    }
    let r = |d: &str, c: &str| outcome(&dns, c, &format!("x@{d}")).result;
    assert_eq!(r("ten.example", "192.0.2.10"), SpfResult::Pass);
    assert_eq!(r("ten.example", "192.0.2.11"), SpfResult::Fail);
    assert_eq!(r("eleven.example", "192.0.2.1"), SpfResult::PermError);
}

#[test]
fn ptr_mechanism_and_p_macro() {
    let client = ip("192.0.2.5");
    let dns = StaticResolver::new()
        .with_ptr(client, "fake.other.example")
        .with_ptr(client, "mail.example.org")
        .with_a("mail.example.org", v4("192.0.2.5"))
        .with_a("fake.other.example", v4("198.51.100.1"))
        .with_txt("example.org", "v=spf1 ptr -all")
        .with_txt("other.example", "v=spf1 ptr -all")
        .with_txt("p.example", "v=spf1 exists:%{p}.ok.example -all")
        .with_a("mail.example.org.ok.example", v4("127.0.0.2"));
    let r = |d: &str| outcome(&dns, "192.0.2.5", &format!("x@{d}")).result;
    assert_eq!(r("example.org"), SpfResult::Pass);
    // fake.other.example does not resolve back to the client: not validated.
    assert_eq!(r("other.example"), SpfResult::Fail);
    assert_eq!(r("p.example"), SpfResult::Pass);
}

#[test]
fn ptr_names_beyond_the_limit_are_ignored() {
    let client = ip("192.0.2.5");
    let mut dns = StaticResolver::new().with_txt("example.org", "v=spf1 ptr -all");
    for i in 0..10 {
        dns = dns.with_ptr(client, &format!("h{i}.elsewhere.example"));
    }
    dns = dns
        .with_ptr(client, "mail.example.org")
        .with_a("mail.example.org", v4("192.0.2.5"));
    // The eleventh name would match, but only ten are looked at (and their lookups are
    // void, so the limit is raised to see the PTR limit alone).
    let opts = SpfOptions {
        max_void_lookups: 20,
        ..SpfOptions::default()
    };
    let o = check_mail_from_with(client, "x@example.org", "h", &dns, &opts);
    assert_eq!(o.result, SpfResult::Fail);
    let more = SpfOptions {
        max_ptr_names: 11,
        ..opts
    };
    let o = check_mail_from_with(client, "x@example.org", "h", &dns, &more);
    assert_eq!(o.result, SpfResult::Pass);
}

#[test]
fn ipv6_and_mapped_clients() {
    let dns = StaticResolver::new()
        .with_txt(
            "example.org",
            "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/48 a:dual.example.org//64 -all",
        )
        .with_aaaa("dual.example.org", "2001:db8:ff::1".parse().unwrap());
    let r = |c: &str| outcome(&dns, c, "x@example.org").result;
    assert_eq!(r("::ffff:192.0.2.9"), SpfResult::Pass);
    assert_eq!(r("2001:db8:0:1::9"), SpfResult::Pass);
    assert_eq!(r("2001:db8:ff::abcd"), SpfResult::Pass);
    assert_eq!(r("2001:db9::1"), SpfResult::Fail);
    assert_eq!(r("198.51.100.1"), SpfResult::Fail);
}

#[test]
fn include_loops_and_depth_are_bounded() {
    let dns = StaticResolver::new()
        .with_txt("loop.example", "v=spf1 include:loop.example -all")
        .with_txt("red.example", "v=spf1 redirect=red.example");
    let huge = SpfOptions {
        max_dns_mechanisms: usize::MAX,
        max_void_lookups: usize::MAX,
        max_depth: usize::MAX,
        ..SpfOptions::default()
    };
    for d in ["x@loop.example", "x@red.example"] {
        assert_eq!(outcome(&dns, "192.0.2.1", d).result, SpfResult::PermError);
        let o = check_mail_from_with(ip("192.0.2.1"), d, "h", &dns, &huge);
        assert_eq!(o.result, SpfResult::PermError, "{d}");
    }
}

#[test]
fn local_part_defaults_to_postmaster() {
    let dns = StaticResolver::new()
        .with_txt("example.org", "v=spf1 exists:%{l}.%{o}.ok.example -all")
        .with_a("postmaster.example.org.ok.example", v4("127.0.0.2"));
    assert_eq!(
        outcome(&dns, "192.0.2.1", "@example.org").result,
        SpfResult::Pass
    );
    assert_eq!(
        outcome(&dns, "192.0.2.1", "example.org").result,
        SpfResult::Pass
    );
}

#[test]
fn record_length_limit() {
    let long = format!("v=spf1 {}-all", "ip4:192.0.2.1 ".repeat(300));
    let dns = StaticResolver::new().with_txt("long.example", &long);
    let o = outcome(&dns, "192.0.2.9", "x@long.example");
    assert_eq!(o.result, SpfResult::PermError);
    let opts = SpfOptions {
        max_record_len: 8192,
        ..SpfOptions::default()
    };
    let o = check_mail_from_with(ip("192.0.2.9"), "x@long.example", "h", &dns, &opts);
    assert_eq!(o.result, SpfResult::Fail);
}

/// A resolver that takes `delay` for every TXT lookup.
struct Slow {
    inner: StaticResolver,
    delay: std::time::Duration,
}

impl crate::dns::Resolver for Slow {
    fn txt(&self, name: &str) -> Result<Vec<String>, crate::dns::DnsError> {
        std::thread::sleep(self.delay);
        self.inner.txt(name)
    }
    fn a(&self, name: &str) -> Result<Vec<Ipv4Addr>, crate::dns::DnsError> {
        self.inner.a(name)
    }
    fn aaaa(&self, name: &str) -> Result<Vec<std::net::Ipv6Addr>, crate::dns::DnsError> {
        self.inner.aaaa(name)
    }
    fn mx(&self, name: &str) -> Result<Vec<(u16, String)>, crate::dns::DnsError> {
        self.inner.mx(name)
    }
    fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, crate::dns::DnsError> {
        self.inner.ptr(ip)
    }
}

#[test]
fn time_limit_gives_temperror() {
    let dns = Slow {
        inner: StaticResolver::new()
            .with_txt("example.org", "v=spf1 include:inc.example.org -all")
            .with_txt("inc.example.org", "v=spf1 +all"),
        delay: std::time::Duration::from_millis(30),
    };
    let opts = SpfOptions {
        max_time: std::time::Duration::from_millis(10),
        ..SpfOptions::default()
    };
    // The first lookup starts in time and takes 30 ms; the include's is then over the limit.
    let o = check_mail_from_with(ip("192.0.2.9"), "x@example.org", "h", &dns, &opts);
    assert_eq!(o.result, SpfResult::TempError, "{o:?}");
    assert!(o.reason.is_some_and(|r| r.contains("longer than")));
    let o = check_mail_from(ip("192.0.2.9"), "x@example.org", "h", &dns);
    assert_eq!(o.result, SpfResult::Pass);
}

#[test]
fn explanation_never_holds_control_characters() {
    let dns = StaticResolver::new()
        .with_txt("example.org", "v=spf1 -all exp=why.example.org")
        .with_txt("why.example.org", "sender %{l}");
    let o = outcome(&dns, "192.0.2.9", "evil\r\n250 ok@example.org");
    assert_eq!((o.result, o.explanation), (SpfResult::Fail, None));
    let o = outcome(&dns, "192.0.2.9", "fine@example.org");
    assert_eq!(o.explanation.as_deref(), Some("sender fine"));
}
