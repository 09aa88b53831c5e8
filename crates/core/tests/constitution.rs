//! The TCM constitution self-assessment (issue 25): the questionnaire, submitted answers scored
//! by ZYYXH/T157-2009's rules and kept as a history, the health consent in front of it, the
//! account's export, and the newest result in what the TCM model receives.

use axum::http::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Map, Value};
use test_support::{Behaviour, PASSWORD, TestApp, Upstream, both_databases, json};

use app_core::entities::ConstitutionAssessment;

/// Worked example A of the scoring's unit tests (a man; computed by hand there): 基本是平和质 with
/// a leaning to 气郁 (32.14).
fn example_a() -> Map<String, Value> {
    let answers = [
        ("energy", 4),
        ("tiresEasily", 2),
        ("weakVoice", 2),
        ("lowMood", 3),
        ("feelsTheCold", 3),
        ("adapts", 4),
        ("poorSleep", 3),
        ("forgetful", 3),
        ("shortOfBreath", 1),
        ("palpitations", 1),
        ("dizzyOnStanding", 2),
        ("catchesColds", 2),
        ("prefersQuiet", 2),
        ("sweatsOnEffort", 2),
        ("coldHandsFeet", 2),
        ("coldBellyBack", 1),
        ("dressesWarmer", 2),
        ("coldFoodUpsets", 2),
        ("chillLoosensBowels", 1),
        ("hotPalmsSoles", 1),
        ("warmFlushes", 1),
        ("drySkinLips", 1),
        ("redLips", 1),
        ("dryStools", 1),
        ("flushedCheeks", 1),
        ("dryEyes", 2),
        ("dryMouth", 2),
        ("chestOrBellyFull", 2),
        ("heavyBody", 1),
        ("softBelly", 1),
        ("oilyForehead", 2),
        ("puffyEyelids", 1),
        ("stickyMouth", 1),
        ("phlegm", 1),
        ("coatedTongue", 1),
        ("oilyFace", 2),
        ("spots", 2),
        ("bitterMouth", 2),
        ("stickyStools", 1),
        ("hotUrine", 1),
        ("dampScrotum", 1),
        ("bruises", 1),
        ("threadVeins", 1),
        ("bodyPain", 2),
        ("dullComplexion", 2),
        ("darkCircles", 2),
        ("duskyLips", 1),
        ("tense", 3),
        ("sensitive", 2),
        ("startles", 2),
        ("sidesDistended", 2),
        ("sighs", 3),
        ("lumpInThroat", 1),
        ("sneezes", 2),
        ("runnyNose", 1),
        ("triggeredCough", 1),
        ("allergies", 2),
        ("hives", 1),
        ("allergicSpots", 1),
        ("scratchWelts", 1),
    ];
    answers.into_iter().map(|(id, value)| (id.to_string(), json!(value))).collect()
}

async fn submit(app: &TestApp, token: &str, body: &Value) -> test_support::TestResponse {
    app.post("/api/constitution/assessments").token(token).json(body).send().await
}

fn example_a_body() -> Value {
    json!({"sex": "male", "answers": example_a()})
}

/// The system prompt of the model's last chat request.
fn last_system(upstream: &Upstream) -> String {
    upstream.received().last().expect("the model was asked").messages()[0].1.clone()
}

both_databases! {
    async fn the_questionnaire_is_public_and_has_the_standards_shape(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.get("/api/constitution/questionnaire").send().await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let questionnaire = response.json();
        assert_eq!(questionnaire["scale"], "ZYYXH/T157-2009");
        assert_eq!(questionnaire["options"].as_array().unwrap().len(), 5);
        assert_eq!(questionnaire["options"][0], json!({"value": 1, "zh": "没有", "en": "Never"}));
        let types: Vec<&str> = questionnaire["types"].as_array().unwrap().iter().map(|kind| kind["key"].as_str().unwrap()).collect();
        assert_eq!(types, ["balanced", "qiDeficiency", "yangDeficiency", "yinDeficiency", "phlegmDampness", "dampHeat", "bloodStasis", "qiStagnation", "special"]);
        let items = questionnaire["items"].as_array().unwrap();
        assert_eq!(items.len(), 61);
        for sex in ["female", "male"] {
            let mut counts = std::collections::BTreeMap::new();
            let mut answered = 0;
            for item in items.iter().filter(|item| item["sex"].is_null() || item["sex"] == sex) {
                answered += 1;
                for counted in item["counts"].as_array().unwrap() {
                    *counts.entry(counted["type"].as_str().unwrap().to_string()).or_insert(0) += 1;
                }
            }
            assert_eq!(answered, 60, "{sex}");
            let per_type: Vec<i32> = types.iter().map(|kind| counts[*kind]).collect();
            assert_eq!(per_type, [8, 8, 7, 8, 8, 6, 7, 7, 7], "{sex}");
        }
        let reversed = items.iter().filter(|item| item["counts"].as_array().unwrap().iter().any(|counted| counted["reversed"] == true)).count();
        assert_eq!(reversed, 6);
    }
}

both_databases! {
    async fn answers_are_scored_kept_listed_and_deleted(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.register("patient@example.com").await;
        let response = submit(&app, &token, &example_a_body()).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        let assessment = response.json()["assessment"].clone();
        assert_eq!(assessment["scale"], "ZYYXH/T157-2009");
        assert_eq!(assessment["sex"], "male");
        let scores: Vec<(String, Value, String)> = assessment["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|score| (score["type"].as_str().unwrap().into(), score["score"].clone(), score["verdict"].as_str().unwrap().into()))
            .collect();
        let expected = [
            ("balanced", json!(62.5), "basically"),
            ("qiDeficiency", json!(18.75), "no"),
            ("yangDeficiency", json!(21.43), "no"),
            ("yinDeficiency", json!(6.25), "no"),
            ("phlegmDampness", json!(6.25), "no"),
            ("dampHeat", json!(12.5), "no"),
            ("bloodStasis", json!(17.86), "no"),
            ("qiStagnation", json!(32.14), "leaning"),
            ("special", json!(7.14), "no"),
        ];
        assert_eq!(scores, expected.map(|(kind, score, verdict)| (kind.to_string(), score, verdict.to_string())));
        assert_eq!(assessment["scores"][0]["raw"], 28);
        assert_eq!(assessment["scores"][0]["items"], 8);
        assert_eq!(assessment["summary"], json!({"zh": "基本是平和质，有气郁质倾向", "en": "Basically balanced, leaning towards qi stagnation"}));
        assert_eq!(assessment["answers"], Value::Object(example_a()), "every answer kept as given");

        // A second one, newer: the history lists both, newest first.
        app.clock.advance(std::time::Duration::from_secs(60));
        let mut answers = example_a();
        answers.insert("sighs".into(), json!(2));
        let newer = submit(&app, &token, &json!({"sex": "male", "answers": answers})).await.json()["assessment"].clone();
        assert_eq!(newer["summary"]["zh"], "平和质");
        let history = app.get("/api/constitution/assessments").token(&token).send().await.json();
        assert_eq!(history["total"], 2);
        assert_eq!(history["assessments"][0]["id"], newer["id"]);
        assert_eq!(history["assessments"][1], assessment);
        let paged = app.get("/api/constitution/assessments?page=2&pageSize=1").token(&token).send().await.json();
        assert_eq!(paged["assessments"][0]["id"], assessment["id"]);
        app.get("/api/constitution/assessments?pageSize=0").token(&token).send().await.assert_error(StatusCode::BAD_REQUEST);

        let id = assessment["id"].as_str().unwrap();
        let one = app.get(&format!("/api/constitution/assessments/{id}")).token(&token).send().await;
        assert_eq!(one.json()["assessment"], assessment);
        let stranger = app.register("stranger@example.com").await;
        app.get(&format!("/api/constitution/assessments/{id}")).token(&stranger).send().await.assert_error(StatusCode::NOT_FOUND);
        app.delete(&format!("/api/constitution/assessments/{id}")).token(&stranger).send().await.assert_error(StatusCode::NOT_FOUND);
        assert_eq!(app.get("/api/constitution/assessments").token(&stranger).send().await.json()["total"], 0);
        assert_eq!(app.delete(&format!("/api/constitution/assessments/{id}")).token(&token).send().await.status, StatusCode::NO_CONTENT);
        app.delete(&format!("/api/constitution/assessments/{id}")).token(&token).send().await.assert_error(StatusCode::NOT_FOUND);
        assert_eq!(app.get("/api/constitution/assessments").token(&token).send().await.json()["total"], 1);
        app.get("/api/constitution/assessments").send().await.assert_error(StatusCode::UNAUTHORIZED);
        submit(&app, "not-a-token", &example_a_body()).await.assert_error(StatusCode::UNAUTHORIZED);

        // Deleting the account deletes its assessments.
        let deleted = app.post("/api/account/delete").token(&token).json(&json!({"password": PASSWORD})).send().await;
        assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
        assert_eq!(ConstitutionAssessment::find().count(&app.db).await.unwrap(), 0);
    }
}

both_databases! {
    /// Every way answers can be wrong is a 422 that says which, and nothing is kept.
    async fn wrong_answers_are_refused_with_what_is_wrong(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.register("patient@example.com").await;
        let with = |change: &dyn Fn(&mut Map<String, Value>)| {
            let mut answers = example_a();
            change(&mut answers);
            json!({"sex": "male", "answers": answers})
        };
        let cases: Vec<(Value, &str, &str)> = vec![
            (with(&|answers| { answers.remove("energy"); }), "incomplete_answers", "1 of 60 questions have no answer: `energy`"),
            (json!({"sex": "male", "answers": {}}), "incomplete_answers", "60 of 60 questions have no answer: `energy`, `tiresEasily`, `weakVoice`, `lowMood`, `feelsTheCold` and 55 more"),
            (with(&|answers| { answers.insert("favouriteColour".into(), json!(3)); }), "unknown_item", "there is no question `favouriteColour`"),
            (with(&|answers| { answers.insert("yellowDischarge".into(), json!(1)); }), "item_not_for_sex", "question `yellowDischarge` is asked of the other sex: leave it out"),
            (json!({"sex": "female", "answers": example_a()}), "item_not_for_sex", "question `dampScrotum` is asked of the other sex: leave it out"),
        ];
        for (body, code, message) in cases {
            let response = submit(&app, &token, &body).await;
            assert_eq!(response.assert_error(StatusCode::UNPROCESSABLE_ENTITY), code);
            assert_eq!(response.json()["error"]["message"], message);
        }
        for bad in [json!(0), json!(6), json!(2.5), json!("3"), json!(null), json!(-1), json!(300)] {
            let response = submit(&app, &token, &with(&|answers| { answers.insert("sighs".into(), bad.clone()); })).await;
            assert_eq!(response.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "invalid_answer", "{bad}");
        }
        let long = "x".repeat(10_000);
        let response = submit(&app, &token, &with(&|answers| { answers.insert(long.clone(), json!(1)); })).await;
        assert_eq!(response.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "unknown_item");
        assert!(response.json()["error"]["message"].as_str().unwrap().len() < 200, "the unknown id is not echoed whole");
        for body in [json!({"answers": example_a()}), json!({"sex": "other", "answers": example_a()}), json!({"sex": "male"}), json!({"sex": "male", "answers": [1, 2]})] {
            submit(&app, &token, &body).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        }
        assert_eq!(ConstitutionAssessment::find().count(&app.db).await.unwrap(), 0, "nothing kept");
    }
}

both_databases! {
    async fn submitting_is_limited_per_account(backend: Backend) {
        let app = TestApp::with_env(backend, |env| {
            env.insert("RATE_LIMIT_CONSTITUTION_ASSESSMENTS".into(), "2/1h".into());
        })
        .await;
        let token = app.register("patient@example.com").await;
        let other = app.register("other@example.com").await;
        for _ in 0..2 {
            assert_eq!(submit(&app, &token, &example_a_body()).await.status, StatusCode::CREATED);
        }
        let refused = submit(&app, &token, &example_a_body()).await;
        assert_eq!(refused.assert_error(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
        assert!(refused.header("retry-after").is_some());
        // Wrong answers are refused before the limit is charged.
        submit(&app, &other, &json!({"sex": "male", "answers": {}})).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(submit(&app, &other, &example_a_body()).await.status, StatusCode::CREATED, "per account");
        assert_eq!(app.get("/api/constitution/assessments").token(&token).send().await.json()["total"], 2, "nothing written");
        app.clock.advance(std::time::Duration::from_secs(3601));
        assert_eq!(submit(&app, &token, &example_a_body()).await.status, StatusCode::CREATED);
    }
}

both_databases! {
    /// Where the server asks for the health consent, the answers are taken only with it, and a
    /// withdrawal can delete them.
    async fn the_health_consent_comes_first_and_its_withdrawal_can_delete_them(backend: Backend) {
        let app = TestApp::with_env(backend, |env| {
            env.insert("HEALTH_CONSENT".into(), "required".into());
        })
        .await;
        let token = app.register("patient@example.com").await;
        let refused = submit(&app, &token, &example_a_body()).await;
        assert_eq!(refused.assert_error(StatusCode::FORBIDDEN), "consent_required");
        assert_eq!(ConstitutionAssessment::find().count(&app.db).await.unwrap(), 0);
        assert_eq!(app.post("/api/account/health-consent").token(&token).send().await.status, StatusCode::OK);
        assert_eq!(submit(&app, &token, &example_a_body()).await.status, StatusCode::CREATED);
        assert_eq!(submit(&app, &token, &example_a_body()).await.status, StatusCode::CREATED);

        // Withdrawn without deleting: the history stays the person's to read and delete.
        let withdrawn = app.delete("/api/account/health-consent").token(&token).send().await.json();
        assert_eq!(withdrawn["deletedAssessments"], 0);
        assert_eq!(app.get("/api/constitution/assessments").token(&token).send().await.json()["total"], 2);
        submit(&app, &token, &example_a_body()).await.assert_error(StatusCode::FORBIDDEN);
        // With `deleteAssessments`: gone.
        let withdrawn = app.delete("/api/account/health-consent?deleteAssessments=true").token(&token).send().await;
        assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.text());
        assert_eq!(withdrawn.json()["deletedAssessments"], 2);
        assert_eq!(app.get("/api/constitution/assessments").token(&token).send().await.json()["total"], 0);
    }
}

both_databases! {
    /// Every TCM turn gives the model the newest assessment, word for word as below; an oracle
    /// turn, or a person without one, gets none; a deleted one is no longer given.
    async fn the_tcm_model_is_given_the_newest_assessment(backend: Backend) {
        let upstream = Upstream::start(Behaviour::reply("Warm, regular meals suit you.")).await;
        let app = TestApp::with_upstream(backend, &upstream, &[]).await;
        let token = app.register("patient@example.com").await;
        let turn = async |kind: &str, locale: &str| {
            let response = app.post("/api/chat").token(&token).json(&json!({"type": kind, "locale": locale,
                "messages": [{"role": "user", "content": "What suits me this winter?"}]})).send().await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.text());
            last_system(&upstream)
        };
        assert!(!turn("tcm", "en").await.contains("constitution self-assessment"), "none taken yet");

        let mut older = example_a();
        older.insert("sighs".into(), json!(2));
        submit(&app, &token, &json!({"sex": "male", "answers": older})).await;
        app.clock.advance(std::time::Duration::from_secs(3 * 86_400));
        let newest = submit(&app, &token, &example_a_body()).await.json()["assessment"].clone();
        let date = newest["createdAt"].as_str().unwrap()[..10].to_string();
        app.clock.advance(std::time::Duration::from_secs(2 * 86_400 + 60));

        let system = turn("tcm", "en").await;
        let section = system.split("# The person's constitution self-assessment\n").nth(1).unwrap_or_else(|| panic!("no section: {system}"));
        assert_eq!(section, format!("\
The person took the constitution self-assessment on {date} (2 days ago). The questions are this app's own; the scoring and judgment follow the China Association of Chinese Medicine's standard ZYYXH/T157-2009: a biased type scoring 40 or more is \"yes\", 30–39 \"leaning\"; balanced is \"yes\" at 60 or more with every other type under 30, \"basically\" with every other under 40.
Result: Basically balanced, leaning towards qi stagnation
Transformed scores (0–100): Balanced 62.5 (basically); Qi deficiency 18.75 (no); Yang deficiency 21.43 (no); Yin deficiency 6.25 (no); Phlegm-dampness 6.25 (no); Damp-heat 12.5 (no); Blood stasis 17.86 (no); Qi stagnation 32.14 (leaning); Special diathesis (allergic) 7.14 (no)
This is a self-assessment, not a diagnosis. Let it inform wellness advice, but what the person says in the conversation comes first; never diagnose from it or present it as a doctor's finding."));

        let system = turn("tcm", "zh").await;
        let section = system.split("# 此人的体质自评\n").nth(1).unwrap_or_else(|| panic!("no section: {system}"));
        assert_eq!(section, format!("\
此人于 {date}（2 天前）做过体质自评。问卷由本应用自拟，计分与判定依中华中医药学会《中医体质分类与判定》（ZYYXH/T157-2009）：偏颇体质转化分 ≥40 为“是”，30–39 为“倾向是”；平和质 ≥60 且其他均 <30 为“是”，均 <40 为“基本是”。
结果：基本是平和质，有气郁质倾向
各型转化分（0–100）：平和质 62.5 (基本是)；气虚质 18.75 (否)；阳虚质 21.43 (否)；阴虚质 6.25 (否)；痰湿质 6.25 (否)；湿热质 12.5 (否)；血瘀质 17.86 (否)；气郁质 32.14 (倾向是)；特禀质 7.14 (否)
这是自评，不是诊断。给养生建议时可以参考它，但以此人在对话中说的为准；不要据此下诊断，也不要把它说成医生的判断。"));

        assert!(!turn("oracle", "en").await.contains("constitution"), "the oracle is not given it");
        let id = newest["id"].as_str().unwrap();
        app.delete(&format!("/api/constitution/assessments/{id}")).token(&token).send().await;
        assert!(turn("tcm", "en").await.contains("Result: Balanced\n"), "the older one is the newest now");
    }
}

both_databases! {
    /// The account's own download holds its assessments, scored; the administrators' export
    /// holds none (health information the person gave for themselves).
    async fn the_accounts_export_holds_them_and_the_admin_export_does_not(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token().await;
        let token = app.register("patient@example.com").await;
        let id = submit(&app, &token, &example_a_body()).await.json()["assessment"]["id"].clone();

        let own: Value = serde_json::from_str(&app.get("/api/account/export").token(&token).send().await.text()).unwrap();
        let records = own["data"]["constitutionAssessments"].as_array().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["id"], id);
        assert_eq!(records[0]["sex"], "male");
        assert_eq!(records[0]["answers"].as_str().unwrap().len(), 60);
        assert_eq!(records[0]["assessment"]["summary"]["zh"], "基本是平和质，有气郁质倾向");
        let lines = app.get("/api/account/export?format=ndjson").token(&token).send().await.text();
        assert_eq!(lines.lines().filter(|line| line.starts_with("{\"type\":\"constitutionAssessment\"")).count(), 1);

        let everything: Value = serde_json::from_str(&app.get("/api/admin/export").token(&admin).send().await.text()).unwrap();
        assert!(everything["data"].get("constitutionAssessments").is_none(), "{}", everything["data"]);
        assert!(everything["data"]["users"].as_array().unwrap().len() >= 2, "the export itself works");
        let lines = app.get("/api/admin/export?format=ndjson").token(&admin).send().await.text();
        assert!(!lines.contains("constitutionAssessment"));
        assert!(!lines.contains(id.as_str().unwrap()));
    }
}
