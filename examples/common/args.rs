//! The examples' one command-line convention, on top of `lexopt`:
//!
//! - `--help` (`-h`) prints what the program does and a line per flag to stdout, exit 0;
//! - `--version` (`-V`) prints `<name> <version>`, exit 0;
//! - `--flag=value` works like `--flag value`;
//! - an unknown flag or a bad value prints `<name>: <what is wrong>` (naming the flag) and
//!   `usage: <name> ...` to stderr, exit 2.
//!
//! Included by each example with `#[path = "common/args.rs"] mod args;`.
#![allow(dead_code)]

use std::fmt;
use std::str::FromStr;

pub use lexopt::prelude::*;
pub use lexopt::{Arg, Parser};

/// A usage error: one line that names the flag or value at fault.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<lexopt::Error> for Error {
    fn from(e: lexopt::Error) -> Error {
        Error(e.to_string())
    }
}

impl From<String> for Error {
    fn from(s: String) -> Error {
        Error(s)
    }
}

impl From<&str> for Error {
    fn from(s: &str) -> Error {
        Error(s.to_string())
    }
}

/// What a program says about itself.
pub struct Cli {
    /// The program's name, as in `cargo run --example NAME`.
    pub name: &'static str,
    /// One sentence: what it does.
    pub about: &'static str,
    /// The synopsis after the name, e.g. `[FLAGS] FILE`.
    pub usage: &'static str,
    /// `(flag with its value, description)`, one per flag; `--help` and `--version` are added.
    pub flags: &'static [(&'static str, &'static str)],
    /// More text after the flags (examples, notes); may be empty.
    pub after: &'static str,
}

impl Cli {
    /// Runs `parse` over the command line; a usage error exits 2 (see the module docs).
    pub fn parse<T>(&self, parse: impl FnOnce(&mut Parser) -> Result<T, Error>) -> T {
        let mut p = Parser::from_env();
        match parse(&mut p) {
            Ok(t) => t,
            Err(e) => self.fail(e),
        }
    }

    /// Prints the usage error and exits 2.
    pub fn fail(&self, e: impl fmt::Display) -> ! {
        eprintln!("{}: {e}", self.name);
        eprintln!(
            "usage: {} {} (`{} --help` lists the flags)",
            self.name, self.usage, self.name
        );
        std::process::exit(2)
    }

    /// Handles `--help` and `--version` (which exit); anything else is an unknown flag or an
    /// unexpected argument, returned as the error naming it.
    pub fn other(&self, arg: Arg<'_>) -> Result<(), Error> {
        match arg {
            Short('h') | Long("help") => self.help(),
            Short('V') | Long("version") => {
                println!("{} {}", self.name, env!("CARGO_PKG_VERSION"));
                std::process::exit(0)
            }
            other => Err(other.unexpected().into()),
        }
    }

    /// Prints the help to stdout and exits 0.
    pub fn help(&self) -> ! {
        let mut out = format!(
            "{} {}: {}\n\nusage: {} {}\n\nflags:\n",
            self.name,
            env!("CARGO_PKG_VERSION"),
            self.about,
            self.name,
            self.usage
        );
        let common = [
            ("-h, --help", "print this help and exit"),
            ("-V, --version", "print the version and exit"),
        ];
        let width = self
            .flags
            .iter()
            .chain(common.iter())
            .map(|(f, _)| f.len())
            .max()
            .unwrap_or(0);
        for (flag, what) in self.flags.iter().chain(common.iter()) {
            let mut lines = what.lines();
            out.push_str(&format!(
                "  {flag:width$}  {}\n",
                lines.next().unwrap_or("")
            ));
            for more in lines {
                out.push_str(&format!("  {:width$}  {more}\n", ""));
            }
        }
        if !self.after.is_empty() {
            out.push('\n');
            out.push_str(self.after);
            out.push('\n');
        }
        print!("{out}");
        std::process::exit(0)
    }
}

/// The flag's value as a string (`--flag value` or `--flag=value`).
pub fn string(p: &mut Parser) -> Result<String, Error> {
    Ok(p.value()?.string()?)
}

/// The flag's value parsed as a `T`; a bad value is `bad <flag> "<value>"`.
pub fn number<T: FromStr>(p: &mut Parser, flag: &str) -> Result<T, Error> {
    let v = string(p)?;
    v.parse().map_err(|_| Error(format!("bad {flag} {v:?}")))
}
