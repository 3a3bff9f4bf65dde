#!/usr/bin/env bash
# End-to-end batch generation through the CLI (BENCHMARKS.md): 1,000,000 random 20-symbol
# keys, unique against a ledger already holding 1,000,000 keys for the product, CSV output.
# Each run starts from a fresh copy of the same pre-filled vendor folder.
# Usage: benches/keys_end_to_end.sh [RUNS]
set -euo pipefail
runs=${1:-5}
cd "$(dirname "$0")/.."
cargo build --release -q -p airseal
bin=$PWD/target/release/airseal
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export AIRSEAL_PASSPHRASE="bench passphrase" AIRSEAL_VENDOR=
cd "$work"
"$bin" init base --vendor-id bench >/dev/null 2>&1
printf '\n[products.photo-pro]\nkey_pattern = "XXXXX-XXXXX-XXXXX-XXXXX"\n' >> base/airseal.toml
"$bin" keys generate --vendor base --product photo-pro --count 1000000 --quiet --out prefill.csv
echo "ledger pre-filled with $(($(wc -l < prefill.csv) - 1)) keys"
# Floor in the same run: writing the same CSV volume with no generation or ledger (cp of the
# prefill output, so disk speed is accounted for).
for i in $(seq "$runs"); do
  rm -rf run out.csv && cp -r base run
  s=$(date +%s.%N); cp prefill.csv floor.csv; sync floor.csv; e=$(date +%s.%N)
  floor=$(echo "$e - $s" | bc)
  s=$(date +%s.%N)
  "$bin" keys generate --vendor run --product photo-pro --count 1000000 --quiet --out out.csv
  e=$(date +%s.%N)
  echo "run $i: $(echo "$e - $s" | bc) s for 1,000,000 keys (copying a 43 MB CSV: ${floor} s)"
done
