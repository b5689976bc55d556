//! The flags of refresh, rollback and history, resolved: the published
//! branch, its tags, and what a refresh may publish.

use super::check_database_name;
use super::connections::resolve_target;
use crate::cli::{BranchArgs, OnDivergedArg, PublishedArgs, RefreshArgs};
use crate::error::{FailureKind, failure};
use serde::Serialize;

use crate::dolt::refs::check_branch_name;
use crate::mysql::TargetAddress;

/// What a refresh does when the published branch diverged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDiverged {
    /// publish nothing (exit 7); the work branch is kept
    Fail,
    /// tag the old head, then move the branch to the night
    Reset,
    /// merge the night into the branch
    Merge,
}

/// The published branch and its tags.
#[derive(Debug, Clone)]
pub struct BranchSettings {
    /// the branch readers read
    pub name: String,
    /// the prefix of pg2dolt's tags
    pub tag_prefix: String,
}

impl BranchSettings {
    /// Validates the flags.
    pub fn resolve(arguments: &BranchArgs) -> anyhow::Result<BranchSettings> {
        let usage = |error: anyhow::Error| failure(FailureKind::Usage, error.to_string());
        check_branch_name(&arguments.branch, "--branch").map_err(usage)?;
        // The prefix is the start of a tag name: a trailing '/' is fine.
        let prefix = arguments.tag_prefix.trim_end_matches('/');
        if !prefix.is_empty() {
            check_branch_name(prefix, "--tag-prefix").map_err(usage)?;
        }
        Ok(BranchSettings {
            name: arguments.branch.clone(),
            tag_prefix: arguments.tag_prefix.clone(),
        })
    }
}

/// What a refresh may publish, and where.
#[derive(Debug, Clone)]
pub struct RefreshSettings {
    /// the published branch and its tags
    pub branch: BranchSettings,
    /// when the branch diverged
    pub on_diverged: OnDiverged,
    /// the deleted-rows guard, in percent
    pub max_deleted_percent: f64,
    /// `--full`: every table reloaded, none by delta
    pub full: bool,
    /// `--verify`: the work branch compared with the snapshot before the
    /// publish
    pub verify: bool,
    /// `--trust-source-history`: deltas when the source's history cannot be
    /// proven continuous (never when it is proven broken)
    pub trust_source_history: bool,
}

impl RefreshSettings {
    /// Validates the flags refresh has beyond copy's (and refuses copy's
    /// flags that make no sense for a refresh).
    pub fn resolve(arguments: &RefreshArgs) -> anyhow::Result<RefreshSettings> {
        let usage = |message: &str| failure(FailureKind::Usage, message.to_string());
        if arguments.copy.target_database.replace {
            return Err(usage(
                "refresh keeps the database and its history; --replace is copy's (drop the database by hand to start over)",
            ));
        }
        if arguments.copy.no_target {
            return Err(usage(
                "refresh loads a Dolt database; --no-target is copy's",
            ));
        }
        let percent = arguments.max_deleted_percent;
        if !(0.0..=100.0).contains(&percent) {
            return Err(usage("--max-deleted-percent must be between 0 and 100"));
        }
        Ok(RefreshSettings {
            branch: BranchSettings::resolve(&arguments.branch)?,
            on_diverged: match arguments.on_diverged {
                OnDivergedArg::Fail => OnDiverged::Fail,
                OnDivergedArg::Reset => OnDiverged::Reset,
                OnDivergedArg::Merge => OnDiverged::Merge,
            },
            max_deleted_percent: percent,
            full: arguments.full,
            verify: arguments.verify,
            trust_source_history: arguments.trust_source_history,
        })
    }
}

/// The refreshed database rollback and history work on.
#[derive(Debug, Clone)]
pub struct PublishedSettings {
    /// the target server
    pub target: TargetAddress,
    /// its URL, password redacted
    pub target_display: String,
    /// the database
    pub database: String,
    /// the published branch and its tags
    pub branch: BranchSettings,
}

impl PublishedSettings {
    /// Validates the flags.
    pub fn resolve(arguments: &PublishedArgs) -> anyhow::Result<PublishedSettings> {
        let (target, target_display) = resolve_target(&arguments.connection)?;
        check_database_name(&arguments.database)?;
        Ok(PublishedSettings {
            target,
            target_display,
            database: arguments.database.clone(),
            branch: BranchSettings::resolve(&arguments.branch)?,
        })
    }
}
