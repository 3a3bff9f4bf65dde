//! The rules for text that enters the vendor side from outside: what a product id may be,
//! and that no stored id, e-mail, name or note carries control characters (`SPEC.md` §17.6).
//! One function per rule, called wherever such a value enters: the configuration, the
//! product table, issuing, import and the ledger's operations.

use std::fmt;

/// The longest product id.
pub const PRODUCT_ID_MAX: usize = 64;

/// Why a value was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextError {
    /// Not a valid product id (see [`check_product_id`]).
    ProductId {
        /// The id as given.
        id: String,
    },
    /// The value holds a control character (escape, newline, …), which a terminal, a CSV
    /// file or a log would act on.
    ControlCharacter {
        /// The field it was given for (`email`, `license id`, …).
        field: &'static str,
        /// The value as given (escape it before printing).
        value: String,
    },
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ProductId { id } => write!(
                f,
                "{id:?} is not a valid product id: 1 to {PRODUCT_ID_MAX} characters, lowercase \
                 letters, digits, '.', '_' or '-', starting with a letter or digit"
            ),
            Self::ControlCharacter { field, value } => write!(
                f,
                "the {field} {value:?} holds a control character (escape, newline, …), which \
                 is never stored"
            ),
        }
    }
}

impl std::error::Error for TextError {}

/// The one rule for a product id (the license's `aud`): `[a-z0-9][a-z0-9._-]{0,63}`. Plain
/// enough to sit unquoted in `airseal.toml`, a file name, a CSV cell and a terminal.
///
/// # Errors
/// [`TextError::ProductId`].
pub fn check_product_id(id: &str) -> Result<(), TextError> {
    let bytes = id.as_bytes();
    let first_ok = bytes
        .first()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b));
    if first_ok && rest_ok && bytes.len() <= PRODUCT_ID_MAX {
        Ok(())
    } else {
        Err(TextError::ProductId { id: id.to_string() })
    }
}

/// Refuses a value with a control character (Unicode category Cc: C0, DEL, C1), `field`
/// naming what it was given for.
///
/// # Errors
/// [`TextError::ControlCharacter`].
pub fn check_text(field: &'static str, value: &str) -> Result<(), TextError> {
    if value.chars().any(char::is_control) {
        Err(TextError::ControlCharacter {
            field,
            value: value.to_string(),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn product_ids() {
        for good in ["photo-pro", "p", "0", "a.b_c-d", &"a".repeat(64)] {
            assert!(check_product_id(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-a",
            ".a",
            "A",
            "a b",
            "a\"b]",
            "evil\u{1b}[31m",
            &"a".repeat(65),
        ] {
            assert!(check_product_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn control_characters() {
        assert!(check_text("email", "a@b.example").is_ok());
        assert!(check_text("name", "Zoë Ünal").is_ok());
        for bad in ["x\u{1b}[31m@y.com", "a\nb", "a\u{7f}", "a\u{9b}b"] {
            let e = check_text("email", bad).unwrap_err();
            assert!(e.to_string().contains("email"), "{e}");
        }
    }
}
