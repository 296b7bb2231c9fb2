#!/bin/sh
# Builds the worker with the project's pinned tools, never downloading any: worker-build
# honours ESBUILD_BIN, WASM_BINDGEN_BIN and WASM_OPT_BIN.
# With EDGEMETER_SKIP_BUILD=1 an existing build is reused (the tests build once, then
# start several servers).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
# wrangler.toml's [assets] directory must exist before wrangler serves: the dashboard is
# built into it first, every time (esbuild, under a second; files are rewritten only when
# they change), so any server wrangler starts serves the current dashboard.
mkdir -p "$root/dashboard/build"
node "$root/scripts/build-dashboard.mjs"
if [ "${EDGEMETER_SKIP_BUILD:-}" = 1 ] && [ -f "$root/worker/build/index.js" ]; then
  exit 0
fi
bin="${CARGO_HOME:-$HOME/.cargo}/bin"
export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
export WASM_BINDGEN_BIN="$bin/wasm-bindgen"
cd "$root/worker"
exec "$bin/worker-build" --release
