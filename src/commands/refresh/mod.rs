//! `pg2dolt refresh`: one long-lived Dolt database, a commit per night.
//! The first night is a copy (published on `--branch`, tagged). A later
//! night: snapshot → plan (on a scratch database) → a work branch made
//! from the last published commit → the schema files added since applied
//! there → every planned table emptied (never dropped: Dolt would give its
//! columns new identities and the whole table would show as changed) and
//! reloaded → fix-ups, verification → a Dolt commit on the work branch,
//! none when nothing changed → the diff against the last published commit
//! → the guards → the publish, one ref update (`mysql::published`), and the
//! night's tag. Anything before the publish that fails or is interrupted
//! leaves the published branch as it was.

use anyhow::Context as _;
use mysql_async::Conn;
use tracing::info;

use super::copy::{Filling, load_planned, open_archive, plan_and_archive};
use super::verify::{compare_with_snapshot, differ_error};
use super::{
    RunState, Untouched, commit, in_fresh_database, open_dolt_target, prepare_fill,
    resolve_copy_flags, run_started,
};
use crate::archive::writer::ArchiveRun;
use crate::cli::RefreshArgs;
use crate::mysql::TargetServer;
use crate::mysql::migrations;
use crate::mysql::published::{self, night_tag};
use crate::mysql::schema::ParsedSchemaFile;
use crate::mysql::work::WorkBranch;
use crate::nightly::{
    self,
    deletes::Sides,
    delta::{Method, NightFacts},
    night::{Decision, Identities},
    state::NightState,
};
use crate::output::Output;
use crate::plan::TablePlan;
use crate::preflight::{self, Planned, SourceSide, TargetSide};
use crate::report::VerifyReport;
use crate::report::{CommandKind, RefreshReport};
use crate::settings::{RefreshSettings, Settings};
use crate::signal::Stop;

mod moves;
mod publish;

use publish::{Sessions, publish_first};

/// Runs `pg2dolt refresh`; returns the exit code.
pub async fn run(arguments: &RefreshArgs) -> u8 {
    let mut output = Output::new(arguments.copy.logging.log_format, None);
    let stop = Stop::listen();
    let options = match RefreshSettings::resolve(arguments) {
        Ok(options) => options,
        Err(error) => return output.error(&error),
    };
    let (mut settings, report) =
        match resolve_copy_flags(&arguments.copy, CommandKind::Refresh, &output) {
            Ok(resolved) => resolved,
            Err(code) => return code,
        };
    // New columns of masked tables are those the published branch's
    // baseline does not know.
    if let Some(masking) = settings.masking.as_mut() {
        masking.branch = Some(options.branch.branch.clone());
    }
    let mut progress = RunState {
        refresh: Some(RefreshReport::new(
            &options.branch.branch,
            options.on_diverged,
        )),
        ..RunState::default()
    };
    let result = run_started(&mut output, &mut settings, async |settings| {
        Box::pin(refresh(settings, &options, &stop, &mut progress)).await
    })
    .await;
    let Err(error) = result else {
        return output.succeed(progress.into_report(report)).await;
    };
    let untouched = Untouched::Said("the target database was not touched");
    Box::pin(progress.fail(&output, report, &error, untouched)).await
}

/// One night's inputs.
struct Night<'a> {
    settings: &'a Settings,
    options: &'a RefreshSettings,
    source: &'a SourceSide,
    archive: Option<&'a ArchiveRun>,
    /// the state this night records for the next (in its tag), once its
    /// commit is made
    recorded: std::sync::Mutex<Option<NightState>>,
}

impl Night<'_> {
    fn branch(&self) -> &str {
        &self.options.branch.branch
    }

    fn tag(&self) -> String {
        night_tag(&self.options.branch.tag_prefix, &self.source.snapshot.time)
    }

    /// The planned tables into the database being filled (copy's load),
    /// each as `decision` says.
    async fn load(
        &self,
        planned: Planned,
        into: Filling<'_>,
        decision: &Decision,
        progress: &mut RunState,
    ) -> anyhow::Result<()> {
        load_planned(
            self.settings,
            self.source,
            planned,
            self.archive,
            into,
            Some(decision),
            progress,
        )
        .await
    }

    /// The tag's message: the snapshot, for `pg2dolt history`, and the
    /// state the next night starts from.
    fn tag_message(&self) -> String {
        let snapshot = &self.source.snapshot;
        let message = format!(
            "pg2dolt refresh of Postgres database {}: snapshot {} ({})",
            snapshot.database, snapshot.time, snapshot.id
        );
        match self.recorded.lock().ok().and_then(|state| state.clone()) {
            Some(state) => state.append_to(&message),
            None => message,
        }
    }

    /// Records the state of the night committed on `conn`'s branch.
    async fn record_state(
        &self,
        conn: &mut Conn,
        plans: &[TablePlan],
        identities: &Identities,
        progress: &RunState,
    ) -> anyhow::Result<()> {
        let rows: std::collections::BTreeMap<String, u64> = progress
            .tables
            .iter()
            .map(|table| (table.target.clone(), table.rows))
            .collect();
        let state =
            nightly::night::record(conn, &self.source.snapshot, plans, identities, &rows).await?;
        if let Ok(mut recorded) = self.recorded.lock() {
            *recorded = state;
        }
        Ok(())
    }
}

/// The refresh's phases; `progress` gets what each returns.
async fn refresh(
    settings: &Settings,
    options: &RefreshSettings,
    stop: &Stop,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let archive_store = open_archive(settings).await?;
    let mut target = open_dolt_target(settings, stop, progress, |server| {
        format!(
            "refresh needs Dolt's branches and commits; the target is {server} (use copy --replace there)"
        )
    })
    .await?;
    let source = stop.run(preflight::open_source(settings)).await?;
    progress.snapshot = Some(source.snapshot.clone());
    let (planned, archive) = plan_and_archive(
        settings,
        stop,
        &source,
        &mut target,
        archive_store,
        progress,
    )
    .await?;
    let night = Night {
        settings,
        options,
        source: &source,
        archive: archive.as_ref(),
        recorded: std::sync::Mutex::new(None),
    };
    if target.exists {
        later_night(&night, planned, target, stop, progress).await
    } else {
        first_night(&night, planned, target, stop, progress).await
    }
}

/// The database does not exist yet: a copy, every schema file recorded,
/// the commit tagged and published on `--branch`.
async fn first_night(
    night: &Night<'_>,
    planned: Planned,
    target: TargetSide,
    stop: &Stop,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let settings = night.settings;
    let server = target.server.clone();
    if let Some(refresh) = progress.refresh.as_mut() {
        refresh.first_night = true;
    }
    let (address, database) = (&settings.target, settings.database.as_str());
    let keep_failed = settings.target_database.keep_failed;
    in_fresh_database(
        target,
        address,
        database,
        keep_failed,
        stop,
        progress,
        async |progress| {
            let (mut conn, targets, route) = prepare_fill(
                address,
                database,
                &settings.schema_files,
                settings.target_database.load_method,
                &server,
                progress,
            )
            .await?;
            let plans = planned.plan.tables.clone();
            let identities =
                nightly::night::read_identities(&night.source.coordinator, &plans).await?;
            let decision = Decision::all_full(&plans, "the first night", identities);
            let into = Filling {
                database,
                conn: &mut conn,
                targets: &targets,
                route,
                server: &server,
            };
            night.load(planned, into, &decision, progress).await?;
            let files: Vec<&ParsedSchemaFile> = settings.schema_files.iter().collect();
            migrations::record(&mut conn, &files, &night.source.snapshot.time).await?;
            let options = &settings.target_database;
            commit(
                &mut conn,
                &server,
                options,
                "refresh",
                &night.source.snapshot,
                progress,
            )
            .await?;
            let hash = progress.commit.clone().context("the night's commit")?;
            night
                .record_state(&mut conn, &plans, &decision.identities, progress)
                .await?;
            publish_first(&mut conn, night, &hash, progress).await?;
            let _ = conn.disconnect().await;
            Ok(())
        },
    )
    .await
}

/// A later night: loaded on a work branch, then published (or held back).
async fn later_night(
    night: &Night<'_>,
    planned: Planned,
    target: TargetSide,
    stop: &Stop,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let TargetSide { admin, server, .. } = target;
    let _ = admin.disconnect().await;
    let mut sessions = Sessions::open(night, progress).await?;
    let work = WorkBranch::create(
        &mut sessions.conn,
        &night.settings.target,
        &night.settings.database,
        &sessions.state.base,
        &night.source.snapshot.time,
    )
    .await?;
    let filled = stop
        .run(fill_work(
            night,
            planned,
            (&work.revision(), &sessions.state.base),
            &server,
            progress,
        ))
        .await;
    sessions.conclude(night, work, filled, progress).await
}

/// On the work branch (`work`, a `database/branch` name): the schema files
/// added since the last refresh, every planned table emptied and
/// reloaded, fix-ups, verification, the record of schema files, and the
/// Dolt commit: its hash, or `None` when nothing changed.
async fn fill_work(
    night: &Night<'_>,
    planned: Planned,
    (work, base): (&str, &str),
    server: &TargetServer,
    progress: &mut RunState,
) -> anyhow::Result<Option<String>> {
    let settings = night.settings;
    let (adopting, pending_files) = schema_to_apply(settings, work).await?;
    let (mut conn, targets, route) = prepare_fill(
        &settings.target,
        work,
        &pending_files,
        settings.target_database.load_method,
        server,
        progress,
    )
    .await?;
    let plans = planned.plan.tables.clone();
    // `--verify` loads the snapshot a second time: the plan is kept.
    let again = night
        .options
        .verify
        .then(|| (planned.plan.clone(), planned.catalog.clone()));
    let mut decision = decide(night, &mut conn, &plans, base, !pending_files.is_empty()).await?;
    empty_tables(&mut conn, &plans, &decision.methods).await?;
    let sides = Sides::of(settings, night.source, work);
    nightly::night::clear_first(&mut conn, &sides, &plans, &mut decision).await?;
    let into = Filling {
        database: work,
        conn: &mut conn,
        targets: &targets,
        route,
        server,
    };
    night.load(planned, into, &decision, progress).await?;
    let record: Vec<&ParsedSchemaFile> = if adopting {
        // A database made by `copy`: its schema matched the files (the
        // catalog check above), which are recorded from now on.
        settings.schema_files.iter().collect()
    } else {
        pending_files.iter().collect()
    };
    migrations::record(&mut conn, &record, &night.source.snapshot.time).await?;
    if let Some(refresh) = progress.refresh.as_mut() {
        refresh.schema_files_applied = pending_files.iter().map(|file| file.name.clone()).collect();
    }
    if let Some((plan, catalog)) = again {
        let planned = Planned {
            plan,
            catalog,
            readers: Vec::new(),
        };
        verify_night(night, planned, work, server, progress).await?;
    }
    if !published::has_changes(&mut conn).await? {
        info!("no change since the last refresh");
        let _ = conn.disconnect().await;
        return Ok(None);
    }
    let options = &settings.target_database;
    commit(
        &mut conn,
        server,
        options,
        "refresh",
        &night.source.snapshot,
        progress,
    )
    .await?;
    night
        .record_state(&mut conn, &plans, &decision.identities, progress)
        .await?;
    let _ = conn.disconnect().await;
    Ok(progress.commit.clone())
}

/// `--verify`: every row of the work branch compared with the snapshot
/// (loaded again, in full, on a scratch branch); a difference is exit 4
/// and nothing is published.
async fn verify_night(
    night: &Night<'_>,
    mut planned: Planned,
    work: &str,
    server: &TargetServer,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let settings = night.settings;
    planned.readers =
        crate::preflight::open_readers(settings, night.source, &planned.plan.tables, server.kind)
            .await?;
    let tables = planned.plan.tables.len();
    let branch = work.rsplit_once('/').map_or(work, |(_, branch)| branch);
    let found = compare_with_snapshot(
        settings,
        night.source,
        planned,
        (work, branch),
        server,
        None,
    )
    .await?;
    progress.verify = Some(VerifyReport {
        branch: branch.to_string(),
        equal: found.is_empty(),
        tables_compared: tables,
        differences: found.clone(),
    });
    if found.is_empty() {
        info!(branch, tables, "the night equals the snapshot row for row");
        return Ok(());
    }
    Err(differ_error(branch, &found))
}

/// How each table is loaded this night: from the state recorded with the
/// last published commit (`base`), unless the night must load everything.
async fn decide(
    night: &Night<'_>,
    work: &mut Conn,
    plans: &[TablePlan],
    base: &str,
    schema_changed: bool,
) -> anyhow::Result<Decision> {
    let coordinator = &night.source.coordinator;
    if night.archive.is_some() {
        let identities = nightly::night::read_identities(coordinator, plans).await?;
        let reason = "--archive keeps every row of the night";
        return Ok(Decision::all_full(plans, reason, identities));
    }
    let previous =
        nightly::night::recorded_at(work, base, &night.options.branch.tag_prefix).await?;
    let facts = NightFacts {
        previous: previous.as_ref(),
        snapshot: &night.source.snapshot,
        full_requested: night.options.full,
        schema_changed,
    };
    let decision = nightly::night::decide(coordinator, work, plans, &facts).await?;
    for (plan, method) in plans.iter().zip(&decision.methods) {
        info!(table = %plan.label(), method = method.name(), reason = method.reason().unwrap_or(""), "load method");
    }
    Ok(decision)
}

/// The schema files the work branch (`work`) still needs, in order, and
/// whether nothing was recorded there yet (a database made by `copy`,
/// adopted: nothing is applied, every file is recorded).
async fn schema_to_apply(
    settings: &Settings,
    work: &str,
) -> anyhow::Result<(bool, Vec<ParsedSchemaFile>)> {
    let mut conn = crate::mysql::connect(&settings.target, Some(work)).await?;
    let applied = migrations::applied(&mut conn, work).await?;
    let _ = conn.disconnect().await;
    let pending = migrations::pending(&settings.schema_files, applied.as_ref())?;
    for file in &pending {
        info!(file = %file.name, "applying a schema file added since the last refresh");
    }
    let pending = pending.into_iter().cloned().collect();
    Ok((applied.is_none(), pending))
}

/// Empties every table loaded in full.
async fn empty_tables(
    conn: &mut Conn,
    plans: &[TablePlan],
    methods: &[Method],
) -> anyhow::Result<()> {
    let tables: Vec<&str> = plans
        .iter()
        .zip(methods)
        .filter(|(_, method)| matches!(method, Method::Full { .. }))
        .map(|(plan, _)| plan.target.name.as_str())
        .collect();
    crate::mysql::empty_tables(conn, &tables)
        .await
        .context("on the work branch")
}
