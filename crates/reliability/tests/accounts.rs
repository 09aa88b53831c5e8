//! The account limits and single-use links are exact under bursts: fired at two instances of
//! each real function binary sharing MariaDB, and at the local stack on SQLite, with mail going
//! to a real SMTP server the test starts.

use std::time::Duration;

use app_core::entities::{Session, User, session, user};
use sea_orm::{ColumnTrait, Database, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use test_support::{PASSWORD, both_stacks, burst::tally, mail::MailServer, stack::Stack};

/// Requests per burst (`BURST`, default 40).
fn burst_size() -> usize {
    std::env::var("BURST").ok().and_then(|n| n.parse().ok()).unwrap_or(40)
}

async fn stack_with_mail(backend: test_support::Backend, mail: &MailServer, extra: &[(&str, &str)]) -> Stack {
    let mail_env = mail.env();
    let mut env: Vec<(&str, &str)> = mail_env.iter().map(|(name, value)| (*name, value.as_str())).collect();
    env.extend_from_slice(extra);
    Stack::start(backend, &env).await
}

both_stacks! {
    /// A burst of forgotten-password requests for one address, from many networks, admits
    /// exactly the per-address limit, and exactly that many mails go out.
    async fn reset_requests_for_one_address_admit_exactly_the_limit(backend: Backend) {
        let mail = MailServer::start();
        let limits = [("RATE_LIMIT_RESET_ADDRESS", "3/1h"), ("RATE_LIMIT_RESET_IP", "off")];
        let stack = stack_with_mail(backend, &mail, &limits).await;
        stack.register("popular@example.com").await;
        let n = burst_size();
        let body = json!({"email": "popular@example.com"});
        let replies = stack
            .burst_post(n, "/api/account/password/forgot", |i| {
                (vec![("x-forwarded-for", format!("198.51.100.{}", i % 250 + 1))], body.clone())
            })
            .await;
        let counts = tally(&replies);
        assert_eq!(counts.get(&202), Some(&3), "{counts:?}\n{}", stack.logs());
        assert_eq!(counts.get(&429), Some(&(n - 3)), "{counts:?}");
        mail.wait_for("popular@example.com", 3).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(mail.messages_to("popular@example.com").len(), 3, "one mail per admitted request");
    }

    /// A burst of verification-mail requests of one account admits exactly its limit.
    async fn verification_mails_of_one_account_admit_exactly_the_limit(backend: Backend) {
        let mail = MailServer::start();
        let stack = stack_with_mail(backend, &mail, &[("RATE_LIMIT_VERIFY_MAIL", "2/1h")]).await;
        let token = stack.register("eager@example.com").await;
        let n = burst_size();
        let auth = format!("Bearer {token}");
        let replies = stack
            .burst_post(n, "/api/account/email/verification", |_| (vec![("authorization", auth.clone())], json!({})))
            .await;
        let counts = tally(&replies);
        assert_eq!(counts.get(&202), Some(&2), "{counts:?}\n{}", stack.logs());
        assert_eq!(counts.get(&429), Some(&(n - 2)), "{counts:?}");
        assert_eq!(mail.messages_to("eager@example.com").len(), 2);
    }

    /// One reset link, used by a burst of requests at once: exactly one sets its password, and
    /// only that password (and that request's session) works afterwards.
    async fn a_reset_link_is_redeemed_exactly_once(backend: Backend) {
        let mail = MailServer::start();
        let stack = stack_with_mail(backend, &mail, &[]).await;
        stack.register("raced@example.com").await;
        let asked = stack.post_json(0, "/api/account/password/forgot", &[], &json!({"email": "raced@example.com"})).await;
        assert_eq!(asked.status, 202, "{}", asked.text());
        let token = mail.wait_for("raced@example.com", 1).await.link_token("reset").expect("a reset link");

        let n = burst_size();
        let password = |i: usize| format!("new password number {i}");
        let replies = stack
            .burst_post(n, "/api/account/password/reset", |i| (vec![], json!({"token": token, "password": password(i)})))
            .await;
        let counts = tally(&replies);
        assert_eq!(counts.get(&200), Some(&1), "{counts:?}\n{}", stack.logs());
        // The others find the link taken, or (a large BURST) more password hashes waiting than
        // an instance runs (503 `overloaded`, its designed answer): none sets a password.
        for reply in replies.iter().filter(|reply| reply.status != 200) {
            let code = reply.error_code();
            assert!(
                (reply.status, code.as_str()) == (400, "invalid_link") || (reply.status, code.as_str()) == (503, "overloaded"),
                "{} {}",
                reply.status,
                reply.text()
            );
        }
        let winner = replies.iter().position(|reply| reply.status == 200).unwrap();

        let db = Database::connect(&stack.database.url).await.unwrap();
        let user = User::find().filter(user::Column::Email.eq("raced@example.com")).one(&db).await.unwrap().unwrap();
        let sessions = Session::find().filter(session::Column::UserId.eq(&user.id)).count(&db).await.unwrap();
        assert_eq!(sessions, 1, "only the winner's session");
        let login = |password: String| json!({"email": "raced@example.com", "password": password});
        assert_eq!(stack.post_json(1, "/api/auth/login", &[], &login(password(winner))).await.status, 200);
        let loser = (winner + 1) % n;
        assert_eq!(stack.post_json(0, "/api/auth/login", &[], &login(password(loser))).await.status, 401);
        assert_eq!(stack.post_json(0, "/api/auth/login", &[], &login(PASSWORD.into())).await.status, 401);
    }
}
