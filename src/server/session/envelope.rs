//! Greeting and envelope: HELO/EHLO/LHLO, the EHLO keywords, MAIL and RCPT with their
//! parameters (checked by the rules in `params`, the rest through the handler).

use super::*;

impl<H: Handler, C: SessionIo> Session<H, C> {
    pub(super) fn hello(&mut self, s: State, name: String, esmtp: bool) -> (State, Flow) {
        let previous = self.end_transaction(s);
        let host = self.cfg.hostname.clone();
        let result = if esmtp {
            let mut ext = self.extensions();
            match self.call("on_ehlo", |h| h.on_ehlo(&name, &mut ext)) {
                Err(Panicked) => return (State::Fresh, Flow::Close),
                Ok(Err(r)) => Err(r),
                Ok(Ok(())) => {
                    self.max_size = match ext.size() {
                        Some(0) => None,
                        Some(n) => Some(n),
                        None => self.cfg.max_message_size,
                    };
                    // No enhanced code on EHLO lines: clients parse them as keywords.
                    Ok(Reply::new(250, None, ext.ehlo_text(&host)))
                }
            }
        } else {
            match self.call("on_helo", |h| h.on_helo(&name)) {
                Err(Panicked) => return (State::Fresh, Flow::Close),
                Ok(Err(r)) => Err(r),
                Ok(Ok(())) => Ok(Reply::new(250, None, host)),
            }
        };
        match result {
            Ok(r) => (State::Ready(Hello { name, esmtp }), self.reply(&r)),
            Err(r) => (previous, self.reply(&r)),
        }
    }

    /// The EHLO keywords from the configuration, before the handler edits them.
    pub(super) fn extensions(&self) -> Extensions {
        let mut ext = Extensions::new();
        let c = &self.cfg;
        if c.pipelining {
            ext.add("PIPELINING");
        }
        ext.set("SIZE", [c.max_message_size.unwrap_or(0).to_string()]);
        if c.eight_bit_mime {
            ext.add("8BITMIME");
        }
        if c.smtputf8 {
            ext.add("SMTPUTF8");
        }
        if c.enhanced_status_codes {
            ext.add("ENHANCEDSTATUSCODES");
        }
        if c.chunking {
            ext.add("CHUNKING");
            if c.binary_mime {
                ext.add("BINARYMIME");
            }
        }
        if c.dsn {
            ext.add("DSN");
        }
        if c.tls_offered() && self.tls.is_none() {
            ext.add("STARTTLS");
        }
        #[cfg(feature = "auth")]
        if c.auth_offered() && (self.tls.is_some() || c.allow_insecure_auth) {
            ext.set("AUTH", c.auth_mechanisms.iter().map(|m| m.as_str()));
        }
        ext
    }

    /// What this session offers, for the parameter rules.
    pub(super) fn offered(&self) -> Offered {
        Offered {
            max_size: self.max_size,
            eight_bit_mime: self.cfg.eight_bit_mime,
            binary_mime: self.cfg.binary_mime,
            dsn: self.cfg.dsn,
            smtputf8: self.cfg.smtputf8,
        }
    }

    /// Checks MAIL parameters: the known ones by the rules in `params`, the rest through the
    /// handler. `Err` holds the reply and whether it was the client's mistake.
    pub(super) fn mail_params(
        &mut self,
        esmtp: bool,
        params: Vec<Param>,
    ) -> Result<MailParams, (Reply, bool)> {
        let (mut out, unknown) = MailParams::parse(params, esmtp, &self.offered())
            .map_err(|e| (Reply::from(&e), e.is_client_mistake()))?;
        for p in unknown {
            match self.call("on_mail_param", |h| h.on_mail_param(&p)) {
                Ok(Ok(())) => out.other.push(p),
                Ok(Err(r)) => {
                    let counts = r.code == 555 || r.code == 501;
                    return Err((r, counts));
                }
                Err(Panicked) => return Err((Reply::INTERNAL_ERROR, false)),
            }
        }
        Ok(out)
    }

    pub(super) fn mail(
        &mut self,
        hello: Hello,
        from: Option<Mailbox>,
        params: Vec<Param>,
    ) -> (State, Flow) {
        let params = match self.mail_params(hello.esmtp, params) {
            Ok(p) => p,
            Err((r, counts)) => return self.refuse(State::Ready(hello), r, counts),
        };
        if from.as_ref().is_some_and(|m| !m.is_ascii()) && !params.smtputf8 {
            return self.refuse(State::Ready(hello), Reply::NEED_SMTPUTF8, false);
        }
        match self.call("on_mail", |h| h.on_mail(from.as_ref(), &params)) {
            Err(Panicked) => (State::Ready(hello), Flow::Close),
            Ok(Err(r)) => {
                self.junk += 1;
                let flow = self.reply(&r);
                (State::Ready(hello), flow)
            }
            Ok(Ok(())) => {
                let env = Envelope {
                    helo: hello.name.clone(),
                    from,
                    params,
                    recipients: Vec::new(),
                    auth: self.auth.clone(),
                    tls: self.tls.clone(),
                };
                (
                    State::Transaction(hello, Box::new(env)),
                    self.reply(&Reply::SENDER_OK),
                )
            }
        }
    }

    /// Answers a refused command; `counts` when it was the client's mistake.
    pub(super) fn refuse(&mut self, s: State, r: Reply, counts: bool) -> (State, Flow) {
        let flow = if counts {
            self.client_error(&r, SessionError::BadParameter(r.clone()))
        } else {
            self.junk += 1;
            self.reply(&r)
        };
        (s, flow)
    }

    pub(super) fn rcpt(
        &mut self,
        hello: Hello,
        mut env: Box<Envelope>,
        to: Mailbox,
        params: Vec<Param>,
    ) -> (State, Flow) {
        if env.recipients.len() >= self.cfg.max_recipients {
            self.junk += 1;
            let flow = self.reply(&Reply::TOO_MANY_RECIPIENTS);
            return (State::Transaction(hello, env), flow);
        }
        if !to.is_ascii() && !env.params.smtputf8 {
            self.junk += 1;
            let flow = self.reply(&Reply::NEED_SMTPUTF8);
            return (State::Transaction(hello, env), flow);
        }
        let (known, unknown) = match RcptParams::parse(params, &self.offered()) {
            Ok(v) => v,
            Err(e) => {
                let r = Reply::from(&e);
                return self.refuse(State::Transaction(hello, env), r, e.is_client_mistake());
            }
        };
        let mut accepted = Vec::with_capacity(unknown.len());
        for p in unknown {
            match self.call("on_rcpt_param", |h| h.on_rcpt_param(&p)) {
                Ok(Ok(())) => accepted.push(p),
                Ok(Err(r)) => {
                    let counts = r.code == 555 || r.code == 501;
                    return self.refuse(State::Transaction(hello, env), r, counts);
                }
                Err(Panicked) => return (State::Transaction(hello, env), Flow::Close),
            }
        }
        let result = self.call("on_rcpt", |h| h.on_rcpt(&to, &accepted, &env));
        let flow = match result {
            Err(Panicked) => Flow::Close,
            Ok(Err(r)) => {
                self.junk += 1;
                self.reply(&r)
            }
            Ok(Ok(())) => {
                env.recipients.push(Recipient {
                    mailbox: to,
                    params: accepted,
                    notify: known.notify,
                    orcpt: known.orcpt,
                });
                self.reply(&Reply::RECIPIENT_OK)
            }
        };
        (State::Transaction(hello, env), flow)
    }
}
