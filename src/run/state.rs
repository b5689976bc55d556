//! What a run got done, phase by phase (`RunState`), and how it ended
//! (`Outcome`): only a command's phase list records into it, from what
//! each phase returns; a failure carries it (`Failed`), so the report
//! tells how far the run got however it ended.

use crate::archive::writer::ArchiveReport;
use crate::copy::phase::Completed;
use crate::mysql::TargetServer;
use crate::mysql::completion::Completion;
use crate::mysql::fresh::{FreshDatabase, TargetOutcome};
use crate::mysql::load::LoadMethod;
use crate::nightly::marks::BranchState;
use crate::nightly::night::NightEnd;
use crate::plan::{Plan, Problem};
use crate::postgres::snapshot::Snapshot;
use crate::report::TableChange;
use crate::report::{
    PlannedTable, RefreshOutcome, RefreshReport, Report, TableReport, VerifyReport,
};

/// How a run's phases ended: what they got done, or the error and what
/// they got done before it.
pub type Outcome = Result<RunState, Failed>;

/// A failed (or interrupted) run: the error, and how far it got.
pub struct Failed {
    /// what stopped the run
    pub error: anyhow::Error,
    /// what the run got done before (boxed: a failure is rare and the
    /// state is large)
    pub state: Box<RunState>,
}

impl From<anyhow::Error> for Failed {
    fn from(error: anyhow::Error) -> Failed {
        Failed {
            error,
            state: Box::default(),
        }
    }
}

/// What a failed run says of the target database when it recorded no
/// outcome for it.
#[derive(Clone, Debug)]
pub enum Untouched {
    /// the run would have created this database: it was not created (the
    /// report says `not-created`)
    NotCreated(String),
    /// no database was meant to be created, or none was reached: why
    /// (dump only, a refresh before its work branch, a comparison)
    Because(&'static str),
}

impl Default for Untouched {
    /// A run that failed before it reached the target.
    fn default() -> Untouched {
        Untouched::Because("the target was not touched")
    }
}

/// What a run got done, phase by phase; the report is assembled from it.
#[derive(Default)]
pub struct RunState {
    /// the snapshot read (copy), or archived (restore)
    pub snapshot: Option<Snapshot>,
    /// restore: the archived copy's source, known once the archive is read
    pub source: Option<String>,
    /// restore: the target database, known once the archive is read
    pub database: Option<String>,
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
    pub completed: Option<Completion>,
    /// the Dolt commit hash
    pub commit: Option<String>,
    /// the archive written
    pub archive: Option<ArchiveReport>,
    /// what the target database was left in
    pub target: Option<TargetOutcome>,
    /// what to say of the target when `target` is unknown
    pub untouched: Untouched,
    /// refresh: what the night did with the published branch
    pub refresh: Option<RefreshReport>,
    /// refresh: each table's change against the last published commit
    pub changes: Option<Vec<TableChange>>,
    /// verify (and refresh --verify): the comparison with the snapshot
    pub verify: Option<VerifyReport>,
}

impl RunState {
    /// A run that says `untouched` of the target when it fails before
    /// recording what it left there.
    #[must_use]
    pub fn new(untouched: Untouched) -> RunState {
        RunState {
            untouched,
            ..RunState::default()
        }
    }

    /// The outcome of phases that ended with `result`.
    pub fn ended(self, result: anyhow::Result<()>) -> Outcome {
        match result {
            Ok(()) => Ok(self),
            Err(error) => Err(Failed {
                error,
                state: Box::new(self),
            }),
        }
    }

    /// The plan, for the report (its tables without their converters).
    pub fn record_plan(&mut self, plan: &Plan) {
        self.planned = plan.tables.iter().map(PlannedTable::from).collect();
        self.problems.clone_from(&plan.problems);
        self.warnings.clone_from(&plan.warnings);
        self.mask_rules_sha256.clone_from(&plan.mask_rules_sha256);
    }

    /// What the target was left in, for people: the outcome recorded, else
    /// what `untouched` says (a database never created is recorded so).
    pub fn left_detail(&mut self) -> String {
        if let Some(outcome) = &self.target {
            return outcome.detail.clone();
        }
        match &self.untouched {
            Untouched::NotCreated(database) => {
                let outcome = crate::mysql::fresh::not_created(database, false);
                let detail = outcome.detail.clone();
                self.target = Some(outcome);
                detail
            }
            Untouched::Because(detail) => (*detail).to_string(),
        }
    }

    /// The fresh database `created`, or the error with what the target
    /// was left in recorded.
    pub fn created(
        &mut self,
        created: Result<FreshDatabase, (anyhow::Error, TargetOutcome)>,
    ) -> anyhow::Result<FreshDatabase> {
        created.map_err(|(error, outcome)| {
            self.target = Some(outcome);
            error
        })
    }

    /// A fill completed (`copy::phase::complete`).
    pub fn record_completed(&mut self, completed: Completed) {
        self.completed = Some(completed.completion);
        if completed.archive.is_some() {
            self.archive = completed.archive;
        }
    }

    /// How a refresh night ended for the published branch.
    pub fn record_night(&mut self, end: NightEnd) {
        if let Some(refresh) = self.refresh.as_mut() {
            match end.outcome {
                RefreshOutcome::NotPublished => {}
                RefreshOutcome::HeldBack => {
                    refresh.outcome = end.outcome;
                    refresh.head.clone_from(&refresh.previous_head);
                }
                _ => {
                    refresh.outcome = end.outcome;
                    refresh.head.clone_from(&end.head);
                    refresh.new_commit = end.new_commit;
                    refresh.tag = end.tag;
                }
            }
            if end.previous_head_tag.is_some() {
                refresh.previous_head_tag = end.previous_head_tag;
            }
            if let Some((how, from)) = end.moved {
                refresh.moved = Some(how);
                refresh.moved_from = Some(from);
            }
            if end.work_branch.is_some() {
                refresh.work_branch = end.work_branch;
                refresh.held_back = end.held_back;
            }
        }
        if matches!(
            end.outcome,
            RefreshOutcome::Published | RefreshOutcome::Unchanged
        ) {
            self.commit = end.head;
        }
        if end.target.is_some() {
            self.target = end.target;
        }
        if end.changes.is_some() {
            self.changes = end.changes;
        }
    }

    /// The published branch as the night found it.
    pub fn record_branch(&mut self, state: &BranchState) {
        if let Some(refresh) = self.refresh.as_mut() {
            refresh.previous_head = Some(state.head.clone());
            refresh.base = Some(state.base.clone());
            refresh.diverged = state.diverged();
            refresh.divergence = state.diverged().then(|| state.divergence());
        }
    }

    /// The run changed the target or copied tables: its summary is shown.
    #[must_use]
    pub fn show_summary(&self) -> bool {
        self.target
            .as_ref()
            .is_some_and(|outcome| outcome.show_summary)
            || !self.tables.is_empty()
    }

    /// Puts what the run did into its report.
    pub fn record(self, report: &mut Report) {
        if let Some(snapshot) = self.snapshot {
            report.snapshot = Some(snapshot);
        }
        if let Some(source) = self.source {
            report.source = source;
        }
        if let Some(database) = self.database {
            report.database = database;
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
        if let Some(completed) = self.completed {
            report.record_completion(completed);
        }
        report.dolt_commit = self.commit;
        report.archive = self.archive;
        if let Some(outcome) = &self.target {
            report.record_target(outcome);
        }
        report.refresh = self.refresh;
        report.changes = self.changes;
        report.verify = self.verify;
    }
}
