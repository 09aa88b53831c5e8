//! What the model writes, checked before the user sees it.
//!
//! A streamed reply goes through a [`Screen`]: its pieces are gathered into segments (a
//! sentence, or [`MAX_SEGMENT_CHARS`] when no sentence ends sooner), each segment is checked
//! with the ones before it (the provider's session), and only a segment that passed is
//! released to the client. So at most one segment is held back at any time and nothing
//! unchecked reaches the client; the cost is one call per segment, and a first word that waits
//! for the first sentence. Without moderation a piece is released as it comes.
//!
//! A blocked reply is closed at once (the caller drops the model's stream), stored withheld for
//! administrators ([`crate::entities::Withheld::Blocked`]), audited, and replaced on the site
//! by [`notice`].

use super::{Moderator, Session, Verdict};
use crate::{
    audit::{self, Action},
    error::AppError,
    http::ClientMeta,
    language::Language,
    state::AppState,
};

/// A segment is cut at the first sentence end after this many characters…
pub const MIN_SEGMENT_CHARS: usize = 12;
/// …or here, when no sentence ends sooner.
pub const MAX_SEGMENT_CHARS: usize = 300;

/// What a piece of the model's reply let through.
#[derive(Debug, PartialEq, Eq)]
pub enum Screened {
    /// Checked text to show now (possibly none: a segment is still gathering).
    Show(String),
    /// Moderation refused the reply.
    Blocked { label: String },
}

/// The check of one streamed reply.
pub struct Screen<'a> {
    moderator: Option<&'a Moderator>,
    session: Session,
    segments: Segmenter,
    /// What passed (what the client has been sent).
    shown: String,
}

impl<'a> Screen<'a> {
    pub fn new(moderator: Option<&'a Moderator>) -> Self {
        Self { moderator, session: Session::new(), segments: Segmenter::default(), shown: String::new() }
    }

    /// The moderator it checks with (`None`: none is configured).
    pub fn moderator(&self) -> Option<&'a Moderator> {
        self.moderator
    }

    /// Takes the model's next piece; what may be shown now, or the block. An error is 503
    /// `moderation_unavailable` (`MODERATION_FAILURE=closed`).
    pub async fn piece(&mut self, piece: &str) -> Result<Screened, AppError> {
        let Some(moderator) = self.moderator else {
            self.shown.push_str(piece);
            return Ok(Screened::Show(piece.to_string()));
        };
        let ready = self.segments.push(piece);
        self.check(moderator, ready).await
    }

    /// The model has finished: the last segment, checked.
    pub async fn finish(&mut self) -> Result<Screened, AppError> {
        let Some(moderator) = self.moderator else { return Ok(Screened::Show(String::new())) };
        let rest: Vec<String> = self.segments.finish().into_iter().collect();
        self.check(moderator, rest).await
    }

    async fn check(&mut self, moderator: &Moderator, segments: Vec<String>) -> Result<Screened, AppError> {
        let mut show = String::new();
        for segment in segments {
            // Whitespace (the space after a reply's last full stop) says nothing: no call for it.
            if segment.trim().is_empty() {
                show.push_str(&segment);
                continue;
            }
            match moderator.judge_segment(&mut self.session, &segment).await? {
                Verdict::Pass => show.push_str(&segment),
                Verdict::Block { label } => return Ok(Screened::Blocked { label }),
            }
        }
        self.shown.push_str(&show);
        Ok(Screened::Show(show))
    }

    /// Everything that passed so far: what a stopped reply keeps (a segment still unchecked was
    /// never shown, so it is not saved either).
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// A whole reply checked before it is shown (a JSON answer): each of `texts` (the reply, and
/// what the model thought first), until one is refused. `Pass` without moderation.
pub async fn judge_all(state: &AppState, texts: &[&str]) -> Result<Verdict, AppError> {
    let Some(moderator) = state.moderator.as_deref() else { return Ok(Verdict::Pass) };
    for text in texts {
        if let blocked @ Verdict::Block { .. } = moderator.judge(super::Stage::Output, text).await? {
            return Ok(blocked);
        }
    }
    Ok(Verdict::Pass)
}

/// Gathers a reply's pieces into segments.
#[derive(Debug, Default)]
pub struct Segmenter {
    pending: String,
}

impl Segmenter {
    /// Adds a piece; the segments it completed.
    pub fn push(&mut self, piece: &str) -> Vec<String> {
        self.pending.push_str(piece);
        let mut ready = Vec::new();
        while let Some(end) = cut(&self.pending) {
            let rest = self.pending.split_off(end);
            ready.push(std::mem::replace(&mut self.pending, rest));
        }
        ready
    }

    /// What is left when the reply ends.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        (!rest.is_empty()).then_some(rest)
    }
}

/// Where the next segment of `text` ends (a byte index), if it is complete: after the first
/// sentence end once [`MIN_SEGMENT_CHARS`] are there, or at [`MAX_SEGMENT_CHARS`]. A `.`, `!`
/// or `?` ends a sentence only before whitespace (not `3.5`, not `e.g.x`), so one at the very
/// end waits for the next piece.
fn cut(text: &str) -> Option<usize> {
    let mut chars = text.char_indices().peekable();
    let mut count = 0;
    while let Some((index, c)) = chars.next() {
        count += 1;
        let end = index + c.len_utf8();
        if count >= MAX_SEGMENT_CHARS {
            return Some(end);
        }
        if count < MIN_SEGMENT_CHARS {
            continue;
        }
        let ends = match c {
            '。' | '！' | '？' | '；' | '…' | '\n' => true,
            '.' | '!' | '?' | ';' => chars.peek().is_some_and(|(_, next)| next.is_whitespace()),
            _ => false,
        };
        if ends {
            return Some(end);
        }
    }
    None
}

/// What the site shows instead of a blocked reply (and a JSON client gets as `reply`).
pub fn notice(language: Language) -> &'static str {
    match language {
        Language::Chinese => "这条回复未能显示：内容不符合使用规范。",
        Language::English => "This reply cannot be shown: it does not meet the content rules.",
    }
}

/// Audits a blocked reply (its user is the actor: the turn was theirs).
pub async fn blocked(state: &AppState, user_id: &str, client: &ClientMeta, conversation_id: &str, label: &str) {
    let entry = audit::Entry::new(
        Action::ReplyBlocked,
        Some(user_id),
        format!("a reply was blocked ({}) in conversation {conversation_id}", audit::quote(label)),
    );
    if let Err(err) = audit::record(&state.db, &state.clock, entry, client).await {
        tracing::warn!(error = %err, "could not audit a blocked reply");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(pieces: &[&str]) -> Vec<String> {
        let mut segmenter = Segmenter::default();
        let mut all: Vec<String> = pieces.iter().flat_map(|piece| segmenter.push(piece)).collect();
        all.extend(segmenter.finish());
        all
    }

    #[test]
    fn sentences_are_segments() {
        let all = segments(&["天行健，君子以自强不息。", "地势坤，", "君子以厚德载物。尾"]);
        assert_eq!(all, ["天行健，君子以自强不息。", "地势坤，君子以厚德载物。", "尾"]);
    }

    #[test]
    fn a_full_stop_ends_a_sentence_only_before_whitespace() {
        let all = segments(&["Take 3.5 grams of it daily.", " Then rest. ", "Done"]);
        // (" Then rest." is shorter than a segment: it waits for more.)
        assert_eq!(all, ["Take 3.5 grams of it daily.", " Then rest. Done"]);
        // A full stop at the end of a piece waits to see what follows.
        let mut segmenter = Segmenter::default();
        assert!(segmenter.push("The dose is 3.").is_empty());
        assert!(segmenter.push("5 g").is_empty());
    }

    #[test]
    fn short_sentences_join_the_next() {
        assert_eq!(segments(&["1. ", "Rest well. ", "2. Drink water."]), ["1. Rest well.", " 2. Drink water."]);
    }

    #[test]
    fn long_runs_are_cut_at_the_maximum() {
        let text = "字".repeat(MAX_SEGMENT_CHARS * 2 + 5);
        let all = segments(&[&text]);
        assert_eq!(
            all.iter().map(|s| s.chars().count()).collect::<Vec<_>>(),
            [MAX_SEGMENT_CHARS, MAX_SEGMENT_CHARS, 5]
        );
        assert_eq!(all.concat(), text);
    }
}
