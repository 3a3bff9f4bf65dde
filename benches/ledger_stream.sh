#!/usr/bin/env bash
# Streaming ledger listing (BENCHMARKS.md): `airseal ledger keys --format csv` over a ledger of
# N keys (default 3,000,000), time and peak RSS, next to the floor measured on the same file in
# the same run: `sqlite3 -csv` reading the same columns and activation counts in the same
# order (the keys table's own order: product, then key). Also the time to the first row.
# Needs /usr/bin/time (GNU) and sqlite3.
# Usage: benches/ledger_stream.sh [KEYS]
set -euo pipefail
count=${1:-3000000}
cd "$(dirname "$0")/.."
cargo build --release -q -p airseal
bin=$PWD/target/release/airseal
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export AIRSEAL_PASSPHRASE="bench passphrase" AIRSEAL_VENDOR=
cd "$work"
"$bin" init v --vendor-id bench >/dev/null 2>&1
printf '\n[products.photo-pro]\nkey_pattern = "XXXXX-XXXXX-XXXXX-XXXXX"\n' >> v/airseal.toml
"$bin" keys generate --vendor v --product photo-pro --count "$count" --quiet --out keys.csv
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p')"
echo "ledger: $count keys, $(du -h v/ledger.sqlite3 | cut -f1)"
fmt="%e s elapsed, %U s user, %S s sys, peak RSS %M KB"
/usr/bin/time -f "airseal ledger keys --format csv: $fmt" \
  "$bin" ledger keys --vendor v --format csv > /dev/null
/usr/bin/time -f "floor, sqlite3 -csv (keys only): $fmt" \
  sqlite3 -csv v/ledger.sqlite3 'select product, key, status, batch from keys' > /dev/null
/usr/bin/time -f "floor, sqlite3 -csv (the listing's query): $fmt" \
  sqlite3 -csv v/ledger.sqlite3 'select k.product, k.key, k.batch, b.kind, b.created, k.status,
    k.terms,
    (select count(*) from activations a where a.product = k.product and a.key = k.key
      and a.deactivated_at is null),
    (select count(*) from activations a where a.product = k.product and a.key = k.key
      and a.deactivated_at is not null)
    from keys k join batches b on b.id = k.batch order by k.product, k.key' > /dev/null
s=$(date +%s.%N)
"$bin" ledger keys --vendor v --format csv | head -2 > /dev/null
e=$(date +%s.%N)
echo "first row (| head -2): $(echo "$e - $s" | bc) s"
