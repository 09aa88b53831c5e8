//! Safety around the assistants' advice: emergency signs in what a user writes raise a fixed
//! card before anything the model says ([`red_flags`]), with numbers the operator configures
//! (`EMERGENCY_NUMBER`, default 120; `CRISIS_HOTLINE`, default 12356, China's national
//! psychological assistance hotline), and generated content is labelled as such ([`labels`]).

pub mod labels;
pub mod red_flags;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use self::red_flags::{CardKind, RedFlag};
use crate::{config::Config, language::Language};

/// The card shown before the assistant's reply (the SSE event `redFlag`, `redFlag` of a JSON
/// answer and of the message in the history). The site writes its text in the reader's
/// language from `card` and the numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedFlagCard {
    /// The rule that matched (`chest_pain`, `self_harm`…).
    pub rule: String,
    /// `emergency`: call the emergency number now; `crisis`: the psychological assistance
    /// hotline, and the emergency number.
    pub card: CardKind,
    /// `EMERGENCY_NUMBER` (default 120).
    pub emergency_number: String,
    /// `CRISIS_HOTLINE` (default 12356).
    pub crisis_hotline: String,
}

impl RedFlagCard {
    pub fn new(config: &Config, flag: RedFlag) -> Self {
        Self {
            rule: flag.rule.to_string(),
            card: flag.card,
            emergency_number: config.emergency_number.clone(),
            crisis_hotline: config.crisis_hotline.clone(),
        }
    }

    /// The card of a stored rule id (`None` for a rule no longer in the list).
    pub fn of_rule(config: &Config, rule: &str) -> Option<Self> {
        red_flags::rule(rule).map(|flag| Self::new(config, flag))
    }
}

/// What the model is told when a card was shown: so that its reply agrees with the card.
pub fn prompt_note(config: &Config, flag: RedFlag, language: Language) -> String {
    let (emergency, crisis) = (&config.emergency_number, &config.crisis_hotline);
    match (language, flag.card) {
        (Language::Chinese, CardKind::Emergency) => format!(
            "安全提示：在你回答之前，应用已向用户显示紧急提示卡，建议其立即拨打{emergency}或前往最近的急诊。请在回答开头简短呼应这一点，敦促用户立即就医，不要与之矛盾，也不要尝试远程诊断。"
        ),
        (Language::Chinese, CardKind::Crisis) => format!(
            "安全提示：在你回答之前，应用已向用户显示心理危机提示卡，提供全国心理援助热线{crisis}和急救电话{emergency}。请以温和、关切的语气回应，鼓励用户立即联系热线或身边可信任的人，不要提供任何可能造成伤害的信息。"
        ),
        (Language::English, CardKind::Emergency) => format!(
            "Safety note: before your reply, the app showed the user an emergency card telling them to call {emergency} now or go to the nearest emergency department. Acknowledge it briefly at the start, urge them to get help now, never contradict it, and do not try to diagnose from afar."
        ),
        (Language::English, CardKind::Crisis) => format!(
            "Safety note: before your reply, the app showed the user a crisis card with the psychological assistance hotline {crisis} and the emergency number {emergency}. Answer gently and with care, encourage them to call the hotline or reach someone they trust now, and give no information that could cause harm."
        ),
    }
}
