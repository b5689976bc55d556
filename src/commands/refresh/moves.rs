//! The publish of a later night: one ref update of the published branch —
//! a fast-forward, or what `--on-diverged` says when someone wrote to it
//! since the last refresh — the night's tag made first.

use anyhow::Context as _;
use mysql_async::Conn;
use tracing::{info, warn};

use super::Night;
use crate::commands::RunState;
use crate::error::{FailureKind, failure};
use crate::mysql::fresh::{TargetOutcome, TargetState};
use crate::mysql::published::{self, BranchState, CommitMeta, Merged, OnDiverged};
use crate::report::RefreshOutcome;

/// Where a publish moved the branch: its head, and the night's new commit
/// there (none when the source did not change).
type Moved = (String, Option<String>);

/// The publish of a night: one ref update of the published branch.
pub(super) struct Publishing<'a> {
    /// a session on the database
    pub conn: &'a mut Conn,
    /// a session on the published branch
    pub on_branch: &'a mut Conn,
    pub night: &'a Night<'a>,
    pub state: &'a BranchState,
    /// the work branch
    pub work: &'a str,
    /// the commits' date: the snapshot's
    pub date: String,
}

impl Publishing<'_> {
    /// Publishes `night_commit` (`None`: the source did not change) as
    /// `--on-diverged` says when the branch moved since the last refresh.
    pub(super) async fn publish(
        &mut self,
        night_commit: Option<&str>,
        progress: &mut RunState,
    ) -> anyhow::Result<()> {
        let (head, published) = if self.state.diverged() {
            match self.night.options.on_diverged {
                OnDiverged::Fail => {
                    return Err(failure(
                        FailureKind::HeldBack,
                        format!(
                            "the published branch {} was written to since the last refresh ({}); --on-diverged reset or merge publishes anyway",
                            self.night.branch(),
                            self.state.divergence()
                        ),
                    ));
                }
                OnDiverged::Reset => self.reset(night_commit, progress).await?,
                OnDiverged::Merge => self.merge(night_commit).await?,
            }
        } else {
            self.fast_forward(night_commit).await?
        };
        let outcome = if head == self.state.head {
            RefreshOutcome::Unchanged
        } else {
            RefreshOutcome::Published
        };
        info!(branch = self.night.branch(), %head, outcome = ?outcome, "refresh published");
        progress.commit = Some(head.clone());
        progress.target = Some(TargetOutcome {
            state: TargetState::Complete,
            detail: match outcome {
                RefreshOutcome::Unchanged => format!(
                    "no change since the last refresh: the published branch {} stays at {head}",
                    self.night.branch()
                ),
                _ => format!(
                    "the published branch {} is at {head}, the night's commit",
                    self.night.branch()
                ),
            },
            touched: outcome != RefreshOutcome::Unchanged,
        });
        if let Some(refresh) = progress.refresh.as_mut() {
            refresh.outcome = outcome;
            refresh.head = Some(head);
            refresh.new_commit.clone_from(&published);
            refresh.tag = published.map(|_| self.night.tag());
        }
        Ok(())
    }

    /// The branch did not move: fast-forwarded to the night (tagged
    /// first: a kill between the two leaves a tag off the branch, never an
    /// untagged night on it).
    async fn fast_forward(&mut self, night_commit: Option<&str>) -> anyhow::Result<Moved> {
        let Some(hash) = night_commit else {
            return Ok((self.state.head.clone(), None));
        };
        self.tag_night(hash).await?;
        if !published::fast_forward(self.on_branch, self.work).await? {
            return Err(failure(
                FailureKind::HeldBack,
                format!(
                    "the published branch {} was written to during the refresh: it cannot be fast-forwarded",
                    self.night.branch()
                ),
            ));
        }
        Ok((hash.to_string(), Some(hash.to_string())))
    }

    /// `--on-diverged reset`: someone's uncommitted changes committed, the
    /// old head tagged, then the branch moved to the night (the last
    /// published commit when nothing changed).
    async fn reset(
        &mut self,
        night_commit: Option<&str>,
        progress: &mut RunState,
    ) -> anyhow::Result<Moved> {
        self.keep_uncommitted().await?;
        let head = published::branch_head(self.conn, self.night.branch())
            .await?
            .context("the published branch is gone")?;
        let kept = format!(
            "{}before-reset/{}",
            self.night.options.branch.tag_prefix,
            published::compact_time(&self.night.source.snapshot.time)
        );
        let message = format!(
            "pg2dolt refresh: the head of {} before it was reset to the night",
            self.night.branch()
        );
        published::tag(self.conn, &kept, &head, &message).await?;
        if let Some(refresh) = progress.refresh.as_mut() {
            refresh.previous_head_tag = Some(kept);
        }
        if let Some(hash) = night_commit {
            self.tag_night(hash).await?;
        }
        let to = night_commit.unwrap_or(&self.state.base);
        published::reset_hard(self.on_branch, to).await?;
        Ok((to.to_string(), night_commit.map(str::to_string)))
    }

    /// `--on-diverged merge`: someone's uncommitted changes committed, then
    /// the night merged into the branch with a merge commit (tagged as the
    /// night); a conflict changes nothing (exit 7).
    async fn merge(&mut self, night_commit: Option<&str>) -> anyhow::Result<Moved> {
        let Some(_) = night_commit else {
            return Ok((self.state.head.clone(), None));
        };
        let kept = self.keep_uncommitted().await?;
        let message = format!(
            "pg2dolt refresh: merge of the night of {} into {}",
            self.night.source.snapshot.time,
            self.night.branch()
        );
        let meta = commit_meta(self.night, &self.date, &message);
        match published::merge(self.on_branch, self.work, &meta).await? {
            Merged::Commit(hash) => {
                self.tag_night(&hash).await?;
                Ok((hash.clone(), Some(hash)))
            }
            Merged::Conflicts(tables) => {
                // Back to the branch as it was: its changes uncommitted again.
                if let Some(head) = kept {
                    published::reset_soft(self.on_branch, &head).await?;
                }
                let listed: Vec<String> = tables
                    .iter()
                    .map(|(table, count)| format!("{table} ({count})"))
                    .collect();
                Err(failure(
                    FailureKind::HeldBack,
                    format!(
                        "merging the night into {} conflicts on {}",
                        self.night.branch(),
                        listed.join(", ")
                    ),
                ))
            }
        }
    }

    /// Commits uncommitted changes on the published branch before it
    /// moves, so nothing of theirs is lost; returns the head they were
    /// committed on, if there were any.
    async fn keep_uncommitted(&mut self) -> anyhow::Result<Option<String>> {
        if !self.state.dirty {
            return Ok(None);
        }
        let message = format!(
            "pg2dolt refresh: changes left uncommitted on {}, kept before the night of {}",
            self.night.branch(),
            self.night.source.snapshot.time
        );
        let meta = commit_meta(self.night, &self.date, &message);
        let hash = published::commit_pending(self.on_branch, &meta).await?;
        warn!(%hash, branch = self.night.branch(), "uncommitted changes on the published branch committed");
        Ok(Some(self.state.head.clone()))
    }

    async fn tag_night(&mut self, hash: &str) -> anyhow::Result<()> {
        let tag = self.night.tag();
        published::tag(self.conn, &tag, hash, &self.night.tag_message()).await
    }
}

/// A commit pg2dolt makes on the published branch: the run's author,
/// dated at the snapshot.
fn commit_meta<'m>(night: &'m Night<'m>, date: &'m str, message: &'m str) -> CommitMeta<'m> {
    CommitMeta {
        message,
        author: &night.settings.target_database.author,
        date,
    }
}
