//! Shared helpers: server URLs, throwaway databases, running the binary,
//! and comparing tables value by value through typed drivers.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use mysql_async::prelude::Queryable as _;
use rust_decimal::Decimal;
use serde_json::Value as Json;
use tokio_postgres::types::{FromSql, Kind, Type};
use tokio_postgres::{Client, NoTls};

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

/// What a run of the binary printed and returned.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// the --report file given
    pub report: Option<PathBuf>,
}

impl Run {
    /// The JSON report this run wrote (it must have written one).
    pub fn report(&self) -> Json {
        let path = self.report.as_ref().expect("the run was given no --report");
        assert!(
            path.exists(),
            "the run wrote no report at {}; stderr:\n{}",
            path.display(),
            self.stderr
        );
        read_report(path)
    }

    pub fn assert_success(&self) {
        assert_eq!(self.code, 0, "pg2dolt failed:\n{}", self.stderr);
    }

    /// A failed run: the expected exit code, one error line, no panic.
    pub fn assert_one_line_error(&self, code: i32) -> String {
        assert_eq!(
            self.code, code,
            "unexpected exit code; stderr:\n{}",
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("stack backtrace"),
            "{}",
            self.stderr
        );
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|line| line.starts_with("pg2dolt: error: "))
            .collect();
        assert_eq!(
            errors.len(),
            1,
            "expected exactly one error line:\n{}",
            self.stderr
        );
        errors[0].to_string()
    }
}

/// One pg2dolt run, its flags as data: `Pg2dolt::new("copy")` or
/// [`Case::copy`], then flags, then [`Pg2dolt::run`]. The environment
/// carries no PG2DOLT_* flag variables but those given here.
#[derive(Debug, Clone)]
pub struct Pg2dolt {
    arguments: Vec<OsString>,
    environment: Vec<(String, String)>,
    /// no RUST_LOG: `-v`/`-q` pick the log level, as for a user
    as_user: bool,
    /// the --report file, removed before the run
    report: Option<PathBuf>,
}

impl Pg2dolt {
    /// A run of `command` (`copy`, `plan`, `restore`, …; empty: none).
    pub fn new(command: &str) -> Pg2dolt {
        Pg2dolt {
            arguments: command.split_whitespace().map(OsString::from).collect(),
            environment: Vec::new(),
            as_user: false,
            report: None,
        }
    }

    /// A flag with its value.
    pub fn flag(mut self, flag: &str, value: impl AsRef<OsStr>) -> Pg2dolt {
        self.arguments.push(flag.into());
        self.arguments.push(value.as_ref().to_owned());
        self
    }

    /// Arguments as given (switches, or flag and value pairs).
    pub fn args<S: AsRef<OsStr>>(mut self, arguments: impl IntoIterator<Item = S>) -> Pg2dolt {
        self.arguments.extend(
            arguments
                .into_iter()
                .map(|argument| argument.as_ref().to_owned()),
        );
        self
    }

    pub fn source(self, url: &str) -> Pg2dolt {
        self.flag("--source", url)
    }

    pub fn target(self, url: &str) -> Pg2dolt {
        self.flag("--target", url)
    }

    pub fn database(self, name: &str) -> Pg2dolt {
        self.flag("--database", name)
    }

    pub fn schema_dir(self, directory: &Path) -> Pg2dolt {
        self.flag("--schema-dir", directory)
    }

    /// `--report FILE`; the file is removed before the run, so a run that
    /// writes none is never read with an earlier run's.
    pub fn report(mut self, path: &Path) -> Pg2dolt {
        self.report = Some(path.to_path_buf());
        self.flag("--report", path)
    }

    /// An environment variable for the run.
    pub fn env(mut self, name: &str, value: &str) -> Pg2dolt {
        self.environment.push((name.into(), value.into()));
        self
    }

    /// As a user runs it: no RUST_LOG.
    pub fn like_a_user(mut self) -> Pg2dolt {
        self.as_user = true;
        self
    }

    /// The command, its environment set (PG2DOLT_* flag variables but
    /// those given removed); the report file removed.
    fn command(&self) -> Command {
        if let Some(report) = &self.report {
            let _ = std::fs::remove_file(report);
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_pg2dolt"));
        command.args(&self.arguments);
        for (key, _) in std::env::vars() {
            if key.starts_with("PG2DOLT_") && !key.starts_with("PG2DOLT_TEST_") {
                command.env_remove(key);
            }
        }
        if self.as_user {
            command.env_remove("RUST_LOG");
        } else {
            command.env("RUST_LOG", "pg2dolt=info");
        }
        command.envs(self.environment.iter().map(|(name, value)| (name, value)));
        command
    }

    /// Runs the binary to the end.
    pub fn run(self) -> Run {
        let Output {
            status,
            stdout,
            stderr,
        } = self.command().output().unwrap();
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            report: self.report,
        }
    }

    /// Starts the binary and returns at once (stdout and stderr piped);
    /// end it with [`terminate`].
    pub fn spawn(self) -> std::process::Child {
        self.command()
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// Sends SIGTERM to a running pg2dolt and waits for it to end: its exit
/// code, stdout and stderr, and how long it took to stop after the signal.
pub async fn terminate(child: std::process::Child) -> (Option<i32>, Run, std::time::Duration) {
    let sent = std::time::Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        report: None,
    };
    (output.status.code(), run, sent.elapsed())
}

/// Runs the pg2dolt binary with `arguments`.
pub fn run_pg2dolt(arguments: &[&str]) -> Run {
    Pg2dolt::new("").args(arguments).run()
}

/// The same, with extra environment variables.
pub fn run_pg2dolt_with(arguments: &[&str], environment: &[(&str, &str)]) -> Run {
    environment
        .iter()
        .fold(Pg2dolt::new("").args(arguments), |run, (name, value)| {
            run.env(name, value)
        })
        .run()
}

/// As a user runs it: no RUST_LOG, so `-v`/`-q` pick the log level.
pub fn run_pg2dolt_as_user(arguments: &[&str]) -> Run {
    Pg2dolt::new("").args(arguments).like_a_user().run()
}

/// Waits for a copy whose target server was killed at `killed`, and checks
/// that it ended as a user must be told: within 30 s, exit 1 with one error
/// line naming `table` once, and the summary and the report saying the
/// target holds a partial copy (and no Dolt commit was made).
pub async fn assert_ends_partial_after_kill(
    child: std::process::Child,
    killed: std::time::Instant,
    report: &Path,
    table: &str,
) {
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        killed.elapsed().as_secs() < 30,
        "pg2dolt took {:?} to stop:\n{stderr}",
        killed.elapsed()
    );
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr,
        report: Some(report.to_path_buf()),
    };
    let error = run.assert_one_line_error(1);
    assert_eq!(error.matches(table).count(), 1, "{error}");
    assert!(
        !error.contains("Input/output error: Input/output error"),
        "{error}"
    );
    assert!(
        run.stderr.contains("target: the target database") && run.stderr.contains("partial copy"),
        "the summary tells the state:\n{}",
        run.stderr
    );
    let report = read_report(report);
    assert_eq!(report["status"], "failed");
    assert_eq!(report["target_state"], "partial");
    assert_eq!(report["target_dropped"], false);
    assert_eq!(report["dolt_commit"], Json::Null);
}

pub fn read_report(path: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The checksum of a table on each side, to compare: (rows, MD5 of every
/// row as `row` renders it, in `order`), on the source.
pub async fn pg_checksum(
    client: &tokio_postgres::Client,
    table: &str,
    row: &str,
    order: &str,
) -> (i64, String) {
    let statement = format!(
        "SELECT count(*), md5(coalesce(string_agg({row}, ',' ORDER BY {order}), '')) FROM {table}"
    );
    let found = client.query_one(&statement, &[]).await.unwrap();
    (found.get(0), found.get(1))
}

/// The same on the target.
pub async fn mysql_checksum(
    conn: &mut mysql_async::Conn,
    table: &str,
    row: &str,
    order: &str,
) -> (i64, String) {
    conn.query_drop("SET SESSION group_concat_max_len = 1073741824")
        .await
        .unwrap();
    conn.query_first(format!(
        "SELECT COUNT(*), MD5(COALESCE(GROUP_CONCAT({row} ORDER BY {order} SEPARATOR ','), '')) FROM {table}"
    ))
    .await
    .unwrap()
    .unwrap()
}

/// (rows, SHA-256 of every row in a fixed order) of each table of a
/// database, every value as the driver decodes it, so any difference shows.
pub async fn fingerprint(mysql_url: &str, database: &str) -> Vec<(String, u64, String)> {
    let mut conn = mysql_connect(mysql_url).await;
    conn.query_drop("SET SESSION group_concat_max_len = 1073741824")
        .await
        .unwrap();
    // SHOW TABLES, not information_schema: Dolt answers that with "no root
    // value found in session" while another test drops a database.
    let tables: Vec<(String, String)> = conn
        .query(format!("SHOW FULL TABLES FROM `{database}`"))
        .await
        .unwrap();
    let mut tables: Vec<String> = tables
        .into_iter()
        .filter(|(_, kind)| kind == "BASE TABLE")
        .map(|(name, _)| name)
        .collect();
    tables.sort();
    let mut prints = Vec::new();
    for table in tables {
        // Every value as the driver decodes it, rows in a fixed order:
        // Dolt's HEX() takes no JSON or TIME, so nothing is computed by
        // the server.
        let rows: Vec<mysql_async::Row> = conn
            .exec(format!("SELECT * FROM `{database}`.`{table}`"), ())
            .await
            .unwrap();
        let mut printed: Vec<String> = rows
            .into_iter()
            .map(|row| format!("{:?}", row.unwrap()))
            .collect();
        printed.sort();
        let digest = ring::digest::digest(&ring::digest::SHA256, printed.join("\n").as_bytes());
        let mut hex = String::new();
        for byte in digest.as_ref() {
            let _ = write!(hex, "{byte:02x}");
        }
        prints.push((table, printed.len() as u64, hex));
    }
    prints
}

/// One value, decoded by a driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    /// a decimal's value: (negative, significant digits, exponent), so
    /// numbers of any size compare by value
    Decimal((bool, String, i64)),
    Float(f64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    Time(NaiveTime),
    Bytes(Vec<u8>),
    Json(Json),
}

/// How a column's value is read on both sides, so the two cells compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAs {
    Text,
    Int,
    /// microseconds: an integer from Postgres, a TIME value from MySQL
    /// (Dolt's TIME_TO_SEC wraps at 24 h and CAST(t AS CHAR) gives NULL)
    Micros,
    /// decimal text (or a NUMERIC) on both sides, compared by value
    Decimal,
    Float,
    Bool,
    Bytes,
    /// a DATE, or its text
    Date,
    /// a timestamp, or its text
    DateTime,
    Time,
    /// JSON (or a Postgres array) on one side, JSON text on the other
    Json,
}

/// How a Postgres column of `kind` is read.
pub fn read_as(kind: &Type) -> ReadAs {
    match *kind {
        Type::INT2 | Type::INT4 | Type::INT8 => ReadAs::Int,
        Type::NUMERIC => ReadAs::Decimal,
        Type::FLOAT4 | Type::FLOAT8 => ReadAs::Float,
        Type::BOOL => ReadAs::Bool,
        Type::DATE => ReadAs::Date,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => ReadAs::DateTime,
        Type::TIME => ReadAs::Time,
        Type::BYTEA => ReadAs::Bytes,
        Type::JSON | Type::JSONB | Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::INT4_ARRAY => {
            ReadAs::Json
        }
        _ => ReadAs::Text,
    }
}

/// Any Postgres value as its binary wire bytes (for uuid and enums, which
/// the driver has no Rust type for without extra features).
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// The one Postgres cell reader: column `index` of `row`, read `how`.
pub fn pg_cell(row: &tokio_postgres::Row, index: usize, how: ReadAs) -> Cell {
    let kind = row.columns()[index].type_().clone();
    macro_rules! get {
        ($t:ty, $wrap:expr) => {
            row.get::<_, Option<$t>>(index).map_or(Cell::Null, $wrap)
        };
    }
    match (how, kind) {
        (ReadAs::Int | ReadAs::Micros, Type::INT2) => get!(i16, |v| Cell::Int(i64::from(v))),
        (ReadAs::Int | ReadAs::Micros, Type::INT4) => get!(i32, |v| Cell::Int(i64::from(v))),
        (ReadAs::Int | ReadAs::Micros, _) => get!(i64, Cell::Int),
        (ReadAs::Decimal, Type::NUMERIC) => get!(Decimal, |v| Cell::Decimal(normalize_decimal(
            &v.to_string()
        ))),
        (ReadAs::Decimal, _) => get!(String, |v| Cell::Decimal(normalize_decimal(&v))),
        (ReadAs::Float, Type::FLOAT4) => get!(f32, |v| Cell::Float(f64::from(v))),
        (ReadAs::Float, _) => get!(f64, Cell::Float),
        (ReadAs::Bool, _) => get!(bool, Cell::Bool),
        (ReadAs::Bytes, _) => get!(Vec<u8>, Cell::Bytes),
        (ReadAs::Date, _) => get!(NaiveDate, Cell::Date),
        (ReadAs::DateTime, Type::TIMESTAMPTZ) => {
            get!(DateTime<Utc>, |v| Cell::DateTime(v.naive_utc()))
        }
        (ReadAs::DateTime, _) => get!(NaiveDateTime, Cell::DateTime),
        (ReadAs::Time, _) => get!(NaiveTime, Cell::Time),
        (ReadAs::Json, Type::TEXT_ARRAY | Type::VARCHAR_ARRAY) => {
            get!(Vec<Option<String>>, |v| Cell::Json(Json::Array(
                v.into_iter()
                    .map(|e| e.map_or(Json::Null, Json::String))
                    .collect()
            )))
        }
        (ReadAs::Json, Type::INT4_ARRAY) => get!(Vec<Option<i32>>, |v| Cell::Json(Json::Array(
            v.into_iter()
                .map(|e| e.map_or(Json::Null, Json::from))
                .collect()
        ))),
        (ReadAs::Json, _) => get!(Json, Cell::Json),
        (ReadAs::Text, Type::UUID) => get!(Raw, |v| Cell::Text(uuid_text(&v.0))),
        (ReadAs::Text, other) if matches!(other.kind(), Kind::Enum(_)) => {
            get!(Raw, |v| Cell::Text(String::from_utf8(v.0).unwrap()))
        }
        (ReadAs::Text, _) => get!(String, Cell::Text),
    }
}

fn uuid_text(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    });
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The one MySQL cell reader: `value`, read `how`.
pub fn mysql_cell(value: mysql_async::Value, how: ReadAs) -> Cell {
    use mysql_async::{Value, from_value};
    if value == Value::NULL {
        return Cell::Null;
    }
    let text = |value: &Value| match value {
        Value::Bytes(text) => Some(std::str::from_utf8(text).unwrap().to_string()),
        _ => None,
    };
    match how {
        ReadAs::Text => Cell::Text(from_value(value)),
        ReadAs::Int => Cell::Int(from_value(value)),
        ReadAs::Micros => match value {
            Value::Time(negative, days, hours, minutes, seconds, micros) => {
                let whole = ((i64::from(days) * 24 + i64::from(hours)) * 60 + i64::from(minutes))
                    * 60
                    + i64::from(seconds);
                let total = whole * 1_000_000 + i64::from(micros);
                Cell::Int(if negative { -total } else { total })
            }
            other => panic!("not a TIME: {other:?}"),
        },
        ReadAs::Decimal => Cell::Decimal(normalize_decimal(&from_value::<String>(value))),
        ReadAs::Float => Cell::Float(from_value(value)),
        ReadAs::Bool => Cell::Bool(from_value::<i64>(value) != 0),
        ReadAs::Bytes => Cell::Bytes(from_value(value)),
        // Text from DATE_FORMAT, or a typed value.
        ReadAs::Date => Cell::Date(match text(&value) {
            Some(text) => NaiveDate::parse_from_str(&text, "%Y-%m-%d").unwrap(),
            None => from_value(value),
        }),
        ReadAs::DateTime => Cell::DateTime(match text(&value) {
            Some(text) => NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f").unwrap(),
            None => from_value(value),
        }),
        ReadAs::Time => Cell::Time(from_value(value)),
        ReadAs::Json => Cell::Json(serde_json::from_str(&from_value::<String>(value)).unwrap()),
    }
}

/// A decimal's value: (negative, significant digits, exponent).
fn normalize_decimal(text: &str) -> (bool, String, i64) {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all = format!("{whole}{fraction}");
    let significant = all.trim_start_matches('0').trim_end_matches('0');
    if significant.is_empty() {
        return (false, String::new(), 0);
    }
    let trailing = all.trim_start_matches('0').len() - significant.len();
    (
        negative,
        significant.to_string(),
        i64::try_from(trailing).unwrap() - i64::try_from(fraction.len()).unwrap(),
    )
}

/// Compares every row of every table the report lists, column by column:
/// Postgres read with tokio-postgres, the target with mysql_async, both
/// typed. Rows are ordered by the first two columns. Returns rows compared.
pub async fn assert_tables_equal(source_url: &str, target_url: &str, report: &Json) -> u64 {
    let source = pg_connect(source_url).await;
    let mut target = mysql_connect(target_url).await;
    let mut compared = 0;
    for table in report["tables"].as_array().unwrap() {
        let columns = table["columns"].as_array().unwrap();
        let source_columns: Vec<String> = columns
            .iter()
            .map(|c| format!("\"{}\"", c["source"].as_str().unwrap()))
            .collect();
        let target_columns: Vec<String> = columns
            .iter()
            .map(|c| format!("`{}`", c["target"].as_str().unwrap()))
            .collect();
        let order = if columns.len() > 1 { "1, 2" } else { "1" };
        let (schema, name) = table["source"].as_str().unwrap().split_once('.').unwrap();
        let source_rows = source
            .query(
                &format!(
                    "SELECT {} FROM \"{schema}\".\"{name}\" ORDER BY {order}",
                    source_columns.join(", ")
                ),
                &[],
            )
            .await
            .unwrap();
        let target_rows: Vec<mysql_async::Row> = target
            .query(format!(
                "SELECT {} FROM `{}` ORDER BY {order}",
                target_columns.join(", "),
                table["target"].as_str().unwrap()
            ))
            .await
            .unwrap();
        assert_eq!(
            source_rows.len(),
            target_rows.len(),
            "row count of {}",
            table["source"]
        );
        for (source_row, target_row) in source_rows.iter().zip(target_rows) {
            let reads: Vec<ReadAs> = source_row
                .columns()
                .iter()
                .map(|column| read_as(column.type_()))
                .collect();
            let expected: Vec<Cell> = reads
                .iter()
                .enumerate()
                .map(|(index, how)| pg_cell(source_row, index, *how))
                .collect();
            let values = target_row.unwrap();
            let actual: Vec<Cell> = values
                .into_iter()
                .zip(&reads)
                .map(|(value, how)| mysql_cell(value, *how))
                .collect();
            let differences: BTreeMap<&str, (&Cell, &Cell)> = expected
                .iter()
                .zip(&actual)
                .enumerate()
                .filter(|(_, (left, right))| left != right)
                .map(|(index, (left, right))| {
                    (columns[index]["source"].as_str().unwrap(), (left, right))
                })
                .collect();
            assert!(
                differences.is_empty(),
                "{}: row {:?} differs (source, target): {differences:?}",
                table["source"],
                expected[0]
            );
            compared += 1;
        }
    }
    compared
}
