//! The Authentication-Results header (RFC 8601). To be written.
