#!/bin/sh
# Runs every fuzz target (fuzz/fuzz_targets/) for SECONDS each (default 300), with
# libFuzzer through cargo-fuzz on the nightly toolchain, from the committed seeds
# (fuzz/corpus/<target>/) plus what earlier runs on this machine found
# (fuzz/target/corpus/<target>/). A crash stops the run: its input is in
# fuzz/artifacts/<target>/, to keep as a regression test once fixed.
# Usage: sh scripts/fuzz.sh [SECONDS] [TARGET…]
# With FUZZ_RUNS=N, each target runs N inputs from seed 1 instead (`make fuzz-smoke`, in
# `make test`): the same inputs on every machine, so the short run cannot flake.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-300}
[ $# -gt 0 ] && shift
bin="${CARGO_HOME:-$HOME/.cargo}/bin"

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz: installing the nightly toolchain (libFuzzer needs its sanitizers)"
  rustup toolchain install nightly --profile minimal
fi
if ! "$bin/cargo-fuzz" --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz (a few minutes)"
  cargo install cargo-fuzz --locked
fi

cd "$root/fuzz"
targets=${*:-$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^edgemeter-fuzz$')}
for t in $targets; do
  mkdir -p "target/corpus/$t"
  if [ -n "${FUZZ_RUNS:-}" ]; then
    rm -rf "target/corpus/$t" && mkdir -p "target/corpus/$t"
    budget="-runs=$FUZZ_RUNS -seed=1"
    echo "fuzz: $t, $FUZZ_RUNS inputs from seed 1"
  else
    budget="-max_total_time=$seconds"
    echo "fuzz: $t for ${seconds}s"
  fi
  log="target/fuzz-$t.log"
  status=0
  # shellcheck disable=SC2086 # $budget is two options
  cargo +nightly fuzz run "$t" "target/corpus/$t" "corpus/$t" -- \
    $budget -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss|SUMMARY|thread .* panicked|==[0-9]+== ERROR)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -40 "$log" >&2
    echo "fuzz: $t failed (exit $status); a failing input is in fuzz/artifacts/$t/, the log in fuzz/$log" >&2
    exit 1
  fi
done
