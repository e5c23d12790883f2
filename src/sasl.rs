//! SMTP AUTH (RFC 4954) with the PLAIN, LOGIN, CRAM-MD5 and XOAUTH2 mechanisms (both sides), and
//! OAUTHBEARER (RFC 7628, client side).
//!
//! Pure and I/O-free: the server side is a small state machine driven by the
//! client's lines ([`ServerExchange`]); the client side is a set of response
//! builders returning base64 text ready to send.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;

/// A SASL mechanism smtpkit speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// PLAIN (RFC 4616).
    Plain,
    /// LOGIN (draft-murchison-sasl-login).
    Login,
    /// CRAM-MD5 (RFC 2195).
    CramMd5,
    /// XOAUTH2 (Google's OAuth 2.0 bearer-token mechanism).
    XOAuth2,
    /// OAUTHBEARER (RFC 7628), the standard OAuth 2.0 bearer-token mechanism. Client side
    /// only: it is not in [`Mechanism::ALL`], and a server configured with it refuses every
    /// attempt as malformed.
    OAuthBearer,
}

impl Mechanism {
    /// All four, in gen_smtp's client preference order: CRAM-MD5, LOGIN, PLAIN, XOAUTH2.
    pub const ALL: [Mechanism; 4] = [
        Mechanism::CramMd5,
        Mechanism::Login,
        Mechanism::Plain,
        Mechanism::XOAuth2,
    ];

    /// Case-insensitive: "PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER".
    pub fn parse(s: &str) -> Option<Mechanism> {
        Self::ALL
            .into_iter()
            .chain([Mechanism::OAuthBearer])
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }

    /// The IANA name, upper-case.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the client proved, for the handler to verify.
///
/// `Debug` redacts passwords and tokens.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// PLAIN: authorization identity (empty when not given), authentication identity, password.
    Plain {
        /// Authorization identity (empty when not given).
        authzid: String,
        /// Authentication identity.
        authcid: String,
        /// Password.
        password: String,
    },
    /// LOGIN
    Login {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// CRAM-MD5: the challenge the server sent (decoded text, e.g. "<1896.697170952@host>") and the
    /// client's lower-case hex HMAC-MD5 digest.
    CramMd5 {
        /// User name.
        username: String,
        /// The decoded challenge the server sent.
        challenge: String,
        /// The client's digest, lower-case hex.
        digest: String,
    },
    /// XOAUTH2: user and bearer token.
    XOAuth2 {
        /// User.
        user: String,
        /// Bearer token.
        token: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const REDACTED: &str = "<redacted>";
        match self {
            Credentials::Plain {
                authzid, authcid, ..
            } => f
                .debug_struct("Plain")
                .field("authzid", authzid)
                .field("authcid", authcid)
                .field("password", &REDACTED)
                .finish(),
            Credentials::Login { username, .. } => f
                .debug_struct("Login")
                .field("username", username)
                .field("password", &REDACTED)
                .finish(),
            Credentials::CramMd5 {
                username,
                challenge,
                digest,
            } => f
                .debug_struct("CramMd5")
                .field("username", username)
                .field("challenge", challenge)
                .field("digest", digest)
                .finish(),
            Credentials::XOAuth2 { user, .. } => f
                .debug_struct("XOAuth2")
                .field("user", user)
                .field("token", &REDACTED)
                .finish(),
        }
    }
}

impl Credentials {
    /// The authentication identity (authcid / username / user).
    pub fn username(&self) -> &str {
        match self {
            Credentials::Plain { authcid, .. } => authcid,
            Credentials::Login { username, .. } | Credentials::CramMd5 { username, .. } => username,
            Credentials::XOAuth2 { user, .. } => user,
        }
    }

    /// The mechanism these came from.
    pub fn mechanism(&self) -> Mechanism {
        match self {
            Credentials::Plain { .. } => Mechanism::Plain,
            Credentials::Login { .. } => Mechanism::Login,
            Credentials::CramMd5 { .. } => Mechanism::CramMd5,
            Credentials::XOAuth2 { .. } => Mechanism::XOAuth2,
        }
    }

    /// Checks a plain-text password: equality (constant time) for PLAIN and LOGIN, the HMAC-MD5
    /// digest for CRAM-MD5; always false for XOAUTH2 (tokens are checked by the application).
    pub fn check_password(&self, password: &str) -> bool {
        match self {
            Credentials::Plain { password: p, .. } | Credentials::Login { password: p, .. } => {
                ct_eq(p.as_bytes(), password.as_bytes())
            }
            Credentials::CramMd5 {
                challenge, digest, ..
            } => {
                let Some(tag) = hex_decode(digest) else {
                    return false;
                };
                match hmac_md5(password.as_bytes()) {
                    Some(mac) => mac
                        .chain_update(challenge.as_bytes())
                        .verify_slice(&tag)
                        .is_ok(),
                    None => false,
                }
            }
            Credentials::XOAuth2 { .. } => false,
        }
    }
}

/// HMAC-MD5(key = password, message = challenge), lower-case hex (RFC 2195).
pub fn cram_md5_digest(password: &str, challenge: &str) -> String {
    digest_hex(password.as_bytes(), challenge.as_bytes())
}

/// A fresh CRAM-MD5 challenge `<unique.timestamp@hostname>`; unique within the process
/// (pid, time in nanoseconds and an atomic counter; no RNG crate).
pub fn cram_md5_challenge(hostname: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    // Keep the msg-id shape: no spaces, angle brackets or controls from the hostname.
    let host: String = hostname
        .chars()
        .filter(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '@'))
        .collect();
    let host = if host.is_empty() { "localhost" } else { &host };
    format!("<{}.{n}.{nanos}@{host}>", std::process::id())
}

/// What the server sends next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send `334 <this>`: already base64-encoded (may be empty: `334 ` for PLAIN without initial response).
    Challenge(String),
    /// The exchange is complete: verify these.
    Done(Credentials),
}

/// Why an exchange failed; each maps to an SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslError {
    /// The client sent `*` (`501 5.7.0`).
    Cancelled,
    /// Not valid base64 (`501 5.5.2`).
    BadBase64,
    /// Decoded, but not the mechanism's format (e.g. PLAIN without two NULs, invalid UTF-8, XOAUTH2 without user=/auth=Bearer) (`501 5.5.2`).
    Malformed(&'static str),
    /// An initial response where the mechanism allows none (CRAM-MD5) (`501 5.5.2`).
    UnexpectedInitialResponse,
}

impl SaslError {
    /// The SMTP reply: code, enhanced status code and text.
    pub fn reply_parts(&self) -> (u16, (u8, u16, u16), &'static str) {
        match self {
            SaslError::Cancelled => (501, (5, 7, 0), "Authentication cancelled"),
            SaslError::BadBase64 => (501, (5, 5, 2), "Invalid base64 data"),
            SaslError::Malformed(_) => (501, (5, 5, 2), "Malformed authentication data"),
            SaslError::UnexpectedInitialResponse => (
                501,
                (5, 5, 2),
                "Initial response not allowed for this mechanism",
            ),
        }
    }
}

impl From<&SaslError> for crate::reply::Reply {
    fn from(e: &SaslError) -> crate::reply::Reply {
        let (code, (c, s, d), text) = e.reply_parts();
        crate::reply::Reply::with(code, (c, s, d), text)
    }
}

impl fmt::Display for SaslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaslError::Cancelled => f.write_str("authentication cancelled by the client"),
            SaslError::BadBase64 => f.write_str("invalid base64 data"),
            SaslError::Malformed(why) => write!(f, "malformed authentication data: {why}"),
            SaslError::UnexpectedInitialResponse => {
                f.write_str("initial response not allowed for this mechanism")
            }
        }
    }
}

impl std::error::Error for SaslError {}

/// base64("Username:")
const LOGIN_USERNAME_PROMPT: &str = "VXNlcm5hbWU6";
/// base64("Password:")
const LOGIN_PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6";

/// Where a server exchange stands.
#[derive(Debug, Clone)]
enum State {
    PlainWait,
    LoginUser,
    LoginPass { username: String },
    CramWait { challenge: String },
    XOAuth2Wait,
    Finished,
}

/// The server side of one AUTH exchange.
#[derive(Debug, Clone)]
pub struct ServerExchange {
    mech: Mechanism,
    state: State,
}

impl ServerExchange {
    /// Starts an exchange for `AUTH <mech> [initial]`. `initial` is the raw initial-response
    /// argument ("=" means an empty response, RFC 4954 §4). `hostname` seeds the CRAM-MD5 challenge.
    pub fn start(
        mech: Mechanism,
        initial: Option<&str>,
        hostname: &str,
    ) -> Result<(ServerExchange, Step), SaslError> {
        let mut ex = ServerExchange {
            mech,
            state: State::Finished,
        };
        let step = match (mech, initial) {
            (Mechanism::OAuthBearer, _) => {
                return Err(SaslError::Malformed(
                    "OAUTHBEARER is not supported on the server side",
                ));
            }
            (Mechanism::CramMd5, Some(_)) => return Err(SaslError::UnexpectedInitialResponse),
            (Mechanism::CramMd5, None) => {
                let challenge = cram_md5_challenge(hostname);
                let step = Step::Challenge(STANDARD.encode(challenge.as_bytes()));
                ex.state = State::CramWait { challenge };
                step
            }
            (Mechanism::Plain, None) => {
                ex.state = State::PlainWait;
                Step::Challenge(String::new())
            }
            (Mechanism::XOAuth2, None) => {
                ex.state = State::XOAuth2Wait;
                Step::Challenge(String::new())
            }
            (Mechanism::Login, None) => {
                ex.state = State::LoginUser;
                Step::Challenge(LOGIN_USERNAME_PROMPT.to_owned())
            }
            (_, Some(line)) => {
                ex.state = match mech {
                    Mechanism::Plain => State::PlainWait,
                    Mechanism::XOAuth2 => State::XOAuth2Wait,
                    _ => State::LoginUser,
                };
                ex.respond(line)?
            }
        };
        Ok((ex, step))
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mech
    }

    /// Whether the exchange has ended (done or failed); further lines are rejected.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Finished)
    }

    /// Feeds the client's next line (without CRLF; surrounding whitespace ignored). `*` → Cancelled.
    ///
    /// Any error, or `Done`, ends the exchange; a line after that is `Malformed`.
    pub fn respond(&mut self, line: &str) -> Result<Step, SaslError> {
        let state = std::mem::replace(&mut self.state, State::Finished);
        if matches!(state, State::Finished) {
            return Err(SaslError::Malformed(
                "authentication exchange already finished",
            ));
        }
        let data = decode_line(line)?;
        match state {
            State::PlainWait => parse_plain(&data).map(Step::Done),
            State::LoginUser => {
                let username = login_field(data, "empty LOGIN user name")?;
                self.state = State::LoginPass { username };
                Ok(Step::Challenge(LOGIN_PASSWORD_PROMPT.to_owned()))
            }
            State::LoginPass { username } => {
                let password = login_field(data, "empty LOGIN password")?;
                Ok(Step::Done(Credentials::Login { username, password }))
            }
            State::CramWait { challenge } => parse_cram(&data, challenge).map(Step::Done),
            State::XOAuth2Wait => parse_xoauth2(&data).map(Step::Done),
            State::Finished => Err(SaslError::Malformed(
                "authentication exchange already finished",
            )),
        }
    }
}

/// Decodes one client line: `*` cancels, empty or `=` is an empty response.
fn decode_line(line: &str) -> Result<Vec<u8>, SaslError> {
    match line.trim() {
        "*" => Err(SaslError::Cancelled),
        "" | "=" => Ok(Vec::new()),
        text => STANDARD_PAD_INDIFFERENT
            .decode(text)
            .map_err(|_| SaslError::BadBase64),
    }
}

fn utf8(data: Vec<u8>) -> Result<String, SaslError> {
    String::from_utf8(data).map_err(|_| SaslError::Malformed("not valid UTF-8"))
}

/// `authzid NUL authcid NUL passwd`, RFC 4616 §2.
fn parse_plain(data: &[u8]) -> Result<Credentials, SaslError> {
    let text = std::str::from_utf8(data).map_err(|_| SaslError::Malformed("not valid UTF-8"))?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed(
            "PLAIN needs authzid NUL authcid NUL password",
        ));
    };
    if authcid.is_empty() {
        return Err(SaslError::Malformed("empty PLAIN authentication identity"));
    }
    if password.is_empty() {
        return Err(SaslError::Malformed("empty PLAIN password"));
    }
    Ok(Credentials::Plain {
        authzid: authzid.to_owned(),
        authcid: authcid.to_owned(),
        password: password.to_owned(),
    })
}

/// One LOGIN answer: non-empty UTF-8 without NUL.
fn login_field(data: Vec<u8>, empty: &'static str) -> Result<String, SaslError> {
    let text = utf8(data)?;
    if text.is_empty() {
        return Err(SaslError::Malformed(empty));
    }
    if text.contains('\0') {
        return Err(SaslError::Malformed("NUL in LOGIN data"));
    }
    Ok(text)
}

/// `username SP digest`, RFC 2195; the user name may itself contain spaces.
fn parse_cram(data: &[u8], challenge: String) -> Result<Credentials, SaslError> {
    let text = std::str::from_utf8(data).map_err(|_| SaslError::Malformed("not valid UTF-8"))?;
    let Some((username, digest)) = text.rsplit_once(' ') else {
        return Err(SaslError::Malformed(
            "CRAM-MD5 needs user name, space, digest",
        ));
    };
    if username.is_empty() || username.contains('\0') {
        return Err(SaslError::Malformed("bad CRAM-MD5 user name"));
    }
    if digest.len() != 32 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SaslError::Malformed("CRAM-MD5 digest is not 32 hex digits"));
    }
    Ok(Credentials::CramMd5 {
        username: username.to_owned(),
        challenge,
        digest: digest.to_ascii_lowercase(),
    })
}

/// `user=U ^A auth=Bearer T ^A ^A`, tolerant of key order, case and extra `^A`s.
fn parse_xoauth2(data: &[u8]) -> Result<Credentials, SaslError> {
    let text = std::str::from_utf8(data).map_err(|_| SaslError::Malformed("not valid UTF-8"))?;
    let mut user: Option<&str> = None;
    let mut token: Option<&str> = None;
    for field in text.split('\x01').filter(|f| !f.is_empty()) {
        let Some((key, value)) = field.split_once('=') else {
            return Err(SaslError::Malformed("XOAUTH2 field without '='"));
        };
        let slot = if key.eq_ignore_ascii_case("user") {
            &mut user
        } else if key.eq_ignore_ascii_case("auth") {
            let value = value.trim();
            let Some((scheme, rest)) = value.split_once(' ') else {
                return Err(SaslError::Malformed("XOAUTH2 auth is not 'Bearer <token>'"));
            };
            if !scheme.eq_ignore_ascii_case("Bearer") {
                return Err(SaslError::Malformed("XOAUTH2 auth is not 'Bearer <token>'"));
            }
            if token.replace(rest.trim()).is_some() {
                return Err(SaslError::Malformed("XOAUTH2 field repeated"));
            }
            continue;
        } else {
            // Unknown fields (e.g. host=, port=) are ignored.
            continue;
        };
        if slot.replace(value).is_some() {
            return Err(SaslError::Malformed("XOAUTH2 field repeated"));
        }
    }
    match (user, token) {
        (Some(u), Some(t)) if !u.is_empty() && !t.is_empty() => Ok(Credentials::XOAuth2 {
            user: u.to_owned(),
            token: t.to_owned(),
        }),
        (None | Some(""), _) => Err(SaslError::Malformed("XOAUTH2 without user=")),
        _ => Err(SaslError::Malformed("XOAUTH2 without auth=Bearer <token>")),
    }
}

/// PLAIN initial response for `AUTH PLAIN <this>`.
pub fn plain_response(authzid: &str, username: &str, password: &str) -> String {
    let payload = format!("{authzid}\0{username}\0{password}");
    STANDARD.encode(payload.as_bytes())
}

/// LOGIN: the answer to the server's `step`-th 334 prompt (0: the username, 1: the password).
///
/// The prompt text is not interpreted (servers send "Username:", "User Name\0", a prompt
/// followed by words, or nothing at all), so it cannot be wrong: the answers go in the order
/// every server asks for them. `prompt` is accepted only for compatibility; this never fails.
pub fn login_response(
    prompt: &str,
    step: usize,
    username: &str,
    password: &str,
) -> Result<String, SaslError> {
    let _ = prompt;
    Ok(login_answer(step, username, password))
}

/// LOGIN: base64 of the username for `step` 0, of the password for any later step.
pub fn login_answer(step: usize, username: &str, password: &str) -> String {
    let answer = if step == 0 { username } else { password };
    STANDARD.encode(answer.as_bytes())
}

/// CRAM-MD5: answer the server's challenge (base64) with base64("username digest").
pub fn cram_md5_response(
    challenge_b64: &str,
    username: &str,
    password: &str,
) -> Result<String, SaslError> {
    let challenge = decode_line(challenge_b64).map_err(|_| SaslError::BadBase64)?;
    let digest = digest_hex(password.as_bytes(), &challenge);
    Ok(STANDARD.encode(format!("{username} {digest}").as_bytes()))
}

/// XOAUTH2 initial response.
pub fn xoauth2_response(user: &str, token: &str) -> String {
    STANDARD.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01").as_bytes())
}

/// OAUTHBEARER initial response (RFC 7628 §3.1): the GS2 header naming `user` as the
/// authorization identity (`,` and `=` escaped as `=2C` and `=3D`), then `auth=Bearer token`.
/// `host` and `port` are optional key-values some providers want.
pub fn oauthbearer_response(
    user: &str,
    token: &str,
    host: Option<&str>,
    port: Option<u16>,
) -> String {
    let authzid = user.replace('=', "=3D").replace(',', "=2C");
    let mut msg = format!("n,a={authzid},\x01");
    if let Some(h) = host {
        msg.push_str(&format!("host={h}\x01"));
    }
    if let Some(p) = port {
        msg.push_str(&format!("port={p}\x01"));
    }
    msg.push_str(&format!("auth=Bearer {token}\x01\x01"));
    STANDARD.encode(msg.as_bytes())
}

/// OAUTHBEARER: the client's answer to the server's error challenge (RFC 7628 §3.2.3), a
/// single `^A`, after which the server sends its failure reply.
pub const OAUTHBEARER_ABORT: &str = "AQ==";

/// HMAC-MD5 keyed with `key` (HMAC takes any key length, so this is always `Some`).
fn hmac_md5(key: &[u8]) -> Option<Hmac<Md5>> {
    <Hmac<Md5> as KeyInit>::new_from_slice(key).ok()
}

fn digest_hex(key: &[u8], message: &[u8]) -> String {
    let Some(mac) = hmac_md5(key) else {
        return String::new();
    };
    let tag = mac.chain_update(message).finalize().into_bytes();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(tag.len() * 2);
    for b in tag.iter() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let pairs = s.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    pairs
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// Equality whose time depends only on the lengths, not on where the bytes differ.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in a.iter().enumerate() {
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
#[path = "sasl_tests.rs"]
mod tests;
