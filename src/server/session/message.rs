//! The message body: DATA and BDAT streamed to the handler, refused chunks consumed, and the
//! answer once the body has ended (limits, the handler's replies, statistics).

use super::*;

impl<H: Handler, C: SessionIo> Session<H, C> {
    /// Reads and drops the chunk of a refused BDAT, so its bytes never run as commands. A chunk
    /// past twice the size limit is not read: `refusal` is sent and the session closes
    /// (`Err` carries the flow to return).
    pub(super) fn skip_chunk(&mut self, size: u64, refusal: &Reply) -> Result<(), Flow> {
        let too_big = self
            .max_size
            .is_some_and(|max| size > max.saturating_mul(2));
        if too_big {
            self.queue(refusal);
            let _ = self.io.flush();
            self.fault(SessionError::DataRejected(DataError::TooBig));
            return Err(Flow::Close);
        }
        self.discard_chunk(size)
            .map_err(|e| self.recv_failed(Phase::Data, e))
    }

    pub(super) fn data(&mut self, hello: Hello, env: Box<Envelope>) -> (State, Flow) {
        self.queue(&Reply::START_DATA);
        let lmtp = self.info.protocol == Protocol::Lmtp;
        let mut limits = self.cfg.data_limits();
        limits.max_size = self.max_size;
        let mut reader = DataReader::new(
            &mut self.io,
            limits,
            self.cfg.data_timeout,
            self.cfg.data_block_timeout,
        );
        let result = run_handler(&mut self.handler, lmtp, &env, &mut reader);
        let (end, raw) = reader.finish();
        self.conclude(hello, env, result, end, raw)
    }

    /// A CHUNKING transaction (RFC 3030), from its first BDAT to `LAST`.
    pub(super) fn bdat(
        &mut self,
        hello: Hello,
        env: Box<Envelope>,
        size: u64,
        last: bool,
    ) -> (State, Flow) {
        let lmtp = self.info.protocol == Protocol::Lmtp;
        let limits = BdatLimits {
            max_size: self.max_size,
            max_line: self.cfg.max_line_length,
            command_timeout: self.cfg.command_timeout,
            block_timeout: self.cfg.data_block_timeout,
            whole_timeout: self.cfg.data_timeout,
            paths: self.cfg.paths,
            enhanced: self.cfg.enhanced_status_codes,
        };
        let mut reader = BdatReader::new(&mut self.io, limits, size, last);
        let result = run_handler(&mut self.handler, lmtp, &env, &mut reader);
        let reject = match &result {
            Ok(rs) if !rs.iter().any(Result::is_ok) => rs.iter().find_map(|r| r.clone().err()),
            Ok(_) => None,
            Err(_) => Some(Reply::INTERNAL_ERROR),
        };
        let (end, interrupted, raw) = reader.finish(reject.as_ref());
        match interrupted {
            None => self.conclude(hello, env, result, end, raw),
            Some(i) => {
                // The message is abandoned, unanswered; the line that broke in runs as a command.
                debug!(
                    "{} session {}: BDAT sequence interrupted",
                    self.info.peer, self.info.id
                );
                if let Err(message) = result {
                    let name = if lmtp { "on_data_lmtp" } else { "on_data" };
                    self.handler_panicked(name, message);
                    return (State::Ready(hello), Flow::Close);
                }
                // The main loop runs it next, like any other command.
                self.pending = Some(i);
                (State::Ready(hello), Flow::Continue)
            }
        }
    }

    /// Consumes the chunk of a BDAT that is refused (RFC 3030 §2: its data must be read, or
    /// it would be taken for commands). False when the connection failed meanwhile.
    pub(super) fn discard_chunk(&mut self, size: u64) -> Result<(), RecvError> {
        let mut left = size;
        let deadline = deadline_in(self.cfg.data_timeout);
        while left > 0 {
            if self.io.buffered().is_empty() {
                self.io.fill(deadline)?;
            }
            let n = self
                .io
                .buffered()
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            self.io.consume(n);
            left -= n as u64;
        }
        Ok(())
    }

    /// Answers a finished message (DATA or BDAT): limits, the handler's replies, statistics.
    pub(super) fn conclude(
        &mut self,
        hello: Hello,
        env: Box<Envelope>,
        result: Result<Vec<Result<Reply, Reply>>, String>,
        end: DataEnd,
        raw: u64,
    ) -> (State, Flow) {
        let lmtp = self.info.protocol == Protocol::Lmtp;
        let ready = State::Ready(hello);
        let results = match result {
            Ok(r) => r,
            Err(message) => {
                let name = if lmtp { "on_data_lmtp" } else { "on_data" };
                self.handler_panicked(name, message);
                return (ready, Flow::Close);
            }
        };
        let rejected = match end {
            // Cut off by a shutdown whose grace period ended: not acknowledged.
            DataEnd::Broken(RecvError::Closed) if self.shared.shutting_down() => {
                self.queue(&Reply::SHUTTING_DOWN);
                return (ready, Flow::Close);
            }
            DataEnd::Broken(e) => return (ready, self.recv_failed(Phase::Data, e)),
            DataEnd::Abandoned => {
                // Refused by the size limit like any other over-size body: counted as such.
                self.shared
                    .stats
                    .messages_rejected
                    .fetch_add(1, Ordering::Relaxed);
                // LMTP: still one reply per recipient (RFC 2033 §4.2), then close.
                for _ in 0..if lmtp { env.recipients.len() } else { 1 } {
                    self.queue(&Reply::TOO_BIG);
                }
                let _ = self.io.flush();
                self.fault(SessionError::DataRejected(DataError::TooBig));
                return (ready, Flow::Close);
            }
            DataEnd::Complete(e) => e,
        };
        let stats = &self.shared.stats;
        if let Some(e) = rejected {
            stats.messages_rejected.fetch_add(1, Ordering::Relaxed);
            let reply = match e {
                DataError::TooBig => Reply::TOO_BIG,
                DataError::LineTooLong => Reply::DATA_LINE_TOO_LONG,
                DataError::BareLf | DataError::BareCr => Reply::BARE_LINE_ENDING,
            };
            let count = if lmtp { env.recipients.len() } else { 1 };
            for _ in 0..count {
                self.queue(&reply);
            }
            let flow = self.fault(SessionError::DataRejected(e));
            return (ready, flow);
        }
        let replies: Vec<Reply> = if lmtp {
            // One reply per accepted recipient, whatever the handler returned.
            (0..env.recipients.len())
                .map(|i| match results.get(i) {
                    Some(Ok(r)) | Some(Err(r)) => r.clone(),
                    None => Reply::TRY_AGAIN,
                })
                .collect()
        } else {
            results
                .into_iter()
                .take(1)
                .map(|r| r.unwrap_or_else(|e| e))
                .collect()
        };
        let accepted = replies.iter().any(Reply::is_positive);
        if accepted {
            // A session that delivers mail is not junk: its budget starts again.
            self.junk = 0;
            stats.messages.fetch_add(1, Ordering::Relaxed);
        } else {
            stats.messages_rejected.fetch_add(1, Ordering::Relaxed);
        }
        debug!(
            "{} session {}: message from <{}> for {} recipient(s), {raw} octets: {}",
            self.info.peer,
            self.info.id,
            env.from.as_ref().map(|m| m.to_string()).unwrap_or_default(),
            env.recipients.len(),
            replies.first().map(|r| r.to_string()).unwrap_or_default()
        );
        let mut flow = Flow::Continue;
        for r in &replies {
            if self.reply(r) == Flow::Close {
                flow = Flow::Close;
            }
        }
        (ready, flow)
    }
}

/// Runs the handler on a message body; a panic comes back as its message.
fn run_handler<H: Handler>(
    h: &mut H,
    lmtp: bool,
    env: &Envelope,
    body: &mut dyn std::io::Read,
) -> Result<Vec<Result<Reply, Reply>>, String> {
    catch_unwind(AssertUnwindSafe(|| {
        if lmtp {
            h.on_data_lmtp(env, body)
        } else {
            vec![h.on_data(env, body)]
        }
    }))
    .map_err(|p| panic_message(&*p))
}
