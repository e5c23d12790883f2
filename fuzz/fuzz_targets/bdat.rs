//! BDAT arguments through `Command::parse`: never panics, and a parsed BDAT re-parses the same
//! from its canonical form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpkit::address::PathOptions;
use smtpkit::command::Command;

fuzz_target!(|data: &[u8]| {
    let mut line = b"BDAT ".to_vec();
    line.extend_from_slice(data);
    let opts = PathOptions::default();
    if let Ok(cmd) = Command::parse(&line, &opts) {
        let Command::Bdat { size, last } = cmd else {
            panic!("BDAT line parsed as {cmd:?}");
        };
        let canon = format!("BDAT {size}{}", if last { " LAST" } else { "" });
        assert_eq!(
            Command::parse(canon.as_bytes(), &opts),
            Ok(Command::Bdat { size, last })
        );
    }
});
