//! Every refusal of an activation request or deactivation proof, in the customer's terms:
//! what happened, and what they can do about it ("this key has no free seat: release it on
//! the old machine, or contact …"). Under "details for support" the page shows the error's
//! name, code and detail as the API's problem document has them (`mod.rs`, `failed`), so a
//! support desk sees what the CLI and the API report.

use airseal_core::claims::UnixTime;
use airseal_vendor::activate::ActivationError;
use airseal_vendor::time::format_time;

/// What the portal tells a customer whose file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// One line: what is wrong ("This key has no free seat").
    pub headline: String,
    /// Why, in a sentence or two.
    pub explain: String,
    /// What the customer can do, as the start of a sentence the page ends with "…, or
    /// contact <support>". `None` when there is nothing to do but contact support.
    pub next: Option<String>,
    /// For the support desk: the error's name, code and detail as the API reports them
    /// (set by the caller from the problem document; never the error's raw text, which may
    /// name other keys or the vendor's files).
    pub details: String,
}

/// A day as customers read it (`2027-03-01`, UTC): every date the portal shows.
pub(crate) fn day(t: UnixTime) -> String {
    let full = format_time(t);
    match full.split_once('T') {
        Some((date, _)) => date.to_string(),
        None => full,
    }
}

/// What to tell the customer about `error`.
pub(crate) fn refusal(error: &ActivationError) -> Refusal {
    let r = |headline: &str, explain: String, next: Option<&str>| Refusal {
        headline: headline.to_string(),
        explain,
        next: next.map(str::to_string),
        details: String::new(),
    };
    let new_request = "Make a new request with the key exactly as you received it";
    match error {
        ActivationError::BadRequest(e) | ActivationError::BadProof(e) => {
            let what = if matches!(error, ActivationError::BadRequest(_)) {
                "an activation request"
            } else {
                "a deactivation proof"
            };
            match e {
                airseal_verify::Error::WrongType { found } => r(
                    "This is not the right kind of file",
                    format!("This form takes {what}; the file you gave is of another kind ({found})."),
                    Some("Check which file you chose (the request is the file your software wrote when you asked it to activate; a deactivation proof is what it wrote when you released it), and use the matching form"),
                ),
                airseal_verify::Error::Malformed(_) => r(
                    "The file could not be read",
                    format!("What you gave is not {what}: it may have been cut short or changed when it was copied."),
                    Some("Upload the file itself, or copy its whole text again (from the first line to the last)"),
                ),
                _ => r(
                    "The file was refused",
                    format!("This is not a valid {}: its signature or contents do not check out (the file may have been modified).", what.trim_start_matches("an ").trim_start_matches("a ")),
                    Some("Make a new one on the machine and bring it here unchanged"),
                ),
            }
        }
        ActivationError::UnknownProduct { product } => r(
            "This product is not activated here",
            format!("The request is for the product \u{201c}{product}\u{201d}, which this portal does not activate."),
            Some("Check that you are on the portal of the company that sold you the software"),
        ),
        ActivationError::UnknownKey { key, .. } => r(
            "This product key is not known",
            format!("We have no record of the key {key} for this product."),
            Some("Compare it with the key in your purchase e-mail. Make a new request with the key exactly as you received it"),
        ),
        ActivationError::KeyTypo { key, .. } => r(
            "This product key has a typo",
            format!("The key {key} does not check out: a character is wrong, or two are swapped."),
            Some("Compare it with the key in your purchase e-mail, character by character, and make a new request with it"),
        ),
        ActivationError::AmbiguousKey { entered, .. } => r(
            "This product key must be entered exactly",
            format!("The key {entered} matches more than one of our keys once dashes and capitals are ignored."),
            Some(new_request),
        ),
        ActivationError::KeyBlocked { key, .. } => r(
            "This product key is suspended",
            format!("The key {key} is suspended: machines cannot be activated with it for now."),
            None,
        ),
        ActivationError::KeyRevoked { key, .. } => r(
            "This product key is revoked",
            format!("The key {key} has been revoked and cannot activate machines."),
            None,
        ),
        ActivationError::LicenseRevoked { .. } => r(
            "This machine's license is revoked",
            "The license this machine held has been revoked; it is not sent again.".to_string(),
            None,
        ),
        ActivationError::KeyExpired { key, at } => r(
            "This product key has expired",
            format!("The key {key} expired on {}.", day(*at)),
            Some("Renew or extend your subscription"),
        ),
        ActivationError::TermEnded { key, ended, .. } => r(
            "This product key's term has ended",
            format!("The term of the key {key} ended on {}: no new machine can be activated with it.", day(*ended)),
            Some("Renew or extend your subscription"),
        ),
        ActivationError::DataKey { key, .. } => r(
            "This product key cannot be activated",
            format!("The key {key} does not match our records."),
            Some("Check that it was typed exactly as you received it, and make a new request"),
        ),
        ActivationError::LicenseExpired { at, .. } => r(
            "This machine's license has expired",
            format!("The license this machine holds expired on {}; sending it again would not help.", day(*at)),
            Some("Renew your subscription"),
        ),
        ActivationError::NoSeatsLeft { key, used, limit } => r(
            "This key has no free seat",
            format!("The key {key} may be active on {limit} machine{} at a time, and {used} already {}.", plural(*limit), if *used == 1 { "is" } else { "are" }),
            Some("Release it on the old machine (your software makes a deactivation proof: give it back on this portal's start page), then make the request again"),
        ),
        ActivationError::OtherMachine { key, .. } => r(
            "This key has no free seat for this machine",
            format!("Every seat of the key {key} is taken, and this machine's identity holds one of them on a machine that looks different (after a hardware change, or a copied installation)."),
            Some("Release the seat on the other machine, then make the request again"),
        ),
        ActivationError::TrialsNotOffered { product } => r(
            "No trial is offered for this product",
            format!("The product \u{201c}{product}\u{201d} has no trial."),
            Some("Buy a product key and activate with it"),
        ),
        ActivationError::TrialUsed { at, .. } => r(
            "This machine has had its trial",
            format!("A trial began on this machine on {}; there is one trial per machine.", day(*at)),
            Some("Buy a product key and activate with it"),
        ),
        ActivationError::BelowMinComponents { given, min } => r(
            "This machine could not be identified well enough",
            format!("The request describes {given} of this machine's parts; at least {min} are needed."),
            Some("Make the request again on the machine itself (not in a container or virtual machine that hides its hardware)"),
        ),
        ActivationError::TooFewComponents { given, required } => r(
            "This machine could not be identified well enough",
            format!("The request describes {given} of this machine's parts; {required} must match for the license to work."),
            Some("Make the request again on the machine itself (not in a container or virtual machine that hides its hardware)"),
        ),
        ActivationError::ProofReplayed { accepted_at, .. } => r(
            "This seat was already given back",
            format!("This deactivation proof was accepted on {}: the seat is free already.", day(*accepted_at)),
            Some("Activate the new machine: nothing more is needed here"),
        ),
        ActivationError::AlreadyDeactivated { at, .. } => r(
            "This seat was already given back",
            format!("The seat this proof names was freed on {}.", day(*at)),
            Some("Activate the new machine: nothing more is needed here"),
        ),
        ActivationError::UnknownActivation { .. } => r(
            "This proof matches no activation",
            "We have no activation that this deactivation proof belongs to (it may be from another vendor, or for another product).".to_string(),
            Some("Check that you chose the proof your software made when you released this product"),
        ),
        ActivationError::DeactivationLimit { used, limit, .. } => r(
            "This key cannot move to another machine again",
            format!("The key may move between machines {limit} time{}, and has moved {used}: the seat stays taken.", plural(*limit)),
            None,
        ),
        // The vendor's side is at fault (a template, signing, the ledger): nothing the
        // customer did, and nothing to tell them but to come back or ask.
        _ => r(
            "Your request could not be answered right now",
            "Something went wrong on our side; your file was not used up and can be given again.".to_string(),
            Some("Try again later"),
        ),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Nothing was chosen or pasted.
pub(crate) fn nothing_given() -> Refusal {
    Refusal {
        headline: "Nothing was given".to_string(),
        explain:
            "Choose the file your software made, or paste its text, before pressing the button."
                .to_string(),
        next: Some("Go back and try again".to_string()),
        details: "empty form".to_string(),
    }
}

/// The form itself could not be read (too large, not a form).
pub(crate) fn unreadable_form(why: &str) -> Refusal {
    Refusal {
        headline: "The form could not be read".to_string(),
        explain: "What was sent is not what this page's form sends (or it is far larger than an activation file).".to_string(),
        next: Some("Go back and give the file again".to_string()),
        details: why.to_string(),
    }
}

/// The form is larger than the service reads.
pub(crate) fn too_large() -> Refusal {
    Refusal {
        headline: "The file is too large".to_string(),
        explain: "An activation request or a deactivation proof is a few hundred bytes; what was sent is far more.".to_string(),
        next: Some("Check that you chose the file your software made for this".to_string()),
        details: "too_large".to_string(),
    }
}

/// The download button was given something other than an activation response.
pub(crate) fn not_a_response() -> Refusal {
    Refusal {
        headline: "This is not an activation response".to_string(),
        explain: "The download gives back the response this portal made; the text sent is not one."
            .to_string(),
        next: Some(
            "Go back to the response page and press the button again, or copy the text".to_string(),
        ),
        details: "not an activation response".to_string(),
    }
}

/// A failure that is not a refusal of the customer's file: a rate limit, a busy or
/// stopping service. Told in the service's words, with when to retry.
pub(crate) fn unavailable(problem: &crate::problem::Problem) -> Refusal {
    let (headline, explain) = match problem.status.as_u16() {
        429 => (
            "Too many requests",
            "Too many requests came from your address or for this product key in a short time.",
        ),
        413 => (
            "The file is too large",
            "An activation request or a deactivation proof is a few hundred bytes; this is far more.",
        ),
        503 => (
            "The service is busy",
            "The service could not take your request right now; your file was not used up.",
        ),
        _ => (
            "Your request could not be answered right now",
            "Something went wrong on our side; your file was not used up and can be given again.",
        ),
    };
    let next = match problem.retry_after {
        Some(s) => format!("Try again in {s} second{}", plural(s)),
        None => "Try again later".to_string(),
    };
    Refusal {
        headline: headline.to_string(),
        explain: explain.to_string(),
        next: Some(next),
        details: format!("{} ({}): {}", problem.error, problem.code, problem.detail),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use airseal_vendor::activate::DataKeyProblem;

    /// One error of every class a customer's file can be refused with.
    fn customer_errors() -> Vec<ActivationError> {
        let p = || "photo-pro".to_string();
        let k = || "K3Y".to_string();
        let l = || "LIC".to_string();
        vec![
            ActivationError::BadRequest(airseal_verify::Error::BadSignature),
            ActivationError::BadProof(airseal_verify::Error::WrongType { found: "x".into() }),
            ActivationError::UnknownProduct { product: p() },
            ActivationError::UnknownKey {
                product: p(),
                key: k(),
            },
            ActivationError::KeyTypo {
                product: p(),
                key: k(),
            },
            ActivationError::AmbiguousKey {
                product: p(),
                entered: k(),
                keys: vec![k(), k()],
            },
            ActivationError::KeyBlocked {
                product: p(),
                key: k(),
            },
            ActivationError::KeyRevoked {
                product: p(),
                key: k(),
            },
            ActivationError::LicenseRevoked { license_id: l() },
            ActivationError::KeyExpired {
                key: k(),
                at: 1_800_000_000,
            },
            ActivationError::DataKey {
                product: p(),
                key: k(),
                problem: DataKeyProblem::BadMac,
            },
            ActivationError::LicenseExpired {
                license_id: l(),
                at: 1_800_000_000,
            },
            ActivationError::NoSeatsLeft {
                key: k(),
                used: 2,
                limit: 2,
            },
            ActivationError::OtherMachine {
                key: k(),
                license_id: l(),
                matched: 1,
                threshold: 2,
                used: 2,
                limit: 2,
            },
            ActivationError::TrialsNotOffered { product: p() },
            ActivationError::TrialUsed {
                product: p(),
                at: 1_800_000_000,
                license_id: l(),
            },
            ActivationError::TermEnded {
                key: k(),
                started: 1_700_000_000,
                ended: 1_800_000_000,
            },
            ActivationError::BelowMinComponents { given: 1, min: 3 },
            ActivationError::TooFewComponents {
                given: 1,
                required: 2,
            },
            ActivationError::ProofReplayed {
                license_id: l(),
                accepted_at: 1_800_000_000,
            },
            ActivationError::UnknownActivation {
                product: p(),
                license_id: l(),
                reason: "x",
            },
            ActivationError::AlreadyDeactivated {
                license_id: l(),
                at: 1_800_000_000,
            },
            ActivationError::DeactivationLimit {
                license_id: l(),
                used: 3,
                limit: 3,
            },
        ]
    }

    #[test]
    fn every_refusal_of_a_customer_file_has_its_own_words() {
        let generic = refusal(&ActivationError::NoTemplate {
            product: "p".into(),
            key: "k".into(),
        });
        assert!(generic.headline.contains("right now"));
        for e in customer_errors() {
            let r = refusal(&e);
            assert_ne!(
                r.headline, generic.headline,
                "{e:?} is told as a failure of ours"
            );
            assert!(
                !r.explain.is_empty() && r.explain.ends_with('.'),
                "{e:?}: {r:?}"
            );
            if let Some(next) = &r.next {
                // The page ends the sentence with ", or contact …".
                assert!(!next.ends_with('.'), "{e:?}: {next}");
            }
        }
    }

    #[test]
    fn the_seat_refusal_says_what_to_do() {
        let r = refusal(&ActivationError::NoSeatsLeft {
            key: "K3Y".into(),
            used: 1,
            limit: 1,
        });
        assert_eq!(r.headline, "This key has no free seat");
        assert!(
            r.explain.contains("1 machine at a time, and 1 already is"),
            "{}",
            r.explain
        );
        assert!(r.next.unwrap().starts_with("Release it on the old machine"));
        // Dates are days, as customers read them.
        let r = refusal(&ActivationError::KeyExpired {
            key: "K".into(),
            at: 1_800_000_000,
        });
        assert!(r.explain.contains("2027-01-15."), "{}", r.explain);
    }
}
