//! Why a row is skipped, and a row that may be imported.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// Its id is already in the target (imported before, or the same row): left untouched.
    AlreadyPresent,
    /// A session that has already expired.
    Expired,
    /// A value our schema cannot hold or that is not one of the allowed values.
    Invalid,
    /// Its normalized email belongs to another account already (imported before it, or in the target).
    EmailTaken,
    /// Its user or conversation is in the source but was skipped.
    ParentSkipped,
    /// Its user or conversation does not exist in the source at all.
    Orphan,
    /// The target refused it for a unique key or foreign key (e.g. a session token in use).
    Conflict,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::AlreadyPresent => "already present",
            Reason::Expired => "expired",
            Reason::Invalid => "invalid",
            Reason::EmailTaken => "email taken",
            Reason::ParentSkipped => "parent skipped",
            Reason::Orphan => "orphan",
            Reason::Conflict => "conflict",
        }
    }

    /// Reasons expected in bulk (a second run, old sessions) are counted, not listed.
    pub(super) fn listed(self) -> bool {
        !matches!(self, Reason::AlreadyPresent | Reason::Expired)
    }
}

#[derive(Debug)]
pub(super) struct Skip {
    pub(super) reason: Reason,
    pub(super) detail: String,
}

impl Skip {
    pub(super) fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self { reason, detail: detail.into() }
    }

    pub(super) fn invalid(detail: impl Into<String>) -> Self {
        Self::new(Reason::Invalid, detail)
    }
}

/// A converted row and what was changed to make it fit (printed once it is imported).
pub(super) struct Candidate<M> {
    pub(super) model: M,
    pub(super) notes: Vec<String>,
}

impl<M> Candidate<M> {
    pub(super) fn new(model: M) -> Self {
        Self { model, notes: Vec::new() }
    }
}
