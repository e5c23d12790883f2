//! SASL server exchanges driven by fuzz lines: the first byte picks the mechanism and whether
//! the first line is an initial response; `start` and `respond` never panic, an exchange ends
//! after Done or an error, and a finished exchange refuses further lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpkit::sasl::{Mechanism, ServerExchange, Step};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mech = Mechanism::ALL[usize::from(sel & 3)];
    let mut lines = text.split('\n');
    let initial = if sel & 4 != 0 { lines.next() } else { None };
    let Ok((mut ex, step)) = ServerExchange::start(mech, initial, "mx.example") else {
        return;
    };
    assert_eq!(ex.mechanism(), mech);
    if let Step::Done(c) = step {
        assert!(ex.is_finished());
        assert_eq!(c.mechanism(), mech);
        let _ = c.username();
        let _ = c.check_password("secret");
        return;
    }
    for line in lines {
        let finished_before = ex.is_finished();
        match ex.respond(line) {
            Ok(Step::Challenge(_)) => assert!(!finished_before && !ex.is_finished()),
            Ok(Step::Done(c)) => {
                assert!(!finished_before && ex.is_finished());
                assert_eq!(c.mechanism(), mech);
                let _ = c.username();
                let _ = c.check_password("secret");
            }
            Err(e) => {
                assert!(ex.is_finished());
                let (code, _, _) = e.reply_parts();
                assert!((500..600).contains(&code));
            }
        }
    }
});
