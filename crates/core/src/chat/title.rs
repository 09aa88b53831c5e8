//! Conversation titles written by the model.
//!
//! After a conversation's first reply, the title model (`CHAT_TITLE_MODEL`, `off` to disable)
//! is asked for a short title in the conversation's language: a separate small call, bounded by
//! [`TITLE_TIMEOUT`], made after the reply is saved, so it never delays or fails the turn. Until
//! it answers, and whenever it fails, the conversation keeps the title cut from its first
//! message. The title is written only over that one: a title the user chose is never replaced
//! (one conditional `UPDATE`, so a rename that races the model wins).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use tokio::time::Duration;

use super::{
    llm::{Llm, Prompt},
    persona::Language,
};
use crate::{
    entities::{Conversation, MessageRole, TitleSource, conversation},
    moderation::{Stage, Verdict},
    state::AppState,
};

/// The longest wait for a title.
pub const TITLE_TIMEOUT: Duration = Duration::from_secs(10);
/// A title is at most this many characters (longer answers are cut with "…").
const MAX_CHARS: usize = 40;
/// Each side of the exchange is shown to the title model up to this many characters.
const EXCERPT_CHARS: usize = 1_000;

/// Asks for a title and stores it. `Some(title)` when it was stored.
pub async fn write(
    state: &AppState,
    llm: &Llm,
    conversation_id: &str,
    language: Language,
    question: &str,
    answer: &str,
) -> Option<String> {
    if !llm.writes_titles() || answer.trim().is_empty() {
        return None;
    }
    let completion = match tokio::time::timeout(
        TITLE_TIMEOUT,
        llm.complete_title(&prompt(language, question, answer), 40),
    )
    .await
    {
        Ok(Some(Ok(completion))) => completion,
        Ok(None) => return None,
        Ok(Some(Err(err))) => {
            tracing::info!(error = %err, %conversation_id, "the title model failed; keeping the first message as title");
            return None;
        }
        Err(_) => {
            tracing::info!(%conversation_id, "the title model did not answer in time; keeping the first message as title");
            return None;
        }
    };
    let title = clean(&completion.text)?;
    // A title is the model's words, shown in the list: checked like a reply. Unchecked (the
    // check failed, whatever MODERATION_FAILURE says), the first message stays the title.
    if let Some(moderator) = state.moderator.as_deref()
        && !matches!(moderator.judge(Stage::Output, &title).await, Ok(Verdict::Pass))
    {
        tracing::info!(%conversation_id, "the model's title did not pass moderation; keeping the first message as title");
        return None;
    }
    let stored = Conversation::update_many()
        .col_expr(conversation::Column::Title, Expr::value(title.clone()))
        .col_expr(conversation::Column::TitleSource, Expr::value(TitleSource::Model))
        .filter(conversation::Column::Id.eq(conversation_id))
        .filter(conversation::Column::TitleSource.eq(TitleSource::Message))
        .exec(&state.db)
        .await;
    match stored {
        Ok(result) if result.rows_affected == 1 => Some(title),
        Ok(_) => None,
        Err(err) => {
            tracing::warn!(error = %err, %conversation_id, "could not store the model's title");
            None
        }
    }
}

fn prompt(language: Language, question: &str, answer: &str) -> Prompt {
    let excerpt = |text: &str| text.chars().take(EXCERPT_CHARS).collect::<String>();
    let system = match language {
        Language::Chinese => "你为对话起标题。只回答标题本身：简体中文，不超过 12 个字，不加引号，结尾不加标点。",
        Language::English => {
            "You write titles for conversations. Answer with the title only: English, at most 6 words, no quotes, no final punctuation."
        }
    };
    let exchange = format!("User:\n{}\n\nAssistant:\n{}", excerpt(question), excerpt(answer));
    Prompt::text(system.to_string(), vec![(MessageRole::User, exchange)])
}

/// The model's answer as a title: its first non-empty line, without quotes, a "Title:" label or
/// final punctuation, whitespace collapsed, at most [`MAX_CHARS`]. `None` if nothing is left.
pub fn clean(answer: &str) -> Option<String> {
    let line = answer.lines().map(str::trim).find(|line| !line.is_empty())?;
    let line = ["Title:", "title:", "标题：", "标题:"]
        .iter()
        .fold(line, |line, label| line.strip_prefix(label).unwrap_or(line));
    let quotes: &[char] = &['"', '\'', '“', '”', '‘', '’', '「', '」', '《', '》', '*', '#', '`'];
    let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
    let punctuation: &[char] = &['.', '。', '!', '！', '?', '？', ',', '，', ':', '：', ';', '；'];
    let mut trimmed = collapsed.as_str();
    loop {
        let next =
            trimmed.trim_matches(|c: char| quotes.contains(&c) || c.is_whitespace()).trim_end_matches(punctuation);
        if next == trimmed {
            break;
        }
        trimmed = next;
    }
    let trimmed: String = trimmed.chars().filter(|c| !c.is_control()).collect();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.chars().count() <= MAX_CHARS {
        return Some(trimmed);
    }
    let mut cut: String = trimmed.chars().take(MAX_CHARS - 1).collect();
    cut.push('…');
    Some(cut)
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn answers_become_titles() {
        assert_eq!(clean("\"Hexagram One: The Creative.\"\n").as_deref(), Some("Hexagram One: The Creative"));
        assert_eq!(clean("标题：《乾卦的含义》。").as_deref(), Some("乾卦的含义"));
        assert_eq!(clean("\n\n  **Sleep   and  qi**  \nmore").as_deref(), Some("Sleep and qi"));
        assert_eq!(clean("  \"\"  "), None);
        assert_eq!(clean("").as_deref(), None);
        let long = clean(&"word ".repeat(30)).unwrap();
        assert_eq!(long.chars().count(), 40);
        assert!(long.ends_with('…'));
    }
}
