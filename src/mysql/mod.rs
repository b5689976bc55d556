//! The target database over the MySQL protocol (Dolt, MySQL, MariaDB):
//! connect, create and drop databases, apply the schema files, read the
//! target catalog, load rows, run the foreign-key fix-ups and the checks
//! that every row and constraint is in (`finish`), and pg2dolt's own record
//! tables (`records`). Dolt's version control (branches, tags, merges,
//! commits) is `crate::dolt`'s; nothing here moves a ref.

pub mod catalog;
pub mod completion;
pub mod dolt;
pub mod fixup;
pub mod fresh;
pub mod load;
pub mod records;
pub mod route;
pub mod run_lock;
pub mod schema;
pub mod sql;
pub mod statements;

use anyhow::Context as _;
use mysql_async::prelude::Queryable as _;
use mysql_async::{Conn, Opts, OptsBuilder};

use crate::tls::TlsMode;
use serde::Serialize;

use crate::error::{FailureKind, failure};
use crate::mysql::sql::quote_identifier;

/// How long connecting to a server may take (Postgres URLs may set their
/// own `connect_timeout`).
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Session settings for every target connection: UTF-8, UTC, strict mode
/// (a value that does not fit is an error, not a silent change),
/// `NO_AUTO_VALUE_ON_ZERO` (else a row with id 0 gets a new id) and foreign
/// key checks off while loading. Unique checks stay on: with them off InnoDB
/// may accept duplicate keys, which would hide a collation collision.
// language=MySQL
const SESSION_SETTINGS: [&str; 4] = [
    "SET NAMES utf8mb4",
    "SET time_zone = '+00:00'",
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO'",
    "SET FOREIGN_KEY_CHECKS = 0",
];

/// [`connect`] for a copy worker, whose load transactions commit while
/// other tables load side by side. On Dolt (MySQL and MariaDB do not know
/// the variable: their error is ignored) each such commit is merged into
/// the working set, and Dolt refuses a merge whose working set holds a
/// child row whose parent's load has not committed yet ("Committing this
/// transaction resulted in a working set with constraint violations …
/// transaction sequencing", dsess/transactions.go
/// ErrUnresolvedConstraintViolationsCommit), although foreign-key checks
/// are off and the rows are consistent once every table is in: these
/// sessions commit anyway (`@@dolt_force_transaction_commit`). The violations
/// Dolt recorded are cleared before the finish, which verifies every key
/// (`DOLT_VERIFY_CONSTRAINTS('--all')`) before any Dolt commit. Only loader
/// sessions: a publish's merge still refuses violations.
pub async fn connect_loader(
    address: &TargetAddress,
    database: Option<&str>,
) -> anyhow::Result<Conn> {
    let mut conn = connect(address, database).await?;
    // language=MySQL
    let _ = conn
        .query_drop("SET @@dolt_force_transaction_commit = 1")
        .await;
    Ok(conn)
}

/// Empties `tables` on the connected database (TRUNCATE keeps each table,
/// its columns' identities and its schema: on Dolt a dropped and re-made
/// table would show as changed in whole; foreign-key checks are off in
/// pg2dolt's sessions).
pub async fn empty_tables(conn: &mut Conn, tables: &[&str]) -> anyhow::Result<()> {
    let mut tables = tables.to_vec();
    tables.sort_unstable();
    tables.dedup();
    for table in tables {
        // language=MySQL
        conn.query_drop(format!("TRUNCATE TABLE {}", quote_identifier(table)))
            .await
            .with_context(|| format!("emptying {table}"))?;
    }
    Ok(())
}

/// What the target server is.
#[derive(Debug, Clone, Serialize)]
pub struct TargetServer {
    /// `dolt` or `mysql` (MySQL and MariaDB)
    pub kind: TargetKind,
    /// `VERSION()`
    pub version: String,
    /// `dolt_version()` on Dolt
    pub dolt_version: Option<String>,
}

/// The kind of target server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// A Dolt sql-server: gets a Dolt commit.
    Dolt,
    /// MySQL or MariaDB: no version control.
    Mysql,
}

impl TargetKind {
    /// The ranges of one table are loaded one after another, not side by
    /// side (Dolt: see copy/queue.rs); the copy's queue and the number of
    /// snapshot readers both follow this.
    #[must_use]
    pub fn one_range_per_table(self) -> bool {
        self == TargetKind::Dolt
    }
}

impl TargetServer {
    /// A readable name for summaries.
    #[must_use]
    pub fn describe(&self) -> String {
        match &self.dolt_version {
            Some(version) => format!("Dolt {version}"),
            None => format!("MySQL-compatible {}", self.version),
        }
    }
}

/// Opens a connection with pg2dolt's session settings, on `database` when
/// given.
pub async fn connect(address: &TargetAddress, database: Option<&str>) -> anyhow::Result<Conn> {
    let builder = OptsBuilder::from_opts(address.opts.clone())
        .db_name(database)
        .prefer_socket(false);
    let mut connecting = tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(builder.clone())).await;
    // prefer: a server without TLS gets a plain connection.
    if address.tls == TlsMode::Prefer
        && matches!(
            connecting,
            Ok(Err(mysql_async::Error::Driver(
                mysql_async::DriverError::NoClientSslFlagFromServer
            )))
        )
    {
        let plain = builder.ssl_opts(None::<mysql_async::SslOpts>);
        connecting = tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(plain)).await;
    }
    let mut conn = match connecting {
        Ok(Ok(conn)) => conn,
        Ok(Err(error)) => {
            let described = describe_mysql_error(&error);
            let message = format!(
                "cannot connect to the target: {described}{}",
                crate::tls::hint(&described, "--target-ca-file")
            );
            return Err(failure(FailureKind::Connect, message));
        }
        Err(_) => {
            let message = format!(
                "cannot connect to the target: no answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            );
            return Err(failure(FailureKind::Connect, message));
        }
    };
    for statement in SESSION_SETTINGS {
        conn.query_drop(statement)
            .await
            .with_context(|| format!("setting up the target session ({statement})"))?;
    }
    Ok(conn)
}

/// How to reach the target: the driver's options (TLS options included)
/// and the TLS mode, which decides whether a server without TLS is
/// acceptable (prefer).
#[derive(Debug, Clone)]
pub struct TargetAddress {
    /// connection options
    pub opts: Opts,
    /// the TLS mode the options were built for
    pub tls: TlsMode,
    /// `--target dolt:PATH`: pg2dolt runs its own sql-server over PATH, at
    /// the loopback port `opts` point at
    pub local_dolt: Option<LocalDoltTarget>,
}

/// The private sql-server `--target dolt:PATH` asks for.
#[derive(Debug, Clone)]
pub struct LocalDoltTarget {
    /// the directory its databases live in
    pub directory: std::path::PathBuf,
    /// the loopback port it listens on
    pub port: u16,
}

/// Finds out whether the target is Dolt (`dolt_version()` exists only there;
/// `VERSION()` says 8.0.x on Dolt too).
pub async fn detect_server(conn: &mut Conn) -> anyhow::Result<TargetServer> {
    let version: Option<String> = conn
        .query_first("SELECT VERSION()")
        .await
        .context("reading the target version")?;
    let dolt_version: Option<String> = conn
        .query_first("SELECT dolt_version()")
        .await
        .ok()
        .flatten();
    if let Some(dolt) = &dolt_version {
        dolt::require_version(dolt)?;
    }
    Ok(TargetServer {
        kind: if dolt_version.is_some() {
            TargetKind::Dolt
        } else {
            TargetKind::Mysql
        },
        version: version.unwrap_or_default(),
        dolt_version,
    })
}

/// Whether `database` exists on the target (asked again, a few times, when
/// Dolt answers with its race against another session's DDL: see
/// [`catalog::is_dolt_root_race`]).
pub async fn database_exists(conn: &mut Conn, database: &str) -> anyhow::Result<bool> {
    let mut attempt = 1;
    loop {
        // language=MySQL
        let found: anyhow::Result<Option<String>> = conn
            .exec_first(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
                (database,),
            )
            .await
            .context("checking whether the target database exists");
        match found {
            Err(error) if attempt < 5 && catalog::is_dolt_root_race(&error) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            found => return Ok(found?.is_some()),
        }
    }
}

/// Creates `database` with a case-sensitive default collation, like
/// Postgres: Dolt's server default already is (`utf8mb4_0900_bin`); MySQL
/// and MariaDB would pick a case-insensitive one for plain `utf8mb4`, so
/// they get `utf8mb4_bin`. Tables may still choose their own.
pub async fn create_database(
    conn: &mut Conn,
    database: &str,
    kind: TargetKind,
) -> anyhow::Result<()> {
    let options = match kind {
        TargetKind::Dolt => "",
        TargetKind::Mysql => " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
    };
    // language=MySQL
    conn.query_drop(format!(
        "CREATE DATABASE {}{options}",
        quote_identifier(database)
    ))
    .await
    .with_context(|| format!("creating database {database}"))
}

/// Drops `database` if it exists.
pub async fn drop_database(conn: &mut Conn, database: &str) -> anyhow::Result<()> {
    conn.query_drop(format!(
        "DROP DATABASE IF EXISTS {}",
        quote_identifier(database)
    ))
    .await
    .with_context(|| format!("dropping database {database}"))
}

/// A MySQL driver error as one line, without the connection URL.
#[must_use]
pub fn describe_mysql_error(error: &mysql_async::Error) -> String {
    match error {
        mysql_async::Error::Server(server) => format!("{} (error {})", server.message, server.code),
        mysql_async::Error::Io(io) => format!("{io}"),
        other => other.to_string(),
    }
}
