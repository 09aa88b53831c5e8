//! The TCM adviser's view of the person's constitution: every TCM turn gives the model the
//! newest assessment (its date, the result in a sentence, the nine scores and verdicts), told
//! that it is a self-assessment and that what the person says in the conversation comes first.
//! A TCM turn has passed the health-information consent where the server asks for it, so the
//! section goes only where the person agreed to their health information being processed.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{assessments::Assessment, items::Type};
use crate::{entities::constitution_assessment as stored, error::AppResult, language::Language};

/// The prompt's constitution section for `user_id` (`None` without an assessment).
pub async fn section(
    db: &impl ConnectionTrait,
    user_id: &str,
    now: DateTime<Utc>,
    language: Language,
) -> AppResult<Option<String>> {
    let newest = stored::Entity::find()
        .filter(stored::Column::UserId.eq(user_id))
        .order_by_desc(stored::Column::CreatedAt)
        .order_by_desc(stored::Column::Id)
        .one(db)
        .await?;
    Ok(newest.as_ref().and_then(Assessment::from_row).map(|assessment| render(&assessment, now, language)))
}

/// The section's text.
pub fn render(assessment: &Assessment, now: DateTime<Utc>, language: Language) -> String {
    let date = assessment.created_at.format("%Y-%m-%d");
    let days = (now - assessment.created_at).num_days().max(0);
    let scores = |name: fn(Type) -> &'static str, verdict: fn(super::scoring::Verdict) -> &'static str, sep: &str| {
        assessment
            .scores
            .iter()
            .map(|score| format!("{} {} ({})", name(score.kind), score.score, verdict(score.verdict)))
            .collect::<Vec<_>>()
            .join(sep)
    };
    if language == Language::Chinese {
        format!(
            "# 此人的体质自评\n此人于 {date}（{days} 天前）做过体质自评。问卷由本应用自拟，计分与判定依中华中医药学会《中医体质分类与判定》（ZYYXH/T157-2009）：偏颇体质转化分 ≥40 为“是”，30–39 为“倾向是”；平和质 ≥60 且其他均 <30 为“是”，均 <40 为“基本是”。\n结果：{}\n各型转化分（0–100）：{}\n这是自评，不是诊断。给养生建议时可以参考它，但以此人在对话中说的为准；不要据此下诊断，也不要把它说成医生的判断。",
            assessment.summary.zh,
            scores(Type::zh, super::scoring::Verdict::zh, "；"),
        )
    } else {
        format!(
            "# The person's constitution self-assessment\nThe person took the constitution self-assessment on {date} ({days} days ago). The questions are this app's own; the scoring and judgment follow the China Association of Chinese Medicine's standard ZYYXH/T157-2009: a biased type scoring 40 or more is \"yes\", 30–39 \"leaning\"; balanced is \"yes\" at 60 or more with every other type under 30, \"basically\" with every other under 40.\nResult: {}\nTransformed scores (0–100): {}\nThis is a self-assessment, not a diagnosis. Let it inform wellness advice, but what the person says in the conversation comes first; never diagnose from it or present it as a doctor's finding.",
            assessment.summary.en,
            scores(Type::en, super::scoring::Verdict::en, "; "),
        )
    }
}
