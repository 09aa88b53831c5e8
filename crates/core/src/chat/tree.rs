//! A conversation's messages as a tree: each message follows a parent, so that a regenerated
//! reply or an edited message is a new version beside the old one and nothing is overwritten.
//! The conversation's `active_leaf_id` says which branch is shown and sent to the model.
//!
//! The tree is read as a skeleton (ids, parents, roles: no content), at most
//! [`MAX_CONVERSATION_MESSAGES`] rows, and walked in memory. Parents as stored:
//! - a root names itself (a new conversation's first message, or an edited first message);
//! - NULL is a message from before versions (or from the previous version of the app): its
//!   parent is the message written just before it, so old conversations read as one branch;
//! - a parent that is not in the conversation is read like NULL.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect};

use crate::{
    entities::{Message, MessageRole, Withheld, message},
    error::AppResult,
};

/// The most messages (every version counted) a conversation may hold; a longer one takes no
/// more turns (`conversation_too_long`), and only its newest this many are read.
pub const MAX_CONVERSATION_MESSAGES: u64 = 10_000;

#[derive(Debug, Clone, FromQueryResult)]
struct Row {
    id: String,
    parent_id: Option<String>,
    role: MessageRole,
    withheld: Option<Withheld>,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub role: MessageRole,
    /// Index of the parent in [`Tree::nodes`]; `None` for a root.
    parent: Option<usize>,
    /// Stored without a parent: from before versions, or written by the previous version of
    /// the app (which does not move `active_leaf_id` either).
    legacy: bool,
    /// Moderation kept it from the model (known to a tree read with its skeleton: [`Tree::load`],
    /// [`Tree::from_skeleton`]).
    pub withheld: bool,
}

/// Where a message stands among its versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions {
    /// The ids of every version at this point (this message and its siblings), oldest first.
    pub ids: Vec<String>,
    /// This message's place in `ids`, from 0.
    pub index: usize,
}

#[derive(Debug, Default)]
pub struct Tree {
    /// Oldest first.
    pub nodes: Vec<Node>,
    by_id: HashMap<String, usize>,
    /// Children of each node (and, under `None`, the roots), oldest first.
    children: HashMap<Option<usize>, Vec<usize>>,
}

impl Tree {
    /// The skeleton of a conversation's messages.
    pub async fn load(db: &impl ConnectionTrait, conversation_id: &str) -> AppResult<Self> {
        let rows = Message::find()
            .select_only()
            .columns([message::Column::Id, message::Column::ParentId, message::Column::Role, message::Column::Withheld])
            .filter(message::Column::ConversationId.eq(conversation_id))
            .order_by_desc(message::Column::CreatedAt)
            .order_by_desc(message::Column::Id)
            .limit(MAX_CONVERSATION_MESSAGES)
            .into_model::<Row>()
            .all(db)
            .await?;
        Ok(Self::from_skeleton(rows.into_iter().rev().map(|row| (row.id, row.parent_id, row.role, row.withheld))))
    }

    /// A tree from skeleton rows `(id, parent_id, role, withheld)`, oldest first: what
    /// [`Tree::load`] reads (and a turn reads with its conversation, `super::loaded`).
    pub fn from_skeleton(
        rows: impl IntoIterator<Item = (String, Option<String>, MessageRole, Option<Withheld>)>,
    ) -> Self {
        let (rows, withheld): (Vec<_>, Vec<bool>) =
            rows.into_iter().map(|(id, parent, role, withheld)| ((id, parent, role), withheld.is_some())).unzip();
        let mut tree = Self::from_rows(rows);
        for (node, withheld) in tree.nodes.iter_mut().zip(withheld) {
            node.withheld = withheld;
        }
        tree
    }

    /// A tree from `(id, parent_id, role)` rows, oldest first.
    pub fn from_rows(rows: impl IntoIterator<Item = (String, Option<String>, MessageRole)>) -> Self {
        let rows: Vec<_> = rows.into_iter().collect();
        let by_id: HashMap<String, usize> =
            rows.iter().enumerate().map(|(index, row)| (row.0.clone(), index)).collect();
        let mut nodes = Vec::with_capacity(rows.len());
        let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
        for (index, (id, parent_id, role)) in rows.into_iter().enumerate() {
            let previous = index.checked_sub(1);
            let legacy = parent_id.is_none();
            let parent = match parent_id.as_deref() {
                Some(parent) if parent == id => None,
                // A parent written after its child (equal timestamps ordered by id) is still its
                // parent: the walk up is bounded, so even a corrupt cycle cannot hang it. A
                // parent outside the rows read (beyond the newest `MAX_CONVERSATION_MESSAGES`)
                // reads like a legacy one: the message before.
                Some(parent) => by_id.get(parent).copied().or(previous),
                None => previous,
            };
            children.entry(parent).or_default().push(index);
            nodes.push(Node { id, role, parent, legacy, withheld: false });
        }
        Self { nodes, by_id, children }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn find(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub fn node(&self, index: usize) -> &Node {
        &self.nodes[index]
    }

    pub fn parent(&self, index: usize) -> Option<usize> {
        self.nodes[index].parent
    }

    /// The last message of the branch shown: `active` when it is in the tree, else the newest;
    /// and the newest when the previous version of the app wrote it after `active` (during a
    /// rolling deploy), so that its turns are not hidden.
    pub fn leaf(&self, active: Option<&str>) -> Option<usize> {
        let newest = self.nodes.len().checked_sub(1)?;
        match active.and_then(|id| self.find(id)) {
            Some(active) if !(self.nodes[newest].legacy && newest > active) => Some(active),
            _ => Some(newest),
        }
    }

    /// The branch that ends at `index`, root first.
    pub fn branch(&self, index: usize) -> Vec<usize> {
        let mut branch = vec![index];
        let mut at = index;
        while let Some(parent) = self.nodes[at].parent {
            if branch.len() > self.nodes.len() {
                tracing::error!(message_id = %self.nodes[index].id, "the message tree has a cycle; cutting the branch");
                break;
            }
            branch.push(parent);
            at = parent;
        }
        branch.reverse();
        branch
    }

    /// The versions at `index`'s place: it and its siblings of the same role (a reply and a
    /// user message under one parent, as two turns sent at once leave them, are not versions
    /// of each other).
    pub fn versions(&self, index: usize) -> Versions {
        let role = self.nodes[index].role;
        let siblings: Vec<usize> = self
            .children
            .get(&self.nodes[index].parent)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&sibling| self.nodes[sibling].role == role)
            .collect();
        Versions {
            ids: siblings.iter().map(|&sibling| self.nodes[sibling].id.clone()).collect(),
            index: siblings.iter().position(|&sibling| sibling == index).unwrap_or(0),
        }
    }

    /// The stored messages at these places of the tree, in the same order (one query; a
    /// message deleted meanwhile is left out).
    pub async fn messages(
        &self,
        db: &impl ConnectionTrait,
        indexes: &[usize],
    ) -> AppResult<Vec<(usize, message::Model)>> {
        let ids: Vec<String> = indexes.iter().map(|&index| self.nodes[index].id.clone()).collect();
        let mut rows: HashMap<String, message::Model> = Message::find()
            .filter(message::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|row| (row.id.clone(), row))
            .collect();
        Ok(indexes.iter().filter_map(|&index| Some((index, rows.remove(&self.nodes[index].id)?))).collect())
    }

    /// Whether any reply has been written (a conversation whose title is still to be made).
    pub fn has_reply(&self) -> bool {
        self.nodes.iter().any(|node| node.role == MessageRole::Assistant)
    }

    /// The newest message in `index`'s subtree (itself included): where the branch through
    /// `index` was last continued, so switching to a version shows it as it was left.
    pub fn newest_under(&self, index: usize) -> usize {
        let mut newest = index;
        let mut pending = vec![index];
        let mut seen = 0;
        while let Some(at) = pending.pop() {
            seen += 1;
            if seen > self.nodes.len() {
                break;
            }
            newest = newest.max(at);
            pending.extend(self.children.get(&Some(at)).into_iter().flatten());
        }
        newest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(rows: &[(&str, Option<&str>, MessageRole)]) -> Tree {
        Tree::from_rows(rows.iter().map(|(id, parent, role)| (id.to_string(), parent.map(str::to_string), *role)))
    }

    fn ids(tree: &Tree, indexes: &[usize]) -> Vec<String> {
        indexes.iter().map(|&index| tree.node(index).id.clone()).collect()
    }

    use MessageRole::{Assistant as A, User as U};

    #[test]
    fn messages_from_before_versions_are_one_branch() {
        let tree = tree(&[("u1", None, U), ("a1", None, A), ("u2", None, U), ("a2", None, A)]);
        let leaf = tree.leaf(None).unwrap();
        assert_eq!(ids(&tree, &tree.branch(leaf)), ["u1", "a1", "u2", "a2"]);
        for index in 0..4 {
            assert_eq!(tree.versions(index).ids.len(), 1);
        }
    }

    #[test]
    fn regenerated_and_edited_messages_are_versions() {
        // u1 → a1; a1b regenerated beside a1; u2 after a1b, edited into u2b, answered by a2.
        let tree = tree(&[
            ("u1", Some("u1"), U),
            ("a1", Some("u1"), A),
            ("a1b", Some("u1"), A),
            ("u2", Some("a1b"), U),
            ("u2b", Some("a1b"), U),
            ("a2", Some("u2b"), A),
        ]);
        assert_eq!(ids(&tree, &tree.branch(tree.find("a2").unwrap())), ["u1", "a1b", "u2b", "a2"]);
        assert_eq!(
            tree.versions(tree.find("a1b").unwrap()),
            Versions { ids: vec!["a1".into(), "a1b".into()], index: 1 }
        );
        assert_eq!(tree.versions(tree.find("u2").unwrap()).index, 0);
        // Back to the first reply: its branch ends there; to the second: at a2, as it was left.
        assert_eq!(tree.newest_under(tree.find("a1").unwrap()), tree.find("a1").unwrap());
        assert_eq!(tree.newest_under(tree.find("a1b").unwrap()), tree.find("a2").unwrap());
        // The active leaf wins over the newest message; an unknown one falls back to it.
        assert_eq!(tree.leaf(Some("a1")), tree.find("a1"));
        assert_eq!(tree.leaf(Some("gone")), tree.find("a2"));
    }

    #[test]
    fn edited_first_messages_are_roots_side_by_side() {
        let tree = tree(&[("u1", Some("u1"), U), ("a1", Some("u1"), A), ("v1", Some("v1"), U), ("b1", Some("v1"), A)]);
        assert_eq!(ids(&tree, &tree.branch(tree.find("b1").unwrap())), ["v1", "b1"]);
        assert_eq!(tree.versions(tree.find("v1").unwrap()), Versions { ids: vec!["u1".into(), "v1".into()], index: 1 });
    }

    #[test]
    fn only_messages_of_one_role_are_versions() {
        // Two turns at once: u2 went under u1 while a1 was being written.
        let tree = tree(&[("u1", Some("u1"), U), ("a1", Some("u1"), A), ("u2", Some("u1"), U)]);
        assert_eq!(tree.versions(tree.find("a1").unwrap()).ids, ["a1"]);
        assert_eq!(tree.versions(tree.find("u2").unwrap()).ids, ["u2"]);
    }

    #[test]
    fn the_previous_app_versions_turns_are_shown() {
        // Versioned messages, then the previous version of the app appended two (no parent, and
        // it did not move the active leaf): they show, after the leaf they followed.
        let appended = tree(&[("u1", Some("u1"), U), ("a1", Some("u1"), A), ("u2", None, U), ("a2", None, A)]);
        assert_eq!(appended.leaf(Some("a1")), appended.find("a2"));
        assert_eq!(ids(&appended, &appended.branch(appended.find("a2").unwrap())), ["u1", "a1", "u2", "a2"]);
        // A leaf chosen after them stands.
        let regenerated = tree(&[("u1", None, U), ("a1", None, A), ("a1b", Some("u1"), A)]);
        assert_eq!(regenerated.leaf(Some("a1")), regenerated.find("a1"));
    }

    #[test]
    fn a_cycle_cannot_hang_the_walk() {
        let tree = tree(&[("x", Some("y"), U), ("y", Some("x"), A)]);
        assert!(tree.branch(1).len() <= 3);
        assert!(tree.newest_under(0) <= 1);
    }
}
