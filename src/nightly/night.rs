//! One refresh night's inputs (`Night`), the tag it leaves on what it
//! publishes (`NightTag`), and how it ended for the published branch
//! (`NightEnd`), which the refresh command records in its report.

use std::collections::BTreeMap;

use anyhow::Context as _;
use mysql_async::Conn;
use tracing::{info, warn};

use super::decision::{self, Decision};
use super::deletes::ranges::KeyRanges;
use super::delta::Method;
use super::delta::NightFacts;
use super::marks::{night_tag, tag_message};
use super::state::NightState;
use crate::archive::writer::ArchiveRun;
use crate::fill::{CommitMessage, Fill};
use crate::mysql::fresh::TargetOutcome;
use crate::mysql::records::schema_files;
use crate::mysql::schema::ParsedSchemaFile;
use crate::plan::TablePlan;
use crate::preflight::SourceSide;
use crate::report::{RefreshOutcome, TableChange, TableReport, Verdict};
use crate::settings::{RefreshSettings, Settings};

/// One night's inputs.
pub struct Night<'a> {
    /// copy's settings
    pub settings: &'a Settings,
    /// refresh's own
    pub options: &'a RefreshSettings,
    /// the source, inside the night's snapshot
    pub source: &'a SourceSide,
    /// `--archive`, started
    pub archive: Option<&'a ArchiveRun>,
}

impl Night<'_> {
    /// The published branch.
    #[must_use]
    pub fn branch(&self) -> &str {
        &self.options.branch.name
    }

    /// The night's tag, carrying `state` (the state recorded with its
    /// commit) for the next night.
    #[must_use]
    pub fn tag(&self, state: Option<&NightState>) -> NightTag {
        let snapshot = &self.source.snapshot;
        NightTag {
            name: night_tag(&self.options.branch.tag_prefix, &snapshot.time),
            message: tag_message(snapshot, state),
        }
    }

    /// How each table is loaded this night: from the state recorded with
    /// the last published commit (`base`), unless the night must load
    /// everything. `work` is a session on the work branch.
    pub async fn decide(
        &self,
        work: &mut Conn,
        plans: &[TablePlan],
        base: &str,
        schema_changed: bool,
    ) -> anyhow::Result<Decision> {
        let coordinator = &self.source.coordinator;
        if self.archive.is_some() {
            let identities = decision::read_identities(coordinator, plans).await?;
            let reason = "--archive keeps every row of the night";
            return Ok(Decision::all_full(plans, reason, identities));
        }
        let prefix = &self.options.branch.tag_prefix;
        let previous = decision::recorded_at(work, base, prefix).await?;
        let facts = NightFacts {
            previous: previous.as_ref(),
            snapshot: &self.source.snapshot,
            full_requested: self.options.full,
            schema_changed,
            trust_unproven_history: self.options.trust_source_history,
        };
        let mut decision = decision::decide(coordinator, work, plans, &facts).await?;
        decision.base = Some(base.to_string());
        decision.progress = decision::header(&self.source.snapshot);
        // Said once a night, not once a table.
        if let Some(history) = &decision.source_history {
            let reason = history.reason.as_deref().unwrap_or("");
            match (history.verdict, history.trusted) {
                (Verdict::Broken, _) => warn!(
                    reason,
                    "the source's history is not continuous since the last published night: every table is reloaded"
                ),
                (Verdict::Unproven, false) => warn!(
                    reason,
                    "the source's history since the last published night cannot be proven continuous: every table is reloaded"
                ),
                (Verdict::Unproven, true) => warn!(
                    reason,
                    "the source's history since the last published night cannot be proven continuous: deltas taken anyway (--trust-source-history)"
                ),
                (Verdict::Continuous, _) => {}
            }
        }
        for (plan, method) in plans.iter().zip(&decision.methods) {
            info!(table = %plan.label(), method = method.name(), reason = method.reason().unwrap_or(""), "load method");
        }
        Ok(decision)
    }

    /// The schema files the work branch (`work`) still needs, in order;
    /// `None` when nothing was recorded there yet (a database made by
    /// `copy`, adopted: nothing is applied, every file is recorded).
    pub async fn schema_to_apply(
        &self,
        work: &str,
    ) -> anyhow::Result<Option<Vec<ParsedSchemaFile>>> {
        let settings = self.settings;
        let mut conn = crate::mysql::connect(&settings.target, Some(work)).await?;
        let applied = schema_files::applied(&mut conn, work).await?;
        let _ = conn.disconnect().await;
        if applied.is_none() {
            return Ok(None);
        }
        let pending = schema_files::pending(&settings.schema_files, applied.as_ref())?;
        for file in &pending {
            info!(file = %file.name, "applying a schema file added since the last refresh");
        }
        Ok(Some(pending.into_iter().cloned().collect()))
    }

    /// The night's Dolt commit on `fill`'s branch, with the state recorded
    /// for the next night in its tag (`tables`: what each table holds,
    /// `key_ranges`: how, per key range); none when nothing changed since
    /// the branch's head.
    pub async fn commit(
        &self,
        fill: &mut Fill,
        plans: &[TablePlan],
        decision: &Decision,
        (tables, key_ranges): (&[TableReport], &BTreeMap<String, KeyRanges>),
    ) -> anyhow::Result<Option<NightCommit>> {
        // What the night had loaded so far is no one's data.
        super::progress::finish(&mut fill.conn).await?;
        if !crate::dolt::refs::has_changes(&mut fill.conn).await? {
            info!("no change since the last refresh");
            return Ok(None);
        }
        let message = CommitMessage::of_run(self.settings, "refresh", &self.source.snapshot);
        let hash = fill.commit_night(&message).await?;
        let rows: BTreeMap<String, u64> = tables
            .iter()
            .map(|table| (table.target.clone(), table.rows))
            .collect();
        let snapshot = &self.source.snapshot;
        let identities = &decision.identities;
        let recorded = (&rows, key_ranges);
        let state = decision::record(&mut fill.conn, snapshot, plans, identities, recorded).await?;
        Ok(Some(NightCommit {
            hash,
            tag: self.tag(state.as_ref()),
        }))
    }
}

/// Before the load (`conn` on the work branch): the tables `decision`
/// loads in full emptied, and the delta tables' rows their upserts would
/// collide on cleared (`decision::clear_first`).
pub async fn prepare_tables(
    conn: &mut Conn,
    sides: &super::deletes::Sides<'_>,
    plans: &[TablePlan],
    decision: &mut Decision,
) -> anyhow::Result<()> {
    empty_full_tables(conn, plans, decision).await?;
    super::decision::clear_first(conn, sides, plans, decision).await
}

/// Empties every table `decision` loads in full (on the work branch).
async fn empty_full_tables(
    conn: &mut Conn,
    plans: &[TablePlan],
    decision: &Decision,
) -> anyhow::Result<()> {
    let tables: Vec<&str> = plans
        .iter()
        .zip(&decision.methods)
        .filter(|(_, method)| matches!(method, Method::Full { .. }))
        .map(|(plan, _)| plan.target.name.as_str())
        .collect();
    crate::mysql::empty_tables(conn, &tables)
        .await
        .context("on the work branch")
}

/// The tag of a night's commit.
#[derive(Debug, Clone)]
pub struct NightTag {
    /// `PREFIX<snapshot time>`
    pub name: String,
    /// the snapshot, and the state the next night starts from
    pub message: String,
}

/// A night's commit on its branch, and its tag.
#[derive(Debug, Clone)]
pub struct NightCommit {
    /// the commit
    pub hash: String,
    /// its tag, made when it is published
    pub tag: NightTag,
}

/// How a night ended for the published branch.
#[derive(Debug, Default)]
pub struct NightEnd {
    /// published, unchanged, held back, or not published
    pub outcome: RefreshOutcome,
    /// the branch's head afterwards
    pub head: Option<String>,
    /// the night's new commit there (none when nothing changed)
    pub new_commit: Option<String>,
    /// the night's tag
    pub tag: Option<String>,
    /// `--on-diverged reset`: the tag kept on the head moved away from
    pub previous_head_tag: Option<String>,
    /// how the published branch moved, and from which head
    pub moved: Option<(crate::report::BranchMove, String)>,
    /// held back: the work branch kept for a look
    pub work_branch: Option<String>,
    /// held back: why
    pub held_back: Option<String>,
    /// what the target database was left in
    pub target: Option<TargetOutcome>,
    /// each table's change against the last published commit
    pub changes: Option<Vec<TableChange>>,
}

/// A night that failed: the error, and how it ended for the branch.
pub struct NightFailed {
    /// what stopped it
    pub error: anyhow::Error,
    /// what it left
    pub end: NightEnd,
}
