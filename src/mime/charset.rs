//! Charset conversion to UTF-8, built on `encoding_rs` (the WHATWG Encoding Standard).
//!
//! Labels are looked up as browsers do (`Encoding::for_label`), after a small table of aliases
//! common in mail but absent from WHATWG (`latin-1`, `cp932`, `cp949`, `ms936`, underscores
//! for dashes such as `euc_jp`, ...). Consequences worth knowing:
//!
//! - `iso-8859-1`/`latin1` decode as windows-1252 (bytes 0x80–0x9F become `€`, `‚`, ...), as
//!   every browser and most mail readers do; `gb2312` decodes as GBK, `shift_jis` as
//!   Windows-31J, `ks_c_5601-1987` as EUC-KR/UHC: all supersets of the declared charset.
//! - `us-ascii` (and `ascii`, the default when a text part names no charset) is handled here,
//!   not by WHATWG (which maps it to windows-1252): pure ASCII is returned as is; 8-bit bytes
//!   are decoded as UTF-8 when they form valid UTF-8 (mislabelled UTF-8 is the common case in
//!   mail), else as windows-1252; either way the result reports an error.
//! - An **unknown** label (including UTF-7, UTF-32, and labels WHATWG maps to its
//!   "replacement" encoding such as `iso-2022-kr`) is decoded as **lossy UTF-8** (invalid
//!   sequences become U+FFFD) and reported as an error.
//! - Byte order marks are not sniffed: the declared label wins and a BOM stays as U+FEFF.

use encoding_rs::Encoding;

/// Aliases seen in mail that the WHATWG label table does not know (lower-case).
const EXTRA_ALIASES: &[(&str, &str)] = &[
    ("latin-1", "windows-1252"),
    ("latin_1", "windows-1252"),
    ("iso8859_1", "windows-1252"),
    ("cp819", "windows-1252"),
    ("cp932", "shift_jis"),
    ("ms932", "shift_jis"),
    ("ms_kanji", "shift_jis"),
    ("cp949", "euc-kr"),
    ("ms949", "euc-kr"),
    ("uhc", "euc-kr"),
    ("cp936", "gbk"),
    ("ms936", "gbk"),
    ("euc-cn", "gb2312"),
    ("cp1250", "windows-1250"),
    ("cp1251", "windows-1251"),
    ("cp1253", "windows-1253"),
    ("cp1254", "windows-1254"),
    ("cp1255", "windows-1255"),
    ("cp1256", "windows-1256"),
    ("cp1257", "windows-1257"),
    ("cp1258", "windows-1258"),
    ("cp874", "windows-874"),
    ("cp866", "ibm866"),
    ("big5hkscs", "big5-hkscs"),
    ("utf8", "utf-8"),
];

/// Labels meaning US-ASCII (handled specially, see the module docs).
const ASCII_LABELS: &[&str] = &[
    "us-ascii",
    "ascii",
    "us",
    "ansi_x3.4-1968",
    "ansi_x3.4-1986",
    "iso646-us",
    "iso_646.irv:1991",
    "cp367",
    "ibm367",
    "csascii",
    "646",
];

/// Normalises a label: trims whitespace and quotes, lower-cases.
fn clean_label(label: &str) -> std::borrow::Cow<'_, str> {
    // The usual label (`utf-8`, `us-ascii`) is clean already: no char-by-char trims.
    let plain = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':');
    if label.bytes().all(|b| plain(&b) && !b.is_ascii_uppercase()) {
        return std::borrow::Cow::Borrowed(label);
    }
    let label = label
        .trim()
        .trim_matches(|c: char| c == '"' || c == '\'')
        .trim();
    if label.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(label.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(label)
    }
}

fn is_ascii_label(label: &str) -> bool {
    ASCII_LABELS.contains(&label)
}

/// Finds the encoding for a cleaned label; `None` when unknown or WHATWG's "replacement".
fn lookup(label: &str) -> Option<&'static Encoding> {
    // Most mail says utf-8: no table search for it.
    if label == "utf-8" {
        return Some(encoding_rs::UTF_8);
    }
    Encoding::for_label_no_replacement(label.as_bytes())
        .or_else(|| {
            EXTRA_ALIASES
                .iter()
                .find(|(alias, _)| *alias == label)
                .and_then(|(_, target)| Encoding::for_label_no_replacement(target.as_bytes()))
        })
        .or_else(|| {
            let dashed = label.replace('_', "-");
            Encoding::for_label_no_replacement(dashed.as_bytes())
        })
}

/// Whether `label` names a charset this module can decode (US-ASCII included).
pub fn is_supported(label: &str) -> bool {
    let label = clean_label(label);
    is_ascii_label(&label) || lookup(&label).is_some()
}

/// Decodes US-ASCII-labelled bytes: see the module docs.
fn ascii_to_utf8(bytes: &[u8]) -> (String, bool) {
    if bytes.is_ascii() {
        return (String::from_utf8_lossy(bytes).into_owned(), false);
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), true),
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            (text.into_owned(), true)
        }
    }
}

/// Converts `bytes` in the charset named by `label` to UTF-8 when the label is known.
/// Returns `None` for an unknown label; otherwise the text and whether any byte sequence
/// was invalid (replaced by U+FFFD, or decoded by a fallback as described in the module docs).
pub fn decode_known(bytes: &[u8], label: &str) -> Option<(String, bool)> {
    let label = clean_label(label);
    if is_ascii_label(&label) {
        return Some(ascii_to_utf8(bytes));
    }
    let encoding = lookup(&label)?;
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    Some((text.into_owned(), had_errors))
}

/// Converts `bytes` in the charset named by `label` to UTF-8. Never fails: an unknown label
/// is decoded as lossy UTF-8. The flag is true when the input was not valid in the declared
/// charset (invalid sequences replaced by U+FFFD), or when the label was unknown.
pub fn to_utf8(bytes: &[u8], label: &str) -> (String, bool) {
    match decode_known(bytes, label) {
        Some(result) => result,
        None => {
            let text = String::from_utf8_lossy(bytes).into_owned();
            (text, true)
        }
    }
}

/// Converts owned bytes in the charset named by `label` to UTF-8, as [`to_utf8`] does, but
/// reuses the buffer when it already holds the result (valid UTF-8 under a UTF-8, US-ASCII or
/// unknown label, or ASCII under any ASCII-compatible charset): no second copy of a body.
pub(crate) fn cow_to_utf8(bytes: std::borrow::Cow<'_, [u8]>, label: &str) -> String {
    let bytes = match bytes {
        std::borrow::Cow::Borrowed(b) => return to_utf8(b, label).0,
        std::borrow::Cow::Owned(v) => v,
    };
    // The usual label: no clean-up, no table search.
    if label == "utf-8" {
        return match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => to_utf8(e.as_bytes(), label).0,
        };
    }
    let clean = clean_label(label);
    let encoding = if is_ascii_label(&clean) {
        None
    } else {
        lookup(&clean)
    };
    let reusable = match encoding {
        // US-ASCII and unknown labels: valid UTF-8 is kept as is (see the module docs).
        None => true,
        Some(e) if e == encoding_rs::UTF_8 => true,
        Some(e) => e.is_ascii_compatible() && bytes.is_ascii(),
    };
    if !reusable {
        return to_utf8(&bytes, label).0;
    }
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => to_utf8(e.as_bytes(), label).0,
    }
}

/// [`cow_to_utf8`] keeping borrowed bytes borrowed when they are the text as they are (valid
/// UTF-8 under a UTF-8, US-ASCII or unknown label, ASCII under an ASCII-compatible charset):
/// the result equals [`to_utf8`]'s.
pub(crate) fn cow_to_utf8_cow<'b>(
    bytes: std::borrow::Cow<'b, [u8]>,
    label: &str,
) -> std::borrow::Cow<'b, str> {
    let bytes = match bytes {
        std::borrow::Cow::Borrowed(b) => b,
        owned => return std::borrow::Cow::Owned(cow_to_utf8(owned, label)),
    };
    // The usual label: no clean-up, no table search.
    if label == "utf-8" {
        return encoding_rs::UTF_8.decode_without_bom_handling(bytes).0;
    }
    let clean = clean_label(label);
    if is_ascii_label(&clean) {
        // As `ascii_to_utf8`: UTF-8 (ASCII included) as is, anything else as windows-1252.
        return match std::str::from_utf8(bytes) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => {
                encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0
            }
        };
    }
    match lookup(&clean) {
        Some(e) => e.decode_without_bom_handling(bytes).0,
        None => String::from_utf8_lossy(bytes),
    }
}

/// Decodes 8-bit header bytes: UTF-8 when valid (RFC 6532), otherwise windows-1252
/// (a superset of latin-1 covering most legacy unlabelled headers). Borrows valid UTF-8.
pub(crate) fn header_bytes_to_cow(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

/// [`header_bytes_to_cow`], owned.
#[cfg(test)]
pub(crate) fn header_bytes_to_string(bytes: &[u8]) -> String {
    header_bytes_to_cow(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_and_aliases() {
        assert_eq!(to_utf8("é€".as_bytes(), "UTF-8"), ("é€".to_owned(), false));
        assert_eq!(to_utf8(b"caf\xe9", "latin1"), ("café".to_owned(), false));
        assert_eq!(
            to_utf8(b"caf\xe9", "ISO-8859-1"),
            ("café".to_owned(), false)
        );
        assert_eq!(to_utf8(b"caf\xe9", "latin-1"), ("café".to_owned(), false));
        assert_eq!(to_utf8(b"\x80", "cp1252"), ("€".to_owned(), false));
        assert_eq!(
            to_utf8(b"\x80", "\"windows-1252\""),
            ("€".to_owned(), false)
        );
        assert_eq!(to_utf8(b"\xf0\xd2\xc9\xd7\xc5\xd4", "koi8-r").0, "Привет");
    }

    #[test]
    fn cjk() {
        // "日本" in Shift_JIS, EUC-KR "한", GB2312 "中文", ISO-2022-JP "日本".
        assert_eq!(to_utf8(b"\x93\xfa\x96\x7b", "shift_jis").0, "日本");
        assert_eq!(to_utf8(b"\x93\xfa\x96\x7b", "cp932").0, "日本");
        assert_eq!(to_utf8(b"\xc7\xd1", "ks_c_5601-1987").0, "한");
        assert_eq!(to_utf8(b"\xd6\xd0\xce\xc4", "gb2312").0, "中文");
        assert_eq!(to_utf8(b"\x1b$BF|K\\\x1b(B", "iso-2022-jp").0, "日本");
        assert_eq!(to_utf8(b"\xa4\xa2", "euc_jp").0, "あ");
    }

    #[test]
    fn ascii_special_cases() {
        assert_eq!(to_utf8(b"plain", "us-ascii"), ("plain".to_owned(), false));
        assert_eq!(to_utf8("é".as_bytes(), "us-ascii"), ("é".to_owned(), true));
        assert_eq!(to_utf8(b"\xe9", "ascii"), ("é".to_owned(), true));
    }

    #[test]
    fn unknown_and_replacement_labels_are_lossy_utf8() {
        assert_eq!(
            to_utf8(b"a\xffb", "x-bogus"),
            ("a\u{fffd}b".to_owned(), true)
        );
        assert_eq!(to_utf8(b"ok", "iso-2022-kr"), ("ok".to_owned(), true));
        assert!(!is_supported("iso-2022-kr"));
        assert!(!is_supported("utf-7"));
        assert!(is_supported("US-ASCII"));
        assert!(is_supported("gb2312"));
        assert_eq!(to_utf8(b"a\xffb", "utf-8"), ("a\u{fffd}b".to_owned(), true));
    }

    #[test]
    fn header_bytes() {
        assert_eq!(header_bytes_to_string("é".as_bytes()), "é");
        assert_eq!(header_bytes_to_string(b"\xe9"), "é");
    }
}
