//! The publish of a later night: one ref update of the published branch —
//! a fast-forward, or what `--on-diverged` says when someone wrote to it
//! since the last refresh — the night's tag made first. Returns how the
//! night ended (`NightEnd`).

use anyhow::Context as _;
use mysql_async::Conn;
use tracing::{info, warn};

use super::marks::BranchState;
use super::night::{Night, NightCommit, NightEnd};
use crate::dolt::moves::{self, CommitMeta, Merged};
use crate::dolt::refs;
use crate::error::{FailureKind, failure};
use crate::mysql::fresh::{TargetOutcome, TargetState};
use crate::report::{BranchMove, RefreshOutcome};
use crate::settings::OnDiverged;

/// Where a publish moved the branch.
struct Moved {
    /// the branch's head
    head: String,
    /// the night's new commit there (none when the source did not change)
    published: Option<String>,
    /// how it moved, and the head it moved from
    how: BranchMove,
    from: String,
}

/// The publish of a night: one ref update of the published branch.
pub struct Publishing<'a> {
    /// a session on the database
    pub conn: &'a mut Conn,
    /// a session on the published branch
    pub on_branch: &'a mut Conn,
    /// the night
    pub night: &'a Night<'a>,
    /// the branch as the night found it
    pub state: &'a BranchState,
    /// the work branch
    pub work: &'a str,
}

impl Publishing<'_> {
    /// Publishes `commit` (`None`: the source did not change) as
    /// `--on-diverged` says when the branch moved since the last refresh.
    pub async fn publish(&mut self, commit: Option<&NightCommit>) -> anyhow::Result<NightEnd> {
        let mut previous_head_tag = None;
        let moved = if self.state.diverged() {
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
                OnDiverged::Reset => {
                    let (moved, kept) = self.reset(commit).await?;
                    previous_head_tag = Some(kept);
                    moved
                }
                OnDiverged::Merge => self.merge(commit).await?,
            }
        } else {
            self.fast_forward(commit).await?
        };
        let Moved {
            head,
            published,
            how,
            from,
        } = moved;
        let outcome = if head == from {
            RefreshOutcome::Unchanged
        } else {
            RefreshOutcome::Published
        };
        let detail = said(
            self.night.branch(),
            (&head, published.is_some()),
            (how, &from),
            previous_head_tag.as_deref(),
        );
        info!(branch = self.night.branch(), %head, outcome = ?outcome, moved = ?how, %from, "{detail}");
        Ok(NightEnd {
            moved: Some((how, from)),
            outcome,
            tag: published
                .as_ref()
                .and(commit)
                .map(|commit| commit.tag.name.clone()),
            new_commit: published,
            head: Some(head),
            previous_head_tag,
            target: Some(TargetOutcome {
                state: TargetState::Complete,
                detail,
                show_summary: outcome != RefreshOutcome::Unchanged || how != BranchMove::Stayed,
            }),
            ..NightEnd::default()
        })
    }

    /// The branch did not move: fast-forwarded to the night (tagged
    /// first: a kill between the two leaves a tag off the branch, never an
    /// untagged night on it).
    async fn fast_forward(&mut self, commit: Option<&NightCommit>) -> anyhow::Result<Moved> {
        let Some(commit) = commit else {
            return Ok(self.stays());
        };
        self.tag_night(commit, &commit.hash).await?;
        if !moves::fast_forward(self.on_branch, self.work).await? {
            return Err(failure(
                FailureKind::HeldBack,
                format!(
                    "the published branch {} was written to during the refresh: it cannot be fast-forwarded",
                    self.night.branch()
                ),
            ));
        }
        Ok(Moved {
            head: commit.hash.clone(),
            published: Some(commit.hash.clone()),
            how: BranchMove::FastForward,
            from: self.state.head.clone(),
        })
    }

    /// The branch stays where it is.
    fn stays(&self) -> Moved {
        Moved {
            head: self.state.head.clone(),
            published: None,
            how: BranchMove::Stayed,
            from: self.state.head.clone(),
        }
    }

    /// `--on-diverged reset`: someone's uncommitted changes committed, the
    /// old head tagged (the tag returned), then the branch moved to the
    /// night (the last published commit when nothing changed).
    async fn reset(&mut self, commit: Option<&NightCommit>) -> anyhow::Result<(Moved, String)> {
        self.keep_uncommitted().await?;
        let head = refs::branch_head(self.conn, self.night.branch())
            .await?
            .context("the published branch is gone")?;
        let kept = format!(
            "{}before-reset/{}",
            self.night.options.branch.tag_prefix,
            self.night.source.snapshot.time.compact()
        );
        let message = format!(
            "pg2dolt refresh: the head of {} before it was reset to the night",
            self.night.branch()
        );
        refs::tag(self.conn, &kept, &head, &message).await?;
        if let Some(commit) = commit {
            self.tag_night(commit, &commit.hash).await?;
        }
        let to = commit.map_or(self.state.base.as_str(), |commit| commit.hash.as_str());
        moves::reset_hard(self.on_branch, to).await?;
        let moved = Moved {
            head: to.to_string(),
            published: commit.map(|commit| commit.hash.clone()),
            how: BranchMove::Reset,
            from: head,
        };
        Ok((moved, kept))
    }

    /// `--on-diverged merge`: someone's uncommitted changes committed, then
    /// the night merged into the branch with a merge commit (tagged as the
    /// night); a conflict changes nothing (exit 7).
    async fn merge(&mut self, commit: Option<&NightCommit>) -> anyhow::Result<Moved> {
        let Some(commit) = commit else {
            return Ok(self.stays());
        };
        let kept = self.keep_uncommitted().await?;
        let from = refs::branch_head(self.conn, self.night.branch())
            .await?
            .context("the published branch is gone")?;
        let message = format!(
            "pg2dolt refresh: merge of the night of {} into {}",
            self.night.source.snapshot.time,
            self.night.branch()
        );
        let date = self.date();
        let meta = commit_meta(self.night, &date, &message);
        match moves::merge(self.on_branch, self.work, &meta).await? {
            Merged::Commit(hash) => {
                self.tag_night(commit, &hash).await?;
                Ok(Moved {
                    head: hash.clone(),
                    published: Some(hash),
                    how: BranchMove::Merged,
                    from,
                })
            }
            Merged::Conflicts(tables) => {
                // Back to the branch as it was: its changes uncommitted again.
                if let Some(head) = kept {
                    moves::reset_soft(self.on_branch, &head).await?;
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
        let date = self.date();
        let meta = commit_meta(self.night, &date, &message);
        let hash = moves::commit_pending(self.on_branch, &meta).await?;
        warn!(%hash, branch = self.night.branch(), "uncommitted changes on the published branch committed");
        Ok(Some(self.state.head.clone()))
    }

    /// The night's tag on `hash` (its commit, or the merge of it).
    async fn tag_night(&mut self, commit: &NightCommit, hash: &str) -> anyhow::Result<()> {
        refs::tag(self.conn, &commit.tag.name, hash, &commit.tag.message).await
    }

    /// The date of commits made on the branch: the snapshot's.
    fn date(&self) -> String {
        self.night.source.snapshot.time.commit_date()
    }
}

/// What a publish did to `branch` (now at `head`, a new commit of the
/// night's or not), moved `how` from `from` (`kept`: the tag a reset left
/// on it), for people: the summary's `target:` line and the log.
fn said(
    branch: &str,
    (head, new): (&str, bool),
    (how, from): (BranchMove, &str),
    kept: Option<&str>,
) -> String {
    match how {
        BranchMove::Stayed => format!(
            "no change since the last refresh: the published branch {branch} stays at {head}"
        ),
        BranchMove::FastForward => {
            format!("the published branch {branch} is at {head}, the night's commit")
        }
        BranchMove::Reset => {
            let to = if new {
                "the night's commit"
            } else {
                "the last published night (the source did not change)"
            };
            format!(
                "the published branch {branch} was reset from {from} (tag {}) to {head}, {to}: the writes made on it since the last refresh are undone there",
                kept.unwrap_or("none")
            )
        }
        BranchMove::Merged => format!(
            "the night was merged into the published branch {branch}, keeping the writes made on it since the last refresh: it is at {head} (it was at {from})"
        ),
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
