//! The API description: generated from the code, committed as `openapi.json`, and in step with
//! the routes actually served.

use std::path::Path;

use axum::http::{Method, StatusCode};
use test_support::{Backend, TestApp};

#[test]
fn committed_openapi_json_is_current() {
    let generated = app_core::openapi::document_json();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json is missing or out of date with the code: run `make openapi` and commit the result"
    );
}

#[test]
fn document_is_openapi_3_1_with_bearer_auth_and_error_schema() {
    let document: serde_json::Value = serde_json::from_str(&app_core::openapi::document_json()).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(document["components"]["schemas"]["ErrorBody"].is_object());
    // The SSE response of /api/chat is described next to the JSON one.
    let chat = &document["paths"]["/api/chat"]["post"]["responses"]["200"]["content"];
    assert!(chat["application/json"].is_object() && chat["text/event-stream"].is_object(), "{chat}");
    // Every operation documents the generic failures, and authenticated ones their 401.
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.contains_key("500") && responses.contains_key("503"), "{method} {path}");
            if operation.get("security").is_some() {
                assert!(responses.contains_key("401"), "{method} {path}");
            }
        }
    }
}

/// The documented limits of the auth bodies are the ones enforced (utoipa takes only literals).
#[test]
fn credential_limits_in_the_document_are_the_enforced_ones() {
    use app_core::auth::{
        MAX_EMAIL_BYTES,
        password::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS},
    };
    let document: serde_json::Value = serde_json::from_str(&app_core::openapi::document_json()).unwrap();
    let schemas = &document["components"]["schemas"];
    let register = &schemas["NewAccount"]["properties"];
    assert_eq!(register["email"]["maxLength"], MAX_EMAIL_BYTES);
    assert_eq!(register["email"]["format"], "idn-email");
    assert_eq!(register["password"]["minLength"], MIN_PASSWORD_CHARS);
    assert_eq!(register["password"]["maxLength"], MAX_PASSWORD_BYTES);
    // Login compares whatever password it is given: no length rule to document there.
    let login = &schemas["Credentials"]["properties"];
    assert_eq!(login["email"]["maxLength"], MAX_EMAIL_BYTES);
    assert!(login["password"].get("minLength").is_none() && login["password"].get("maxLength").is_none());
    // A new password follows the registration rules wherever it is set.
    for (schema, field) in [("PasswordChange", "newPassword"), ("PasswordReset", "password")] {
        let property = &schemas[schema]["properties"][field];
        assert_eq!(property["minLength"], MIN_PASSWORD_CHARS, "{schema}.{field}");
        assert_eq!(property["maxLength"], MAX_PASSWORD_BYTES, "{schema}.{field}");
    }
    assert_eq!(schemas["ForgotPassword"]["properties"]["email"]["maxLength"], MAX_EMAIL_BYTES);
}

/// Every documented operation is routed: none answers the router's own 404 or 405.
#[tokio::test]
async fn every_documented_operation_is_served() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document: serde_json::Value = serde_json::from_str(&app_core::openapi::document_json()).unwrap();
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let concrete = path.replace("{id}", "some-id").replace("{messageId}", "some-message");
            let response = app.request(method.clone(), &concrete).send().await;
            assert_ne!(response.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            let unrouted = response.status == StatusCode::NOT_FOUND && response.text().contains("route not found");
            assert!(!unrouted, "{method} {path} is documented but not routed");
            operations += 1;
        }
    }
    assert_eq!(operations, 59, "the four functions serve 58 operations, plus health");
}
