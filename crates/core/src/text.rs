//! Free text a client sends beside a request (a comment on a reply, a report, an administrator's
//! note): trimmed, blank meaning none, and refused when longer than its field allows — never
//! silently cut.

use crate::error::{AppError, AppResult};

/// `raw` trimmed (`None` when blank), or 422 `code` when it has more than `max_chars` characters.
pub fn optional(raw: Option<String>, max_chars: usize, code: &'static str, what: &str) -> AppResult<Option<String>> {
    let text = raw.map(|text| text.trim().to_string()).filter(|text| !text.is_empty());
    if text.as_ref().is_some_and(|text| text.chars().count() > max_chars) {
        return Err(AppError::validation(code, format!("{what} may have at most {max_chars} characters")));
    }
    Ok(text)
}
