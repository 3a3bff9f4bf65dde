//! A vendor's own backend, with no CLI: everything `airseal` does to a vendor folder, done
//! through `airseal-vendor` (and, for the simulated customer machine, `airseal-verify`).
//!
//! It creates a vendor folder, generates a batch of product keys, imports a Keygen CSV
//! export, answers an activation request made by an app's data folder, installs and verifies
//! the response there, and exports a signed revocation list that the app loads. The test
//! `tests/example_backend.rs` runs it, so this file cannot rot.
//!
//! ```sh
//! cargo run -p airseal-vendor --example vendor_backend            # in a temporary folder
//! cargo run -p airseal-vendor --example vendor_backend -- DIR     # in DIR (must not exist)
//! ```
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::path::Path;

use airseal_core::armor::armor;
use airseal_core::cose::ObjectType;
use airseal_core::productkey::DEFAULT_PATTERN;
use airseal_vendor::batch::{self, BatchRequest, KeySource, OutputFormat};
use airseal_vendor::import::{self, ImportOptions, Preset};
use airseal_vendor::issue::Issuer;
use airseal_vendor::keyfile::{self, KdfParams};
use airseal_vendor::keys::{self, KeyGenerator};
use airseal_vendor::revoke::RevokeTarget;
use airseal_vendor::vendor_dir::VendorDir;
use airseal_vendor::{activate, revoke};
use airseal_verify::app::device::Device;
use airseal_verify::app::fingerprint::{ComponentKind, Fingerprint};
use airseal_verify::{Expected, TrustStore};

/// What the walk produced, for the test to check against the ledger and the files.
#[derive(Debug)]
pub struct Outcome {
    /// Keys the batch generated.
    pub generated: u64,
    /// Rows the import took in.
    pub imported: u64,
    /// The product key the simulated machine activated with.
    pub activated_key: String,
    /// The license id of the activation response.
    pub license_id: String,
    /// The sequence number of the exported revocation list.
    pub revocation_seq: u64,
}

/// The product and its activation template, as a vendor would write `airseal.toml`.
const CONFIG: &str = r#"
vendor = "acme"

[products.photo-pro]
activation_template = "pro"

[products.photo-pro.templates.pro]
kind = "subscription"
days = 365
features = ["F1"]
max_activations = 2
"#;

/// A Keygen export of two licenses (Keygen's own column names).
const KEYGEN_EXPORT: &str = "\
id,key,name,policy,user,status,created,expiry,maxMachines,metadata,uses
9f3c1a2e-0b7d-4c1e-8f00-1a2b3c4d5e6f,C1B6DE-39A6E3-DE1529-8559A0-4AF593-V3,Jane Pro,Pro Yearly,jane@example.com,ACTIVE,2025-03-01T12:00:00Z,2030-03-01T12:00:00Z,3,{},0
0c1d2e3f-4a5b-6c7d-8e9f-000000000004,KG-SUSP-0004,Chargeback,Basic,cb@example.com,SUSPENDED,2025-01-01T00:00:00Z,2030-01-01T00:00:00Z,1,{},0
";

/// Runs the whole walk in `dir` (created; it must not hold a vendor folder yet), at the
/// vendor's time `now` (Unix seconds).
///
/// # Errors
/// The first library error, unchanged: a backend maps these to its own responses.
pub fn run(dir: &Path, now: i64) -> Result<Outcome, Box<dyn Error>> {
    // 1. The vendor folder: configuration, ledger, and a signing key encrypted at rest.
    let vendor_path = dir.join("vendor");
    VendorDir::init(&vendor_path, "acme", false)?;
    std::fs::write(vendor_path.join("airseal.toml"), CONFIG)?;
    let vendor = VendorDir::open(&vendor_path)?;
    let passphrase = b"correct horse battery staple";
    let signing_key = keyfile::generate_signing_key();
    let sealed = keyfile::encrypt_signing_key(&signing_key, passphrase, KdfParams::DEFAULT)?;
    keyfile::write_secret_file(&vendor.signing_key_path(), sealed.as_bytes(), false)?;
    let public_key = signing_key.verifying_key().to_bytes();
    keyfile::write_public_file(
        &vendor.public_key_path(),
        airseal_core::pubkey::encode_public_key(&public_key).as_bytes(),
        false,
    )?;
    // Later runs unlock the key from its file, as a backend would at start.
    let issuer = Issuer::new(keyfile::decrypt_signing_key(
        &std::fs::read(vendor.signing_key_path())?,
        passphrase,
    )?);
    let mut ledger = vendor.open_ledger()?;
    println!(
        "vendor folder {} (key id {})",
        vendor_path.display(),
        issuer.key_id()
    );

    // 2. A batch of product keys, unique across the ledger, written to a file.
    let keys_file = dir.join("keys.txt");
    let pattern = airseal_core::productkey::Pattern::parse(DEFAULT_PATTERN)?;
    let generator = KeyGenerator::random(pattern, 80, keys::os_rng())?;
    let report = batch::generate(
        &mut ledger,
        BatchRequest {
            product: "photo-pro",
            count: 100,
            source: KeySource::Generator(generator),
            format: OutputFormat::Txt,
            output: &keys_file,
            force: false,
            template: None,
            customer: None,
        },
        &mut |_done| {},
    )?;
    println!(
        "batch {}: {} keys → {}",
        report.batch,
        report.keys,
        keys_file.display()
    );

    // 3. Keys sold on another platform, imported with their terms and exact spelling.
    let imported = import::import(
        &mut ledger,
        KEYGEN_EXPORT.as_bytes(),
        &ImportOptions {
            preset: Preset::Keygen,
            product: "photo-pro".into(),
            maps: Vec::new(),
            template: None,
            skgl_secret: None,
            update: false,
            dry_run: false,
            file: "keygen-export.csv".into(),
        },
    )?;
    println!("import: {} of {} rows", imported.imported, imported.read);

    // 4. A customer's air-gapped machine asks for a license (what the app does through
    //    `airseal_verify::app::device`), and the backend answers it.
    let key = std::fs::read_to_string(&keys_file)?
        .lines()
        .next()
        .ok_or("the batch file is empty")?
        .to_string();
    let machine = Device::open(dir.join("customer-machine"));
    let fingerprint = Fingerprint::new()
        .with(ComponentKind::Custom("board".into()), "serial-0001")
        .with(ComponentKind::Custom("disk".into()), "wwn-0x5000")
        .with(ComponentKind::Custom("nic".into()), "02:00:00:00:00:01");
    let request = machine.create_request("photo-pro", Some(&key), &fingerprint, None, &[], now)?;
    let response = activate::answer_request(&mut ledger, &issuer, vendor.config(), &request, now)?;
    let mut trust = TrustStore::new();
    trust.add_key(&public_key)?;
    let license = machine.install(response.armored().as_bytes(), &trust, now)?;
    machine.verify_installed(&trust, now, &fingerprint, Expected::product("photo-pro"))?;
    let license_id = license.claims().license_id.clone();
    println!("activated {key}: license {license_id}, verified on the machine");

    // 5. Revoke an imported key and publish the list apps load; the app accepts it.
    ledger.revocations().revoke(
        &RevokeTarget::Key {
            key: "KG-SUSP-0004".into(),
            product: Some("photo-pro".into()),
        },
        Some("chargeback"),
        now,
    )?;
    let (list, signed) = revoke::export(&mut ledger, &issuer, now)?;
    let list_path = dir.join("revocations.txt");
    keyfile::write_public_file(
        &list_path,
        armor(ObjectType::RevocationList.armor_label(), &signed).as_bytes(),
        false,
    )?;
    trust.verify_revocations(&std::fs::read(&list_path)?)?;
    println!("revocation list #{} → {}", list.seq, list_path.display());

    Ok(Outcome {
        generated: report.keys,
        imported: imported.imported,
        activated_key: key,
        license_id,
        revocation_seq: list.seq,
    })
}

#[allow(dead_code)] // The test includes this file for `run` alone.
fn main() -> Result<(), Box<dyn Error>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let now = i64::try_from(now)?;
    match std::env::args_os().nth(1) {
        Some(dir) => {
            run(Path::new(&dir), now)?;
        }
        None => {
            let dir = tempfile::tempdir()?;
            run(dir.path(), now)?;
        }
    }
    Ok(())
}
