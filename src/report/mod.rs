//! What a run did: the JSON report for machines (written on success and on
//! failure), with a refresh night's table types (`night.rs`); `text/`
//! renders it for people (the summary, the plan, a night's lines).

mod night;
mod text;

use std::collections::BTreeMap;

use anyhow::Context as _;
use serde::Serialize;

use crate::archive::store::{Location, MIN_PART_SIZE, Store};
use crate::clock::utc_now;
use crate::mysql::TargetKind;
use crate::mysql::load::LoadMethod;
use crate::plan::{ColumnPlan, MatchRule, Problem, TablePlan};
use crate::postgres::snapshot::Snapshot;

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// still running (never written)
    #[default]
    Running,
    /// copied, verified and (on Dolt) committed
    Succeeded,
    /// stopped by an error
    Failed,
    /// stopped by SIGINT/SIGTERM
    Interrupted,
}

/// The JSON report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    /// pg2dolt's version
    pub pg2dolt_version: String,
    /// how the run ended
    pub status: Status,
    /// the process exit code
    pub exit_code: u8,
    /// the error, one line, when the run failed
    pub error: Option<String>,
    /// start time, UTC
    pub started_at: String,
    /// end time, UTC
    pub finished_at: String,
    /// wall-clock seconds
    pub seconds: f64,
    /// source URL, password redacted
    pub source: String,
    /// target URL, password redacted
    pub target: String,
    /// target database name
    pub database: String,
    /// `dolt` or `mysql`, once known
    pub target_kind: Option<TargetKind>,
    /// target server version, once known
    pub target_version: Option<String>,
    /// the snapshot every table was read in
    pub snapshot: Option<Snapshot>,
    /// where the schema files came from
    pub schema: String,
    /// how rows were loaded (tables with binary columns may differ on Dolt:
    /// see each table's `load_method`)
    pub load_method: Option<LoadMethod>,
    /// the command: `copy`, `plan` or `restore`
    pub command: CommandKind,
    /// every table pair the plan matched, with its columns
    pub planned: Vec<PlannedTable>,
    /// everything the plan found that stops a copy (empty when it may run)
    pub problems: Vec<Problem>,
    /// what the plan found worth knowing that does not stop a copy
    pub warnings: Vec<String>,
    /// `--mask-rules`: the rules file's SHA-256 (the masked columns say
    /// their generator under `planned`)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask_rules_sha256: Option<String>,
    /// tables copied (only those whose load committed)
    pub tables: Vec<TableReport>,
    /// tables that got the foreign-key no-op delete
    pub foreign_key_fixups: Vec<String>,
    /// AUTO_INCREMENT counters set after the copy: table → next value
    pub auto_increment: BTreeMap<String, u64>,
    /// row counts verified on every table
    pub verified: bool,
    /// the Dolt commit hash (Dolt targets only)
    pub dolt_commit: Option<String>,
    /// the archive written (`--archive`)
    pub archive: Option<ArchiveReport>,
    /// total rows copied
    pub rows_total: u64,
    /// total bytes sent to the target
    pub bytes_total: u64,
    /// the target database was dropped after a failure or an interruption
    pub target_dropped: bool,
    /// what the target database holds now (absent for plan and dump-only)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_state: Option<TargetState>,
    /// the same, for people: what happened to it and what to do
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_state_detail: Option<String>,
    /// refresh: what the night did with the published branch
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<RefreshReport>,
    /// refresh: every table's change against the previous published head
    /// (Dolt's diff statistics), once the night was committed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<TableChange>>,
    /// verify (and refresh --verify): every row compared with the snapshot
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyReport>,
}

/// Every row of a branch compared with the snapshot.
#[derive(Debug, Clone, Serialize, Default)]
pub struct VerifyReport {
    /// the branch compared (a refresh's: its work branch)
    pub branch: String,
    /// no row differs
    pub equal: bool,
    /// tables compared
    pub tables_compared: usize,
    /// the tables whose rows differ: missing, extra and different rows,
    /// with up to 5 keys of each
    pub differences: Vec<TableDifference>,
}

pub use crate::settings::OnDiverged;
pub use night::{CountedChanges, SourceHistory, TableChange, TableDifference, TableNight, Verdict};

/// How a refresh ended for the published branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RefreshOutcome {
    /// the run did not get as far as publishing (or failed)
    #[default]
    NotPublished,
    /// the night was published as a new commit and tagged
    Published,
    /// the source had not changed: no new commit, the head stays
    Unchanged,
    /// a guard or the divergence held the night back (exit 7)
    HeldBack,
}

/// How a night moved the published branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BranchMove {
    /// fast-forwarded to the night's commit
    FastForward,
    /// `--on-diverged reset`: moved back to the night (or the last night)
    Reset,
    /// `--on-diverged merge`: the night merged in
    Merged,
    /// left where it was: nothing changed
    Stayed,
}

/// What a refresh did with the published branch.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshReport {
    /// the published branch
    pub branch: String,
    /// how it ended
    pub outcome: RefreshOutcome,
    /// the database did not exist: the night was a copy
    pub first_night: bool,
    /// the branch's head before the run
    pub previous_head: Option<String>,
    /// the last published commit (what `changes` compare against)
    pub base: Option<String>,
    /// the branch's head after the run
    pub head: Option<String>,
    /// the night's new commit on the branch (none when nothing changed)
    pub new_commit: Option<String>,
    /// the night's tag
    pub tag: Option<String>,
    /// the branch had been written to since the last refresh
    pub diverged: bool,
    /// how, for people
    pub divergence: Option<String>,
    /// what --on-diverged asked for
    pub on_diverged: OnDiverged,
    /// the old head's tag, when reset moved the branch away from it
    pub previous_head_tag: Option<String>,
    /// what the night did to the published branch: `fast-forward` (to
    /// the night's commit), `reset`, `merged` or `stayed`; none when it
    /// did not publish
    pub moved: Option<BranchMove>,
    /// the head it moved from
    pub moved_from: Option<String>,
    /// the work branch, when it was kept (held back, --keep-failed, or
    /// with the tables a failed night finished, for the next to continue)
    pub work_branch: Option<String>,
    /// schema files applied this night
    pub schema_files_applied: Vec<String>,
    /// why the night was held back
    pub held_back: Option<String>,
    /// whether the source's history since the last published night is
    /// continuous (`verdict`: continuous, broken or unproven; `reason`;
    /// `trusted`): a broken or unproven one reloads every table
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_history: Option<SourceHistory>,
}

impl RefreshReport {
    /// A refresh of `branch` that has not published yet.
    #[must_use]
    pub fn new(branch: &str, on_diverged: OnDiverged) -> RefreshReport {
        RefreshReport {
            branch: branch.to_string(),
            outcome: RefreshOutcome::NotPublished,
            first_night: false,
            previous_head: None,
            base: None,
            head: None,
            new_commit: None,
            tag: None,
            diverged: false,
            divergence: None,
            on_diverged,
            previous_head_tag: None,
            moved: None,
            moved_from: None,
            work_branch: None,
            schema_files_applied: Vec::new(),
            held_back: None,
            source_history: None,
        }
    }
}

pub use crate::archive::writer::ArchiveReport;
pub use crate::mysql::fresh::{TargetOutcome, TargetState};

/// The command a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CommandKind {
    /// `pg2dolt copy`
    #[default]
    Copy,
    /// `pg2dolt plan`
    Plan,
    /// `pg2dolt restore`
    Restore,
    /// `pg2dolt refresh`
    Refresh,
    /// `pg2dolt verify`
    Verify,
}

impl CommandKind {
    /// The command's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            CommandKind::Copy => "copy",
            CommandKind::Plan => "plan",
            CommandKind::Restore => "restore",
            CommandKind::Refresh => "refresh",
            CommandKind::Verify => "verify",
        }
    }
}

/// One copied table.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    /// `schema.table` in the source
    pub source: String,
    /// target table
    pub target: String,
    /// the rule that matched the names
    pub rule: MatchRule,
    /// rows read from the snapshot, loaded and counted on the target
    pub rows: u64,
    /// bytes of converted data sent to the target
    pub bytes: u64,
    /// seconds spent copying the table
    pub seconds: f64,
    /// how the rows were loaded (LOAD DATA or INSERT)
    pub load_method: LoadMethod,
    /// load transactions: 1, or the ranges a large table was split into
    pub chunks: usize,
    /// how each column was matched and typed
    pub columns: Vec<ColumnPlan>,
    /// target generated columns (computed by the target)
    pub skipped_generated: Vec<String>,
    /// refresh: how the night loaded the table (`method`, `reason`,
    /// `rows_examined`, `rows_upserted`, `rows_deleted`)
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub night: Option<TableNight>,
}

impl TableReport {
    /// This table is `plan`'s.
    #[must_use]
    pub fn is(&self, plan: &TablePlan) -> bool {
        self.source == plan.source_name && self.target == plan.target.name
    }
}

/// One table pair the plan matched.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedTable {
    /// `schema.table` in the source
    pub source: String,
    /// target table
    pub target: String,
    /// the rule that matched the names
    pub rule: MatchRule,
    /// the planner's row estimate
    pub estimated_rows: i64,
    /// the columns copied
    pub columns: Vec<ColumnPlan>,
    /// target generated columns (computed by the target)
    pub skipped_generated: Vec<String>,
}

impl From<&TablePlan> for PlannedTable {
    fn from(plan: &TablePlan) -> PlannedTable {
        PlannedTable {
            source: plan.source_name.clone(),
            target: plan.target.name.clone(),
            rule: plan.rule,
            estimated_rows: plan.source.estimated_rows,
            columns: plan.columns.clone(),
            skipped_generated: plan.skipped_generated.clone(),
        }
    }
}

impl Report {
    /// A report for a run of `command` starting now.
    #[must_use]
    pub fn start(command: CommandKind) -> Report {
        Report {
            pg2dolt_version: env!("CARGO_PKG_VERSION").to_string(),
            command,
            started_at: utc_now(),
            ..Report::default()
        }
    }

    /// Records what [`crate::mysql::completion::complete`] did: the copy
    /// is verified.
    pub fn record_completion(&mut self, completed: crate::mysql::completion::Completion) {
        self.foreign_key_fixups = completed.foreign_key_fixups;
        self.auto_increment = completed.auto_increment;
        self.verified = true;
    }

    /// Records the state the run left the target database in.
    pub fn record_target(&mut self, outcome: &TargetOutcome) {
        self.target_dropped = outcome.state == TargetState::Dropped;
        self.target_state = Some(outcome.state);
        self.target_state_detail = Some(outcome.detail.clone());
    }

    /// Checks a report location before the run (a missing bucket or
    /// refused credentials must not surface only after hours of copying).
    pub async fn check_location(location: &Location, s3_path_style: bool) -> anyhow::Result<()> {
        Store::open(location, s3_path_style, MIN_PART_SIZE).await?;
        Ok(())
    }

    /// Writes the report as JSON (secrets scrubbed) to a file or S3.
    pub async fn write(
        &self,
        location: &Location,
        name: &str,
        s3_path_style: bool,
    ) -> anyhow::Result<()> {
        let json = serde_json::to_string_pretty(self).context("encoding the report")?;
        let json = crate::redact::redact(&json) + "\n";
        let store = Store::open(location, s3_path_style, MIN_PART_SIZE)
            .await
            .with_context(|| format!("writing the report to {location}{name}"))?;
        store
            .put(name, json.into_bytes())
            .await
            .with_context(|| format!("writing the report to {location}{name}"))
    }
}
