//! External tools and example binaries for the interop tests.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// True under `CI=true`, where a missing interop tool or Python package fails the test.
pub fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Skips (prints a line, returns false) or, under `CI=true`, fails because `what` is missing.
pub fn missing(what: &str) -> bool {
    assert!(!ci(), "{what} is not available, and CI=true requires it");
    eprintln!("skipping: {what} not available");
    false
}

/// Whether `python3` imports every one of `modules` (the check runs once per list). When not:
/// fails under `CI=true`, otherwise prints a skip line; `pip` names the packages to install.
pub fn python_modules(modules: &[&str], pip: &str) -> bool {
    static SEEN: OnceLock<Mutex<HashMap<String, bool>>> = OnceLock::new();
    let list = modules.join(", ");
    let ok = *SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(list.clone())
        .or_insert_with(|| {
            Command::new("python3")
                .args(["-c", &format!("import {list}")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
    ok || missing(&format!("python3 with {list} (pip install {pip})"))
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "smtpkit-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        // A leftover of an earlier process with the same id.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// `name` inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `contents` to `name` inside the directory; returns its path.
    pub fn write(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write into the temp dir");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Finds an executable on PATH or in the sbin directories. When it is missing: fails under
/// `CI=true` (interop tools are required there), otherwise prints a skip line and returns None.
pub fn tool(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        });
    if found.is_none() {
        missing(&format!("{name} (searched PATH and the sbin directories)"));
    }
    found
}

/// `<target>/<profile>/examples/<name>`, next to this test's `<target>/<profile>/deps/`.
/// `cargo test` builds the examples first; when one is missing, or older than this test binary
/// (built from older sources, e.g. after `cargo test --test x`), it is built here first.
pub fn example(name: &str) -> &'static Path {
    static BUILT: OnceLock<Mutex<HashMap<String, &'static Path>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(p) = built.get(name) {
        return p;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary is in <target>/<profile>/deps");
    let bin = profile.join("examples").join(name);
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    if modified(&bin).is_none() || modified(&bin) < modified(&exe) {
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null());
        if profile.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let what = format!("cargo build --example {name}");
        let status = wait_bounded(
            build.spawn().expect("cannot run cargo"),
            Duration::from_secs(600),
            &what,
        );
        assert!(status.success(), "{what} failed");
        assert!(
            bin.is_file(),
            "{} still missing after the build",
            bin.display()
        );
    }
    let leaked: &'static Path = Box::leak(bin.into_boxed_path());
    built.insert(name.to_string(), leaked);
    leaked
}

/// Waits for `child`, killing it (by its handle) and failing after `timeout`.
pub fn wait_bounded(mut child: Child, timeout: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {timeout:?}; killed");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// What a finished tool produced.
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// Runs `cmd` to completion with `input` on its stdin (then end of file; no input: /dev/null),
/// killing it (by its handle) and failing after `timeout`.
pub fn run(cmd: &mut Command, input: Option<&[u8]>, timeout: Duration) -> Output {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {desc}: {e}"));
    if let Some(bytes) = input {
        let mut stdin = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        // Dropping the pipe at the end of the thread gives the child its end of file.
        thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        });
    }
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().expect("try_wait") {
            Some(s) => break s,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let o = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
                let e = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
                panic!(
                    "{desc} still running after {timeout:?}; killed.\nstdout:\n{o}\nstderr:\n{e}"
                );
            }
            None => thread::sleep(Duration::from_millis(10)),
        }
    };
    let stdout = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Fails with the tool's output unless it exited with `code`.
pub fn assert_exit(o: &Output, code: i32, what: &str) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}: exit status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        o.stdout,
        o.stderr
    );
}

/// Runs `openssl ARGS` in `dir` (bounded to two minutes); fails with its output unless it
/// exits with 0.
pub fn openssl(dir: &TempDir, args: &[&str]) {
    let o = run(
        Command::new("openssl").args(args).current_dir(&dir.0),
        None,
        Duration::from_secs(120),
    );
    assert_exit(&o, 0, &format!("openssl {args:?}"));
}

/// A 2048-bit RSA key made by openssl (no private key is committed).
pub struct RsaKey {
    /// `NAME.pem`: the private key, PKCS#8 PEM.
    pub pkcs8: PathBuf,
    /// `NAME1.pem`: the same key, PKCS#1 PEM ("BEGIN RSA PRIVATE KEY", as dkimpy reads it).
    pub pkcs1: PathBuf,
    /// The public key as DER SubjectPublicKeyInfo (a DKIM record's `p=`, decoded).
    pub spki: Vec<u8>,
}

/// Generates a 2048-bit RSA key in `dir` as `name.pem`, `name1.pem` and `name.pub` (DER).
pub fn rsa_key(dir: &TempDir, name: &str) -> RsaKey {
    let (pkcs8, pkcs1, public) = (
        format!("{name}.pem"),
        format!("{name}1.pem"),
        format!("{name}.pub"),
    );
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &pkcs8,
        ],
    );
    openssl(dir, &["rsa", "-in", &pkcs8, "-traditional", "-out", &pkcs1]);
    openssl(
        dir,
        &[
            "pkey", "-in", &pkcs8, "-pubout", "-outform", "DER", "-out", &public,
        ],
    );
    RsaKey {
        pkcs8: dir.path(&pkcs8),
        pkcs1: dir.path(&pkcs1),
        spki: std::fs::read(dir.path(&public)).expect("read the public key"),
    }
}
