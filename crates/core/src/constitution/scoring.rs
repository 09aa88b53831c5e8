//! Scoring and judging, as ZYYXH/T157-2009 does: a type's raw score is the sum of its answers
//! (1–5; the balanced type's reversed questions count 6 − answer), its transformed score is
//! (raw − questions) / (questions × 4) × 100, and the judgment reads the nine transformed
//! scores by the standard's table:
//!
//! | type      | condition                                            | verdict  |
//! |-----------|------------------------------------------------------|----------|
//! | balanced  | ≥ 60 and every other type < 30                        | 是 yes   |
//! | balanced  | ≥ 60 and every other type < 40 (and not the above)    | 基本是   |
//! | balanced  | otherwise                                            | 否 no    |
//! | any other | ≥ 40                                                 | 是 yes   |
//! | any other | 30 ≤ score < 40 (the standard's "30~39")              | 倾向是   |
//! | any other | < 30                                                 | 否 no    |
//!
//! With whole answers a score is never exactly 30, 40 or 60 (a multiple of 100/24, 100/28 or
//! 100/32), so "30~39" has to be read as the half-open interval; the unit tests pin the
//! boundaries with scores given directly. Several types can be 是 at once: all are reported.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::items::{ANSWERED, Sex, Type, for_sex};

/// The judgment of one type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// 是
    Yes,
    /// 基本是 (the balanced type only)
    Basically,
    /// 倾向是 (the eight biased types only)
    Leaning,
    /// 否
    No,
}

impl Verdict {
    pub fn zh(self) -> &'static str {
        match self {
            Verdict::Yes => "是",
            Verdict::Basically => "基本是",
            Verdict::Leaning => "倾向是",
            Verdict::No => "否",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            Verdict::Yes => "yes",
            Verdict::Basically => "basically",
            Verdict::Leaning => "leaning",
            Verdict::No => "no",
        }
    }
}

/// One type's scores and verdict.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypeScore {
    #[serde(rename = "type")]
    pub kind: Type,
    /// The sum of the type's answers (reversed where the standard reverses).
    pub raw: u16,
    /// How many questions the type has.
    pub items: u16,
    /// The transformed score, 0–100, rounded to two decimals (the verdict is judged on the
    /// exact value).
    pub score: f64,
    pub verdict: Verdict,
}

/// The transformed score of a raw score over `items` questions.
pub fn transformed(raw: u16, items: u16) -> f64 {
    f64::from(raw.saturating_sub(items)) * 100.0 / f64::from(items * 4)
}

/// The standard's judgment of nine transformed scores (in [`Type::ALL`]'s order).
pub fn judge(scores: [f64; 9]) -> [Verdict; 9] {
    let balanced = scores[Type::Balanced.index()];
    let biased = &scores[1..];
    let mut verdicts = [Verdict::No; 9];
    verdicts[0] = if balanced >= 60.0 && biased.iter().all(|&score| score < 30.0) {
        Verdict::Yes
    } else if balanced >= 60.0 && biased.iter().all(|&score| score < 40.0) {
        Verdict::Basically
    } else {
        Verdict::No
    };
    for (verdict, &score) in verdicts[1..].iter_mut().zip(biased) {
        *verdict = if score >= 40.0 {
            Verdict::Yes
        } else if score >= 30.0 {
            Verdict::Leaning
        } else {
            Verdict::No
        };
    }
    verdicts
}

/// Scores the sixty answers (1–5, in the order of [`for_sex`]) of a person of `sex`.
pub fn score(sex: Sex, answers: &[u8; ANSWERED]) -> [TypeScore; 9] {
    let mut raw = [0u16; 9];
    let mut items = [0u16; 9];
    for (item, &answer) in for_sex(sex).zip(answers) {
        for &(kind, reversed) in item.counts {
            raw[kind.index()] += u16::from(if reversed { 6 - answer } else { answer });
            items[kind.index()] += 1;
        }
    }
    let exact: [f64; 9] = std::array::from_fn(|index| transformed(raw[index], items[index]));
    let verdicts = judge(exact);
    std::array::from_fn(|index| TypeScore {
        kind: Type::ALL[index],
        raw: raw[index],
        items: items[index],
        score: (exact[index] * 100.0).round() / 100.0,
        verdict: verdicts[index],
    })
}

/// The result in a sentence, as the standard words its examples: "基本是平和质，有气郁质倾向",
/// "气虚质，兼有阳虚质倾向"; the biased types by score, highest first. `(Chinese, English)`.
pub fn summary(scores: &[TypeScore; 9]) -> (String, String) {
    let mut biased: Vec<&TypeScore> = scores[1..].iter().collect();
    biased.sort_by(|a, b| b.score.total_cmp(&a.score));
    let named = |verdict: Verdict| -> Vec<Type> {
        biased.iter().filter(|score| score.verdict == verdict).map(|score| score.kind).collect()
    };
    let (yes, leaning) = (named(Verdict::Yes), named(Verdict::Leaning));
    let zh = |kinds: &[Type]| kinds.iter().map(|kind| kind.zh()).collect::<Vec<_>>().join("、");
    let en = |kinds: &[Type]| english_list(&kinds.iter().map(|kind| kind.en().to_lowercase()).collect::<Vec<_>>());
    match scores[0].verdict {
        Verdict::Yes => ("平和质".into(), "Balanced".into()),
        Verdict::Basically => (
            format!("基本是平和质，有{}倾向", zh(&leaning)),
            format!("Basically balanced, leaning towards {}", en(&leaning)),
        ),
        _ if !yes.is_empty() => {
            let mut english = en(&yes);
            if let Some(first) = english.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            match leaning.is_empty() {
                true => (zh(&yes), english),
                false => (
                    format!("{}，兼有{}倾向", zh(&yes), zh(&leaning)),
                    format!("{english}; leaning towards {}", en(&leaning)),
                ),
            }
        }
        _ if !leaning.is_empty() => (
            format!("未达到平和质的标准，有{}倾向", zh(&leaning)),
            format!("Not clearly balanced; leaning towards {}", en(&leaning)),
        ),
        _ => ("未达到平和质的标准，也没有明显的偏颇体质".into(), "Not clearly balanced, and no clear bias".into()),
    }
}

/// "a", "a and b", "a, b and c".
fn english_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers by question id (every question of `sex` must be named once).
    fn answers(sex: Sex, by_id: &[(&str, u8)]) -> [u8; ANSWERED] {
        let mut answers = [0; ANSWERED];
        for (slot, item) in for_sex(sex).enumerate() {
            let matches: Vec<u8> = by_id.iter().filter(|(id, _)| *id == item.id).map(|(_, value)| *value).collect();
            assert_eq!(matches.len(), 1, "{} answered {} times", item.id, matches.len());
            answers[slot] = matches[0];
        }
        assert_eq!(by_id.len(), ANSWERED, "an answer for a question the person is not asked");
        answers
    }

    fn scores_of(scored: &[TypeScore; 9]) -> Vec<(u16, f64, Verdict)> {
        scored.iter().map(|score| (score.raw, score.score, score.verdict)).collect()
    }

    /// Worked example A (a man), computed by hand: 平和 28 → (28 − 8) / 32 × 100 = 62.5; 气郁
    /// 16 → 9 / 28 = 32.14, so not every other type is under 30, but all are under 40:
    /// 基本是平和质, with a leaning to 气郁 (the shape of the standard's own second example).
    #[rustfmt::skip]
    const EXAMPLE_A: [(&str, u8); ANSWERED] = [
        // 平和 (the six reversed ones answered 2, 2, 3, 3, 3, 3 → 4, 4, 3, 3, 3, 3)
        ("energy", 4), ("tiresEasily", 2), ("weakVoice", 2), ("lowMood", 3), ("feelsTheCold", 3), ("adapts", 4),
        ("poorSleep", 3), ("forgetful", 3),
        // 气虚: + tiresEasily 2, weakVoice 2 → 14
        ("shortOfBreath", 1), ("palpitations", 1), ("dizzyOnStanding", 2), ("catchesColds", 2), ("prefersQuiet", 2),
        ("sweatsOnEffort", 2),
        // 阳虚: + feelsTheCold 3, catchesColds 2 → 13
        ("coldHandsFeet", 2), ("coldBellyBack", 1), ("dressesWarmer", 2), ("coldFoodUpsets", 2), ("chillLoosensBowels", 1),
        // 阴虚 → 10
        ("hotPalmsSoles", 1), ("warmFlushes", 1), ("drySkinLips", 1), ("redLips", 1), ("dryStools", 1),
        ("flushedCheeks", 1), ("dryEyes", 2), ("dryMouth", 2),
        // 痰湿 → 10
        ("chestOrBellyFull", 2), ("heavyBody", 1), ("softBelly", 1), ("oilyForehead", 2), ("puffyEyelids", 1),
        ("stickyMouth", 1), ("phlegm", 1), ("coatedTongue", 1),
        // 湿热 (a man) → 9
        ("oilyFace", 2), ("spots", 2), ("bitterMouth", 2), ("stickyStools", 1), ("hotUrine", 1), ("dampScrotum", 1),
        // 血瘀: + forgetful 3 → 12
        ("bruises", 1), ("threadVeins", 1), ("bodyPain", 2), ("dullComplexion", 2), ("darkCircles", 2), ("duskyLips", 1),
        // 气郁: + lowMood 3 → 16
        ("tense", 3), ("sensitive", 2), ("startles", 2), ("sidesDistended", 2), ("sighs", 3), ("lumpInThroat", 1),
        // 特禀 → 9
        ("sneezes", 2), ("runnyNose", 1), ("triggeredCough", 1), ("allergies", 2), ("hives", 1), ("allergicSpots", 1),
        ("scratchWelts", 1),
    ];

    #[test]
    fn example_a_is_basically_balanced_leaning_to_qi_stagnation() {
        use Verdict::{Basically, Leaning, No};
        let scored = score(Sex::Male, &answers(Sex::Male, &EXAMPLE_A));
        assert_eq!(
            scores_of(&scored),
            [
                (28, 62.5, Basically),
                (14, 18.75, No),
                (13, 21.43, No),
                (10, 6.25, No),
                (10, 6.25, No),
                (9, 12.5, No),
                (12, 17.86, No),
                (16, 32.14, Leaning),
                (9, 7.14, No),
            ]
        );
        assert_eq!(
            summary(&scored),
            ("基本是平和质，有气郁质倾向".into(), "Basically balanced, leaning towards qi stagnation".into())
        );
    }

    /// One answer less (sighing 3 → 2): 气郁 15 → 8 / 28 = 28.57 < 30, and 平和 is plainly 是.
    #[test]
    fn example_a_with_one_answer_less_is_balanced() {
        let mut by_id = EXAMPLE_A;
        by_id.iter_mut().find(|(id, _)| *id == "sighs").unwrap().1 = 2;
        let scored = score(Sex::Male, &answers(Sex::Male, &by_id));
        assert_eq!((scored[7].raw, scored[7].score, scored[7].verdict), (15, 28.57, Verdict::No));
        assert_eq!(scored[0].verdict, Verdict::Yes);
        assert_eq!(summary(&scored), ("平和质".into(), "Balanced".into()));
    }

    /// Worked example B (a woman), by hand: 气虚 21 → 13 / 32 = 40.625 (是); 阳虚 18 → 11 / 28 =
    /// 39.29 (倾向是: a check of "30 < x < 39" would lose it); 湿热 13 → 7 / 24 = 29.17 (否);
    /// 平和 25 → 17 / 32 = 53.125 (否).
    #[test]
    fn example_b_is_qi_deficiency_leaning_to_yang_deficiency() {
        use Verdict::{Leaning, No, Yes};
        #[rustfmt::skip]
        let by_id = [
            // 平和: 2, 4R→2, 2R→4, 2R→4, 3R→3, 3, 3R→3, 2R→4 = 25
            ("energy", 2), ("tiresEasily", 4), ("weakVoice", 2), ("lowMood", 2), ("feelsTheCold", 3), ("adapts", 3),
            ("poorSleep", 3), ("forgetful", 2),
            // 气虚: 4 + 3 + 2 + 3 + 3 + 2 + 2 + 2 = 21
            ("shortOfBreath", 3), ("palpitations", 2), ("dizzyOnStanding", 3), ("catchesColds", 3), ("prefersQuiet", 2),
            ("sweatsOnEffort", 2),
            // 阳虚: 3 + 3 + 3 + 3 + 3 + 2 + 1 = 18
            ("coldHandsFeet", 3), ("coldBellyBack", 3), ("dressesWarmer", 3), ("coldFoodUpsets", 2), ("chillLoosensBowels", 1),
            // 阴虚: 12
            ("hotPalmsSoles", 2), ("warmFlushes", 1), ("drySkinLips", 2), ("redLips", 1), ("dryStools", 1),
            ("flushedCheeks", 1), ("dryEyes", 2), ("dryMouth", 2),
            // 痰湿: 9
            ("chestOrBellyFull", 1), ("heavyBody", 2), ("softBelly", 1), ("oilyForehead", 1), ("puffyEyelids", 1),
            ("stickyMouth", 1), ("phlegm", 1), ("coatedTongue", 1),
            // 湿热 (a woman): 3 + 3 + 2 + 2 + 1 + 2 = 13
            ("oilyFace", 3), ("spots", 3), ("bitterMouth", 2), ("stickyStools", 2), ("hotUrine", 1), ("yellowDischarge", 2),
            // 血瘀: + forgetful 2 → 10
            ("bruises", 1), ("threadVeins", 1), ("bodyPain", 2), ("dullComplexion", 1), ("darkCircles", 2), ("duskyLips", 1),
            // 气郁: + lowMood 2 → 10
            ("tense", 1), ("sensitive", 2), ("startles", 1), ("sidesDistended", 1), ("sighs", 2), ("lumpInThroat", 1),
            // 特禀: 7
            ("sneezes", 1), ("runnyNose", 1), ("triggeredCough", 1), ("allergies", 1), ("hives", 1), ("allergicSpots", 1),
            ("scratchWelts", 1),
        ];
        let scored = score(Sex::Female, &answers(Sex::Female, &by_id));
        assert_eq!(
            scores_of(&scored),
            [
                (25, 53.13, No),
                (21, 40.63, Yes),
                (18, 39.29, Leaning),
                (12, 12.5, No),
                (9, 3.13, No),
                (13, 29.17, No),
                (10, 10.71, No),
                (10, 10.71, No),
                (7, 0.0, No),
            ]
        );
        assert_eq!(
            summary(&scored),
            ("气虚质，兼有阳虚质倾向".into(), "Qi deficiency; leaning towards yang deficiency".into())
        );
    }

    /// The extremes: all 1s and all 5s (the reversed questions turn them around for 平和).
    #[test]
    fn all_lowest_and_all_highest_answers() {
        let lowest = score(Sex::Female, &[1; ANSWERED]);
        assert_eq!(lowest[0].score, 75.0, "2 forward questions at 1, 6 reversed at 5: (2 + 30 − 8) / 32");
        assert!(lowest[1..].iter().all(|score| score.score == 0.0 && score.verdict == Verdict::No));
        assert_eq!(lowest[0].verdict, Verdict::Yes);
        let highest = score(Sex::Male, &[5; ANSWERED]);
        assert_eq!((highest[0].score, highest[0].verdict), (25.0, Verdict::No), "(10 + 6 − 8) / 32");
        assert!(highest[1..].iter().all(|score| score.score == 100.0 && score.verdict == Verdict::Yes));
        let (zh, en) = summary(&highest);
        assert!(zh.starts_with("气虚质、阳虚质、") && !zh.contains('倾'), "{zh}");
        assert!(
            en.starts_with("Qi deficiency, yang deficiency, ") && en.ends_with(" and special diathesis (allergic)"),
            "{en}"
        );
    }

    /// The table's boundaries, with transformed scores given directly (whole answers never land
    /// on them): 60 and 40 and 30 are inclusive, "every other < 30 / < 40" strict.
    #[test]
    fn the_boundaries_are_the_standards() {
        use Verdict::{Basically, Leaning, No, Yes};
        let balanced_with = |balanced: f64, other: f64| judge([balanced, other, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(balanced_with(60.0, 29.99)[0], Yes);
        assert_eq!(balanced_with(60.0, 30.0)[0], Basically);
        assert_eq!(balanced_with(60.0, 39.99)[0], Basically);
        assert_eq!(balanced_with(60.0, 40.0)[0], No);
        assert_eq!(balanced_with(59.99, 0.0)[0], No);
        assert_eq!(balanced_with(100.0, 0.0)[0], Yes);
        for (score, verdict) in [(100.0, Yes), (40.0, Yes), (39.99, Leaning), (30.0, Leaning), (29.99, No), (0.0, No)] {
            let verdicts = judge([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, score]);
            assert_eq!(verdicts[8], verdict, "{score}");
        }
    }

    #[test]
    fn the_sentences_for_every_shape_of_result() {
        let with = |balanced: f64, others: [f64; 8]| {
            let mut exact = [balanced; 9];
            exact[1..].copy_from_slice(&others);
            let verdicts = judge(exact);
            let scored: [TypeScore; 9] = std::array::from_fn(|index| TypeScore {
                kind: Type::ALL[index],
                raw: 0,
                items: 8,
                score: exact[index],
                verdict: verdicts[index],
            });
            summary(&scored)
        };
        assert_eq!(
            with(50.0, [10.0, 35.0, 0.0, 0.0, 38.0, 0.0, 0.0, 0.0]),
            (
                "未达到平和质的标准，有湿热质、阳虚质倾向".into(),
                "Not clearly balanced; leaning towards damp-heat and yang deficiency".into()
            )
        );
        assert_eq!(
            with(50.0, [10.0; 8]),
            ("未达到平和质的标准，也没有明显的偏颇体质".into(), "Not clearly balanced, and no clear bias".into())
        );
        assert_eq!(
            with(70.0, [45.0, 0.0, 0.0, 0.0, 0.0, 50.0, 0.0, 0.0]),
            ("血瘀质、气虚质".into(), "Blood stasis and qi deficiency".into()),
            "平和 is not judged when a bias is 是, and the biases go highest first"
        );
    }
}
