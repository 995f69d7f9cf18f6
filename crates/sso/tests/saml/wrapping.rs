//! The trust boundary of the ACS: every XML-signature-wrapping shape of the literature is
//! refused for its reason, and a signature that points outside the document makes Portico fetch
//! nothing and read nothing, whether or not the structure check catches it first.

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::*;

/// A TCP listener on loopback that counts who connects to it.
struct Listener {
    port: u16,
    hits: Arc<AtomicUsize>,
}

fn listener() -> Listener {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for stream in l.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    Listener { port, hits }
}

/// A named pipe and a thread waiting to write into it: the thread gets past `open` only when
/// someone opens the pipe for reading, which shows whether a file was read without relying on
/// access times.
struct Fifo {
    path: std::path::PathBuf,
    opened: Arc<AtomicBool>,
    writer: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

fn fifo() -> Fifo {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostname");
    assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
    let opened = Arc::new(AtomicBool::new(false));
    let (p, o) = (path.clone(), opened.clone());
    let writer = std::thread::spawn(move || {
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&p) {
            o.store(true, Ordering::SeqCst);
            let _ = std::io::Write::write_all(&mut f, b"portico-test-host\n");
        }
    });
    Fifo { path, opened, writer: Some(writer), _dir: dir }
}

impl Fifo {
    /// True when somebody opened the pipe for reading. Releases the waiting writer either way.
    fn was_read(mut self) -> bool {
        std::thread::sleep(Duration::from_millis(200));
        let read = self.opened.load(Ordering::SeqCst);
        if !read {
            let mut f = std::fs::File::open(&self.path).unwrap();
            let _ = f.read_to_string(&mut String::new());
        }
        if let Some(w) = self.writer.take() {
            w.join().unwrap();
        }
        read
    }
}

/// The peak resident memory of this process, in KiB.
fn peak_memory_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn every_wrapping_shape_is_refused_for_its_reason() {
    let idp = TestIdp::new("okta");
    let spec = ResponseSpec::valid(&idp, Utc::now());
    let attacks = idp.wrapping_attacks(&spec);
    assert!(attacks.len() >= 20, "the corpus holds the ten classic shapes and their relatives");
    for strict in [false, true] {
        let conn = SamlConnection { require_signed_assertion: strict, ..connection(&idp) };
        for attack in &attacks {
            match check(&conn, &attack.body()) {
                Ok(v) => panic!("`{}` was accepted as {}", attack.name, v.identity.subject),
                Err(r) => assert_eq!(r.code(), attack.code, "`{}` was refused for `{r}`", attack.name),
            }
        }
    }
    // The genuine documents the attacks are made of pass, so each refusal is the shape's doing.
    for (sign_assertion, sign_response) in [(true, false), (false, true), (true, true)] {
        let genuine = ResponseSpec { sign_assertion, sign_response, ..spec.clone() };
        check(&connection(&idp), &idp.response(&genuine))
            .unwrap_or_else(|r| panic!("assertion signed {sign_assertion}, response {sign_response}: {r}"));
    }
}

#[test]
fn the_response_signature_cannot_be_moved_where_it_counts_for_the_assertion() {
    // The response signature moved inside Status keeps its digest valid; it must neither count
    // as the assertion's signature nor skip the Destination check of signed responses.
    let idp = TestIdp::new("entra");
    let spec = ResponseSpec {
        sign_response: true,
        sign_assertion: false,
        destination: String::new(),
        ..ResponseSpec::valid(&idp, Utc::now())
    };
    let xml = idp.response_xml(&spec);
    let signature = sso::testing::signature_block(&xml).to_owned();
    let moved =
        sso::testing::without_signature(&xml).replacen("</samlp:Status>", &format!("{signature}</samlp:Status>"), 1);
    for strict in [false, true] {
        let conn = SamlConnection { require_signed_assertion: strict, ..connection(&idp) };
        refused(&conn, &STANDARD.encode(&moved), "signature_placement");
    }
}

#[test]
fn decrypted_content_keeps_the_same_shape() {
    use sso::testing::{Enc, SpKey};
    let idp = TestIdp::new("okta");
    let sp = SpKey::new();
    let conn = SamlConnection { decryption_key: Some(sp.key.clone()), ..connection(&idp) };
    let spec = ResponseSpec::valid(&idp, Utc::now());
    let evil = idp.assertion_xml(&ResponseSpec {
        sign_assertion: false,
        assertion_id: "_evil".into(),
        name_id: "admin@acme.test".into(),
        ..spec.clone()
    });
    let both = idp.encrypt_assertion(&format!("{evil}{}", idp.assertion_xml(&spec)), &sp.cert_der, Enc::Aes256Gcm);
    refused(&conn, &STANDARD.encode(idp.envelope(&spec, &both)), "unexpected_structure");
    let commented = idp.encrypt_assertion(
        &idp.assertion_xml(&spec).replacen("<saml:Subject>", "<!-- hello --><saml:Subject>", 1),
        &sp.cert_der,
        Enc::Aes256Gcm,
    );
    refused(&conn, &STANDARD.encode(idp.envelope(&spec, &commented)), "comment");
}

#[test]
fn references_outside_the_document_fetch_nothing_and_read_nothing() {
    let idp = TestIdp::new("okta");
    let spec = ResponseSpec::valid(&idp, Utc::now());
    let web = listener();
    let file = fifo();
    let before = peak_memory_kib();
    let targets = [
        format!("http://127.0.0.1:{}/latest/meta-data/", web.port),
        format!("ftp://127.0.0.1:{}/etc/passwd", web.port),
        format!("file://{}", file.path.display()),
        "file:///etc/hostname".to_owned(),
        "file:///dev/zero".to_owned(),
    ];
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let attacks = idp.reference_attacks(&spec, &targets);
    for strict in [false, true] {
        let conn = SamlConnection { require_signed_assertion: strict, allow_idp_initiated: true, ..connection(&idp) };
        for attack in &attacks {
            match check(&conn, &attack.body()) {
                Ok(v) => panic!("`{}` was accepted as {}", attack.name, v.identity.subject),
                Err(r) => assert_eq!(r.code(), attack.code, "`{}` was refused for `{r}`", attack.name),
            }
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(web.hits.load(Ordering::SeqCst), 0, "Portico connected to the loopback listener");
    assert!(!file.was_read(), "Portico opened the file a Reference named");
    let grown = peak_memory_kib().saturating_sub(before);
    assert!(grown < 256 * 1024, "peak memory grew by {grown} KiB");
}

/// Defence in depth: even a document that skips Portico's own check (here handed straight to
/// samael) cannot make libxmlsec1 open a URI once Portico has started it.
#[test]
fn libxmlsec1_itself_opens_no_uri() {
    sso::saml::forbid_uri_loading();
    let idp = TestIdp::new("okta");
    let spec = ResponseSpec::valid(&idp, Utc::now());
    let web = listener();
    let file = fifo();
    let targets = [format!("http://127.0.0.1:{}/", web.port), format!("file://{}", file.path.display())];
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let certificate = samael::crypto::CertificateDer::from(idp.cert_der.clone());
    for attack in idp.reference_attacks(&spec, &targets).iter().take(targets.len()) {
        let verdict =
            <samael::crypto::Crypto as samael::crypto::CryptoProvider>::reduce_xml_to_signed_with_allowed_algorithms(
                &attack.xml,
                std::slice::from_ref(&certificate),
                samael::crypto::ReduceMode::PreDigest,
                None,
            );
        assert!(verdict.is_err(), "a reference elsewhere cannot verify");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(web.hits.load(Ordering::SeqCst), 0, "libxmlsec1 connected to the loopback listener");
    assert!(!file.was_read(), "libxmlsec1 opened the file a Reference named");
}
