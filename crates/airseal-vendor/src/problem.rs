//! The one mapping from a vendor library error to its stable name and code: what the CLI
//! prints with `--json` (and exits with) and what the service puts in a problem document
//! (`application/problem+json`, DESIGN15 §5). Both read it from here, so the two cannot
//! drift. The [`Class`] tells the service which HTTP status to answer with; the name and the
//! code never change once released (scripts and stores rely on them).
//!
//! Codes are the CLI's exit codes: 1 for a refusal, 3 when a file (the ledger) cannot be
//! read or written, 10–36 the verifier's own ([`airseal_verify::Error::code`]).

use crate::activate::ActivationError;
use crate::issue::IssueError;
use crate::ledger::LedgerError;

/// A refusal or failure that is not one of the verifier's (exit code 1).
pub const GENERAL: u8 = 1;
/// A file (the ledger) could not be read or written (exit code 3).
pub const IO: u8 = 3;
/// Not an airseal object, or too large to be one: the verifier's `malformed` (10).
pub const MALFORMED: u8 = 10;

/// What kind of failure an error is, for choosing how to answer it (an HTTP status).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// The input is not what it claims to be (malformed, bad signature, wrong type).
    Malformed,
    /// What the input names is not known (a key, a product, an activation).
    NotFound,
    /// The input conflicts with the ledger's state (no seat left, a trial already used).
    Conflict,
    /// What the input names is gone for good (revoked, already given back).
    Gone,
    /// A business rule refuses it (suspended, expired, no trial offered…).
    Refused,
    /// The ledger is busy: the same request may succeed shortly.
    Busy,
    /// No usable credentials (the service's tokens).
    Unauthorized,
    /// The credentials work, but not for this.
    Forbidden,
    /// The vendor's side failed (the ledger cannot be read, signing failed).
    Failure,
}

/// An error's stable name, code and class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorName {
    /// The stable snake_case name (`no_seats_left`).
    pub error: &'static str,
    /// The stable code: the CLI's exit code for it.
    pub code: u8,
    /// What kind of failure it is.
    pub class: Class,
}

const fn named(error: &'static str, code: u8, class: Class) -> ErrorName {
    ErrorName { error, code, class }
}

/// An error with a stable name and code.
pub trait Named {
    /// Its name, code and class.
    fn named(&self) -> ErrorName;
}

impl Named for airseal_verify::Error {
    fn named(&self) -> ErrorName {
        use airseal_verify::Error as E;
        let class = match self {
            E::Malformed(_)
            | E::UnsupportedAlgorithm { .. }
            | E::WrongType { .. }
            | E::BadSignature
            | E::InvalidPublicKey
            | E::BadCertificateSignature { .. } => Class::Malformed,
            E::UnknownKeyId { .. } => Class::NotFound,
            E::Revoked { .. } | E::Released { .. } | E::IssuingKeyRevoked { .. } => Class::Gone,
            _ => Class::Refused,
        };
        named(self.class(), self.code(), class)
    }
}

impl Named for LedgerError {
    fn named(&self) -> ErrorName {
        use LedgerError as L;
        match self {
            L::Busy => named("busy", GENERAL, Class::Busy),
            L::Open { .. }
            | L::Io { .. }
            | L::Missing { .. }
            | L::Empty { .. }
            | L::Connect { .. } => named("ledger_unavailable", IO, Class::Failure),
            L::TargetNotEmpty { .. } => named("ledger_not_empty", GENERAL, Class::Conflict),
            L::UnknownProduct { .. } => named("unknown_product", GENERAL, Class::NotFound),
            L::UnknownKey { .. } => named("unknown_key", GENERAL, Class::NotFound),
            L::UnknownBatch { .. } => named("unknown_batch", GENERAL, Class::NotFound),
            L::UnknownActivation { .. } => named("unknown_activation", GENERAL, Class::NotFound),
            L::AmbiguousKey { .. } | L::AmbiguousEntry { .. } => {
                named("ambiguous_key", GENERAL, Class::Conflict)
            }
            L::AlreadyDeactivated { .. } => named("already_deactivated", GENERAL, Class::Gone),
            L::EmptyProductId | L::EmptyKey => named("invalid_input", GENERAL, Class::Malformed),
            _ => named("ledger", GENERAL, Class::Failure),
        }
    }
}

impl Named for IssueError {
    fn named(&self) -> ErrorName {
        match self {
            IssueError::Scope(_) => named("signer_not_allowed", GENERAL, Class::Refused),
            _ => named("issue_failed", GENERAL, Class::Failure),
        }
    }
}

impl Named for ActivationError {
    fn named(&self) -> ErrorName {
        use ActivationError as A;
        use Class::{Conflict, Gone, Malformed, NotFound, Refused};
        match self {
            A::BadRequest(v) | A::BadProof(v) => {
                let v = v.named();
                // A request or proof that does not verify is a bad input, whatever the
                // verifier would call a license failing the same way.
                named(v.error, v.code, Malformed)
            }
            A::Ledger(l) => l.named(),
            A::Issue(i) => i.named(),
            A::Text(_) => named("invalid_text", GENERAL, Malformed),
            A::UnknownProduct { .. } => named("unknown_product", GENERAL, NotFound),
            A::UnknownKey { .. } => named("unknown_key", GENERAL, NotFound),
            A::KeyTypo { .. } => named("typo", airseal_verify::Error::Typo.code(), Refused),
            A::AmbiguousKey { .. } => named("ambiguous_key", GENERAL, Conflict),
            A::KeyBlocked { .. } => named("key_suspended", GENERAL, Refused),
            A::KeyRevoked { .. } => named("key_revoked", GENERAL, Gone),
            A::LicenseRevoked { .. } => named("license_revoked", GENERAL, Gone),
            A::KeyExpired { .. } => named("key_expired", GENERAL, Refused),
            A::DataKey { .. } => named("data_key_refused", GENERAL, Refused),
            A::LicenseExpired { .. } => named("license_expired", GENERAL, Refused),
            A::NoSeatsLeft { .. } => named("no_seats_left", GENERAL, Conflict),
            A::OtherMachine { .. } => named("seat_on_other_machine", GENERAL, Conflict),
            A::TrialsNotOffered { .. } => named("trials_not_offered", GENERAL, Refused),
            A::TrialUsed { .. } => named("trial_used", GENERAL, Conflict),
            A::NoTemplate { .. } => named("no_template", GENERAL, Refused),
            A::TermEnded { .. } => named("term_ended", GENERAL, Refused),
            A::BelowMinComponents { .. } => named("below_min_components", GENERAL, Refused),
            A::TooFewComponents { .. } => named("too_few_components", GENERAL, Refused),
            A::Template { .. } => named("bad_template", GENERAL, Refused),
            A::ProofReplayed { .. } => named("proof_replayed", GENERAL, Conflict),
            A::UnknownActivation { .. } => named("unknown_activation", GENERAL, NotFound),
            A::AlreadyDeactivated { .. } => named("already_deactivated", GENERAL, Gone),
            A::DeactivationLimit { .. } => named("deactivation_limit", GENERAL, Conflict),
        }
    }
}

/// A wrapped library error keeps its name and class; its code is the refusal's (1) unless
/// the ledger failed: the wrapping command's exit code, which the CLI has always given.
fn wrapped(inner: ErrorName) -> ErrorName {
    named(inner.error, GENERAL, inner.class)
}

impl Named for crate::keys::ops::KeyOpError {
    fn named(&self) -> ErrorName {
        use crate::keys::ops::KeyOpError as K;
        match self {
            K::Ledger(l) => l.named(),
            K::UnknownKey { .. } => named("unknown_key", GENERAL, Class::NotFound),
            K::AmbiguousKey { .. } => named("ambiguous_key", GENERAL, Class::Conflict),
            K::Revoked { .. } => named("key_revoked", GENERAL, Class::Gone),
            K::EndInPast { .. } => named("end_in_past", GENERAL, Class::Refused),
            K::UnknownCustomer { .. } => named("unknown_customer", GENERAL, Class::Refused),
            K::Invalid { .. } => named("invalid", GENERAL, Class::Refused),
            K::Template(a) => match a.as_ref() {
                ActivationError::Ledger(l) => l.named(),
                other => wrapped(other.named()),
            },
        }
    }
}

impl Named for crate::keys::order::OrderError {
    fn named(&self) -> ErrorName {
        use crate::keys::order::OrderError as O;
        use crate::keys::source::SourceError as S;
        match self {
            O::Count { .. } => named("invalid_count", GENERAL, Class::Refused),
            O::Source(S::UnknownProduct { .. }) => {
                named("unknown_product", GENERAL, Class::NotFound)
            }
            O::Source(S::UnknownTemplate { .. }) => {
                named("unknown_template", GENERAL, Class::NotFound)
            }
            O::Source(_) => named("cannot_make_keys", GENERAL, Class::Refused),
            O::UnknownCustomer { .. } => named("unknown_customer", GENERAL, Class::NotFound),
            O::Batch(crate::batch::BatchError::Ledger(l)) | O::Ledger(l) => l.named(),
            O::Batch(_) => named("batch_failed", GENERAL, Class::Failure),
            O::Terms { source, .. } => source.named(),
        }
    }
}

impl Named for crate::issue::for_key::LicenseOrderError {
    fn named(&self) -> ErrorName {
        use crate::issue::for_key::LicenseOrderError as L;
        match self {
            L::NoTemplate { .. } => named("no_template", GENERAL, Class::Refused),
            L::Config(_) => named("unknown_template", GENERAL, Class::NotFound),
            L::Recorded(r) => r.named(),
        }
    }
}

impl Named for crate::ledger::RevokeError {
    fn named(&self) -> ErrorName {
        use crate::ledger::RevokeError as R;
        match self {
            R::Ledger(l) => l.named(),
            R::Text(_) => named("invalid_text", GENERAL, Class::Malformed),
            R::UnknownLicense { .. } => named("unknown_license", GENERAL, Class::NotFound),
            R::UnknownKey { .. } => named("unknown_key", GENERAL, Class::NotFound),
            R::UnknownIssuingKey { .. } => named("unknown_issuing_key", GENERAL, Class::NotFound),
            R::UnknownProduct { .. } => named("unknown_product", GENERAL, Class::NotFound),
            R::CutoffInFuture { .. } => named("cutoff_in_future", GENERAL, Class::Refused),
            R::CutoffLowered { .. } => named("cutoff_lowered", GENERAL, Class::Conflict),
            R::CutoffRaised { .. } => named("cutoff_raised", GENERAL, Class::Conflict),
            R::NotRevoked { .. } => named("not_revoked", GENERAL, Class::Conflict),
        }
    }
}

impl Named for crate::revoke::ExportError {
    fn named(&self) -> ErrorName {
        use crate::revoke::ExportError as E;
        match self {
            E::Ledger(l) => l.named(),
            E::RootRequired { .. } => named("root_required", GENERAL, Class::Refused),
            E::SignerRevoked { .. } => named("signer_revoked", GENERAL, Class::Refused),
            E::SeqOutOfRange { .. } => named("seq_out_of_range", GENERAL, Class::Refused),
            E::Scope(_) => named("signer_not_allowed", GENERAL, Class::Refused),
        }
    }
}

impl Named for crate::renew::RenewError {
    fn named(&self) -> ErrorName {
        use crate::renew::RenewError as R;
        match self {
            R::Ledger(l) | R::Terms(ActivationError::Ledger(l)) => l.named(),
            R::Terms(other) => wrapped(other.named()),
            R::Issue(i) => i.named(),
            R::Io { .. } => named("io", IO, Class::Failure),
            R::UnknownProduct { .. } => named("unknown_product", GENERAL, Class::NotFound),
            R::UnknownKey { .. } => named("unknown_key", GENERAL, Class::NotFound),
            R::AmbiguousProduct { .. } => named("ambiguous_product", GENERAL, Class::Conflict),
            R::KeySuspended { .. } => named("key_suspended", GENERAL, Class::Refused),
            R::KeyRevoked { .. } => named("key_revoked", GENERAL, Class::Gone),
            R::TermEnded { .. } => named("term_ended", GENERAL, Class::Refused),
            R::NoLiveSeats { .. } => named("no_live_seats", GENERAL, Class::Conflict),
            R::AlreadyExists { .. } => named("already_exists", GENERAL, Class::Conflict),
        }
    }
}

impl Named for crate::tokens::AuthError {
    fn named(&self) -> ErrorName {
        use crate::tokens::AuthError as A;
        match self {
            A::Revoked { .. } => named("token_revoked", GENERAL, Class::Unauthorized),
            A::Expired { .. } => named("token_expired", GENERAL, Class::Unauthorized),
            A::WrongScope { .. } => named("wrong_scope", GENERAL, Class::Forbidden),
            A::Ledger(l) => l.named(),
            _ => named("unauthorized", GENERAL, Class::Unauthorized),
        }
    }
}

impl Named for crate::issue::recorded::RecordedError {
    fn named(&self) -> ErrorName {
        use crate::issue::recorded::RecordedError as R;
        use crate::keys::classify::ClassifyError;
        use crate::ledger::KeyStatus;
        match self {
            R::Issue(i) => i.named(),
            R::UnknownProduct { .. } => named("unknown_product", GENERAL, Class::NotFound),
            R::KeyTypo { .. } => named("typo", airseal_verify::Error::Typo.code(), Class::Refused),
            R::UnknownKey { .. } => named("unknown_key", GENERAL, Class::NotFound),
            R::KeyNotActive { status, .. } => match status {
                KeyStatus::Revoked => named("key_revoked", GENERAL, Class::Gone),
                KeyStatus::Suspended => named("key_suspended", GENERAL, Class::Refused),
                _ => named("key_not_active", GENERAL, Class::Refused),
            },
            R::Classify(ClassifyError::Ledger(l)) => l.named(),
            R::Classify(_) => named("classify_failed", GENERAL, Class::Failure),
            R::NotRecorded { source, .. } => {
                named("not_recorded", source.named().code, Class::Failure)
            }
        }
    }
}

impl Named for crate::ledger::CustomerError {
    fn named(&self) -> ErrorName {
        use crate::ledger::CustomerError as C;
        match self {
            C::Ledger(l) => l.named(),
            C::BadEmail { .. } => named("bad_email", GENERAL, Class::Malformed),
            C::Text(_) => named("invalid_text", GENERAL, Class::Malformed),
            C::Duplicate { .. } => named("duplicate_customer", GENERAL, Class::Conflict),
        }
    }
}

impl Named for crate::template::TemplateError {
    fn named(&self) -> ErrorName {
        use crate::template::TemplateError as T;
        match self {
            T::Io { .. } => named("io", IO, Class::Failure),
            T::TooLarge { .. } => named("template_too_large", GENERAL, Class::Refused),
            T::NotText { .. } => named("template_not_text", GENERAL, Class::Refused),
            T::Invalid { .. } => named("bad_template", GENERAL, Class::Refused),
            T::NoProduct { .. } => named("no_product", GENERAL, Class::Malformed),
            T::Config(v) => wrapped(v.named()),
        }
    }
}

impl Named for crate::vendor_dir::VendorDirError {
    fn named(&self) -> ErrorName {
        use crate::vendor_dir::VendorDirError as V;
        match self {
            V::Io { .. } => named("io", IO, Class::Failure),
            V::Ledger(l) => l.named(),
            V::NotFound { .. } => named("no_vendor_folder", GENERAL, Class::Failure),
            V::ConfigParse { .. } | V::InvalidConfig { .. } => {
                named("config_invalid", GENERAL, Class::Failure)
            }
            V::InvalidTemplate(_) => named("bad_template", GENERAL, Class::Refused),
            V::UnknownTemplate { .. } => named("unknown_template", GENERAL, Class::NotFound),
            V::ProductExists { .. } => named("product_exists", GENERAL, Class::Conflict),
            V::UnknownProduct { .. } => named("unknown_product", GENERAL, Class::NotFound),
            V::AlreadyInitialized { .. } => named("already_initialized", GENERAL, Class::Conflict),
            V::VendorIdChange { .. } => named("vendor_id_change", GENERAL, Class::Conflict),
        }
    }
}

impl Named for crate::tokens::TokenError {
    fn named(&self) -> ErrorName {
        use crate::tokens::TokenError as T;
        match self {
            T::Ledger(l) => l.named(),
            T::Unknown { .. } => named("unknown_token", GENERAL, Class::NotFound),
            T::Duplicate { .. } => named("token_name_taken", GENERAL, Class::Conflict),
            T::AlreadyRevoked { .. } => named("token_revoked", GENERAL, Class::Gone),
            _ => named("invalid_token_request", GENERAL, Class::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_is_the_verifiers() {
        let e = airseal_verify::Error::Malformed(airseal_core::cbor::DecodeError::new(
            0,
            "test",
            airseal_core::cbor::DecodeErrorKind::TrailingBytes,
        ));
        assert_eq!(e.named().code, MALFORMED);
        assert_eq!(e.named().class, Class::Malformed);
    }
}
