//! The body side of verification: the canonicalisation of RFC 6376 §3.4.3/§3.4.4 on a
//! stream, and the body hashes that read it.

use std::fmt;

use ring::digest;

use crate::dkim::Canonicalization;

/// The body canonicalisation of RFC 6376 §3.4.3 and §3.4.4, on a stream: what is held is
/// the count of CRLFs (empty lines) not yet known not to be trailing, whether whitespace is
/// pending (relaxed), and whether a CR waits for its LF.
#[derive(Debug, Clone)]
pub(super) struct BodyCanon {
    pub(super) canon: Canonicalization,
    pub(super) pending_crlfs: u64,
    pub(super) pending_wsp: bool,
    pub(super) pending_cr: bool,
    /// Whether anything but CRLFs has been emitted (relaxed: an empty body stays empty).
    pub(super) any_content: bool,
}

/// Output is gathered here and handed to the hashes in blocks.
pub(super) const CANON_BLOCK: usize = 8192;

impl BodyCanon {
    pub(super) fn new(canon: Canonicalization) -> BodyCanon {
        BodyCanon {
            canon,
            pending_crlfs: 0,
            pending_wsp: false,
            pending_cr: false,
            any_content: false,
        }
    }

    /// Emits content octets (no CR, and no WSP when relaxed, except a bare CR given alone),
    /// after what was pending before them.
    pub(super) fn content(&mut self, run: &[u8], out: &mut Vec<u8>, sink: &mut dyn FnMut(&[u8])) {
        while self.pending_crlfs > 0 {
            out.extend_from_slice(b"\r\n");
            self.pending_crlfs -= 1;
            if out.len() >= CANON_BLOCK {
                sink(out);
                out.clear();
            }
        }
        if self.pending_wsp {
            out.push(b' ');
            self.pending_wsp = false;
        }
        self.any_content = true;
        if out.len() + run.len() <= CANON_BLOCK {
            out.extend_from_slice(run);
        } else {
            // A long run goes to the hashes as it is, without a copy.
            if !out.is_empty() {
                sink(out);
                out.clear();
            }
            sink(run);
        }
    }

    pub(super) fn feed(&mut self, bytes: &[u8], sink: &mut dyn FnMut(&[u8])) {
        let relaxed = self.canon == Canonicalization::Relaxed;
        let wsp = |b: u8| relaxed && (b == b' ' || b == b'\t');
        let mut out = Vec::with_capacity(CANON_BLOCK + 64);
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    self.pending_wsp = false;
                    self.pending_crlfs += 1;
                    i += 1;
                    continue;
                }
                // A bare CR is content.
                self.content(b"\r", &mut out, sink);
            }
            if b == b'\r' {
                self.pending_cr = true;
                i += 1;
            } else if wsp(b) {
                self.pending_wsp = true;
                i += 1;
            } else {
                // The run of ordinary octets up to the next CR (or WSP) in one piece.
                let rest = bytes.get(i..).unwrap_or(&[]);
                let len = rest
                    .iter()
                    .position(|&c| c == b'\r' || wsp(c))
                    .unwrap_or(rest.len());
                self.content(rest.get(..len).unwrap_or(&[]), &mut out, sink);
                i += len.max(1);
            }
        }
        if !out.is_empty() {
            sink(&out);
        }
    }

    /// The end of the body: trailing empty lines collapse into the one CRLF that ends the
    /// last line (simple: an empty body is one CRLF; relaxed: an empty body stays empty).
    pub(super) fn finish(&mut self, sink: &mut dyn FnMut(&[u8])) {
        if self.pending_cr {
            self.pending_cr = false;
            let mut out = Vec::new();
            self.content(b"\r", &mut out, sink);
            sink(&out);
        }
        if self.canon == Canonicalization::Simple || self.any_content {
            sink(b"\r\n");
        }
    }
}

/// One signature's body hash over the canonical body, counting it for `l=`.
#[derive(Clone)]
pub(super) struct BodyHash {
    pub(super) ctx: digest::Context,
    pub(super) limit: Option<u64>,
    /// Canonical octets seen (hashed or not).
    pub(super) seen: u64,
}

impl fmt::Debug for BodyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyHash")
            .field("limit", &self.limit)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl BodyHash {
    pub(super) fn update(&mut self, chunk: &[u8]) {
        let take = match self.limit {
            Some(l) => {
                let left = l.saturating_sub(self.seen);
                usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len())
            }
            None => chunk.len(),
        };
        self.ctx.update(chunk.get(..take).unwrap_or(&[]));
        self.seen = self.seen.saturating_add(chunk.len() as u64);
    }
}

/// A canonicaliser and the hashes that read its output.
#[derive(Debug, Clone)]
pub(super) struct BodyStream {
    pub(super) canon: BodyCanon,
    pub(super) hashes: Vec<BodyHash>,
}

impl BodyStream {
    pub(super) fn feed(&mut self, bytes: &[u8]) {
        let hashes = &mut self.hashes;
        self.canon
            .feed(bytes, &mut |c| hashes.iter_mut().for_each(|h| h.update(c)));
    }

    pub(super) fn finish(&mut self) {
        let hashes = &mut self.hashes;
        self.canon
            .finish(&mut |c| hashes.iter_mut().for_each(|h| h.update(c)));
    }
}
