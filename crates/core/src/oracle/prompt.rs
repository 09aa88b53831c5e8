//! A reading in the chat: a turn names it (`readingId`), which links it to the turn's
//! conversation ([`attach`]); every turn of that conversation then gives the model its readings
//! ([`section`]) — the question, the hexagrams and the governing texts verbatim — with the
//! instruction to quote the classic only from them. A turn without a reading works as before.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};

use super::{journal::Reading, reading::TextKind};
use crate::{
    entities::{ConversationKind, conversation, reading as stored},
    error::{AppError, AppResult},
    language::Language,
};

/// The readings a conversation's prompt carries at most (the newest).
pub const READINGS_IN_PROMPT: u64 = 3;

/// Links the reading `reading_id` of `user_id` to `conversation` (within the turn's
/// transaction): 404 for no such reading, 422 `reading_not_oracle` for a TCM conversation, 409
/// `reading_elsewhere` when another conversation asks about it already.
pub async fn attach(
    txn: &impl ConnectionTrait,
    user_id: &str,
    reading_id: &str,
    conversation: &conversation::Model,
) -> AppResult<()> {
    if conversation.kind != ConversationKind::Oracle {
        return Err(AppError::validation(
            "reading_not_oracle",
            "a reading is asked about in a conversation with the oracle",
        ));
    }
    let row = stored::Entity::find_by_id(reading_id.to_string())
        .filter(stored::Column::UserId.eq(user_id))
        .one(txn)
        .await?
        .ok_or(AppError::NotFound("reading"))?;
    match row.conversation_id.as_deref() {
        Some(id) if id == conversation.id => Ok(()),
        Some(_) => Err(AppError::conflict("reading_elsewhere", "this reading belongs to another conversation")),
        None => {
            stored::Entity::update_many()
                .col_expr(stored::Column::ConversationId, Expr::value(conversation.id.clone()))
                .filter(stored::Column::Id.eq(reading_id))
                .filter(stored::Column::ConversationId.is_null())
                .exec(txn)
                .await?;
            Ok(())
        }
    }
}

/// The prompt's reading section for `conversation_id` (`None` without readings).
pub async fn section(
    db: &impl ConnectionTrait,
    conversation_id: &str,
    language: Language,
) -> AppResult<Option<String>> {
    let mut rows = stored::Entity::find()
        .filter(stored::Column::ConversationId.eq(conversation_id))
        .order_by_desc(stored::Column::CreatedAt)
        .limit(READINGS_IN_PROMPT)
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    rows.reverse(); // oldest first, as they were cast
    let readings: Vec<Reading> = rows.iter().map(Reading::from_row).collect();
    Ok(Some(render(&readings, language)))
}

/// The person's question as one JSON string: its line breaks and quotes escaped, so that what
/// they typed reads as their words, never as more of the system prompt's sections.
fn quoted(question: &str) -> String {
    serde_json::to_string(question).unwrap_or_default()
}

/// The section's text: what was cast, and the governing texts verbatim.
pub fn render(readings: &[Reading], language: Language) -> String {
    let zh = language == Language::Chinese;
    let mut text = String::from(if zh {
        "# 本次占筮（由服务器起卦，不得另选他卦）\n以下是用户的卦。解读时只可逐字引用下列“所占之辞”中的经文，不要引用或编造其他卦爻辞；用用户的语言解释。"
    } else {
        "# The reading (cast by the server; never choose another hexagram)\nBelow is the user's reading. Quote the classic only from the governing texts listed, word for word; never quote or invent other lines. Explain in the user's language."
    });
    for reading in readings {
        let view = &reading.reading;
        let lines: Vec<String> = view.lines.iter().map(u8::to_string).collect();
        text.push_str("\n\n");
        if zh {
            text.push_str(&format!("问题（用户原话，仅供引述）：{}\n", quoted(&reading.question)));
            text.push_str(&format!("六爻（自下而上）：{}\n", lines.join(" ")));
            text.push_str(&format!(
                "本卦：第{}卦 {}（上{}下{}）\n",
                view.primary.number, view.primary.name, view.primary.upper.name, view.primary.lower.name
            ));
            if let Some(relating) = &view.relating {
                let positions: Vec<String> = view.changing.iter().map(u8::to_string).collect();
                text.push_str(&format!(
                    "变爻：第{}爻\n之卦：第{}卦 {}\n",
                    positions.join("、"),
                    relating.number,
                    relating.name
                ));
            }
            text.push_str("所占之辞（朱熹《易学启蒙》占法）：");
        } else {
            text.push_str(&format!("Question (the user's words, quoted): {}\n", quoted(&reading.question)));
            text.push_str(&format!("{}\n", reading.summary));
            text.push_str(&format!("Lines, bottom to top: {}\n", lines.join(" ")));
            text.push_str(&format!(
                "Primary: {} above, {} below\n",
                view.primary.upper.english, view.primary.lower.english
            ));
            text.push_str("Governing texts (Zhu Xi's rule), in Chinese:");
        }
        for governing in &view.governing {
            let what = match governing.kind {
                TextKind::Judgment => {
                    if zh {
                        "卦辞"
                    } else {
                        "judgment"
                    }
                }
                TextKind::Line => {
                    if zh {
                        "爻辞"
                    } else {
                        "line"
                    }
                }
                TextKind::Extra => {
                    if zh {
                        "用辞"
                    } else {
                        "use"
                    }
                }
            };
            let first = if governing.principal { if zh { "（为主）" } else { " (principal)" } } else { "" };
            text.push_str(&format!("\n- [{what}{first}] {}", governing.text));
        }
    }
    text
}
