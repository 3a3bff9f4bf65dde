//! The QR text form (`SPEC.md` §5.1) carries every vector object unchanged: for each file in
//! `vectors/licenses/` that `dearmor` reads, the QR text of its bytes reads back to the same
//! bytes, and the committed QR-text vector is exactly the QR text of its raw twin.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use airseal_core::DecodeErrorKind;
use airseal_core::armor::{QR_PREFIX, dearmor, qr_text};
use airseal_core::cose::MAX_OBJECT_SIZE;

fn licenses() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vectors/licenses")
}

#[test]
fn every_vector_object_survives_the_qr_text_form() {
    let mut checked = 0;
    for entry in std::fs::read_dir(licenses()).unwrap() {
        let path = entry.unwrap().path();
        let input = std::fs::read(&path).unwrap();
        let Ok(raw) = dearmor(&input) else { continue };
        if raw.is_empty() || raw.len() > MAX_OBJECT_SIZE {
            // `oversized.cose` passes dearmor as raw bytes; the QR text refuses its size.
            let e = dearmor(qr_text(&raw).as_bytes()).unwrap_err();
            assert!(
                raw.is_empty()
                    || matches!(e.kind, DecodeErrorKind::TooLarge { size, .. } if size == raw.len())
            );
            continue;
        }
        let text = qr_text(&raw);
        assert!(text.starts_with(QR_PREFIX));
        assert_eq!(
            dearmor(text.as_bytes()).unwrap().as_ref(),
            raw.as_ref(),
            "{}",
            path.display()
        );
        // What a phone shows and a customer pastes into an e-mail reply.
        let mail = format!("Hello,\r\n\r\n> {text}\r\n\r\nRegards\r\n");
        assert_eq!(dearmor(mail.as_bytes()).unwrap().as_ref(), raw.as_ref());
        checked += 1;
    }
    assert!(checked > 50, "only {checked} vector files read");
}

#[test]
fn the_qr_vector_is_the_qr_text_of_the_response() {
    let raw = std::fs::read(licenses().join("activation-response.cose")).unwrap();
    let text = std::fs::read_to_string(licenses().join("activation-response-qr.txt")).unwrap();
    assert_eq!(text, format!("{}\n", qr_text(&raw)));
    assert_eq!(dearmor(text.as_bytes()).unwrap().as_ref(), raw.as_slice());
}

/// The armor fuzz target's property holds on its seeds: every vector file, and the QR text
/// of each.
#[test]
fn the_armor_fuzz_hook_holds_on_the_seeds() {
    for entry in std::fs::read_dir(licenses()).unwrap() {
        let input = std::fs::read(entry.unwrap().path()).unwrap();
        airseal_core::fuzz_hooks::armor_round_trip(&input);
        if let Ok(raw) = dearmor(&input) {
            airseal_core::fuzz_hooks::armor_round_trip(qr_text(&raw).as_bytes());
        }
    }
}
