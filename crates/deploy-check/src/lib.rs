//! Checks the deployment descriptions against the code: `s.yaml` must route every path each
//! function serves to that function (and nothing else), give every function the variables the
//! configuration reads, and keep the settings a deployment depends on (runtime, code folder,
//! port, timeouts, concurrency, memory and CPU, triggers). Each problem is one sentence saying what
//! to fix. `esa.jsonc` must publish `frontend-dist/` with no build step and a 404 page.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

/// The four functions and the code folder `make package` fills for each.
pub const FUNCTIONS: [&str; 4] = ["chat", "auth-login", "auth-register", "admin-export"];

/// The functions whose requests may hash a password (bcrypt): registration, login and the
/// account's password checks.
/// Variables FC sets itself from a function's role: s.yaml must not set them.
pub const PLATFORM_CREDENTIALS: &str = "ALIBABA_CLOUD_";

/// The function that talks to the model, and so to the moderation provider with its role.
pub const MODERATED: &str = "chat";

pub const PASSWORD_HASHING: [&str; 2] = ["auth-login", "auth-register"];

/// One bcrypt hash at cost 10 on a whole vCPU, in ms: BENCHMARKS.md measures ~55 ms, rounded up.
/// Each cost step above 10 doubles it; a fraction of a vCPU stretches it in proportion.
pub const HASH_MS_AT_COST_10: f64 = 60.0;

/// The longest a password check may wait for the ones before it on a full instance: a request
/// that hashes last among `instanceConcurrency` waits `instanceConcurrency` hashes.
pub const HASH_WAIT_BUDGET_MS: f64 = 3000.0;

/// What one function serves, from its route table (the OpenAPI paths of its routers).
#[derive(Clone, Debug, Default)]
pub struct Served {
    pub paths: Vec<String>,
    /// Every HTTP method of those paths, upper-case (`GET`, `PUT`…).
    pub methods: Vec<String>,
}

/// Problems found in `s_yaml`, given what each function serves and the variables the
/// configuration reads. Empty when all is well.
pub fn check_s_yaml(s_yaml: &str, served: &BTreeMap<&str, Served>, variables: &[&str]) -> Vec<String> {
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
            props["instanceConcurrency"].as_u64().is_some_and(|concurrency| (2..=100).contains(&concurrency)),
            "must be between 2 and 100 (the fc3 component's limit): one instance serves many requests".into(),
            &mut problems,
        );
        if name == MODERATED {
            expect(
                "role",
                props["role"].as_str().is_some_and(|role| !role.trim().is_empty()),
                "must name the RAM role whose temporary credentials sign the moderation calls".into(),
                &mut problems,
            );
        }
        problems.extend(check_size(name, props));
        if PASSWORD_HASHING.contains(&name) {
            problems.extend(check_hash_sizing(name, props));
        }
        expect(
            "customRuntimeConfig.healthCheckConfig.httpGetUrl",
            runtime_config["healthCheckConfig"]["httpGetUrl"].as_str() == Some("/api/health"),
            "must be `/api/health` (every function serves it)".into(),
            &mut problems,
        );
        let environment = props["environmentVariables"].as_mapping();
        for key in environment.into_iter().flat_map(|env| env.keys()).filter_map(Value::as_str) {
            expect(
                "environmentVariables",
                !key.starts_with("FC_"),
                format!("must not set `{key}`: FC reserves names starting with FC_"),
                &mut problems,
            );
        }
        // A public deployment asks for the agreement and the health consent (README, "Agreement
        // and consent"): both gates on, whatever the operator's shell holds.
        let setting = |name: &str| template_text(&props["environmentVariables"][name]);
        expect(
            "environmentVariables.HEALTH_CONSENT",
            setting("HEALTH_CONSENT").as_deref() == Some("required"),
            "must be `required`: health information needs the person's separate consent (PIPL art. 29)".into(),
            &mut problems,
        );
        expect(
            "environmentVariables.TERMS_VERSION",
            setting("TERMS_VERSION").is_some_and(|version| !version.is_empty()),
            "must name the terms' version (a default in `${env('TERMS_VERSION', '…')}`): registration accepts them"
                .into(),
            &mut problems,
        );
        for variable in variables {
            let present = environment.is_some_and(|env| env.contains_key(Value::from(*variable)));
            if variable.starts_with(PLATFORM_CREDENTIALS) {
                expect(
                    "environmentVariables",
                    !present,
                    format!(
                        "must not set `{variable}`: FC sets it from the function's role (an AccessKey here would leak)"
                    ),
                    &mut problems,
                );
                continue;
            }
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
                // Every method the function's routes serve, and OPTIONS for CORS preflights:
                // a method missing here is refused by FC before the function sees it.
                let methods: Vec<&str> = config["methods"]
                    .as_sequence()
                    .map(|m| m.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for method in needed_methods(served.get(name)) {
                    expect(
                        "triggers[http].methods",
                        methods.contains(&method.as_str()),
                        format!("must include {method}, which its routes serve"),
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
    // A route's own `methods` are optional; where given, they must let every served method through.
    for route in domain["props"]["routeConfig"]["routes"].as_sequence().into_iter().flatten() {
        let Some(methods) = route["methods"].as_sequence() else { continue };
        let methods: Vec<&str> = methods.iter().filter_map(Value::as_str).collect();
        let function = route["functionName"].as_str().unwrap_or_default();
        for method in needed_methods(served.get(function)) {
            if !methods.contains(&method.as_str()) {
                problems.push(format!(
                    "the route `{}` → `{function}` must allow {method}, which `{function}` serves",
                    route["path"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    problems.extend(check_routes(&routes_of(domain), served));
    problems
}

/// A password-hashing function must be sized so that FC scales it out before an instance falls
/// behind: bcrypt runs one hash at a time per instance (the Hasher's bound), so the last of
/// `instanceConcurrency` requests waits that many hashes, each `HASH_MS_AT_COST_10 × 2^(cost −
/// 10) / cpu` ms. That wait must fit [`HASH_WAIT_BUDGET_MS`] (and half the timeout), and the
/// queue (`PASSWORD_HASH_QUEUE`) must hold every request FC may send at once, so none gets
/// `503 overloaded` while FC has no reason to start another instance.
fn check_hash_sizing(name: &str, props: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let environment = &props["environmentVariables"];
    let (Some(concurrency), Some(cpu), Some(timeout)) =
        (props["instanceConcurrency"].as_u64(), props["cpu"].as_f64(), props["timeout"].as_u64())
    else {
        return problems; // reported by the other checks
    };
    let cost = template_default(&environment["BCRYPT_COST"]).unwrap_or(10);
    let hash_ms = HASH_MS_AT_COST_10 * 2f64.powi(cost as i32 - 10) / cpu;
    let budget_ms = HASH_WAIT_BUDGET_MS.min(timeout as f64 * 1000.0 / 2.0);
    let most = (budget_ms / hash_ms).floor() as u64;
    if concurrency > most {
        problems.push(format!(
            "{name}: `instanceConcurrency` {concurrency} lets the last password check wait {:.1} s (a hash is ~{hash_ms:.0} ms \
             at cost {cost} on {cpu} vCPU): at most {most}, so that FC starts another instance instead",
            concurrency as f64 * hash_ms / 1000.0
        ));
    }
    match template_default(&environment["PASSWORD_HASH_QUEUE"]) {
        Some(queue) if queue + 1 >= concurrency => {}
        queue => problems.push(format!(
            "{name}: `PASSWORD_HASH_QUEUE` ({}) must be at least `instanceConcurrency` − 1 ({}), or requests FC \
             sends are refused 503 `overloaded` while no new instance starts",
            queue.map_or("the default 64".to_string(), |queue| queue.to_string()),
            concurrency.saturating_sub(1)
        )),
    }
    problems
}

/// How `s.yaml` sizes one function: what `make bench` needs to play Function Compute's part.
#[derive(Clone, Debug, PartialEq)]
pub struct Sizing {
    pub instance_concurrency: u64,
    pub cpu: f64,
    pub timeout_seconds: u64,
    /// `PASSWORD_HASH_QUEUE` as the function gets it (its default when the template has one).
    pub password_hash_queue: Option<u64>,
}

/// The sizing of `function` in `s_yaml`, merge keys resolved.
pub fn sizing(s_yaml: &str, function: &str) -> Result<Sizing, String> {
    let mut document: Value =
        serde_yaml_ng::from_str(s_yaml).map_err(|err| format!("s.yaml is not valid YAML: {err}"))?;
    document.apply_merge().map_err(|err| format!("s.yaml's merge keys do not resolve: {err}"))?;
    let props = &document["resources"][function]["props"];
    let missing = |field: &str| format!("{function}: no `{field}` in s.yaml");
    Ok(Sizing {
        instance_concurrency: props["instanceConcurrency"].as_u64().ok_or_else(|| missing("instanceConcurrency"))?,
        cpu: props["cpu"].as_f64().ok_or_else(|| missing("cpu"))?,
        timeout_seconds: props["timeout"].as_u64().ok_or_else(|| missing("timeout"))?,
        password_hash_queue: template_default(&props["environmentVariables"]["PASSWORD_HASH_QUEUE"]),
    })
}

/// A text in `s.yaml`'s environment: `'required'`, or the default of `${env('NAME', 'x')}`
/// (without a default: `None`, the operator's shell decides).
fn template_text(value: &Value) -> Option<String> {
    let text = value.as_str()?.trim();
    match text.strip_prefix("${env(") {
        Some(call) => {
            let mut quoted = call.split('\'').skip(1).step_by(2);
            let (_name, default) = (quoted.next()?, quoted.next()?);
            Some(default.to_string())
        }
        None => Some(text.to_string()),
    }
}

/// A number in `s.yaml`'s environment: `'12'`, or the default of `${env('NAME', '12')}`.
fn template_default(value: &Value) -> Option<u64> {
    let text = match value {
        Value::Number(number) => return number.as_u64(),
        Value::String(text) => text.as_str(),
        _ => return None,
    };
    let raw = match text.trim().strip_prefix("${env(") {
        Some(call) => call.rsplit('\'').nth(1)?,
        None => text.trim(),
    };
    raw.parse().ok()
}

/// The methods a function's trigger and routes must let through: what it serves, plus OPTIONS
/// (CORS preflights).
fn needed_methods(served: Option<&Served>) -> Vec<String> {
    let mut methods: Vec<String> = served.map(|served| served.methods.clone()).unwrap_or_default();
    methods.push("OPTIONS".into());
    methods.sort();
    methods.dedup();
    methods
}

/// `memorySize`, `cpu` and `diskSize` as FC 3.0 accepts them: memory a multiple of 64 MB in
/// 128–32768, cpu a multiple of 0.05 vCPU, 1 vCPU for every 1–4 GB, disk 512 or 10240 MB.
fn check_size(name: &str, props: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let memory = props["memorySize"].as_u64();
    let cpu = props["cpu"].as_f64();
    match memory {
        Some(mb) if mb % 64 == 0 && (128..=32768).contains(&mb) => {}
        _ => problems.push(format!("{name}: `memorySize` must be a multiple of 64 between 128 and 32768 (MB)")),
    }
    match cpu {
        Some(vcpu) if (0.05..=16.0).contains(&vcpu) && ((vcpu * 20.0) - (vcpu * 20.0).round()).abs() < 1e-9 => {}
        _ => problems.push(format!("{name}: `cpu` must be a multiple of 0.05 vCPU between 0.05 and 16")),
    }
    if let (Some(mb), Some(vcpu)) = (memory, cpu) {
        let gb = mb as f64 / 1024.0;
        if !(vcpu <= gb + 1e-9 && gb <= 4.0 * vcpu + 1e-9) {
            problems.push(format!(
                "{name}: `cpu` {vcpu} and `memorySize` {mb} break FC's ratio of 1 vCPU per 1–4 GB: \
                 use a memorySize between {} and {} MB",
                (vcpu * 1024.0).ceil() as u64,
                (vcpu * 4096.0).floor() as u64
            ));
        }
    }
    if !matches!(props["diskSize"].as_u64(), Some(512 | 10240)) {
        problems.push(format!("{name}: `diskSize` must be 512 or 10240 (MB)"));
    }
    problems
}

/// The custom domain's route table in `s_yaml`: `(path pattern, function)` pairs, in order.
/// The test stack routes its requests by it, as the domain does.
pub fn routes(s_yaml: &str) -> Result<Vec<(String, String)>, String> {
    let mut doc: Value = serde_yaml_ng::from_str(s_yaml).map_err(|err| format!("s.yaml is not YAML: {err}"))?;
    doc.apply_merge().map_err(|err| format!("s.yaml's `<<` merge keys do not resolve: {err}"))?;
    doc["resources"]
        .as_mapping()
        .and_then(|resources| resources.values().find(|resource| resource["component"].as_str() == Some("fc3-domain")))
        .map(routes_of)
        .ok_or_else(|| "s.yaml needs an `fc3-domain` resource with the route table".to_string())
}

fn routes_of(domain: &Value) -> Vec<(String, String)> {
    domain["props"]["routeConfig"]["routes"]
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
        .unwrap_or_default()
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

fn check_routes(routes: &[(String, String)], served: &BTreeMap<&str, Served>) -> Vec<String> {
    let mut problems = Vec::new();
    for (function, served) in served {
        for path in &served.paths {
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
        let used = served.get(target.as_str()).is_some_and(|served| {
            served.paths.iter().any(|path| route_for(routes, path).is_some_and(|(chosen, _)| chosen == pattern))
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
    let config: serde_json::Value = match serde_json::from_str(&strip_jsonc_comments(esa_jsonc)) {
        Ok(config) => config,
        Err(err) => return vec![format!("esa.jsonc is not valid JSON (with comments): {err}")],
    };
    let mut problems = Vec::new();
    for field in ["installCommand", "buildCommand"] {
        if config[field].as_str() != Some("") {
            problems.push(format!(
                "esa.jsonc: `{field}` must be \"\" (an empty string skips the step; a missing one falls back \
                 to the console's settings, and the site has no build step)"
            ));
        }
    }
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

/// `text` with its `//` and `/* */` comments blanked out, leaving strings (which may hold `//`,
/// as URLs do) alone, so the JSON parser's line and column numbers still point at the file.
pub fn strip_jsonc_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let (mut in_string, mut escaped) = (false, false);
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                while chars.peek().is_some_and(|&next| next != '\n') {
                    chars.next();
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut previous = ' ';
                for next in chars.by_ref() {
                    if next == '\n' {
                        out.push('\n');
                    }
                    if previous == '*' && next == '/' {
                        break;
                    }
                    previous = next;
                }
            }
            _ => out.push(c),
        }
    }
    out
}
