//! The catcher's log: one line per record on stderr, `<time> [LEVEL] <message>`, the time in
//! RFC 3339 UTC with trailing zeros of the nanoseconds dropped: the lines simplelog's
//! `TermLogger` wrote with `set_time_format_rfc3339` (no thread, no target, no colour).
//!
//! Why not simplelog: a message's INFO line cost ~6,700 instructions there (the `time`
//! crate's formatter, a `format!` of the level, the line written piece by piece into a
//! buffer behind a mutex that every session thread shares). Here the line is formatted
//! into a per-thread buffer, outside any lock, and written with one `write`.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};

/// Writes records up to a level to stderr.
pub struct Logger {
    level: LevelFilter,
}

/// Installs the logger for records up to `level` (a no-op if a logger is already set).
pub fn init(level: LevelFilter) {
    // The log crate keeps a `&'static`; one logger per process, never freed.
    let logger: &'static Logger = Box::leak(Box::new(Logger { level }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

/// A line longer than this is not kept for the next one (a huge subject must not pin memory
/// in every session thread).
const KEEP: usize = 4096;

thread_local! {
    /// Each thread's line buffer, reused.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
    /// The last second this thread wrote, and its text up to the seconds: most lines of a
    /// busy thread fall in the same second as the one before.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let _ = LINE.try_with(|cell| {
            // A record logged while formatting another (a Display that logs) gets a buffer
            // of its own rather than a panic.
            let mut own = String::new();
            let mut borrowed = cell.try_borrow_mut();
            let line = match &mut borrowed {
                Ok(l) => &mut **l,
                Err(_) => &mut own,
            };
            line.clear();
            push_time(line, SystemTime::now());
            let _ = writeln!(line, " [{}] {}", record.level(), record.args());
            // Nothing to do about a failed write to stderr (simplelog ignored it too).
            let _ = io::stderr().write_all(line.as_bytes());
            if line.capacity() > KEEP {
                *line = String::new();
            }
        });
    }

    fn flush(&self) {}
}

/// Appends `t` as RFC 3339 in UTC, as the `time` crate writes it: `2026-12-06T18:54:00Z`,
/// with `.` and the nanoseconds (trailing zeros dropped) before the `Z` when there are any.
pub fn push_time(s: &mut String, t: SystemTime) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let cached = SECOND.try_with(|cell| match cell.try_borrow_mut() {
        Ok(mut last) => {
            if last.0 != secs {
                last.1.clear();
                push_date_time(&mut last.1, secs);
                last.0 = secs;
            }
            s.push_str(&last.1);
            true
        }
        Err(_) => false,
    });
    if cached != Ok(true) {
        push_date_time(s, secs);
    }
    let mut nanos = u64::from(d.subsec_nanos());
    if nanos != 0 {
        let mut width = 9;
        while nanos % 10 == 0 {
            nanos /= 10;
            width -= 1;
        }
        s.push('.');
        push_padded(s, nanos, width);
    }
    s.push('Z');
}

/// Appends `2026-12-06T18:54:00` for a count of seconds since the epoch.
fn push_date_time(s: &mut String, secs: u64) {
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    push_padded(s, year, 4);
    s.push('-');
    push_padded(s, month, 2);
    s.push('-');
    push_padded(s, day, 2);
    s.push('T');
    push_padded(s, of_day / 3600, 2);
    s.push(':');
    push_padded(s, of_day / 60 % 60, 2);
    s.push(':');
    push_padded(s, of_day % 60, 2);
}

/// Appends `n` in decimal, zero-padded to `width` digits.
fn push_padded(s: &mut String, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    while n > 0 {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let start = i.min(digits.len().saturating_sub(width));
    // ASCII digits: always UTF-8; one push rather than a char at a time.
    s.push_str(std::str::from_utf8(&digits[start..]).unwrap_or_default());
}

/// The (year, month, day) of a count of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
