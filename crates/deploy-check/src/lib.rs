//! Checks the deployment descriptions against the code: `s.yaml` must route every path each
//! function serves to that function (and nothing else), give every function the variables the
//! configuration reads, and keep the settings a deployment depends on (runtime, code folder,
//! port, timeouts, concurrency, triggers). Each problem is one sentence saying what to fix.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

/// The four functions and the code folder `make package` fills for each.
pub const FUNCTIONS: [&str; 4] = ["chat", "auth-login", "auth-register", "admin-export"];

/// Problems found in `s_yaml`, given the paths each function serves and the variables the
/// configuration reads. Empty when all is well.
pub fn check_s_yaml(s_yaml: &str, served: &BTreeMap<&str, Vec<String>>, variables: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    if s_yaml.contains("${env.") {
        problems.push("s.yaml uses `${env.X}`, which Serverless Devs 3.x does not expand: write `${env('X')}`".into());
    }
    let mut document: Value = match serde_yaml_ng::from_str(s_yaml) {
        Ok(document) => document,
        Err(err) => return vec![format!("s.yaml is not valid YAML: {err}")],
    };
    if let Err(err) = document.apply_merge() {
        return vec![format!("s.yaml's `<<` merge keys do not resolve: {err}")];
    }
    if document["edition"].as_str() != Some("3.0.0") {
        problems.push("s.yaml must say `edition: 3.0.0`".into());
    }
    let resources = &document["resources"];

    for name in FUNCTIONS {
        let function = &resources[name];
        if function["component"].as_str() != Some("fc3") {
            problems.push(format!("resource `{name}` must exist with `component: fc3`"));
            continue;
        }
        let props = &function["props"];
        let expect = |field: &str, ok: bool, what: String, problems: &mut Vec<String>| {
            if !ok {
                problems.push(format!("{name}: `{field}` {what}"));
            }
        };
        expect(
            "functionName",
            props["functionName"].as_str() == Some(name),
            format!("must be `{name}`"),
            &mut problems,
        );
        expect(
            "runtime",
            props["runtime"].as_str().is_some_and(|runtime| runtime.starts_with("custom.debian")),
            "must be a custom.debian* runtime (the binaries need glibc 2.28+)".into(),
            &mut problems,
        );
        expect(
            "code",
            props["code"].as_str() == Some(&format!("./dist/{name}")),
            format!("must be `./dist/{name}`, the folder `make package` fills"),
            &mut problems,
        );
        let runtime_config = &props["customRuntimeConfig"];
        expect(
            "customRuntimeConfig.port",
            runtime_config["port"].as_u64() == Some(9000),
            "must be 9000 (FC sets FC_CUSTOM_LISTEN_PORT to it)".into(),
            &mut problems,
        );
        expect(
            "customRuntimeConfig.command",
            runtime_config["command"][0].as_str() == Some("/code/bootstrap"),
            "must start `/code/bootstrap`".into(),
            &mut problems,
        );
        let minimum_timeout = if name == "chat" { 60 } else { 10 };
        expect(
            "timeout",
            props["timeout"].as_u64().is_some_and(|timeout| timeout >= minimum_timeout),
            format!("must be at least {minimum_timeout} s (fc3's default of 3 s is too short)"),
            &mut problems,
        );
        expect(
            "instanceConcurrency",
            props["instanceConcurrency"].as_u64().is_some_and(|concurrency| (2..=200).contains(&concurrency)),
            "must be between 2 and 200: one instance serves many requests".into(),
            &mut problems,
        );
        let environment = props["environmentVariables"].as_mapping();
        for variable in variables {
            let present = environment.is_some_and(|env| env.contains_key(Value::from(*variable)));
            expect(
                "environmentVariables",
                present,
                format!("lacks `{variable}`, which the configuration reads"),
                &mut problems,
            );
        }
        let trigger = props["triggers"]
            .as_sequence()
            .and_then(|triggers| triggers.iter().find(|trigger| trigger["triggerType"].as_str() == Some("http")));
        match trigger {
            None => problems.push(format!("{name}: needs an HTTP trigger")),
            Some(trigger) => {
                let config = &trigger["triggerConfig"];
                expect(
                    "triggers[http].authType",
                    config["authType"].as_str() == Some("anonymous"),
                    "must be `anonymous` (the app authenticates)".into(),
                    &mut problems,
                );
                let methods: Vec<&str> = config["methods"]
                    .as_sequence()
                    .map(|m| m.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for method in ["GET", "POST", "OPTIONS"] {
                    expect(
                        "triggers[http].methods",
                        methods.contains(&method),
                        format!("must include {method}"),
                        &mut problems,
                    );
                }
            }
        }
    }

    let domain = resources
        .as_mapping()
        .and_then(|resources| resources.values().find(|resource| resource["component"].as_str() == Some("fc3-domain")));
    let Some(domain) = domain else {
        problems.push("s.yaml needs an `fc3-domain` resource with the route table".into());
        return problems;
    };
    let routes: Vec<(String, String)> = domain["props"]["routeConfig"]["routes"]
        .as_sequence()
        .map(|routes| {
            routes
                .iter()
                .map(|route| {
                    (
                        route["path"].as_str().unwrap_or_default().to_string(),
                        route["functionName"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    problems.extend(check_routes(&routes, served));
    problems
}

/// Which route the custom domain picks for `path`: an exact match, else the longest `prefix/*`.
pub fn route_for<'a>(routes: &'a [(String, String)], path: &str) -> Option<&'a (String, String)> {
    routes.iter().find(|(pattern, _)| pattern == path).or_else(|| {
        routes
            .iter()
            .filter(|(pattern, _)| pattern.strip_suffix('*').is_some_and(|prefix| path.starts_with(prefix)))
            .max_by_key(|(pattern, _)| pattern.len())
    })
}

fn check_routes(routes: &[(String, String)], served: &BTreeMap<&str, Vec<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (function, paths) in served {
        for path in paths {
            match route_for(routes, path) {
                None => problems.push(format!("no route sends `{path}` to `{function}`: add it to routeConfig.routes")),
                Some((pattern, target)) if target != function => problems.push(format!(
                    "`{path}` is served by `{function}` but the route `{pattern}` sends it to `{target}`"
                )),
                Some(_) => {}
            }
        }
    }
    for (pattern, target) in routes {
        let used = served.get(target.as_str()).is_some_and(|paths| {
            paths.iter().any(|path| route_for(routes, path).is_some_and(|(chosen, _)| chosen == pattern))
        });
        if !used {
            problems.push(format!(
                "the route `{pattern}` → `{target}` matches nothing `{target}` serves: remove it or fix the function"
            ));
        }
    }
    problems
}

/// Problems in `esa.jsonc` (JSON with `//` comments) for a site whose files are in `site_dir`.
pub fn check_esa(esa_jsonc: &str, site_dir: &std::path::Path) -> Vec<String> {
    let json: String = esa_jsonc
        .lines()
        .map(|line| match line.trim_start().starts_with("//") {
            true => "",
            false => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let config: serde_json::Value = match serde_json::from_str(&json) {
        Ok(config) => config,
        Err(err) => return vec![format!("esa.jsonc is not valid JSON (with // comments): {err}")],
    };
    let mut problems = Vec::new();
    if config["assets"]["directory"].as_str() != Some("./frontend-dist") {
        problems.push("esa.jsonc: assets.directory must be `./frontend-dist` (the site is plain files)".into());
    }
    if config["assets"]["notFoundStrategy"].as_str() != Some("404Page") {
        problems.push(
            "esa.jsonc: assets.notFoundStrategy must be `404Page` (the site routes with #hashes and ships 404.html)"
                .into(),
        );
    }
    for file in ["index.html", "404.html"] {
        if !site_dir.join(file).is_file() {
            problems.push(format!("the site lacks {file}"));
        }
    }
    problems
}
