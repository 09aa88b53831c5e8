//! The TCM constitution self-assessment: sixty questions in our own words ([`items`]), scored
//! and judged as the China Association of Chinese Medicine's standard 中医体质分类与判定
//! (ZYYXH/T157-2009) scores and judges its scale ([`scoring`]); a person's results kept as a
//! history ([`assessments`]), and the newest given to the TCM adviser as context ([`prompt`]).
//! A self-assessment for wellness, not a diagnosis.

pub mod assessments;
pub mod items;
pub mod prompt;
pub mod scoring;

/// The standard whose structure and scoring the questionnaire follows (stored on each row, so a
/// later scale can be told apart).
pub const SCALE: &str = "ZYYXH/T157-2009";

/// The constitution routes (`/api/constitution/...`), served by the `chat` function.
pub fn routes() -> crate::http::ApiRoutes {
    assessments::routes()
}
