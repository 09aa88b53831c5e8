//! The model's HTTP client works on a runtime image without CA certificates (FC's custom
//! runtimes don't promise them): pointing the system trust store at an empty folder must not
//! break chat. (One test in this binary: it sets the process environment.)

use app_core::{
    chat::llm::{Llm, Prompt},
    config::LlmConfig,
    entities::MessageRole,
};
use test_support::{Behaviour, Upstream};

#[tokio::test]
async fn the_model_client_works_without_system_ca_certificates() {
    let empty = std::env::temp_dir().join(format!("no-ca-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    // SAFETY: the only test in this binary; set before any other thread reads the environment.
    unsafe {
        std::env::set_var("SSL_CERT_FILE", empty.join("none.pem"));
        std::env::set_var("SSL_CERT_DIR", &empty);
    }
    let upstream = Upstream::start(Behaviour::reply("still here")).await;
    let llm = Llm::new(&LlmConfig {
        api_key: "key".into(),
        base_url: upstream.base_url.clone(),
        model: "m".into(),
        max_tokens: 16,
        timeout: std::time::Duration::from_secs(5),
        title_model: None,
        max_retries: 1,
        thinking: app_core::config::ThinkingConfig { mode: Default::default(), model: "m".into(), budget: None },
        vision_model: None,
        tongue_model: None,
    });
    llm.warm_up();
    let prompt = Prompt::text("system".into(), vec![(MessageRole::User, "hi".into())]);
    let completion = llm.complete(&prompt, false).await.expect("the client was built and answered");
    assert_eq!(completion.text, "still here");
    let _ = std::fs::remove_dir_all(empty);
}
