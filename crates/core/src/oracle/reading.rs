//! A reading as data: the primary hexagram of the six lines cast, its changing lines, the
//! relating hexagram (之卦: every changing line turned into its opposite), and the texts that
//! govern the answer.
//!
//! Which texts govern follows Zhu Xi's rule (朱熹《易学启蒙·考变占》), the one most often
//! taught and the most complete (it says what to read for every number of changing lines):
//! - none: the primary hexagram's judgment;
//! - one: that line of the primary;
//! - two: both changing lines of the primary, the upper one principal;
//! - three: the judgments of both hexagrams, the primary's principal (贞) and the relating's
//!   second (悔);
//! - four: the relating hexagram's two unchanged lines, the lower one principal;
//! - five: the relating hexagram's one unchanged line;
//! - six: 乾 and 坤 read their extra line (用九, 用六); every other hexagram the relating
//!   hexagram's judgment.
//!
//! The texts are the book's own words, never the model's: the chat gives them to the model
//! verbatim with the instruction to quote only from them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    book::{Book, Hexagram, book},
    casting::{LineValue, is_changing, is_yang},
};

/// A hexagram as a reading shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HexagramView {
    /// King Wen number, 1–64.
    pub number: u8,
    /// 泰.
    pub name: String,
    /// Peace.
    pub english: String,
    /// ䷊.
    pub symbol: String,
    pub upper: TrigramView,
    pub lower: TrigramView,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrigramView {
    /// 坤.
    pub name: String,
    pub symbol: String,
    /// Earth.
    pub english: String,
    /// Its image: 地.
    pub nature: String,
}

/// Which text of a hexagram.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TextKind {
    /// The hexagram's judgment (卦辞).
    Judgment,
    /// A line's text (爻辞).
    Line,
    /// 用九 or 用六.
    Extra,
}

/// A text that governs the reading, verbatim.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GoverningText {
    /// The hexagram it is from (the primary's or the relating's number).
    pub hexagram: u8,
    pub kind: TextKind,
    /// The line's position, 1 (bottom) to 6, for `line`.
    pub position: Option<u8>,
    /// 初九, 九二…, 用九; the hexagram's name for a judgment.
    pub label: String,
    pub text: String,
    /// The text the answer rests on first (Zhu Xi names one principal when two govern).
    pub principal: bool,
}

/// A cast read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadingView {
    /// The six values cast, bottom first: 6 old yin, 7 young yang, 8 young yin, 9 old yang.
    pub lines: Vec<LineValue>,
    pub primary: HexagramView,
    /// The positions (1–6) of the changing lines (6 and 9).
    pub changing: Vec<u8>,
    /// The hexagram the changing lines lead to; `null` when none changes.
    pub relating: Option<HexagramView>,
    /// What governs the answer, by `rule`.
    pub governing: Vec<GoverningText>,
    /// `zhu_xi`.
    pub rule: String,
}

/// Reads six line values (each 6–9, bottom first; checked by the caller).
pub fn read(lines: [LineValue; 6]) -> ReadingView {
    let book = book();
    let primary = book.by_lines(lines.map(is_yang));
    let changing: Vec<u8> = (1..=6u8).filter(|&position| is_changing(lines[usize::from(position - 1)])).collect();
    let relating =
        (!changing.is_empty()).then(|| book.by_lines(lines.map(|value| is_yang(value) != is_changing(value))));
    let governing = governing(primary, relating, &changing);
    ReadingView {
        lines: lines.to_vec(),
        primary: view(book, primary),
        changing,
        relating: relating.map(|hexagram| view(book, hexagram)),
        governing,
        rule: "zhu_xi".into(),
    }
}

fn view(book: &Book, hexagram: &Hexagram) -> HexagramView {
    let trigram = |name: &str| {
        let trigram = book.trigram(name);
        TrigramView {
            name: trigram.name.clone(),
            symbol: trigram.symbol.clone(),
            english: trigram.english.clone(),
            nature: trigram.nature.clone(),
        }
    };
    HexagramView {
        number: hexagram.number,
        name: hexagram.name.clone(),
        english: hexagram.english.clone(),
        symbol: hexagram.symbol.clone(),
        upper: trigram(&hexagram.upper),
        lower: trigram(&hexagram.lower),
    }
}

fn judgment(hexagram: &Hexagram, principal: bool) -> GoverningText {
    GoverningText {
        hexagram: hexagram.number,
        kind: TextKind::Judgment,
        position: None,
        label: hexagram.name.clone(),
        text: hexagram.judgment.clone(),
        principal,
    }
}

fn line(hexagram: &Hexagram, position: u8, principal: bool) -> GoverningText {
    let line = &hexagram.lines[usize::from(position - 1)];
    GoverningText {
        hexagram: hexagram.number,
        kind: TextKind::Line,
        position: Some(position),
        label: line.label.clone(),
        text: line.text.clone(),
        principal,
    }
}

/// Zhu Xi's rule (see the module's documentation).
fn governing(primary: &Hexagram, relating: Option<&Hexagram>, changing: &[u8]) -> Vec<GoverningText> {
    let unchanged: Vec<u8> = (1..=6).filter(|position| !changing.contains(position)).collect();
    let relating = || relating.expect("lines change, so there is a relating hexagram");
    match changing.len() {
        0 => vec![judgment(primary, true)],
        1 => vec![line(primary, changing[0], true)],
        2 => vec![line(primary, changing[1], true), line(primary, changing[0], false)],
        3 => vec![judgment(primary, true), judgment(relating(), false)],
        4 => vec![line(relating(), unchanged[0], true), line(relating(), unchanged[1], false)],
        5 => vec![line(relating(), unchanged[0], true)],
        _ => match &primary.extra_line {
            Some(extra) => vec![GoverningText {
                hexagram: primary.number,
                kind: TextKind::Extra,
                position: None,
                label: extra.label.clone(),
                text: extra.text.clone(),
                principal: true,
            }],
            None => vec![judgment(relating(), true)],
        },
    }
}

/// "Hexagram 11 泰 Peace, changing lines 2 and 5, becoming 5 需 Waiting": the reading in a
/// sentence (the site's text alternative; the prompt's summary).
pub fn summary(reading: &ReadingView) -> String {
    let primary = &reading.primary;
    let mut text = format!("Hexagram {} {} {}", primary.number, primary.name, primary.english);
    if !reading.changing.is_empty() {
        let positions: Vec<String> = reading.changing.iter().map(u8::to_string).collect();
        let positions = match positions.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => positions.join(""),
        };
        let noun = if reading.changing.len() == 1 { "line" } else { "lines" };
        text.push_str(&format!(", changing {noun} {positions}"));
    }
    if let Some(relating) = &reading.relating {
        text.push_str(&format!(", becoming {} {} {}", relating.number, relating.name, relating.english));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(reading: &ReadingView) -> Vec<(u8, &str, bool)> {
        reading.governing.iter().map(|text| (text.hexagram, text.text.as_str(), text.principal)).collect()
    }

    #[test]
    fn no_changing_line_reads_the_judgment() {
        // 泰: 乾 below, 坤 above, nothing changing.
        let reading = read([7, 7, 7, 8, 8, 8]);
        assert_eq!(reading.primary.number, 11);
        assert_eq!((reading.primary.upper.name.as_str(), reading.primary.lower.english.as_str()), ("坤", "Heaven"));
        assert!(reading.changing.is_empty() && reading.relating.is_none());
        assert_eq!(texts(&reading), [(11, "泰：小往大来，吉亨。", true)]);
        assert_eq!(summary(&reading), "Hexagram 11 泰 Peace");
    }

    #[test]
    fn one_changing_line_reads_that_line() {
        // 乾 with its first line old: 潜龙勿用, becoming 姤 (44).
        let reading = read([9, 7, 7, 7, 7, 7]);
        assert_eq!((reading.primary.number, reading.relating.as_ref().unwrap().number), (1, 44));
        assert_eq!(reading.changing, [1]);
        assert_eq!(texts(&reading), [(1, "初九：潜龙勿用。", true)]);
        assert_eq!(
            summary(&reading),
            "Hexagram 1 乾 The Creative Heaven, changing line 1, becoming 44 姤 Coming to Meet"
        );
    }

    #[test]
    fn two_changing_lines_read_both_the_upper_first() {
        // 泰 with lines 2 and 5 old: 2 (yang→yin) and 5 (yin→yang) give 既济 (63).
        let reading = read([7, 9, 7, 8, 6, 8]);
        assert_eq!(reading.primary.number, 11);
        assert_eq!(reading.relating.as_ref().unwrap().number, 63);
        assert_eq!(
            texts(&reading),
            [(11, "六五：帝乙归妹，以祉，元吉。", true), (11, "九二：包荒。用冯河，不遐遗；朋亡。得尚于中行。", false)]
        );
        assert_eq!(
            summary(&reading),
            "Hexagram 11 泰 Peace, changing lines 2 and 5, becoming 63 既济 After Completion"
        );
    }

    #[test]
    fn three_changing_lines_read_both_judgments() {
        // 泰 with its lower three old: becoming 坤.
        let reading = read([9, 9, 9, 8, 8, 8]);
        assert_eq!(reading.relating.as_ref().unwrap().number, 2);
        assert_eq!(
            texts(&reading),
            [(11, "泰：小往大来，吉亨。", true), (2, reading.governing[1].text.as_str(), false),]
        );
        assert!(reading.governing[1].text.starts_with("坤：元亨。利牝马之贞。"), "{}", reading.governing[1].text);
    }

    #[test]
    fn four_changing_lines_read_the_relating_unchanged_lines_the_lower_first() {
        // 乾 with lines 1–4 old: becoming 观 (20: 坤 below, 巽 above); its unchanged lines are 5 and 6.
        let reading = read([9, 9, 9, 9, 7, 7]);
        let relating = reading.relating.as_ref().unwrap();
        assert_eq!(relating.number, 20);
        let expected = [
            (20, book().hexagram(20).lines[4].text.as_str(), true),
            (20, book().hexagram(20).lines[5].text.as_str(), false),
        ];
        assert_eq!(texts(&reading), expected);
        assert!(reading.governing[0].text.starts_with("九五"), "{}", reading.governing[0].text);
    }

    #[test]
    fn five_changing_lines_read_the_one_unchanged_line_of_the_relating() {
        // 坤 with all but line 3 old: yang yang yin yang yang yang, 履 (10).
        let reading = read([6, 6, 8, 6, 6, 6]);
        assert_eq!(reading.relating.as_ref().unwrap().number, 10);
        assert_eq!(reading.governing.len(), 1);
        assert_eq!((reading.governing[0].hexagram, reading.governing[0].position), (10, Some(3)));
        assert!(reading.governing[0].text.starts_with("六三"), "{}", reading.governing[0].text);
    }

    #[test]
    fn six_changing_lines_read_the_extra_line_of_qian_and_kun_else_the_relating_judgment() {
        let qian = read([9; 6]);
        assert_eq!(qian.relating.as_ref().unwrap().number, 2);
        assert_eq!(texts(&qian), [(1, "用九：见群龙无首，吉。", true)]);
        assert_eq!(qian.governing[0].kind, TextKind::Extra);
        let kun = read([6; 6]);
        assert_eq!(texts(&kun), [(2, "用六：利永贞。", true)]);
        // 泰 all changing becomes 否 (12): its judgment.
        let tai = read([9, 9, 9, 6, 6, 6]);
        assert_eq!(tai.relating.as_ref().unwrap().number, 12);
        assert_eq!(tai.governing[0].hexagram, 12);
        assert_eq!(tai.governing[0].kind, TextKind::Judgment);
    }
}
