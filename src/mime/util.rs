//! Small helpers for building messages, as gen_smtp's `smtp_util`: Message-IDs, RFC 5322 dates
//! (format and parse, no date crate), MIME boundaries, this host's name, and CRAM-MD5's digest.
//!
//! No panic on any input; the only I/O is [`guess_fqdn`] reading a few files.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

// gen_smtp's smtp_util also offers the CRAM-MD5 digest; the implementation lives in `sasl`.
#[cfg(feature = "auth")]
#[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
pub use crate::sasl::cram_md5_digest;

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// One counter for Message-IDs and boundaries: unique within the process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh `<unique@host>` Message-ID (RFC 5322 §3.6.4).
///
/// The unique part is the time in nanoseconds, the process id, a process-wide counter and a
/// 64-bit hash keyed by the standard library's randomly seeded hasher, all in base 36: the
/// counter makes ids unique within a process, the pid and time across processes on one host,
/// and the random hash across hosts that share a name and against guessing.
///
/// `host` is kept to the characters of a dot-atom (empty labels dropped), or kept whole when
/// it is a domain literal (`[192.0.2.1]`); `localhost` when nothing is left.
pub fn message_id(host: &str) -> String {
    message_id_at(&clean_host(host))
}

/// [`message_id`] for this host ([`cached_fqdn`]), its id-right cleaned once.
pub(crate) fn message_id_here() -> String {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    message_id_at(HOST.get_or_init(|| clean_host(cached_fqdn())))
}

/// A Message-ID with an already cleaned id-right.
fn message_id_at(host: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = now_nanos();
    let pid = std::process::id();
    let hash = random_u64(n, nanos);
    let mut id = String::with_capacity(56 + host.len());
    id.push('<');
    for (k, part) in [nanos, u128::from(pid), u128::from(n), u128::from(hash)]
        .into_iter()
        .enumerate()
    {
        if k > 0 {
            id.push('.');
        }
        push_base36(&mut id, part);
    }
    id.push('@');
    id.push_str(host);
    id.push('>');
    id
}

/// A MIME boundary unlikely to occur in content: `=_` then 128 random bits in hex, a dot and a
/// process-wide counter in hex (at most 51 characters, all RFC 2046 `bchars`).
///
/// `=_` can occur neither in base64 nor in quoted-printable output, so parts in those
/// encodings can never contain it; for other parts the caller still checks. The `=` makes
/// quoting the parameter mandatory: `boundary="=_..."`.
pub fn boundary() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = now_nanos();
    // One keyed hasher, read twice: the second read hashes one more byte.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(n);
    h.write_u128(nanos);
    let a = h.finish();
    h.write_u8(1);
    let b = h.finish();
    // Written by hand: `format!` was most of the cost of a boundary.
    let mut s = String::with_capacity(52);
    s.push_str("=_");
    push_hex(&mut s, a, 16);
    push_hex(&mut s, b, 16);
    s.push('.');
    push_hex(&mut s, n, (64 - n.leading_zeros()).div_ceil(4).max(1));
    s
}

/// Appends the low `digits` hex digits of `v`, lower case.
fn push_hex(s: &mut String, v: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for k in (0..digits).rev() {
        let nibble = usize::try_from((v >> (4 * k)) & 0xf).unwrap_or(0);
        s.push(char::from(HEX.get(nibble).copied().unwrap_or(b'0')));
    }
}

/// The RFC 5322 date-time for now, in UTC: `Sun, 29 Nov 2026 16:47:50 +0000`.
pub fn rfc5322_date_now() -> String {
    let secs = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    };
    // A thread formats each second once: building many messages a second is common.
    thread_local! {
        static LAST: std::cell::RefCell<(i64, String)> = const {
            std::cell::RefCell::new((i64::MIN, String::new()))
        };
    }
    LAST.with(|last| {
        let Ok(mut last) = last.try_borrow_mut() else {
            return rfc5322_date(secs);
        };
        if last.0 != secs || last.1.is_empty() {
            *last = (secs, rfc5322_date(secs));
        }
        last.1.clone()
    })
}

/// The RFC 5322 date-time of a Unix time, in UTC: `Thu, 01 Jan 1970 00:00:00 +0000`.
///
/// Times before year 0 or after year 9999 are clamped to `Sat, 01 Jan 0000 00:00:00 +0000` and
/// `Fri, 31 Dec 9999 23:59:59 +0000` (a year has four digits).
pub fn rfc5322_date(unix_seconds: i64) -> String {
    let min = days_from_civil(0, 1, 1) * 86_400;
    let max = days_from_civil(9999, 12, 31) * 86_400 + 86_399;
    let t = unix_seconds.clamp(min, max);
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS
        .get(usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0))
        .copied()
        .unwrap_or("Sun");
    let month_name = MONTHS
        .get(usize::try_from(month - 1).unwrap_or(0))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{weekday}, {day:02} {month_name} {year:04} {:02}:{:02}:{:02} +0000",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Parses an RFC 5322 date-time to Unix seconds; None when it cannot.
///
/// Accepted besides the current syntax: the obsolete forms of RFC 5322 §4.3 (two-digit years,
/// 00-49 meaning 20xx and 50-99 19xx, three-digit years plus 1900; the zones `UT`, `GMT`, `EST`,
/// `EDT`, `CST`, `CDT`, `MST`, `MDT`, `PST`, `PDT`; military and unknown alphabetic zones taken
/// as `-0000`, as §4.3 says), comments and folding white space anywhere (also around the time's
/// colons), a missing day-of-week (a present one is not checked), missing seconds, second 60,
/// full or any-case day and month names, month before day, `UTC`/`Z`, a `+hh:mm` zone, and a
/// missing zone (taken as UTC). Anything after the zone is ignored. Days must exist in their
/// month and years lie in 0..=9999.
pub fn parse_rfc5322_date(s: &str) -> Option<i64> {
    let text = tighten_colons(&strip_comments(s));
    let toks: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .collect();
    let mut toks = toks.as_slice();
    if let Some((first, rest)) = toks.split_first() {
        let word = first.trim_end_matches('.');
        if !word.is_empty()
            && word.chars().all(|c| c.is_ascii_alphabetic())
            && month_number(word).is_none()
        {
            toks = rest;
        }
    }
    let [a, b, year, time, rest @ ..] = toks else {
        return None;
    };
    let (day, month) = match (small_number(a), month_number(b)) {
        (Some(day), Some(month)) => (day, month),
        _ => (small_number(b)?, month_number(a)?),
    };
    let year = parse_year(year)?;
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    // A zone glued to the time: `16:47:50+0000`.
    let (time, glued_zone) = match time
        .char_indices()
        .find(|&(i, c)| i > 0 && "+-".contains(c))
    {
        Some((i, _)) => (time.get(..i)?, time.get(i..)),
        None => (*time, None),
    };
    let (hour, minute, second) = parse_time(time)?;
    let offset = match glued_zone.or_else(|| rest.first().copied()) {
        Some(zone) => parse_zone(zone)?,
        None => 0,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// A fully-qualified name for this host, for HELO/EHLO and Message-IDs.
///
/// The name from `/proc/sys/kernel/hostname` (or `/etc/hostname` when that cannot be read); when
/// it has no dot, the domain from `/proc/sys/kernel/domainname` (unless `(none)`), else from the
/// last `domain` or `search` line of `/etc/resolv.conf` (its first domain), is appended. Else the
/// plain name; `localhost` when there is no usable name. `localhost` itself never gets a domain.
pub fn guess_fqdn() -> String {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let hostname = read("/proc/sys/kernel/hostname").or_else(|| read("/etc/hostname"));
    fqdn_from(
        hostname.as_deref(),
        read("/proc/sys/kernel/domainname").as_deref(),
        read("/etc/resolv.conf").as_deref(),
    )
}

/// [`guess_fqdn`] computed once per process (it reads files): for Message-IDs on the hot path.
pub(crate) fn cached_fqdn() -> &'static str {
    static FQDN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FQDN.get_or_init(guess_fqdn)
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// 64 bits from the standard library's hasher, whose keys are seeded from the OS's randomness
/// once per thread and changed for every `RandomState`. No process id: the keys already
/// differ between processes, and `getpid` is a system call (it was six per built message).
fn random_u64(salt: u64, nanos: u128) -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(salt);
    h.write_u128(nanos);
    h.finish()
}

/// Appends `n` in base 36 (lower case), without allocating: 64-bit division when it fits,
/// which is every value but far-future times.
fn push_base36(out: &mut String, n: u128) {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    // 36^25 > 2^128: 25 digits always suffice.
    let mut buf = [b'0'; 25];
    let mut i = buf.len();
    let mut digit = |d: u64| {
        i = i.saturating_sub(1);
        if let Some(slot) = buf.get_mut(i) {
            *slot = DIGITS
                .get(usize::try_from(d).unwrap_or(0))
                .copied()
                .unwrap_or(b'0');
        }
    };
    match u64::try_from(n) {
        Ok(mut m) => loop {
            digit(m % 36);
            m /= 36;
            if m == 0 {
                break;
            }
        },
        Err(_) => {
            let mut m = n;
            loop {
                digit(u64::try_from(m % 36).unwrap_or(0));
                m /= 36;
                if m == 0 {
                    break;
                }
            }
        }
    }
    // Only ASCII digits and letters were written.
    out.push_str(std::str::from_utf8(buf.get(i..).unwrap_or_default()).unwrap_or("0"));
}

#[cfg(test)]
fn base36(n: u128) -> String {
    let mut s = String::new();
    push_base36(&mut s, n);
    s
}

/// An id-right: a dot-atom made of what is usable in `host`, or a domain literal.
fn clean_host(host: &str) -> String {
    let host = host.trim();
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        if !inner.is_empty() && inner.chars().all(|c| matches!(c, '!'..='Z' | '^'..='~')) {
            return host.to_owned();
        }
    }
    let kept: String = host
        .chars()
        .filter(|&c| {
            c == '.'
                || c.is_ascii_alphanumeric()
                || "!#$%&'*+-/=?^_`{|}~".contains(c)
                || (!c.is_ascii() && !c.is_control() && !c.is_whitespace())
        })
        .collect();
    let labels: Vec<&str> = kept.split('.').filter(|l| !l.is_empty()).collect();
    if labels.is_empty() {
        "localhost".to_owned()
    } else {
        labels.join(".")
    }
}

/// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's civil_from_days: (year, month, day) of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Comments (nested, with escapes) become spaces; an unterminated one runs to the end.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '(' => {
                depth += 1;
                if depth == 1 {
                    out.push(' ');
                }
            }
            ')' if depth > 0 => depth -= 1,
            '\\' if depth > 0 => {
                chars.next();
            }
            _ if depth > 0 => {}
            c => out.push(c),
        }
    }
    out
}

/// Removes the white space around colons, so `09 :  55 : 06` is one token.
fn tighten_colons(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut after_colon = false;
    for c in s.chars() {
        if c == ':' {
            let kept = out.trim_end().len();
            out.truncate(kept);
            after_colon = true;
        } else if c.is_whitespace() && after_colon {
            continue;
        } else {
            after_colon = false;
        }
        out.push(c);
    }
    out
}

/// One or two ASCII digits.
fn small_number(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `Jan`, `january`, `JAN.`... to 1..=12.
fn month_number(s: &str) -> Option<i64> {
    let s = s.trim_end_matches('.');
    if s.len() < 3 || !s.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let prefix = s.get(..3)?;
    let index = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(prefix))?;
    // A full name must be the right one (`Marchx` is not March, but `Sept` is September).
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let name = full.get(index)?;
    if !name.starts_with(&s.to_ascii_lowercase()) {
        return None;
    }
    i64::try_from(index + 1).ok()
}

/// RFC 5322 year with the obsolete two- and three-digit forms (§4.3).
fn parse_year(s: &str) -> Option<i64> {
    if s.len() < 2 || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i64 = s.parse().ok()?;
    Some(match s.len() {
        2 if y < 50 => 2000 + y,
        2 | 3 => 1900 + y,
        _ => y,
    })
}

/// `hh:mm` or `hh:mm:ss` (one or two digits each; second 60 allowed).
fn parse_time(s: &str) -> Option<(i64, i64, i64)> {
    let mut parts = s.split(':');
    let hour = small_number(parts.next()?)?;
    let minute = small_number(parts.next()?)?;
    let second = match parts.next() {
        Some(p) => small_number(p)?,
        None => 0,
    };
    if parts.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some((hour, minute, second))
}

/// The zone's offset east of UTC in seconds.
fn parse_zone(z: &str) -> Option<i64> {
    let hours = |h: i64| Some(h * 3600);
    if let Some((sign, digits)) = z
        .strip_prefix('+')
        .map(|d| (1, d))
        .or_else(|| z.strip_prefix('-').map(|d| (-1, d)))
    {
        let digits = digits.replacen(':', "", 1);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (h, m) = match digits.len() {
            1 | 2 => (digits.parse::<i64>().ok()?, 0),
            4 => (
                digits.get(..2)?.parse::<i64>().ok()?,
                digits.get(2..)?.parse::<i64>().ok()?,
            ),
            _ => return None,
        };
        if m > 59 {
            return None;
        }
        return Some(sign * (h * 3600 + m * 60));
    }
    if z.is_empty() || !z.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    match z.to_ascii_uppercase().as_str() {
        "EDT" => hours(-4),
        "EST" | "CDT" => hours(-5),
        "CST" | "MDT" => hours(-6),
        "MST" | "PDT" => hours(-7),
        "PST" => hours(-8),
        // UT, UTC, GMT, Z, military and unknown zones: RFC 5322 §4.3 says -0000.
        _ => Some(0),
    }
}

/// [`guess_fqdn`] on given file contents.
fn fqdn_from(hostname: Option<&str>, domainname: Option<&str>, resolv: Option<&str>) -> String {
    let Some(name) = hostname.and_then(clean_domain) else {
        return "localhost".to_owned();
    };
    if name.contains('.') || name.eq_ignore_ascii_case("localhost") {
        return name;
    }
    let from_kernel = domainname
        .filter(|d| d.trim() != "(none)")
        .and_then(clean_domain);
    let from_resolv = || {
        resolv?
            .lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                match words.next()? {
                    "domain" | "search" => words.next(),
                    _ => None,
                }
            })
            .next_back()
            .and_then(clean_domain)
    };
    match from_kernel.or_else(from_resolv) {
        Some(domain) => format!("{name}.{domain}"),
        None => name,
    }
}

/// A host or domain name (letters, digits, `-`, `_`, non-empty labels, at most 253 octets)
/// without surrounding white space or a final dot; None when it is not one.
fn clean_domain(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches('.');
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then(|| s.to_owned())
}

#[cfg(test)]
#[path = "util_tests.rs"]
mod tests;
