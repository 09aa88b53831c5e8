//! The product as processes, the way it is deployed: on MariaDB, two instances of each function
//! binary sharing one database, with requests spread over them by path as the custom domain
//! routes them (and over instances by the caller's index); on SQLite, the local stack alone.

use serde_json::Value;

use crate::{
    Backend, TestDb,
    burst::{self, Reply},
    process::FunctionProcess,
};

/// Runs each test against MariaDB (two instances of each function) and SQLite (the local
/// stack): `both_stacks! { async fn name(backend: Backend) { … } }`.
#[macro_export]
macro_rules! both_stacks {
    ($($(#[$meta:meta])* async fn $name:ident($backend:ident: Backend) $body:block)*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn local_stack_on_sqlite() {
                run($crate::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn two_instances_on_mariadb() {
                run($crate::Backend::MySql).await
            }

            async fn run($backend: $crate::Backend) $body
        }
    )*};
}

/// How many instances of each function run on MariaDB.
pub const INSTANCES: usize = 2;

const FUNCTIONS: [&str; 4] = ["auth-register", "auth-login", "chat", "admin-export"];

/// s.yaml's route table, read once.
fn routes() -> &'static [(String, String)] {
    static ROUTES: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| {
        deploy_check::routes(include_str!("../../../s.yaml")).unwrap_or_else(|problem| panic!("{problem}"))
    })
}

pub struct Stack {
    pub backend: Backend,
    /// Per function (in [`FUNCTIONS`] order), its instances; on SQLite one local stack serves all.
    instances: Vec<Vec<FunctionProcess>>,
    pub database: TestDb,
}

impl Stack {
    /// Starts the stack on a fresh database with `env` (plus the test defaults of
    /// [`FunctionProcess::start`]).
    pub async fn start(backend: Backend, env: &[(&str, &str)]) -> Self {
        match backend {
            Backend::MySql => {
                let database = TestDb::migrated(backend).await;
                Self::on(backend, database, env)
            }
            // The local stack applies the migrations itself.
            Backend::Sqlite => {
                let database = TestDb::empty(backend).await;
                Self::on(backend, database, env)
            }
        }
    }

    /// The stack on an existing database (a fault test's own server).
    pub fn on(backend: Backend, database: TestDb, env: &[(&str, &str)]) -> Self {
        let instances = match backend {
            Backend::MySql => FUNCTIONS
                .iter()
                .map(|name| (0..INSTANCES).map(|_| FunctionProcess::start_function(name, &database.url, env)).collect())
                .collect(),
            Backend::Sqlite => vec![vec![FunctionProcess::start_local_stack(&database.url, env)]],
        };
        Self { backend, instances, database }
    }

    /// The port of instance `i` (modulo their number) of the function serving `path`, as
    /// s.yaml's route table sends it (a path no route takes, `/api/health`, goes to the last).
    pub fn port(&self, path: &str, i: usize) -> u16 {
        let function = match self.instances.len() {
            1 => 0,
            _ => {
                let path = path.split('?').next().unwrap_or(path);
                deploy_check::route_for(routes(), path)
                    .and_then(|(_, function)| FUNCTIONS.iter().position(|name| name == function))
                    .unwrap_or(FUNCTIONS.len() - 1)
            }
        };
        let instances = &self.instances[function];
        instances[i % instances.len()].port
    }

    /// Every process, for their logs.
    pub fn processes(&self) -> impl Iterator<Item = &FunctionProcess> {
        self.instances.iter().flatten()
    }

    pub async fn call(&self, i: usize, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        burst::call(self.port(path, i), method, path, headers, body).await
    }

    pub async fn post_json(&self, i: usize, path: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
        burst::call_json(self.port(path, i), "POST", path, headers, body).await
    }

    /// `n` JSON POSTs to `path` at once ([`burst::burst`]), request `i` to instance `i` of the
    /// function serving it; `request(i)` gives its headers and body.
    pub async fn burst_post(
        &self,
        n: usize,
        path: &str,
        request: impl Fn(usize) -> (Vec<(&'static str, String)>, Value),
    ) -> Vec<Reply> {
        self.burst_json(n, "POST", path, request).await
    }

    /// [`Stack::burst_post`] with another method (`PUT`, `PATCH`…).
    pub async fn burst_json(
        &self,
        n: usize,
        method: &'static str,
        path: &str,
        request: impl Fn(usize) -> (Vec<(&'static str, String)>, Value),
    ) -> Vec<Reply> {
        burst::burst(n, |i| {
            let port = self.port(path, i);
            let (headers, body) = request(i);
            let path = path.to_string();
            async move {
                let headers: Vec<(&str, &str)> = headers.iter().map(|(name, value)| (*name, value.as_str())).collect();
                burst::call_json(port, method, &path, &headers, &body).await
            }
        })
        .await
    }

    /// Registers `email` (with [`crate::PASSWORD`]) and returns its token.
    pub async fn register(&self, email: &str) -> String {
        let body = serde_json::json!({"email": email, "password": crate::PASSWORD});
        let reply = self.post_json(0, "/api/auth/register", &[], &body).await;
        assert_eq!(reply.status, 201, "register {email}: {}", reply.text());
        reply.json()["token"].as_str().expect("a token").to_string()
    }

    /// Everything the processes printed, for a failing assertion's message.
    pub fn logs(&self) -> String {
        self.processes().map(FunctionProcess::stdout).collect::<Vec<_>>().join("\n---\n")
    }
}
