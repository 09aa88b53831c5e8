//! What a turn in a stored conversation reads before it places its message, in one statement:
//! the conversation (the caller's own), its tree's skeleton, the text of its newest messages,
//! whether a reading of the oracle is linked to it or a picture was sent in it, and what the turn's rate limits count
//! (the charge's keys are locked already). They were five round trips to RDS on every turn
//! (issue 26); now the conversation's columns come with each of its messages (a
//! `LEFT JOIN`, so a conversation with none still comes back), the newest texts come with
//! their messages (the branch the model reads is nearly always among them; what is not is read
//! apart), and the oracle's readings are read only when there are some.

use std::collections::HashMap;

use sea_orm::{
    ConnectionTrait, FromQueryResult, Iterable, QueryResult,
    sea_query::{Alias, Expr, ExprTrait, JoinType, Order, Query},
};

use super::tree::{MAX_CONVERSATION_MESSAGES, Tree};
use crate::{
    entities::{MessageRole, Withheld, attachment, conversation, message, reading},
    error::AppResult,
    rate_limit::Locked,
};

/// A stored conversation as a turn reads it.
pub struct Loaded {
    pub conversation: conversation::Model,
    /// Its newest [`MAX_CONVERSATION_MESSAGES`] messages, without their text.
    pub tree: Tree,
    /// Some reading of the oracle is linked to it (its prompt then carries them).
    pub has_readings: bool,
    /// Some picture was sent in it (the model is then shown those of the branch it reads).
    pub has_pictures: bool,
    /// The text of its newest messages (at most the `texts` asked for), by id.
    pub texts: HashMap<String, String>,
    /// The statement's first row, which carries the counts of the turn's charge.
    pub counted: QueryResult,
}

/// A message's skeleton, read beside its conversation's columns (`m_` names, which no column
/// of the conversation has); all `None` for a conversation without messages.
#[derive(FromQueryResult)]
struct Skeleton {
    id: Option<String>,
    parent_id: Option<String>,
    role: Option<MessageRole>,
    withheld: Option<Withheld>,
    /// Only for the newest messages.
    content: Option<String>,
}

/// The conversation `conversation_id` of `user_id`, its skeleton, the text of its newest
/// `texts` messages, its readings' presence and the counts of `charge`; `None` when it is not
/// the user's (or not there).
pub async fn load(
    db: &impl ConnectionTrait,
    user_id: &str,
    conversation_id: &str,
    texts: u64,
    charge: &Locked<'_>,
) -> AppResult<Option<Loaded>> {
    let (c, m) = (conversation::Entity, message::Entity);
    let readings = Query::select()
        .expr(Expr::val(1))
        .from(reading::Entity)
        .and_where(Expr::col((reading::Entity, reading::Column::ConversationId)).eq(conversation_id))
        .to_owned();
    let pictures = Query::select()
        .expr(Expr::val(1))
        .from(attachment::Entity)
        .and_where(Expr::col((attachment::Entity, attachment::Column::ConversationId)).eq(conversation_id))
        .and_where(Expr::col((attachment::Entity, attachment::Column::DeletedAt)).is_null())
        .to_owned();
    // The newest texts in a table of their own (a derived table with a LIMIT, which every
    // engine reads through the conversation's index and materializes): only these rows'
    // content is read, however long the conversation, and no other message's text is touched.
    let newest = Alias::new("newest");
    let newest_texts = Query::select()
        .columns([message::Column::Id, message::Column::Content])
        .from(m)
        .and_where(Expr::col((m, message::Column::ConversationId)).eq(conversation_id))
        .order_by((m, message::Column::CreatedAt), Order::Desc)
        .order_by((m, message::Column::Id), Order::Desc)
        .limit(texts)
        .to_owned();
    let mut query = Query::select();
    query
        .columns(conversation::Column::iter().map(|column| (c, column)))
        .expr_as(Expr::exists(readings), Alias::new("has_readings"))
        .expr_as(Expr::exists(pictures), Alias::new("has_pictures"))
        .expr_as(Expr::col((m, message::Column::Id)), Alias::new("m_id"))
        .expr_as(Expr::col((m, message::Column::ParentId)), Alias::new("m_parent_id"))
        .expr_as(Expr::col((m, message::Column::Role)), Alias::new("m_role"))
        .expr_as(Expr::col((m, message::Column::Withheld)), Alias::new("m_withheld"))
        .expr_as(Expr::col((newest.clone(), message::Column::Content)), Alias::new("m_content"))
        .from(c)
        .left_join(m, Expr::col((m, message::Column::ConversationId)).equals((c, conversation::Column::Id)))
        .join_subquery(
            JoinType::LeftJoin,
            newest_texts,
            newest.clone(),
            Expr::col((newest.clone(), message::Column::Id)).equals((m, message::Column::Id)),
        )
        .and_where(Expr::col((c, conversation::Column::Id)).eq(conversation_id))
        .and_where(Expr::col((c, conversation::Column::UserId)).eq(user_id))
        .order_by((m, message::Column::CreatedAt), Order::Desc)
        .order_by((m, message::Column::Id), Order::Desc)
        .limit(MAX_CONVERSATION_MESSAGES);
    charge.count_in(&mut query);
    let mut rows = db.query_all(&query).await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let conversation = conversation::Model::from_query_result(first, "")?;
    let has_readings = first.try_get::<i64>("", "has_readings")? != 0;
    let has_pictures = first.try_get::<i64>("", "has_pictures")? != 0;
    let mut skeleton = Vec::with_capacity(rows.len());
    let mut known = HashMap::new();
    for row in rows.iter().rev() {
        let message = Skeleton::from_query_result(row, "m_")?;
        if let (Some(id), Some(role)) = (message.id, message.role) {
            if let Some(content) = message.content {
                known.insert(id.clone(), content);
            }
            skeleton.push((id, message.parent_id, role, message.withheld));
        }
    }
    let counted = rows.swap_remove(0);
    Ok(Some(Loaded {
        conversation,
        tree: Tree::from_skeleton(skeleton),
        has_readings,
        has_pictures,
        texts: known,
        counted,
    }))
}
