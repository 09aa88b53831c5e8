//! The questionnaire: nine constitution types and sixty questions, in our own words (Chinese
//! and English), arranged as ZYYXH/T157-2009 arranges its scale. What follows the standard:
//! how many questions each type has (8, 8, 7, 8, 8, 6, 7, 7, 7), which questions count in two
//! types (tiring easily and a weak voice in 平和 and 气虚; low mood in 平和 and 气郁; feeling the
//! cold in 平和 and 阳虚; forgetfulness in 平和 and 血瘀; catching colds in 气虚 and 阳虚), the
//! six reversed in 平和, the one question of 湿热 that depends on the person's sex, the five-point
//! frequency scale and the past year as the period asked about. What is ours: every question's
//! wording, the type descriptions, and their English. Nothing here is the standard's text, and
//! the questions have not been validated as the standard's were (README, "The constitution").

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A constitution type (体质) of the standard, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Type {
    /// 平和质: the balanced type, the only one not a bias.
    Balanced,
    /// 气虚质
    QiDeficiency,
    /// 阳虚质
    YangDeficiency,
    /// 阴虚质
    YinDeficiency,
    /// 痰湿质
    PhlegmDampness,
    /// 湿热质
    DampHeat,
    /// 血瘀质
    BloodStasis,
    /// 气郁质
    QiStagnation,
    /// 特禀质
    Special,
}

impl Type {
    pub const ALL: [Type; 9] = [
        Type::Balanced,
        Type::QiDeficiency,
        Type::YangDeficiency,
        Type::YinDeficiency,
        Type::PhlegmDampness,
        Type::DampHeat,
        Type::BloodStasis,
        Type::QiStagnation,
        Type::Special,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// The standard's name: 平和质, 气虚质…
    pub fn zh(self) -> &'static str {
        TYPES[self.index()].zh
    }

    /// The English name, capitalised: "Qi deficiency".
    pub fn en(self) -> &'static str {
        TYPES[self.index()].en
    }
}

/// A type's names and what it is like, in our words.
#[derive(Debug)]
pub struct TypeInfo {
    pub kind: Type,
    pub zh: &'static str,
    pub en: &'static str,
    pub about_zh: &'static str,
    pub about_en: &'static str,
}

pub static TYPES: [TypeInfo; 9] = [
    TypeInfo {
        kind: Type::Balanced,
        zh: "平和质",
        en: "Balanced",
        about_zh: "精力充沛，面色润泽，睡得好、吃得香，冷热都耐得住，心态平和，较少生病。",
        about_en: "Plenty of energy, a healthy complexion, good sleep and appetite, copes with heat and cold, an even temper, and seldom ill.",
    },
    TypeInfo {
        kind: Type::QiDeficiency,
        zh: "气虚质",
        en: "Qi deficiency",
        about_zh: "元气不足：容易累，稍动就气短、出汗，说话没力气，容易感冒，病后恢复慢。",
        about_en: "Low vital energy: tires easily, gets short of breath and sweats with little effort, speaks softly, catches colds and recovers slowly.",
    },
    TypeInfo {
        kind: Type::YangDeficiency,
        zh: "阳虚质",
        en: "Yang deficiency",
        about_zh: "阳气不足：怕冷，手脚发凉，喜欢热食热饮，吃凉的容易不舒服，冬天比夏天难熬。",
        about_en: "Too little warming energy: feels the cold, has cold hands and feet, prefers hot food and drink, is upset by cold food, and finds winter harder than summer.",
    },
    TypeInfo {
        kind: Type::YinDeficiency,
        zh: "阴虚质",
        en: "Yin deficiency",
        about_zh: "阴液不足：手脚心热，口干、咽干、眼干，大便偏干，怕热怕燥，夏天比冬天难熬。",
        about_en: "Too little cooling moisture: hot palms and soles, a dry mouth, throat and eyes, dry stools; dislikes heat and dry air, and finds summer harder than winter.",
    },
    TypeInfo {
        kind: Type::PhlegmDampness,
        zh: "痰湿质",
        en: "Phlegm-dampness",
        about_zh: "痰湿内聚：体形偏胖、腹部松软，身体沉重，面部多油，嘴里发黏，痰多，潮湿天气更难受。",
        about_en: "Damp and phlegm build up: a heavier build with a soft belly, a heavy-feeling body, oily skin, a sticky mouth and phlegm; damp weather feels worse.",
    },
    TypeInfo {
        kind: Type::DampHeat,
        zh: "湿热质",
        en: "Damp-heat",
        about_zh: "湿与热相合：面部油亮、容易长痘，口苦或口中有异味，大便黏滞，小便色深，湿热的季节更难受。",
        about_en: "Damp combined with heat: an oily face prone to spots, a bitter taste or bad breath, sticky stools and dark urine; hot, humid weather feels worse.",
    },
    TypeInfo {
        kind: Type::BloodStasis,
        zh: "血瘀质",
        en: "Blood stasis",
        about_zh: "血行不畅：面色晦暗，容易出现青紫瘀斑，唇色偏暗，常有某处疼痛，怕冷。",
        about_en: "Sluggish blood flow: a dull complexion, easy bruising, dusky lips and recurring pain in one place; dislikes the cold.",
    },
    TypeInfo {
        kind: Type::QiStagnation,
        zh: "气郁质",
        en: "Qi stagnation",
        about_zh: "气机郁滞：情绪低落或紧张，多愁善感，爱叹气，胁肋胀闷或喉中似有物堵，压力大、阴雨天时更明显。",
        about_en: "Energy that does not flow freely: low or tense moods, sensitivity, sighing, a tight feeling under the ribs or in the throat; worse under stress and in gloomy weather.",
    },
    TypeInfo {
        kind: Type::Special,
        zh: "特禀质",
        en: "Special diathesis (allergic)",
        about_zh: "先天禀赋特殊，以过敏为主：容易过敏，不感冒也打喷嚏、鼻塞，容易起荨麻疹，换季时更明显。",
        about_en: "An inherited, mostly allergic make-up: allergies, sneezing or a blocked nose without a cold, hives; worse as the seasons change.",
    },
];

/// The sex a person gives: it chooses which of 湿热's two sex-specific questions they answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Female,
    Male,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
        }
    }
}

/// One question: its id (the key of its answer), its wording, the sex it is asked of (`None`:
/// everyone), and the types it counts in (`true`: reversed there, 1 counting as 5).
#[derive(Debug)]
pub struct Item {
    pub id: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub sex: Option<Sex>,
    pub counts: &'static [(Type, bool)],
}

use Type::{
    Balanced as B, BloodStasis as BS, DampHeat as DH, PhlegmDampness as PD, QiDeficiency as QD, QiStagnation as QS,
    Special as SP, YangDeficiency as YA, YinDeficiency as YI,
};

const fn item(id: &'static str, zh: &'static str, en: &'static str, counts: &'static [(Type, bool)]) -> Item {
    Item { id, zh, en, sex: None, counts }
}

/// The questions, the balanced type's first; a person answers the sixty that apply to them.
pub static ITEMS: [Item; 61] = [
    // 平和: two questions forward, six reversed (five of them shared with a bias).
    item(
        "energy",
        "您觉得自己精力充足、做事有劲吗？",
        "Do you feel full of energy and able to get things done?",
        &[(B, false)],
    ),
    item(
        "tiresEasily",
        "您是否稍一活动就觉得累、想歇一歇？",
        "Do you tire quickly and need to rest?",
        &[(B, true), (QD, false)],
    ),
    item(
        "weakVoice",
        "您说话时是否觉得声音轻、提不起气？",
        "When you speak, does your voice feel faint or hard to project?",
        &[(B, true), (QD, false)],
    ),
    item(
        "lowMood",
        "您是否感到心情低落、提不起兴致？",
        "Do you feel down, or find little joy in things?",
        &[(B, true), (QS, false)],
    ),
    item(
        "feelsTheCold",
        "您是否比别人更受不了冷天或空调房？",
        "Do you find cold weather or air-conditioned rooms harder to bear than others do?",
        &[(B, true), (YA, false)],
    ),
    item(
        "adapts",
        "天气、环境或生活节奏变了，您能很快适应吗？",
        "When the weather, your surroundings or your routine change, do you adjust easily?",
        &[(B, false)],
    ),
    item(
        "poorSleep",
        "您是否难以入睡，或睡得不踏实？",
        "Do you have trouble falling asleep or staying asleep?",
        &[(B, true)],
    ),
    item(
        "forgetful",
        "您是否常常忘事、丢三落四？",
        "Do you find yourself forgetting things?",
        &[(B, true), (BS, false)],
    ),
    // 气虚: with tiring easily and the weak voice above.
    item(
        "shortOfBreath",
        "您是否走快一点、爬几级楼梯就喘不上气？",
        "Do you get short of breath from light effort, like a flight of stairs?",
        &[(QD, false)],
    ),
    item(
        "palpitations",
        "您是否会无缘无故感到心跳快、心慌？",
        "Does your heart race or flutter for no clear reason?",
        &[(QD, false)],
    ),
    item(
        "dizzyOnStanding",
        "您站起来时是否会头晕眼花？",
        "Do you feel dizzy or light-headed when you stand up?",
        &[(QD, false)],
    ),
    item(
        "catchesColds",
        "您是否比别人更容易感冒？",
        "Do you catch colds more easily than the people around you?",
        &[(QD, false), (YA, false)],
    ),
    item(
        "prefersQuiet",
        "您是否懒得说话，更愿意安静待着？",
        "Would you rather stay quiet than talk, because talking tires you?",
        &[(QD, false)],
    ),
    item(
        "sweatsOnEffort",
        "您是否稍一活动就出汗？",
        "Do you break into a sweat with only light activity?",
        &[(QD, false)],
    ),
    // 阳虚: with feeling the cold and catching colds above.
    item("coldHandsFeet", "您的手脚是否常常发凉？", "Are your hands and feet often cold?", &[(YA, false)]),
    item(
        "coldBellyBack",
        "您的胃部、后背、腰或膝盖是否常觉得凉？",
        "Do your stomach, back, lower back or knees often feel cold?",
        &[(YA, false)],
    ),
    item(
        "dressesWarmer",
        "您是否比身边的人穿得更厚？",
        "Do you dress more warmly than the people around you?",
        &[(YA, false)],
    ),
    item(
        "coldFoodUpsets",
        "吃喝凉的东西后，您是否觉得不舒服，或者因此不敢吃凉的？",
        "Do cold foods or drinks upset you, or do you avoid them for that reason?",
        &[(YA, false)],
    ),
    item(
        "chillLoosensBowels",
        "受凉或吃凉东西后，您是否容易拉肚子？",
        "Do you get loose stools after a chill or after cold food?",
        &[(YA, false)],
    ),
    // 阴虚
    item("hotPalmsSoles", "您的手心、脚心是否常常发热？", "Do your palms and soles often feel hot?", &[(YI, false)]),
    item(
        "warmFlushes",
        "您是否感到身上或脸上一阵阵烘热？",
        "Do you feel warm flushes in your body or face?",
        &[(YI, false)],
    ),
    item("drySkinLips", "您的皮肤或嘴唇是否干燥？", "Are your skin or lips dry?", &[(YI, false)]),
    item("redLips", "您的嘴唇颜色是否比一般人红？", "Are your lips redder than most people's?", &[(YI, false)]),
    item("dryStools", "您是否大便干结、不易解出？", "Are your stools dry and hard to pass?", &[(YI, false)]),
    item(
        "flushedCheeks",
        "您的两颊是否常常泛红或发烫？",
        "Do your cheeks often look flushed or feel hot?",
        &[(YI, false)],
    ),
    item("dryEyes", "您是否觉得眼睛干涩？", "Do your eyes feel dry or gritty?", &[(YI, false)]),
    item(
        "dryMouth",
        "您是否觉得嘴里、嗓子发干，总想喝水？",
        "Do your mouth and throat feel dry, so that you always want a drink?",
        &[(YI, false)],
    ),
    // 痰湿
    item(
        "chestOrBellyFull",
        "您是否感到胸口发闷，或肚子胀满？",
        "Does your chest feel tight, or your belly full and bloated?",
        &[(PD, false)],
    ),
    item("heavyBody", "您是否觉得身体沉重、不轻快？", "Does your body feel heavy and sluggish?", &[(PD, false)]),
    item("softBelly", "您的腹部是否肥大、松软？", "Is your belly large and soft?", &[(PD, false)]),
    item("oilyForehead", "您的额头是否容易出油？", "Does your forehead get oily?", &[(PD, false)]),
    item(
        "puffyEyelids",
        "您的上眼皮是否比别人显得肿？",
        "Do your upper eyelids look puffier than other people's?",
        &[(PD, false)],
    ),
    item("stickyMouth", "您是否觉得嘴里发黏？", "Does your mouth feel sticky?", &[(PD, false)]),
    item(
        "phlegm",
        "您是否痰多，或总觉得喉咙里有痰？",
        "Do you have a lot of phlegm, or a feeling of phlegm in your throat?",
        &[(PD, false)],
    ),
    item(
        "coatedTongue",
        "您是否觉得舌头上有一层厚厚的东西、嘴里不清爽？",
        "Does your tongue feel thickly coated, or your mouth not fresh?",
        &[(PD, false)],
    ),
    // 湿热: five questions for everyone, and one that depends on the person's sex.
    item("oilyFace", "您的脸或鼻子是否油亮？", "Do your face or nose look shiny with oil?", &[(DH, false)]),
    item("spots", "您是否容易长痘或疖子？", "Do you get spots, acne or boils easily?", &[(DH, false)]),
    item(
        "bitterMouth",
        "您是否觉得口苦，或嘴里有异味？",
        "Do you have a bitter taste in your mouth, or bad breath?",
        &[(DH, false)],
    ),
    item(
        "stickyStools",
        "您的大便是否黏滞、总觉得解不干净？",
        "Are your stools sticky, leaving a feeling of not being done?",
        &[(DH, false)],
    ),
    item(
        "hotUrine",
        "小便时您是否觉得发热，或尿色发深？",
        "Does your urine feel hot as it passes, or look dark?",
        &[(DH, false)],
    ),
    Item {
        id: "yellowDischarge",
        zh: "您的白带是否颜色发黄？",
        en: "Is your vaginal discharge yellowish?",
        sex: Some(Sex::Female),
        counts: &[(DH, false)],
    },
    Item {
        id: "dampScrotum",
        zh: "您的阴囊部位是否潮湿？",
        en: "Does the skin of your scrotum feel damp?",
        sex: Some(Sex::Male),
        counts: &[(DH, false)],
    },
    // 血瘀: with forgetfulness above.
    item(
        "bruises",
        "您的皮肤是否会不知不觉出现青紫瘀斑？",
        "Do bruises appear on your skin without you knowing how?",
        &[(BS, false)],
    ),
    item(
        "threadVeins",
        "您的两颊是否有细小的红血丝？",
        "Do you have fine red thread veins on your cheeks?",
        &[(BS, false)],
    ),
    item("bodyPain", "您身上是否有某处疼痛？", "Do you have pain somewhere in your body?", &[(BS, false)]),
    item(
        "dullComplexion",
        "您的面色是否晦暗，或容易长褐斑？",
        "Does your complexion look dull, or do brown patches appear easily?",
        &[(BS, false)],
    ),
    item("darkCircles", "您是否容易有黑眼圈？", "Do you get dark circles under your eyes?", &[(BS, false)]),
    item("duskyLips", "您的嘴唇颜色是否偏暗？", "Are your lips dusky or dark in colour?", &[(BS, false)]),
    // 气郁: with low mood above.
    item("tense", "您是否容易精神紧张、焦虑不安？", "Do you feel tense or anxious?", &[(QS, false)]),
    item("sensitive", "您是否多愁善感、容易伤心？", "Are you easily saddened, or emotionally fragile?", &[(QS, false)]),
    item("startles", "您是否容易受惊吓？", "Are you easily startled or frightened?", &[(QS, false)]),
    item(
        "sidesDistended",
        "您的两胁（肋骨下方）或乳房是否有胀痛感？",
        "Do you feel distension or aching at your sides below the ribs, or in the breasts?",
        &[(QS, false)],
    ),
    item("sighs", "您是否会无缘无故地叹气？", "Do you sigh for no reason?", &[(QS, false)]),
    item(
        "lumpInThroat",
        "您是否觉得喉咙里像有东西堵着，咳不出也咽不下？",
        "Does it feel as if something is stuck in your throat that you can neither cough up nor swallow?",
        &[(QS, false)],
    ),
    // 特禀
    item("sneezes", "没有感冒时，您也会打喷嚏吗？", "Do you sneeze even when you don't have a cold?", &[(SP, false)]),
    item(
        "runnyNose",
        "没有感冒时，您也会鼻塞、流鼻涕吗？",
        "Do you get a blocked or runny nose without a cold?",
        &[(SP, false)],
    ),
    item(
        "triggeredCough",
        "换季、温度变化或闻到异味时，您是否会咳嗽、气喘？",
        "Do changes of season or temperature, or strong smells, set off a cough or wheeze?",
        &[(SP, false)],
    ),
    item(
        "allergies",
        "您是否容易过敏（对药物、食物、气味、花粉，或在换季时）？",
        "Are you prone to allergies (to medicines, foods, smells or pollen, or as the seasons change)?",
        &[(SP, false)],
    ),
    item(
        "hives",
        "您的皮肤是否容易起荨麻疹（风团、风疹块）？",
        "Does your skin break out in hives (itchy raised welts)?",
        &[(SP, false)],
    ),
    item(
        "allergicSpots",
        "您的皮肤是否会因过敏出现紫红色的斑点或斑块？",
        "Does an allergy bring out purple-red spots or patches on your skin?",
        &[(SP, false)],
    ),
    item(
        "scratchWelts",
        "您的皮肤一抓就发红，并留下抓痕？",
        "Does your skin turn red and raise welts where it is scratched?",
        &[(SP, false)],
    ),
];

/// The sixty questions a person of `sex` answers, in order.
pub fn for_sex(sex: Sex) -> impl Iterator<Item = &'static Item> {
    ITEMS.iter().filter(move |item| item.sex.is_none_or(|asked| asked == sex))
}

/// How many questions each person answers.
pub const ANSWERED: usize = 60;

/// The answer scale: 1 没有 (never) … 5 总是 (always).
pub static OPTIONS: [(u8, &str, &str); 5] = [
    (1, "没有", "Never"),
    (2, "很少", "Rarely"),
    (3, "有时", "Sometimes"),
    (4, "经常", "Often"),
    (5, "总是", "Always"),
];

/// The instruction above the questions: the period asked about is the past year.
pub const RECALL_ZH: &str = "请根据您近一年来的体验和感觉，回答下面的问题：每题选出最符合的一项。";
pub const RECALL_EN: &str = "Answer each question by how you have felt and what you have noticed over the past year: pick the option that fits best.";

#[cfg(test)]
mod tests {
    use super::*;

    /// The standard's item counts per type (8, 8, 7, 8, 8, 6, 7, 7, 7) for either sex.
    #[test]
    fn each_type_has_the_standards_number_of_questions() {
        for sex in [Sex::Female, Sex::Male] {
            let mut counts = [0; 9];
            for item in for_sex(sex) {
                for (kind, _) in item.counts {
                    counts[kind.index()] += 1;
                }
            }
            assert_eq!(counts, [8, 8, 7, 8, 8, 6, 7, 7, 7], "{sex:?}");
            assert_eq!(for_sex(sex).count(), ANSWERED);
        }
    }

    #[test]
    fn only_the_balanced_type_reverses_and_exactly_six_of_its_questions() {
        let reversed: Vec<&str> = ITEMS
            .iter()
            .flat_map(|item| item.counts.iter().filter(|(_, reversed)| *reversed).map(|(kind, _)| (item.id, *kind)))
            .map(|(id, kind)| {
                assert_eq!(kind, Type::Balanced, "{id}");
                id
            })
            .collect();
        assert_eq!(reversed, ["tiresEasily", "weakVoice", "lowMood", "feelsTheCold", "poorSleep", "forgetful"]);
    }

    #[test]
    fn the_shared_questions_are_the_standards_six() {
        let shared: Vec<(&str, Vec<Type>)> = ITEMS
            .iter()
            .filter(|item| item.counts.len() > 1)
            .map(|item| (item.id, item.counts.iter().map(|(kind, _)| *kind).collect()))
            .collect();
        assert_eq!(
            shared,
            [
                ("tiresEasily", vec![Type::Balanced, Type::QiDeficiency]),
                ("weakVoice", vec![Type::Balanced, Type::QiDeficiency]),
                ("lowMood", vec![Type::Balanced, Type::QiStagnation]),
                ("feelsTheCold", vec![Type::Balanced, Type::YangDeficiency]),
                ("forgetful", vec![Type::Balanced, Type::BloodStasis]),
                ("catchesColds", vec![Type::QiDeficiency, Type::YangDeficiency]),
            ]
        );
    }

    #[test]
    fn ids_are_unique_and_every_question_is_written_in_both_languages() {
        let mut ids: Vec<&str> = ITEMS.iter().map(|item| item.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ITEMS.len());
        for item in &ITEMS {
            assert!(item.zh.ends_with('？'), "{}", item.id);
            assert!(item.en.ends_with('?'), "{}", item.id);
        }
        for (index, info) in TYPES.iter().enumerate() {
            assert_eq!(info.kind.index(), index);
            assert!(!info.about_zh.is_empty() && !info.about_en.is_empty());
        }
    }
}
