//! `airseal customers`: who keys are sold to. Keys are linked to a customer with `airseal
//! keys update KEY --customer ID` and listed with `airseal ledger keys --customer ID`.

use std::process::ExitCode;

use airseal_vendor::ledger::NewCustomer;
use airseal_vendor::time::format_time;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::args::VendorArgs;
use crate::error::CliError;

/// `airseal customers …`
#[derive(Debug, Args)]
pub struct CustomersArgs {
    #[command(subcommand)]
    pub command: CustomersCommand,
    #[command(flatten)]
    pub vendor: VendorArgs,
}

/// The `customers` subcommands.
#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Add a customer; prints its number.
    Add {
        /// E-mail address (one customer per address, case ignored).
        #[arg(long, value_name = "E")]
        email: String,
        /// The person's name.
        #[arg(long, value_name = "N")]
        name: Option<String>,
        /// The organisation.
        #[arg(long, value_name = "O")]
        org: Option<String>,
        /// Notes.
        #[arg(long, value_name = "TEXT")]
        notes: Option<String>,
        #[arg(long, help = crate::args::JSON_HELP)]
        json: bool,
    },
    /// Every customer.
    List {
        #[arg(long, help = crate::args::JSON_HELP)]
        json: bool,
    },
}

const COLUMNS: &[&str] = &["id", "email", "name", "org", "notes", "created"];

/// Runs `airseal customers …`.
pub fn run(args: &CustomersArgs) -> Result<ExitCode, CliError> {
    let vendor = args.vendor.open()?;
    let ledger = vendor
        .open_ledger()
        .map_err(|e| CliError::from(e).at(&vendor.ledger_path()))?;
    match &args.command {
        CustomersCommand::Add {
            email,
            name,
            org,
            notes,
            json,
        } => {
            let c = ledger.customers().add(&NewCustomer {
                email: email.clone(),
                name: name.clone(),
                org: org.clone(),
                notes: notes.clone(),
            })?;
            if *json {
                crate::term::out_json(&json!(c));
            } else {
                outln!("{}", c.id);
            }
        }
        CustomersCommand::List { json } => {
            let rows = ledger.customers().list()?.into_iter().map(|c| {
                vec![
                    json!(c.id),
                    json!(c.email),
                    json!(c.name),
                    json!(c.org),
                    json!(c.notes),
                    json!(format_time(c.created)),
                ]
            });
            crate::render::print_list(COLUMNS, rows, *json).map_err(crate::io::write_failed)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
