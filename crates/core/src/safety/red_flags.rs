//! Emergency signs in what a user writes, found by a fixed, reviewed rule list
//! (`crates/core/data/red_flags.json`, versioned) rather than by the model: the same message
//! always raises the same card, whatever the model would have said.
//!
//! Matching: the text is normalised (full-width forms read as ASCII, curly apostrophes as
//! straight ones, lower case, runs of whitespace as one space; Chinese is also matched with the
//! whitespace removed). English phrases match whole words, Chinese ones anywhere. A match right
//! after a negation (or inside an idiom the rule lists) does not count: one of three words before it in the same clause for English
//! (`I don't have chest pain`), the characters just before it for Chinese (`没有胸痛`). Every
//! text is checked against both languages (people mix them).

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Which card a rule raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CardKind {
    /// Call the emergency number now; the nearest emergency department.
    Emergency,
    /// The psychological assistance hotline (and the emergency number).
    Crisis,
}

#[derive(Debug, Deserialize)]
pub struct RuleSet {
    pub version: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
pub struct Rule {
    pub id: String,
    pub card: CardKind,
    #[serde(default)]
    en: Vec<String>,
    #[serde(default)]
    zh: Vec<String>,
    /// Matches when one phrase of every group is there.
    #[serde(default)]
    en_together: Vec<Vec<String>>,
    #[serde(default)]
    zh_together: Vec<Vec<String>>,
    /// Idioms an English match that overlaps does not count (`had a stroke of luck`).
    #[serde(default)]
    en_except: Vec<String>,
}

/// A rule that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedFlag {
    pub rule: &'static str,
    pub card: CardKind,
}

/// The rule list shipped with the binary. (Its validity is a test: a list that does not parse
/// fails the build's tests, never a request.)
pub fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| {
        serde_json::from_str(include_str!("../../data/red_flags.json")).expect("red_flags.json is valid (tested)")
    })
}

/// The first rule (in the list's order) that `text` matches.
pub fn check(text: &str) -> Option<RedFlag> {
    let normal = normalise(text);
    let compact: String = normal.chars().filter(|c| !c.is_whitespace()).collect();
    rules()
        .rules
        .iter()
        .find(|rule| rule.matches(&normal, &compact))
        .map(|rule| RedFlag { rule: &rule.id, card: rule.card })
}

/// The rule with this id (a stored turn's card).
pub fn rule(id: &str) -> Option<RedFlag> {
    rules().rules.iter().find(|rule| rule.id == id).map(|rule| RedFlag { rule: &rule.id, card: rule.card })
}

impl Rule {
    fn matches(&self, normal: &str, compact: &str) -> bool {
        let english = |phrase: &String| english_match(normal, phrase, &self.en_except);
        let chinese = |phrase: &String| chinese_match(compact, phrase);
        self.en.iter().any(english)
            || self.zh.iter().any(chinese)
            || (!self.en_together.is_empty() && self.en_together.iter().all(|group| group.iter().any(english)))
            || (!self.zh_together.is_empty() && self.zh_together.iter().all(|group| group.iter().any(chinese)))
    }
}

fn normalise(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

const ENGLISH_NEGATIONS: [&str; 14] = [
    "no", "not", "don't", "dont", "never", "without", "isn't", "didn't", "doesn't", "haven't", "hasn't", "aren't",
    "wasn't", "denies",
];
const CHINESE_NEGATIONS: [&str; 7] = ["没有", "没", "无", "不", "未", "并非", "否认"];

/// `phrase` in `text` as whole words, not overlapping one of `except`, not right after a negation.
fn english_match(text: &str, phrase: &str, except: &[String]) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let idiom = |start: usize, end: usize| {
        except
            .iter()
            .any(|idiom| text.match_indices(idiom.as_str()).any(|(at, _)| at < end && start < at + idiom.len()))
    };
    text.match_indices(phrase).any(|(start, _)| {
        let end = start + phrase.len();
        !word(text[..start].chars().next_back())
            && !word(text[end..].chars().next())
            && !idiom(start, end)
            && !english_negated(&text[..start])
    })
}

fn english_negated(before: &str) -> bool {
    // Only the clause the match is in.
    let clause = before.rsplit(['.', ',', ';', '!', '?', ':']).next().unwrap_or(before);
    let words: Vec<&str> = clause.split_whitespace().collect();
    words
        .iter()
        .rev()
        .take(3)
        .any(|word| ENGLISH_NEGATIONS.contains(&word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')))
}

/// `phrase` anywhere in `text` (whitespace removed), not right after a negation.
fn chinese_match(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase)
        .any(|(start, _)| !CHINESE_NEGATIONS.iter().any(|negation| text[..start].ends_with(negation)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_parses_and_ids_are_unique() {
        let set = rules();
        assert!(!set.version.is_empty());
        let mut ids: Vec<&str> = set.rules.iter().map(|rule| rule.id.as_str()).collect();
        ids.sort_unstable();
        let count = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), count, "rule ids are unique");
        for rule in &set.rules {
            let phrases = rule
                .en
                .iter()
                .chain(&rule.zh)
                .chain(rule.en_together.iter().flatten())
                .chain(rule.zh_together.iter().flatten());
            for phrase in phrases {
                assert_eq!(phrase, &normalise(phrase), "{}: {phrase:?} must be written as it is matched", rule.id);
            }
        }
    }
}
