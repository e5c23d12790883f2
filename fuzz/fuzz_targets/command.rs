//! `Command::parse` on arbitrary bytes, with both path options: never panics, every error has
//! a well-formed reply, and a parsed command is parsed the same from its own normalised line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpkit::address::PathOptions;
use smtpkit::command::Command;

fuzz_target!(|data: &[u8]| {
    for (strict_lengths, allow_unbracketed) in [(true, true), (false, false)] {
        let opts = PathOptions {
            strict_lengths,
            allow_unbracketed,
        };
        match Command::parse(data, &opts) {
            Ok(cmd) => {
                let _ = cmd.verb();
                // The parser trims CR/LF/SP/HTAB; parsing the line with a CRLF appended or
                // surrounding blanks gives the same command.
                let mut line = b"  ".to_vec();
                line.extend_from_slice(data);
                line.extend_from_slice(b"\r\n");
                assert_eq!(Command::parse(&line, &opts), Ok(cmd));
            }
            Err(e) => {
                let (code, (class, _, _), text) = e.reply_parts();
                assert!((500..600).contains(&code), "{e:?} -> {code}");
                assert_eq!(u16::from(class), code / 100);
                assert!(!text.contains(['\r', '\n']));
                let _ = e.to_string();
            }
        }
    }
});
