# edgemeter: two commands on a fresh machine.
#   make dev    set up, build and serve the API on http://127.0.0.1:8787
#   make test   set up, build, lint and run every test (what CI runs)
# `make setup` is the install step on its own (idempotent).

SHELL := /bin/sh
export WRANGLER_SEND_METRICS := false

.PHONY: setup build dev lint test test-core test-wasm test-e2e sdk bench clean bench-wasm

setup:
	@sh scripts/setup.sh

build: setup
	sh scripts/build-worker.sh

dev: setup
	node_modules/.bin/wrangler dev --ip 127.0.0.1 --port 8787 --show-interactive-dev-session=false

lint: setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p edgemeter-worker -p edgemeter-sdk --target wasm32-unknown-unknown -- -D warnings

sdk: sdk-build

test-core:
	cargo test -p edgemeter-core -p edgemeter-sdk

test-e2e: build
	EDGEMETER_SKIP_BUILD=1 cargo test -p edgemeter-tests

# test-e2e includes tests/tests/operations.rs (about 20 s of it): `make deploy-check`'s
# dry run and size budget, the binding check, `make smoke` and the log lines' shape, all
# against `wrangler dev`.
test: lint sdk-build test-core test-wasm test-e2e fuzz-smoke

bench: bench-wasm
	cargo bench -p edgemeter-core --bench ingest_path
	cargo bench -p edgemeter-sdk --bench native_track

clean:
	rm -rf target worker/build .wrangler

# The same path in wasm under Node, built as the Worker is (release profile, opt-level "s").
bench-wasm: setup
	cargo build -p edgemeter-sdk --target wasm32-unknown-unknown --release --features bench
	"$${CARGO_HOME:-$$HOME/.cargo}/bin/wasm-bindgen" --target nodejs --out-dir target/bench-wasm \
	  target/wasm32-unknown-unknown/release/edgemeter_sdk.wasm
	node tests/bench/wasm-ingest.mjs "$$(pwd)/target/bench-wasm"

.PHONY: sdk-build sdk-test

# The npm package @edgemeter/sdk in sdk/pkg/ (wasm-bindgen --target web, wasm-opt, ESM client).
sdk-build: setup
	npm run sdk:build

# The JS SDK's Node tests (tests/sdk/) against a real wrangler dev, after a fresh package build.
sdk-test: build sdk-build
	EDGEMETER_SKIP_BUILD=1 cargo test -p edgemeter-tests --test sdk_node

# The SDK in headless Chromium (tests/browser/; chromium and playwright-core from make setup).
.PHONY: sdk-browser-test
sdk-browser-test: build sdk-build
	EDGEMETER_SKIP_BUILD=1 cargo test -p edgemeter-tests --test sdk_browser

# The dashboard (dashboard/) into dashboard/build, which the worker serves under /dashboard/
# (the worker's build runs this too). `make dashboard-test`: its Playwright test alone.
.PHONY: dashboard dashboard-test
dashboard: setup
	node scripts/build-dashboard.mjs

dashboard-test: build
	EDGEMETER_SKIP_BUILD=1 cargo test -p edgemeter-tests --test dashboard

# The packed npm package where users put it: Node, TypeScript, bundlers in Chromium, a
# Worker (tests/consumers/, its tools pinned there; publint and attw too).
.PHONY: sdk-consumers
sdk-consumers: build sdk-build
	EDGEMETER_SKIP_BUILD=1 cargo test -p edgemeter-tests --test sdk_consumers

# The SDK's wasm API under Node (wasm-bindgen-test; the runner comes with wasm-bindgen-cli).
test-wasm: setup
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$${CARGO_HOME:-$$HOME/.cargo}/bin/wasm-bindgen-test-runner" \
	  cargo test -p edgemeter-sdk --target wasm32-unknown-unknown

# @edgemeter/sdk's track() against posthog-node's capture(), both against a local receiver
# (tests/bench/sdk-track/, its own package.json; BENCHMARKS.md).
.PHONY: bench-sdk
bench-sdk:
	$(MAKE) sdk-build
	cd tests/bench/sdk-track && npm ci --no-audit --no-fund && node run.mjs

# Exactly-once under load at full size (RELIABILITY.md); `make test` runs both small.
# A duplicate storm: 100,000 distinct events, each sent three times, over 32 customers.
.PHONY: storm crash
storm: build
	EDGEMETER_SKIP_BUILD=1 EDGEMETER_STORM_EVENTS=$${EDGEMETER_STORM_EVENTS:-100000} \
	  EDGEMETER_STORM_CUSTOMERS=$${EDGEMETER_STORM_CUSTOMERS:-32} EDGEMETER_LOAD_THREADS=$${EDGEMETER_LOAD_THREADS:-12} \
	  cargo test -p edgemeter-tests --test storm -- --nocapture

# wrangler dev SIGKILLed mid-load, restarted on its state, 100,000 events sent again.
crash: build
	EDGEMETER_SKIP_BUILD=1 EDGEMETER_CRASH_EVENTS=$${EDGEMETER_CRASH_EVENTS:-100000} \
	  EDGEMETER_CRASH_CUSTOMERS=$${EDGEMETER_CRASH_CUSTOMERS:-32} EDGEMETER_LOAD_THREADS=$${EDGEMETER_LOAD_THREADS:-12} \
	  cargo test -p edgemeter-tests --test crash -- --nocapture

# Fuzzing every parser of untrusted input (fuzz/, RELIABILITY.md) with cargo-fuzz on the
# nightly toolchain (both installed by scripts/fuzz.sh when missing). `make fuzz` runs
# each target FUZZ_SECONDS (300) long; `make fuzz-smoke` (in `make test`) runs each on
# the same 200,000 inputs from seed 1. A crash stops it, its input in fuzz/artifacts/.
.PHONY: fuzz fuzz-smoke
fuzz:
	sh scripts/fuzz.sh $${FUZZ_SECONDS:-300}

fuzz-smoke:
	FUZZ_RUNS=$${FUZZ_RUNS:-200000} sh scripts/fuzz.sh

# Ingest under load against three JS workers of the same design (tests/load/), rounds
# alternated on two wrangler dev servers, 16 connections; about 8 minutes (BENCHMARKS.md
# "Ingest under load"). The generator is built optimized; its dependencies as for tests.
.PHONY: bench-load
bench-load: build
	EDGEMETER_SKIP_BUILD=1 cargo run -q -p edgemeter-tests --bin load \
	  --config 'profile.dev.package.edgemeter-tests.opt-level=3'

# The live balance's latency beside the usage endpoint's, same server, same run
# (BENCHMARKS.md "The live balance"; tests/src/bin/balance_latency.rs). About a minute.
.PHONY: bench-balance
bench-balance: build
	EDGEMETER_SKIP_BUILD=1 cargo run -q -p edgemeter-tests --bin balance_latency

# Going to production (README "Deploy to Cloudflare", "Operating it").
#   make deploy        checks that wrangler is logged in, creates or reuses the KV namespace
#                      and R2 bucket, asks once for each secret the Worker lacks (never
#                      echoed; or from the environment variable of its name), and deploys
#                      the generated production configuration (target/deploy/<worker name>/).
#                      EDGEMETER_WORKER_NAME=… deploys a second copy (staging) beside it.
#   make deploy-check  that configuration through `wrangler deploy --dry-run`, failing over
#                      the bundle's size budget (scripts/deploy.mjs, BUDGET_KIB); no account
#                      needed. `make test` runs it, with the binding check.
#   make smoke BASE_URL=… SECRET_KEY=… INGEST_KEY=…
#                      a short end-to-end check of any running instance (scripts/smoke.mjs).
.PHONY: deploy deploy-check smoke
deploy: setup
	node scripts/deploy.mjs

deploy-check: build
	EDGEMETER_SKIP_BUILD=1 node scripts/deploy.mjs --dry-run

smoke:
	@node scripts/smoke.mjs
