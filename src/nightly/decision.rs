//! One night's delta, from the facts to the record: the state the last
//! published night left (in its tag), how each planned table is loaded,
//! what each table's load did (the report's `method`, `reason` and row
//! counts), and the state this night leaves for the next.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tokio_postgres::Client;

use super::continuity::{continuity, source_history};
use super::deletes::ranges::KeyRanges;
use super::delta::{Method, NightFacts, TableFacts, night_reason, table_method};
use super::source::{SourceIdentity, identities};
use super::state::{FORMAT, NightState, TableState};
use crate::mysql::sql::quote_literal;
use crate::plan::TablePlan;
use crate::postgres::snapshot::Snapshot;
use crate::report::SourceHistory;

/// Source tables' identities by `(schema, name)`.
pub type Identities = HashMap<(String, String), SourceIdentity>;

/// The night's decision for every planned table.
pub struct Decision {
    /// per plan, in plan order
    pub methods: Vec<Method>,
    /// the source tables' identities in this snapshot, by `(schema, name)`
    pub identities: Identities,
    /// per plan, rows deleted before the copy (`clear_first`)
    pub deleted_first: Vec<u64>,
    /// whether the source's history since the last published night is
    /// continuous (a night with a recorded state to compare with)
    pub source_history: Option<SourceHistory>,
    /// the published commit the work branch started from
    pub base: Option<String>,
    /// the tables' rows per key range are counted for the next night
    /// (not by `verify`, which records nothing)
    pub count_ranges: bool,
    /// the night's state, recorded on its work branch with each table
    /// loaded in full as it finishes (`progress`): a refresh night's
    pub progress: Option<NightState>,
    /// the schema files applied on the work branch before the load (the
    /// progress records them: a rerun must not apply them twice)
    pub applied_files: Vec<String>,
}

impl Decision {
    /// Every table in full, for `reason` (the first night, an archive,
    /// verify), with the source tables' `identities` to record.
    #[must_use]
    pub fn all_full(plans: &[TablePlan], reason: &str, identities: Identities) -> Decision {
        Decision {
            methods: plans
                .iter()
                .map(|_| Method::Full {
                    reason: reason.to_string(),
                })
                .collect(),
            identities,
            deleted_first: vec![0; plans.len()],
            source_history: None,
            base: None,
            count_ranges: true,
            progress: None,
            applied_files: Vec::new(),
        }
    }

    /// The COPY filter of each plan (`None`: a full load).
    #[must_use]
    pub fn filters(&self) -> Vec<Option<String>> {
        self.methods
            .iter()
            .map(|method| match method {
                Method::Delta { filter, .. } => Some(filter.clone()),
                Method::Full { .. } => None,
            })
            .collect()
    }
}

/// The state recorded with the published commit `base`: the message of a
/// night tag (under `prefix`) pointing at it.
pub async fn recorded_at(
    conn: &mut Conn,
    base: &str,
    prefix: &str,
) -> anyhow::Result<Option<NightState>> {
    Ok(crate::dolt::refs::tags(conn, prefix)
        .await?
        .iter()
        .filter(|tag| tag.hash == base)
        .find_map(|tag| NightState::from_message(&tag.message)))
}

/// What decides a table's values besides its rows: each column's source,
/// select expression, target, type and converter, and each mask's output
/// for a fixed input (so a changed generator or key shows, the key never).
#[must_use]
pub fn conversion_fingerprint(plan: &TablePlan) -> String {
    let mut text = String::new();
    for column in &plan.columns {
        let masked = column
            .mask
            .as_ref()
            .and_then(|mask| mask.apply(b"pg2dolt conversion probe"))
            .map(|bytes| crate::digest::hex(&bytes));
        let _ = write!(
            text,
            "{}|{:?}|{}|{}|{:?}|{masked:?};",
            column.source, column.expression, column.target, column.target_type, column.converter
        );
    }
    crate::digest::sha256_hex(text.as_bytes())
}

/// How each planned table is loaded this night. `work` is a session on the
/// work branch (its tables' hashes are the last published night's).
pub async fn decide(
    coordinator: &Client,
    work: &mut Conn,
    plans: &[TablePlan],
    facts: &NightFacts<'_>,
) -> anyhow::Result<Decision> {
    let identities = read_identities(coordinator, plans).await?;
    let source_history = facts.previous.map(|previous| {
        source_history(
            &continuity(previous, facts.snapshot),
            facts.trust_unproven_history,
        )
    });
    let previous = match (night_reason(facts), facts.previous) {
        (None, Some(previous)) => previous,
        (reason, _) => {
            let reason = reason.unwrap_or_else(|| "no state".to_string());
            let mut decision = Decision::all_full(plans, &reason, identities);
            decision.source_history = source_history;
            return Ok(decision);
        }
    };
    let mut methods = Vec::with_capacity(plans.len());
    for plan in plans {
        let base_hash = table_hash(work, &plan.target.name).await?;
        let conversion = conversion_fingerprint(plan);
        let on_work = (base_hash.as_deref(), facts.schema_changed);
        let table = table_facts(plan, &identities, &conversion, on_work);
        methods.push(table_method(previous, &table));
    }
    Ok(Decision {
        deleted_first: vec![0; methods.len()],
        methods,
        identities,
        source_history,
        base: None,
        count_ranges: true,
        progress: None,
        applied_files: Vec::new(),
    })
}

/// On the rerun of a night that was killed (`progress`, read from its work
/// branch `from`, on which `work` is a session): each table it had loaded
/// is kept and caught up by delta from its snapshot, when the rules every
/// delta night follows prove that exact (the source's history continuous
/// since, the table's definition, conversion and hash unchanged); the
/// other tables keep the method `decision` gave them. Returns the tables
/// kept.
/// A run stopped on this working set (`conn`), continued: the violations
/// its side-by-side loads recorded cleared first (Dolt refuses commits on
/// a working set holding them, see `progress::take_over`), then the tables
/// it finished kept as [`resume`] says (none when `stopped` is `None`).
pub async fn continue_stopped(
    conn: &mut Conn,
    plans: &[TablePlan],
    decision: &mut Decision,
    stopped: Option<(&super::progress::Progress, &str)>,
    snapshot: (&Snapshot, bool),
) -> anyhow::Result<()> {
    crate::mysql::dolt::clear_sequencing_violations(conn).await?;
    if let Some(stopped) = stopped {
        resume(conn, plans, decision, stopped, snapshot).await?;
    }
    Ok(())
}

pub async fn resume(
    work: &mut Conn,
    plans: &[TablePlan],
    decision: &mut Decision,
    (progress, from): (&super::progress::Progress, &str),
    (snapshot, trust_unproven_history): (&Snapshot, bool),
) -> anyhow::Result<Vec<String>> {
    let killed = &progress.state;
    let facts = NightFacts {
        previous: Some(killed),
        snapshot,
        full_requested: false,
        schema_changed: false,
        trust_unproven_history,
    };
    if let Some(reason) = night_reason(&facts) {
        tracing::warn!(
            reason,
            "the tables the stopped night loaded cannot be kept: they load again"
        );
        return Ok(Vec::new());
    }
    let mut kept = Vec::new();
    for (index, plan) in plans.iter().enumerate() {
        let Some(loaded) = killed.tables.get(&plan.target.name) else {
            continue;
        };
        let base_hash = table_hash(work, &plan.target.name).await?;
        let conversion = conversion_fingerprint(plan);
        let on_work = (base_hash.as_deref(), false);
        let table = table_facts(plan, &decision.identities, &conversion, on_work);
        match table_method(killed, &table) {
            Method::Delta {
                filter,
                clear_first,
                ranges,
                ..
            } => {
                decision.methods[index] = Method::Delta {
                    filter,
                    clear_first,
                    ranges,
                    resumed: Some(super::delta::Resumed {
                        from: from.to_string(),
                        rows: loaded.rows,
                    }),
                };
                kept.push(plan.target.name.clone());
            }
            Method::Full { reason } => {
                tracing::info!(table = %plan.label(), reason, "a table the stopped night loaded is loaded again");
            }
        }
    }
    if !kept.is_empty() {
        // The stopped night's snapshot stays the progress's: the tables it
        // marked stay marked (caught up from it), and a table this night
        // loads, later in the source's history, is caught up from it just
        // as exactly should this night stop too (issue 26).
        let mut header = killed.clone();
        header.tables.clear();
        decision.progress = Some(header);
    }
    Ok(kept)
}

/// What `plan`'s table pair is this night: `(base_hash, migrated)` as
/// `TableFacts` has them, on the work branch.
fn table_facts<'a>(
    plan: &'a TablePlan,
    identities: &'a Identities,
    conversion: &'a str,
    (base_hash, migrated): (Option<&'a str>, bool),
) -> TableFacts<'a> {
    let key = (plan.source.schema.clone(), plan.source.name.clone());
    TableFacts {
        target: &plan.target.name,
        source: &plan.source_name,
        identity: identities.get(&key),
        conversion,
        keyed: keyed(plan),
        other_unique_key: plan.other_unique_key(),
        base_hash,
        migrated,
    }
}

/// Both sides have a primary key, on the same columns.
fn keyed(plan: &TablePlan) -> bool {
    let mut source: Vec<&str> = plan
        .key_columns()
        .iter()
        .map(|(index, _)| plan.columns[*index].target.as_str())
        .collect();
    let mut target: Vec<&str> = plan.target.primary_key.iter().map(String::as_str).collect();
    source.sort_unstable();
    target.sort_unstable();
    !target.is_empty() && source.len() == plan.source.primary_key.len() && source == target
}

/// `dolt_hashof_table` of a table on the connected branch.
pub async fn table_hash(conn: &mut Conn, table: &str) -> anyhow::Result<Option<String>> {
    // language=MySQL
    conn.query_first(format!(
        "SELECT dolt_hashof_table({})",
        quote_literal(table)
    ))
    .await
    .with_context(|| format!("reading the hash of table {table}"))
}

/// The state this night leaves: `conn` is on the night's committed branch;
/// `rows` is each target table's source row count.
pub async fn record(
    conn: &mut Conn,
    snapshot: &Snapshot,
    plans: &[TablePlan],
    identities: &Identities,
    (rows, ranges): (&BTreeMap<String, u64>, &BTreeMap<String, KeyRanges>),
) -> anyhow::Result<Option<NightState>> {
    let Some(mut state) = header(snapshot) else {
        return Ok(None);
    };
    let mut tables = BTreeMap::new();
    for plan in plans {
        let key = (plan.source.schema.clone(), plan.source.name.clone());
        let (Some(identity), Some(hash)) = (
            identities.get(&key),
            table_hash(conn, &plan.target.name).await?,
        ) else {
            continue;
        };
        tables.insert(
            plan.target.name.clone(),
            TableState {
                source: plan.source_name.clone(),
                oid: identity.oid,
                fingerprint: identity.fingerprint.clone(),
                conversion: conversion_fingerprint(plan),
                rows: rows.get(&plan.target.name).copied().unwrap_or(0),
                hash,
                key_ranges: ranges.get(&plan.target.name).cloned(),
            },
        );
    }
    state.tables = tables;
    Ok(Some(state))
}

/// The state of the night of `snapshot`, no table in it yet (none when the
/// snapshot's transaction ids are unknown: no delta can start from it).
#[must_use]
pub fn header(snapshot: &Snapshot) -> Option<NightState> {
    let transactions = snapshot.transactions?;
    Some(NightState {
        format: FORMAT,
        pg2dolt: env!("CARGO_PKG_VERSION").to_string(),
        system_identifier: snapshot.system_identifier.clone(),
        wal: snapshot.wal.clone(),
        xmin: transactions.xmin,
        xmax: transactions.xmax,
        tables: BTreeMap::new(),
    })
}

/// The source identities of `plans` in this snapshot (a night that loaded
/// everything in full still records them for the next).
pub async fn read_identities(
    coordinator: &Client,
    plans: &[TablePlan],
) -> anyhow::Result<Identities> {
    let version: i32 = coordinator
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .context("reading the source server version")?
        .get(0);
    let tables: Vec<(String, String)> = plans
        .iter()
        .map(|plan| (plan.source.schema.clone(), plan.source.name.clone()))
        .collect();
    identities(coordinator, version, &tables).await
}

/// Before the copy: the delta tables with a unique key besides the primary
/// key lose the rows their delta rewrites and the rows gone (see
/// `deletes::clear_for_delta`); records how many were gone.
pub async fn clear_first(
    conn: &mut Conn,
    sides: &super::deletes::Sides<'_>,
    plans: &[TablePlan],
    decision: &mut Decision,
) -> anyhow::Result<()> {
    for (index, (plan, method)) in plans.iter().zip(&decision.methods).enumerate() {
        if let Method::Delta {
            filter,
            clear_first: true,
            ..
        } = method
        {
            decision.deleted_first[index] =
                super::deletes::clear_for_delta(conn, sides, plan, filter).await?;
        }
    }
    Ok(())
}
