//! A deterministic pseudo-random generator for the unit tests (xorshift64): the same inputs on
//! every run, and no crate for it.

/// A generator of pseudo-random `u64`s from `seed` (which must not be zero).
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
