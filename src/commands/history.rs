//! `pg2dolt history`: the nights published on a refreshed database's
//! branch, newest first: when each was published, its snapshot, tag and
//! commit, and the rows it changed against the night before (Dolt's diff
//! statistics; pg2dolt's record of schema files left out).

use std::io::Write as _;

use serde::Serialize;

use super::rollback::{open_published, start_published};
use crate::cli::{HistoryArgs, OutputFormat};
use crate::error::{FailureKind, failure};
use crate::mysql::migrations;
use crate::mysql::published::{self, is_night_tag};
use crate::output::Output;
use crate::settings::PublishedSettings;

/// One published night.
#[derive(Debug, Serialize)]
struct PublishedNight {
    /// when it was published (the tag's time, UTC)
    time: String,
    /// the snapshot's time
    snapshot: String,
    /// the night's tag
    tag: String,
    /// its commit
    commit: String,
    /// the branch's head is this night
    head: bool,
    /// rows added, deleted and modified against the night before
    rows_changed: u64,
    rows_added: u64,
    rows_deleted: u64,
    rows_modified: u64,
    /// tables whose rows or schema changed
    tables_changed: Vec<String>,
}

/// Runs `pg2dolt history`; returns the exit code.
pub async fn run(arguments: &HistoryArgs) -> u8 {
    let output = Output::new(arguments.published.logging.log_format, None);
    let (settings, local) = match start_published(&arguments.published, &output).await {
        Ok(started) => started,
        Err(code) => return code,
    };
    let result = history(&settings).await;
    local.stop().await;
    match result {
        Ok(nights) => {
            let mut stdout = std::io::stdout();
            let text = match arguments.format {
                OutputFormat::Json => serde_json::to_string_pretty(&nights).unwrap_or_default(),
                OutputFormat::Text => table(&nights, &settings.branch.branch),
            };
            let _ = writeln!(stdout, "{text}");
            0
        }
        Err(error) => output.error(&error),
    }
}

async fn history(settings: &PublishedSettings) -> anyhow::Result<Vec<PublishedNight>> {
    let mut conn = open_published(settings).await?;
    let (branch, prefix) = (&settings.branch.branch, &settings.branch.tag_prefix);
    let Some(head) = published::branch_head(&mut conn, branch).await? else {
        return Err(failure(
            FailureKind::Usage,
            format!(
                "database {} has no branch {branch} (--branch)",
                settings.database
            ),
        ));
    };
    let tags: Vec<published::Tag> = published::tags(&mut conn, prefix)
        .await?
        .into_iter()
        .filter(|tag| is_night_tag(&tag.name, prefix))
        .collect();
    let log = published::log(&mut conn, branch).await?;
    let nights: Vec<(&published::LogEntry, &published::Tag)> = log
        .iter()
        .filter_map(|entry| Some((entry, tags.iter().find(|tag| tag.hash == entry.hash)?)))
        .collect();
    let mut listed = Vec::with_capacity(nights.len());
    for (index, (entry, tag)) in nights.iter().enumerate() {
        let before = nights.get(index + 1).map_or_else(
            || format!("{}~1", entry.hash),
            |(older, _)| older.hash.clone(),
        );
        let changes = published::diff(&mut conn, &before, &entry.hash).await?;
        let changes: Vec<_> = changes
            .into_values()
            .filter(|change| change.table != migrations::TABLE)
            .filter(|change| change.rows_changed() > 0 || change.schema_changed)
            .collect();
        listed.push(PublishedNight {
            time: rfc3339(&tag.date),
            snapshot: snapshot_of(&tag.message).unwrap_or_else(|| entry.date.clone()),
            tag: tag.name.clone(),
            commit: entry.hash.clone(),
            head: head == entry.hash,
            rows_changed: changes
                .iter()
                .map(published::TableChange::rows_changed)
                .sum(),
            rows_added: changes.iter().map(|change| change.rows_added).sum(),
            rows_deleted: changes.iter().map(|change| change.rows_deleted).sum(),
            rows_modified: changes.iter().map(|change| change.rows_modified).sum(),
            tables_changed: changes.into_iter().map(|change| change.table).collect(),
        });
    }
    let _ = conn.disconnect().await;
    Ok(listed)
}

/// Dolt's `2026-12-02 05:10:08.101` (UTC) as `2026-12-02T05:10:08.101Z`.
fn rfc3339(date: &str) -> String {
    format!("{}Z", date.replacen(' ', "T", 1))
}

/// The snapshot time a night's tag message names (`… snapshot TIME (id)`).
fn snapshot_of(message: &str) -> Option<String> {
    let rest = message.split(" snapshot ").nth(1)?;
    Some(rest.split_whitespace().next()?.to_string())
}

fn table(nights: &[PublishedNight], branch: &str) -> String {
    if nights.is_empty() {
        return format!("no night published on branch {branch}");
    }
    let mut lines = vec![format!(
        "{:<25} {:<28} {:<34} {:<32} {:>12}  {:>24}",
        "PUBLISHED", "SNAPSHOT", "TAG", "COMMIT", "ROWS CHANGED", "ADDED/DELETED/MODIFIED"
    )];
    for night in nights {
        let mark = if night.head { " (head)" } else { "" };
        lines.push(format!(
            "{:<25} {:<28} {:<34} {:<32} {:>12}  {:>24}{mark}",
            night.time,
            night.snapshot,
            night.tag,
            night.commit,
            night.rows_changed,
            format!(
                "+{} -{} ~{}",
                night.rows_added, night.rows_deleted, night.rows_modified
            ),
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::snapshot_of;

    #[test]
    fn the_snapshot_is_read_from_the_tag_message() {
        let message = "pg2dolt refresh of Postgres database app: snapshot 2026-12-02T05:01:32.123456Z (00000003-0000001B-1)";
        assert_eq!(
            snapshot_of(message).as_deref(),
            Some("2026-12-02T05:01:32.123456Z")
        );
        assert_eq!(snapshot_of("made by hand"), None);
        assert_eq!(
            super::rfc3339("2026-12-02 05:10:08.101"),
            "2026-12-02T05:10:08.101Z"
        );
    }
}
