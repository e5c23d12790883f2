//! The socket half of DATA: a `Read` that pulls raw bytes from the connection through the
//! pure [`DataDecoder`], with deadlines, so the handler streams the message.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use crate::address::PathOptions;
use crate::command::{Command, CommandError};
use crate::data::{DataDecoder, DataError, DataLimits};
use crate::reply::Reply;
use crate::stream::{Line, RecvError, deadline_in, read_line};

use super::session_io::{SessionIo, queue};

/// How a DATA body ended, once the reader is drained.
#[derive(Debug)]
pub(crate) enum DataEnd {
    /// The terminator arrived; the message is whole, or was rejected by a limit or policy.
    Complete(Option<DataError>),
    /// Far past the size limit (twice it): stopped reading; the session must close.
    Abandoned,
    /// The connection failed before the terminator: nothing may be delivered.
    Broken(RecvError),
}

/// Streams one DATA body to the handler: un-stuffed, size-limited, and failing (rather than
/// ending) when the body is rejected or the connection breaks before the terminator.
pub(crate) struct DataReader<'a, C: SessionIo> {
    conn: &'a mut C,
    decoder: DataDecoder,
    out: Vec<u8>,
    pos: usize,
    whole_deadline: Instant,
    block_timeout: Duration,
    block_deadline: Instant,
    broken: Option<RecvError>,
    /// Past this many raw octets of a rejected oversized body, stop reading.
    abandon_after: Option<u64>,
}

/// At most this much raw input is decoded at a time, so `out` stays small.
const STEP: usize = 16 * 1024;

impl<'a, C: SessionIo> DataReader<'a, C> {
    pub(crate) fn new(
        conn: &'a mut C,
        limits: DataLimits,
        whole: Duration,
        block: Duration,
    ) -> Self {
        conn.expect_bulk();
        DataReader {
            conn,
            abandon_after: limits.max_size.map(|m| m.saturating_mul(2)),
            decoder: DataDecoder::new(limits),
            out: Vec::with_capacity(STEP),
            pos: 0,
            whole_deadline: deadline_in(whole),
            block_timeout: block,
            block_deadline: deadline_in(block),
            broken: None,
        }
    }

    fn abandoned(&self) -> bool {
        self.decoder.error() == Some(DataError::TooBig)
            && self
                .abandon_after
                .is_some_and(|max| self.decoder.raw_len() > max)
    }

    /// Decodes more input into `out`. Ok(false) once nothing more will come.
    fn step(&mut self) -> Result<bool, RecvError> {
        if self.decoder.is_done() || self.abandoned() {
            return Ok(false);
        }
        if let Some(e) = &self.broken {
            return Err(clone_recv(e));
        }
        if self.conn.buffered().is_empty() {
            let deadline = self.block_deadline.min(self.whole_deadline);
            if let Err(e) = self.conn.fill(deadline) {
                self.broken = Some(clone_recv(&e));
                return Err(e);
            }
            // A deadline for each line, not an idle timer: reset when a line ends.
            // Looked for from the end: a read of body lines nearly always ends with one.
            if self.conn.buffered().iter().rev().any(|&b| b == b'\n') {
                self.block_deadline = deadline_in(self.block_timeout);
            }
        }
        self.out.clear();
        self.pos = 0;
        let input = self.conn.buffered();
        let input = input.get(..STEP.min(input.len())).unwrap_or_default();
        let n = self.decoder.feed(input, &mut self.out);
        self.conn.consume(n);
        Ok(true)
    }

    /// Reads and discards the rest of the body, and says how it ended.
    pub(crate) fn finish(mut self) -> (DataEnd, u64) {
        loop {
            match self.step() {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => return (DataEnd::Broken(e), self.decoder.raw_len()),
            }
        }
        let raw = self.decoder.raw_len();
        if self.decoder.is_done() {
            (DataEnd::Complete(self.decoder.error()), raw)
        } else {
            (DataEnd::Abandoned, raw)
        }
    }
}

fn clone_recv(e: &RecvError) -> RecvError {
    match e {
        RecvError::Closed => RecvError::Closed,
        RecvError::Reset => RecvError::Reset,
        RecvError::TimedOut => RecvError::TimedOut,
        RecvError::Io(e) => RecvError::Io(io::Error::new(e.kind(), e.to_string())),
    }
}

impl<C: SessionIo> Read for DataReader<'_, C> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(e) = self.decoder.error() {
                // Rejected: the handler must not keep what it read so far.
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            let avail = self.out.get(self.pos..).unwrap_or_default();
            if !avail.is_empty() {
                let n = avail.len().min(buf.len());
                buf[..n].copy_from_slice(&avail[..n]);
                self.pos += n;
                return Ok(n);
            }
            if self.decoder.is_done() {
                return Ok(0);
            }
            self.step().map_err(|e| e.to_io())?;
        }
    }
}

/// Octets of BDAT progress that earn another block timeout (a DATA line of RFC 5321's
/// maximum length).
const PROGRESS_STEP: u64 = 1000;

/// What ended a BDAT sequence early: a command line other than BDAT, or a line too long.
#[derive(Debug)]
pub(crate) enum Interruption {
    /// The line (without CRLF), parsed, to run as a command once the message is abandoned.
    Command(Vec<u8>, Result<Command, CommandError>),
    /// An over-long line arrived where a BDAT command was expected.
    TooLong,
}

/// Settings for a BDAT sequence.
pub(crate) struct BdatLimits {
    pub(crate) max_size: Option<u64>,
    pub(crate) max_line: usize,
    pub(crate) command_timeout: Duration,
    pub(crate) block_timeout: Duration,
    pub(crate) whole_timeout: Duration,
    /// How the session parses paths (a command that breaks in is parsed here, once).
    pub(crate) paths: PathOptions,
    /// Send enhanced status codes in the per-chunk replies.
    pub(crate) enhanced: bool,
}

/// Streams a CHUNKING (RFC 3030) message to the handler: chunk after chunk, each acknowledged
/// with `250` once consumed, across the BDAT commands the client sends, until `LAST`.
/// No dot-stuffing; the size limit counts every chunk; nothing is allocated from the declared
/// sizes. A command other than BDAT ends the message (the handler sees an error) and is kept
/// for the session to run.
pub(crate) struct BdatReader<'a, C: SessionIo> {
    conn: &'a mut C,
    limits: BdatLimits,
    /// Octets left in the current chunk, its size, and whether it is the last.
    remaining: u64,
    chunk: u64,
    last: bool,
    total: u64,
    too_big: bool,
    /// Past twice the size limit: stop reading, answer and close (as DATA does).
    abandoned: bool,
    /// Octets received since the block deadline was last moved.
    since_progress: u64,
    whole_deadline: Instant,
    block_deadline: Instant,
    broken: Option<RecvError>,
    interrupted: Option<Interruption>,
}

impl<'a, C: SessionIo> BdatReader<'a, C> {
    pub(crate) fn new(conn: &'a mut C, limits: BdatLimits, size: u64, last: bool) -> Self {
        conn.expect_bulk();
        BdatReader {
            conn,
            whole_deadline: deadline_in(limits.whole_timeout),
            block_deadline: deadline_in(limits.block_timeout),
            limits,
            remaining: size,
            chunk: size,
            last,
            total: 0,
            too_big: false,
            abandoned: false,
            since_progress: 0,
            broken: None,
            interrupted: None,
        }
    }

    /// Consumes up to `max` octets of the current chunk, copying them into `out` when given.
    fn take_chunk(&mut self, max: usize, out: Option<&mut [u8]>) -> Result<usize, RecvError> {
        if let Some(e) = &self.broken {
            return Err(clone_recv(e));
        }
        if self.conn.buffered().is_empty() {
            if let Err(e) = self.conn.fill(self.block_deadline.min(self.whole_deadline)) {
                self.broken = Some(clone_recv(&e));
                return Err(e);
            }
        }
        let avail = self.conn.buffered();
        let n = avail
            .len()
            .min(max)
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if let Some(out) = out {
            out[..n].copy_from_slice(&avail[..n]);
        }
        self.conn.consume(n);
        self.remaining -= n as u64;
        self.total += n as u64;
        if let Some(max) = self.limits.max_size {
            self.too_big |= self.total > max;
            self.abandoned |= self.total > max.saturating_mul(2);
        }
        // The block deadline follows progress, as DATA's follows lines: each PROGRESS_STEP
        // octets earn another block timeout; a trickle never does.
        self.since_progress += n as u64;
        if self.since_progress >= PROGRESS_STEP {
            self.since_progress = 0;
            self.block_deadline = deadline_in(self.limits.block_timeout);
        }
        Ok(n)
    }

    /// After a non-last chunk: acknowledge it, then read the next command. Ok(true) when it was
    /// another BDAT (the sequence goes on), Ok(false) when the sequence was interrupted.
    fn next_chunk(&mut self, ack: &Reply) -> Result<bool, RecvError> {
        let ack = ack.with_text(format!("{} octets received", self.chunk));
        queue(self.conn, &ack, self.limits.enhanced);
        // The whole-transaction deadline bounds the commands between chunks too, so a chain
        // of `BDAT 0` cannot outlive it.
        let deadline = deadline_in(self.limits.command_timeout).min(self.whole_deadline);
        let line = match read_line(self.conn, self.limits.max_line, deadline) {
            Ok(Line::Complete(l)) => l,
            Ok(Line::TooLong) => {
                self.interrupted = Some(Interruption::TooLong);
                return Ok(false);
            }
            Err(e) => {
                self.broken = Some(clone_recv(&e));
                return Err(e);
            }
        };
        match Command::parse(&line, &self.limits.paths) {
            Ok(Command::Bdat { size, last }) => {
                self.remaining = size;
                self.chunk = size;
                self.last = last;
                self.block_deadline = deadline_in(self.limits.block_timeout);
                self.since_progress = 0;
                Ok(true)
            }
            parsed => {
                self.interrupted = Some(Interruption::Command(line, parsed));
                Ok(false)
            }
        }
    }

    /// Reads and discards the rest of the sequence. Chunks before `LAST` are acknowledged
    /// with `250`, or with `reject` once the message is refused (by the handler or the size
    /// limit); the session answers the last chunk.
    pub(crate) fn finish(mut self, reject: Option<&Reply>) -> (DataEnd, Option<Interruption>, u64) {
        loop {
            // The connection already failed (the handler's read met it): nothing more is
            // acknowledged, the session answers the failure.
            if let Some(e) = &self.broken {
                return (DataEnd::Broken(clone_recv(e)), None, self.total);
            }
            while self.remaining > 0 && !self.abandoned {
                if let Err(e) = self.take_chunk(64 * 1024, None) {
                    return (DataEnd::Broken(e), None, self.total);
                }
            }
            if self.abandoned {
                return (DataEnd::Abandoned, None, self.total);
            }
            if self.last || self.interrupted.is_some() {
                break;
            }
            let ack = match (self.too_big, reject) {
                (true, _) => Reply::TOO_BIG,
                (false, Some(r)) => r.clone(),
                (false, None) => Reply::OK,
            };
            match self.next_chunk(&ack) {
                Ok(_) => {}
                Err(e) => return (DataEnd::Broken(e), None, self.total),
            }
        }
        let error = self.too_big.then_some(DataError::TooBig);
        (
            DataEnd::Complete(error),
            self.interrupted.take(),
            self.total,
        )
    }
}

impl<C: SessionIo> Read for BdatReader<'_, C> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.too_big {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    DataError::TooBig,
                ));
            }
            if self.interrupted.is_some() {
                return Err(io::Error::other(
                    "BDAT sequence interrupted by another command",
                ));
            }
            if self.remaining > 0 {
                if buf.is_empty() {
                    return Ok(0);
                }
                let n = self
                    .take_chunk(buf.len(), Some(buf))
                    .map_err(|e| e.to_io())?;
                if self.too_big {
                    continue;
                }
                return Ok(n);
            }
            if self.last {
                return Ok(0);
            }
            self.next_chunk(&Reply::OK).map_err(|e| e.to_io())?;
        }
    }
}
