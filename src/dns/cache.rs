//! A small TTL cache in front of any [`Resolver`], shared by the session threads.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::DnsError;
use super::resolver::{Question, RecordSet, Resolver, TimedAnswer};

/// Default bound on the number of cached answers.
const DEFAULT_MAX_ENTRIES: usize = 10_000;
/// Default longest time an answer is kept, whatever its TTL (one day).
const DEFAULT_MAX_TTL: Duration = Duration::from_secs(86_400);
/// Default TTL of an answer whose resolver gives none (5 minutes).
const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// Default longest time a negative answer (NXDOMAIN, NODATA) is kept (one hour).
const DEFAULT_MAX_NEGATIVE_TTL: Duration = Duration::from_secs(3_600);

/// A cache of answers, in front of another [`Resolver`] (usually a
/// [`StubResolver`](super::StubResolver)), shared by threads behind one mutex.
///
/// - Answers are kept for their TTL, clamped to `[min_ttl, max_ttl]` (defaults 0 and one
///   day); an answer whose TTL ends up zero is not kept.
/// - Negative answers (NXDOMAIN and NODATA) are kept too, for the negative-caching TTL of the
///   zone's SOA (RFC 2308), at most one hour by default, or five
///   minutes when the resolver gives no TTL.
/// - Temporary failures (timeouts, SERVFAIL, socket errors) are never kept: the next lookup
///   asks again.
/// - At most `max_entries` answers (default 10,000); when full, expired
///   answers are dropped first, then those that expire soonest.
///
/// Names are keys without regard to case or a trailing dot.
///
/// ```
/// use smtpkit::dns::{CachingResolver, Resolver, StaticResolver};
/// let dns = CachingResolver::new(StaticResolver::new().with_txt("example.org", "v=spf1 -all"))
///     .max_entries(1000);
/// assert_eq!(dns.txt("example.org").unwrap(), ["v=spf1 -all"]);
/// assert_eq!(dns.len(), 1);
/// ```
#[derive(Debug)]
pub struct CachingResolver<R: Resolver> {
    inner: R,
    entries: Mutex<HashMap<Question, Entry>>,
    max_entries: usize,
    min_ttl: Duration,
    max_ttl: Duration,
    default_ttl: Duration,
    max_negative_ttl: Duration,
}

#[derive(Debug, Clone)]
enum Cached {
    Records(RecordSet),
    NxDomain(String),
}

#[derive(Debug, Clone)]
struct Entry {
    value: Cached,
    expires: Instant,
}

/// A question with its name lower-cased and without a trailing dot.
fn normalize(q: &Question) -> Question {
    let n = |s: &String| s.trim_end_matches('.').to_ascii_lowercase();
    match q {
        Question::Txt(s) => Question::Txt(n(s)),
        Question::A(s) => Question::A(n(s)),
        Question::Aaaa(s) => Question::Aaaa(n(s)),
        Question::Mx(s) => Question::Mx(n(s)),
        Question::Ptr(ip) => Question::Ptr(*ip),
    }
}

impl<R: Resolver> CachingResolver<R> {
    /// A cache in front of `inner`, with the defaults above.
    pub fn new(inner: R) -> CachingResolver<R> {
        CachingResolver {
            inner,
            entries: Mutex::new(HashMap::new()),
            max_entries: DEFAULT_MAX_ENTRIES,
            min_ttl: Duration::ZERO,
            max_ttl: DEFAULT_MAX_TTL,
            default_ttl: DEFAULT_TTL,
            max_negative_ttl: DEFAULT_MAX_NEGATIVE_TTL,
        }
    }

    /// The most answers kept (default 10,000); 0 keeps none.
    pub fn max_entries(mut self, n: usize) -> CachingResolver<R> {
        self.max_entries = n;
        self
    }

    /// Clamps every TTL to `[min, max]` (defaults 0 and one day); a `min` above
    /// `max` is taken as `max`.
    pub fn ttl_bounds(mut self, min: Duration, max: Duration) -> CachingResolver<R> {
        self.min_ttl = min.min(max);
        self.max_ttl = max;
        self
    }

    /// The TTL used when the wrapped resolver gives none (default five minutes).
    pub fn default_ttl(mut self, ttl: Duration) -> CachingResolver<R> {
        self.default_ttl = ttl;
        self
    }

    /// The longest a negative answer is kept (default one hour), before
    /// the `[min, max]` clamp.
    pub fn max_negative_ttl(mut self, ttl: Duration) -> CachingResolver<R> {
        self.max_negative_ttl = ttl;
        self
    }

    /// The wrapped resolver.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// How many answers are held (expired ones included until they are dropped).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no answer is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every answer.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Question, Entry>> {
        // A panic elsewhere while holding the lock leaves a usable map (every update is
        // one insert or remove).
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached answer, or the wrapped resolver's (then kept if it may be).
    fn cached(&self, question: &Question) -> TimedAnswer {
        let key = normalize(question);
        let now = Instant::now();
        {
            let mut entries = self.lock();
            match entries.get(&key) {
                Some(e) if e.expires > now => {
                    let ttl = Some(e.expires - now);
                    let result = match &e.value {
                        Cached::Records(r) => Ok(r.clone()),
                        Cached::NxDomain(n) => Err(DnsError::NxDomain(n.clone())),
                    };
                    return TimedAnswer { result, ttl };
                }
                Some(_) => {
                    entries.remove(&key);
                }
                None => {}
            }
        }
        // Asked without the lock held: a slow lookup does not stall the other threads (two
        // threads may ask the same question at once; both answers are the same).
        let answer = self.inner.lookup(&key);
        let value = match &answer.result {
            Ok(records) => Some((Cached::Records(records.clone()), records.is_empty())),
            Err(DnsError::NxDomain(n)) => Some((Cached::NxDomain(n.clone()), true)),
            Err(_) => None,
        };
        if let Some((value, negative)) = value {
            let mut ttl = answer.ttl.unwrap_or(self.default_ttl);
            if negative {
                ttl = ttl.min(self.max_negative_ttl);
            }
            let ttl = ttl.clamp(self.min_ttl, self.max_ttl.max(self.min_ttl));
            if !ttl.is_zero() && self.max_entries > 0 {
                let expires = now + ttl;
                let mut entries = self.lock();
                if entries.len() >= self.max_entries && !entries.contains_key(&key) {
                    entries.retain(|_, e| e.expires > now);
                }
                if entries.len() >= self.max_entries && !entries.contains_key(&key) {
                    let soonest = entries
                        .iter()
                        .min_by_key(|(_, e)| e.expires)
                        .map(|(k, _)| k.clone());
                    if let Some(k) = soonest {
                        entries.remove(&k);
                    }
                }
                entries.insert(key, Entry { value, expires });
            }
        }
        answer
    }

    fn typed<T>(
        &self,
        q: Question,
        pick: fn(RecordSet) -> Option<Vec<T>>,
    ) -> Result<Vec<T>, DnsError> {
        let records = self.cached(&q).result?;
        pick(records).ok_or_else(|| DnsError::Malformed("answer of another type".to_string()))
    }
}

impl<R: Resolver> Resolver for CachingResolver<R> {
    fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        self.typed(Question::Txt(name.to_string()), |r| match r {
            RecordSet::Txt(v) => Some(v),
            _ => None,
        })
    }
    fn a(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsError> {
        self.typed(Question::A(name.to_string()), |r| match r {
            RecordSet::A(v) => Some(v),
            _ => None,
        })
    }
    fn aaaa(&self, name: &str) -> Result<Vec<Ipv6Addr>, DnsError> {
        self.typed(Question::Aaaa(name.to_string()), |r| match r {
            RecordSet::Aaaa(v) => Some(v),
            _ => None,
        })
    }
    fn mx(&self, name: &str) -> Result<Vec<(u16, String)>, DnsError> {
        self.typed(Question::Mx(name.to_string()), |r| match r {
            RecordSet::Mx(v) => Some(v),
            _ => None,
        })
    }
    fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
        self.typed(Question::Ptr(ip), |r| match r {
            RecordSet::Ptr(v) => Some(v),
            _ => None,
        })
    }
    fn lookup(&self, question: &Question) -> TimedAnswer {
        self.cached(question)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::StaticResolver;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts the lookups reaching the wrapped resolver.
    struct Counting {
        inner: StaticResolver,
        calls: AtomicUsize,
        ttl: Option<Duration>,
    }

    impl Resolver for Counting {
        fn txt(&self, n: &str) -> Result<Vec<String>, DnsError> {
            self.inner.txt(n)
        }
        fn a(&self, n: &str) -> Result<Vec<Ipv4Addr>, DnsError> {
            self.inner.a(n)
        }
        fn aaaa(&self, n: &str) -> Result<Vec<Ipv6Addr>, DnsError> {
            self.inner.aaaa(n)
        }
        fn mx(&self, n: &str) -> Result<Vec<(u16, String)>, DnsError> {
            self.inner.mx(n)
        }
        fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
            self.inner.ptr(ip)
        }
        fn lookup(&self, q: &Question) -> TimedAnswer {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut a = self.inner.lookup(q);
            a.ttl = self.ttl;
            a
        }
    }

    fn counting(ttl: Option<Duration>) -> Counting {
        Counting {
            inner: StaticResolver::new()
                .with_txt("a.example", "one")
                .with_txt("b.example", "two")
                .with_txt("c.example", "three")
                .with_a("host.example", Ipv4Addr::LOCALHOST)
                .with_failure("fail.example"),
            calls: AtomicUsize::new(0),
            ttl,
        }
    }

    #[test]
    fn positive_negative_and_failures() {
        let dns = CachingResolver::new(counting(Some(Duration::from_secs(60))));
        let calls = || dns.inner().calls.load(Ordering::SeqCst);
        assert_eq!(dns.txt("a.example").unwrap(), ["one"]);
        assert_eq!(dns.txt("A.Example.").unwrap(), ["one"]);
        assert_eq!(calls(), 1);
        // NODATA and NXDOMAIN are kept.
        assert!(dns.txt("host.example").unwrap().is_empty());
        assert!(dns.txt("host.example").unwrap().is_empty());
        assert!(matches!(
            dns.txt("none.example"),
            Err(DnsError::NxDomain(_))
        ));
        assert!(matches!(
            dns.txt("none.example"),
            Err(DnsError::NxDomain(_))
        ));
        assert_eq!(calls(), 3);
        // Temporary failures are not.
        assert!(matches!(dns.txt("fail.example"), Err(DnsError::Server(_))));
        assert!(matches!(dns.txt("fail.example"), Err(DnsError::Server(_))));
        assert_eq!(calls(), 5);
        // Other types are other keys.
        assert_eq!(dns.a("host.example").unwrap(), [Ipv4Addr::LOCALHOST]);
        assert_eq!(calls(), 6);
        assert_eq!(dns.len(), 4);
    }

    #[test]
    fn zero_ttl_and_bounds() {
        let dns = CachingResolver::new(counting(Some(Duration::ZERO)));
        dns.txt("a.example").unwrap();
        dns.txt("a.example").unwrap();
        assert_eq!(dns.inner().calls.load(Ordering::SeqCst), 2);
        assert!(dns.is_empty());
        // A minimum makes it cacheable.
        let dns = CachingResolver::new(counting(Some(Duration::ZERO)))
            .ttl_bounds(Duration::from_secs(10), Duration::from_secs(20));
        dns.txt("a.example").unwrap();
        dns.txt("a.example").unwrap();
        assert_eq!(dns.inner().calls.load(Ordering::SeqCst), 1);
        let left = dns.lookup(&Question::Txt("a.example".into())).ttl.unwrap();
        assert!(left <= Duration::from_secs(10) && left > Duration::from_secs(5));
    }

    #[test]
    fn shared_by_threads() {
        let dns = std::sync::Arc::new(CachingResolver::new(counting(Some(Duration::from_secs(
            60,
        )))));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let dns = dns.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        let name = ["a.example", "b.example", "c.example"][i % 3];
                        assert_eq!(dns.txt(name).unwrap().len(), 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Each name asked at least once, and far fewer times than the 800 lookups.
        let calls = dns.inner().calls.load(Ordering::SeqCst);
        assert!((3..=24).contains(&calls), "{calls}");
        assert_eq!(dns.len(), 3);
    }

    #[test]
    fn bounded_entries() {
        let dns = CachingResolver::new(counting(None)).max_entries(2);
        for n in ["a.example", "b.example", "c.example", "a.example"] {
            dns.txt(n).unwrap();
            assert!(dns.len() <= 2);
        }
        let dns = CachingResolver::new(counting(None)).max_entries(0);
        dns.txt("a.example").unwrap();
        assert!(dns.is_empty());
    }
}
