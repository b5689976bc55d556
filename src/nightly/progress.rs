//! What a night has loaded so far, kept on its work branch so a rerun
//! after the night was killed continues from it (issue 26 item 3).
//!
//! The night writes a table of its own into the work branch's working set:
//! a first row with the night's state (its snapshot: the facts the next
//! night proves a delta from), then a row per table once every row of
//! that table is loaded in full, with the table's state then (definition,
//! conversion, rows, `dolt_hashof_table`). Dolt keeps a branch's working
//! set across sessions and server restarts (each SQL transaction commits
//! into it), so a night killed outright leaves exactly the tables it
//! finished, marked. The table is dropped before the night's commit: no
//! published commit holds it.
//!
//! A rerun keeps a marked table whose hash is still the recorded one and
//! catches it up by delta from the killed night's snapshot, under the
//! rules every delta night follows (`delta::night_reason`,
//! `delta::table_method`); every other table loads as if the killed night
//! had not run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use super::state::{NightState, TableState};
use crate::mysql::sql::{quote_identifier, quote_literal};

/// The table on the work branch.
pub const TABLE: &str = "pg2dolt_night_progress";

/// The name of the night's own row.
const NIGHT_ROW: &str = "";

/// The name of the row listing the schema files the night applied on the
/// work branch before its load (no table can have this name: it is longer
/// than any).
const FILES_ROW: &str = "pg2dolt schema files applied on the work branch before the load";

/// What a killed night left: its state, and the tables it finished.
#[derive(Debug, Clone)]
pub struct Progress {
    /// the night's snapshot facts, and each finished table's state
    pub state: NightState,
    /// the schema files it applied on the work branch (uncommitted there)
    pub schema_files: Vec<String>,
}

/// Starts recording on the work branch (`conn`): the night's state and
/// the schema files it applied there, no table finished yet. A night that
/// continues a stopped one records under the stopped night's state: the
/// marks of the tables it keeps (`kept`) stay, the others go.
pub async fn start(
    conn: &mut Conn,
    night: &NightState,
    files: &[String],
    kept: &[&str],
) -> anyhow::Result<()> {
    let table = quote_identifier(TABLE);
    let mut header = night.clone();
    header.tables.clear();
    let json = serde_json::to_string(&header).context("writing the night's progress")?;
    let files = serde_json::to_string(files).context("writing the night's progress")?;
    // language=MySQL
    conn.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {table} (name VARCHAR(256) NOT NULL PRIMARY KEY, state LONGTEXT NOT NULL)"
    ))
    .await
    .context("making the night's progress table")?;
    // language=MySQL
    let recorded: Option<String> = conn
        .query_first(format!(
            "SELECT state FROM {table} WHERE name = {}",
            quote_literal(NIGHT_ROW)
        ))
        .await
        .context("reading the night's progress")?;
    let kept = if recorded.as_deref() == Some(json.as_str()) {
        kept.iter().map(|name| quote_literal(name)).collect()
    } else {
        Vec::new()
    };
    let kept = [quote_literal(NIGHT_ROW)]
        .into_iter()
        .chain(kept)
        .collect::<Vec<_>>()
        .join(", ");
    // language=MySQL
    conn.query_drop(format!("DELETE FROM {table} WHERE name NOT IN ({kept})"))
        .await
        .context("emptying the night's progress table")?;
    // language=MySQL
    conn.query_drop(format!(
        "REPLACE INTO {table} (name, state) VALUES ({}, {}), ({}, {})",
        quote_literal(NIGHT_ROW),
        quote_literal(&json),
        quote_literal(FILES_ROW),
        quote_literal(&files)
    ))
    .await
    .context("recording the night's progress")
}

/// What the work branch (`conn`) records, if anything readable.
pub async fn read(conn: &mut Conn) -> anyhow::Result<Option<Progress>> {
    // language=MySQL
    let found: Option<String> = conn
        .query_first(format!(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = {}",
            quote_literal(TABLE)
        ))
        .await
        .context("looking for the night's progress")?;
    if found.is_none() {
        return Ok(None);
    }
    // language=MySQL
    let rows: Vec<(String, String)> = conn
        .query(format!(
            "SELECT name, state FROM {}",
            quote_identifier(TABLE)
        ))
        .await
        .context("reading the night's progress")?;
    let Some(mut state) = rows
        .iter()
        .find(|(name, _)| name == NIGHT_ROW)
        .and_then(|(_, json)| serde_json::from_str::<NightState>(json).ok())
    else {
        return Ok(None);
    };
    let Some(schema_files) = rows
        .iter()
        .find(|(name, _)| name == FILES_ROW)
        .and_then(|(_, json)| serde_json::from_str::<Vec<String>>(json).ok())
    else {
        return Ok(None);
    };
    state.tables = rows
        .iter()
        .filter(|(name, _)| name != NIGHT_ROW && name != FILES_ROW)
        .filter_map(|(name, json)| {
            let table: TableState = serde_json::from_str(json).ok()?;
            Some((name.clone(), table))
        })
        .collect();
    Ok(Some(Progress {
        state,
        schema_files,
    }))
}

/// What the work branch `name` of `database` records, when it names at
/// least one table loaded (a session of its own on `database/name`).
pub async fn read_branch(
    target: &crate::mysql::TargetAddress,
    database: &str,
    name: &str,
) -> anyhow::Result<Option<Progress>> {
    let revision = crate::dolt::refs::revision(database, name);
    read_at(target, &revision).await
}

/// What `database` (or `database/branch`) records, when it names at least
/// one table loaded (a session of its own).
pub async fn read_at(
    target: &crate::mysql::TargetAddress,
    database: &str,
) -> anyhow::Result<Option<Progress>> {
    let mut session = crate::mysql::connect(target, Some(database)).await?;
    let progress = read(&mut session).await;
    let _ = session.disconnect().await;
    Ok(progress?.filter(|progress| !progress.state.tables.is_empty()))
}

/// After a night failed with `error`: what its work branch records
/// (`read`, given half the time the failure leaves to settle the target:
/// `FreshDatabase::limit`), when the next night is to continue from it.
/// Not after a failure that says the load itself does not hold the
/// source's rows (exit 4: counts, constraints, `--verify`), nor when no
/// table was finished or the branch cannot be read in time.
pub async fn kept_for_rerun<T>(
    error: &anyhow::Error,
    read: impl Future<Output = anyhow::Result<Option<T>>>,
) -> Option<T> {
    let limit = crate::mysql::fresh::FreshDatabase::limit(error) / 2;
    if crate::error::kind(error) == Some(crate::error::FailureKind::Verify) {
        return None;
    }
    match tokio::time::timeout(limit, read).await {
        Ok(Ok(found)) => found,
        Ok(Err(failed)) => {
            tracing::debug!(error = %crate::error::one_line(&failed), "the failed night's progress could not be read");
            None
        }
        Err(_) => None,
    }
}

/// Drops the progress table (before the night's commit).
pub async fn finish(conn: &mut Conn) -> anyhow::Result<()> {
    // language=MySQL
    conn.query_drop(format!("DROP TABLE IF EXISTS {}", quote_identifier(TABLE)))
        .await
        .context("dropping the night's progress table")
}

/// The tables a night's copy marks as they finish: per plan, the state
/// to record (its rows and hash filled in then) and whether it is a
/// resumed delta (marked again once its deletes are applied too), `None`
/// for tables not marked.
pub struct Marks {
    templates: Vec<Option<Template>>,
    remaining: Vec<AtomicUsize>,
    rows: Vec<AtomicU64>,
}

/// What [`templates`] gives a marked table: its target name, the state to
/// record, and whether it is a resumed delta.
pub type Template = (String, TableState, bool);

impl Marks {
    /// Marks for `templates` (per plan).
    #[must_use]
    pub fn new(templates: Vec<Option<Template>>) -> Arc<Marks> {
        let count = templates.len();
        Arc::new(Marks {
            templates,
            remaining: (0..count).map(|_| AtomicUsize::new(0)).collect(),
            rows: (0..count).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    /// Plan `table` is copied in `chunks` chunks.
    pub fn expect(&self, table: usize, chunks: usize) {
        if let Some(remaining) = self.remaining.get(table) {
            remaining.store(chunks, Ordering::SeqCst);
        }
    }

    /// A chunk of plan `table` is loaded (`rows` rows, committed on
    /// `conn`): the table is marked once its last chunk is.
    pub async fn chunk_done(&self, conn: &mut Conn, table: usize, rows: u64) -> anyhow::Result<()> {
        let (Some(Some(template)), Some(remaining), Some(total)) = (
            self.templates.get(table),
            self.remaining.get(table),
            self.rows.get(table),
        ) else {
            return Ok(());
        };
        let total = total.fetch_add(rows, Ordering::SeqCst) + rows;
        if remaining.fetch_sub(1, Ordering::SeqCst) != 1 {
            return Ok(());
        }
        mark(conn, template, total).await
    }

    /// Plan `table` is settled (a resumed delta's deletes applied too, on
    /// `conn`): a resumed table is marked again.
    pub async fn settled(&self, conn: &mut Conn, table: usize) -> anyhow::Result<()> {
        match self.templates.get(table) {
            Some(Some(template)) if template.2 => mark(conn, template, 0).await,
            _ => Ok(()),
        }
    }
}

/// Records that `template`'s table is loaded: its hash now, and its rows
/// (`rows`, counted on the table for a resumed delta, which loads only
/// what changed).
async fn mark(
    conn: &mut Conn,
    (target, template, resumed): &Template,
    rows: u64,
) -> anyhow::Result<()> {
    let rows = if *resumed {
        // language=MySQL
        let counted: Option<u64> = conn
            .query_first(format!("SELECT COUNT(*) FROM {}", quote_identifier(target)))
            .await
            .with_context(|| format!("counting {target}"))?;
        counted.unwrap_or(0)
    } else {
        rows
    };
    let hash = rows_hash(conn, target).await?;
    let state = TableState {
        rows,
        hash,
        ..template.clone()
    };
    let json = serde_json::to_string(&state).context("writing a table's progress")?;
    // language=MySQL
    conn.query_drop(format!(
        "REPLACE INTO {} (name, state) VALUES ({}, {})",
        quote_identifier(TABLE),
        quote_literal(target),
        quote_literal(&json)
    ))
    .await
    .with_context(|| format!("recording that {target} is loaded"))
}

/// `dolt_hashof_table` of `target` without the violations side-by-side
/// loads record on it (Dolt keeps them with the table, so they are in its
/// hash; a rerun clears them before it compares, see [`take_over`]): read
/// in a transaction that clears them and is rolled back.
async fn rows_hash(conn: &mut Conn, target: &str) -> anyhow::Result<String> {
    // language=MySQL
    conn.query_drop("START TRANSACTION")
        .await
        .context("hashing a loaded table")?;
    let violations = quote_identifier(&format!("dolt_constraint_violations_{target}"));
    // language=MySQL
    let cleared = conn.query_drop(format!("DELETE FROM {violations}")).await;
    let hash = super::decision::table_hash(conn, target).await;
    // language=MySQL
    let _ = conn.query_drop("ROLLBACK").await;
    cleared.with_context(|| format!("reading {target} without its recorded violations"))?;
    hash?.context("a loaded table has no hash")
}

/// The states to record for `plans` (`marked` per plan: `Some(false)` a
/// table loaded in full, `Some(true)` a resumed delta, `None` not marked).
#[must_use]
pub fn templates(
    plans: &[crate::plan::TablePlan],
    marked: &[Option<bool>],
    identities: &super::decision::Identities,
) -> Vec<Option<Template>> {
    plans
        .iter()
        .zip(marked)
        .map(|(plan, &marked)| {
            let resumed = marked?;
            let key = (plan.source.schema.clone(), plan.source.name.clone());
            let identity = identities.get(&key)?;
            Some((
                plan.target.name.clone(),
                TableState {
                    source: plan.source_name.clone(),
                    oid: identity.oid,
                    fingerprint: identity.fingerprint.clone(),
                    conversion: super::decision::conversion_fingerprint(plan),
                    rows: 0,
                    hash: String::new(),
                    key_ranges: None,
                },
                resumed,
            ))
        })
        .collect()
}

/// A stopped night's work branch (`conn`), taken over by this night, which
/// applies schema files `file_ids` (`archived`: it archives every row, so
/// it keeps nothing): when the stopped night applied the same files and
/// archives nothing, the tables it loaded are kept, the others (`targets`
/// not kept) go back to the published commit's rows if no file changed
/// them; otherwise the branch is reset to the published commit whole.
/// Returns whether the files are still to apply, and what is kept.
pub async fn take_over(
    conn: &mut Conn,
    progress: Progress,
    (file_ids, archived): (&[String], bool),
    targets: &[&str],
) -> anyhow::Result<(bool, Option<Progress>)> {
    // The stopped night's side-by-side loads left the violations Dolt
    // records while they commit (cleared at the end of a load, which it
    // never reached): with them in the working set Dolt refuses every
    // commit on the branch, the resets below too.
    crate::mysql::dolt::clear_sequencing_violations(conn).await?;
    if archived || progress.schema_files != file_ids {
        tracing::info!(
            "the stopped night's work cannot be kept (another schema, or an archive): the branch starts again from the published commit"
        );
        // language=MySQL
        conn.query_drop("CALL DOLT_RESET('--hard')")
            .await
            .context("resetting the stopped night's work branch")?;
        return Ok((true, None));
    }
    if file_ids.is_empty() {
        let others: Vec<String> = targets
            .iter()
            .filter(|target| !progress.state.tables.contains_key(**target))
            .map(|target| quote_literal(target))
            .collect();
        if !others.is_empty() {
            // language=MySQL
            conn.query_drop(format!("CALL DOLT_CHECKOUT({})", others.join(", ")))
                .await
                .context("resetting the tables the stopped night had not loaded")?;
        }
    }
    Ok((false, Some(progress)))
}

/// How the progress names schema files: name and the text's SHA-256, so a
/// file changed since the stopped night is not taken as applied.
#[must_use]
pub fn file_ids(files: &[&crate::mysql::schema::ParsedSchemaFile]) -> Vec<String> {
    files
        .iter()
        .map(|file| {
            format!(
                "{} {}",
                file.name,
                crate::digest::sha256_hex(file.sql.as_bytes())
            )
        })
        .collect()
}
