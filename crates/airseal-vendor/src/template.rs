//! Where a license template comes from: a file holding a license description (the fields
//! of [`LicenseSpec`], TOML), or a template named in `airseal.toml` (`SPEC.md` §12).
//!
//! One rule for every caller (issuing one license, issuing a batch from an import): a
//! reference is a file when a file of that name exists, or when there is no vendor
//! configuration to hold named templates; otherwise it names a template of the product.

use std::fmt;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use crate::issue::LicenseSpec;
use crate::vendor_dir::{Config, VendorDirError};

/// Largest template file read: a license description is a few hundred bytes; the limit keeps
/// a wrong path (a log, `/dev/zero`) from filling memory.
pub const MAX_TEMPLATE_FILE: u64 = 1024 * 1024;

/// Why a template could not be resolved.
#[non_exhaustive]
#[derive(Debug)]
pub enum TemplateError {
    /// The template file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The template file is larger than [`MAX_TEMPLATE_FILE`].
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The template file is not UTF-8 text.
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// The template file is not a valid license description.
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (the TOML parser's message, with line and column).
        message: String,
    },
    /// The reference names a template, but no product was given to look it up under.
    NoProduct {
        /// The template name.
        name: String,
    },
    /// The named template is not in `airseal.toml`, or is not a valid description.
    Config(VendorDirError),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::TooLarge { path } => write!(
                f,
                "{}: larger than {MAX_TEMPLATE_FILE} bytes: not a license template",
                path.display()
            ),
            Self::NotText { path } => write!(f, "{}: not UTF-8 text", path.display()),
            Self::Invalid { path, message } => {
                write!(f, "{}: {}", path.display(), message.trim_end())
            }
            Self::NoProduct { name } => write!(
                f,
                "template {name:?} is not a file, and a named template needs a product"
            ),
            Self::Config(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TemplateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Config(e) => Some(e),
            _ => None,
        }
    }
}

/// The license description `reference` stands for (see the module docs for the rule).
/// `product` is the product a named template is looked up under.
///
/// # Errors
/// [`TemplateError`]: the file's I/O, size or syntax, a missing product, or
/// [`VendorDirError::UnknownTemplate`] inside [`TemplateError::Config`].
pub fn resolve(
    reference: &Path,
    product: Option<&str>,
    config: Option<&Config>,
) -> Result<LicenseSpec, TemplateError> {
    let config = match config {
        Some(c) if !reference.exists() => c,
        _ => return read_file(reference),
    };
    let name = reference.to_string_lossy();
    let product = product.ok_or_else(|| TemplateError::NoProduct {
        name: name.to_string(),
    })?;
    config
        .template_spec(product, &name)
        .map_err(TemplateError::Config)
}

/// Reads a license description from a TOML file.
///
/// # Errors
/// [`TemplateError::Io`], [`TemplateError::TooLarge`], [`TemplateError::NotText`] or
/// [`TemplateError::Invalid`].
pub fn read_file(path: &Path) -> Result<LicenseSpec, TemplateError> {
    let io_err = |source| TemplateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io_err)?
        .take(MAX_TEMPLATE_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_TEMPLATE_FILE {
        return Err(TemplateError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| TemplateError::NotText {
        path: path.to_path_buf(),
    })?;
    LicenseSpec::from_toml(&text).map_err(|message| TemplateError::Invalid {
        path: path.to_path_buf(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::parse(
            "vendor = \"acme\"\n[products.p]\n[products.p.templates.pro]\ndays = 30\n",
            Path::new("airseal.toml"),
        )
        .unwrap()
    }

    #[test]
    fn a_file_wins_over_a_name_and_is_the_only_choice_without_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pro");
        std::fs::write(&file, "days = 7\n").unwrap();
        let c = config();
        assert_eq!(resolve(&file, Some("p"), Some(&c)).unwrap().days, Some(7));
        assert_eq!(resolve(&file, None, None).unwrap().days, Some(7));
        // Not a file: a name, looked up under the product.
        let spec = resolve(Path::new("pro"), Some("p"), Some(&c)).unwrap();
        assert_eq!(spec.days, Some(30));
        assert!(matches!(
            resolve(Path::new("pro"), None, Some(&c)),
            Err(TemplateError::NoProduct { .. })
        ));
        assert!(matches!(
            resolve(Path::new("basic"), Some("p"), Some(&c)),
            Err(TemplateError::Config(
                VendorDirError::UnknownTemplate { .. }
            ))
        ));
        // Without a configuration a missing file is an I/O error, not a name.
        assert!(matches!(
            resolve(Path::new("pro"), Some("p"), None),
            Err(TemplateError::Io { .. })
        ));
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::write(&bin, b"\xff\xfe").unwrap();
        assert!(matches!(
            read_file(&bin),
            Err(TemplateError::NotText { .. })
        ));
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "days = \"many\"\n").unwrap();
        let e = read_file(&bad).unwrap_err();
        assert!(matches!(e, TemplateError::Invalid { .. }), "{e:?}");
        assert!(e.to_string().starts_with(&bad.display().to_string()), "{e}");
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'#'; MAX_TEMPLATE_FILE as usize + 1]).unwrap();
        assert!(matches!(
            read_file(&big),
            Err(TemplateError::TooLarge { .. })
        ));
    }
}
