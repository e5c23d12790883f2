//! Unit tests of the SPF parser, macros and evaluation.
