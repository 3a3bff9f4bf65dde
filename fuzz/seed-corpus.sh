#!/usr/bin/env bash
# Builds fuzz/corpus/<target>/ from vectors/: whole files for the file-level targets, the
# COSE payloads (claims) for the claims targets. Usage: fuzz/seed-corpus.sh
set -euo pipefail
cd "$(dirname "$0")"
for t in armor envelope verify public_key claims claims_policy product_key signed_key revocations fast_differential activation activation_response import terms_record license_update device_state certificate; do mkdir -p "corpus/$t"; done
for f in ../vectors/licenses/*; do
  base=$(basename "$f")
  for t in armor envelope verify; do cp "$f" "corpus/$t/$base"; done
done
cp ../vectors/doc-example.pub corpus/public_key/
cp ../vectors/doc-example.lic corpus/armor/
# The QR text form (SPEC.md §5.1) comes with the vectors above (activation-response-qr.txt,
# qr-text-*.txt); add it as it comes back by e-mail: quoted, with CRLF.
sed 's/^/> /; s/$/\r/' ../vectors/licenses/activation-response-qr.txt > corpus/armor/qr-text-quoted-crlf.txt
test -s corpus/armor/activation-response-qr.txt
# Claims payloads: extracted by the vectors crate's helper binary.
cargo run -q --manifest-path ../Cargo.toml -p airseal-vectors --bin extract-payloads -- corpus/claims
cp corpus/claims/* corpus/claims_policy/
# Key strings: a default-pattern key, a prefixed pattern and key, and a signed key.
printf '7K3QD-M2XRP-9FTWB-4HCNV' > corpus/product_key/default
printf 'ACME-XXXX-XXXX-XXXX\nACME-7K3Q-DM2X-RP9F' > corpus/product_key/prefixed
printf 'M5WTBGEQ-F5AHX2JB-9R2G2V88-J0938NKR-ZV8SQPHQ-AQCCNBHX-HFDNTM5A-2CXKGHNH-EXYDMEB8-KBE0JPCF-127KGXTB-8XT7S7BY-05VC4GX1-N7D0E7XK-HPMB0NP7-SR0DRJ3G-62GVA3RY' > corpus/signed_key/example
cp corpus/signed_key/example corpus/product_key/signed
# A revocation list payload: seq 1, issued 0, one license, one key, one product minimum.
printf '\xa5\x01\x01\x02\x00\x03\x81\x6dABCDEFGHJKMNP\x04\x81\x64ABCD\x05\xa1\x61p\x00' > corpus/revocations/list
# The differential fuzzer starts from whole license files (key, signature, message are
# carved from the input by the hook).
cp corpus/verify/* corpus/fast_differential/
# Activation messages share the license envelope: seed with the license files.
cp corpus/verify/* corpus/activation/
cp ../vectors/licenses/activation-response* corpus/activation_response/
cp ../vectors/activation/* corpus/activation/
# Import: every fixture export (each preset, the messy and the hostile ones).
cp ../crates/airseal-vendor/tests/fixtures/import/* corpus/import/
# Key terms records (SPEC.md §16.1): empty, and the specification's example.
printf '\xa0' > corpus/terms_record/empty
printf '\xa3\x0e\x65a@b.c\x15\x03\x18\x1a\xa1\x64plan\x63pro' > corpus/terms_record/spec-example
# License updates (SPEC.md §15.8): the renewal vectors.
cp ../vectors/renewal/* corpus/license_update/
# Device state bodies (SPEC.md §15.5, without the tag the hook adds): empty, and one
# installed plus one released license.
printf 'airseal-state-v1\x00\x00' > corpus/device_state/empty
printf 'airseal-state-v1\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01A\x01\x00\x00\x00\x00\x00\x00\x00\x02\x01B' > corpus/device_state/two
# Issuing-key certificates (SPEC.md §18): every chain vector (certificates, chained
# licenses, responses and lists, and the hostile ones), rooted in key A like the hook.
cp ../vectors/chain/* corpus/certificate/
