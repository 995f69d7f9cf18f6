//! libxmlsec1 loads whatever a `ds:Reference` URI names (`http://`, `ftp://`, `file://`) through
//! the input callbacks it registers when it starts. Portico refuses such references before a
//! document reaches libxmlsec1 (`structure.rs`); as a second, independent line, this module
//! removes those callbacks once libxmlsec1 has started, so that it can open no URI at all:
//! same-document references (`""`, `#id`) need none.
//!
//! This is the workspace's only unsafe code: one call into libxmlsec1's C API, which samael
//! links but does not expose.

#![allow(unsafe_code)]

use std::sync::Once;

use samael::crypto::{CertificateDer, Crypto, CryptoProvider};

unsafe extern "C" {
    /// `xmlsec/io.h`: removes every registered input callback (file, HTTP, FTP).
    fn xmlSecIOCleanupCallbacks();
}

static ONCE: Once = Once::new();

/// Starts libxmlsec1 (through samael, which does it once per process) and then takes away its
/// ability to open URIs. Idempotent and cheap after the first call.
pub fn forbid_uri_loading() {
    ONCE.call_once(|| {
        // Any call that loads a key makes samael initialise libxmlsec1 first; this one then
        // fails on the empty certificate, which is all it is for.
        let _ = Crypto::verify_signed_xml("<x/>", &CertificateDer::from(Vec::new()), None);
        // SAFETY: a C function without arguments that clears libxmlsec1's global callback
        // list. It runs once, after libxmlsec1 is initialised (above) and before any signature
        // is checked by Portico (every check goes through `PreparedSaml`, which calls this
        // first); samael never registers callbacks itself.
        unsafe { xmlSecIOCleanupCallbacks() };
    });
}
