//! The license lifecycle as a state machine (`SPEC.md` §17): random sequences of vendor and
//! customer operations, driven through the library exactly as the CLI and a backend drive
//! it, checked after every step against a small reference model of what must hold.
//!
//! The system under test is a real vendor (ledger, signing key, `airseal.toml`) and four
//! simulated customer machines, each a real app data folder (`airseal_verify::app::device`)
//! with its own fingerprint. Customers do what a customer who wants more than they paid for
//! would: copy a device key onto another machine, clone a whole machine, keep a backup of
//! the license file and restore it after giving the seat back, type keys with dashes or in
//! lower case, craft requests with repeated components. The vendor revokes, suspends,
//! extends and renews, and the clock moves on.
//!
//! The model is the lifecycle as written down: a seat belongs to a machine (device key and
//! components), a subscription's term is anchored at its first activation, revocation
//! covers every spelling of a key, a license given back never verifies again on a machine
//! that has the vendor's newest list. After every step the test checks:
//!
//! * every activation, deactivation and refusal is the one the model predicts;
//! * seats in use, per key, are the model's and never above the key's limit;
//! * a machine's installed license verifies exactly when the model grants that machine a
//!   live, unrevoked, unexpired seat — a machine that verifies without one is a customer
//!   getting more than they paid for, one that fails with one is a customer let down;
//! * a license the model says is revoked is refused under the newest list, whatever key
//!   spelling it carries;
//! * no license ends later than its key's term.
//!
//! `cargo test` runs a bounded number of cases (`AIRSEAL_MODEL_CASES`, default below); CI
//! runs more. A failure prints the shrunk sequence of operations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use airseal_core::activation::{ActivationRequest, Purpose};
use airseal_core::cose::ObjectType;
use airseal_core::productkey::{DEFAULT_PATTERN, Pattern};
use airseal_core::revocation::RevocationList;
use airseal_vendor::activate;
use airseal_vendor::import::{self, ImportOptions, Preset};
use airseal_vendor::issue::{Issuer, LicenseSpec};
use airseal_vendor::keys::ops::{self, KeyUpdate, TermChange};
use airseal_vendor::keys::{KeyGenerator, KeyKind, seeded_rng};
use airseal_vendor::ledger::{ActivationFilter, Ledger, RevokeTarget, UndoTarget};
use airseal_vendor::renew::{self, RenewOptions};
use airseal_vendor::vendor_dir::{Config, VendorDir};
use airseal_verify::app::device::Device;
use airseal_verify::app::fingerprint::{ComponentKind, Fingerprint};
use airseal_verify::{Expected, TrustStore};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError};

const T0: i64 = 1_780_000_000; // 2026-05-28
const DAY: i64 = 86_400;
/// The subscription template's term.
const TERM_DAYS: i64 = 30;
/// The trial template's term.
const TRIAL_DAYS: i64 = 14;
const MACHINES: usize = 4;

const CONFIG: &str = r#"
vendor = "acme"

[products.photo-pro]
activation_template = "sub"
trial_template = "trial"

[products.photo-pro.templates.sub]
kind = "subscription"
days = 30
max_activations = 2

[products.photo-pro.templates.trial]
days = 14

[products.bare]
"#;

/// Two imported keys, kept verbatim: a separator-and-case-insensitive lookup finds them,
/// and their licenses carry them as stored.
const IMPORT: &str = "\"Key ID\",\"Product Key\",\"Email\",\"Status\",\"Expires On\",\"Total Activations\",\"Used Activations\",\"Total Deactivations\",\"Used Deactivations\",\"Creation Date\",\"Custom Fields\"
\"1\",\"PROMO-GOLD-0042\",\"a@example.com\",\"Active\",\"\",\"1\",\"0\",\"1000\",\"0\",\"01/15/2024\",\"\"
\"2\",\"KG/KEY,1\",\"b@example.com\",\"Active\",\"\",\"2\",\"0\",\"1000\",\"0\",\"01/15/2024\",\"\"
";

// ---------------------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------------------

/// What the model knows of a key.
#[derive(Clone, Debug)]
struct MKey {
    product: &'static str,
    /// How a customer or the vendor may type it (index 0 is as stored).
    spellings: Vec<String>,
    /// Seats allowed.
    limit: usize,
    /// `Some(days)` for a subscription, anchored at its first activation.
    term_days: Option<i64>,
    anchor: Option<i64>,
    revoked: bool,
    suspended: bool,
}

impl MKey {
    fn term_end(&self) -> Option<i64> {
        Some(self.anchor? + self.term_days? * DAY)
    }
}

/// A machine is who it is by its device key and its components (`SPEC.md` §17.2).
type Identity = (usize, usize);

/// A seat or a trial the model has granted.
#[derive(Clone, Debug)]
struct MSeat {
    /// `None` for a trial.
    key: Option<usize>,
    identity: Identity,
    live: bool,
    revoked: bool,
    /// When its newest response ends.
    expires: Option<i64>,
    /// How many times it was answered again (a renewal reaches only the newest answer).
    generation: u64,
    /// How many documents were signed for it (answers and renewals), each issued later.
    version: u64,
}

/// A license issued with `airseal issue`, not bound to a machine.
#[derive(Clone, Debug)]
struct MDirect {
    key: usize,
    revoked: bool,
}

#[derive(Clone, Debug)]
struct MMachine {
    /// The device key this machine's folder holds (ids are the model's), if any yet.
    device: Option<usize>,
    /// Its component set (ids are the model's: machines start with their own).
    components: usize,
    /// The seat whose license file is installed.
    installed: Option<usize>,
    /// Which of its seat's documents that file is (answer, version), and when it ends.
    installed_as: Held,
    /// The seat whose license file the customer copied aside.
    backup: Option<usize>,
    backup_as: Held,
    /// The newest version of each seat's documents this folder has installed: its
    /// `device.state` refuses an older one put back (`SPEC.md` §15.5).
    newest: Vec<(usize, u64)>,
    /// The device key that signed the release proof this folder keeps (`release.proof`).
    release_proof_by: Option<usize>,
    /// Whether the folder holds a request not yet answered by an installed response.
    pending: bool,
}

/// Which document of a seat a file is: the answer (`generation`), the document (`version`)
/// and when it ends.
#[derive(Clone, Copy, Debug, Default)]
struct Held {
    generation: u64,
    version: u64,
    expires: Option<i64>,
}

impl MMachine {
    fn newest(&self, seat: usize) -> u64 {
        self.newest
            .iter()
            .find(|(s, _)| *s == seat)
            .map_or(0, |(_, v)| *v)
    }

    fn saw(&mut self, seat: usize, version: u64) {
        match self.newest.iter_mut().find(|(s, _)| *s == seat) {
            Some(entry) => entry.1 = entry.1.max(version),
            None => self.newest.push((seat, version)),
        }
    }
}

impl MMachine {
    fn identity(&self) -> Option<Identity> {
        Some((self.device?, self.components))
    }
}

#[derive(Clone, Debug)]
struct Model {
    now: i64,
    keys: Vec<MKey>,
    seats: Vec<MSeat>,
    direct: Vec<MDirect>,
    machines: Vec<MMachine>,
    next_device: usize,
    /// Component sets one of whose components got a trial alone.
    thin_trials: Vec<usize>,
    /// The outcome the system must show for the last transition.
    expect: Outcome,
}

/// What the last transition must have done.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// Nothing to compare (the transition has no result of its own).
    Nothing,
    /// Refused.
    Refused,
    /// A new seat (or trial).
    NewSeat,
    /// The machine's existing seat (or trial), answered again.
    SameSeat,
    /// Accepted.
    Done,
}

#[derive(Clone, Debug)]
enum Op {
    /// The clock moves on.
    Advance { days: i64 },
    /// A machine asks for a seat of a key, typed one way or another, and installs the answer.
    Activate {
        machine: usize,
        key: usize,
        spelling: usize,
    },
    /// A machine asks for the trial.
    Trial { machine: usize },
    /// A machine gives its seat back: the app writes a proof, the vendor accepts it.
    Release { machine: usize },
    /// The customer copies the installed license file aside.
    Backup { machine: usize },
    /// … and puts it back.
    Restore { machine: usize },
    /// The customer copies one machine's device key onto another (which has no license).
    CopyDeviceKey { from: usize, to: usize },
    /// The customer clones a whole machine (a VM copy: same components, same files).
    Clone { from: usize, to: usize },
    /// A request whose components repeat one hash, from a fresh device key.
    Duplicates { machine: usize, key: Option<usize> },
    /// A trial request with one of a machine's components alone, from a fresh device key.
    Thin { machine: usize },
    /// The vendor revokes a key, typed one way or another.
    RevokeKey { key: usize, spelling: usize },
    /// The vendor revokes the license installed on a machine.
    RevokeLicense { machine: usize },
    /// The vendor signs a license for a key with `airseal issue`, the key typed as given.
    Issue { key: usize, spelling: usize },
    /// The vendor takes a key's revocation back (`airseal revoke --undo`).
    RevokeUndo { key: usize },
    /// The vendor blocks a key (`airseal keys suspend`).
    Suspend { key: usize },
    /// … and unblocks it (`airseal keys reinstate`).
    Reinstate { key: usize },
    /// The vendor extends a key's term (`airseal keys update --extend DAYS`).
    Extend { key: usize, days: u32 },
    /// The vendor renews a key's seats offline (`airseal renew`); every machine holding
    /// one of its seats installs its update.
    Renew { key: usize },
}

impl Model {
    fn initial(generated: [String; 2]) -> Self {
        let pattern = Pattern::parse(DEFAULT_PATTERN).unwrap();
        let generated_key = |canonical: &String| MKey {
            product: "photo-pro",
            spellings: vec![
                canonical.clone(),
                pattern.display(canonical),
                pattern.display(canonical).to_lowercase(),
            ],
            limit: 2,
            term_days: Some(TERM_DAYS),
            anchor: None,
            revoked: false,
            suspended: false,
        };
        let imported = |spellings: &[&str], limit| MKey {
            product: "bare",
            spellings: spellings.iter().map(|s| (*s).to_string()).collect(),
            limit,
            term_days: None,
            anchor: None,
            revoked: false,
            suspended: false,
        };
        Model {
            now: T0,
            keys: vec![
                generated_key(&generated[0]),
                generated_key(&generated[1]),
                imported(&["PROMO-GOLD-0042", "promo gold 0042", "PROMOGOLD0042"], 1),
                imported(&["KG/KEY,1", "kg/key,1"], 2),
            ],
            seats: Vec::new(),
            direct: Vec::new(),
            machines: (0..MACHINES)
                .map(|i| MMachine {
                    device: None,
                    components: i,
                    installed: None,
                    installed_as: Held::default(),
                    backup: None,
                    backup_as: Held::default(),
                    newest: Vec::new(),
                    release_proof_by: None,
                    pending: false,
                })
                .collect(),
            next_device: 0,
            thin_trials: Vec::new(),
            expect: Outcome::Nothing,
        }
    }

    fn live_seats(&self, key: usize) -> usize {
        self.seats
            .iter()
            .filter(|s| s.live && s.key == Some(key))
            .count()
    }

    /// Does this machine's installed license deserve to verify now?
    fn machine_is_licensed(&self, m: usize) -> bool {
        let machine = &self.machines[m];
        let Some(s) = machine.installed else {
            return false;
        };
        let seat = &self.seats[s];
        seat.live
            && !seat.revoked
            && seat.key.is_none_or(|k| !self.keys[k].revoked)
            && Some(seat.identity) == machine.identity()
            && machine.installed_as.expires.is_none_or(|at| self.now < at)
            && machine.installed_as.version >= machine.newest(s)
    }

    fn device_for(&mut self, m: usize) -> usize {
        match self.machines[m].device {
            Some(d) => d,
            None => {
                let d = self.next_device;
                self.next_device += 1;
                self.machines[m].device = Some(d);
                d
            }
        }
    }

    /// The app finishes a release left half-done when nothing needs the key any more
    /// (`Device::finish_release`): no license installed and a kept release proof signed by
    /// the current key — as when the customer copies back the very key the folder gave
    /// back. Checked before every request (a pending one is dropped then) and whenever the
    /// app verifies with nothing installed (only when no request is pending).
    fn finish_release(&mut self, m: usize, dropping_pending: bool) {
        let machine = &self.machines[m];
        if machine.installed.is_none()
            && (dropping_pending || !machine.pending)
            && machine.device.is_some()
            && machine.release_proof_by == machine.device
        {
            // Replacing the key drops the pending request, made with the old one.
            self.machines[m].pending = false;
            self.machines[m].device = Some(self.next_device);
            self.next_device += 1;
        }
    }

    /// A request from machine `m`: its outcome, and the request pending unless answered.
    fn request(&mut self, m: usize, answer: impl FnOnce(&mut Self) -> Outcome) -> Outcome {
        self.finish_release(m, true);
        let outcome = answer(self);
        self.machines[m].pending = outcome == Outcome::Refused;
        outcome
    }

    fn activate(&mut self, m: usize, k: usize) -> Outcome {
        let device = self.device_for(m);
        let identity = (device, self.machines[m].components);
        let key = &self.keys[k];
        if key.revoked || key.suspended || key.term_end().is_some_and(|end| self.now >= end) {
            return Outcome::Refused;
        }
        if let Some(s) = self
            .seats
            .iter()
            .position(|s| s.live && s.key == Some(k) && s.identity == identity)
        {
            // A re-issue is the seat's newest document again (`SPEC.md` §17.2): it keeps
            // its end, so an ended one is refused (an extension reaches the machines
            // through a renewal).
            let seat = &self.seats[s];
            if seat.revoked || seat.expires.is_some_and(|at| self.now >= at) {
                return Outcome::Refused;
            }
            self.install(m, s, true);
            return Outcome::SameSeat;
        }
        if self.live_seats(k) >= key.limit {
            return Outcome::Refused;
        }
        let anchor = *self.keys[k].anchor.get_or_insert(self.now);
        let expires = self.keys[k].term_days.map(|d| anchor + d * DAY);
        self.seats.push(MSeat {
            key: Some(k),
            identity,
            live: true,
            revoked: false,
            expires,
            generation: 0,
            version: 0,
        });
        let s = self.seats.len() - 1;
        self.install(m, s, false);
        Outcome::NewSeat
    }

    fn trial(&mut self, m: usize) -> Outcome {
        let device = self.device_for(m);
        let identity = (device, self.machines[m].components);
        if let Some(s) = self
            .seats
            .iter()
            .position(|s| s.live && s.key.is_none() && s.identity == identity)
        {
            if self.seats[s].revoked || self.seats[s].expires.is_some_and(|at| self.now >= at) {
                return Outcome::Refused;
            }
            self.install(m, s, true);
            return Outcome::SameSeat;
        }
        // Once per machine: the same device key, or the same components, had it.
        if self.had_trial(Some(device), identity.1) {
            return Outcome::Refused;
        }
        self.seats.push(MSeat {
            key: None,
            identity,
            live: true,
            revoked: false,
            expires: Some(self.now + TRIAL_DAYS * DAY),
            generation: 0,
            version: 0,
        });
        let s = self.seats.len() - 1;
        self.install(m, s, false);
        Outcome::NewSeat
    }

    /// Whether a trial was had by this device key or by this component set (in full, or
    /// one of its components alone).
    fn had_trial(&self, device: Option<usize>, set: usize) -> bool {
        self.thin_trials.contains(&set)
            || self
                .seats
                .iter()
                .any(|s| s.key.is_none() && (Some(s.identity.0) == device || s.identity.1 == set))
    }

    /// Machine `m` installs seat `s`'s newest answer (`again`: a new answer to an old seat).
    fn install(&mut self, m: usize, s: usize, again: bool) {
        if again {
            self.seats[s].generation += 1;
            self.seats[s].version += 1;
        }
        let seat = &self.seats[s];
        let machine = &mut self.machines[m];
        machine.installed = Some(s);
        machine.installed_as = Held {
            generation: seat.generation,
            version: seat.version,
            expires: seat.expires,
        };
        machine.saw(s, seat.version);
    }

    fn release(&mut self, m: usize) -> Outcome {
        let Some(s) = self.machines[m].installed else {
            return Outcome::Nothing;
        };
        // The app gives back only a license bound to the device key it has now (one bound
        // to another key stays installed, refused); the vendor frees the seat only for the
        // device key it is bound to.
        if self.machines[m].device != Some(self.seats[s].identity.0) {
            return Outcome::Refused;
        }
        // Once the proof is signed, the app replaces its device key (`SPEC.md` §15.5): the
        // machine is a new device from now on, whatever the vendor does with the proof.
        self.machines[m].installed = None;
        self.machines[m].release_proof_by = self.machines[m].device;
        self.machines[m].pending = false;
        self.machines[m].device = Some(self.next_device);
        self.next_device += 1;
        if !self.seats[s].live {
            return Outcome::Refused;
        }
        self.seats[s].live = false;
        // A deactivated license goes to the revocation list (finding 16).
        self.seats[s].revoked = true;
        Outcome::Done
    }
}

/// Spellings per key, as [`Model::initial`] lists them.
const SPELLINGS: [usize; 4] = [3, 3, 3, 2];

fn op() -> impl Strategy<Value = Op> {
    let m = 0..MACHINES;
    let key_and_spelling = (0..SPELLINGS.len()).prop_flat_map(|k| (Just(k), 0..SPELLINGS[k]));
    prop_oneof![
        2 => (1i64..=40).prop_map(|days| Op::Advance { days }),
        6 => (m.clone(), key_and_spelling.clone())
            .prop_map(|(machine, (key, spelling))| Op::Activate { machine, key, spelling }),
        2 => m.clone().prop_map(|machine| Op::Trial { machine }),
        3 => m.clone().prop_map(|machine| Op::Release { machine }),
        1 => m.clone().prop_map(|machine| Op::Backup { machine }),
        2 => m.clone().prop_map(|machine| Op::Restore { machine }),
        1 => (m.clone(), m.clone()).prop_map(|(from, to)| Op::CopyDeviceKey { from, to }),
        1 => (m.clone(), m.clone()).prop_map(|(from, to)| Op::Clone { from, to }),
        1 => (m.clone(), proptest::option::of(0..SPELLINGS.len()))
            .prop_map(|(machine, key)| Op::Duplicates { machine, key }),
        1 => m.clone().prop_map(|machine| Op::Thin { machine }),
        1 => key_and_spelling.clone()
            .prop_map(|(key, spelling)| Op::RevokeKey { key, spelling }),
        1 => m.clone().prop_map(|machine| Op::RevokeLicense { machine }),
        2 => key_and_spelling.prop_map(|(key, spelling)| Op::Issue { key, spelling }),
        1 => (0..SPELLINGS.len()).prop_map(|key| Op::RevokeUndo { key }),
        1 => (0..SPELLINGS.len()).prop_map(|key| Op::Suspend { key }),
        1 => (0..SPELLINGS.len()).prop_map(|key| Op::Reinstate { key }),
        1 => (0..SPELLINGS.len(), 1u32..=60).prop_map(|(key, days)| Op::Extend { key, days }),
        2 => (0..SPELLINGS.len()).prop_map(|key| Op::Renew { key }),
    ]
}

/// The two generated keys, the same in the model and the system (a fixed seed).
fn generated_keys() -> [String; 2] {
    let mut generator =
        KeyGenerator::random(Pattern::parse(DEFAULT_PATTERN).unwrap(), 0, seeded_rng(13)).unwrap();
    [generator.next_key(), generator.next_key()]
}

impl Model {
    /// Whether `op` makes sense now (a sequence shrunk by proptest may hold one that no
    /// longer does: it is skipped, by the model and the system alike).
    fn allows(&self, op: &Op) -> bool {
        let state = self;
        match op {
            Op::CopyDeviceKey { from, to } => {
                from != to
                    && state.machines[*from].device.is_some()
                    && state.machines[*to].installed.is_none()
            }
            Op::Clone { from, to } => from != to,
            _ => true,
        }
    }

    /// The model after `op`, with the outcome the system must show in `expect`.
    fn apply(mut state: Model, op: &Op) -> Model {
        state.expect = match *op {
            Op::Advance { days } => {
                state.now += days * DAY;
                Outcome::Nothing
            }
            Op::Activate { machine, key, .. } => {
                state.request(machine, |state| state.activate(machine, key))
            }
            Op::Trial { machine } => state.request(machine, |state| state.trial(machine)),
            Op::Release { machine } => state.release(machine),
            Op::Backup { machine } => {
                state.machines[machine].backup = state.machines[machine].installed;
                state.machines[machine].backup_as = state.machines[machine].installed_as;
                Outcome::Nothing
            }
            Op::Restore { machine } => {
                if state.machines[machine].backup.is_some() {
                    state.machines[machine].installed = state.machines[machine].backup;
                    state.machines[machine].installed_as = state.machines[machine].backup_as;
                }
                Outcome::Nothing
            }
            Op::CopyDeviceKey { from, to } => {
                // The device state goes with the key (see `step`).
                state.machines[to].device = state.machines[from].device;
                state.machines[to].newest = state.machines[from].newest.clone();
                Outcome::Nothing
            }
            Op::Clone { from, to } => {
                state.machines[to] = state.machines[from].clone();
                Outcome::Nothing
            }
            Op::Duplicates { .. } => Outcome::Refused,
            Op::Thin { machine } => {
                // One component of a machine is that machine: a trial only if it never had
                // one (and then it has).
                let set = state.machines[machine].components;
                if state.had_trial(None, set) {
                    Outcome::Refused
                } else {
                    state.thin_trials.push(set);
                    Outcome::Done
                }
            }
            Op::RevokeKey { key, .. } => {
                state.keys[key].revoked = true;
                for d in state.direct.iter_mut().filter(|d| d.key == key) {
                    d.revoked = true;
                }
                Outcome::Done
            }
            Op::RevokeLicense { machine } => match state.machines[machine].installed {
                Some(s) => {
                    state.seats[s].revoked = true;
                    Outcome::Done
                }
                None => Outcome::Nothing,
            },
            Op::Issue { key, .. } => {
                if state.keys[key].revoked || state.keys[key].suspended {
                    Outcome::Refused
                } else {
                    state.direct.push(MDirect {
                        key,
                        revoked: false,
                    });
                    Outcome::Done
                }
            }
            Op::RevokeUndo { key } => {
                if state.keys[key].revoked {
                    state.keys[key].revoked = false;
                    for d in state.direct.iter_mut().filter(|d| d.key == key) {
                        d.revoked = false;
                    }
                    Outcome::Done
                } else {
                    Outcome::Refused
                }
            }
            Op::Suspend { key } => {
                if state.keys[key].revoked {
                    Outcome::Refused
                } else {
                    state.keys[key].suspended = true;
                    Outcome::Done
                }
            }
            Op::Reinstate { key } => {
                if state.keys[key].revoked {
                    Outcome::Refused
                } else {
                    state.keys[key].suspended = false;
                    Outcome::Done
                }
            }
            Op::Extend { key, days } => match state.keys[key].term_days {
                Some(d) if !state.keys[key].revoked => {
                    state.keys[key].term_days = Some(d + i64::from(days));
                    Outcome::Done
                }
                // A revoked key is final; a key whose licenses never end has no end to move.
                _ => Outcome::Refused,
            },
            Op::Renew { key } => state.renew(key),
        };
        // `check` then verifies every machine.
        for m in 0..state.machines.len() {
            state.finish_release(m, false);
        }
        state
    }

    /// Live seats of a renewed key end with its term now; machines install their update.
    fn renew(&mut self, k: usize) -> Outcome {
        let key = &self.keys[k];
        let ended = key.term_end().is_some_and(|end| self.now >= end);
        if key.revoked || key.suspended || ended || self.live_seats(k) == 0 {
            return Outcome::Refused;
        }
        let end = key.term_end();
        for (s, seat) in self.seats.iter_mut().enumerate() {
            if !(seat.live && seat.key == Some(k)) {
                continue;
            }
            seat.expires = end;
            seat.version += 1;
            // The update echoes the seat's newest answer: only a machine holding that one
            // can install it (a clone that asked earlier keeps what it has).
            for machine in &mut self.machines {
                let held = &mut machine.installed_as;
                if machine.installed == Some(s) && held.generation == seat.generation {
                    held.version = seat.version;
                    held.expires = end;
                    machine.saw(s, seat.version);
                }
            }
        }
        Outcome::Done
    }
}

// ---------------------------------------------------------------------------------------
// The system under test
// ---------------------------------------------------------------------------------------

struct Machine {
    dir: PathBuf,
    components: usize,
}

impl Machine {
    fn device(&self) -> Device {
        Device::open(&self.dir)
    }

    fn fingerprint(&self) -> Fingerprint {
        fingerprint(self.components)
    }
}

/// Three components per set, none shared between sets.
fn fingerprint(set: usize) -> Fingerprint {
    Fingerprint::new()
        .with(ComponentKind::Custom("host".into()), &format!("host-{set}"))
        .with(ComponentKind::Custom("disk".into()), &format!("disk-{set}"))
        .with(
            ComponentKind::Custom("board".into()),
            &format!("board-{set}"),
        )
}

struct System {
    _dir: tempfile::TempDir,
    vendor: VendorDir,
    ledger: Ledger,
    issuer: Issuer,
    config: Config,
    trust: TrustStore,
    machines: Vec<Machine>,
    /// License files issued with `airseal issue`, in the model's order.
    direct: Vec<(&'static str, Vec<u8>)>,
    /// A counter for crafted device keys.
    crafted: u8,
}

fn scratch() -> tempfile::TempDir {
    // A RAM disk when there is one: thousands of small ledgers, each fsynced.
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().unwrap()
}

impl System {
    fn new(model: &Model) -> Self {
        let dir = scratch();
        let root = dir.path().join("vendor");
        VendorDir::init(&root, "acme", false).unwrap();
        std::fs::write(root.join("airseal.toml"), CONFIG).unwrap();
        let vendor = VendorDir::open(&root).unwrap();
        let mut ledger = vendor.open_ledger().unwrap();
        let params = serde_json::json!({"template": "sub", "pattern": DEFAULT_PATTERN});
        let mut batch = ledger
            .batches()
            .begin("photo-pro", KeyKind::Random.into(), 2, None, &params)
            .unwrap();
        for key in &model.keys[..2] {
            assert!(batch.insert_key(&key.spellings[0]).unwrap());
        }
        batch.commit().unwrap();
        let opts = ImportOptions {
            preset: Preset::CryptlexV2,
            product: "bare".into(),
            maps: Vec::new(),
            template: None,
            skgl_secret: None,
            update: false,
            dry_run: false,
            file: "cryptlex.csv".into(),
        };
        let report = import::import(&mut ledger, IMPORT.as_bytes(), &opts).unwrap();
        assert_eq!((report.imported, report.rejected), (2, 0), "{report:#?}");
        let issuer = Issuer::new(SigningKey::from_bytes(&[7; 32]));
        let mut trust = TrustStore::new();
        trust.add_key(&issuer.public_key()).unwrap();
        let machines = (0..MACHINES)
            .map(|i| Machine {
                dir: dir.path().join(format!("machine-{i}")),
                components: i,
            })
            .collect();
        System {
            config: vendor.config().clone(),
            vendor,
            ledger,
            issuer,
            trust,
            machines,
            direct: Vec::new(),
            crafted: 0,
            _dir: dir,
        }
    }

    /// A request from machine `m`, answered by the vendor and installed by the app.
    fn activate(&mut self, m: usize, product: &str, key: Option<&str>, now: i64) -> Outcome {
        let machine = &self.machines[m];
        let device = machine.device();
        let request = device
            .create_request(product, key, &machine.fingerprint(), None, &[], now)
            .unwrap();
        let answer =
            activate::answer_request(&mut self.ledger, &self.issuer, &self.config, &request, now);
        let response = match answer {
            Ok(r) => r,
            Err(_) => return Outcome::Refused,
        };
        device
            .install(response.armored().as_bytes(), &self.trust, now)
            .unwrap_or_else(|e| panic!("the machine could not install its response: {e}"));
        if response.reissued {
            Outcome::SameSeat
        } else {
            Outcome::NewSeat
        }
    }

    /// The newest revocation list, as the vendor would export it now.
    fn revocations(&mut self, now: i64) -> RevocationList {
        let (_, bytes) =
            airseal_vendor::revoke::export(&mut self.ledger, &self.issuer, now).unwrap();
        self.trust.verify_revocations(&bytes).unwrap()
    }

    /// `airseal revoke --key TYPED`.
    fn revoke_key(&mut self, typed: &str, now: i64) -> Outcome {
        let target = RevokeTarget::Key {
            key: typed.to_string(),
            product: None,
        };
        outcome(
            self.ledger
                .revocations()
                .revoke(&target, Some("model"), now),
        )
    }

    /// `airseal revoke --license ID`.
    fn revoke_license(&mut self, license_id: &str, now: i64) -> Outcome {
        let target = RevokeTarget::License {
            id: license_id.to_string(),
            external: false,
        };
        outcome(
            self.ledger
                .revocations()
                .revoke(&target, Some("model"), now),
        )
    }

    /// `airseal revoke --undo --key TYPED`.
    fn undo_key(&mut self, typed: &str, now: i64) -> Outcome {
        let target = UndoTarget::Key {
            key: typed.to_string(),
            product: None,
        };
        outcome(self.ledger.revocations().undo(&target, Some("model"), now))
    }

    /// `airseal renew --key TYPED --out-dir …`, then every machine holding a renewed seat
    /// installs its update.
    fn renew(&mut self, typed: &str, now: i64) -> Outcome {
        let out = self._dir.path().join(format!("renewal-{now}"));
        let options = RenewOptions {
            key: typed,
            product: None,
            out_dir: &out,
            force: true,
        };
        let renewal =
            match renew::renew(&mut self.ledger, &self.issuer, &self.config, &options, now) {
                Ok(r) => r,
                Err(_) => return Outcome::Refused,
            };
        for seat in &renewal.renewed {
            for machine in &self.machines {
                let holds = installed_claims(machine).is_some_and(|c| {
                    c.license_id == seat.license_id && c.request_nonce == seat.claims.request_nonce
                });
                if holds {
                    machine
                        .device()
                        .install(&seat.bytes, &self.trust, now)
                        .unwrap_or_else(|e| panic!("a renewal was not installed: {e}"));
                }
            }
        }
        Outcome::Done
    }

    /// `airseal issue --product-key TYPED`, recorded.
    fn issue(&mut self, product: &'static str, typed: &str, now: i64) -> Outcome {
        let mut spec = LicenseSpec {
            product: Some(product.to_string()),
            product_key: Some(typed.to_string()),
            issuer: Some("acme".into()),
            ..LicenseSpec::default()
        };
        use airseal_vendor::issue::recorded::{RecordedError, check, issue_recorded};
        if check(&self.vendor, &self.ledger, &mut spec, now).is_err() {
            return Outcome::Refused;
        }
        let delivered = |_: &airseal_core::LicenseClaims, _: &[u8]| Ok::<(), RecordedError>(());
        match issue_recorded(
            &self.issuer,
            &spec,
            now,
            Some(&mut self.ledger),
            &serde_json::json!({}),
            delivered,
        ) {
            Ok((_, bytes)) => {
                self.direct.push((product, bytes));
                Outcome::Done
            }
            Err(_) => Outcome::Refused,
        }
    }

    /// A request whose components repeat the machine's first hash, signed by a new device
    /// key (as a script would craft one, not through the app's folder).
    fn duplicates(&mut self, m: usize, product: &str, key: Option<&str>, now: i64) -> Outcome {
        let hashes = self.machines[m].fingerprint().hashes(product);
        self.crafted(product, key, vec![hashes[0], hashes[0], hashes[1]], now)
    }

    /// A trial request with machine `m`'s first component alone, from a new device key.
    fn thin(&mut self, m: usize, now: i64) -> Outcome {
        let hashes = self.machines[m].fingerprint().hashes("photo-pro");
        self.crafted("photo-pro", None, vec![hashes[0]], now)
    }

    /// A request with these component hashes, signed by a new device key (as a script
    /// would craft one, not through the app's folder).
    fn crafted(
        &mut self,
        product: &str,
        key: Option<&str>,
        components: Vec<[u8; 8]>,
        now: i64,
    ) -> Outcome {
        self.crafted = self.crafted.wrapping_add(1);
        let device = Issuer::new(SigningKey::from_bytes(&[self.crafted; 32]));
        let mut request = ActivationRequest {
            product: product.into(),
            product_key: key.map(str::to_string),
            components,
            device_key: device.public_key(),
            nonce: [self.crafted; 16],
            created: now,
            app_version: None,
            purpose: if key.is_some() {
                Purpose::Activation
            } else {
                Purpose::Trial
            },
            meters: Vec::new(),
        };
        request.normalize();
        let bytes = device.sign(ObjectType::ActivationRequest, &request.encode());
        match activate::answer_request(&mut self.ledger, &self.issuer, &self.config, &bytes, now) {
            Ok(_) => Outcome::Done,
            Err(_) => Outcome::Refused,
        }
    }
}

/// A library result as the model's outcome: accepted or refused.
fn outcome<T, E>(result: Result<T, E>) -> Outcome {
    if result.is_ok() {
        Outcome::Done
    } else {
        Outcome::Refused
    }
}

fn installed_claims(machine: &Machine) -> Option<airseal_core::LicenseClaims> {
    let bytes = machine.device().installed_license().unwrap()?;
    Some(airseal_core::LicenseClaims::read_unverified(&bytes).unwrap())
}

fn installed_license_id(machine: &Machine) -> Option<String> {
    installed_claims(machine).map(|c| c.license_id)
}

fn copy_if_present(from: &Path, to: &Path) {
    if from.exists() {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// Applies `op` to the system and compares its outcome with the one the model (already
/// advanced past `op`) predicts.
fn step(sys: &mut System, model: &Model, op: Op) -> Result<(), TestCaseError> {
    let now = model.now;
    let got = match op {
        Op::Advance { .. } => Outcome::Nothing,
        Op::Activate {
            machine,
            key,
            spelling,
        } => {
            let k = &model.keys[key];
            sys.activate(machine, k.product, Some(&k.spellings[spelling]), now)
        }
        Op::Trial { machine } => sys.activate(machine, "photo-pro", None, now),
        Op::Release { machine } => {
            let device = sys.machines[machine].device();
            if device.installed_license().unwrap().is_none() {
                Outcome::Nothing
            } else {
                match device.deactivate(now) {
                    Ok(proof) => match activate::deactivate(&mut sys.ledger, &proof, now) {
                        Ok(_) => Outcome::Done,
                        Err(_) => Outcome::Refused,
                    },
                    Err(_) => Outcome::Refused,
                }
            }
        }
        Op::Backup { machine } => {
            let dir = &sys.machines[machine].dir;
            let license = dir.join("license.lic");
            let backup = dir.with_extension("backup");
            let _ = std::fs::remove_file(&backup);
            copy_if_present(&license, &backup);
            Outcome::Nothing
        }
        Op::Restore { machine } => {
            let dir = &sys.machines[machine].dir;
            copy_if_present(&dir.with_extension("backup"), &dir.join("license.lic"));
            Outcome::Nothing
        }
        Op::CopyDeviceKey { from, to } => {
            // The device key, and the state authenticated with it (the target's own state
            // would no longer authenticate: the app refuses such a folder as damaged).
            for file in ["device.key", "device.state"] {
                let target = sys.machines[to].dir.join(file);
                let _ = std::fs::remove_file(&target);
                copy_if_present(&sys.machines[from].dir.join(file), &target);
            }
            Outcome::Nothing
        }
        Op::Clone { from, to } => {
            let (src, dst) = (sys.machines[from].dir.clone(), sys.machines[to].dir.clone());
            let _ = std::fs::remove_dir_all(&dst);
            if src.exists() {
                std::fs::create_dir_all(&dst).unwrap();
                for entry in std::fs::read_dir(&src).unwrap() {
                    let entry = entry.unwrap();
                    std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
                }
            }
            copy_if_present(&src.with_extension("backup"), &dst.with_extension("backup"));
            sys.machines[to].components = sys.machines[from].components;
            Outcome::Nothing
        }
        Op::Thin { machine } => sys.thin(machine, now),
        Op::Duplicates { machine, key } => {
            let (product, typed) = match key {
                Some(k) => (
                    model.keys[k].product,
                    Some(model.keys[k].spellings[0].as_str()),
                ),
                None => ("photo-pro", None),
            };
            sys.duplicates(machine, product, typed, now)
        }
        Op::RevokeKey { key, spelling } => {
            sys.revoke_key(&model.keys[key].spellings[spelling], now)
        }
        Op::RevokeLicense { machine } => match installed_license_id(&sys.machines[machine]) {
            Some(id) => sys.revoke_license(&id, now),
            None => Outcome::Nothing,
        },
        Op::RevokeUndo { key } => sys.undo_key(&model.keys[key].spellings[0], now),
        Op::Suspend { key } => outcome(ops::suspend(
            &sys.ledger,
            None,
            &model.keys[key].spellings[0],
            Some("model"),
        )),
        Op::Reinstate { key } => outcome(ops::reinstate(
            &sys.ledger,
            None,
            &model.keys[key].spellings[0],
        )),
        Op::Extend { key, days } => {
            let change = KeyUpdate {
                term: Some(TermChange::Extend(days)),
                ..KeyUpdate::default()
            };
            outcome(ops::update(
                &sys.ledger,
                &sys.config,
                None,
                &model.keys[key].spellings[0],
                &change,
                now,
            ))
        }
        Op::Renew { key } => sys.renew(&model.keys[key].spellings[0], now),
        Op::Issue { key, spelling } => {
            let k = &model.keys[key];
            sys.issue(k.product, &k.spellings[spelling], now)
        }
    };
    prop_assert_eq!(&got, &model.expect, "{:?} at day {}", op, (now - T0) / DAY);
    Ok(())
}

/// The checks after every step (exporting the newest list writes to the ledger, hence
/// `&mut`).
fn check(sys: &mut System, model: &Model) -> Result<(), TestCaseError> {
    let now = model.now;
    let list = sys.revocations(now);
    // Seats in use, per key: the model's, and never above the limit.
    let live = sys
        .ledger
        .seats()
        .list(&ActivationFilter::default())
        .unwrap();
    for (k, key) in model.keys.iter().enumerate() {
        let used = live
            .iter()
            .filter(|a| a.is_live() && a.key.as_deref() == Some(key.spellings[0].as_str()))
            .count();
        prop_assert_eq!(used, model.live_seats(k), "live seats of key {}", k);
        prop_assert!(
            used <= key.limit,
            "key {}: {} seats of {}",
            k,
            used,
            key.limit
        );
    }
    // Every machine verifies exactly when the model grants it a live seat.
    for (m, machine) in sys.machines.iter().enumerate() {
        let fingerprint = machine.fingerprint();
        for product in ["photo-pro", "bare"] {
            let expected = Expected::product(product).revocations(&list);
            let verdict =
                machine
                    .device()
                    .verify_installed(&sys.trust, now, &fingerprint, expected);
            let installed_for = model.machines[m].installed.map(|s| {
                model.seats[s]
                    .key
                    .map_or("photo-pro", |k| model.keys[k].product)
            });
            let should = installed_for == Some(product) && model.machine_is_licensed(m);
            prop_assert_eq!(
                verdict.is_ok(),
                should,
                "machine {}, product {}: verify gave {:?}, the model says {}",
                m,
                product,
                verdict.as_ref().map(|l| l.claims().license_id.clone()),
                if should { "licensed" } else { "not licensed" }
            );
            if let Ok(license) = verdict {
                // No term grows: a subscription ends at its anchor plus its days.
                if let Some(k) = model.machines[m].installed.and_then(|s| model.seats[s].key) {
                    if let Some(end) = model.keys[k].term_end() {
                        let exp = license.claims().expires_at.unwrap();
                        prop_assert!(
                            exp <= end,
                            "machine {}: expires {}, term ends {}",
                            m,
                            exp,
                            end
                        );
                    }
                }
            }
        }
    }
    // Licenses signed with `airseal issue`: refused exactly when revoked.
    for (i, (product, bytes)) in sys.direct.iter().enumerate() {
        let verdict = sys
            .trust
            .verify(bytes, now, &Expected::product(product).revocations(&list));
        prop_assert_eq!(
            verdict.is_ok(),
            !model.direct[i].revoked,
            "issued license {}: verify gave {:?}",
            i,
            verdict.as_ref().map(|l| l.claims().license_id.clone())
        );
    }
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut model = Model::initial(generated_keys());
    let mut sys = System::new(&model);
    check(&mut sys, &model)?;
    for op in ops {
        if !model.allows(&op) {
            continue;
        }
        model = Model::apply(model, &op);
        step(&mut sys, &model, op)?;
        check(&mut sys, &model)?;
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("AIRSEAL_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 4096,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// Random sequences of up to 24 operations keep every promise of the lifecycle.
    #[test]
    fn the_lifecycle_keeps_its_promises(ops in proptest::collection::vec(op(), 1..24)) {
        run(ops)?;
    }
}

/// Found by a long run: a machine releases a key, gets back (from a clone made earlier) the
/// very device key it gave back, and asks again. Its folder still keeps the release proof
/// signed by that key, so the app finishes the release first and asks with a fresh key: a
/// new seat, not the old one.
#[test]
fn a_released_key_copied_back_asks_as_a_new_device() {
    run(vec![
        Op::Activate {
            machine: 0,
            key: 0,
            spelling: 0,
        },
        Op::Activate {
            machine: 0,
            key: 1,
            spelling: 0,
        },
        Op::Clone { from: 0, to: 1 },
        Op::Release { machine: 0 },
        Op::CopyDeviceKey { from: 1, to: 0 },
        Op::Activate {
            machine: 0,
            key: 0,
            spelling: 0,
        },
    ])
    .unwrap();
}
