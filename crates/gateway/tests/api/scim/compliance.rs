//! An independent compliance checker: scim2-tester (Python, from PyPI, installed by
//! `./dev test` into `interop/scim/.venv`) runs its whole suite of checks against Portico's SCIM
//! endpoint: discovery, creation, queries, filters, projections, replacement, PATCH of every
//! attribute, deletion.

use std::path::PathBuf;
use std::process::Command;

use super::Idp;
use crate::helpers::TestApp;

async fn scim2_tester_passes(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::ScimTester) {
        return;
    }
    let idp = Idp::new(&app, "acme", "scim2-tester").await;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/scim");
    let python = dir.join(".venv/bin/python");
    assert!(
        python.is_file(),
        "the SCIM compliance checker is not installed: run ./dev test (it installs it in {})",
        dir.display()
    );
    let base = idp.base.clone();
    let token = idp.token.clone();
    let output =
        actix_web::web::block(move || Command::new(python).arg(dir.join("check.py")).arg(&base).arg(&token).output())
            .await
            .unwrap()
            .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "scim2-tester found problems:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" 0 not successful"), "{stdout}");
}

crate::both_backends!(scim2_tester_passes);
