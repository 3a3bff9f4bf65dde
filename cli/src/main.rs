//! `airseal`: a thin command-line shell over `airseal-vendor` and `airseal-verify`.
//!
//! Argument parsing, printing and exit codes live here; everything else is in the
//! libraries so a vendor's own backend can do the same without shelling out.

// First: its macros (`outln!`, `errln!`) are used by every module below.
#[macro_use]
mod term;

mod args;
mod cmd;
mod error;
mod io;
mod passphrase;
mod progress;
mod qr;
mod render;
mod time;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// The version, with the git commit and build date when built from a checkout (build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), env!("AIRSEAL_VERSION_SUFFIX"));

/// Offline software licensing: signing keys, signed license files, offline verification.
#[derive(Debug, Parser)]
#[command(name = "airseal", version = VERSION, about, long_about = None, after_help = error::EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a vendor folder: config, signing key and ledger.
    Init(cmd::init::InitArgs),
    /// Create a vendor signing key: DIR/signing.key (encrypted) and DIR/signing.pub.
    Keygen(cmd::keygen::KeygenArgs),
    /// Issuing keys the root certifies, for servers: create one, list them, show one.
    IssuingKey(cmd::issuing_key::IssuingKeyArgs),
    /// Product keys: generate batches, inspect a key, recover an interrupted batch.
    Keys(cmd::keys::KeysArgs),
    /// Issue a signed license file (or, with --batch --from-import, one per imported key).
    Issue(Box<cmd::issue::IssueArgs>),
    /// Import keys and their terms from another platform's CSV export.
    Import(cmd::import::ImportArgs),
    /// Verify a license, an issuing-key certificate or a revocation list offline (exit 0
    /// only when valid; see EXIT CODES); with --machine, the license installed here.
    Verify(cmd::verify::VerifyArgs),
    /// Create an activation (or trial) request on this machine, as a file or a QR code.
    Request(Box<cmd::request::RequestArgs>),
    /// Install the vendor's activation response on this machine.
    Install(cmd::install::InstallArgs),
    /// Give this machine's seat back: delete the license and print a deactivation proof.
    Release(cmd::release::ReleaseArgs),
    /// Answer an activation or trial request: record the seat, write the signed response.
    Activate(Box<cmd::activate::ActivateArgs>),
    /// Free a seat: accept a machine's deactivation proof (or release a lost machine).
    Deactivate(cmd::activate::DeactivateArgs),
    /// Renew a key's machines offline: a license update per live seat, no request needed.
    Renew(Box<cmd::renew::RenewArgs>),
    /// List and search keys, activations and the audit log (table, CSV or JSON).
    Ledger(cmd::ledger::LedgerArgs),
    /// Customers keys are sold to: add one, list them.
    Customers(cmd::customers::CustomersArgs),
    /// Bearer tokens for `airseal serve`: create one (shown once), list, revoke.
    Tokens(cmd::tokens::TokensArgs),
    /// The products of airseal.toml: list them, add one.
    Products(cmd::products::ProductsArgs),
    /// The license templates of airseal.toml.
    Templates(cmd::products::TemplatesArgs),
    /// Revoke a license, a product key, or everything issued before a date (offline).
    Revoke(cmd::revoke::RevokeArgs),
    /// Export the signed revocation list apps load.
    Revocations(cmd::revoke::RevocationsArgs),
    /// Show what a license, certificate or revocation list says, WITHOUT verifying it.
    Inspect(cmd::inspect::InspectArgs),
    /// Run the vendor service: the HTTP API and the customers' activation portal.
    Serve(Box<cmd::serve::ServeArgs>),
    /// Run the whole flow in a fresh temporary folder, printing each step.
    Demo(cmd::demo::DemoArgs),
    /// Print a shell completion script (e.g. `airseal completions bash > /etc/bash_completion.d/airseal`).
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages, one per command and subcommand (airseal.1, airseal-keys-generate.1…).
    Man {
        /// The folder to write them in (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace existing pages.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    term::install_panic_hook();
    // Debug builds only: lets the tests prove the panic hook's one-line report.
    #[cfg(debug_assertions)]
    #[allow(clippy::panic)]
    if std::env::var_os("AIRSEAL_DEBUG_PANIC").is_some() {
        panic!("AIRSEAL_DEBUG_PANIC is set");
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(a) => cmd::init::run(&a),
        Command::Keygen(a) => cmd::keygen::run(&a),
        Command::IssuingKey(a) => cmd::issuing_key::run(&a),
        Command::Keys(a) => cmd::keys::run(&a),
        Command::Issue(a) => cmd::issue::run(&a),
        Command::Import(a) => cmd::import::run(&a),
        Command::Verify(a) => cmd::verify::run(&a),
        Command::Request(a) => cmd::request::run(&a),
        Command::Install(a) => cmd::install::run(&a),
        Command::Release(a) => cmd::release::run(&a),
        Command::Inspect(a) => cmd::inspect::run(&a),
        Command::Activate(a) => cmd::activate::activate(&a),
        Command::Deactivate(a) => cmd::activate::deactivate(&a),
        Command::Renew(a) => cmd::renew::run(&a),
        Command::Ledger(a) => cmd::ledger::run(&a),
        Command::Customers(a) => cmd::customers::run(&a),
        Command::Tokens(a) => cmd::tokens::run(&a),
        Command::Products(a) => cmd::products::products(&a),
        Command::Templates(a) => cmd::products::templates(&a),
        Command::Revoke(a) => cmd::revoke::revoke(&a),
        Command::Revocations(a) => cmd::revoke::revocations(&a),
        Command::Serve(a) => cmd::serve::run(&a),
        Command::Demo(a) => cmd::demo::run(&a),
        Command::Completions { shell } => {
            // Into memory first: clap_complete panics when its writer fails (a closed pipe,
            // a full disk); the one stdout writer then handles those like every command.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "airseal", &mut script);
            term::out_bytes(&script);
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { out, force } => man_pages(&out, force),
    };
    term::flush();
    // A closed standard output is not an error: the command ran to its end and its own code
    // stands (0 for a listing cut short by `| head`). Any other failure to write it is.
    // One message per failure: a command that failed because standard output did (a
    // listing's rows, a full disk) says so itself.
    match (result, term::stdout_error()) {
        (Err(e), _) => {
            errln!("error: {}", term::clip(&e.to_string()));
            e.exit_code().into()
        }
        (Ok(_), Some(e)) => {
            errln!("error: standard output: {e}");
            ExitCode::from(error::IO)
        }
        (Ok(code), None) => code,
    }
}

/// Writes a man page for the program and for every (non-hidden) subcommand, from the same
/// clap definitions as `--help`; existing pages are kept unless `force`.
fn man_pages(dir: &std::path::Path, force: bool) -> Result<ExitCode, error::CliError> {
    fn pages(cmd: &clap::Command, into: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            pages(sub, into)?;
        }
        let man = clap_mangen::Man::new(cmd.clone());
        let mut text = Vec::new();
        man.render(&mut text)?;
        into.push((man.get_filename(), text));
        Ok(())
    }
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut all = Vec::new();
    pages(&cmd, &mut all).map_err(|e| error::CliError::io(dir, e))?;
    if dir.exists() && !dir.is_dir() {
        return Err(error::CliError::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder"),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| error::CliError::io(dir, e))?;
    if !force {
        // All or nothing: check every name before writing any.
        if let Some((name, _)) = all.iter().find(|(n, _)| dir.join(n).exists()) {
            return Err(error::CliError::msg(format!(
                "{} already exists; pass --force to replace the pages in {}",
                dir.join(name).display(),
                dir.display()
            )));
        }
    }
    for (name, text) in &all {
        io::write_output(&dir.join(name), text, force)?;
    }
    errln!("{} man pages → {}", all.len(), dir.display());
    Ok(ExitCode::SUCCESS)
}
