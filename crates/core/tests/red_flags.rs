//! Which messages raise an emergency card: typical phrasings of every rule in Chinese and
//! English (mixed scripts, full-width characters, curly apostrophes), and messages that must not
//! raise one (negations, look-alike words, everyday TCM questions). Each row says exactly which
//! rule fires, or none.

use app_core::safety::red_flags::{CardKind, check, rule, rules};

const CASES: &[(&str, Option<&str>)] = &[
    // Chest pain
    ("I have crushing chest pain spreading to my left arm", Some("chest_pain")),
    ("there's a pressure in my chest since an hour", Some("chest_pain")),
    ("Chest Tightness when I climb stairs", Some("chest_pain")),
    ("我胸口痛，还出冷汗", Some("chest_pain")),
    ("胸 闷 气短怎么办", Some("chest_pain")),
    ("I have no chest pain, just a cough", None),
    ("I don't have chest pain anymore", None),
    ("没有胸痛，只是有点咳嗽", None),
    ("Where should I put my chest of drawers for good feng shui?", None),
    // Stroke
    ("my father's face is drooping and he has slurred speech", Some("stroke")),
    ("She suddenly feels weak on one side", Some("stroke")),
    ("I think he is having a stroke", Some("stroke")),
    ("奶奶突然口角歪斜，说话不清", Some("stroke")),
    ("老伴可能中风了", Some("stroke")),
    ("What does a brush stroke mean in calligraphy?", None),
    ("I had a stroke of luck today; what does the oracle say?", None),
    // Breathing
    ("My son can't breathe properly and his lips are blue", Some("breathing")),
    ("I can’t breathe after running", Some("breathing")),
    ("ＣＡＮ'Ｔ ＢＲＥＡＴＨＥ", Some("breathing")),
    ("孩子喘不上气", Some("breathing")),
    ("我呼吸困难", Some("breathing")),
    ("How do breathing exercises help sleep?", None),
    // Heavy bleeding
    ("the cut won't stop bleeding", Some("heavy_bleeding")),
    ("He is vomiting blood", Some("heavy_bleeding")),
    ("伤口血流不止", Some("heavy_bleeding")),
    ("今天早上咳血了", Some("heavy_bleeding")),
    ("My gums bleed a little when I brush", None),
    // Pregnancy
    ("I'm 8 weeks pregnant and I have spotting", Some("pregnancy_bleeding")),
    ("bleeding during pregnancy, what should I do", Some("pregnancy_bleeding")),
    ("怀孕两个月，今天见红了", Some("pregnancy_bleeding")),
    ("孕期出血怎么办", Some("pregnancy_bleeding")),
    ("What should I eat during pregnancy for energy?", None),
    ("怀孕期间适合喝什么汤？", None),
    ("Is high blood pressure common when pregnant?", None),
    // Infants
    ("My 2 month old baby has a fever", Some("infant_fever")),
    ("newborn feels hot to the touch", Some("infant_fever")),
    ("三个月大的宝宝发烧39度", Some("infant_fever")),
    ("婴儿高热不退", Some("infant_fever")),
    ("My baby sleeps badly at night", None),
    ("宝宝体温正常但是不爱吃饭", None),
    // Poisoning
    ("my daughter swallowed bleach", Some("poisoning")),
    ("I think I took too many pills", Some("poisoning")),
    ("爷爷误服了农药", Some("poisoning")),
    ("家里可能煤气中毒", Some("poisoning")),
    // Self-harm
    ("I want to kill myself", Some("self_harm")),
    ("Sometimes I think about suicide", Some("self_harm")),
    ("I feel like there's no reason to live", Some("self_harm")),
    ("我不想活了", Some("self_harm")),
    ("最近总想自杀", Some("self_harm")),
    ("活着没意思，想割腕", Some("self_harm")),
    ("I'm not suicidal, just tired", None),
    ("我不想死，只是很累", None),
    ("What does hexagram 29 say about danger?", None),
    // Anaphylaxis, consciousness, headache
    ("my throat is swelling after eating peanuts", Some("anaphylaxis")),
    ("吃了海鲜后喉咙肿", Some("anaphylaxis")),
    ("my husband passed out and won't wake up", Some("unconscious")),
    ("孩子抽搐了", Some("unconscious")),
    ("This is the worst headache of my life", Some("sudden_headache")),
    ("突然剧烈头痛", Some("sudden_headache")),
    ("I get mild headaches in the afternoon", None),
    // Everyday questions
    ("Which tea suits autumn dryness?", None),
    ("失眠多梦，适合喝什么茶？", None),
    ("请帮我解读一下乾卦", None),
    ("My tongue has a thick white coating", None),
    // Mixed scripts
    ("my mom 胸口痛 since this morning", Some("chest_pain")),
    ("我 feel like I can't breathe", Some("breathing")),
];

#[test]
fn exactly_these_messages_raise_a_card() {
    let mut wrong = Vec::new();
    for (text, expected) in CASES {
        let found = check(text).map(|flag| flag.rule);
        if found != *expected {
            wrong.push(format!("{text:?}: expected {expected:?}, got {found:?}"));
        }
    }
    assert!(wrong.is_empty(), "{} of {} wrong:\n{}", wrong.len(), CASES.len(), wrong.join("\n"));
}

#[test]
fn every_rule_is_exercised_and_self_harm_raises_the_crisis_card() {
    for shipped in &rules().rules {
        assert!(CASES.iter().any(|(_, rule)| *rule == Some(shipped.id.as_str())), "no case for {}", shipped.id);
    }
    assert_eq!(rule("self_harm").unwrap().card, CardKind::Crisis);
    assert_eq!(rule("chest_pain").unwrap().card, CardKind::Emergency);
    assert!(rule("nothing").is_none());
}

mod through_the_router {
    use std::time::Duration;

    use app_core::entities::{Message, MessageRole, message};
    use axum::http::StatusCode;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use test_support::{Behaviour, TestApp, Upstream, both_databases, json, sse_events};

    both_databases! {
        /// The card comes before anything the model writes, is stored with the turn, and the
        /// model is told it was shown.
        async fn an_emergency_sign_raises_the_card_before_the_reply(backend: Backend) {
            let upstream = Upstream::start(Behaviour::pieces(&["Please ", "call now."], Duration::from_millis(10))).await;
            let app = TestApp::with_upstream(backend, &upstream, &[]).await;
            let token = app.register("worried@example.com").await;
            let response = app.post("/api/chat").token(&token).header("accept", "text/event-stream")
                .json(&json!({"type": "tcm", "locale": "en", "messages": [{"role": "user", "content": "I have crushing chest pain"}]}))
                .send().await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.text());
            let events = sse_events(&response.text());
            let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
            assert_eq!(&names[..2], ["start", "redFlag"], "{names:?}");
            assert_eq!(events[1].1, json!({"rule": "chest_pain", "card": "emergency", "emergencyNumber": "120", "crisisHotline": "12356"}));
            let system = upstream.received()[0].messages()[0].1.clone();
            assert!(system.contains("Safety note") && system.contains("call 120"), "{system}");

            let conversation_id = events[0].1["conversationId"].as_str().unwrap();
            let stored = Message::find().filter(message::Column::ConversationId.eq(conversation_id))
                .filter(message::Column::Role.eq(MessageRole::User)).one(&app.db).await.unwrap().unwrap();
            assert_eq!(stored.red_flag.as_deref(), Some("chest_pain"));
            let history = app.get(&format!("/api/chat/conversations/{conversation_id}")).token(&token).send().await.json();
            assert_eq!(history["messages"][0]["redFlag"]["rule"], "chest_pain");
            assert!(history["messages"][1]["redFlag"].is_null());

            // An ordinary question raises nothing and tells the model nothing.
            let calm = app.post("/api/chat").token(&token)
                .json(&json!({"type": "tcm", "locale": "en", "conversationId": conversation_id, "messages": [{"role": "user", "content": "Which tea suits autumn?"}]}))
                .send().await.json();
            assert!(calm.get("redFlag").is_none(), "{calm}");
            assert!(!upstream.received()[1].messages()[0].1.contains("Safety note"));
        }

        /// Self-harm raises the crisis card in the JSON answer too, with the numbers configured.
        async fn the_crisis_card_carries_the_configured_numbers(backend: Backend) {
            let upstream = Upstream::start(Behaviour::reply("我在这里陪着你。")).await;
            let app = TestApp::with_upstream(backend, &upstream, &[("CRISIS_HOTLINE", "400-161-9995"), ("EMERGENCY_NUMBER", "110")]).await;
            let token = app.register("low@example.com").await;
            let body = app.post("/api/chat").token(&token)
                .json(&json!({"type": "oracle", "locale": "zh-CN", "messages": [{"role": "user", "content": "我不想活了"}]}))
                .send().await.json();
            assert_eq!(body["redFlag"], json!({"rule": "self_harm", "card": "crisis", "emergencyNumber": "110", "crisisHotline": "400-161-9995"}));
            let system = upstream.received()[0].messages()[0].1.clone();
            assert!(system.contains("安全提示") && system.contains("400-161-9995"), "{system}");
        }

        /// Whatever refuses a turn (the consent gate, the terms, a used-up quota), a message with
        /// an emergency sign still gets its card, in the error: the numbers reach the person.
        async fn a_refused_turn_still_shows_its_card(backend: Backend) {
            let upstream = Upstream::start(Behaviour::reply("never asked")).await;
            let app = TestApp::with_upstream(backend, &upstream, &[("HEALTH_CONSENT", "required"), ("CHAT_QUOTA_USER", "1/1d")]).await;
            let token = app.register("alone@example.com").await;
            let crisis = json!({"type": "tcm", "locale": "zh-CN", "messages": [{"role": "user", "content": "我不想活了"}]});
            let refused = app.post("/api/chat").token(&token).json(&crisis).send().await;
            assert_eq!(refused.assert_error(StatusCode::FORBIDDEN), "consent_required");
            assert_eq!(refused.json()["error"]["redFlag"]["card"], "crisis");
            assert_eq!(refused.json()["error"]["redFlag"]["crisisHotline"], "12356");
            let streamed = app.post("/api/chat").token(&token).header("accept", "text/event-stream").json(&crisis).send().await;
            assert_eq!(streamed.json()["error"]["redFlag"]["rule"], "self_harm", "before a stream begins, too");
            let calm = app.post("/api/chat").token(&token)
                .json(&json!({"type": "tcm", "messages": [{"role": "user", "content": "I sleep badly"}]})).send().await;
            assert_eq!(calm.assert_error(StatusCode::FORBIDDEN), "consent_required");
            assert!(calm.json()["error"].get("redFlag").is_none(), "{}", calm.text());

            // The quota: one turn a day, used by the oracle; the next, a chest pain, is refused with its card.
            let used = app.post("/api/chat").token(&token)
                .json(&json!({"type": "oracle", "messages": [{"role": "user", "content": "hello"}]})).send().await;
            assert_eq!(used.status, StatusCode::OK, "{}", used.text());
            let chest = app.post("/api/chat").token(&token)
                .json(&json!({"type": "oracle", "messages": [{"role": "user", "content": "I have crushing chest pain"}]})).send().await;
            assert_eq!(chest.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
            assert_eq!(chest.json()["error"]["redFlag"]["card"], "emergency");
            assert!(chest.header("retry-after").is_some(), "the card keeps the refusal's Retry-After");
        }
    }
}
