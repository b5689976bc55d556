//! The target database's lifecycle after it is created, shared by copy and
//! restore: schema applied, then finished (foreign keys resolved,
//! AUTO_INCREMENT counters continued, rows counted, Dolt's constraints
//! verified, the Dolt commit), or abandoned (dropped unless kept, on a
//! connection of its own). Every phase returns what it did; the commands
//! put it in their reports.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tracing::info;

use super::catalog::TargetTable;
use super::{TargetAddress, TargetKind, TargetServer, dolt, fixup, schema};
use crate::error::{FailureKind, failure};

/// How long dropping an incomplete database may take after a signal (the
/// whole stop stays under ten seconds: a pod's grace period) and after a
/// failure.
pub const DROP_AFTER_SIGNAL: Duration = Duration::from_secs(5);
/// See [`DROP_AFTER_SIGNAL`].
pub const DROP_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// What the target database holds when the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetState {
    /// the run made it, whole: verified (and committed on Dolt)
    Complete,
    /// this run did not create it (an existing one was left as it was,
    /// unless --replace had dropped it)
    NotCreated,
    /// it was incomplete and has been dropped
    Dropped,
    /// it exists and holds a partial copy: kept by --keep-failed, or it
    /// could not be dropped
    Partial,
}

/// What a run did to the target database so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct TargetSteps {
    /// this run created the target database
    pub created: bool,
    /// this run dropped an existing target database (--replace)
    pub existing_dropped: bool,
}

/// Applies the schema files to the connected database; returns its catalog.
pub async fn apply_schema(
    conn: &mut Conn,
    database: &str,
    files: &[schema::ParsedSchemaFile],
) -> anyhow::Result<Vec<TargetTable>> {
    let started = Instant::now();
    let statements = schema::apply_schema_files(conn, files).await?;
    info!(
        statements,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "schema applied"
    );
    super::catalog::read_catalog(conn, database).await
}

/// What [`finish`] did.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    /// tables that got the foreign-key no-op delete
    pub foreign_key_fixups: Vec<String>,
    /// AUTO_INCREMENT counters set: table → next value
    pub auto_increment: BTreeMap<String, u64>,
}

/// After the data is in: foreign-key fix-ups, AUTO_INCREMENT counters,
/// row counts (`expected`: label, target table, rows) and, on Dolt, the
/// constraints. An error means the copy is not verified.
pub async fn finish(
    conn: &mut Conn,
    server: &TargetServer,
    targets: &[TargetTable],
    expected: &[(String, String, u64)],
) -> anyhow::Result<Finished> {
    let fixups = foreign_key_tables(targets);
    fixup::resolve_foreign_keys(conn, &fixups).await?;

    let counters: Vec<(String, String)> = targets
        .iter()
        .filter_map(|table| {
            let column = table.columns.iter().find(|column| column.auto_increment)?;
            Some((table.name.clone(), column.name.clone()))
        })
        .collect();
    let auto_increment = fixup::continue_auto_increment(conn, &counters)
        .await?
        .into_iter()
        .collect();

    verify_counts(conn, expected).await?;
    if server.kind == TargetKind::Dolt {
        dolt::verify_constraints(conn).await?;
    }
    Ok(Finished {
        foreign_key_fixups: fixups.into_iter().map(|(table, _)| table).collect(),
        auto_increment,
    })
}

/// On Dolt, the commit (dated at `time`, the snapshot's); returns its
/// hash. Elsewhere nothing.
pub async fn commit_if_dolt(
    conn: &mut Conn,
    server: &TargetServer,
    message: &str,
    author: &str,
    time: &str,
) -> anyhow::Result<Option<String>> {
    if server.kind != TargetKind::Dolt {
        return Ok(None);
    }
    // Dolt's --date takes RFC 3339 without fractional seconds.
    let seconds = time.split('.').next().unwrap_or(time);
    let date = format!("{}Z", seconds.trim_end_matches('Z'));
    let hash = dolt::commit(conn, message, author, &date).await?;
    info!(hash = %hash, "dolt commit made");
    Ok(Some(hash))
}

/// After a failure or a signal: drops the incomplete database this run
/// created (unless `keep_failed`), within `limit`, on a connection of its
/// own (the run's may have died with the server); returns the state the
/// target was left in and the same for people.
pub async fn abandon(
    target: &TargetAddress,
    database: &str,
    keep_failed: bool,
    steps: TargetSteps,
    limit: Duration,
) -> (TargetState, String) {
    if !steps.created {
        let replaced = if steps.existing_dropped {
            " (the existing one had already been dropped: --replace)"
        } else {
            ""
        };
        return (
            TargetState::NotCreated,
            format!("the target database {database} was not created{replaced}"),
        );
    }
    if keep_failed {
        return (
            TargetState::Partial,
            format!("the target database {database} holds a partial copy (kept: --keep-failed)"),
        );
    }
    let dropped = tokio::time::timeout(limit, async {
        let mut admin = super::connect(target, None).await?;
        // The aborted load may still hold its table: do not wait for it long.
        admin
            .query_drop(format!(
                "SET SESSION lock_wait_timeout = {}",
                limit.as_secs().saturating_sub(1).max(1)
            ))
            .await?;
        super::drop_database(&mut admin, database).await
    })
    .await;
    let failed = match dropped {
        Ok(Ok(())) => {
            return (
                TargetState::Dropped,
                format!(
                    "the incomplete target database {database} was dropped; a re-run starts clean"
                ),
            );
        }
        Ok(Err(error)) => crate::error::one_line(&error),
        Err(_) => format!("it did not finish within {} s", limit.as_secs()),
    };
    (
        TargetState::Partial,
        format!(
            "the target database {database} holds a partial copy: drop it before use (dropping it failed: {failed})"
        ),
    )
}

/// Every target table that has or is referenced by a foreign key, with the
/// column its no-op delete compares (the first key column, else the first).
fn foreign_key_tables(targets: &[TargetTable]) -> Vec<(String, String)> {
    let mut involved = BTreeSet::new();
    for table in targets {
        if !table.references.is_empty() {
            involved.insert(table.name.clone());
            involved.extend(table.references.iter().cloned());
        }
    }
    targets
        .iter()
        .filter(|table| involved.contains(&table.name))
        .filter_map(|table| {
            let column = table
                .primary_key
                .first()
                .or_else(|| table.columns.first().map(|column| &column.name))?;
            Some((table.name.clone(), column.clone()))
        })
        .collect()
}

/// Rows read = rows stored (checked per load) = `COUNT(*)` on the target;
/// `expected` holds (label, target table, rows).
async fn verify_counts(conn: &mut Conn, expected: &[(String, String, u64)]) -> anyhow::Result<()> {
    for (label, target, rows) in expected {
        // language=MySQL
        let statement = format!(
            "SELECT COUNT(*) FROM {}",
            crate::convert::mysql_text::quote_identifier(target)
        );
        let count: Option<u64> = conn
            .query_first(statement)
            .await
            .with_context(|| format!("counting rows of {target}"))?;
        if count != Some(*rows) {
            return Err(failure(
                FailureKind::Verify,
                format!(
                    "{label}: {rows} rows expected, the target table {target} has {}",
                    count.unwrap_or(0)
                ),
            ));
        }
    }
    Ok(())
}
