//! `pg2dolt rollback --to REF`: the published branch of a refreshed
//! database moved to a night's tag or a commit, its old head tagged
//! first (`PREFIXbefore-rollback/<time>`), so nothing is lost. A target that
//! is not a night gets a `PREFIXrollback/<time>` mark: the next refresh
//! builds on it rather than calling the branch diverged.

use std::io::Write as _;

use mysql_async::Conn;
use tracing::info;

use super::LocalDoltGuard;
use crate::cli::{PublishedArgs, RollbackArgs};
use crate::clock::utc_now;
use crate::error::{FailureKind, failure};
use crate::mysql::TargetKind;
use crate::mysql::published::{self, compact_time, is_published_mark};
use crate::output::Output;
use crate::settings::PublishedSettings;

/// Runs `pg2dolt rollback`; returns the exit code.
pub async fn run(arguments: &RollbackArgs) -> u8 {
    let output = Output::new(arguments.published.logging.log_format, None);
    let (settings, local) = match start_published(&arguments.published, &output).await {
        Ok(started) => started,
        Err(code) => return code,
    };
    let result = rollback(&settings, &arguments.to).await;
    local.stop().await;
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
    let branch = &settings.branch.branch;
    let head = published::branch_head(&mut conn, branch)
        .await?
        .ok_or_else(|| {
            failure(
                FailureKind::Usage,
                format!(
                    "database {} has no branch {branch} (--branch)",
                    settings.database
                ),
            )
        })?;
    let target = published::resolve(&mut conn, to).await?.ok_or_else(|| {
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
    let revision = format!("{}/{branch}", settings.database);
    let mut on_branch = crate::mysql::connect(&settings.target, Some(&revision)).await?;
    if published::has_changes(&mut on_branch).await? {
        return Err(failure(
            FailureKind::HeldBack,
            format!(
                "the branch {branch} has uncommitted changes: commit or discard them first (nothing was moved)"
            ),
        ));
    }
    let kept = mark(&mut conn, settings, &head, &target, to).await?;
    published::reset_hard(&mut on_branch, &target).await?;
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
    let (branch, prefix) = (&settings.branch.branch, &settings.branch.tag_prefix);
    let stamp = compact_time(&utc_now());
    let kept = format!("{prefix}before-rollback/{stamp}");
    let message =
        format!("pg2dolt rollback: the head of {branch} before it was rolled back to {to}");
    published::tag(conn, &kept, head, &message).await?;
    let marked = published::tags(conn, prefix)
        .await?
        .iter()
        .any(|tag| tag.hash == target && is_published_mark(&tag.name, prefix));
    if !marked {
        let mark = format!("{prefix}rollback/{stamp}");
        let message = format!("pg2dolt rollback: {branch} rolled back to {to}");
        published::tag(conn, &mark, target, &message).await?;
    }
    Ok(kept)
}

/// The flags of rollback or history resolved, and the private Dolt server
/// started for `--target dolt:PATH`; `Err` holds the exit code of a
/// failure (told).
pub(super) async fn start_published(
    arguments: &PublishedArgs,
    output: &Output,
) -> Result<(PublishedSettings, LocalDoltGuard), u8> {
    let mut settings =
        PublishedSettings::resolve(arguments).map_err(|error| output.error(&error))?;
    let local = LocalDoltGuard::start(&mut settings.target)
        .await
        .map_err(|error| output.error(&error))?;
    Ok((settings, local))
}

/// A session on a refreshed database: the target must be Dolt (exit 2)
/// and the database must exist (exit 2).
pub(super) async fn open_published(settings: &PublishedSettings) -> anyhow::Result<Conn> {
    let mut admin = crate::mysql::connect(&settings.target, None).await?;
    let server = crate::mysql::detect_server(&mut admin).await?;
    if server.kind != TargetKind::Dolt {
        return Err(failure(
            FailureKind::Usage,
            format!(
                "refreshed databases live on Dolt; the target is {}",
                server.describe()
            ),
        ));
    }
    if !crate::mysql::database_exists(&mut admin, &settings.database).await? {
        return Err(failure(
            FailureKind::Usage,
            format!("the target has no database {}", settings.database),
        ));
    }
    let _ = admin.disconnect().await;
    crate::mysql::connect(&settings.target, Some(&settings.database)).await
}
