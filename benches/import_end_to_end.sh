#!/usr/bin/env bash
# End-to-end import through the CLI (BENCHMARKS.md, issue #6): `airseal import --from
# cryptlex-v2` of a 1,000,000-row export into an empty ledger, each run on a fresh copy of the
# same vendor folder. The floor beside each run, measured in the same run: `airseal keys
# generate --count 1000000` into an empty ledger of another fresh copy — the same number of
# keys recorded in one transaction through the same binary, with no file to parse and no
# terms to store. With AIRSEAL_BEFORE=BINARY, each run also times that (older) airseal
# binary on a vendor folder of its own making, for a before/after comparison in one run.
# With AIRSEAL_PREFILL=N, every vendor folder (the floor's too) starts with N generated keys of
# the same product already in its ledger, instead of empty.
# Usage: [AIRSEAL_BEFORE=OLD/airseal] [AIRSEAL_PREFILL=N] benches/import_end_to_end.sh [RUNS] [ROWS]
set -euo pipefail
runs=${1:-3}
rows=${2:-1000000}
cd "$(dirname "$0")/.."
cargo build --release -q -p airseal
cargo build --release -q -p airseal-vendor --example import_rate
bin=$PWD/target/release/airseal
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export AIRSEAL_PASSPHRASE="bench passphrase" AIRSEAL_VENDOR=
cd "$work"
"$OLDPWD/target/release/examples/import_rate" --export-only export.csv "$rows"
sync
echo "export: $(wc -c < export.csv) bytes, $rows rows (Cryptlex v2 dashboard form)"
before=${AIRSEAL_BEFORE:-}
for b in "$bin" $before; do
  folder=base; [ "$b" = "$bin" ] || folder=base-before
  "$b" init "$folder" --vendor-id bench >/dev/null 2>&1
  printf '\n[products.photo-pro]\nkey_pattern = "XXXXX-XXXXX-XXXXX-XXXXX"\n' >> "$folder/airseal.toml"
  if [ "${AIRSEAL_PREFILL:-0}" -gt 0 ]; then
    "$b" keys generate --vendor "$folder" --product photo-pro --count "$AIRSEAL_PREFILL" \
      --quiet --out "prefill-$folder.csv"
  fi
done
[ "${AIRSEAL_PREFILL:-0}" -eq 0 ] || echo "each ledger starts with $AIRSEAL_PREFILL keys"
now() { date +%s.%N; }
for i in $(seq "$runs"); do
  rm -rf floor run run-before keys.csv && cp -r base floor && cp -r base run
  [ -z "$before" ] || cp -r base-before run-before
  sync
  s=$(now)
  "$bin" keys generate --vendor floor --product photo-pro --count "$rows" --quiet --out keys.csv
  floor=$(echo "$(now) - $s" | bc)
  sync
  s=$(now)
  "$bin" import --vendor run --from cryptlex-v2 export.csv --product photo-pro >/dev/null
  took=$(echo "$(now) - $s" | bc)
  was=
  if [ -n "$before" ]; then
    sync
    s=$(now)
    "$before" import --vendor run-before --from cryptlex-v2 export.csv --product photo-pro >/dev/null
    was=" | before: $(echo "$(now) - $s" | bc) s"
  fi
  echo "run $i: import ${took} s | floor (keys generate, same count): ${floor} s | ratio $(echo "scale=2; $took / $floor" | bc)$was"
done
ls -l run/ledger.sqlite3 | awk '{print "ledger after the import: " $5 " bytes"}'
