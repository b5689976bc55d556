//! One exported snapshot: the coordinator opens a read-only repeatable-read
//! transaction and exports its snapshot; every reader imports it, so every
//! table is read as of the same instant.
//!
//! Invariant: the coordinator transaction must stay open until the last
//! reader has imported the snapshot (Postgres forgets an exported snapshot
//! when its transaction ends); the copy command keeps it until the copy is done.

use anyhow::{Context as _, bail};
use serde::Serialize;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::reader::Reader;

/// The snapshot every reader shares.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// `pg_export_snapshot()` id, e.g. `00000003-0000001B-1`.
    pub id: String,
    /// When the snapshot was taken, UTC, RFC 3339.
    pub time: String,
    /// WAL position at the snapshot (replay position on a standby).
    pub wal_lsn: Option<String>,
    /// The source server's version.
    pub server_version: String,
    /// The source database's name.
    pub database: String,
}

/// Opens the coordinator transaction and exports its snapshot.
pub async fn export_snapshot(coordinator: &Client) -> anyhow::Result<Snapshot> {
    // language=PostgreSQL
    coordinator
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await
        .context("opening the snapshot transaction")?;
    // language=PostgreSQL
    let query = "SELECT pg_export_snapshot(), \
        to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
        (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text, \
        current_setting('server_version'), current_database()";
    let messages = coordinator
        .simple_query(query)
        .await
        .context("exporting the snapshot")?;
    let Some(row) = messages.iter().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => Some(row),
        _ => None,
    }) else {
        bail!("pg_export_snapshot() returned no row");
    };
    let text = |index: usize| row.get(index).map(str::to_string);
    let id = text(0).context("pg_export_snapshot() returned NULL")?;
    validate_snapshot_id(&id)?;
    Ok(Snapshot {
        id,
        time: text(1).unwrap_or_default(),
        wal_lsn: text(2),
        server_version: text(3).unwrap_or_default(),
        database: text(4).unwrap_or_default(),
    })
}

/// Opens a reader connection inside the shared snapshot.
pub async fn open_reader(
    source: &super::SourceAddress,
    snapshot_id: &str,
    role: &str,
) -> anyhow::Result<Reader> {
    validate_snapshot_id(snapshot_id)?;
    let client = super::connect_reader(source, role).await?;
    // The id cannot be a bind parameter: it was validated above, so quoting
    // it is safe.
    // language=PostgreSQL
    let statements = format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '{snapshot_id}'"
    );
    client
        .batch_execute(&statements)
        .await
        .map_err(|error| super::pg_error(&error))
        .with_context(|| format!("importing snapshot {snapshot_id} on {role}"))?;
    Ok(client)
}

/// Snapshot ids are hex groups separated by dashes.
fn validate_snapshot_id(id: &str) -> anyhow::Result<()> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|byte| byte.is_ascii_hexdigit() || byte == b'-')
    {
        bail!("unexpected snapshot id {id:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_snapshot_id;

    #[test]
    fn snapshot_ids_are_validated_before_quoting() {
        assert!(validate_snapshot_id("00000003-0000001B-1").is_ok());
        assert!(validate_snapshot_id("1'; DROP TABLE x; --").is_err());
        assert!(validate_snapshot_id("").is_err());
    }
}
