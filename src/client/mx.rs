//! Temporary stand-in until the DNS module lands.
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// DNS settings (placeholder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Nameservers.
    pub nameservers: Vec<SocketAddr>,
    /// Timeout.
    pub timeout: Duration,
    /// Attempts.
    pub attempts: usize,
}
impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            nameservers: vec![],
            timeout: Duration::from_secs(5),
            attempts: 2,
        }
    }
}
/// An MX host (placeholder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    /// Preference.
    pub preference: u16,
    /// Name.
    pub name: String,
    /// Addresses.
    pub addrs: Vec<IpAddr>,
}
/// DNS error (placeholder).
#[derive(Debug)]
pub struct DnsError;
impl DnsError {
    /// Permanent?
    pub fn is_permanent(&self) -> bool {
        false
    }
}
impl std::fmt::Display for DnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dns unavailable")
    }
}
impl std::error::Error for DnsError {}
/// Placeholder.
pub fn resolve_mx(_d: &str, _c: &DnsConfig) -> Result<Vec<MxHost>, DnsError> {
    Err(DnsError)
}
