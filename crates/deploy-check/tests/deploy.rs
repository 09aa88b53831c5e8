//! `s.yaml` and `esa.jsonc` against the code: the real files pass, and each check catches the
//! mistake it exists for.

use std::{collections::BTreeMap, path::Path};

use app_core::{config::Config, functions};
use deploy_check::{Served, check_esa, check_s_yaml, route_for, strip_jsonc_comments};
use utoipa::openapi::PathItem;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn s_yaml() -> String {
    std::fs::read_to_string(root().join("s.yaml")).expect("s.yaml at the top level")
}

/// The paths and methods each function's binary serves (`/api/health` aside: every function
/// serves it), read from its route table.
fn served() -> BTreeMap<&'static str, Served> {
    let served = |routes: app_core::ApiRoutes| {
        let paths = routes.documented().split_for_parts().1.paths.paths;
        let mut methods: Vec<String> = paths.values().flat_map(methods_of).collect();
        methods.sort();
        methods.dedup();
        Served { paths: paths.keys().cloned().collect(), methods }
    };
    BTreeMap::from([
        ("chat", served(functions::chat())),
        ("auth-login", served(functions::auth_login())),
        ("auth-register", served(functions::auth_register())),
        ("admin-export", served(functions::admin_export())),
    ])
}

/// The methods a path item has operations for, upper-case.
fn methods_of(item: &PathItem) -> Vec<String> {
    let operations = [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("OPTIONS", &item.options),
        ("HEAD", &item.head),
        ("PATCH", &item.patch),
        ("TRACE", &item.trace),
    ];
    operations.into_iter().filter(|(_, operation)| operation.is_some()).map(|(method, _)| method.to_string()).collect()
}

#[test]
fn cors_allows_every_method_the_api_serves() {
    let cors: Vec<&str> = app_core::http::CORS_METHODS.iter().map(|method| method.as_str()).collect();
    let all: Vec<String> = served().into_values().flat_map(|served| served.methods).collect();
    assert!(all.iter().any(|method| method == "PUT"), "the route table is read (feedback is a PUT)");
    for method in all {
        assert!(cors.contains(&method.as_str()), "CORS_METHODS lacks {method}, which a route serves");
    }
}

fn problems_with(edit: impl FnOnce(String) -> String) -> Vec<String> {
    check_s_yaml(&edit(s_yaml()), &served(), Config::VARIABLES)
}

#[test]
fn s_yaml_matches_the_code() {
    let problems = problems_with(|text| text);
    assert!(problems.is_empty(), "s.yaml is out of step with the code:\n- {}", problems.join("\n- "));
}

#[test]
fn every_served_path_has_a_route_to_its_function() {
    // A sanity check of the served set itself: each function serves something.
    for (function, served) in served() {
        assert!(!served.paths.is_empty(), "{function} serves no path");
    }
    let routes = vec![("/api/chat".to_string(), "chat".to_string()), ("/api/chat/*".to_string(), "chat".to_string())];
    assert_eq!(route_for(&routes, "/api/chat").unwrap().0, "/api/chat");
    assert_eq!(route_for(&routes, "/api/chat/conversations/{id}").unwrap().0, "/api/chat/*");
    assert!(route_for(&routes, "/api/chatter").is_none());
}

#[test]
fn each_check_catches_its_mistake() {
    type Edit = Box<dyn FnOnce(String) -> String>;
    let cases: [(&str, Edit, &str); 22] = [
        (
            "the health-consent gate off",
            Box::new(|t| t.replace("      HEALTH_CONSENT: 'required'", "      HEALTH_CONSENT: 'off'")),
            "`environmentVariables.HEALTH_CONSENT` must be `required`",
        ),
        (
            "no terms version",
            Box::new(|t| t.replace("${env('TERMS_VERSION', '2026-12-06')}", "${env('TERMS_VERSION', '')}")),
            "`environmentVariables.TERMS_VERSION` must name the terms' version",
        ),
        (
            "a missing route",
            Box::new(|t| {
                t.replace("          - path: /api/auth/session\n            functionName: auth-login\n            qualifier: LATEST\n", "")
            }),
            "no route sends `/api/auth/session` to `auth-login`",
        ),
        (
            "a route to the wrong function",
            Box::new(|t| {
                t.replace(
                    "          - path: /api/auth/register\n            functionName: auth-register",
                    "          - path: /api/auth/register\n            functionName: auth-login",
                )
            }),
            "sends it to `auth-login`",
        ),
        (
            "the 3.x-incompatible syntax",
            Box::new(|t| t.replace("${env('JWT_SECRET')}", "${env.JWT_SECRET}")),
            "`${env.X}`",
        ),
        (
            "a variable the config reads",
            Box::new(|t| t.replace("    CHAT_HISTORY_WINDOW:", "    CHAT_HISTORY_WINDOWS:")),
            "lacks `CHAT_HISTORY_WINDOW`",
        ),
        (
            "chat's timeout",
            Box::new(|t| t.replace("      timeout: 180", "      timeout: 30")),
            "chat: `timeout` must be at least 60",
        ),
        (
            "single-request instances",
            Box::new(|t| t.replace("      instanceConcurrency: 50", "      instanceConcurrency: 1")),
            "`instanceConcurrency`",
        ),
        (
            "CORS preflights",
            Box::new(|t| t.replace("[GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD]", "[GET, POST]")),
            "must include OPTIONS",
        ),
        (
            "a method a route serves (feedback's PUT)",
            Box::new(|t| {
                t.replace("[GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD]", "[GET, POST, PATCH, DELETE, OPTIONS, HEAD]")
            }),
            "chat: `triggers[http].methods` must include PUT",
        ),
        (
            "the code folder",
            Box::new(|t| t.replace("code: ./dist/chat", "code: ./target/release")),
            "must be `./dist/chat`",
        ),
        ("the runtime", Box::new(|t| t.replace("runtime: custom.debian11", "runtime: nodejs20")), "custom.debian"),
        (
            "more concurrency than fc3 accepts",
            Box::new(|t| t.replace("      instanceConcurrency: 50", "      instanceConcurrency: 150")),
            "between 2 and 100",
        ),
        (
            "too little memory for the CPU",
            Box::new(|t| t.replace("    memorySize: 256", "    memorySize: 128")),
            "break FC's ratio of 1 vCPU per 1–4 GB",
        ),
        (
            "memory that is no multiple of 64",
            Box::new(|t| t.replace("    memorySize: 256", "    memorySize: 300")),
            "`memorySize` must be a multiple of 64",
        ),
        (
            "a CPU size FC does not sell",
            Box::new(|t| t.replace("    cpu: 0.25", "    cpu: 0.22")),
            "`cpu` must be a multiple of 0.05",
        ),
        ("the disk size", Box::new(|t| t.replace("    diskSize: 512", "    diskSize: 1024")), "`diskSize`"),
        (
            "the health check",
            Box::new(|t| t.replace("httpGetUrl: /api/health", "httpGetUrl: /health")),
            "`customRuntimeConfig.healthCheckConfig.httpGetUrl` must be `/api/health`",
        ),
        (
            "more password checks per instance than bcrypt finishes in time",
            Box::new(|t| t.replacen("      instanceConcurrency: 12", "      instanceConcurrency: 100", 1)),
            "auth-login: `instanceConcurrency` 100 lets the last password check wait 24.0 s",
        ),
        (
            "a hash queue shorter than the concurrency",
            Box::new(|t| t.replacen("        PASSWORD_HASH_QUEUE: '12'", "        PASSWORD_HASH_QUEUE: '4'", 1)),
            "auth-login: `PASSWORD_HASH_QUEUE` (4) must be at least `instanceConcurrency` − 1 (11)",
        ),
        (
            "a dearer bcrypt cost without fewer requests per instance",
            Box::new(|t| {
                t.replace("BCRYPT_COST: ${env('BCRYPT_COST', '10')}", "BCRYPT_COST: ${env('BCRYPT_COST', '12')}")
            }),
            "auth-register: `instanceConcurrency` 12 lets the last password check wait 11.5 s",
        ),
        (
            "a reserved variable name",
            Box::new(|t| t.replace("      LOG_FORMAT: json", "      LOG_FORMAT: json\n      FC_DEBUG: '1'")),
            "must not set `FC_DEBUG`",
        ),
    ];
    for (name, edit, expected) in cases {
        let problems = problems_with(edit);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{name}: expected a problem containing {expected:?}, got {problems:?}"
        );
    }
    // A route nobody serves is flagged too.
    let extra = problems_with(|t| {
        t.replace("          - path: /api/admin/*", "          - path: /api/nothing\n            functionName: chat\n            qualifier: LATEST\n          - path: /api/admin/*")
    });
    assert!(extra.iter().any(|p| p.contains("`/api/nothing` → `chat` matches nothing")), "{extra:?}");
}

#[test]
fn the_password_hashing_functions_are_sized_for_scale_out() {
    for function in ["auth-login", "auth-register"] {
        let sizing = deploy_check::sizing(&s_yaml(), function).unwrap();
        assert_eq!(sizing.instance_concurrency, 12, "{function}");
        assert_eq!(sizing.password_hash_queue, Some(12), "{function}: its own queue, not the shared default");
        assert_eq!(sizing.cpu, 0.25);
    }
    assert_eq!(deploy_check::sizing(&s_yaml(), "chat").unwrap().password_hash_queue, Some(64), "the shared default");
}

#[test]
fn esa_jsonc_publishes_the_site() {
    let esa = std::fs::read_to_string(root().join("esa.jsonc")).expect("esa.jsonc at the top level");
    let problems = check_esa(&esa, &root().join("frontend-dist"));
    assert!(problems.is_empty(), "{problems:?}");
    let wrong = check_esa(&esa.replace("./frontend-dist", "./dist"), &root().join("frontend-dist"));
    assert!(wrong.iter().any(|p| p.contains("assets.directory")), "{wrong:?}");
    let empty = check_esa(&esa, &root().join("does-not-exist"));
    assert!(empty.iter().any(|p| p.contains("index.html")), "{empty:?}");
    let spa = check_esa(&esa.replace("\"404Page\"", "\"singlePageApplication\""), &root().join("frontend-dist"));
    assert!(spa.iter().any(|p| p.contains("notFoundStrategy")), "{spa:?}");
    let build = check_esa(
        &esa.replace("\"buildCommand\": \"\"", "\"buildCommand\": \"npm run build\""),
        &root().join("frontend-dist"),
    );
    assert!(build.iter().any(|p| p.contains("`buildCommand` must be \"\"")), "{build:?}");
    let no_install = check_esa(&esa.replace("\"installCommand\": \"\",", ""), &root().join("frontend-dist"));
    assert!(no_install.iter().any(|p| p.contains("`installCommand` must be \"\"")), "{no_install:?}");
}

#[test]
fn jsonc_comments_go_and_strings_stay() {
    let text = "{\n  // a line\n  \"url\": \"https://example.com/a//b\", // trailing\n  /* a\n block */ \"q\": \"\\\"//\\\"\"\n}";
    let value: serde_json::Value = serde_json::from_str(&strip_jsonc_comments(text)).expect("valid JSON once stripped");
    assert_eq!(value["url"], "https://example.com/a//b");
    assert_eq!(value["q"], "\"//\"");
    // Line numbers survive, so a parse error still points at the right line of esa.jsonc.
    assert_eq!(strip_jsonc_comments(text).lines().count(), text.lines().count());
}
