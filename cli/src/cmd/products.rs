//! `airseal products` and `airseal templates`: what `airseal.toml` declares, and adding a
//! product to it (the file keeps its comments and layout).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::args::VendorArgs;
use crate::error::CliError;

/// `airseal products …`
#[derive(Debug, Args)]
pub struct ProductsArgs {
    #[command(subcommand)]
    pub command: ProductsCommand,
    #[command(flatten)]
    pub vendor: VendorArgs,
}

/// The `products` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProductsCommand {
    /// The products of airseal.toml, with their pattern, templates and key count.
    List {
        #[arg(long, help = crate::args::JSON_HELP)]
        json: bool,
    },
    /// Declare a product in airseal.toml ([products.ID]), keeping the file's comments and
    /// layout, and record it in the ledger.
    Add {
        /// The product id (what licenses carry as their audience).
        id: String,
        /// Its name, for people.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Its key pattern, e.g. ACME-XXXXX-XXXXX-XXXXX (default: XXXXX-XXXXX-XXXXX-XXXXX).
        #[arg(long, value_name = "PATTERN")]
        pattern: Option<String>,
        #[arg(long, help = crate::args::JSON_HELP)]
        json: bool,
    },
}

/// `airseal templates …`
#[derive(Debug, Args)]
pub struct TemplatesArgs {
    #[command(subcommand)]
    pub command: TemplatesCommand,
    #[command(flatten)]
    pub vendor: VendorArgs,
}

/// The `templates` subcommands.
#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// The license templates of airseal.toml, with what each says.
    List {
        /// Only this product's.
        #[arg(long, value_name = "ID")]
        product: Option<String>,
        #[arg(long, help = crate::args::JSON_HELP)]
        json: bool,
    },
}

const PRODUCT_COLUMNS: &[&str] = &[
    "id",
    "name",
    "key_pattern",
    "templates",
    "activation_template",
    "trial_template",
    "keys",
];

const TEMPLATE_COLUMNS: &[&str] = &["product", "name", "used_for", "terms"];

/// Runs `airseal products …`.
pub fn products(args: &ProductsArgs) -> Result<ExitCode, CliError> {
    let vendor = args.vendor.open()?;
    let mut ledger = vendor
        .open_ledger()
        .map_err(|e| CliError::from(e).at(&vendor.ledger_path()))?;
    match &args.command {
        ProductsCommand::List { json } => {
            let rows = vendor.products(&ledger)?.into_iter().map(|p| {
                vec![
                    json!(p.id),
                    json!(p.name),
                    json!(p.key_pattern),
                    json!(p.templates),
                    json!(p.activation_template),
                    json!(p.trial_template),
                    json!(p.keys),
                ]
            });
            crate::render::print_list(PRODUCT_COLUMNS, rows, *json)
                .map_err(crate::io::write_failed)?;
        }
        ProductsCommand::Add {
            id,
            name,
            pattern,
            json,
        } => {
            let vendor =
                vendor.add_product(&mut ledger, id, name.as_deref(), pattern.as_deref())?;
            if *json {
                crate::term::out_json(&json!({
                    "product": id,
                    "name": name,
                    "key_pattern": pattern,
                    "config": vendor.config_path().display().to_string(),
                }));
            } else {
                outln!(
                    "product {} added to {}",
                    crate::term::field(id),
                    vendor.config_path().display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `airseal templates …`.
pub fn templates(args: &TemplatesArgs) -> Result<ExitCode, CliError> {
    let vendor = args.vendor.open()?;
    match &args.command {
        TemplatesCommand::List { product, json } => {
            let rows = vendor.templates(product.as_deref())?.into_iter().map(|t| {
                let mut terms = serde_json::to_value(&t.spec).unwrap_or(Value::Null);
                if let Some(m) = terms.as_object_mut() {
                    // Said by the row already.
                    m.remove("product");
                }
                vec![json!(t.product), json!(t.name), json!(t.used_for), terms]
            });
            crate::render::print_list(TEMPLATE_COLUMNS, rows, *json)
                .map_err(crate::io::write_failed)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
