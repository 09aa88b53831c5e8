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

/// Whether `text` has nothing to read: only whitespace and invisible format characters (a
/// zero-width space or joiner, a word joiner, a byte-order mark), which `trim` keeps.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn invisible_text_is_blank() {
        assert!(super::is_blank(" \u{200B}\u{FEFF}\u{2060} \n"));
        assert!(super::is_blank(""));
        assert!(!super::is_blank("\u{200B}问"));
    }
}
