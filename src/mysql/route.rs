//! How rows reach a target database (`Route`): LOAD DATA LOCAL INFILE
//! when asked for or when the server takes it (probed with an empty load,
//! never read from a setting), multi-row INSERT otherwise and by default
//! on Dolt, and the size of an INSERT statement.

use anyhow::Context as _;
use futures_util::StreamExt as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use super::TargetKind;
use super::catalog::TargetTable;
use super::sql::quote_identifier;
use crate::error::{FailureKind, failure};

/// How rows reach the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadMethod {
    /// LOAD DATA LOCAL INFILE, streamed.
    LoadData,
    /// multi-row INSERT statements.
    Insert,
    /// multi-row `INSERT … ON DUPLICATE KEY UPDATE` (a refresh's delta:
    /// a changed row is updated in place, never deleted and re-inserted as
    /// `REPLACE` would, which fires foreign-key actions)
    Upsert,
}

/// The load method asked for (`--load-method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadRequest {
    /// LOAD DATA when the server takes LOCAL (not on Dolt), else INSERT
    Auto,
    /// always LOAD DATA LOCAL INFILE (stops with the fix when refused)
    LoadData,
    /// always multi-row INSERT
    Insert,
}

/// How rows reach one target: the method, and the size of an INSERT
/// statement (well under `max_allowed_packet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// LOAD DATA or INSERT
    pub method: LoadMethod,
    /// bytes of tuples per INSERT statement
    pub insert_bytes: usize,
}

impl Route {
    /// The same target, loaded with `method`.
    #[must_use]
    pub fn with(self, method: LoadMethod) -> Route {
        Route { method, ..self }
    }
}

/// The server's message when it refused LOAD DATA LOCAL: MySQL's 1148
/// and 3948, MariaDB's 4166 (local_infile off, or LOCAL not allowed for
/// this client), and Dolt's generic 1105 "local_infile needs to be set to 1
/// to use LOCAL" (go-mysql-server sql/rowexec/ddl.go).
pub(super) fn refused_local(error: &mysql_async::Error) -> Option<&str> {
    match error {
        mysql_async::Error::Server(server)
            if matches!(server.code, 1148 | 3948 | 4166)
                || (server.code == 1105 && server.message.contains("local_infile")) =>
        {
            Some(&server.message)
        }
        _ => None,
    }
}

/// The error for a LOAD DATA the server refused: a configuration to fix.
pub(super) fn local_refused_error(message: &str) -> anyhow::Error {
    failure(
        FailureKind::Usage,
        format!(
            "the target refused LOAD DATA LOCAL INFILE ({message}); enable local_infile on the server or use --load-method insert"
        ),
    )
}

/// Whether the server takes LOAD DATA LOCAL here and now: an empty load
/// into `table`, rolled back. The server's own answer, not a setting read
/// beforehand: `@@local_infile` can be on and LOCAL still refused (a
/// server that allows it only to some clients, a setting changed since).
pub async fn accepts_local_infile(conn: &mut Conn, table: &str) -> anyhow::Result<bool> {
    conn.query_drop("START TRANSACTION")
        .await
        .context("starting the LOAD DATA probe")?;
    conn.set_infile_handler(async { Ok(futures_util::stream::empty().boxed()) });
    // language=MySQL
    let statement = format!(
        "LOAD DATA LOCAL INFILE 'pg2dolt-probe' INTO TABLE {}",
        quote_identifier(table)
    );
    let probed = conn.query_drop(statement).await;
    let _ = conn.query_drop("ROLLBACK").await;
    match probed {
        Ok(()) => Ok(true),
        Err(error) if refused_local(&error).is_some() => Ok(false),
        Err(error) => Err(anyhow::Error::new(error).context("trying LOAD DATA LOCAL")),
    }
}

/// The load method: INSERT when asked for, and for `auto` on Dolt (its
/// LOAD DATA was the slower route in every run of scripts/bench.sh: pgbench
/// scale 10, 14.5–16.7 s against 12.2–13.9 s with INSERT, and it must
/// re-load chunks holding a text `NULL`); otherwise LOAD DATA, if the
/// server takes it, tried on `probe_table` (any table of the new
/// database). `auto` falls back to INSERT when it does not; `load-data`
/// stops with the fix (exit 2).
pub async fn choose_load_method(
    conn: &mut Conn,
    requested: LoadRequest,
    kind: TargetKind,
    probe_table: Option<&str>,
) -> anyhow::Result<LoadMethod> {
    if requested == LoadRequest::Insert
        || (requested == LoadRequest::Auto && kind == TargetKind::Dolt)
    {
        return Ok(LoadMethod::Insert);
    }
    let Some(table) = probe_table else {
        return Ok(LoadMethod::LoadData);
    };
    if accepts_local_infile(conn, table).await? {
        return Ok(LoadMethod::LoadData);
    }
    if requested == LoadRequest::LoadData {
        return Err(failure(
            FailureKind::Usage,
            "the target refuses LOAD DATA LOCAL INFILE (--load-method load-data): set local_infile = 1 on the server (Dolt: `system_variables: {local_infile: 1}` in config.yaml), or use --load-method auto or insert",
        ));
    }
    // The plan has said so, with the fix.
    tracing::debug!("the target refuses LOAD DATA LOCAL INFILE: loading with INSERT statements");
    Ok(LoadMethod::Insert)
}

/// The load method for a database whose tables are `targets` (the first
/// one takes the LOAD DATA probe) and the size of an INSERT statement.
pub async fn choose_route(
    conn: &mut Conn,
    requested: LoadRequest,
    kind: TargetKind,
    targets: &[TargetTable],
) -> anyhow::Result<Route> {
    let probe_table = targets.first().map(|table| table.name.as_str());
    let method = choose_load_method(conn, requested, kind, probe_table).await?;
    Ok(Route {
        method,
        insert_bytes: insert_chunk_size(conn).await,
    })
}

/// An INSERT statement of at most 1 MiB, and at most a quarter of
/// `max_allowed_packet`.
pub async fn insert_chunk_size(conn: &mut Conn) -> usize {
    const INSERT_CHUNK: usize = 1024 * 1024;
    let packet: Option<u64> = conn
        .query_first("SELECT @@max_allowed_packet")
        .await
        .ok()
        .flatten();
    let limit = packet.map_or(INSERT_CHUNK, |packet| {
        usize::try_from(packet / 4).unwrap_or(INSERT_CHUNK)
    });
    INSERT_CHUNK.min(limit).max(16 * 1024)
}
