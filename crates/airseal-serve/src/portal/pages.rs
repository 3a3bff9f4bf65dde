//! The portal's pages, as functions from what they show to HTML. `maud` escapes every
//! interpolated value, so a product name, a key or an error detail is text, never markup;
//! the one piece of raw markup is the QR code's `<svg>`, made by `airseal-qr` from the
//! response bytes alone. No page has a script or an inline style (the Content-Security-
//! Policy forbids both); forms post plainly, so everything works without JavaScript.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::messages::Refusal;

/// Where the stylesheet is served (same origin: `style-src 'self'`).
pub(crate) const CSS_PATH: &str = "/portal.css";
/// Where the activation form posts.
pub(crate) const ACTIVATE_PATH: &str = "/activate";
/// Where the deactivation form posts.
pub(crate) const DEACTIVATE_PATH: &str = "/deactivate";
/// Where the "download" button posts the response text back, to receive it as a file.
pub(crate) const DOWNLOAD_PATH: &str = "/download";
/// The name of the file the download gives.
pub(crate) const RESPONSE_FILE: &str = "response.txt";

/// What every page shows about the vendor.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vendor {
    /// The vendor id (`airseal.toml`'s `vendor`).
    pub name: String,
    /// `[portal] support`, if set.
    pub support: Option<String>,
}

/// Everything around a page's content.
fn layout(vendor: &Vendor, title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (vendor.name) " activation" }
                link rel="stylesheet" href=(CSS_PATH);
            }
            body {
                header {
                    a href="/" { (vendor.name) " — offline activation" }
                }
                main { (content) }
                footer {
                    @if let Some(support) = &vendor.support {
                        "Help: " (support)
                    } @else {
                        "For help, contact the company that sold you the software."
                    }
                }
            }
        }
    }
}

/// The form for one kind of file: a file chooser and a text box, either will do.
fn upload_form(action: &str, id: &str, placeholder: &str, button: &str) -> Markup {
    html! {
        form method="post" action=(action) enctype="multipart/form-data" {
            p {
                label for={(id) "-file"} { "Upload the file" }
                br;
                input type="file" id={(id) "-file"} name="file";
            }
            p {
                label for={(id) "-text"} { "…or paste its text" }
                br;
                textarea id={(id) "-text"} name="text" rows="6" cols="70"
                    spellcheck="false" autocomplete="off" placeholder=(placeholder) {}
            }
            p { button type="submit" { (button) } }
        }
    }
}

/// `/`: what the portal is for, and the two forms.
pub(crate) fn index(vendor: &Vendor) -> Markup {
    layout(
        vendor,
        "Activate a machine",
        html! {
            h1 { "Activate a machine that has no internet" }
            p {
                "Your software made an activation request (a small file, or a text starting with "
                code { "AIRSEAL:" } "). Give it here, from any computer or phone; you get the "
                "response to take back to the machine: as a file, as a QR code to scan, and as "
                "text to copy."
            }
            section id="activate" {
                h2 { "Activate (or start a trial)" }
                (upload_form(ACTIVATE_PATH, "request", "AIRSEAL:… or -----BEGIN AIRSEAL ACTIVATION REQUEST-----", "Get the response"))
            }
            section id="deactivate" {
                h2 { "Give a seat back" }
                p {
                    "Moving to a new machine? Release the product on the old one: your software "
                    "makes a deactivation proof. Give it here and the seat is free for the new machine."
                }
                (upload_form(DEACTIVATE_PATH, "proof", "AIRSEAL:… or -----BEGIN AIRSEAL DEACTIVATION PROOF-----", "Free the seat"))
            }
        },
    )
}

/// What the response page says about the license it carries.
#[derive(Debug, Clone)]
pub(crate) struct Answered {
    /// The product, as `airseal.toml` names it (or its id).
    pub product: String,
    /// Whether this machine already held a seat (no new seat taken).
    pub reissued: bool,
    /// The key's seats after this activation ("2 of 3"), `None` for a trial.
    pub seats: Option<String>,
    /// When the license ends (`2027-03-01`), if it does.
    pub expires: Option<String>,
    /// The response, armored: the text to copy and the download's contents.
    pub armored: String,
    /// The QR code as an `<svg>` element from `airseal-qr`; `None` when the response is
    /// too large for one code.
    pub qr_svg: Option<String>,
}

/// The answer to an activation or trial request.
pub(crate) fn answered(vendor: &Vendor, a: &Answered) -> Markup {
    layout(
        vendor,
        "Your response",
        html! {
            h1 { "Your response is ready" }
            p.summary {
                (a.product)
                @if a.reissued { ": this machine was already activated; here is its response again (nothing new was used)." }
                @else { ": this machine is activated." }
                @if let Some(seats) = &a.seats { " Seats of this key in use: " (seats) "." }
                @if let Some(expires) = &a.expires { " The license runs until " (expires) "." }
            }
            p { "Take it back to the machine in one of three ways, then install it in your software." }
            section id="download" {
                h2 { "1. Download the file" }
                form method="post" action=(DOWNLOAD_PATH) {
                    input type="hidden" name="response" value=(a.armored);
                    button type="submit" { "Download " (RESPONSE_FILE) }
                }
            }
            section id="qr" {
                h2 { "2. Scan the QR code" }
                @if let Some(svg) = &a.qr_svg {
                    figure {
                        (PreEscaped(svg))
                        figcaption { "Scan it with the machine's camera, or with a phone and send yourself the text it shows." }
                    }
                } @else {
                    p { "This response is too large for one QR code: download the file instead." }
                }
            }
            section id="copy" {
                h2 { "3. Copy the text" }
                p { label for="response-text" { "All of it, from the first line to the last:" } }
                textarea id="response-text" rows="10" cols="70" readonly spellcheck="false" { (a.armored) }
            }
            p { a href="/" { "Back to the start" } }
        },
    )
}

/// The answer to a deactivation proof.
pub(crate) fn released(vendor: &Vendor, product: &str, seats: Option<&str>) -> Markup {
    layout(
        vendor,
        "Seat given back",
        html! {
            h1 { "The seat is free" }
            p.summary {
                (product) ": the old machine's seat is given back."
                @if let Some(seats) = seats { " Seats of this key in use: " (seats) "." }
            }
            p { "You can now activate the new machine." }
            p { a href="/" { "Activate a machine" } }
        },
    )
}

/// A refusal, in the customer's terms, with the support address.
pub(crate) fn refused(vendor: &Vendor, refusal: &Refusal) -> Markup {
    layout(
        vendor,
        &refusal.headline,
        html! {
            h1.refused { (refusal.headline) }
            p.explain { (refusal.explain) }
            p.next {
                @match (&refusal.next, &vendor.support) {
                    (Some(next), Some(support)) => { (next) ", or contact " strong { (support) } "." }
                    (Some(next), None) => { (next) ", or contact the company that sold you the software." }
                    (None, Some(support)) => { "Please contact " strong { (support) } "." }
                    (None, None) => { "Please contact the company that sold you the software." }
                }
            }
            details {
                summary { "Details for support" }
                pre { (refusal.details) }
            }
            p { a href="/" { "Back to the start" } }
        },
    )
}
