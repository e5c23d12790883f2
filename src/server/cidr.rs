//! Address arithmetic for trust lists and per-client limits: `"10.0.0.0/8"` parsing,
//! membership, and the prefix a client is counted by. Pure, no I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `"10.0.0.0/8"` or `"127.0.0.1"` → (network, prefix length). None when malformed.
pub(crate) fn parse_net(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip.parse::<IpAddr>().ok()?, len.parse::<u8>().ok()?),
        None => {
            let ip: IpAddr = s.parse().ok()?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

/// True when `ip` is inside `net/len` (IPv4-mapped IPv6 addresses match IPv4 networks).
pub(crate) fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    let (a, b, bits): (u128, u128, u32) = match (unmap(ip), net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    let shift = bits.saturating_sub(u32::from(len));
    shift >= bits || (a >> shift) == (b >> shift)
}

/// True when `ip` is in one of `nets` (each as accepted by [`parse_net`]; bad ones never match).
pub(crate) fn in_any(ip: IpAddr, nets: &[String]) -> bool {
    nets.iter()
        .filter_map(|n| parse_net(n))
        .any(|(net, len)| in_net(ip, net, len))
}

/// The key a client is counted under for per-address limits: its address with everything
/// past the prefix zeroed (IPv4 by `v4` bits, IPv6 by `v6` bits; IPv4-mapped IPv6 as IPv4).
pub(crate) fn client_key(ip: IpAddr, v4: u8, v6: u8) -> IpAddr {
    match unmap(ip) {
        IpAddr::V4(a) => {
            let keep = u32::MAX
                .checked_shl(32 - u32::from(v4.min(32)))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & keep))
        }
        IpAddr::V6(a) => {
            let keep = u128::MAX
                .checked_shl(128 - u32::from(v6.min(128)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & keep))
        }
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`; anything else unchanged.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks() {
        assert_eq!(parse_net("10.0.0.0/8"), Some((ip("10.0.0.0"), 8)));
        assert_eq!(parse_net("::1"), Some((ip("::1"), 128)));
        assert_eq!(parse_net("10.0.0.0/33"), None);
        assert_eq!(parse_net("nonsense"), None);
        assert!(in_net(ip("10.1.2.3"), ip("10.0.0.0"), 8));
        assert!(!in_net(ip("11.1.2.3"), ip("10.0.0.0"), 8));
        assert!(in_net(ip("::ffff:10.1.2.3"), ip("10.0.0.0"), 8));
        assert!(in_net(ip("1.2.3.4"), ip("0.0.0.0"), 0));
        assert!(in_net(ip("2001:db8::1"), ip("2001:db8::"), 32));
        assert!(!in_net(ip("2001:db8::1"), ip("10.0.0.0"), 8));
        assert!(in_any(
            ip("127.0.0.1"),
            &["bad".into(), "127.0.0.0/8".into()]
        ));
        assert!(!in_any(ip("127.0.0.1"), &[]));
    }

    #[test]
    fn client_keys() {
        assert_eq!(client_key(ip("192.0.2.7"), 32, 64), ip("192.0.2.7"));
        assert_eq!(client_key(ip("192.0.2.7"), 24, 64), ip("192.0.2.0"));
        assert_eq!(client_key(ip("192.0.2.7"), 0, 64), ip("0.0.0.0"));
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa::1"), 32, 64),
            ip("2001:db8:1:2::")
        );
        assert_eq!(client_key(ip("2001:db8::1"), 32, 128), ip("2001:db8::1"));
        assert_eq!(client_key(ip("2001:db8::1"), 32, 0), ip("::"));
        assert_eq!(client_key(ip("::ffff:192.0.2.7"), 32, 64), ip("192.0.2.7"));
    }
}
