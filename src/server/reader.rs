//! The socket half of DATA: a `Read` that pulls raw bytes from the connection through the
//! pure [`DataDecoder`], with deadlines, so the handler streams the message.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use crate::data::{DataDecoder, DataError, DataLimits};
use crate::stream::{Conn, RecvError};

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
pub(crate) struct DataReader<'a> {
    conn: &'a mut Conn,
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

impl<'a> DataReader<'a> {
    pub(crate) fn new(
        conn: &'a mut Conn,
        limits: DataLimits,
        whole: Duration,
        block: Duration,
    ) -> Self {
        let now = Instant::now();
        DataReader {
            conn,
            abandon_after: limits.max_size.map(|m| m.saturating_mul(2)),
            decoder: DataDecoder::new(limits),
            out: Vec::with_capacity(STEP),
            pos: 0,
            whole_deadline: now + whole,
            block_timeout: block,
            block_deadline: now + block,
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
            if self.conn.buffered().contains(&b'\n') {
                self.block_deadline = Instant::now() + self.block_timeout;
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

impl Read for DataReader<'_> {
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
