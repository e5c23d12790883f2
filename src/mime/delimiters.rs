//! The open multiparts of a buffer being decoded: their boundaries, and where a region (a
//! part, a body, a preamble) stops, a delimiter line of one of them or the end of the buffer.

use std::collections::HashMap;

use super::decode::{find_lf, line_at};

fn trim_end_wsp(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(0, |i| i + 1);
    b.get(..n).unwrap_or_default()
}

/// Where a region of the buffer (a part, a body, a preamble) ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// The end of the buffer.
    Eof,
    /// A delimiter line of the open multipart `level`: the line starts at `line`, the next
    /// one at `next`.
    Delim {
        line: usize,
        next: usize,
        level: usize,
        closing: bool,
    },
}

/// Whether `rest` (a line after its leading `--`) is `boundary`, optionally `--`, then only
/// spaces or tabs: `Some(closing)` when it is.
fn delimiter_of(boundary: &[u8], rest: &[u8]) -> Option<bool> {
    // Boundaries of nested parts often differ only at their end (`b0`, `b1`...): the last
    // byte rejects most of them without a full comparison.
    if let Some(last) = boundary.len().checked_sub(1)
        && rest.get(last) != boundary.get(last)
    {
        return None;
    }
    let tail = rest.strip_prefix(boundary)?;
    let (closing, tail) = match tail.strip_prefix(b"--") {
        Some(t) => (true, t),
        None => (false, tail),
    };
    tail.iter()
        .all(|&b| b == b' ' || b == b'\t')
        .then_some(closing)
}

/// Up to this many open levels (more than the default `max_depth`) a candidate line, one
/// that starts with `--`, is compared with each boundary: at most this many comparisons of
/// at most the line's length. Past it the line is looked up in a hash map by the two keys
/// it could carry, so the cost per line stops growing with the depth.
pub(super) const LINEAR_LEVELS: usize = 24;

/// The boundaries of the open multiparts, outermost first, in one buffer: opening a level
/// copies its boundary once, without an allocation of its own.
#[derive(Default)]
struct Levels {
    bytes: Vec<u8>,
    /// Where each level's boundary ends in `bytes`, and whether it is a prefix of an outer
    /// level's boundary or has one as its prefix.
    ends: Vec<(usize, bool)>,
    /// Open levels so flagged. With none, a line can be the delimiter of one level at most
    /// (two boundaries that both start a line are prefixes of one another).
    prefixed: usize,
}

impl Levels {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn get(&self, level: usize) -> Option<&[u8]> {
        let (end, _) = *self.ends.get(level)?;
        let start = match level.checked_sub(1) {
            Some(prev) => self.ends.get(prev)?.0,
            None => 0,
        };
        self.bytes.get(start..end)
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&(end, _)| {
            let b = self.bytes.get(start..end).unwrap_or_default();
            start = end;
            b
        })
    }

    fn push(&mut self, boundary: &[u8]) {
        let prefixed = self
            .iter()
            .any(|b| b.starts_with(boundary) || boundary.starts_with(b));
        self.bytes.extend_from_slice(boundary);
        self.ends.push((self.bytes.len(), prefixed));
        self.prefixed += usize::from(prefixed);
    }

    fn pop(&mut self) {
        if let Some((_, prefixed)) = self.ends.pop() {
            self.prefixed -= usize::from(prefixed);
        }
        self.bytes.truncate(self.ends.last().map_or(0, |e| e.0));
    }
}

/// A buffer being parsed (the message, or a transfer-decoded nested message) and the
/// boundaries of the multiparts open in it, outermost first.
pub(super) struct Buf<'b> {
    pub(super) data: &'b [u8],
    levels: Levels,
    /// Past [`LINEAR_LEVELS`] open levels: a boundary with trailing spaces and tabs removed,
    /// to the open levels using it, outermost first (a level whose boundary repeats an outer
    /// one exactly is left out: the outer one always wins). So the cost of a line does not
    /// grow with the nesting depth.
    index: Option<HashMap<Vec<u8>, Vec<usize>>>,
}

impl<'b> Buf<'b> {
    pub(super) fn new(data: &'b [u8]) -> Self {
        Buf {
            data,
            levels: Levels::default(),
            index: None,
        }
    }

    fn index_level(
        index: &mut HashMap<Vec<u8>, Vec<usize>>,
        levels: &Levels,
        level: usize,
        boundary: &[u8],
    ) {
        let users = index.entry(trim_end_wsp(boundary).to_vec()).or_default();
        let shadowed = users
            .iter()
            .any(|&l| levels.get(l).is_some_and(|b| b == boundary));
        if !shadowed {
            users.push(level);
        }
    }

    /// Opens a multipart level; returns its index.
    pub(super) fn push(&mut self, boundary: &[u8]) -> usize {
        let level = self.levels.len();
        if self.index.is_none() && level >= LINEAR_LEVELS {
            let mut index = HashMap::new();
            for (l, b) in self.levels.iter().enumerate() {
                Self::index_level(&mut index, &self.levels, l, b);
            }
            self.index = Some(index);
        }
        if let Some(index) = &mut self.index {
            Self::index_level(index, &self.levels, level, boundary);
        }
        self.levels.push(boundary);
        level
    }

    /// Closes the innermost level.
    pub(super) fn pop(&mut self) {
        let Some(level) = self.levels.len().checked_sub(1) else {
            return;
        };
        if level <= LINEAR_LEVELS {
            self.index = None;
            self.levels.pop();
            return;
        }
        let key = trim_end_wsp(self.levels.get(level).unwrap_or_default());
        if let Some(index) = &mut self.index
            && let Some(users) = index.get_mut(key)
            && users.last() == Some(&level)
        {
            users.pop();
            if users.is_empty() {
                index.remove(key);
            }
        }
        self.levels.pop();
    }

    /// Whether `line` (without its line break) is a delimiter of an open level: the
    /// outermost such level and whether the delimiter is a closing one.
    fn delimiter(&self, line: &[u8]) -> Option<(usize, bool)> {
        let rest = line.strip_prefix(b"--")?;
        let Some(index) = &self.index else {
            if self.levels.prefixed == 0 {
                // One level at most can match: innermost first, where most delimiters are.
                return (0..self.levels.len()).rev().find_map(|level| {
                    let b = self.levels.get(level).unwrap_or_default();
                    delimiter_of(b, rest).map(|closing| (level, closing))
                });
            }
            return self
                .levels
                .iter()
                .enumerate()
                .find_map(|(level, b)| delimiter_of(b, rest).map(|closing| (level, closing)));
        };
        // `--boundary` then white space: the key is the line trimmed; `--boundary--` then
        // white space: the line trimmed, without its `--`, trimmed again (the boundary may
        // end in white space itself).
        let open_key = trim_end_wsp(rest);
        let close_key = open_key.strip_suffix(b"--").map(trim_end_wsp);
        let mut found: Option<(usize, bool)> = None;
        for key in std::iter::once(open_key).chain(close_key) {
            for &level in index.get(key).map(Vec::as_slice).unwrap_or_default() {
                if found.is_some_and(|(f, _)| f <= level) {
                    break;
                }
                let boundary = self.levels.get(level).unwrap_or_default();
                if let Some(closing) = delimiter_of(boundary, rest) {
                    found = Some((level, closing));
                    break;
                }
            }
        }
        found
    }

    /// The stop when the line at `pos` (a line start) is a delimiter of an open level.
    #[inline]
    pub(super) fn stop_at(&self, pos: usize) -> Option<Stop> {
        if self.levels.is_empty() || !self.data.get(pos..)?.starts_with(b"--") {
            return None;
        }
        let (content_end, next) = line_at(self.data, pos);
        let (level, closing) = self.delimiter(self.data.get(pos..content_end)?)?;
        Some(Stop::Delim {
            line: pos,
            next,
            level,
            closing,
        })
    }

    /// The first delimiter line of an open level at or after `pos` (a line start).
    pub(super) fn find_stop(&self, mut pos: usize) -> Stop {
        if self.levels.is_empty() {
            return Stop::Eof;
        }
        while pos < self.data.len() {
            if let Some(stop) = self.stop_at(pos) {
                return stop;
            }
            match find_lf(self.data, pos) {
                Some(lf) => pos = lf + 1,
                None => break,
            }
        }
        Stop::Eof
    }

    /// The end of a region that starts at `start` and is ended by `stop`: the line break
    /// before a delimiter belongs to the delimiter, and each multipart left unclosed drops
    /// one more final line break of its last part (as if each level had cut out its parts
    /// before its children were parsed).
    pub(super) fn end_of(&self, start: usize, stop: Stop) -> usize {
        let (mut end, trims) = match stop {
            Stop::Eof => (self.data.len(), self.levels.len()),
            Stop::Delim { line, level, .. } => (line, self.levels.len().saturating_sub(level)),
        };
        for _ in 0..trims {
            if end > start && self.data.get(end - 1) == Some(&b'\n') {
                end -= 1;
                if end > start && self.data.get(end - 1) == Some(&b'\r') {
                    end -= 1;
                }
            } else {
                break;
            }
        }
        end.max(start)
    }

    pub(super) fn slice(&self, start: usize, end: usize) -> &'b [u8] {
        self.data.get(start..end).unwrap_or_default()
    }
}
