//! DKIM verification (RFC 6376, RFC 8463). To be written: the interface below is fixed.

use std::time::SystemTime;

use super::DkimOutcome;
use crate::dns::Resolver;

/// Verifies the DKIM signatures of one message fed in pieces: the header section is kept
/// (bounded), the body streams through one hash per signature, never held.
#[derive(Debug, Default)]
pub struct DkimVerifier {
    _private: (),
}

impl DkimVerifier {
    /// A verifier for one message.
    pub fn new() -> DkimVerifier {
        DkimVerifier::default()
    }

    /// Feeds the next bytes of the message (header section and body, as received, CRLF line
    /// endings).
    pub fn update(&mut self, _bytes: &[u8]) {}

    /// Looks up the keys and checks every signature: one outcome per DKIM-Signature header,
    /// in header order; empty when the message has none.
    pub fn finish(self, _resolver: &dyn Resolver, _now: SystemTime) -> Vec<DkimOutcome> {
        Vec::new()
    }
}
