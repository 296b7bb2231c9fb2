//! The JavaScript SDK (`@edgemeter/sdk`, built into `sdk/pkg/` by `npm run sdk:build`)
//! through its published API: the Node tests in `tests/sdk/` (`node --test`) against a
//! real server started here, whose address and keys they read from the environment.
//!
//! The package is built first unless it is there and no newer than its sources
//! (`sdk/js/`, `sdk/src/`, `core/src/`); `make sdk-test` always builds it.

use edgemeter_tests::*;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

fn newest_mtime(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH)
        };
        newest = newest.max(t);
    }
    newest
}

fn ensure_sdk_built() {
    let root = root();
    let built = std::fs::metadata(root.join("sdk/pkg/package.json")).and_then(|m| m.modified()).ok();
    let sources = ["sdk/js", "sdk/src", "core/src"].iter().map(|d| newest_mtime(&root.join(d))).max();
    if built.is_some_and(|b| sources.is_some_and(|s| s <= b)) {
        return;
    }
    let ok = Command::new("npm")
        .args(["run", "sdk:build"])
        .current_dir(&root)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "`npm run sdk:build` failed (run `make setup` first)");
}

#[test]
fn node_sdk_suite_passes_against_a_real_server() {
    ensure_sdk_built();
    let server = Server::start("sdk-node");
    let dir = root().join("tests/sdk");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/sdk exists")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".test.mjs"))
        .map(|n| format!("tests/sdk/{n}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no tests in tests/sdk");
    let status = Command::new("node")
        .arg("--test")
        .args(&files)
        .current_dir(root())
        .env("EDGEMETER_BASE_URL", &server.base)
        .env("EDGEMETER_SECRET_KEY", SECRET_KEY)
        .env("EDGEMETER_INGEST_KEY", INGEST_KEY)
        .status()
        .expect("run node (Node 18+ is required)");
    assert!(status.success(), "the SDK's Node tests failed (output above; server log: {})", server.log.display());
}
