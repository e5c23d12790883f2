//! DMARC (RFC 7489). To be written: the interface below is fixed.

use super::{DkimOutcome, DmarcOutcome, DmarcResult, Policy, SpfOutcome};
use crate::dns::Resolver;

/// Evaluates DMARC for a message whose From header names `from_domain`, given its DKIM
/// outcomes and the SPF outcome of its MAIL FROM identity.
pub fn evaluate(
    from_domain: &str,
    dkim: &[DkimOutcome],
    spf: &SpfOutcome,
    resolver: &dyn Resolver,
) -> DmarcOutcome {
    let _ = (dkim, spf, resolver);
    DmarcOutcome {
        result: DmarcResult::None,
        from_domain: from_domain.to_string(),
        policy: None,
        disposition: Policy::None,
        reason: None,
    }
}
