//! What a portal form posted: the file chosen, or the text pasted (either will do; a file
//! wins when both are given). Forms post `multipart/form-data` (a file chooser needs it);
//! `application/x-www-form-urlencoded` is read too, for the text alone (a script, or a
//! form without a file). The body's size is bounded by the service's body limit before any
//! of this reads it.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{FromRequest as _, Multipart, Request};
use axum::http::{StatusCode, header};

use super::messages::{self, Refusal};

/// A form that could not be read: its status (413 when over the body limit, else 400) and
/// the page's words.
pub(crate) type Unread = (StatusCode, Refusal);

/// The page for an axum rejection with `status` and `text`.
fn unread(status: StatusCode, text: &str) -> Unread {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        (status, messages::too_large())
    } else {
        (StatusCode::BAD_REQUEST, messages::unreadable_form(text))
    }
}

/// The form's content type, as far as this portal reads forms.
fn is_multipart(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("multipart/form-data"))
}

/// The bytes of the file chosen (field `file`), or else of the text pasted (field `text`).
///
/// # Errors
/// [`Unread`] when neither was given or the form could not be read.
pub(crate) async fn submitted(request: Request) -> Result<Vec<u8>, Unread> {
    let (mut file, mut text) = (Vec::new(), String::new());
    if is_multipart(&request) {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| unread(e.status(), &e.body_text()))?;
        loop {
            let field = multipart
                .next_field()
                .await
                .map_err(|e| unread(e.status(), &e.body_text()))?;
            let Some(field) = field else { break };
            let name = field.name().unwrap_or_default().to_string();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| unread(e.status(), &e.body_text()))?;
            match name.as_str() {
                "file" => file = bytes.to_vec(),
                "text" => text = String::from_utf8_lossy(&bytes).into_owned(),
                _ => {}
            }
        }
    } else {
        let Form(fields) = Form::<HashMap<String, String>>::from_request(request, &())
            .await
            .map_err(|e| unread(e.status(), &e.body_text()))?;
        text = fields.get("text").cloned().unwrap_or_default();
    }
    if !file.iter().all(u8::is_ascii_whitespace) {
        Ok(file)
    } else if !text.trim().is_empty() {
        Ok(text.into_bytes())
    } else {
        Err((StatusCode::BAD_REQUEST, messages::nothing_given()))
    }
}

/// One text field of a form (the download button's `response`).
///
/// # Errors
/// [`Unread`] when the form could not be read or lacks the field.
pub(crate) async fn field(request: Request, name: &str) -> Result<String, Unread> {
    let Form(fields) = Form::<HashMap<String, String>>::from_request(request, &())
        .await
        .map_err(|e| unread(e.status(), &e.body_text()))?;
    fields
        .get(name)
        .filter(|v| !v.trim().is_empty())
        .cloned()
        .ok_or_else(|| (StatusCode::BAD_REQUEST, messages::nothing_given()))
}
