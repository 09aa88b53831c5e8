//! The tongue photo (舌诊) of the TCM adviser: before the reply, the vision model
//! (`CHAT_TONGUE_MODEL`, default `CHAT_VISION_MODEL`) is asked what the photo shows — the colour
//! of the tongue's body, its coating (colour, thickness, moisture), its shape, tooth marks,
//! cracks — as structured observations in the classical categories, framed as observation, not
//! diagnosis, and whether the photo can be read at all. They are kept with the picture (once:
//! a retry reads them back), shown under it, and given to the TCM model, which relates them to
//! the person's constitution when one is known. Every value is checked against its categories
//! here, and nothing else the model says is kept: no free text of its reaches the person, the
//! export or the TCM model's prompt (a diagnosis, or words written on the photo, never pass as
//! an observation). A call that fails leaves the picture without observations, and the reply is
//! written from the picture alone.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Purpose, Ready, checked::unavailable};
use crate::{
    chat::llm::{Llm, Prompt},
    entities::{Attachment, MessageRole, attachment},
    error::AppResult,
    language::Language,
    state::AppState,
};

/// What the vision model saw in a tongue photo, each value one of its categories (or
/// `unclear`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TongueObservations {
    /// Whether the photo shows the tongue well enough to read: `false` with a `problem`.
    pub usable: bool,
    /// Why it cannot be read: `too_dark`, `blurred`, `not_a_tongue`, `coloured`, `partial`.
    pub problem: Option<String>,
    /// 舌色: `pale` 淡白, `pale_red` 淡红, `red` 红, `crimson` 绛, `purple` 紫, `bluish` 青.
    pub body_colour: String,
    /// 苔色: `white`, `yellow`, `grey`, `black`, `none` (no coating).
    pub coating_colour: String,
    /// 苔质 (厚薄): `none`, `thin`, `thick`.
    pub coating_thickness: String,
    /// 润燥: `moist`, `dry`, `slippery` 滑, `greasy` 腻.
    pub coating_moisture: String,
    /// 舌形: `normal`, `swollen` 胖大, `thin` 瘦薄.
    pub shape: String,
    /// 齿痕: `none`, `slight`, `marked`.
    pub tooth_marks: String,
    /// 裂纹: `none`, `few`, `many`.
    pub cracks: String,
}

const UNCLEAR: &str = "unclear";
const PROBLEMS: [&str; 5] = ["too_dark", "blurred", "not_a_tongue", "coloured", "partial"];
/// Each field and the categories it takes.
const CATEGORIES: [(&str, &[&str]); 7] = [
    ("bodyColour", &["pale", "pale_red", "red", "crimson", "purple", "bluish"]),
    ("coatingColour", &["white", "yellow", "grey", "black", "none"]),
    ("coatingThickness", &["none", "thin", "thick"]),
    ("coatingMoisture", &["moist", "dry", "slippery", "greasy"]),
    ("shape", &["normal", "swollen", "thin"]),
    ("toothMarks", &["none", "slight", "marked"]),
    ("cracks", &["none", "few", "many"]),
];

/// The instructions of the observation call (in English: the model answers in JSON whatever the
/// person's language; the site words the categories in theirs).
fn instructions() -> String {
    let fields: Vec<String> =
        CATEGORIES.iter().map(|(name, values)| format!("\"{name}\": one of {}", values.join(" | "))).collect();
    format!(
        "You look at a photo a person took of their own tongue for a Traditional Chinese Medicine wellness \
         conversation. Describe only what is visible, in the classical categories of tongue inspection; do not \
         diagnose, do not name illnesses, do not give advice. Answer with one JSON object and nothing else:\n\
         {{\"usable\": true or false, \"problem\": null or one of {}, {}}}.\n\
         Use \"{UNCLEAR}\" for any field the photo does not show clearly. If the photo is too dark, blurred, not of a \
         tongue, tinted by food or drink, or shows only part of it, set usable to false and name the problem.",
        PROBLEMS.join(" | "),
        fields.join(", ")
    )
}

/// `raw`'s observations, each value checked; `None` when it holds no JSON object.
pub fn parse(raw: &str) -> Option<TongueObservations> {
    let start = raw.find('{')?;
    let end = raw.rfind('}')?;
    let value: serde_json::Value = serde_json::from_str(raw.get(start..=end)?).ok()?;
    let object = value.as_object()?;
    let category = |name: &str| {
        let allowed = CATEGORIES.iter().find(|(field, _)| *field == name).map(|(_, values)| *values).unwrap_or(&[]);
        let given = object.get(name).and_then(|value| value.as_str()).map(|text| text.trim().to_ascii_lowercase());
        given.filter(|text| allowed.contains(&text.as_str())).unwrap_or_else(|| UNCLEAR.to_string())
    };
    let problem = object
        .get("problem")
        .and_then(|value| value.as_str())
        .map(|text| text.trim().to_ascii_lowercase())
        .filter(|text| PROBLEMS.contains(&text.as_str()));
    Some(TongueObservations {
        usable: object.get("usable").and_then(|value| value.as_bool()).unwrap_or(problem.is_none()),
        problem,
        body_colour: category("bodyColour"),
        coating_colour: category("coatingColour"),
        coating_thickness: category("coatingThickness"),
        coating_moisture: category("coatingMoisture"),
        shape: category("shape"),
        tooth_marks: category("toothMarks"),
        cracks: category("cracks"),
    })
}

/// The observations kept with a picture (none, or a value this version cannot read: none).
pub fn of_row(row: &attachment::Model) -> Option<TongueObservations> {
    row.observations.as_deref().and_then(|json| serde_json::from_str(json).ok())
}

/// Observes each tongue photo of `pictures` not observed yet, keeping what was seen with it. It
/// runs once the turn is placed (its conversation is the TCM adviser's, its consent read under
/// the turn's lock: no health information is processed for a turn that is refused). A failed
/// call is logged and leaves that one without.
pub async fn observe(state: &AppState, llm: &Llm, pictures: &[Ready]) -> AppResult<()> {
    let waiting = pictures
        .iter()
        .any(|picture| picture.row.purpose == Purpose::Tongue.as_str() && picture.row.observations.is_none());
    let (Some(store), Some(config)) = (state.storage.as_ref(), state.config.storage.as_ref()) else {
        return Ok(());
    };
    if !waiting {
        return Ok(());
    }
    let now = state.clock.now();
    for picture in pictures {
        let row = &picture.row;
        if row.purpose != Purpose::Tongue.as_str() || row.observations.is_some() {
            continue;
        }
        let url = store
            .model_url(&picture.sent_key, &row.content_type, now, config.model_url_ttl)
            .await
            .map_err(unavailable)?;
        let prompt = Prompt {
            system: instructions(),
            turns: vec![(MessageRole::User, "What does this photo of my tongue show?".into())],
            pictures: vec![(0, vec![url])],
        };
        let seen = match llm.observe(&prompt).await {
            Some(Ok(completion)) => parse(&completion.text),
            Some(Err(err)) => {
                tracing::warn!(error = ?err, "the tongue photo could not be observed; the reply reads the photo alone");
                None
            }
            None => None,
        };
        let Some(seen) = seen else { continue };
        let json = serde_json::to_string(&seen).map_err(|err| crate::error::AppError::internal(err.to_string()))?;
        Attachment::update_many()
            .col_expr(attachment::Column::Observations, Expr::value(json))
            .filter(attachment::Column::Id.eq(&row.id))
            .exec(&state.db)
            .await?;
    }
    Ok(())
}

/// 422 `tongue_photo_not_tcm` for tongue photos sent to another assistant than the TCM adviser.
pub fn only_with_tcm(pictures: &[Ready], kind: crate::entities::ConversationKind) -> AppResult<()> {
    let tongue = pictures.iter().any(|picture| picture.row.purpose == Purpose::Tongue.as_str());
    if tongue && kind != crate::entities::ConversationKind::Tcm {
        return Err(crate::error::AppError::validation(
            "tongue_photo_not_tcm",
            "a tongue photo is for the TCM adviser: send it in a TCM conversation",
        ));
    }
    Ok(())
}

/// The prompt's section for the tongue photos of the branch (newest last), in `language`.
pub fn section(seen: &[TongueObservations], language: Language) -> Option<String> {
    if seen.is_empty() {
        return None;
    }
    let lines: Vec<String> = seen
        .iter()
        .map(|observed| match observed.usable {
            false => format!("- unusable photo: {}", observed.problem.as_deref().unwrap_or(UNCLEAR)),
            true => format!(
                "- body colour {}; coating {}, {}, {}; shape {}; tooth marks {}; cracks {}",
                observed.body_colour,
                observed.coating_colour,
                observed.coating_thickness,
                observed.coating_moisture,
                observed.shape,
                observed.tooth_marks,
                observed.cracks,
            ),
        })
        .collect();
    Some(match language {
        Language::Chinese => format!(
            "# 此人的舌象照片\n此人发来了自己的舌头照片（也在对话中）。视觉模型对照片的观察（英文类别：pale 淡白、pale_red 淡红、red 红、crimson 绛、purple 紫、bluish 青；\
             白/黄/灰/黑苔，薄/厚，润/燥/滑/腻；胖大、瘦薄；齿痕；裂纹；unclear 表示看不清）：\n{}\n\
             这些是照片上的观察，不是诊断：光线、拍摄和饮食都会影响舌象。可以结合此人的体质自评（如有）和所述情况，\
             谈它们在中医养生上通常提示的倾向，用词留有余地；照片不可用时请此人按提示重拍。不要据此下诊断；有不适请就医。",
            lines.join("\n")
        ),
        Language::English => format!(
            "# The person's tongue photo\nThe person sent a photo of their tongue (it is in the conversation too). What a \
             vision model observed in it, in the classical categories of tongue inspection (\"unclear\": not visible):\n{}\n\
             These are observations of a photo, not a diagnosis: light, the camera and recent food change how a tongue \
             looks. Relate them, with the person's constitution self-assessment (if there is one) and what they say, to \
             the tendencies they usually suggest in TCM wellness, in tentative words; if the photo cannot be read, ask \
             them to take it again as the tips say. Never diagnose from it; for any complaint, suggest seeing a doctor.",
            lines.join("\n")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_keep_only_their_categories() {
        let seen = parse(
            "Here you go: {\"usable\": true, \"problem\": null, \"bodyColour\": \"Pale\", \"coatingColour\": \"white\", \
             \"coatingThickness\": \"thin\", \"coatingMoisture\": \"moist\", \"shape\": \"swollen\", \"toothMarks\": \
             \"slight\", \"cracks\": \"spleen deficiency\", \"notes\": \"  a  slightly\\n pale tip \"}",
        )
        .unwrap();
        assert!(seen.usable);
        assert_eq!(seen.body_colour, "pale");
        assert_eq!(seen.shape, "swollen");
        assert_eq!(seen.cracks, UNCLEAR, "a diagnosis is not a category");
        assert!(!serde_json::to_string(&seen).unwrap().contains("pale tip"), "no free text is kept");

        let unusable = parse("{\"usable\": false, \"problem\": \"too_dark\"}").unwrap();
        assert!(!unusable.usable);
        assert_eq!(unusable.problem.as_deref(), Some("too_dark"));
        assert_eq!(unusable.body_colour, UNCLEAR);
        assert!(parse("{\"notes\": \"unterminated").is_none(), "not JSON");
        assert!(parse("no JSON here").is_none());
    }

    #[test]
    fn the_section_words_observations_as_observations() {
        let seen = parse("{\"usable\": true, \"bodyColour\": \"red\", \"coatingColour\": \"yellow\"}").unwrap();
        let english = section(std::slice::from_ref(&seen), Language::English).unwrap();
        assert!(english.contains("body colour red") && english.contains("not a diagnosis"));
        let chinese = section(&[seen], Language::Chinese).unwrap();
        assert!(chinese.contains("不是诊断"));
        assert!(section(&[], Language::English).is_none());
    }
}
