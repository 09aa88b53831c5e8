//! Search the caller's conversations: `GET /api/chat/search?q=…`, by title and by the text of
//! any message (every version, shown or not). Substring semantics, so Chinese text matches
//! without word boundaries; Latin letters match case-insensitively (MySQL's
//! `utf8mb4_unicode_ci` collation; SQLite's `LIKE`, which folds ASCII letters only).
//!
//! **How it stays fast.** A search only ever reads the caller's own rows: it walks their
//! conversations newest first through `idx_conversations_user_updated`, tests each one's
//! messages through `idx_messages_conversation_created`, and stops once it has a page. So its
//! cost follows the size of one account, not of the messages table: at worst (a text found
//! nowhere) it reads every message of the account once. Full-text indexes were
//! not chosen: InnoDB's default parser splits words on spaces (no Chinese), its ngram parser
//! exists in MySQL but not in MariaDB, and SQLite's trigram tokenizer cannot find the one- and
//! two-character words Chinese questions are made of (失眠, 气). BENCHMARKS.md has the figures.
//!
//! `%`, `_` and `!` in the query are matched literally (escaped with `!`).

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    Statement, Value, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::history::{self, ConversationView, Cursor};
use crate::{
    auth::AuthUser,
    entities::{Conversation, MessageRole, conversation},
    error::{AppError, AppResult, ErrorBody},
    http::{ApiRoutes, AppQuery, routes::api_routes},
    state::AppState,
};

pub fn routes() -> ApiRoutes {
    api_routes![search]
}

/// The longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 100;
/// Characters of context a snippet keeps before the match, and after it.
const CONTEXT_BEFORE: usize = 30;
const CONTEXT_AFTER: usize = 60;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The text to find (1–100 characters; surrounding spaces are ignored).
    #[param(min_length = 1, max_length = 100)]
    pub q: String,
    /// Hits per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchResults {
    /// Conversations that match, most recently active first.
    pub hits: Vec<SearchHit>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub conversation: ConversationView,
    /// The title contains the query.
    pub title_match: bool,
    /// How many of the conversation's messages contain it.
    pub matches: u64,
    /// The newest of them, with a snippet (`null` when only the title matched).
    pub message: Option<MessageMatch>,
}

/// A message that contains the query, and the text around the match: show
/// `before` + `match` (highlighted) + `after`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageMatch {
    pub id: String,
    pub role: MessageRole,
    pub created_at: DateTime<Utc>,
    /// Up to 30 characters before the match (then starting with "…", which is not counted,
    /// when cut).
    pub before: String,
    /// The matched text as written in the message.
    #[serde(rename = "match")]
    pub matched: String,
    /// Up to 60 characters after it (then ending with "…", not counted, when cut).
    pub after: String,
}

/// Find your conversations whose title or messages contain a text.
#[utoipa::path(
    get,
    path = "/api/chat/search",
    tag = "chat",
    security(("bearer" = [])),
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of matching conversations", body = SearchResults),
        (status = 400, description = "A `cursor` this API did not return (`invalid_query`)", body = ErrorBody),
        (status = 422, description = "An empty or too long `q` (`invalid_query`)", body = ErrorBody),
    )
)]
pub async fn search(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(query): AppQuery<SearchQuery>,
) -> AppResult<Json<SearchResults>> {
    let text = query.q.trim();
    let length = text.chars().count();
    if length == 0 || length > MAX_QUERY_CHARS {
        return Err(AppError::validation("invalid_query", format!("`q` must have 1 to {MAX_QUERY_CHARS} characters")));
    }
    let limit = history::page_size(query.limit)?;
    let pattern = like_pattern(text);
    // A withheld reply's words were never shown to its user: they are not searched either.
    let in_messages = Expr::cust_with_values(
        "EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id \
         AND m.content LIKE ? ESCAPE '!' AND (m.withheld IS NULL OR m.role = 'USER'))",
        [pattern.clone()],
    );
    let in_title = Expr::cust_with_values("conversations.title LIKE ? ESCAPE '!'", [pattern.clone()]);
    let mut select = Conversation::find()
        .filter(conversation::Column::UserId.eq(&auth.user.id))
        .filter(Condition::any().add(in_title).add(in_messages))
        .order_by_desc(conversation::Column::UpdatedAt)
        .order_by_desc(conversation::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = query.cursor.as_deref() {
        select =
            select.filter(Cursor::decode(cursor)?.before(conversation::Column::UpdatedAt, conversation::Column::Id));
    }
    let mut conversations = select.all(&state.db).await?;
    let more = conversations.len() as u64 > limit;
    conversations.truncate(limit as usize);
    let next_cursor =
        more.then(|| conversations.last().map(|last| Cursor::encode(last.updated_at, &last.id))).flatten();

    let ids: Vec<&str> = conversations.iter().map(|conversation| conversation.id.as_str()).collect();
    let mut newest = newest_matches(&state, &ids, &pattern).await?;
    let hits = conversations
        .into_iter()
        .map(|conversation| {
            let found =
                newest.iter().position(|row| row.conversation_id == conversation.id).map(|at| newest.swap_remove(at));
            SearchHit {
                title_match: find(&conversation.title, text).is_some(),
                matches: found.as_ref().map_or(0, |row| u64::try_from(row.hits).unwrap_or_default()),
                message: found.map(|row| row.snippet(text)),
                conversation: conversation.into(),
            }
        })
        .collect();
    Ok(Json(SearchResults { hits, next_cursor }))
}

/// The newest matching message of each conversation, with how many match.
#[derive(Debug, FromQueryResult)]
struct NewestMatch {
    id: String,
    conversation_id: String,
    role: MessageRole,
    content: String,
    created_at: DateTime<Utc>,
    hits: i64,
}

impl NewestMatch {
    fn snippet(self, text: &str) -> MessageMatch {
        let (before, matched, after) = snippet(&self.content, text);
        MessageMatch { id: self.id, role: self.role, created_at: self.created_at, before, matched, after }
    }
}

async fn newest_matches(state: &AppState, conversation_ids: &[&str], pattern: &str) -> AppResult<Vec<NewestMatch>> {
    if conversation_ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = vec!["?"; conversation_ids.len()].join(", ");
    let sql = format!(
        "SELECT id, conversation_id, role, content, created_at, hits FROM ( \
           SELECT m.id, m.conversation_id, m.role, m.content, m.created_at, \
             ROW_NUMBER() OVER (PARTITION BY m.conversation_id ORDER BY m.created_at DESC, m.id DESC) AS newest, \
             COUNT(*) OVER (PARTITION BY m.conversation_id) AS hits \
           FROM messages m WHERE m.conversation_id IN ({placeholders}) AND m.content LIKE ? ESCAPE '!' \
             AND (m.withheld IS NULL OR m.role = 'USER') \
         ) ranked WHERE newest = 1"
    );
    let mut values: Vec<Value> = conversation_ids.iter().map(|id| Value::from(*id)).collect();
    values.push(Value::from(pattern));
    let statement = Statement::from_sql_and_values(state.db.get_database_backend(), sql, values);
    Ok(NewestMatch::find_by_statement(statement).all(&state.db).await?)
}

/// `%text%` for `LIKE … ESCAPE '!'`, with the text's own `%`, `_` and `!` escaped.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Where `needle` first occurs in `haystack`, letters compared case-insensitively: the byte
/// range of the match.
fn find(haystack: &str, needle: &str) -> Option<(usize, usize)> {
    let needle: Vec<char> = needle.chars().flat_map(char::to_lowercase).collect();
    haystack.char_indices().find_map(|(start, _)| {
        let mut wanted = needle.iter();
        let mut next = wanted.next();
        for (offset, c) in haystack[start..].char_indices() {
            for lower in c.to_lowercase() {
                match next {
                    Some(want) if *want == lower => next = wanted.next(),
                    _ => return None,
                }
            }
            if next.is_none() {
                return Some((start, start + offset + c.len_utf8()));
            }
        }
        None
    })
}

/// The text around the first match of `text` in `content`, on one line. When the database
/// matched what this does not (a collation equating accented letters), the start of the
/// message is shown instead, with nothing highlighted.
fn snippet(content: &str, text: &str) -> (String, String, String) {
    let one_line = |part: &str| part.split_whitespace().collect::<Vec<_>>().join(" ");
    let Some((start, end)) = find(content, text) else {
        return (String::new(), String::new(), cut_after(&one_line(content), CONTEXT_BEFORE + CONTEXT_AFTER));
    };
    // The space that separated the text from the match is part of the context, and counts
    // toward its bound like any other character.
    let mut before = one_line(&content[..start]);
    if content[..start].ends_with(char::is_whitespace) && !before.is_empty() {
        before.push(' ');
    }
    let skipped = before.chars().count().saturating_sub(CONTEXT_BEFORE);
    let mut shown: String = before.chars().skip(skipped).collect();
    if skipped > 0 {
        shown.insert(0, '…');
    }
    let mut after = one_line(&content[end..]);
    if content[end..].starts_with(char::is_whitespace) && !after.is_empty() {
        after.insert(0, ' ');
    }
    (shown, content[start..end].to_string(), cut_after(&after, CONTEXT_AFTER))
}

fn cut_after(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(chars).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_specials_are_escaped() {
        assert_eq!(like_pattern("100%_!"), "%100!%!_!!%");
        assert_eq!(like_pattern("失眠"), "%失眠%");
    }

    #[test]
    fn finds_case_insensitively_on_char_boundaries() {
        assert_eq!(find("The Hexagram", "hexagram"), Some((4, 12)));
        assert_eq!(find("最近失眠多梦", "失眠"), Some((6, 12)));
        assert_eq!(find("ÉTÉ", "été"), Some((0, 5)));
        assert_eq!(find("abc", "abcd"), None);
        assert_eq!(find("", "a"), None);
    }

    #[test]
    fn snippets_keep_context_on_one_line() {
        let (before, matched, after) = snippet("I sleep\nbadly: INSOMNIA since May", "insomnia");
        assert_eq!((before.as_str(), matched.as_str(), after.as_str()), ("I sleep badly: ", "INSOMNIA", " since May"));
        let long = format!("{}失眠{}", "前".repeat(50), "后".repeat(100));
        let (before, matched, after) = snippet(&long, "失眠");
        assert_eq!(before, format!("…{}", "前".repeat(CONTEXT_BEFORE)));
        assert_eq!(matched, "失眠");
        assert_eq!(after, format!("{}…", "后".repeat(CONTEXT_AFTER)));
        // Whitespace of any kind (a tab, a newline, an ideographic space) before and after the
        // match: one space, inside the bounds.
        for space in [" ", "\t", "\n\n", "\u{3000}", "\u{a0}"] {
            for length in [CONTEXT_BEFORE - 1, CONTEXT_BEFORE, CONTEXT_BEFORE + 1, 100] {
                let content = format!("{}{space}失眠{space}{}", "前".repeat(length), "后".repeat(length * 2));
                let (before, matched, after) = snippet(&content, "失眠");
                assert_eq!(matched, "失眠");
                let counted = |text: &str| text.trim_start_matches('…').trim_end_matches('…').chars().count();
                assert!(counted(&before) <= CONTEXT_BEFORE, "{length} {space:?}: {before:?}");
                assert!(counted(&after) <= CONTEXT_AFTER, "{length} {space:?}: {after:?}");
                assert!(before.ends_with(' ') && after.starts_with(' '), "{before:?} {after:?}");
            }
        }
        // Matched by the database but not here: the start of the message, nothing highlighted.
        let (before, matched, after) = snippet("cafe au lait", "café");
        assert_eq!((before.as_str(), matched.as_str(), after.as_str()), ("", "", "cafe au lait"));
    }
}
