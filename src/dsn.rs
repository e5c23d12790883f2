//! Delivery Status Notification parameters (RFC 3461): `RET` and `ENVID` on MAIL, `NOTIFY` and
//! `ORCPT` on RCPT, with xtext decoding. Pure parsing, no I/O.

/// `RET=`: what a bounce should carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: the headers only.
    Headers,
}

/// `NOTIFY=`: when to send a DSN for this recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notify {
    /// On successful delivery.
    pub success: bool,
    /// On failure.
    pub failure: bool,
    /// On delay.
    pub delay: bool,
}

impl Notify {
    /// `NOTIFY=NEVER`.
    pub fn never(&self) -> bool {
        !self.success && !self.failure && !self.delay
    }
}

/// `ORCPT=`: the original recipient, as the first MTA saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orcpt {
    /// Address type, usually `rfc822` (or `utf-8`, RFC 6533).
    pub addr_type: String,
    /// The address, xtext-decoded.
    pub address: String,
}

/// Longest ENVID (RFC 3461 §4.4: 100 characters).
const MAX_ENVID: usize = 100;

/// Decodes xtext (RFC 3461 §4): printable ASCII except `+` and `=`, and `+XX` hex escapes
/// (upper-case). None when malformed or when the result is not UTF-8.
pub fn decode_xtext(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'+' => {
                let hex = b.get(i + 1..i + 3)?;
                if !hex
                    .iter()
                    .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h))
                {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 3;
            }
            b'=' => return None,
            33..=126 => {
                out.push(c);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// Parses a `RET=` value (case-insensitive).
pub fn parse_ret(v: &str) -> Option<Ret> {
    match v.to_ascii_uppercase().as_str() {
        "FULL" => Some(Ret::Full),
        "HDRS" => Some(Ret::Headers),
        _ => None,
    }
}

/// Parses an `ENVID=` value (xtext, at most 100 characters).
pub fn parse_envid(v: &str) -> Option<String> {
    let s = decode_xtext(v)?;
    (!s.is_empty() && s.chars().count() <= MAX_ENVID).then_some(s)
}

/// Parses a `NOTIFY=` value: `NEVER`, or a comma list of `SUCCESS`, `FAILURE`, `DELAY`
/// (case-insensitive, no repeats, NEVER alone).
pub fn parse_notify(v: &str) -> Option<Notify> {
    let mut n = Notify::default();
    let mut never = false;
    for word in v.split(',') {
        let flag = match word.to_ascii_uppercase().as_str() {
            "NEVER" => &mut never,
            "SUCCESS" => &mut n.success,
            "FAILURE" => &mut n.failure,
            "DELAY" => &mut n.delay,
            _ => return None,
        };
        if *flag {
            return None;
        }
        *flag = true;
    }
    if never && !n.never() {
        return None;
    }
    Some(n)
}

/// Parses an `ORCPT=addr-type;xtext` value.
pub fn parse_orcpt(v: &str) -> Option<Orcpt> {
    let (addr_type, rest) = v.split_once(';')?;
    let ok_type = !addr_type.is_empty()
        && addr_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let address = decode_xtext(rest)?;
    (ok_type && !address.is_empty()).then(|| Orcpt {
        addr_type: addr_type.to_ascii_lowercase(),
        address,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtext() {
        assert_eq!(decode_xtext("a+2Bb+3Dc"), Some("a+b=c".into()));
        assert_eq!(decode_xtext("plain"), Some("plain".into()));
        for bad in ["a+2b", "a+", "a+2", "a=b", "a b", "a\u{e9}", "+C3"] {
            assert_eq!(decode_xtext(bad), None, "{bad}");
        }
        assert_eq!(decode_xtext("+C3+A9"), Some("\u{e9}".into()));
    }

    #[test]
    fn notify_ret_envid_orcpt() {
        assert_eq!(parse_notify("NEVER").map(|n| n.never()), Some(true));
        assert_eq!(
            parse_notify("success,Failure"),
            Some(Notify {
                success: true,
                failure: true,
                delay: false
            })
        );
        for bad in [
            "",
            "NEVER,SUCCESS",
            "SUCCESS,SUCCESS",
            "SOMETIMES",
            "SUCCESS,",
        ] {
            assert_eq!(parse_notify(bad), None, "{bad}");
        }
        assert_eq!(parse_ret("hdrs"), Some(Ret::Headers));
        assert_eq!(parse_ret("BODY"), None);
        assert_eq!(parse_envid("QQ314159"), Some("QQ314159".into()));
        assert_eq!(parse_envid(&"x".repeat(101)), None);
        assert_eq!(
            parse_orcpt("rfc822;bob+40example.org"),
            Some(Orcpt {
                addr_type: "rfc822".into(),
                address: "bob@example.org".into()
            })
        );
        for bad in ["rfc822", ";a@b", "rfc822;", "rf c;a", "rfc822;a=b"] {
            assert_eq!(parse_orcpt(bad), None, "{bad}");
        }
    }
}
