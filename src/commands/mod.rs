//! One module per command, each a short function that reads like its
//! phase list: resolve the settings, run the phases (each returns what it
//! did), settle the target database, assemble the report from how far the
//! run got, tell the end (`output`). The phases live below: `preflight`,
//! `copy`, `archive`, `mysql::{fresh, finish, load}`.

pub mod archives;
pub mod copy;
pub mod history;
pub mod plan;
pub mod refresh;
pub mod restore;
pub mod rollback;
pub mod schema;
pub mod verify;

use crate::archive::writer::ArchiveReport;
use crate::error::{FailureKind, failure};
use mysql_async::Conn;

use crate::cli::CopyArgs;
use crate::mysql::catalog::TargetTable;
use crate::mysql::finish::{Finished, apply_schema, commit_if_dolt, finish};
use crate::mysql::fresh::{FreshDatabase, TargetOutcome};
use crate::mysql::load::{LoadMethod, LoadRequest, Route, choose_route};
use crate::mysql::local::LocalDolt;
use crate::mysql::schema::ParsedSchemaFile;
use crate::mysql::{TargetAddress, TargetServer};
use crate::output::{Left, Output};
use crate::plan::{Plan, Problem};
use crate::postgres::snapshot::Snapshot;
use crate::preflight::TargetSide;
use crate::report::{CommandKind, PlannedTable, RefreshReport, Report, TableChange, TableReport};
use crate::settings::{ReportLocation, Settings, TargetDatabaseSettings};
use crate::signal::Stop;

/// What a run that fills a database got done, phase by phase; the report
/// is assembled from it at the end, however the run ended.
#[derive(Default)]
pub(crate) struct RunState {
    /// the snapshot read (copy), or archived (restore)
    pub snapshot: Option<Snapshot>,
    /// the plan's table pairs
    pub planned: Vec<PlannedTable>,
    /// the plan's problems
    pub problems: Vec<Problem>,
    /// the plan's warnings
    pub warnings: Vec<String>,
    /// the masking rules' SHA-256
    pub mask_rules_sha256: Option<String>,
    /// the target server, once known
    pub server: Option<TargetServer>,
    /// how rows are loaded, once chosen
    pub load_method: Option<LoadMethod>,
    /// the tables copied, once all were
    pub tables: Vec<TableReport>,
    /// the fix-ups and verification, once done
    pub finished: Option<Finished>,
    /// the Dolt commit hash
    pub commit: Option<String>,
    /// the archive written
    pub archive: Option<ArchiveReport>,
    /// what the target database was left in
    pub target: Option<TargetOutcome>,
    /// refresh: what the night did with the published branch
    pub refresh: Option<RefreshReport>,
    /// refresh: each table's change against the last published commit
    pub changes: Option<Vec<TableChange>>,
    /// verify (and refresh --verify): the comparison with the snapshot
    pub verify: Option<crate::report::VerifyReport>,
}

impl RunState {
    /// The report, with what the run did in it.
    pub fn into_report(self, mut report: Report) -> Report {
        self.record(&mut report);
        report
    }

    /// Tells a failed (or interrupted) run: the report with what it did,
    /// and what it left in the target (`untouched`, when it never created
    /// the database).
    pub async fn fail(
        mut self,
        output: &Output,
        report: Report,
        error: &anyhow::Error,
        untouched: Untouched<'_>,
    ) -> u8 {
        let detail = match (&self.target, untouched) {
            (Some(outcome), _) => outcome.detail.clone(),
            (None, Untouched::NotCreated(database)) => self.left_uncreated(database),
            (None, Untouched::Said(detail)) => detail.to_string(),
        };
        let summary = self.touched();
        let report = self.into_report(report);
        output
            .fail(
                error,
                report,
                &Left {
                    detail: &detail,
                    summary,
                },
            )
            .await
    }

    /// Puts what the run did into its report.
    fn record(self, report: &mut Report) {
        if let Some(snapshot) = self.snapshot {
            report.snapshot = Some(snapshot);
        }
        report.planned = self.planned;
        report.problems = self.problems;
        report.warnings = self.warnings;
        report.mask_rules_sha256 = self.mask_rules_sha256;
        if let Some(server) = &self.server {
            report.target_kind = Some(server.kind);
            report.target_version = Some(server.describe());
        }
        report.load_method = self.load_method;
        report.rows_total = self.tables.iter().map(|table| table.rows).sum();
        report.bytes_total = self.tables.iter().map(|table| table.bytes).sum();
        report.tables = self.tables;
        if let Some(finished) = self.finished {
            report.record_finish(finished);
        }
        report.dolt_commit = self.commit;
        report.archive = self.archive;
        if let Some(outcome) = &self.target {
            report.record_target(outcome);
        }
        report.refresh = self.refresh;
        report.changes = self.changes;
        if self.verify.is_some() {
            report.verify = self.verify;
        }
    }

    /// The plan, for the report (its tables without their converters).
    pub fn record_plan(&mut self, plan: &Plan) {
        self.planned = plan.tables.iter().map(PlannedTable::from).collect();
        self.problems.clone_from(&plan.problems);
        self.warnings.clone_from(&plan.warnings);
        self.mask_rules_sha256.clone_from(&plan.mask_rules_sha256);
    }

    /// After a failure: a run that stopped before creating `database` left
    /// it not created; returns what the target was left in, for people.
    fn left_uncreated(&mut self, database: &str) -> String {
        self.target
            .get_or_insert_with(|| crate::mysql::fresh::not_created(database, false))
            .detail
            .clone()
    }

    /// The run changed the target or copied tables: its summary is shown.
    pub fn touched(&self) -> bool {
        self.target.as_ref().is_some_and(|outcome| outcome.touched) || !self.tables.is_empty()
    }
}

/// What a failed run says of a target database it never created.
#[derive(Clone, Copy)]
pub(crate) enum Untouched<'a> {
    /// this database was not created (the report says `not-created`)
    NotCreated(&'a str),
    /// no database was meant to be (dump only), or none known yet
    Said(&'a str),
}

/// Copy's flags (copy and plan take the same) resolved and logged, and the
/// report of a run of `kind` over them; `Err` holds the exit code of flags
/// that did not resolve (the error is told).
pub(crate) fn resolve_copy_flags(
    arguments: &CopyArgs,
    kind: CommandKind,
    output: &Output,
) -> Result<(Settings, Report), u8> {
    let settings = Settings::resolve(arguments).map_err(|error| output.error(&error))?;
    settings.log_effective(kind.name());
    let report = report_for(kind, &settings);
    Ok((settings, report))
}

/// The start every run that writes a report shares: the report's location
/// checked, then the private Dolt server started when the target asks for
/// one (stop it when the run is over).
pub(crate) async fn start_run(
    output: &mut Output,
    report: Option<ReportLocation>,
    path_style: bool,
    target: &mut TargetAddress,
) -> anyhow::Result<LocalDoltGuard> {
    output.resolved(report, path_style).await?;
    LocalDoltGuard::start(target).await
}

/// A run over copy's settings (copy, plan, refresh): its start
/// ([`start_run`]), then `body`, then the private Dolt server stopped.
pub(crate) async fn run_started(
    output: &mut Output,
    settings: &mut Settings,
    body: impl AsyncFnOnce(&Settings) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let (report_to, path_style) = (
        settings.target_database.report.clone(),
        settings.storage.path_style,
    );
    let local = start_run(output, report_to, path_style, &mut settings.target).await?;
    let result = body(settings).await;
    local.stop().await;
    result
}

/// A report for a run of `kind` with these settings.
fn report_for(kind: CommandKind, settings: &Settings) -> Report {
    let mut report = Report::start(kind);
    report.source.clone_from(&settings.source_display);
    report.target.clone_from(&settings.target_display);
    report.database.clone_from(&settings.database);
    report.schema.clone_from(&settings.schema_origin);
    report
}

/// The Dolt commit message when none is given: `what` was copied (or
/// restored) from which Postgres database, as of which snapshot.
#[must_use]
fn default_commit_message(what: &str, snapshot: &Snapshot) -> String {
    let lsn = snapshot
        .wal_lsn
        .as_deref()
        .map_or_else(String::new, |lsn| format!(", WAL {lsn}"));
    format!(
        "pg2dolt: {what} of Postgres database {} as of {} (snapshot {}{lsn})",
        snapshot.database, snapshot.time, snapshot.id
    )
}

/// The fresh database's whole life, as copy and restore share it: created
/// (an existing one dropped first: `--replace`), filled by `fill` (which a
/// signal stops), then settled — complete, or dropped unless
/// `--keep-failed`. `progress` learns what the target was left in.
pub(crate) async fn in_fresh_database(
    target: TargetSide,
    address: &TargetAddress,
    database: &str,
    keep_failed: bool,
    stop: &Stop,
    progress: &mut RunState,
    fill: impl AsyncFnOnce(&mut RunState) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let TargetSide {
        mut admin,
        server,
        exists,
    } = target;
    let created = FreshDatabase::create(&mut admin, address, database, server.kind, exists).await;
    let fresh = match created {
        Ok(fresh) => fresh,
        Err((error, outcome)) => {
            progress.target = Some(outcome);
            return Err(error);
        }
    };
    // A failure is settled on a connection of its own.
    let _ = admin.disconnect().await;
    let filled = stop.run(fill(progress)).await;
    progress.target = Some(fresh.settle(&filled, keep_failed).await);
    filled
}

/// The fresh database ready for its rows: the schema files applied and the
/// load route chosen (`progress` learns it). Returns a connection to it,
/// its catalog and the route.
pub(crate) async fn prepare_fill(
    target: &TargetAddress,
    database: &str,
    schema_files: &[ParsedSchemaFile],
    load_method: LoadRequest,
    server: &TargetServer,
    progress: &mut RunState,
) -> anyhow::Result<(Conn, Vec<TargetTable>, Route)> {
    let mut conn = crate::mysql::connect(target, Some(database)).await?;
    let catalog = apply_schema(&mut conn, database, schema_files).await?;
    let route = choose_route(&mut conn, load_method, server.kind, &catalog).await?;
    progress.load_method = Some(route.method);
    Ok((conn, catalog, route))
}

/// After the rows are in: foreign-key fix-ups, AUTO_INCREMENT counters,
/// and the verification that every table in `progress.tables` holds its
/// rows (and, on Dolt, its constraints).
pub(crate) async fn verify(
    conn: &mut Conn,
    server: &TargetServer,
    catalog: &[TargetTable],
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let expected: Vec<(String, String, u64)> = progress
        .tables
        .iter()
        .map(|table| (table.source.clone(), table.target.clone(), table.rows))
        .collect();
    progress.finished = Some(finish(conn, server, catalog, &expected).await?);
    Ok(())
}

/// The Dolt commit of a verified database (nothing elsewhere): `what` of
/// the Postgres database as of `snapshot`, unless `--commit-message`.
pub(crate) async fn commit(
    conn: &mut Conn,
    server: &TargetServer,
    options: &TargetDatabaseSettings,
    what: &str,
    snapshot: &Snapshot,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let mut message = options
        .commit_message
        .clone()
        .unwrap_or_else(|| default_commit_message(what, snapshot));
    // A change of rules shows in history.
    if let Some(sha256) = &progress.mask_rules_sha256 {
        message = format!("{message}\n\nmasked by rules SHA-256 {sha256}");
    }
    progress.commit =
        commit_if_dolt(conn, server, &message, &options.author, &snapshot.time).await?;
    Ok(())
}

/// Opens the target (`progress` learns the server); anything but Dolt is
/// refused with exit 2 and `refusal`, given the server's description.
pub(crate) async fn open_dolt_target(
    settings: &Settings,
    stop: &Stop,
    progress: &mut RunState,
    refusal: impl FnOnce(&str) -> String,
) -> anyhow::Result<TargetSide> {
    let target = stop
        .run(crate::preflight::open_target(
            &settings.target,
            &settings.database,
        ))
        .await?;
    progress.server = Some(target.server.clone());
    if target.server.kind != crate::mysql::TargetKind::Dolt {
        return Err(failure(
            FailureKind::Usage,
            refusal(&target.server.describe()),
        ));
    }
    Ok(target)
}

/// The refusal of an existing database without `--replace`.
pub(crate) fn exists_without_replace(database: &str) -> anyhow::Error {
    failure(
        FailureKind::Usage,
        format!(
            "target database {database} already exists; pass --replace to drop and recreate it (it was left untouched)"
        ),
    )
}

/// `--target dolt:PATH`: the private sql-server for one run, which the
/// target address then points at; stopped with [`LocalDoltGuard::stop`]
/// after the target is settled.
pub(crate) struct LocalDoltGuard(Option<LocalDolt>);

impl LocalDoltGuard {
    /// Starts the server when the target asks for one.
    pub async fn start(target: &mut TargetAddress) -> anyhow::Result<LocalDoltGuard> {
        let Some(directory) = target.local_dolt.clone() else {
            return Ok(LocalDoltGuard(None));
        };
        let server = LocalDolt::start(&directory).await?;
        target.opts = mysql_async::Opts::from_url(&server.url)
            .map_err(|error| anyhow::anyhow!("the local dolt sql-server's URL: {error}"))?;
        Ok(LocalDoltGuard(Some(server)))
    }

    /// Stops the server (it finishes what it writes).
    pub async fn stop(self) {
        if let Some(server) = self.0 {
            server.stop().await;
        }
    }
}
