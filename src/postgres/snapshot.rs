//! One exported snapshot: the coordinator opens a read-only repeatable-read
//! transaction and exports its snapshot; every reader imports it, so every
//! table is read as of the same instant.
//!
//! Invariant: the coordinator transaction must stay open until the last
//! reader has imported the snapshot (Postgres forgets an exported snapshot
//! when its transaction ends); the copy command keeps it until the copy is done.

use crate::clock::SnapshotTime;
use anyhow::{Context as _, bail};
use serde::Serialize;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::reader::Reader;
use super::wal::{self, WalPoint};

/// The snapshot every reader shares.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// `pg_export_snapshot()` id, e.g. `00000003-0000001B-1`.
    pub id: String,
    /// When the snapshot was taken.
    pub time: SnapshotTime,
    /// WAL position at the snapshot: past every transaction it sees (the
    /// insert position on a primary, the replay position on a standby).
    pub wal_lsn: Option<String>,
    /// The source server's version.
    pub server_version: String,
    /// The source database's name.
    pub database: String,
    /// The transactions the snapshot sees as finished, epoch-qualified
    /// (`txid_current_snapshot()`): every transaction below `xmin` had
    /// ended; `xmax` is the first one not yet started. What a later night
    /// reads as "changed since" (`nightly`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<TransactionRange>,
    /// The source cluster's identity (`pg_control_system()`), when the
    /// role may read it: a later night compares it before trusting row
    /// versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_identifier: Option<String>,
    /// Where the source's WAL stood (position, timeline and its history,
    /// standby or not): a later night proves from it that the source's
    /// history since this snapshot is continuous (`nightly::continuity`).
    #[serde(default)]
    pub wal: WalPoint,
}

/// The snapshot's `xmin` and `xmax`, 64-bit (epoch and transaction id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TransactionRange {
    /// every transaction below it had ended when the snapshot was taken
    pub xmin: u64,
    /// the first transaction id not yet assigned
    pub xmax: u64,
}

impl TransactionRange {
    /// Parses `txid_current_snapshot()`'s text (`xmin:xmax:xip,…`).
    #[must_use]
    pub fn parse(text: &str) -> Option<TransactionRange> {
        let mut parts = text.split(':');
        let xmin = parts.next()?.parse().ok()?;
        let xmax = parts.next()?.parse().ok()?;
        Some(TransactionRange { xmin, xmax })
    }
}

/// Opens the coordinator transaction and exports its snapshot.
pub async fn export_snapshot(coordinator: &Client) -> anyhow::Result<Snapshot> {
    // language=PostgreSQL
    coordinator
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await
        .context("opening the snapshot transaction")?;
    // language=PostgreSQL
    let query = format!(
        "SELECT pg_export_snapshot(), \
        to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
        current_setting('server_version'), current_database(), txid_current_snapshot()::text, \
        has_function_privilege('pg_control_system()', 'EXECUTE'), {} FROM {}",
        wal::SNAPSHOT_COLUMNS,
        wal::SNAPSHOT_FROM
    );
    let messages = coordinator
        .simple_query(&query)
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
    let mut wal = wal::point_of(row.get(6), row.get(7), row.get(8), row.get(9));
    let system_identifier = if text(5).as_deref() == Some("t") {
        system_identifier(coordinator).await?
    } else {
        None
    };
    wal::read_history(coordinator, &mut wal).await?;
    Ok(Snapshot {
        id,
        time: text(1)
            .context("the snapshot's time is NULL")?
            .parse()
            .context("reading the snapshot's time")?,
        wal_lsn: text(7),
        server_version: text(2).unwrap_or_default(),
        database: text(3).unwrap_or_default(),
        transactions: text(4).as_deref().and_then(TransactionRange::parse),
        system_identifier,
        wal,
    })
}

/// `pg_control_system()`'s system identifier (asked only when the role may
/// run it: an error would end the snapshot's transaction).
async fn system_identifier(coordinator: &Client) -> anyhow::Result<Option<String>> {
    // language=PostgreSQL
    super::first_text(
        coordinator,
        "SELECT system_identifier::text FROM pg_control_system()",
    )
    .await
    .context("reading the source's system identifier")
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
    use super::{TransactionRange, validate_snapshot_id};

    #[test]
    fn transaction_ranges_are_read_from_the_snapshot_text() {
        assert_eq!(
            TransactionRange::parse("4294967300:4294967310:4294967301,4294967305"),
            Some(TransactionRange {
                xmin: 4_294_967_300,
                xmax: 4_294_967_310
            })
        );
        assert_eq!(
            TransactionRange::parse("750:750:"),
            Some(TransactionRange {
                xmin: 750,
                xmax: 750
            })
        );
        assert_eq!(TransactionRange::parse("x"), None);
    }

    #[test]
    fn snapshot_ids_are_validated_before_quoting() {
        assert!(validate_snapshot_id("00000003-0000001B-1").is_ok());
        assert!(validate_snapshot_id("1'; DROP TABLE x; --").is_err());
        assert!(validate_snapshot_id("").is_err());
    }
}
