#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 30), starting from the committed seed corpus.
# Needs the nightly toolchain and cargo-fuzz; installs cargo-fuzz if it is missing.
# New inputs go to a scratch copy of the corpus, so a run leaves the repository's seeds untouched; crashes are
# written to fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(pool_ops object_heap vm_source trace_text)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cargo +nightly fuzz build 2>&1 | tail -n 3
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target"
  cp -r "corpus/$target/." "$scratch/$target/" 2>/dev/null || true
  echo "== fuzz $target for ${seconds}s"
  cargo +nightly fuzz run "$target" "$scratch/$target" -- -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 2>&1 | grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs)|ERROR|panicked|SUMMARY|stat::number_of_executed_units' || true
  if [ -n "$(ls -A "artifacts/$target" 2>/dev/null)" ]; then
    echo "fuzz $target found a failure: fuzz/artifacts/$target" >&2
    exit 1
  fi
done
