//! The rules for MAIL and RCPT parameters (RFC 5321 §4.1.2, RFC 1870 SIZE, RFC 6152 8BITMIME,
//! RFC 3030 BINARYMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN): pure functions from parsed [`Param`]s
//! and what the server offers to typed values, or the error to answer. No I/O; the session only
//! routes, and passes the parameters it does not know to the handler.
//!
//! ```
//! use smtpkit::command::Param;
//! use smtpkit::server::MailParams;
//! use smtpkit::server::params::{Offered, ParamError};
//!
//! let p = |k: &str, v: &str| Param { keyword: k.into(), value: Some(v.into()) };
//! let offered = Offered { max_size: Some(1000), ..Offered::default() };
//! let (mail, unknown) = MailParams::parse(vec![p("SIZE", "500"), p("X-TRACE", "1")], true, &offered)?;
//! assert_eq!(mail.size, Some(500));
//! assert_eq!(unknown[0].keyword, "X-TRACE");
//! assert_eq!(
//!     MailParams::parse(vec![p("SIZE", "5000")], true, &offered).unwrap_err(),
//!     ParamError::TooBig
//! );
//! # Ok::<(), ParamError>(())
//! ```

use std::fmt;

use crate::command::Param;
use crate::dsn::{self, Notify, Orcpt};
use crate::reply::Reply;

use super::handler::{Body, MailParams};

/// What the server offers, as far as parameters go (from its configuration and EHLO reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    /// The size limit in force (`SIZE`); `None` = no limit.
    pub max_size: Option<u64>,
    /// 8BITMIME is offered.
    pub eight_bit_mime: bool,
    /// BINARYMIME is offered.
    pub binary_mime: bool,
    /// DSN is offered: RET, ENVID, NOTIFY and ORCPT are the server's to check.
    pub dsn: bool,
    /// SMTPUTF8 is offered.
    pub smtputf8: bool,
}

impl Default for Offered {
    /// What a default server offers: 8BITMIME and SMTPUTF8, no size limit.
    fn default() -> Self {
        Offered {
            max_size: None,
            eight_bit_mime: true,
            binary_mime: false,
            dsn: false,
            smtputf8: true,
        }
    }
}

/// Why MAIL or RCPT parameters were refused. Each maps to a reply ([`Reply::from`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamError {
    /// Parameters after HELO (not EHLO): `555 5.5.4`.
    NeedEhlo,
    /// The same keyword twice: `501 5.5.4`.
    Duplicate,
    /// `SIZE` without a plain decimal value: `501 5.5.4`.
    BadSize,
    /// `SIZE` above the limit: `552 5.3.4` (not the client's mistake).
    TooBig,
    /// `BODY` with a value not offered: `501 5.5.4`.
    BadBody,
    /// `RET` not FULL or HDRS: `501 5.5.4`.
    BadRet,
    /// `ENVID` not valid xtext of at most 100 characters: `501 5.5.4`.
    BadEnvid,
    /// `SMTPUTF8=value`: `501 5.5.4`.
    SmtpUtf8Value,
    /// `NOTIFY` not NEVER or a set of SUCCESS, FAILURE, DELAY: `501 5.5.4`.
    BadNotify,
    /// `ORCPT` not `type;xtext`: `501 5.5.4`.
    BadOrcpt,
    /// `NOTIFY` or `ORCPT` twice, or without a value: `501 5.5.4`.
    BadDsn,
}

impl ParamError {
    /// True when the client made a mistake (counted against its error budget); false for a
    /// refusal of a well-formed request (`SIZE` over the limit).
    pub fn is_client_mistake(&self) -> bool {
        *self != ParamError::TooBig
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParamError::NeedEhlo => "Parameters need EHLO",
            ParamError::Duplicate => "Duplicate parameter",
            ParamError::BadSize => "Bad SIZE parameter",
            ParamError::TooBig => "Message size exceeds fixed limit",
            ParamError::BadBody => "Bad BODY parameter",
            ParamError::BadRet => "Bad RET parameter",
            ParamError::BadEnvid => "Bad ENVID parameter",
            ParamError::SmtpUtf8Value => "SMTPUTF8 takes no value",
            ParamError::BadNotify => "Bad NOTIFY parameter",
            ParamError::BadOrcpt => "Bad ORCPT parameter",
            ParamError::BadDsn => "Bad DSN parameter",
        })
    }
}

impl std::error::Error for ParamError {}

impl From<&ParamError> for Reply {
    fn from(e: &ParamError) -> Reply {
        match e {
            ParamError::TooBig => Reply::TOO_BIG,
            ParamError::NeedEhlo => Reply::with(555, (5, 5, 4), "Parameters need EHLO"),
            other => Reply::new(
                501,
                Some(crate::reply::EnhancedCode::new(5, 5, 4)),
                other.to_string(),
            ),
        }
    }
}

impl MailParams {
    /// Checks MAIL parameters (`esmtp`: the client said EHLO or LHLO). Returns the typed
    /// values and, in order, the parameters this module does not know, for the handler to
    /// accept or refuse ([`Handler::on_mail_param`](super::Handler::on_mail_param)); those end
    /// up in [`MailParams::other`] once accepted.
    pub fn parse(
        params: Vec<Param>,
        esmtp: bool,
        offered: &Offered,
    ) -> Result<(MailParams, Vec<Param>), ParamError> {
        let mut out = MailParams::default();
        if params.is_empty() {
            return Ok((out, Vec::new()));
        }
        if !esmtp {
            return Err(ParamError::NeedEhlo);
        }
        no_duplicates(&params)?;
        let mut unknown = Vec::new();
        for p in params {
            match (p.keyword.as_str(), p.value.as_deref()) {
                ("SIZE", Some(v)) => {
                    let n = decimal(v).ok_or(ParamError::BadSize)?;
                    if offered.max_size.is_some_and(|max| n > max) {
                        return Err(ParamError::TooBig);
                    }
                    out.size = Some(n);
                }
                ("SIZE", None) => return Err(ParamError::BadSize),
                ("BODY", v) if offered.eight_bit_mime || offered.binary_mime => {
                    out.body = Some(match v.map(str::to_ascii_uppercase).as_deref() {
                        Some("7BIT") => Body::SevenBit,
                        Some("8BITMIME") if offered.eight_bit_mime => Body::EightBitMime,
                        Some("BINARYMIME") if offered.binary_mime => Body::BinaryMime,
                        _ => return Err(ParamError::BadBody),
                    })
                }
                ("RET", Some(v)) if offered.dsn => {
                    out.ret = Some(dsn::parse_ret(v).ok_or(ParamError::BadRet)?);
                }
                ("ENVID", Some(v)) if offered.dsn => {
                    out.envid = Some(dsn::parse_envid(v).ok_or(ParamError::BadEnvid)?);
                }
                ("SMTPUTF8", None) if offered.smtputf8 => out.smtputf8 = true,
                ("SMTPUTF8", Some(_)) if offered.smtputf8 => {
                    return Err(ParamError::SmtpUtf8Value);
                }
                _ => unknown.push(p),
            }
        }
        Ok((out, unknown))
    }
}

/// The parameters of RCPT that the server understands (DSN's, when offered).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcptParams {
    /// `NOTIFY=`
    pub notify: Option<Notify>,
    /// `ORCPT=`
    pub orcpt: Option<Orcpt>,
}

impl RcptParams {
    /// Checks RCPT parameters. Returns the typed values and, in order, the parameters this
    /// module does not know, for [`Handler::on_rcpt_param`](super::Handler::on_rcpt_param).
    pub fn parse(
        params: Vec<Param>,
        offered: &Offered,
    ) -> Result<(RcptParams, Vec<Param>), ParamError> {
        let mut out = RcptParams::default();
        let mut unknown = Vec::new();
        for p in params {
            match (p.keyword.as_str(), p.value.as_deref()) {
                ("NOTIFY", Some(v)) if offered.dsn && out.notify.is_none() => {
                    out.notify = Some(dsn::parse_notify(v).ok_or(ParamError::BadNotify)?);
                }
                ("ORCPT", Some(v)) if offered.dsn && out.orcpt.is_none() => {
                    out.orcpt = Some(dsn::parse_orcpt(v).ok_or(ParamError::BadOrcpt)?);
                }
                ("NOTIFY" | "ORCPT", _) if offered.dsn => return Err(ParamError::BadDsn),
                _ => unknown.push(p),
            }
        }
        Ok((out, unknown))
    }
}

/// A plain decimal number (no sign, at most 20 digits) that fits a u64.
fn decimal(v: &str) -> Option<u64> {
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Keywords are compared as parsed (upper case). Parameter lists are short (bounded by the
/// line length), so a quadratic check costs less than a set.
fn no_duplicates(params: &[Param]) -> Result<(), ParamError> {
    for (i, p) in params.iter().enumerate() {
        if params[..i].iter().any(|q| q.keyword == p.keyword) {
            return Err(ParamError::Duplicate);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(k: &str, v: Option<&str>) -> Param {
        Param {
            keyword: k.into(),
            value: v.map(Into::into),
        }
    }

    fn all() -> Offered {
        Offered {
            max_size: Some(1000),
            eight_bit_mime: true,
            binary_mime: true,
            dsn: true,
            smtputf8: true,
        }
    }

    #[test]
    fn mail_parameters() {
        let (m, u) = MailParams::parse(
            vec![
                p("SIZE", Some("10")),
                p("BODY", Some("binarymime")),
                p("RET", Some("HDRS")),
                p("ENVID", Some("QQ+2B314159")),
                p("SMTPUTF8", None),
                p("X-A", Some("1")),
            ],
            true,
            &all(),
        )
        .unwrap();
        assert_eq!(m.size, Some(10));
        assert_eq!(m.body, Some(Body::BinaryMime));
        assert_eq!(m.envid.as_deref(), Some("QQ+314159"));
        assert!(m.smtputf8);
        assert_eq!(u, vec![p("X-A", Some("1"))]);
        let err = |params: Vec<Param>, o: &Offered| MailParams::parse(params, true, o).unwrap_err();
        assert_eq!(
            err(vec![p("SIZE", Some("+1"))], &all()),
            ParamError::BadSize
        );
        assert_eq!(err(vec![p("SIZE", None)], &all()), ParamError::BadSize);
        assert_eq!(
            err(vec![p("SIZE", Some("1001"))], &all()),
            ParamError::TooBig
        );
        assert_eq!(
            err(vec![p("SIZE", Some("1")), p("SIZE", Some("1"))], &all()),
            ParamError::Duplicate
        );
        assert_eq!(err(vec![p("RET", Some("ALL"))], &all()), ParamError::BadRet);
        assert_eq!(
            err(vec![p("SMTPUTF8", Some("x"))], &all()),
            ParamError::SmtpUtf8Value
        );
        let plain = Offered {
            binary_mime: false,
            ..Offered::default()
        };
        assert_eq!(
            err(vec![p("BODY", Some("BINARYMIME"))], &plain),
            ParamError::BadBody
        );
        // Without DSN, RET is just another parameter for the handler.
        let (_, u) = MailParams::parse(vec![p("RET", Some("ALL"))], true, &plain).unwrap();
        assert_eq!(u.len(), 1);
        assert_eq!(
            MailParams::parse(vec![p("SIZE", Some("1"))], false, &all()).unwrap_err(),
            ParamError::NeedEhlo
        );
        assert!(MailParams::parse(vec![], false, &all()).is_ok());
    }

    #[test]
    fn rcpt_parameters() {
        let (r, u) = RcptParams::parse(
            vec![
                p("NOTIFY", Some("SUCCESS,DELAY")),
                p("ORCPT", Some("rfc822;c+40d.example")),
                p("X-B", None),
            ],
            &all(),
        )
        .unwrap();
        assert!(r.notify.is_some());
        assert_eq!(r.orcpt.unwrap().address, "c@d.example");
        assert_eq!(u, vec![p("X-B", None)]);
        let err = |params: Vec<Param>| RcptParams::parse(params, &all()).unwrap_err();
        assert_eq!(
            err(vec![p("NOTIFY", Some("NEVER,SUCCESS"))]),
            ParamError::BadNotify
        );
        assert_eq!(err(vec![p("ORCPT", Some("rfc822"))]), ParamError::BadOrcpt);
        assert_eq!(err(vec![p("NOTIFY", None)]), ParamError::BadDsn);
        assert_eq!(
            err(vec![p("NOTIFY", Some("NEVER")), p("NOTIFY", Some("NEVER"))]),
            ParamError::BadDsn
        );
        let (r, u) = RcptParams::parse(vec![p("NOTIFY", Some("x"))], &Offered::default()).unwrap();
        assert_eq!((r, u.len()), (RcptParams::default(), 1));
    }

    #[test]
    fn replies() {
        assert_eq!(Reply::from(&ParamError::TooBig).code, 552);
        assert_eq!(Reply::from(&ParamError::NeedEhlo).code, 555);
        let r = Reply::from(&ParamError::BadNotify);
        assert_eq!(r.to_string(), "501 5.5.4 Bad NOTIFY parameter");
        assert!(!ParamError::TooBig.is_client_mistake());
        assert!(ParamError::Duplicate.is_client_mistake());
    }
}
