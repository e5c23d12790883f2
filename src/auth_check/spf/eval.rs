//! `check_host()` (RFC 7208 §4, §5, §6): record selection, the mechanisms, include and
//! redirect, the explanation, and the processing limits.

use std::net::IpAddr;
use std::time::Instant;

use super::macros::{MacroContext, MacroString, truncate_domain};
use super::record::{Mechanism, Qualifier, Record, is_spf_record};
use super::{HostResult, SpfOptions};
use crate::auth_check::SpfResult;
use crate::dns::{DnsError, Resolver};

/// Why evaluation stopped early.
enum Stop {
    Temp(String),
    Perm(String),
}

/// The state of one `check_host()` evaluation, shared by its includes and redirects (the
/// limits count over the whole evaluation, §4.6.4).
pub(super) struct Eval<'a> {
    ip: IpAddr,
    sender: String,
    local: String,
    sender_domain: String,
    helo: &'a str,
    resolver: &'a dyn Resolver,
    opts: &'a SpfOptions,
    lookups: usize,
    voids: usize,
    /// Validated PTR names, computed once (the `ptr` mechanism and the `p` macro).
    validated: Option<Vec<String>>,
    started: Instant,
}

/// Hard cap on include/redirect nesting, whatever the options say: each level is a stack
/// frame, and the lookup limit keeps real records far below it.
const MAX_DEPTH: usize = 64;

impl<'a> Eval<'a> {
    pub(super) fn new(
        ip: IpAddr,
        sender: &str,
        helo: &'a str,
        resolver: &'a dyn Resolver,
        opts: &'a SpfOptions,
    ) -> Eval<'a> {
        let (local, domain) = match sender.rsplit_once('@') {
            Some((l, d)) => (l, d),
            None => ("", sender),
        };
        let local = if local.is_empty() {
            "postmaster"
        } else {
            local
        };
        let sender_domain = domain.strip_suffix('.').unwrap_or(domain).to_string();
        Eval {
            ip: normalize_ip(ip),
            sender: format!("{local}@{sender_domain}"),
            local: local.to_string(),
            sender_domain,
            helo,
            resolver,
            opts,
            lookups: 0,
            voids: 0,
            validated: None,
            started: Instant::now(),
        }
    }

    /// `check_host(ip, domain, sender)` at the top level.
    pub(super) fn run(&mut self, domain: &str) -> HostResult {
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        if !is_valid_domain(domain) {
            return HostResult {
                result: SpfResult::None,
                explanation: None,
                reason: Some(format!("{domain:?} is not a valid domain name")),
            };
        }
        match self.check(domain, 0) {
            Ok((SpfResult::None, _)) => HostResult {
                result: SpfResult::None,
                explanation: None,
                reason: Some(format!("no SPF record for {domain}")),
            },
            Ok((result, explanation)) => HostResult {
                result,
                explanation,
                reason: None,
            },
            Err(Stop::Temp(why)) => HostResult {
                result: SpfResult::TempError,
                explanation: None,
                reason: Some(why),
            },
            Err(Stop::Perm(why)) => HostResult {
                result: SpfResult::PermError,
                explanation: None,
                reason: Some(why),
            },
        }
    }

    /// Evaluates the record of `domain`: `None` when it has none.
    fn check(&mut self, domain: &str, depth: usize) -> Result<(SpfResult, Option<String>), Stop> {
        if depth > MAX_DEPTH.min(self.opts.max_depth) {
            return Err(Stop::Perm(format!(
                "include/redirect nested deeper than {}",
                MAX_DEPTH.min(self.opts.max_depth)
            )));
        }
        if !is_valid_domain(domain) {
            return Ok((SpfResult::None, None));
        }
        let record = match self.find_record(domain)? {
            Some(r) => r,
            None => return Ok((SpfResult::None, None)),
        };
        for directive in &record.directives {
            if self.matches(&directive.mechanism, domain, depth)? {
                let result = match directive.qualifier {
                    Qualifier::Pass => SpfResult::Pass,
                    Qualifier::Fail => SpfResult::Fail,
                    Qualifier::SoftFail => SpfResult::SoftFail,
                    Qualifier::Neutral => SpfResult::Neutral,
                };
                let explanation = match (result, &record.exp) {
                    (SpfResult::Fail, Some(exp)) => self.explanation(exp, domain),
                    _ => None,
                };
                return Ok((result, explanation));
            }
        }
        if let Some(redirect) = &record.redirect {
            self.count_lookup("redirect")?;
            let target = self.expand_domain(redirect, domain)?;
            return match self.check(&target, depth + 1)? {
                (SpfResult::None, _) => Err(Stop::Perm(format!(
                    "redirect={target}: no SPF record there"
                ))),
                other => Ok(other),
            };
        }
        Ok((SpfResult::Neutral, None))
    }

    /// The one `v=spf1` TXT record of `domain`, parsed.
    fn find_record(&mut self, domain: &str) -> Result<Option<Record>, Stop> {
        self.check_time()?;
        let txts = match self.resolver.txt(domain) {
            Ok(t) => t,
            Err(DnsError::NxDomain(_)) => return Ok(None),
            Err(e) => return Err(Stop::Temp(format!("TXT lookup of {domain}: {e}"))),
        };
        let mut spf = txts.iter().filter(|t| is_spf_record(t));
        let Some(text) = spf.next() else {
            return Ok(None);
        };
        if spf.next().is_some() {
            return Err(Stop::Perm(format!("{domain} has several SPF records")));
        }
        if text.len() > self.opts.max_record_len {
            return Err(Stop::Perm(format!(
                "{domain}: SPF record longer than {} octets",
                self.opts.max_record_len
            )));
        }
        Record::parse(text)
            .map(Some)
            .map_err(|e| Stop::Perm(format!("{domain}: {e}")))
    }

    fn matches(&mut self, mech: &Mechanism, domain: &str, depth: usize) -> Result<bool, Stop> {
        match mech {
            Mechanism::All => Ok(true),
            Mechanism::Include(spec) => {
                self.count_lookup("include")?;
                let target = self.expand_domain(spec, domain)?;
                match self.check(&target, depth + 1)?.0 {
                    SpfResult::Pass => Ok(true),
                    SpfResult::None => {
                        Err(Stop::Perm(format!("include:{target}: no SPF record there")))
                    }
                    _ => Ok(false),
                }
            }
            Mechanism::A {
                domain: spec,
                cidr4,
                cidr6,
            } => {
                self.count_lookup("a")?;
                let target = self.target(spec.as_ref(), domain)?;
                let addrs = self.addrs(&target)?;
                Ok(addrs
                    .iter()
                    .any(|a| in_network(self.ip, *a, *cidr4, *cidr6)))
            }
            Mechanism::Mx {
                domain: spec,
                cidr4,
                cidr6,
            } => {
                self.count_lookup("mx")?;
                let target = self.target(spec.as_ref(), domain)?;
                let mut hosts = self.lookup(&target, |r, n| r.mx(n))?;
                if hosts.len() > self.opts.max_mx_names {
                    return Err(Stop::Perm(format!(
                        "mx:{target} has more than {} MX records",
                        self.opts.max_mx_names
                    )));
                }
                hosts.sort();
                // Every host is looked up before matching, as pyspf does (the void lookups
                // they cost count the same whichever matches).
                let mut matched = false;
                for (_, host) in &hosts {
                    let addrs = self.addrs(host)?;
                    matched |= addrs
                        .iter()
                        .any(|a| in_network(self.ip, *a, *cidr4, *cidr6));
                }
                Ok(matched)
            }
            Mechanism::Ptr(spec) => {
                self.count_lookup("ptr")?;
                let target = self.target(spec.as_ref(), domain)?.to_ascii_lowercase();
                let names = self.validated_names()?;
                Ok(names.iter().any(|n| is_subdomain(n, &target)))
            }
            Mechanism::Ip4 { addr, prefix } => {
                Ok(in_network(self.ip, IpAddr::V4(*addr), *prefix, 0))
            }
            Mechanism::Ip6 { addr, prefix } => {
                Ok(in_network(self.ip, IpAddr::V6(*addr), 0, *prefix))
            }
            Mechanism::Exists(spec) => {
                self.count_lookup("exists")?;
                let target = self.expand_domain(spec, domain)?;
                // Always an A lookup, whatever the client's address family (§5.7).
                Ok(!self.lookup(&target, |r, n| r.a(n))?.is_empty())
            }
        }
    }

    /// The overall time limit (§4.6.4), checked before every query: a temperror once over.
    fn check_time(&self) -> Result<(), Stop> {
        if self.started.elapsed() > self.opts.max_time {
            return Err(Stop::Temp(format!(
                "SPF evaluation took longer than {:?}",
                self.opts.max_time
            )));
        }
        Ok(())
    }

    /// §4.6.4: at most `max_dns_mechanisms` terms that cause DNS lookups.
    fn count_lookup(&mut self, what: &str) -> Result<(), Stop> {
        self.lookups += 1;
        if self.lookups > self.opts.max_dns_mechanisms {
            return Err(Stop::Perm(format!(
                "more than {} DNS lookups (at {what})",
                self.opts.max_dns_mechanisms
            )));
        }
        Ok(())
    }

    /// A lookup whose empty answer (NODATA or NXDOMAIN) is a void lookup (§4.6.4); other
    /// errors are temporary. A name that cannot be queried is an empty answer.
    fn lookup<T>(
        &mut self,
        name: &str,
        query: impl Fn(&dyn Resolver, &str) -> Result<Vec<T>, DnsError>,
    ) -> Result<Vec<T>, Stop> {
        self.check_time()?;
        let answer = if is_queryable(name) {
            match query(self.resolver, name) {
                Ok(v) => v,
                // NXDOMAIN, or a name the resolver cannot ask for.
                Err(e) if e.is_permanent() => Vec::new(),
                Err(e) => return Err(Stop::Temp(format!("lookup of {name}: {e}"))),
            }
        } else {
            Vec::new()
        };
        if answer.is_empty() {
            self.count_void(name)?;
        }
        Ok(answer)
    }

    /// A or AAAA records of `name`, as the client's address family asks.
    fn addrs(&mut self, name: &str) -> Result<Vec<IpAddr>, Stop> {
        match self.ip {
            IpAddr::V4(_) => Ok(self
                .lookup(name, |r, n| r.a(n))?
                .into_iter()
                .map(IpAddr::V4)
                .collect()),
            IpAddr::V6(_) => Ok(self
                .lookup(name, |r, n| r.aaaa(n))?
                .into_iter()
                .map(IpAddr::V6)
                .collect()),
        }
    }

    /// The PTR names of the client whose forward lookup gives the client back (§5.5): at most
    /// `max_ptr_names` names are tried; DNS errors skip a name (or give no names at all).
    fn validated_names(&mut self) -> Result<Vec<String>, Stop> {
        if let Some(v) = &self.validated {
            return Ok(v.clone());
        }
        self.check_time()?;
        let names = match self.resolver.ptr(self.ip) {
            Ok(n) if n.is_empty() => {
                self.count_void("the PTR lookup")?;
                n
            }
            Ok(n) => n,
            Err(DnsError::NxDomain(_)) => {
                self.count_void("the PTR lookup")?;
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        let mut validated = Vec::new();
        for name in names.iter().take(self.opts.max_ptr_names) {
            let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
            match self.addrs(&name) {
                Ok(addrs) if addrs.contains(&self.ip) => validated.push(name),
                Ok(_) | Err(Stop::Temp(_)) => {}
                Err(e @ Stop::Perm(_)) => return Err(e),
            }
        }
        self.validated = Some(validated.clone());
        Ok(validated)
    }

    /// §4.6.4: at most `max_void_lookups` lookups with an empty answer; `at` names the one
    /// that was void.
    fn count_void(&mut self, at: &str) -> Result<(), Stop> {
        self.voids += 1;
        if self.voids > self.opts.max_void_lookups {
            return Err(Stop::Perm(format!(
                "more than {} void DNS lookups (at {at})",
                self.opts.max_void_lookups
            )));
        }
        Ok(())
    }

    /// `%{p}` (§7.3): a validated name of the client equal to or under `domain`, else any
    /// validated name, else "unknown".
    fn p_value(&mut self, domain: &str) -> Result<String, Stop> {
        let names = self.validated_names()?;
        let domain = domain.to_ascii_lowercase();
        let pick = names
            .iter()
            .find(|n| **n == domain)
            .or_else(|| names.iter().find(|n| is_subdomain(n, &domain)))
            .or_else(|| names.first());
        Ok(pick.cloned().unwrap_or_else(|| "unknown".to_string()))
    }

    fn context<'c>(&'c self, domain: &'c str, timestamp: u64) -> MacroContext<'c> {
        MacroContext {
            sender: &self.sender,
            local: &self.local,
            sender_domain: &self.sender_domain,
            domain,
            ip: self.ip,
            helo: self.helo,
            receiver: &self.opts.receiver,
            timestamp,
        }
    }

    fn target(&mut self, spec: Option<&MacroString>, domain: &str) -> Result<String, Stop> {
        match spec {
            Some(spec) => self.expand_domain(spec, domain),
            None => Ok(domain.to_string()),
        }
    }

    /// A domain spec expanded for a query: macros replaced, cut to 253 octets (§7.3).
    fn expand_domain(&mut self, spec: &MacroString, domain: &str) -> Result<String, Stop> {
        let p = if spec.uses_p() {
            self.p_value(domain)?
        } else {
            String::new()
        };
        let expanded = spec
            .expand(&self.context(domain, 0), &mut || p.clone())
            .map_err(|e| Stop::Perm(e.to_string()))?;
        Ok(truncate_domain(&expanded).to_string())
    }

    /// The explanation of a fail (§6.2): any failure means no explanation.
    fn explanation(&mut self, spec: &MacroString, domain: &str) -> Option<String> {
        let target = self.expand_domain(spec, domain).ok()?;
        if !is_queryable(&target) || self.check_time().is_err() {
            return None;
        }
        let txts = self.resolver.txt(&target).ok()?;
        let [text] = txts.as_slice() else {
            return None;
        };
        let ms = MacroString::parse(text, true).ok()?;
        let p = if ms.uses_p() {
            self.p_value(domain).ok()?
        } else {
            String::new()
        };
        let timestamp = self.opts.timestamp.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
        let text = ms
            .expand(&self.context(domain, timestamp), &mut || p.clone())
            .ok()?;
        // The text may reach an SMTP reply: no control characters (a macro value such as a
        // caller-given sender could hold some).
        (!text.chars().any(char::is_control)).then_some(text)
    }
}

/// An IPv4-mapped IPv6 client (`::ffff:192.0.2.1`) is checked as IPv4 (RFC 7208 §5: the
/// connection is IPv4 carried over an IPv6 socket).
pub(super) fn normalize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// §4.3: at least two labels, none empty (but a trailing dot), none over 63 octets, at most
/// 253 octets in all, and not an address literal.
pub(super) fn is_valid_domain(domain: &str) -> bool {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    is_queryable(d) && d.contains('.') && !d.starts_with('[')
}

/// Whether a name can be put in a query: labels of 1 to 63 octets, 253 octets in all (DNS
/// labels may hold any octet: a macro may expand to spaces, RFC 7208 §7.1's `%_`).
fn is_queryable(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

/// `name` is `domain` or under it (case-insensitive, `name` already lower-case).
fn is_subdomain(name: &str, domain: &str) -> bool {
    name == domain
        || (name.len() > domain.len()
            && name.ends_with(domain)
            && name.as_bytes()[name.len() - domain.len() - 1] == b'.')
}

/// Whether `ip` is in the network of `net` with the prefix for its family (mismatched
/// families never match).
fn in_network(ip: IpAddr, net: IpAddr, cidr4: u8, cidr6: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let bits = u32::from(cidr4.min(32));
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let bits = u32::from(cidr6.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}
