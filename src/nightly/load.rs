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
use super::deletes::Sides;
use super::delta::Method;
use crate::archive::writer::ArchiveRun;
use crate::copy::phase::{Loaded, load_plan};
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
    let counting = count_delta_tables(&source.coordinator, &plans, &decision.methods);
    let loading = load_plan(
        settings,
        plans.clone(),
        planned.readers,
        archive,
        fill,
        decision.filters(),
    );
    let (loaded, counted) = tokio::join!(loading, counting);
    let (mut loaded, counted) = (loaded?, counted?);
    let sides = Sides::of(settings, source, &fill.database);
    let sent = loaded.rows_sent();
    let settled =
        settle_tables(&mut fill.conn, &sides, &plans, decision, (&sent, &counted)).await?;
    let mut redo = Vec::new();
    for (plan, settled) in plans.into_iter().zip(settled) {
        let Some((night, rows)) = settled else {
            redo.push(plan);
            continue;
        };
        if let Some(table) = loaded.tables.iter_mut().find(|table| table.is(&plan)) {
            table.rows = rows;
            table.night = Some(night);
        }
    }
    if !redo.is_empty() {
        reload_in_full(settings, source, fill, redo, &mut loaded).await?;
    }
    Ok(loaded)
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
    let again = load_plan(settings, plans, readers, None, fill, Vec::new()).await?;
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

/// Each delta table's rows in the snapshot (`None` for full loads), on
/// the coordinator: run while the copy runs on the readers.
async fn count_delta_tables(
    coordinator: &Client,
    plans: &[TablePlan],
    methods: &[Method],
) -> anyhow::Result<Vec<Option<u64>>> {
    let mut counted = Vec::with_capacity(plans.len());
    for (plan, method) in plans.iter().zip(methods) {
        counted.push(match method {
            Method::Full { .. } => None,
            Method::Delta { .. } => Some(
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
    (sent, counted): (&[u64], &[Option<u64>]),
) -> anyhow::Result<Vec<Option<(TableNight, u64)>>> {
    let mut settled = Vec::with_capacity(plans.len());
    let methods = decision.methods.iter().zip(&decision.deleted_first);
    for (((plan, (method, &first)), &sent), &counted) in
        plans.iter().zip(methods).zip(sent).zip(counted)
    {
        let night = match method {
            Method::Full { reason } => TableNight {
                method: "full".to_string(),
                reason: Some(reason.clone()),
                rows_examined: sent,
                rows_upserted: sent,
                rows_deleted: 0,
            },
            Method::Delta { .. } => {
                let rows = counted.context("a delta table was not counted")?;
                let deleted = match super::deletes::delete_gone_rows(conn, sides, plan, rows).await
                {
                    Ok(deleted) => first + deleted,
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
                    rows_deleted = deleted, "delta applied");
                TableNight {
                    method: "delta".to_string(),
                    reason: None,
                    rows_examined: rows,
                    rows_upserted: sent,
                    rows_deleted: deleted,
                }
            }
        };
        let rows = match method {
            Method::Full { .. } => sent,
            Method::Delta { .. } => night.rows_examined,
        };
        settled.push(Some((night, rows)));
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
    }
}
