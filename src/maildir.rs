//! A Maildir store (the `tmp` → `new` delivery of <https://cr.yp.to/proto/maildir.html>).
//!
//! Each message is written to `tmp/` under a unique name, flushed to disk (`fsync`), renamed
//! into `new/`, and the `new/` directory is flushed too, so that a message reported as
//! delivered survives a crash and a reader never sees a partial file. A failed delivery
//! (the source failed to read, the disk is full) removes its file from `tmp/`. The two
//! `fsync`s can be turned off ([`Maildir::fsync`]) where durability does not matter (a
//! development catcher on tmpfs): the tmp → new rename still hides partial files.
//!
//! ```no_run
//! use smtpkit::maildir::Maildir;
//!
//! # fn main() -> std::io::Result<()> {
//! let store = Maildir::create("./maildir")?; // makes tmp/, new/, cur/ and checks writing
//! let name = store.deliver(b"Return-Path: <a@example.org>\r\n", &mut &b"Subject: hi\r\n\r\nhello\r\n"[..])?;
//! println!("stored as new/{name}");
//! # Ok(())
//! # }
//! ```

use std::cell::RefCell;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::address::Mailbox;

/// A Maildir: a directory with `tmp/`, `new/` and `cur/`.
#[derive(Debug)]
pub struct Maildir {
    root: PathBuf,
    tmp: PathBuf,
    new: PathBuf,
    /// `new/`, open for the store's life: its `fsync` makes a rename durable without an
    /// open and a close of the directory per message. `None` where a directory cannot be
    /// opened as a file; each flush then opens it.
    new_dir: Option<File>,
    /// What follows the counter in every name: `.` and the escaped host.
    host: String,
    counter: AtomicU64,
    /// `P<pid>Q`, written once (it is in every name).
    pid: String,
    /// Flush each file and the `new/` directory to disk before reporting a delivery.
    fsync: bool,
}

/// Why a delivery failed: the source could not be read (for a message being received, the
/// client vanished or the body was refused), or the store could not be written (the operator
/// must act: disk full, permissions).
#[derive(Debug)]
pub enum DeliverError {
    /// Reading the message failed; nothing was kept.
    Read(io::Error),
    /// Writing, flushing or renaming the file failed; nothing was kept.
    Write(io::Error),
}

impl fmt::Display for DeliverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliverError::Read(e) => write!(f, "reading the message failed: {e}"),
            DeliverError::Write(e) => write!(f, "writing to the Maildir failed: {e}"),
        }
    }
}

impl std::error::Error for DeliverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DeliverError::Read(e) | DeliverError::Write(e) => Some(e),
        }
    }
}

impl From<DeliverError> for io::Error {
    fn from(e: DeliverError) -> io::Error {
        match e {
            DeliverError::Read(e) | DeliverError::Write(e) => e,
        }
    }
}

/// A reader that remembers whether an error came from it (and not from the writer).
struct Tracked<'a> {
    inner: &'a mut dyn Read,
    failed: bool,
}

impl Read for Tracked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        self.failed = r.is_err();
        r
    }
}

impl Maildir {
    /// Opens the Maildir at `root`, creating it and its `tmp/`, `new/` and `cur/` when
    /// missing, and checks that a file can be written in `tmp/` (so a read-only or full
    /// store shows now, not at the first message).
    pub fn create(root: impl AsRef<Path>) -> io::Result<Maildir> {
        let root = root.as_ref().to_path_buf();
        for sub in ["tmp", "new", "cur"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(|e| with_path(e, &dir))?;
        }
        let new = root.join("new");
        let store = Maildir {
            tmp: root.join("tmp"),
            new_dir: File::open(&new).ok(),
            new,
            root,
            host: format!(".{}", maildir_host(&crate::proto::default_hostname())),
            counter: AtomicU64::new(0),
            pid: format!("P{}Q", std::process::id()),
            fsync: true,
        };
        let probe = store.tmp.join(store.unique_name());
        let written = File::create(&probe).and_then(|mut f| {
            f.write_all(b"probe")?;
            f.sync_all()
        });
        let _ = fs::remove_file(&probe);
        written.map_err(|e| with_path(e, &store.tmp))?;
        Ok(store)
    }

    /// Whether each delivery is flushed to disk (`fsync` of the file, then of `new/`) before
    /// [`Maildir::deliver`] returns. On by default: a message reported as delivered survives
    /// a crash. Off, a delivery is two `fsync`s cheaper (most of its cost on a disk; little
    /// on tmpfs) and a crash may lose messages already acknowledged.
    ///
    /// `new/` is flushed through a handle opened by [`Maildir::create`]: a `new/` deleted and
    /// made again while the store is open is not the one flushed (open the store again).
    pub fn fsync(mut self, on: bool) -> Maildir {
        self.fsync = on;
        self
    }

    /// The Maildir's directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// A name unique to this process and host: `<secs>.M<usecs>P<pid>Q<n>.<host>`, with `/`
    /// and `:` in the host name written as `\057` and `\072` (as the Maildir spec asks).
    pub fn unique_name(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        // Pushed piece by piece: `format!` cost more than the rest of the name's work.
        let mut name = String::with_capacity(50 + self.host.len());
        push_decimal(&mut name, now.as_secs());
        name.push_str(".M");
        push_decimal(&mut name, u64::from(now.subsec_micros()));
        name.push_str(&self.pid);
        push_decimal(&mut name, n);
        name.push_str(&self.host);
        name
    }

    /// Writes `prefix` (for example `Return-Path:` and `X-Original-To:` lines) then the whole
    /// of `message` to `tmp/`, flushes it, renames it into `new/` and flushes that directory.
    /// Returns the file name (in `new/`). On any error the file is removed from `tmp/`.
    pub fn deliver(&self, prefix: &[u8], message: &mut dyn Read) -> Result<String, DeliverError> {
        let name = self.unique_name();
        let tmp = in_dir(&self.tmp, &name);
        let mut source = Tracked {
            inner: message,
            failed: false,
        };
        if let Err(e) = write_file(&tmp, prefix, &mut source, self.fsync) {
            let _ = fs::remove_file(&tmp);
            return Err(if source.failed {
                DeliverError::Read(e)
            } else {
                DeliverError::Write(e)
            });
        }
        if let Err(e) = fs::rename(&tmp, in_dir(&self.new, &name)) {
            let _ = fs::remove_file(&tmp);
            return Err(DeliverError::Write(e));
        }
        // The rename is durable once the directory is flushed.
        if self.fsync {
            match &self.new_dir {
                Some(dir) => dir.sync_all(),
                None => File::open(&self.new).and_then(|d| d.sync_all()),
            }
            .map_err(DeliverError::Write)?;
        }
        Ok(name)
    }

    /// The names of the messages in `new/` and `cur/` (`cur/` names keep their `:2,` flags),
    /// each with its subdirectory, sorted by name (Maildir names start with the time).
    pub fn list(&self) -> io::Result<Vec<(String, String)>> {
        let mut v = Vec::new();
        for sub in ["new", "cur"] {
            for entry in fs::read_dir(self.root.join(sub))? {
                let entry = entry?;
                if entry.file_type()?.is_file() {
                    v.push((
                        sub.to_string(),
                        entry.file_name().to_string_lossy().into_owned(),
                    ));
                }
            }
        }
        v.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(v)
    }
}

/// `Return-Path: <from>` (`<>` for the null sender) and one `X-Original-To: <rcpt>` line per
/// recipient: the lines a local delivery agent puts above a stored message.
pub fn delivery_headers(from: Option<&Mailbox>, recipients: &[&Mailbox]) -> Vec<u8> {
    use std::fmt::Write as _;
    // Written into one string: a `format!` per line cost an allocation each.
    let mut s = String::with_capacity(64 * (1 + recipients.len()));
    s.push_str("Return-Path: <");
    if let Some(from) = from {
        let _ = write!(s, "{from}");
    }
    s.push_str(">\r\n");
    for r in recipients {
        let _ = write!(s, "X-Original-To: <{r}>\r\n");
    }
    s.into_bytes()
}

/// The size of the buffer a delivery goes through (one `write` for most messages).
const WRITE_BUF: usize = 64 * 1024;

thread_local! {
    /// One zeroed buffer per thread, reused by every delivery on it: `io::copy` into a
    /// `BufWriter` zeroed its 64 KiB at each message.
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Writes `prefix` then `message` to a new file at `path` through one buffer: filled from the
/// reader, written when full and at the end.
fn write_file(path: &Path, prefix: &[u8], message: &mut dyn Read, fsync: bool) -> io::Result<()> {
    let mut file = File::create(path)?;
    BUF.with(|cell| {
        // A delivery inside a delivery on the same thread (a reader that delivers) gets its
        // own buffer rather than a panic.
        let mut own = Vec::new();
        let mut borrowed = cell.try_borrow_mut();
        let buf = match &mut borrowed {
            Ok(b) => &mut **b,
            Err(_) => &mut own,
        };
        if buf.len() < WRITE_BUF {
            buf.resize(WRITE_BUF, 0);
        }
        copy_through(prefix, message, &mut file, buf)
    })?;
    if fsync {
        file.sync_all()?;
    }
    Ok(())
}

/// Copies `prefix` then `from` to `to` through `buf`, writing only full buffers and the
/// last part.
fn copy_through(
    prefix: &[u8],
    from: &mut dyn Read,
    to: &mut File,
    buf: &mut [u8],
) -> io::Result<()> {
    let mut filled = 0;
    match buf.get_mut(..prefix.len()) {
        Some(head) => {
            head.copy_from_slice(prefix);
            filled = prefix.len();
        }
        None => to.write_all(prefix)?,
    }
    loop {
        if filled == buf.len() {
            to.write_all(buf)?;
            filled = 0;
        }
        let n = match from.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return to.write_all(&buf[..filled]);
        }
        filled += n;
    }
}

/// `dir/name` in one allocation.
fn in_dir(dir: &Path, name: &str) -> PathBuf {
    let mut path = PathBuf::with_capacity(dir.as_os_str().len() + 1 + name.len());
    path.push(dir);
    path.push(name);
    path
}

/// Appends `n` in decimal.
fn push_decimal(s: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits: always UTF-8. One push rather than a char at a time (a quarter of the
    // name's cost).
    s.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// The host part of a Maildir name: `/` → `\057`, `:` → `\072`.
fn maildir_host(host: &str) -> String {
    host.replace('/', "\\057").replace(':', "\\072")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("smtpkit-maildir-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn delivers_into_new_with_unique_names() {
        let d = temp("deliver");
        let m = Maildir::create(&d).unwrap();
        let a = m.deliver(b"X-A: 1\r\n", &mut &b"body\r\n"[..]).unwrap();
        let b = m.deliver(b"", &mut &b"two\r\n"[..]).unwrap();
        assert_ne!(a, b);
        assert!(a.ends_with(&format!(
            ".{}",
            maildir_host(&crate::proto::default_hostname())
        )));
        assert_eq!(
            fs::read(d.join("new").join(&a)).unwrap(),
            b"X-A: 1\r\nbody\r\n"
        );
        assert_eq!(fs::read_dir(d.join("tmp")).unwrap().count(), 0);
        let mut names: Vec<String> = m.list().unwrap().into_iter().map(|(_, n)| n).collect();
        names.sort();
        let mut want = vec![a, b];
        want.sort();
        assert_eq!(names, want);
        fs::remove_dir_all(&d).unwrap();
    }

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::UnexpectedEof, "client gone"))
        }
    }

    #[test]
    fn a_failed_read_keeps_nothing_and_says_read() {
        let d = temp("fail");
        let m = Maildir::create(&d).unwrap();
        let e = m.deliver(b"X: y\r\n", &mut Failing).unwrap_err();
        assert!(matches!(e, DeliverError::Read(_)), "{e:?}");
        assert_eq!(fs::read_dir(d.join("tmp")).unwrap().count(), 0);
        assert_eq!(fs::read_dir(d.join("new")).unwrap().count(), 0);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_message_larger_than_the_buffer_and_no_fsync() {
        let d = temp("big");
        let m = Maildir::create(&d).unwrap().fsync(false);
        let body: Vec<u8> = (0..3 * WRITE_BUF + 17).map(|i| (i % 251) as u8).collect();
        let prefix = vec![b'p'; WRITE_BUF];
        let name = m.deliver(&prefix, &mut &body[..]).unwrap();
        let got = fs::read(d.join("new").join(&name)).unwrap();
        assert_eq!(got.len(), WRITE_BUF + body.len());
        assert_eq!(&got[..WRITE_BUF], &prefix[..]);
        assert_eq!(&got[WRITE_BUF..], &body[..]);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn names_have_the_maildir_shape() {
        let d = temp("names");
        let m = Maildir::create(&d).unwrap();
        let name = m.unique_name();
        let (secs, rest) = name.split_once(".M").unwrap();
        assert!(secs.parse::<u64>().unwrap() > 1_600_000_000, "{name}");
        let (usecs, rest) = rest.split_once('P').unwrap();
        assert!(usecs.parse::<u32>().unwrap() < 1_000_000, "{name}");
        let (pid, rest) = rest.split_once('Q').unwrap();
        assert_eq!(pid, std::process::id().to_string());
        let (n, host) = rest.split_once('.').unwrap();
        assert!(n.parse::<u64>().is_ok(), "{name}");
        assert_eq!(host, maildir_host(&crate::proto::default_hostname()));
        let mut s = String::new();
        for n in [0, 7, 10, 4_294_967_296, u64::MAX] {
            s.clear();
            push_decimal(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn delivery_headers_lines() {
        let a = Mailbox::parse("a@example.org").unwrap();
        let b = Mailbox::parse("b@example.net").unwrap();
        assert_eq!(
            delivery_headers(Some(&a), &[&a, &b]),
            b"Return-Path: <a@example.org>\r\nX-Original-To: <a@example.org>\r\n\
              X-Original-To: <b@example.net>\r\n"
        );
        assert_eq!(delivery_headers(None, &[]), b"Return-Path: <>\r\n");
    }

    #[test]
    fn host_escapes() {
        assert_eq!(maildir_host("a/b:c"), "a\\057b\\072c");
    }

    #[test]
    fn a_file_in_the_way_fails_at_create() {
        let d = temp("blocked");
        fs::write(&d, b"not a directory").unwrap();
        assert!(Maildir::create(&d).is_err());
        fs::remove_file(&d).unwrap();
    }
}
