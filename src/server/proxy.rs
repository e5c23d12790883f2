//! The PROXY protocol header (HAProxy's spec, versions 1 and 2): a load balancer tells the
//! server who the real client is. Pure parsing on byte slices; the socket side is in the session.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// A proxied TCP connection: the real client and the address it connected to.
    Tcp {
        /// The real client.
        source: SocketAddr,
        /// The address the client connected to (on the balancer).
        destination: SocketAddr,
    },
    /// `UNKNOWN` (v1) or `LOCAL` (v2, health checks): use the connection's own addresses.
    Local,
}

/// Why a header was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyError {
    /// Neither the v1 `PROXY ` prefix nor the v2 signature.
    NotProxy,
    /// A v1 line over 107 octets or a v2 header over the limit.
    TooLong,
    /// Malformed: the text says what.
    Malformed(&'static str),
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::NotProxy => f.write_str("no PROXY protocol header"),
            ProxyError::TooLong => f.write_str("PROXY header too long"),
            ProxyError::Malformed(m) => write!(f, "malformed PROXY header: {m}"),
        }
    }
}

impl std::error::Error for ProxyError {}

/// The v2 signature.
const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// A v1 line is at most 107 octets with its CRLF.
const V1_MAX: usize = 107;
/// Upper bound for a v2 header with TLVs that we accept.
const V2_MAX: usize = 16 + 1024;

/// Parses a header at the start of `buf`. `Ok(None)`: not enough bytes yet (read more and call
/// again); `Ok(Some((header, n)))`: the header took `n` octets, the rest is SMTP.
pub fn parse(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    match first {
        b'P' => parse_v1(buf),
        b'\r' => parse_v2(buf),
        _ => Err(ProxyError::NotProxy),
    }
}

fn prefix_ok(buf: &[u8], expected: &[u8]) -> Result<bool, ProxyError> {
    let n = buf.len().min(expected.len());
    if buf.get(..n) != expected.get(..n) {
        return Err(ProxyError::NotProxy);
    }
    Ok(buf.len() >= expected.len())
}

fn parse_v1(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    if !prefix_ok(buf, b"PROXY ")? {
        return Ok(None);
    }
    let Some(end) = buf.iter().take(V1_MAX).position(|&b| b == b'\n') else {
        return if buf.len() >= V1_MAX {
            Err(ProxyError::TooLong)
        } else {
            Ok(None)
        };
    };
    let line = buf.get(..end).ok_or(ProxyError::Malformed("line"))?;
    let line = line
        .strip_suffix(b"\r")
        .ok_or(ProxyError::Malformed("line must end with CRLF"))?;
    let line = std::str::from_utf8(line).map_err(|_| ProxyError::Malformed("not ASCII"))?;
    let mut words = line.split(' ');
    let _proxy = words.next();
    let header = match words.next() {
        Some("UNKNOWN") => ProxyHeader::Local,
        Some(proto @ ("TCP4" | "TCP6")) => {
            let mut next = || words.next().ok_or(ProxyError::Malformed("missing field"));
            let (src, dst, sport, dport) = (next()?, next()?, next()?, next()?);
            if words.next().is_some() {
                return Err(ProxyError::Malformed("extra fields"));
            }
            let ip = |s: &str| -> Result<IpAddr, ProxyError> {
                let ip: IpAddr = s
                    .parse()
                    .map_err(|_| ProxyError::Malformed("bad address"))?;
                match (proto, ip) {
                    ("TCP4", IpAddr::V4(_)) | ("TCP6", IpAddr::V6(_)) => Ok(ip),
                    _ => Err(ProxyError::Malformed("address family mismatch")),
                }
            };
            let port = |s: &str| -> Result<u16, ProxyError> {
                // No sign, no leading zeros (the spec's grammar).
                if s.is_empty()
                    || s.len() > 5
                    || !s.bytes().all(|b| b.is_ascii_digit())
                    || (s.len() > 1 && s.starts_with('0'))
                {
                    return Err(ProxyError::Malformed("bad port"));
                }
                s.parse().map_err(|_| ProxyError::Malformed("bad port"))
            };
            ProxyHeader::Tcp {
                source: SocketAddr::new(ip(src)?, port(sport)?),
                destination: SocketAddr::new(ip(dst)?, port(dport)?),
            }
        }
        _ => return Err(ProxyError::Malformed("unknown protocol")),
    };
    Ok(Some((header, end + 1)))
}

fn parse_v2(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    if !prefix_ok(buf, V2_SIG)? || buf.len() < 16 {
        return Ok(None);
    }
    let b = |i: usize| buf.get(i).copied().unwrap_or(0);
    let (ver_cmd, fam) = (b(12), b(13));
    let len = usize::from(u16::from_be_bytes([b(14), b(15)]));
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError::Malformed("version is not 2"));
    }
    if 16 + len > V2_MAX {
        return Err(ProxyError::TooLong);
    }
    let Some(body) = buf.get(16..16 + len) else {
        return Ok(None);
    };
    let total = 16 + len;
    match ver_cmd & 0x0f {
        0 => return Ok(Some((ProxyHeader::Local, total))),
        1 => {}
        _ => return Err(ProxyError::Malformed("unknown command")),
    }
    let header = match fam {
        // TCP over IPv4
        0x11 => {
            let a = body
                .get(..12)
                .ok_or(ProxyError::Malformed("short IPv4 block"))?;
            let ip = |o: usize| IpAddr::V4(Ipv4Addr::new(a[o], a[o + 1], a[o + 2], a[o + 3]));
            let port = |o: usize| u16::from_be_bytes([a[o], a[o + 1]]);
            ProxyHeader::Tcp {
                source: SocketAddr::new(ip(0), port(8)),
                destination: SocketAddr::new(ip(4), port(10)),
            }
        }
        // TCP over IPv6
        0x21 => {
            let a = body
                .get(..36)
                .ok_or(ProxyError::Malformed("short IPv6 block"))?;
            let ip = |o: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&a[o..o + 16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            let port = |o: usize| u16::from_be_bytes([a[o], a[o + 1]]);
            ProxyHeader::Tcp {
                source: SocketAddr::new(ip(0), port(32)),
                destination: SocketAddr::new(ip(16), port(34)),
            }
        }
        // UNSPEC, UDP, unix sockets: no TCP peer to report.
        _ => ProxyHeader::Local,
    };
    Ok(Some((header, total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(s: &str, d: &str) -> ProxyHeader {
        ProxyHeader::Tcp {
            source: s.parse().unwrap(),
            destination: d.parse().unwrap(),
        }
    }

    #[test]
    fn v1() {
        let h = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\nEHLO x\r\n";
        assert_eq!(
            parse(h),
            Ok(Some((tcp("192.0.2.1:56324", "198.51.100.2:25"), 44)))
        );
        let h = b"PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n";
        assert_eq!(
            parse(h),
            Ok(Some((
                tcp("[2001:db8::1]:1", "[2001:db8::2]:65535"),
                h.len()
            )))
        );
        assert_eq!(
            parse(b"PROXY UNKNOWN\r\n"),
            Ok(Some((ProxyHeader::Local, 15)))
        );
        assert_eq!(
            parse(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n").map(|o| o.map(|x| x.0)),
            Ok(Some(ProxyHeader::Local))
        );
        // Incomplete: ask for more.
        for n in 0..20 {
            assert_eq!(parse(&h[..n]), Ok(None), "{n}");
        }
    }

    #[test]
    fn v1_errors() {
        let bad: &[&[u8]] = &[
            b"EHLO x\r\n",
            b"PROXX TCP4",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
            b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
        ];
        for b in bad {
            assert!(parse(b).is_err(), "{:?}", String::from_utf8_lossy(b));
        }
        let long = [b"PROXY TCP4 ".as_slice(), &[b'1'; 200]].concat();
        assert_eq!(parse(&long), Err(ProxyError::TooLong));
    }

    fn v2(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
        let mut v = V2_SIG.to_vec();
        v.push(0x20 | cmd);
        v.push(fam);
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn v2_headers() {
        let body = [192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0, 25];
        let h = v2(1, 0x11, &body);
        assert_eq!(
            parse(&h),
            Ok(Some((tcp("192.0.2.1:56324", "198.51.100.2:25"), 28)))
        );
        // With a TLV after the addresses (HAProxy adds some): skipped.
        let mut with_tlv = body.to_vec();
        with_tlv.extend_from_slice(&[0x04, 0x00, 0x01, 0x00]);
        let h2 = v2(1, 0x11, &with_tlv);
        assert_eq!(parse(&h2).unwrap().unwrap().1, h2.len());
        let mut b6 = vec![0u8; 36];
        b6[15] = 1;
        b6[31] = 2;
        b6[32..34].copy_from_slice(&1000u16.to_be_bytes());
        b6[34..36].copy_from_slice(&25u16.to_be_bytes());
        assert_eq!(
            parse(&v2(1, 0x21, &b6)).unwrap().unwrap().0,
            tcp("[::1]:1000", "[::2]:25")
        );
        assert_eq!(parse(&v2(0, 0x00, &[])), Ok(Some((ProxyHeader::Local, 16))));
        for n in 0..h.len() {
            assert_eq!(parse(&h[..n]), Ok(None), "{n}");
        }
    }

    #[test]
    fn v2_errors() {
        let mut h = v2(1, 0x11, &[0; 12]);
        h[12] = 0x11;
        assert!(parse(&h).is_err());
        assert!(parse(&v2(1, 0x11, &[0; 4])).is_err());
        assert!(parse(&v2(5, 0x11, &[0; 12])).is_err());
        let mut huge = V2_SIG.to_vec();
        huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert_eq!(parse(&huge), Err(ProxyError::TooLong));
        assert_eq!(parse(b"\r\n\r\n\0\r\nQUIX\n"), Err(ProxyError::NotProxy));
    }

    #[test]
    fn never_panics() {
        let seeds: Vec<Vec<u8>> = vec![
            b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n".to_vec(),
            v2(1, 0x21, &[7; 36]),
            v2(1, 0x11, &[9; 12]),
        ];
        for s in &seeds {
            for i in 0..s.len() {
                for v in [0u8, b' ', b'\r', b'\n', 0xff, b'9', b':'] {
                    let mut m = s.clone();
                    m[i] = v;
                    let _ = parse(&m);
                    let _ = parse(&m[..i]);
                }
            }
        }
    }
}
