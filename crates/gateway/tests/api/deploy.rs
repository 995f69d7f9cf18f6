//! `deploy/`: the Kubernetes manifests and the Compose file pass real validators from PyPI
//! (kubernetes-validate, strict; check-jsonschema with the Compose specification's schema), the
//! settings they give are settings Portico accepts, and the image builds with the packages
//! `./dev` installs. No container engine or cluster runs here: this is what can be checked.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A validator installed by `./dev test` into deploy/.venv.
fn tool(name: &str) -> PathBuf {
    let path = root().join("deploy/.venv/bin").join(name);
    assert!(path.is_file(), "run ./dev test: it installs the deployment validators ({name})");
    path
}

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("deploy/kubernetes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Every document of a YAML file, as JSON (read by PyYAML from the same venv).
fn yaml_documents(path: &Path) -> Vec<Value> {
    let out = Command::new(tool("python"))
        .args(["-c", "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn validate_manifests(files: &[PathBuf]) -> std::process::Output {
    Command::new(tool("kubernetes-validate")).arg("--strict").arg("--quiet").args(files).output().unwrap()
}

fn validate_compose(file: &Path) -> std::process::Output {
    Command::new(tool("check-jsonschema")).args(["--builtin-schema", "vendor.compose-spec"]).arg(file).output().unwrap()
}

#[test]
fn kubernetes_manifests_validate() {
    if !crate::helpers::available(crate::helpers::Tool::DeployValidators) {
        return;
    }
    let files = manifests();
    let kinds: BTreeSet<String> =
        files.iter().flat_map(|f| yaml_documents(f)).map(|d| d["kind"].as_str().unwrap().to_owned()).collect();
    let wanted = ["ConfigMap", "Deployment", "Ingress", "Job", "PodDisruptionBudget", "Service"];
    assert_eq!(kinds, wanted.iter().map(|k| k.to_string()).collect(), "every piece an operator needs");
    let out = validate_manifests(&files);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));

    // The validator is strict: a misspelt field fails it.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    let text = std::fs::read_to_string(root().join("deploy/kubernetes/deployment.yaml")).unwrap();
    std::fs::write(&broken, text.replace("replicas: 3", "replica: 3")).unwrap();
    assert!(!validate_manifests(&[broken]).status.success());
}

#[test]
fn the_deployment_probes_and_stops_as_portico_expects() {
    if !crate::helpers::available(crate::helpers::Tool::DeployValidators) {
        return;
    }
    let deployment = yaml_documents(&root().join("deploy/kubernetes/deployment.yaml")).remove(0);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(deployment["spec"]["replicas"].as_u64().unwrap() >= 2, "several instances");
    // Kubernetes waits longer than Portico drains, after the preStop pause.
    let config = yaml_documents(&root().join("deploy/kubernetes/configmap.yaml")).remove(0);
    let grace: u64 = config["data"]["PORTICO__SERVER__SHUTDOWN_GRACE_SECS"].as_str().unwrap().parse().unwrap();
    let pause = container["lifecycle"]["preStop"]["sleep"]["seconds"].as_u64().unwrap();
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() > grace + pause);
}

#[test]
fn the_compose_file_validates() {
    if !crate::helpers::available(crate::helpers::Tool::DeployValidators) {
        return;
    }
    let file = root().join("deploy/compose.yaml");
    let out = validate_compose(&file);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("compose.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&broken, text.replace("stop_grace_period:", "stop_grace_periods:")).unwrap();
    assert!(!validate_compose(&broken).status.success(), "the schema is enforced");
}

/// The `PORTICO__…` settings the manifests and the Compose file give are accepted by
/// Portico's own configuration loader (no misspelt key, no bad value), with stand-in secret
/// files where they name one.
#[test]
fn deployment_settings_are_settings_portico_accepts() {
    if !crate::helpers::available(crate::helpers::Tool::DeployValidators) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let stand_in = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    };
    let secret_key = stand_in("secret-key", "a stand-in secret key of forty characters");
    let database_url = stand_in("database-url", "postgres://portico:pw@db.internal:5432/portico");
    let load = |pairs: Vec<(String, String)>, origin: &str| {
        let mut env: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| {
                let v = match k.as_str() {
                    "PORTICO__SECURITY__SECRET_KEY_FILE" => secret_key.clone(),
                    "PORTICO__DATABASE__URL_FILE" => database_url.clone(),
                    _ => v,
                };
                (k, v)
            })
            .collect();
        assert!(env.iter().any(|(k, _)| k == "PORTICO__DATABASE__URL_FILE"), "{origin} names the database");
        env.push(("PORTICO__DATA__DIR".into(), dir.path().display().to_string()));
        gateway::config::Settings::load_from(None, env).unwrap_or_else(|e| panic!("{origin}: {e}"))
    };

    let config = yaml_documents(&root().join("deploy/kubernetes/configmap.yaml")).remove(0);
    let deployment = yaml_documents(&root().join("deploy/kubernetes/deployment.yaml")).remove(0);
    let mut pairs: Vec<(String, String)> =
        config["data"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect();
    for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"].as_array().unwrap() {
        pairs.push((e["name"].as_str().unwrap().to_owned(), e["value"].as_str().unwrap().to_owned()));
    }
    let settings = load(pairs, "the Kubernetes manifests");
    assert_eq!(settings.public_url.scheme(), "https");
    assert!(!settings.trusted_proxies.is_empty(), "behind an ingress");

    let compose = yaml_documents(&root().join("deploy/compose.yaml")).remove(0);
    let environment = compose["services"]["portico"]["environment"].as_object().unwrap();
    let pairs = environment.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect();
    load(pairs, "the Compose file");
}

/// The image's build stage installs exactly what `./dev` installs to build Portico, on the
/// Rust version the workspace asks for.
#[test]
fn the_image_builds_with_what_dev_installs() {
    let dev = std::fs::read_to_string(root().join("dev")).unwrap();
    let line = dev.lines().find_map(|l| l.strip_prefix("BUILD_PACKAGES=(")).unwrap();
    let dev_packages: BTreeSet<&str> = line.trim_end_matches(')').split_whitespace().collect();

    let dockerfile = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let build_stage = dockerfile.split("\nFROM ").nth(1).unwrap();
    let install = build_stage.split("apt-get install -y --no-install-recommends").nth(1).unwrap();
    let image_packages: BTreeSet<&str> =
        install.split("&&").next().unwrap().split_whitespace().filter(|w| *w != "\\").collect();
    assert_eq!(image_packages, dev_packages);

    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let rust = manifest.lines().find_map(|l| l.strip_prefix("rust-version = ")).unwrap().trim_matches('"');
    assert!(dockerfile.contains(&format!("FROM rust:{rust}-bookworm AS build")), "the image builds on Rust {rust}");
    for part in ["USER 10001", "HEALTHCHECK", "/readyz", "ENTRYPOINT [\"portico\"]"] {
        assert!(dockerfile.contains(part), "{part}");
    }
}
