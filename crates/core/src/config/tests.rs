use std::collections::HashMap;

use super::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

#[test]
fn defaults_apply_when_only_the_required_variables_are_set() {
    let config = config(&[("DATABASE_URL", "sqlite::memory:"), ("JWT_SECRET", SECRET)]).unwrap();
    assert_eq!(config.session_ttl, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(config.bcrypt_cost, 10);
    assert_eq!(config.login_limit_per_ip, Some(Limit { max: 7, window: Duration::from_secs(300) }));
    assert_eq!(config.register_limit_per_ip, Some(Limit { max: 5, window: Duration::from_secs(3600) }));
    assert!(config.allowed_origins.is_empty());
    assert!(config.llm.is_none(), "no OPENAI_API_KEY: chat is not configured");
    assert_eq!(config.chat_quota_user, Some(Limit { max: 50, window: Duration::from_secs(86_400) }));
    assert_eq!(config.chat_quota_admin, None);
    assert_eq!(config.audit_retention, Some(Duration::from_secs(180 * 24 * 3600)));
}

#[test]
fn llm_settings() {
    let config = config(&[
        ("DATABASE_URL", "sqlite::memory:"),
        ("JWT_SECRET", SECRET),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", "https://dashscope.aliyuncs.com/compatible-mode/v1/"),
        ("OPENAI_MODEL", "qwen-plus"),
    ])
    .unwrap();
    let llm = config.llm.unwrap();
    assert_eq!(llm.base_url, "https://dashscope.aliyuncs.com/compatible-mode/v1");
    assert_eq!(llm.model, "qwen-plus");
    assert_eq!(llm.max_tokens, 1024);
    assert_eq!(llm.timeout, Duration::from_secs(60));
    assert_eq!(llm.max_retries, 1, "one retry by default: every attempt may be billed");
    let too_many = super::Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some("sqlite::memory:".into()),
        "JWT_SECRET" => Some(SECRET.into()),
        "OPENAI_API_KEY" => Some("sk-test".into()),
        "OPENAI_MAX_RETRIES" => Some("9".into()),
        _ => None,
    })
    .map(drop)
    .unwrap_err();
    assert!(too_many.to_string().starts_with("OPENAI_MAX_RETRIES is invalid"), "{too_many}");
    let defaults = super::Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some("sqlite::memory:".into()),
        "JWT_SECRET" => Some(SECRET.into()),
        "OPENAI_API_KEY" => Some("sk-test".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(defaults.llm.unwrap().model, "gpt-4o-mini");
}

#[test]
fn errors_name_the_variable() {
    let missing = config(&[("JWT_SECRET", SECRET)]).unwrap_err();
    assert!(matches!(missing, ConfigError::Missing { name: "DATABASE_URL", .. }));

    let short = config(&[("DATABASE_URL", "sqlite::memory:"), ("JWT_SECRET", "short")]).unwrap_err();
    assert!(short.to_string().starts_with("JWT_SECRET is invalid"), "{short}");

    let short_nextauth = config(&[("DATABASE_URL", "sqlite::memory:"), ("NEXTAUTH_SECRET", "short")]).unwrap_err();
    assert!(short_nextauth.to_string().starts_with("NEXTAUTH_SECRET is invalid"));

    for (name, value) in [
        ("BCRYPT_COST", "3"),
        ("BCRYPT_COST", "ten"),
        ("SESSION_TTL", "soon"),
        ("SESSION_TTL", "0"),
        ("SESSION_TTL", "20years"),
        ("RATE_LIMIT_LOGIN_IP", "7 per minute"),
        ("DB_MAX_CONNECTIONS", "0"),
        ("DATABASE_URL", "postgres://x"),
        ("OPENAI_TIMEOUT", "forever"),
        ("OPENAI_MAX_TOKENS", "0"),
        ("OPENAI_BASE_URL", "ftp://example.com"),
        ("CHAT_QUOTA_USER", "lots"),
        ("CHAT_MAX_CONCURRENT_STREAMS", "-1"),
        ("CHAT_REPLY_MAX", "2h"),
        ("CHAT_REPLY_MAX", "soon"),
        ("SMTP_URL", "ftp://mail.example.com"),
        ("MAIL_FROM", "not an address"),
        ("SITE_URL", "example.com"),
        ("EMAIL_VERIFICATION", "sometimes"),
        ("RATE_LIMIT_RESET_ADDRESS", "3 an hour"),
    ] {
        let mut vars = vec![
            ("DATABASE_URL", "sqlite::memory:"),
            ("JWT_SECRET", SECRET),
            ("OPENAI_API_KEY", "sk"),
            ("SMTP_URL", "smtp://127.0.0.1:2525"),
            ("MAIL_FROM", "Oracle <noreply@example.com>"),
            ("SITE_URL", "https://chat.example.com"),
        ];
        vars.retain(|(k, _)| *k != name);
        vars.push((name, value));
        let err = config(&vars).unwrap_err();
        assert!(err.to_string().starts_with(&format!("{name} is invalid")), "{name}={value}: {err}");
    }
}

#[test]
fn nextauth_secret_is_accepted_and_lists_are_trimmed() {
    let config = config(&[
        ("DATABASE_URL", "mysql://u:p@h/d"),
        ("NEXTAUTH_SECRET", SECRET),
        ("ADMIN_EMAILS", " Boss@Example.com , ,ops@example.com"),
        ("ALLOWED_ORIGINS", "https://a.example, https://b.example"),
        ("RATE_LIMIT_LOGIN_ACCOUNT", "off"),
        ("SESSION_TTL", "12h"),
    ])
    .unwrap();
    assert_eq!(config.jwt_secret, SECRET.as_bytes());
    assert_eq!(config.admin_emails, ["boss@example.com", "ops@example.com"]);
    assert!(config.is_admin_email("boss@example.com"));
    assert_eq!(config.allowed_origins, ["https://a.example", "https://b.example"]);
    assert_eq!(config.login_limit_per_account, None);
    assert_eq!(config.session_ttl, Duration::from_secs(12 * 3600));
}

#[test]
fn mail_settings() {
    let base = [("DATABASE_URL", "sqlite::memory:"), ("JWT_SECRET", SECRET)];
    let without = config(&base).unwrap();
    assert!(without.mail.is_none());
    assert_eq!(without.email_verification, EmailVerification::Off);
    assert!(without.admin_at_registration("boss@example.com") == without.is_admin_email("boss@example.com"));

    let mut parts = base.to_vec();
    parts.extend([
        ("SMTP_HOST", "smtpdm.aliyun.com"),
        ("SMTP_USERNAME", "noreply@mail.example.com"),
        ("SMTP_PASSWORD", "p@ss:word/"),
        ("MAIL_FROM", "Oracle <noreply@mail.example.com>"),
        ("SITE_URL", "https://chat.example.com/"),
        ("EMAIL_VERIFICATION", "Required"),
        ("ADMIN_EMAILS", "boss@example.com"),
    ]);
    let with = config(&parts).unwrap();
    let mail = with.mail.as_ref().unwrap();
    assert!(matches!(&mail.smtp, SmtpServer::Parts { port: 465, password: Some(p), .. } if p == "p@ss:word/"));
    assert_eq!(mail.site_url, "https://chat.example.com");
    assert_eq!(with.email_verification, EmailVerification::Required);
    assert!(with.is_admin_email("boss@example.com") && !with.admin_at_registration("boss@example.com"));
    assert!(!format!("{with:?}").contains("p@ss"), "the SMTP password is not printed");

    // Verification without mail, a sender or a site cannot work: start-up says which is missing.
    let err = config(&[base[0], base[1], ("EMAIL_VERIFICATION", "optional")]).unwrap_err();
    assert!(err.to_string().starts_with("EMAIL_VERIFICATION is invalid"), "{err}");
    let err = config(&[base[0], base[1], ("SMTP_URL", "smtp://127.0.0.1:25")]).unwrap_err();
    assert!(matches!(err, ConfigError::Missing { name: "MAIL_FROM", .. }), "{err}");
    let both = [base[0], base[1], ("SMTP_URL", "smtp://127.0.0.1:25"), ("SMTP_HOST", "h")];
    assert!(config(&both).unwrap_err().to_string().starts_with("SMTP_URL is invalid"));
}

#[test]
fn debug_output_hides_secrets() {
    let config = config(&[("DATABASE_URL", "mysql://app:hunter2@db/app"), ("JWT_SECRET", SECRET)]).unwrap();
    let printed = format!("{config:?}");
    assert!(!printed.contains("hunter2") && !printed.contains(SECRET), "{printed}");
    assert!(printed.contains("mysql://app:***@db/app"));
}

#[test]
fn trust_settings() {
    let base = [("DATABASE_URL", "sqlite::memory:"), ("JWT_SECRET", SECRET)];
    let defaults = config(&base).unwrap();
    assert_eq!(
        defaults.trust,
        TrustConfig { terms_version: None, health_consent: HealthConsent::Off, report_response_days: 7 }
    );
    let set = config(&[
        base[0],
        base[1],
        ("TERMS_VERSION", " 2026-12-06 "),
        ("HEALTH_CONSENT", "Required"),
        ("REPORT_RESPONSE_DAYS", "15"),
    ])
    .unwrap();
    assert_eq!(
        set.trust,
        TrustConfig {
            terms_version: Some("2026-12-06".into()),
            health_consent: HealthConsent::Required,
            report_response_days: 15,
        }
    );
    for (name, value) in [
        ("TERMS_VERSION", "version two"),
        ("TERMS_VERSION", "v".repeat(33).as_str()),
        ("TERMS_VERSION", "版本1"),
        ("HEALTH_CONSENT", "yes"),
        ("REPORT_RESPONSE_DAYS", "0"),
        ("REPORT_RESPONSE_DAYS", "91"),
        ("REPORT_RESPONSE_DAYS", "a week"),
    ] {
        let err = config(&[base[0], base[1], (name, value)]).unwrap_err();
        assert!(err.to_string().contains(name), "{name}={value}: {err}");
    }
}

#[test]
fn picture_storage_settings() {
    let base = [("DATABASE_URL", "sqlite::memory:"), ("JWT_SECRET", SECRET)];
    // The default: the local directory.
    let storage = config(&base).unwrap().storage.unwrap();
    assert!(matches!(&storage.backend, StorageBackend::Local { dir } if dir.ends_with(".data/uploads")));
    assert_eq!((storage.max_bytes, storage.quota_bytes), (5_000_000, 200_000_000));
    assert!(config(&[base[0], base[1], ("STORAGE", "off")]).unwrap().storage.is_none());

    let oss = [
        base[0],
        base[1],
        ("STORAGE", "oss"),
        ("STORAGE_BUCKET", "pictures"),
        ("STORAGE_REGION", "cn-hangzhou"),
        ("STORAGE_ENDPOINT", "https://img.example.com/"),
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "id"),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret"),
    ];
    let storage = config(&oss).unwrap().storage.unwrap();
    let StorageBackend::Oss(store) = &storage.backend else { panic!("oss") };
    assert_eq!(store.public_origin, "https://img.example.com");
    assert_eq!(store.internal_origin, "https://img.example.com", "the internal endpoint defaults to the public one");

    // Each mistake names its variable.
    let named = |vars: &[(&str, &str)]| match config(vars) {
        Err(ConfigError::Missing { name, .. } | ConfigError::Invalid { name, .. }) => name,
        Ok(_) => "accepted",
    };
    let with = |name: &'static str, value: &'static str| {
        let mut vars: Vec<(&str, &str)> = oss.iter().filter(|(var, _)| *var != name).copied().collect();
        if !value.is_empty() {
            vars.push((name, value));
        }
        vars
    };
    assert_eq!(named(&with("STORAGE", "ftp")), "STORAGE");
    assert_eq!(named(&with("STORAGE_BUCKET", "")), "STORAGE_BUCKET");
    assert_eq!(named(&with("STORAGE_ENDPOINT", "")), "STORAGE_ENDPOINT");
    assert_eq!(named(&with("STORAGE_ENDPOINT", "http://img.example.com")), "STORAGE_ENDPOINT");
    assert_eq!(named(&with("STORAGE_ENDPOINT", "https://img.example.com/path")), "STORAGE_ENDPOINT");
    assert_eq!(named(&with("STORAGE_PATH_STYLE", "true")), "STORAGE_PATH_STYLE");
    assert_eq!(named(&with("ALIBABA_CLOUD_ACCESS_KEY_ID", "")), "ALIBABA_CLOUD_ACCESS_KEY_ID");
    assert_eq!(named(&with("ATTACHMENT_MAX_BYTES", "30000000")), "ATTACHMENT_MAX_BYTES");
    assert_eq!(named(&with("ATTACHMENT_QUOTA_BYTES", "1000")), "ATTACHMENT_QUOTA_BYTES");
    assert_eq!(named(&with("ATTACHMENT_URL_TTL", "2d")), "ATTACHMENT_URL_TTL");
    assert_eq!(named(&with("STORAGE_PREFIX", "../x")), "STORAGE_PREFIX");
    let s3 = [
        base[0],
        base[1],
        ("STORAGE", "s3"),
        ("STORAGE_BUCKET", "b"),
        ("STORAGE_REGION", "us-east-1"),
        ("STORAGE_ENDPOINT", "http://127.0.0.1:9000"),
    ];
    assert_eq!(named(&s3), "STORAGE_ACCESS_KEY_ID");
}
