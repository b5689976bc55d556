//! `pg2dolt history`: the nights published on a refreshed database's
//! branch, newest first: when each was published, its snapshot, tag and
//! commit, and the rows it changed against the night before (Dolt's diff
//! statistics; pg2dolt's record of schema files left out).

use std::io::Write as _;

use serde::Serialize;

use crate::cli::{HistoryArgs, LoggingArgs, OutputFormat};
use crate::dolt::diff::{TableDiff, diff};
use crate::dolt::refs::{LogEntry, Tag, log, tags};
use crate::dolt::server::LocalDolt;
use crate::mysql::records::schema_files;
use crate::nightly::marks::{is_night_tag, snapshot_of};
use crate::nightly::published::{open_published, published_head};
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
pub async fn run(arguments: &HistoryArgs, logging: &LoggingArgs) -> u8 {
    let output = Output::new(logging.log_format, None);
    let result = async {
        let settings = PublishedSettings::resolve(&arguments.published)?;
        let local = LocalDolt::start_for(&settings.target).await?;
        let nights = history(&settings).await;
        if let Some(local) = local {
            local.stop().await;
        }
        anyhow::Ok((nights?, settings.branch.name))
    }
    .await;
    match result {
        Ok((nights, branch)) => {
            let mut stdout = std::io::stdout();
            let text = match arguments.format {
                OutputFormat::Json => serde_json::to_string_pretty(&nights).unwrap_or_default(),
                OutputFormat::Text => table(&nights, &branch),
            };
            let _ = writeln!(stdout, "{text}");
            0
        }
        Err(error) => output.error(&error),
    }
}

async fn history(settings: &PublishedSettings) -> anyhow::Result<Vec<PublishedNight>> {
    let mut conn = open_published(settings).await?;
    let (branch, prefix) = (&settings.branch.name, &settings.branch.tag_prefix);
    let head = published_head(&mut conn, settings).await?;
    let tags: Vec<Tag> = tags(&mut conn, prefix)
        .await?
        .into_iter()
        .filter(|tag| is_night_tag(&tag.name, prefix))
        .collect();
    let log = log(&mut conn, branch).await?;
    let nights: Vec<(&LogEntry, &Tag)> = log
        .iter()
        .filter_map(|entry| Some((entry, tags.iter().find(|tag| tag.hash == entry.hash)?)))
        .collect();
    let mut listed = Vec::with_capacity(nights.len());
    for (index, (entry, tag)) in nights.iter().enumerate() {
        let before = nights.get(index + 1).map_or_else(
            || format!("{}~1", entry.hash),
            |(older, _)| older.hash.clone(),
        );
        let changes = diff(
            &mut conn,
            &before,
            &entry.hash,
            &std::collections::BTreeMap::new(),
        )
        .await?;
        let changes: Vec<_> = changes
            .into_values()
            .filter(|change| change.table != schema_files::TABLE)
            .filter(|change| change.rows_changed() > 0 || change.schema_changed)
            .collect();
        listed.push(PublishedNight {
            time: rfc3339(&tag.date),
            snapshot: snapshot_of(&tag.message).unwrap_or_else(|| entry.date.clone()),
            tag: tag.name.clone(),
            commit: entry.hash.clone(),
            head: head == entry.hash,
            rows_changed: changes.iter().map(TableDiff::rows_changed).sum(),
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
    #[test]
    fn dolt_dates_read_as_rfc3339() {
        assert_eq!(
            super::rfc3339("2026-12-02 05:10:08.101"),
            "2026-12-02T05:10:08.101Z"
        );
    }
}
