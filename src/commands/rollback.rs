//! `pg2dolt rollback --to REF`: the published branch of a refreshed
//! database moved to a night's tag or a commit, its old head tagged
//! first (`PREFIXbefore-rollback/<time>`), so nothing is lost. A target that
//! is not a night gets a `PREFIXrollback/<time>` mark: the next refresh
//! builds on it rather than calling the branch diverged.

use std::io::Write as _;

use mysql_async::Conn;
use tracing::info;

use crate::cli::{LoggingArgs, RollbackArgs};
use crate::clock::compact_now;
use crate::dolt::moves::reset_hard;
use crate::dolt::refs::{self, has_changes, revision};
use crate::dolt::server::LocalDolt;
use crate::error::{FailureKind, failure};
use crate::mysql::run_lock::RunLock;
use crate::nightly::marks::is_published_mark;
use crate::nightly::published::{open_published, published_head};
use crate::output::Output;
use crate::settings::PublishedSettings;

/// Runs `pg2dolt rollback`; returns the exit code.
pub async fn run(arguments: &RollbackArgs, logging: &LoggingArgs) -> u8 {
    let output = Output::new(logging.log_format, None);
    let result = async {
        let settings = PublishedSettings::resolve(&arguments.published)?;
        let local = LocalDolt::start_for(&settings.target).await?;
        let lock = RunLock::take(&settings.target, &settings.database, "rollback").await;
        let rolled = match lock {
            Ok(lock) => {
                let rolled = rollback(&settings, &arguments.to).await;
                lock.release().await;
                rolled
            }
            Err(error) => Err(error),
        };
        if let Some(local) = local {
            local.stop().await;
        }
        rolled
    }
    .await;
    match result {
        Ok(line) => {
            output.tell(&line.summary);
            let _ = writeln!(std::io::stdout(), "{}", line.head);
            0
        }
        Err(error) => output.error(&error),
    }
}

/// What a rollback did.
struct RolledBack {
    summary: String,
    head: String,
}

async fn rollback(settings: &PublishedSettings, to: &str) -> anyhow::Result<RolledBack> {
    let mut conn = open_published(settings).await?;
    let branch = &settings.branch.name;
    let head = published_head(&mut conn, settings).await?;
    let target = refs::resolve(&mut conn, to).await?.ok_or_else(|| {
        failure(
            FailureKind::Usage,
            format!(
                "--to {to} names no tag, branch or commit of database {}",
                settings.database
            ),
        )
    })?;
    if target == head {
        return Ok(RolledBack {
            summary: format!(
                "pg2dolt rollback: {branch} is already at {to} ({head}); nothing to do"
            ),
            head,
        });
    }
    let revision = revision(&settings.database, branch);
    let mut on_branch = crate::mysql::connect(&settings.target, Some(&revision)).await?;
    if has_changes(&mut on_branch).await? {
        return Err(failure(
            FailureKind::HeldBack,
            format!(
                "the branch {branch} has uncommitted changes: commit or discard them first (nothing was moved)"
            ),
        ));
    }
    let kept = mark(&mut conn, settings, &head, &target, to).await?;
    reset_hard(&mut on_branch, &target).await?;
    info!(%branch, from = %head, to = %target, kept = %kept, "rolled back");
    let _ = on_branch.disconnect().await;
    let _ = conn.disconnect().await;
    Ok(RolledBack {
        summary: format!(
            "pg2dolt rollback: {branch} moved from {head} to {to} ({target}); the old head is tagged {kept}"
        ),
        head: target,
    })
}

/// Before the move: the old head tagged `PREFIXbefore-rollback/<time>`
/// (returned), and a target that carries no mark of a published night
/// tagged `PREFIXrollback/<time>`.
async fn mark(
    conn: &mut Conn,
    settings: &PublishedSettings,
    head: &str,
    target: &str,
    to: &str,
) -> anyhow::Result<String> {
    let (branch, prefix) = (&settings.branch.name, &settings.branch.tag_prefix);
    let stamp = compact_now();
    let kept = format!("{prefix}before-rollback/{stamp}");
    let message =
        format!("pg2dolt rollback: the head of {branch} before it was rolled back to {to}");
    refs::tag(conn, &kept, head, &message).await?;
    let marked = refs::tags(conn, prefix)
        .await?
        .iter()
        .any(|tag| tag.hash == target && is_published_mark(&tag.name, prefix));
    if !marked {
        let mark = format!("{prefix}rollback/{stamp}");
        let message = format!("pg2dolt rollback: {branch} rolled back to {to}");
        refs::tag(conn, &mark, target, &message).await?;
    }
    Ok(kept)
}
