#!/usr/bin/env bash
# Builds fuzz/corpus/<target>/ from vectors/: whole files for the file-level targets, the
# COSE payloads (claims) for the claims targets. Usage: fuzz/seed-corpus.sh
set -euo pipefail
cd "$(dirname "$0")"
for t in armor envelope verify public_key claims claims_policy; do mkdir -p "corpus/$t"; done
for f in ../vectors/licenses/*; do
  base=$(basename "$f")
  for t in armor envelope verify; do cp "$f" "corpus/$t/$base"; done
done
cp ../vectors/doc-example.pub corpus/public_key/
cp ../vectors/doc-example.lic corpus/armor/
# Claims payloads: extracted by the vectors crate's helper binary.
cargo run -q --manifest-path ../Cargo.toml -p airseal-vectors --bin extract-payloads -- corpus/claims
cp corpus/claims/* corpus/claims_policy/
