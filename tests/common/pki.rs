//! A throw-away PKI generated at test time (no private key is committed), and a line-based
//! TLS client for scripted exchanges.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::ServerName;

// The TLS tests name it `pki::TempDir`; it lives in tools (one for all tests).
#[allow(unused_imports)]
pub use super::tools::TempDir;

/// A PEM certificate and its PEM private key.
pub struct Leaf {
    pub cert: String,
    pub key: String,
}

/// A test CA and leaf certificates for mx.example and other.example.
pub struct Pki {
    pub ca: String,
    pub mx: Leaf,
    pub other: Leaf,
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "smtpkit test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |names: &[&str]| {
            let key = KeyPair::generate().unwrap();
            let mut params =
                CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .unwrap();
            params.distinguished_name.push(DnType::CommonName, names[0]);
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            let cert = params.signed_by(&key, &issuer).unwrap();
            Leaf {
                cert: cert.pem(),
                key: key.serialize_pem(),
            }
        };
        Pki {
            mx: leaf(&["mx.example", "localhost", "127.0.0.1"]),
            other: leaf(&["other.example"]),
            ca: ca_cert.pem(),
        }
    })
}

/// The server identity for mx.example.
pub fn server_tls() -> smtpkit::tls::ServerTls {
    let p = pki();
    smtpkit::tls::ServerTls::new(
        smtpkit::tls::Identity::from_pem(p.mx.cert.as_bytes(), p.mx.key.as_bytes()).unwrap(),
    )
}

/// A client config trusting the test CA.
pub fn client_config() -> Arc<rustls::ClientConfig> {
    smtpkit::tls::ClientTrust::roots_from_pem(pki().ca.as_bytes())
        .unwrap()
        .client_config()
        .unwrap()
}

/// A line-based client over TLS.
pub struct TlsClient {
    pub tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    buf: Vec<u8>,
}

impl TlsClient {
    /// Handshakes over `sock` (fresh, or after `220` to STARTTLS) for `name`.
    pub fn handshake(sock: TcpStream, name: &str) -> std::io::Result<TlsClient> {
        sock.set_read_timeout(Some(Duration::from_secs(10)))?;
        let server_name = ServerName::try_from(name.to_string()).unwrap();
        let conn = rustls::ClientConnection::new(client_config(), server_name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        Ok(TlsClient {
            tls,
            buf: Vec::new(),
        })
    }

    pub fn line(&mut self, line: &str) {
        self.tls
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.tls.flush().unwrap();
    }

    pub fn send(&mut self, text: &str) {
        self.tls.write_all(text.as_bytes()).unwrap();
        self.tls.flush().unwrap();
    }

    pub fn read_line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let s = String::from_utf8(line).unwrap();
                return s.trim_end_matches("\r\n").to_string();
            }
            let mut chunk = [0u8; 4096];
            let n = self.tls.read(&mut chunk).expect("read over TLS");
            assert!(n > 0, "connection closed while waiting for a reply");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub fn reply(&mut self) -> Vec<String> {
        super::read_reply(|| self.read_line())
    }

    pub fn expect(&mut self, prefix: &str) -> String {
        super::last_line_starts(self.reply(), prefix)
    }

    pub fn cmd(&mut self, line: &str, prefix: &str) -> String {
        self.line(line);
        self.expect(prefix)
    }

    pub fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 64];
        matches!(self.tls.read(&mut chunk), Ok(0) | Err(_))
    }
}
