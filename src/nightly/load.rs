//! A night's load: the copy phase with each delta table's filter, the
//! delta tables' source rows counted on the coordinator meanwhile, then
//! each delta's deleted rows found and deleted (`deletes`), every table's
//! account made (the report's `method`, `reason` and row counts), and the
//! tables whose delta did not add up emptied and copied again in full, in
//! the same snapshot.

use anyhow::Context as _;
use mysql_async::Conn;
use tokio_postgres::Client;

use super::decision::Decision;
use super::deletes::ranges::{KeyRanges, count_source_ranges, source_ranges};
use super::deletes::{Sides, counts_ranges, delete_gone_rows};
use super::delta::Method;
use crate::archive::writer::ArchiveRun;
use crate::copy::phase::{Loaded, NightLoad, load_plan};
use crate::fill::Fill;
use crate::plan::TablePlan;
use crate::preflight::{Planned, SourceSide};
use crate::report::TableNight;
use crate::settings::Settings;

/// The planned tables into `fill`, each loaded as `decision` says; the
/// loaded tables' accounts say how, and how many rows each must hold.
pub async fn load_night(
    settings: &Settings,
    source: &SourceSide,
    planned: Planned,
    archive: Option<&ArchiveRun>,
    fill: &mut Fill,
    decision: &Decision,
) -> anyhow::Result<Loaded> {
    fill.check_catalog(&planned.catalog)?;
    let plans = planned.plan.tables;
    let marks = match &decision.progress {
        Some(night) => {
            let resumed: Vec<&str> = (plans.iter().zip(&decision.methods))
                .filter(|(_, method)| method.resumed().is_some())
                .map(|(plan, _)| plan.target.name.as_str())
                .collect();
            let files = &decision.applied_files;
            super::progress::start(&mut fill.conn, night, files, &resumed).await?;
            let marked: Vec<Option<bool>> = (decision.methods.iter())
                .map(|method| match method {
                    Method::Full { .. } => Some(false),
                    Method::Delta { resumed, .. } => resumed.as_ref().map(|_| true),
                })
                .collect();
            let templates = super::progress::templates(&plans, &marked, &decision.identities);
            Some(super::progress::Marks::new(templates))
        }
        None => None,
    };
    let counting = count_tables(&source.coordinator, &plans, decision);
    let loading = load_plan(
        settings,
        plans.clone(),
        planned.readers,
        archive,
        fill,
        NightLoad {
            filters: decision.filters(),
            marks: marks.clone(),
        },
    );
    let (loaded, counted) = tokio::join!(loading, counting);
    let (mut loaded, counted) = (loaded?, counted?);
    let mut sides = Sides::of(settings, source, &fill.database);
    sides.base = decision.base.as_deref();
    let sent = loaded.rows_sent();
    let settled =
        settle_tables(&mut fill.conn, &sides, &plans, decision, (&sent, &counted)).await?;
    if let Some(marks) = &marks {
        // A resumed table, its deletes applied too, is marked again.
        for (index, settled) in settled.iter().enumerate() {
            if settled.is_some() {
                marks.settled(&mut fill.conn, index).await?;
            }
        }
    }
    let mut redo = Vec::new();
    for ((plan, settled), counted) in plans.into_iter().zip(settled).zip(counted) {
        let Some(Settled {
            night,
            rows,
            ranges,
        }) = settled
        else {
            redo.push(plan);
            continue;
        };
        if let Some(ranges) = ranges.or(counted.into_ranges()) {
            loaded.key_ranges.insert(plan.target.name.clone(), ranges);
        }
        if let Some(table) = loaded.tables.iter_mut().find(|table| table.is(&plan)) {
            table.rows = rows;
            table.night = Some(night);
        }
    }
    if !redo.is_empty() {
        if decision.count_ranges {
            for plan in redo.iter().filter(|plan| counts_ranges(plan)) {
                let ranges = source_ranges(&source.coordinator, plan).await?;
                loaded.key_ranges.insert(plan.target.name.clone(), ranges);
            }
        }
        reload_in_full(settings, source, fill, redo, &mut loaded).await?;
    }
    Ok(loaded)
}

/// What the coordinator counted of a table while it was copied.
enum Counted {
    /// nothing (a full load, ranges not counted)
    Nothing,
    /// a delta's rows in the snapshot
    Rows(u64),
    /// a delta's rows in the snapshot per key range (the recorded ones'
    /// cut, or finer), when the last night recorded them
    RowsByRange(KeyRanges),
    /// a full load's rows per key range, for the next night
    Ranges(KeyRanges),
}

impl Counted {
    fn rows(&self) -> Option<u64> {
        match self {
            Counted::Rows(rows) => Some(*rows),
            Counted::RowsByRange(ranges) => Some(ranges.total()),
            Counted::Nothing | Counted::Ranges(_) => None,
        }
    }

    fn into_ranges(self) -> Option<KeyRanges> {
        match self {
            Counted::Ranges(ranges) => Some(ranges),
            Counted::Nothing | Counted::Rows(_) | Counted::RowsByRange(_) => None,
        }
    }

    fn by_range(&self) -> Option<KeyRanges> {
        match self {
            Counted::RowsByRange(ranges) => Some(ranges.clone()),
            Counted::Nothing | Counted::Rows(_) | Counted::Ranges(_) => None,
        }
    }
}

/// A table's account of the night, the rows it must now hold and its
/// rows per key range (when a delta counted them).
struct Settled {
    night: TableNight,
    rows: u64,
    ranges: Option<KeyRanges>,
}

/// `plans` (deltas that did not add up) emptied in `fill` and copied
/// again in full, on new readers inside the snapshot; their accounts in
/// `loaded` replaced.
async fn reload_in_full(
    settings: &Settings,
    source: &SourceSide,
    fill: &mut Fill,
    plans: Vec<TablePlan>,
    loaded: &mut Loaded,
) -> anyhow::Result<()> {
    let names: Vec<&str> = plans.iter().map(|plan| plan.target.name.as_str()).collect();
    crate::mysql::empty_tables(&mut fill.conn, &names).await?;
    let readers =
        crate::preflight::open_readers(settings, source, &plans, fill.server.kind).await?;
    let again = load_plan(settings, plans, readers, None, fill, NightLoad::default()).await?;
    for mut reloaded in again.tables {
        reloaded.night = Some(reloaded_account(reloaded.rows));
        if let Some(table) = loaded
            .tables
            .iter_mut()
            .find(|table| table.source == reloaded.source && table.target == reloaded.target)
        {
            *table = reloaded;
        }
    }
    Ok(())
}

/// Each delta table's rows in the snapshot, and each table loaded in full
/// its rows per key range (when `decision` counts them and its key starts
/// with an integer), on the coordinator: run while the copy runs on the
/// readers.
async fn count_tables(
    coordinator: &Client,
    plans: &[TablePlan],
    decision: &Decision,
) -> anyhow::Result<Vec<Counted>> {
    let mut counted = Vec::with_capacity(plans.len());
    for (plan, method) in plans.iter().zip(&decision.methods) {
        counted.push(match method {
            Method::Full { .. } if decision.count_ranges && counts_ranges(plan) => {
                Counted::Ranges(source_ranges(coordinator, plan).await?)
            }
            Method::Full { .. } => Counted::Nothing,
            // One scan counts the rows and where they are: the night needs
            // the latter as soon as a row is gone.
            Method::Delta {
                ranges: Some(recorded),
                ..
            } => {
                let shift = recorded.shift_for(recorded.total()).min(recorded.shift);
                Counted::RowsByRange(count_source_ranges(coordinator, plan, shift).await?)
            }
            Method::Delta { .. } => Counted::Rows(
                super::source::count_rows(
                    coordinator,
                    &plan.source.schema,
                    &plan.source.name,
                    plan.source.partitioned,
                )
                .await?,
            ),
        });
    }
    Ok(counted)
}

/// After the copy of a night: each delta table's deleted rows found and
/// deleted on `conn` (the work branch), and what every table's load did.
/// Returns, per plan, the load's account and the source's row count (what
/// the target must now hold). `sent` is the rows each plan's copy read.
/// Returns, per plan, the load's account and the rows the table must hold,
/// or `None` for a delta that did not add up: that table is reloaded in
/// full (its account then says why).
async fn settle_tables(
    conn: &mut Conn,
    sides: &Sides<'_>,
    plans: &[TablePlan],
    decision: &Decision,
    (sent, counted): (&[u64], &[Counted]),
) -> anyhow::Result<Vec<Option<Settled>>> {
    let mut settled = Vec::with_capacity(plans.len());
    let methods = decision.methods.iter().zip(&decision.deleted_first);
    for (((plan, (method, &first)), &sent), counted) in
        plans.iter().zip(methods).zip(sent).zip(counted)
    {
        let mut ranges = None;
        let night = match method {
            Method::Full { reason } => TableNight {
                method: "full".to_string(),
                reason: Some(reason.clone()),
                rows_examined: sent,
                rows_upserted: sent,
                rows_deleted: 0,
                keys_read: 0,
                counted: None,
                ..TableNight::default()
            },
            Method::Delta {
                ranges: recorded,
                resumed,
                ..
            } => {
                let rows = counted.rows().context("a delta table was not counted")?;
                let by_range = (recorded.as_ref(), counted.by_range());
                let found = delete_gone_rows(conn, sides, plan, rows, by_range).await;
                let (deleted, keys_read, counted_changes) = match found {
                    Ok(found) => {
                        ranges = found.ranges;
                        (first + found.deleted, found.keys_read, found.changes)
                    }
                    Err(error) => match error.downcast::<super::deletes::DeltaInconsistent>() {
                        Ok(inconsistent) => {
                            tracing::warn!(table = %plan.label(), reason = %inconsistent,
                                "the delta did not add up: the table is reloaded in full");
                            settled.push(None);
                            continue;
                        }
                        Err(error) => return Err(error),
                    },
                };
                tracing::info!(table = %plan.label(), rows_examined = rows, rows_upserted = sent,
                    rows_deleted = deleted, keys_read, "delta applied");
                TableNight {
                    method: method.name().to_string(),
                    reason: None,
                    rows_examined: rows,
                    rows_upserted: sent,
                    rows_deleted: deleted,
                    keys_read,
                    counted: counted_changes,
                    kept_rows: resumed.as_ref().map(|resumed| resumed.rows),
                    resumed_from: resumed.as_ref().map(|resumed| resumed.from.clone()),
                }
            }
        };
        let rows = match method {
            Method::Full { .. } => sent,
            Method::Delta { .. } => night.rows_examined,
        };
        settled.push(Some(Settled {
            night,
            rows,
            ranges,
        }));
    }
    Ok(settled)
}

/// The account of a table reloaded in full after its delta did not add up.
fn reloaded_account(rows: u64) -> TableNight {
    TableNight {
        method: "full".to_string(),
        reason: Some(
            "its delta did not add up (a change the row versions did not show): reloaded"
                .to_string(),
        ),
        rows_examined: rows,
        rows_upserted: rows,
        rows_deleted: 0,
        keys_read: 0,
        counted: None,
        ..TableNight::default()
    }
}
