//! The season: the current solar term (节气), computed from the sun's apparent ecliptic
//! longitude — a term begins each time it reaches a multiple of 15° (春分 at 0°, 立春 at 315°)
//! — never from the model's memory. The instants come from the `tyme4rs` crate (MIT), whose
//! 寿星天文历 method (a truncated VSOP87 with nutation and ΔT) agrees with published tables to
//! the minute (tests below: the Hong Kong Observatory's 2013 table, published 2024 times).
//! The TCM adviser is told the term ([`prompt_note`]); `GET /api/chat/season` gives it to the
//! site, which shows it in the user's time zone.

use axum::{Json, extract::State};
use chrono::{DateTime, Datelike, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tyme4rs::tyme::solar::SolarTerm;
use utoipa::ToSchema;

use crate::{
    http::{ApiRoutes, routes::api_routes},
    language::Language,
    state::AppState,
};

pub fn routes() -> ApiRoutes {
    api_routes![season]
}

/// The 24 terms from 冬至 (the order `tyme4rs` counts them in), with their English names.
const TERMS: [(&str, &str); 24] = [
    ("冬至", "Winter Solstice"),
    ("小寒", "Minor Cold"),
    ("大寒", "Major Cold"),
    ("立春", "Start of Spring"),
    ("雨水", "Rain Water"),
    ("惊蛰", "Awakening of Insects"),
    ("春分", "Spring Equinox"),
    ("清明", "Pure Brightness"),
    ("谷雨", "Grain Rain"),
    ("立夏", "Start of Summer"),
    ("小满", "Grain Buds"),
    ("芒种", "Grain in Ear"),
    ("夏至", "Summer Solstice"),
    ("小暑", "Minor Heat"),
    ("大暑", "Major Heat"),
    ("立秋", "Start of Autumn"),
    ("处暑", "End of Heat"),
    ("白露", "White Dew"),
    ("秋分", "Autumn Equinox"),
    ("寒露", "Cold Dew"),
    ("霜降", "Frost's Descent"),
    ("立冬", "Start of Winter"),
    ("小雪", "Minor Snow"),
    ("大雪", "Major Snow"),
];

/// A solar term and when it begins.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Term {
    /// 大雪.
    pub name: String,
    /// Major Snow.
    pub english: String,
    /// The sun's apparent ecliptic longitude at its start, in degrees (a multiple of 15).
    pub longitude: u16,
    pub starts_at: DateTime<Utc>,
}

/// The term now, and the next.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Season {
    pub current: Term,
    pub next: Term,
}

/// The `index`-th term (0: 冬至) of the cycle `tyme4rs` files under `year` (its 冬至 falls in
/// December of the year before).
fn term(year: i32, index: usize) -> Term {
    let julian_day = SolarTerm::from_index(year as isize, index as isize).get_julian_day().get_day();
    // The crate's Julian day counts Beijing time (UTC+8): days since the Unix epoch's JD,
    // less eight hours, to the nearest second.
    let seconds = ((julian_day - 2_440_587.5) * 86_400.0).round() as i64 - 8 * 3600;
    let (name, english) = TERMS[index];
    Term {
        name: name.into(),
        english: english.into(),
        longitude: ((270 + 15 * index) % 360) as u16,
        starts_at: DateTime::from_timestamp(seconds, 0).unwrap_or_default(),
    }
}

/// The terms around `at`, in order: from the 冬至 before last year's to this cycle's 大雪.
fn terms_around(at: DateTime<Utc>) -> Vec<Term> {
    let year = at.year();
    (year - 1..=year + 1).flat_map(|cycle| (0..24).map(move |index| term(cycle, index))).collect()
}

/// The term `at` falls in, and the next one.
pub fn at(at: DateTime<Utc>) -> Season {
    let terms = terms_around(at);
    let next = terms.iter().position(|term| term.starts_at > at).unwrap_or(terms.len() - 1);
    let current = next.saturating_sub(1);
    Season { current: terms[current].clone(), next: terms[next].clone() }
}

/// The current solar term and the next, with when each begins (an instant: show it in the
/// reader's time zone).
#[utoipa::path(
    get,
    path = "/api/chat/season",
    tag = "chat",
    responses((status = 200, description = "The current solar term and the next", body = Season))
)]
async fn season(State(state): State<AppState>) -> Json<Season> {
    Json(at(state.clock.now()))
}

/// What the TCM adviser is told of the season, in the reply's language (dates in Beijing time).
pub fn prompt_note(now: DateTime<Utc>, language: Language) -> String {
    let Season { current, next } = at(now);
    let beijing = |instant: DateTime<Utc>| (instant + TimeDelta::hours(8)).format("%Y-%m-%d %H:%M");
    match language {
        Language::Chinese => format!(
            "# 节气\n现在是{}（太阳黄经{}°），自北京时间{}起；下一个节气{}在{}。养生建议请顺应当前节气。",
            current.name,
            current.longitude,
            beijing(current.starts_at),
            next.name,
            beijing(next.starts_at)
        ),
        Language::English => format!(
            "# The season\nThe current solar term is {} ({}, the sun at {}° ecliptic longitude), since {} Beijing time; the next, {} ({}), begins {}. Fit your advice to the season.",
            current.name,
            current.english,
            current.longitude,
            beijing(current.starts_at),
            next.name,
            next.english,
            beijing(next.starts_at)
        ),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;

    use super::*;

    /// A published time (Beijing / Hong Kong time, UTC+8, to the minute) as an instant.
    fn published(text: &str) -> DateTime<Utc> {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap().and_utc() - TimeDelta::hours(8)
    }

    /// Where the computed start of `name` in calendar year `year` is.
    fn computed(year: i32, name: &str) -> DateTime<Utc> {
        let index = TERMS.iter().position(|(term, _)| *term == name).unwrap();
        // 冬至 is filed under the next cycle; every other term under its own year.
        let cycle = if index == 0 { year + 1 } else { year };
        term(cycle, index).starts_at
    }

    /// Published tables give the minute; within 90 s of it is the same minute, allowing for
    /// rounding and for ΔT differences of a few seconds between almanacs.
    fn assert_close(year: i32, name: &str, text: &str) {
        let (got, want) = (computed(year, name), published(text));
        let off = (got - want).num_seconds().abs();
        assert!(off <= 90, "{name} {year}: computed {got}, published {want} ({off} s apart)");
    }

    /// The Hong Kong Observatory's table for 2013 (hko.gov.hk/sc/gts/astron2013/Solar_Term_2013.htm,
    /// from HM Nautical Almanac Office and US Naval Observatory data), all 24 terms.
    #[test]
    fn the_2013_table_of_the_hong_kong_observatory() {
        for (name, at) in [
            ("小寒", "2013-01-05 12:34"),
            ("大寒", "2013-01-20 05:52"),
            ("立春", "2013-02-04 00:13"),
            ("雨水", "2013-02-18 20:02"),
            ("惊蛰", "2013-03-05 18:15"),
            ("春分", "2013-03-20 19:02"),
            ("清明", "2013-04-04 23:02"),
            ("谷雨", "2013-04-20 06:03"),
            ("立夏", "2013-05-05 16:18"),
            ("小满", "2013-05-21 05:09"),
            ("芒种", "2013-06-05 20:23"),
            ("夏至", "2013-06-21 13:04"),
            ("小暑", "2013-07-07 06:35"),
            ("大暑", "2013-07-22 23:56"),
            ("立秋", "2013-08-07 16:20"),
            ("处暑", "2013-08-23 07:02"),
            ("白露", "2013-09-07 19:16"),
            ("秋分", "2013-09-23 04:44"),
            ("寒露", "2013-10-08 10:58"),
            ("霜降", "2013-10-23 14:10"),
            ("立冬", "2013-11-07 14:14"),
            ("小雪", "2013-11-22 11:48"),
            ("大雪", "2013-12-07 07:09"),
            ("冬至", "2013-12-22 01:11"),
        ] {
            assert_close(2013, name, at);
        }
    }

    /// Times published for 2024 (Beijing time).
    #[test]
    fn published_times_of_2024() {
        assert_close(2024, "立春", "2024-02-04 16:27");
        assert_close(2024, "春分", "2024-03-20 11:06");
        assert_close(2024, "夏至", "2024-06-21 04:51");
    }

    /// 2024–2030: 24 terms a year, in order, 14.7–15.8 days apart, the solstices and the
    /// start of spring on the dates they always fall on.
    #[test]
    fn every_year_to_2030_is_whole_and_in_order() {
        for year in 2024..=2030 {
            let terms: Vec<Term> = (1..24).map(|index| term(year, index)).chain([term(year + 1, 0)]).collect();
            for pair in terms.windows(2) {
                let gap = (pair[1].starts_at - pair[0].starts_at).num_minutes() as f64 / 1440.0;
                assert!((14.7..=15.8).contains(&gap), "{year}: {} to {}: {gap} days", pair[0].name, pair[1].name);
            }
            let day = |name: &str| {
                let at = computed(year, name) + TimeDelta::hours(8);
                (at.month(), at.day())
            };
            assert!([(12, 21), (12, 22)].contains(&day("冬至")), "{year}");
            assert!([(6, 20), (6, 21), (6, 22)].contains(&day("夏至")), "{year}");
            assert!([(2, 3), (2, 4), (2, 5)].contains(&day("立春")), "{year}");
        }
    }

    #[test]
    fn the_current_term_changes_at_its_instant() {
        let start = computed(2026, "大雪");
        let before = at(start - TimeDelta::seconds(1));
        assert_eq!((before.current.name.as_str(), before.next.name.as_str()), ("小雪", "大雪"));
        let after = at(start);
        assert_eq!((after.current.name.as_str(), after.next.name.as_str()), ("大雪", "冬至"));
        assert_eq!((after.current.longitude, after.next.longitude), (255, 270));
        // Across the new year.
        let january = at(published("2027-01-01 00:00"));
        assert_eq!(january.current.name, "冬至");
        assert_eq!(january.next.name, "小寒");
    }

    #[test]
    fn the_adviser_is_told_the_term_in_the_reply_language() {
        let now = computed(2026, "大雪") + TimeDelta::days(1);
        let english = prompt_note(now, Language::English);
        assert!(
            english.contains("大雪 (Major Snow, the sun at 255° ecliptic longitude)")
                && english.contains("the next, 冬至 (Winter Solstice)"),
            "{english}"
        );
        let chinese = prompt_note(now, Language::Chinese);
        assert!(chinese.contains("现在是大雪（太阳黄经255°）") && chinese.contains("下一个节气冬至"), "{chinese}");
        // Word for word, at an instant whose terms were published: 夏至 2024-06-21 04:51 and
        // 小暑 2024-07-06 22:20 Beijing time (the note gives the minute the instant falls in).
        let midsummer = published("2024-06-25 12:00");
        assert_eq!(
            prompt_note(midsummer, Language::English),
            "# The season\nThe current solar term is 夏至 (Summer Solstice, the sun at 90° ecliptic longitude), since 2024-06-21 04:51 Beijing time; the next, 小暑 (Minor Heat), begins 2024-07-06 22:20. Fit your advice to the season."
        );
        assert_eq!(
            prompt_note(midsummer, Language::Chinese),
            "# 节气\n现在是夏至（太阳黄经90°），自北京时间2024-06-21 04:51起；下一个节气小暑在2024-07-06 22:20。养生建议请顺应当前节气。"
        );
    }
}
