//! Hooks for the fuzz targets in `fuzz/` (one line each): the importer reads files exported by
//! other platforms, which may be damaged or hostile, and the ledger's key terms record must
//! decode exactly what was encoded. Each hook panics only when a property the code promises
//! is broken, which is what the fuzzer looks for. Compiled always (and run over the test
//! fixtures by the tests), so the hooks cannot rot between fuzzing runs.

use crate::import::{ImportOptions, Preset, parse_export};
use crate::ledger::TermsRecord;

/// Parses `data` as every preset's export. Never panics on any input; when the file reads,
/// every data row is in exactly one bucket and every valid row's terms decode.
#[doc(hidden)]
#[allow(clippy::panic)]
pub fn fuzz_import(data: &[u8]) {
    for preset in Preset::ALL {
        let opts = ImportOptions {
            preset,
            product: "photo-pro".into(),
            maps: Vec::new(),
            template: None,
            skgl_secret: Some("567".into()),
            update: false,
            dry_run: true,
            file: "fuzz.csv".into(),
        };
        let Ok(parsed) = parse_export(data, &opts) else {
            continue;
        };
        let accounted = parsed.rows.len() + parsed.rejections.len();
        if u64::try_from(accounted).ok() != Some(parsed.read) {
            panic!(
                "{preset}: {} rows read, {accounted} accounted for",
                parsed.read
            );
        }
        for row in &parsed.rows {
            if let Err(e) = row.terms.terms() {
                panic!(
                    "{preset}: line {}: its terms record does not decode: {e}",
                    row.line
                );
            }
        }
    }
}

/// Decodes `data` as a key terms record (`SPEC.md` §16.1). Never panics on any input; what
/// decodes encodes to the same bytes (the reader accepts only the encoder's one form).
#[doc(hidden)]
#[allow(clippy::panic)]
pub fn fuzz_terms_record(data: &[u8]) {
    if let Ok(terms) = crate::ledger::decode_terms(data) {
        let again = TermsRecord::new(&terms);
        if again.as_bytes() != data {
            panic!("decoded {terms:?} but it encodes to other bytes");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hooks_accept_every_import_fixture_and_record() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import");
        let mut n = 0;
        for f in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let data = std::fs::read(f.path()).unwrap_or_default();
            fuzz_import(&data);
            n += 1;
        }
        assert!(n >= 10, "{n} fixtures");
        // Empty, a template, a zero count (refused: the encoder omits it), not a map.
        for record in [
            &[0xa0][..],
            &[0xa1, 0x01, 0x61, b'p'],
            &[0xa1, 0x02, 0x00],
            b"\xff",
        ] {
            fuzz_terms_record(record);
        }
    }
}
