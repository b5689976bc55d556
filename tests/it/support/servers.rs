//! The servers the test command started, and throwaway databases on them:
//! URLs, the single skip (`required`), `Case` (a source database and its
//! target name), connections, and checks that a database exists.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use mysql_async::prelude::Queryable as _;
use tokio_postgres::{Client, NoTls};

use super::run::Pg2dolt;

/// The servers the test command started.
pub struct Servers {
    /// `postgres://postgres@127.0.0.1:PORT/postgres` (a superuser)
    pub pg_url: String,
    /// `mysql://root@127.0.0.1:PORT`
    pub mysql_url: String,
}

pub fn servers() -> Servers {
    let read = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: run the suite with scripts/test.sh, which starts the servers"
            )
        })
    };
    Servers {
        pg_url: read("PG2DOLT_TEST_PG_URL"),
        mysql_url: read("PG2DOLT_TEST_MYSQL_URL"),
    }
}

/// A target server the end-to-end tests copy into.
pub struct Target {
    /// `mariadb` or `dolt`
    pub name: &'static str,
    /// `mysql://root@127.0.0.1:PORT`
    pub url: String,
}

/// The one way a test skips: the value of the environment variable
/// `name`, or `None` after saying `SKIPPED: {what}` — and a failure instead
/// when every server is required (PG2DOLT_TEST_REQUIRE_DOLT=1, as in CI:
/// a skipped test must never pass there).
pub fn required(name: &str, what: &str) -> Option<String> {
    if let Ok(value) = std::env::var(name) {
        return Some(value);
    }
    assert!(
        std::env::var("PG2DOLT_TEST_REQUIRE_DOLT").as_deref() != Ok("1"),
        "{name} is not set, and every test is required (PG2DOLT_TEST_REQUIRE_DOLT=1): {what}"
    );
    // Written past the test harness's capture, so it shows.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {what} ({name} is not set)");
    None
}

/// Every target the test command started: MariaDB, and Dolt (skipped
/// without a Dolt server, see [`required`]).
pub fn targets(test: &str) -> Vec<Target> {
    let mut targets = vec![Target {
        name: "mariadb",
        url: servers().mysql_url,
    }];
    if let Some(url) = required("PG2DOLT_TEST_DOLT_URL", &format!("{test} on Dolt")) {
        targets.push(Target { name: "dolt", url });
    }
    targets
}

/// The Dolt server's URL, or `None` (said, and refused when the Dolt tests
/// are required) when the test command started none.
pub fn dolt_url(test: &str) -> Option<String> {
    targets(test)
        .into_iter()
        .find(|target| target.name == "dolt")
        .map(|target| target.url)
}

/// A database name no other test (or run) uses.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// One test's own databases: a Postgres source database loaded with the
/// test's SQL and a target database of the same name.
pub struct Case {
    pub servers: Servers,
    pub name: String,
    /// the source database's URL
    pub source: String,
}

impl Case {
    pub async fn new(prefix: &str, sql: &str) -> Case {
        let servers = servers();
        let name = unique_name(prefix);
        let source = create_source(&servers, &name, sql).await;
        Case {
            servers,
            name,
            source,
        }
    }

    /// Where this test's JSON report goes.
    pub fn report_path(&self) -> PathBuf {
        std::env::temp_dir().join(format!("{}.json", self.name))
    }

    /// The target database's URL.
    pub fn target_url(&self) -> String {
        with_database(&self.servers.mysql_url, &self.name)
    }

    /// A copy of this case's source into `target` (its database named like
    /// the case), with the report at [`Case::report_path`].
    pub fn copy(&self, target: &str) -> Pg2dolt {
        Pg2dolt::new("copy")
            .source(&self.source)
            .target(target)
            .database(&self.name)
            .report(&self.report_path())
    }

    /// Runs `sql` (any number of statements) on the source database.
    pub async fn source_sql(&self, sql: &str) {
        pg_connect(&self.source)
            .await
            .batch_execute(sql)
            .await
            .unwrap();
    }

    /// A fresh schema directory holding `files` (name, SQL).
    pub fn schema_dir(&self, files: &[(&str, &str)]) -> PathBuf {
        let directory = std::env::temp_dir().join(format!("{}-schema", self.name));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        for (file, text) in files {
            std::fs::write(directory.join(file), text).unwrap();
        }
        directory
    }
}

/// The commit a Dolt ref names (`HASHOF`), in the database `url` points at.
pub async fn dolt_hash_of(url: &str, reference: &str) -> String {
    let mut conn = mysql_connect(url).await;
    let hash: Option<String> = conn
        .exec_first("SELECT HASHOF(?)", (reference,))
        .await
        .unwrap();
    hash.unwrap()
}

/// `url` with its path replaced by `/database`.
pub fn with_database(url: &str, database: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    parsed.set_path(&format!("/{database}"));
    parsed.to_string()
}

pub async fn pg_connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Creates a Postgres database and runs `sql` in it; returns its URL.
pub async fn create_source(servers: &Servers, name: &str, sql: &str) -> String {
    let admin = pg_connect(&servers.pg_url).await;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\""))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    let url = with_database(&servers.pg_url, name);
    pg_connect(&url).await.batch_execute(sql).await.unwrap();
    url
}

/// True when the target server has a database of this name.
pub async fn database_exists(servers: &Servers, name: &str) -> bool {
    let mut conn = mysql_connect(&servers.mysql_url).await;
    let found: Option<String> = conn
        .exec_first(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (name,),
        )
        .await
        .unwrap();
    found.is_some()
}

/// True when the server at `url` has a database of this name (SHOW
/// DATABASES: Dolt's information_schema races with other sessions' DDL).
pub async fn database_exists_at(url: &str, name: &str) -> bool {
    let mut conn = mysql_connect(url).await;
    let databases: Vec<String> = conn.query("SHOW DATABASES").await.unwrap();
    databases.iter().any(|database| database == name)
}

pub async fn mysql_connect(url: &str) -> mysql_async::Conn {
    mysql_async::Conn::new(mysql_async::Opts::from_url(url).unwrap())
        .await
        .unwrap()
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}
