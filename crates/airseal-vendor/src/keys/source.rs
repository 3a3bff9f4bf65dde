//! Where a batch of new keys comes from: the product's pattern, the entropy policy, the
//! data or signed key terms (`SPEC.md` §12).
//!
//! Two steps, so a caller can check everything before asking for the signing key's
//! passphrase: [`plan`] reads the configuration and refuses what must be refused; then
//! [`SourcePlan::into_source`] makes the [`KeySource`] (with the issuer, for data and signed
//! keys).

use std::fmt;

use airseal_core::UnixTime;
use airseal_core::productkey::{DEFAULT_PATTERN, Pattern, PatternError};

use super::{DEFAULT_RANDOM_BITS, DataKeySpec, GeneratorError, KeyGenerator, KeyKind};
use crate::batch::KeySource;
use crate::issue::Issuer;
use crate::vendor_dir::Config;

/// What keys to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOptions {
    /// The product (a `[products.<id>]` table of the configuration).
    pub product: String,
    /// Random, data or signed keys.
    pub kind: KeyKind,
    /// A pattern instead of the product's `key_pattern` (else [`DEFAULT_PATTERN`]).
    pub pattern: Option<String>,
    /// Feature bits of data and signed keys.
    pub features: u8,
    /// Validity in days of data and signed keys (`None`: no expiry; 0 is refused,
    /// [`crate::time::require_days`]).
    pub days: Option<u16>,
    /// Accept random keys with fewer than [`DEFAULT_RANDOM_BITS`] bits.
    pub allow_weak: bool,
    /// The template activation uses for these keys; must exist for the product.
    pub template: Option<String>,
    /// A seed for reproducible keys (tests only; refused for signed keys).
    pub seed: Option<u64>,
}

/// A checked [`SourceOptions`], ready to become a [`KeySource`].
#[derive(Debug, Clone)]
pub struct SourcePlan {
    options: SourceOptions,
    pattern: Pattern,
}

/// Why keys cannot be made as asked.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// The product is not in the configuration.
    UnknownProduct {
        /// The product.
        product: String,
    },
    /// The template is not one of the product's.
    UnknownTemplate {
        /// The product.
        product: String,
        /// The template.
        template: String,
    },
    /// A seed was given for signed keys, whose serials must be unpredictable.
    SeedForSignedKeys,
    /// The pattern is unusable.
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong.
        error: PatternError,
    },
    /// The generator refused the pattern or the data key terms.
    Generator(GeneratorError),
    /// Data and signed keys need the issuer, and none was given.
    NoIssuer,
    /// The issuing key's certificate does not allow signed keys for this product now.
    Scope(crate::issue::ScopeError),
    /// Random keys carry nothing: features or days given for them would be dropped.
    TermsOnRandomKeys {
        /// Feature bits were given.
        features: bool,
        /// Days were given.
        days: bool,
    },
    /// The number of days is refused (0).
    Days(crate::issue::IssueError),
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownProduct { product } => write!(
                f,
                "unknown product {product:?}: add a [products.{product}] table to airseal.toml"
            ),
            Self::UnknownTemplate { product, template } => write!(
                f,
                "template {template:?}: no [products.{product}.templates.{template}] in \
                 airseal.toml"
            ),
            Self::SeedForSignedKeys => f.write_str(
                "a seed is refused for signed keys: their serials must be unpredictable",
            ),
            Self::Pattern { pattern, error } => write!(f, "pattern {pattern:?}: {error}"),
            Self::Generator(e) => e.fmt(f),
            Self::NoIssuer => f.write_str("data and signed keys need the signing key"),
            Self::Scope(e) => e.fmt(f),
            Self::TermsOnRandomKeys { features, days } => write!(
                f,
                "random keys carry no {}: they would be dropped (data and signed keys carry \
                 them; a random key's license terms come from its template)",
                match (features, days) {
                    (true, true) => "features or days",
                    (true, false) => "features",
                    _ => "days",
                }
            ),
            Self::Days(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SourceError {}

/// Checks `options` against the configuration: the product and template exist, the seed
/// policy, the pattern (the flag's, else the product's, else the default) parses.
///
/// # Errors
/// [`SourceError`].
pub fn plan(config: &Config, options: SourceOptions) -> Result<SourcePlan, SourceError> {
    if options.seed.is_some() && options.kind == KeyKind::Signed {
        return Err(SourceError::SeedForSignedKeys);
    }
    if options.kind == KeyKind::Random && (options.features != 0 || options.days.is_some()) {
        return Err(SourceError::TermsOnRandomKeys {
            features: options.features != 0,
            days: options.days.is_some(),
        });
    }
    if let Some(days) = options.days {
        crate::time::require_days("days", u32::from(days)).map_err(SourceError::Days)?;
    }
    let product =
        config
            .products
            .get(&options.product)
            .ok_or_else(|| SourceError::UnknownProduct {
                product: options.product.clone(),
            })?;
    if let Some(t) = &options.template {
        if !product.templates.contains_key(t) {
            return Err(SourceError::UnknownTemplate {
                product: options.product.clone(),
                template: t.clone(),
            });
        }
    }
    let text = options
        .pattern
        .clone()
        .or_else(|| product.key_pattern.clone())
        .unwrap_or_else(|| DEFAULT_PATTERN.into());
    let pattern = Pattern::parse(&text).map_err(|error| SourceError::Pattern {
        pattern: text,
        error,
    })?;
    Ok(SourcePlan { options, pattern })
}

impl SourcePlan {
    /// Whether [`SourcePlan::into_source`] needs the issuer (data and signed keys).
    pub fn needs_issuer(&self) -> bool {
        self.options.kind != KeyKind::Random
    }

    /// The key source, keys created at `now`.
    ///
    /// # Errors
    /// [`SourceError::Generator`] for a pattern too weak or too short for the kind;
    /// [`SourceError::NoIssuer`].
    pub fn into_source(
        self,
        issuer: Option<&Issuer>,
        now: UnixTime,
    ) -> Result<KeySource<'_>, SourceError> {
        let o = self.options;
        let rng = match o.seed {
            Some(seed) => super::seeded_rng(seed),
            None => super::os_rng(),
        };
        let generator = |g: Result<KeyGenerator, GeneratorError>| {
            g.map(KeySource::Generator).map_err(SourceError::Generator)
        };
        match (o.kind, issuer) {
            (KeyKind::Random, _) => {
                let min = if o.allow_weak { 0 } else { DEFAULT_RANDOM_BITS };
                generator(KeyGenerator::random(self.pattern, min, rng))
            }
            (KeyKind::Data, Some(issuer)) => {
                let spec = DataKeySpec {
                    product: o.product,
                    features: o.features,
                    days: o.days.unwrap_or(0),
                    created: now,
                    mac_key: issuer.data_key_mac_key(),
                };
                generator(KeyGenerator::data(self.pattern, spec, rng))
            }
            (_, Some(issuer)) => {
                issuer
                    .check_scope(
                        airseal_core::ObjectType::SignedKey,
                        Some(&o.product),
                        crate::signedkey::claimed_issue_time(now),
                    )
                    .map_err(SourceError::Scope)?;
                Ok(KeySource::Signed {
                    issuer,
                    features: o.features,
                    days: o.days.unwrap_or(0),
                    created: now,
                    rng,
                })
            }
            (_, None) => Err(SourceError::NoIssuer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> Config {
        Config::parse(
            "vendor = \"acme\"\n[products.p]\nkey_pattern = \"XXXX-XXXX\"\n\
             [products.p.templates.pro]\ndays = 30\n",
            Path::new("airseal.toml"),
        )
        .unwrap()
    }

    fn options() -> SourceOptions {
        SourceOptions {
            product: "p".into(),
            kind: KeyKind::Random,
            pattern: None,
            features: 0,
            days: None,
            allow_weak: false,
            template: None,
            seed: Some(1),
        }
    }

    #[test]
    fn the_policy_is_checked_before_any_key_is_made() {
        let c = config();
        let e = plan(
            &c,
            SourceOptions {
                product: "q".into(),
                ..options()
            },
        )
        .unwrap_err();
        assert!(matches!(e, SourceError::UnknownProduct { .. }), "{e:?}");
        let e = plan(
            &c,
            SourceOptions {
                template: Some("basic".into()),
                ..options()
            },
        );
        assert!(
            matches!(e, Err(SourceError::UnknownTemplate { .. })),
            "{e:?}"
        );
        let e = plan(
            &c,
            SourceOptions {
                kind: KeyKind::Signed,
                ..options()
            },
        );
        assert!(matches!(e, Err(SourceError::SeedForSignedKeys)), "{e:?}");
        let e = plan(
            &c,
            SourceOptions {
                pattern: Some("XIX".into()),
                ..options()
            },
        );
        assert!(matches!(e, Err(SourceError::Pattern { .. })), "{e:?}");
        // The product's pattern carries 35 bits: too weak, unless asked for.
        let p = plan(&c, options()).unwrap();
        assert!(!p.needs_issuer());
        assert!(matches!(
            p.into_source(None, 0),
            Err(SourceError::Generator(GeneratorError::Pattern(
                PatternError::TooWeak { .. }
            )))
        ));
        let p = plan(
            &c,
            SourceOptions {
                allow_weak: true,
                ..options()
            },
        )
        .unwrap();
        assert!(matches!(
            p.into_source(None, 0),
            Ok(KeySource::Generator(_))
        ));
        // Data keys need the issuer.
        let p = plan(
            &c,
            SourceOptions {
                kind: KeyKind::Data,
                ..options()
            },
        )
        .unwrap();
        assert!(p.needs_issuer());
        assert!(matches!(p.into_source(None, 0), Err(SourceError::NoIssuer)));
        // Random keys carry no terms; zero days is refused for every kind.
        for (features, days) in [(1, None), (0, Some(30))] {
            let e = plan(
                &c,
                SourceOptions {
                    features,
                    days,
                    ..options()
                },
            );
            assert!(
                matches!(e, Err(SourceError::TermsOnRandomKeys { .. })),
                "{e:?}"
            );
        }
        let e = plan(
            &c,
            SourceOptions {
                kind: KeyKind::Data,
                days: Some(0),
                ..options()
            },
        );
        assert!(matches!(e, Err(SourceError::Days(_))), "{e:?}");
    }
}
