//! The two languages the app speaks: a reply's, and an account's (the mail it receives).

/// Chinese for `zh*` locales, English otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Chinese,
    English,
}

impl Language {
    pub fn from_locale(locale: Option<&str>) -> Self {
        match locale {
            Some(locale) if locale.trim().to_ascii_lowercase().starts_with("zh") => Self::Chinese,
            _ => Self::English,
        }
    }

    /// `zh` or `en`, as `users.locale` stores it.
    pub fn code(self) -> &'static str {
        match self {
            Self::Chinese => "zh",
            Self::English => "en",
        }
    }
}
