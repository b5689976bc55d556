//! The marks a refresh leaves on a Dolt database, written and read here
//! only (each behaviour run on Dolt 1.86.4 first):
//! - what it published is tagged under `--tag-prefix`: the night's
//!   `PREFIX<YYYYMMDDTHHMMSSZ>` (the snapshot time), and
//!   `PREFIXrollback/<time>` on a rollback's target. The last published
//!   commit is the newest commit of the branch's log that carries a mark;
//!   commits after it, or uncommitted changes on the branch, are someone
//!   else's writes (the branch *diverged*). `PREFIXbefore-reset/<time>` and
//!   `PREFIXbefore-rollback/<time>` keep a head that was moved away from.
//! - a night's tag message names its snapshot (for `pg2dolt history`) and
//!   carries the state the next night starts from (`state`).

use mysql_async::Conn;

use crate::clock::SnapshotTime;
use crate::dolt::refs::{branch_head, log, tags};
use crate::error::{FailureKind, failure};
use crate::postgres::snapshot::Snapshot;

/// The published branch as a refresh finds it.
#[derive(Debug, Clone)]
pub struct BranchState {
    /// the branch's head commit
    pub head: String,
    /// the last commit pg2dolt published there (the head when no commit of
    /// the branch carries a mark: a database made by `copy`, adopted)
    pub base: String,
    /// commits on the branch after `base`
    pub commits_since: usize,
    /// the branch has uncommitted changes
    pub dirty: bool,
}

impl BranchState {
    /// Someone else wrote to the branch since the last refresh.
    #[must_use]
    pub fn diverged(&self) -> bool {
        self.commits_since > 0 || self.dirty
    }

    /// What the divergence is, for people.
    #[must_use]
    pub fn divergence(&self) -> String {
        match (self.commits_since, self.dirty) {
            (0, _) => "it has uncommitted changes".to_string(),
            (commits, false) => format!("{commits} commit(s) were made on it"),
            (commits, true) => {
                format!("{commits} commit(s) were made on it and it has uncommitted changes")
            }
        }
    }
}

/// The night's tag name: the prefix and the snapshot time
/// (`2026-12-02T05:01:32.123456Z` → `20261202T050132.123456Z`; tag names
/// take no colons, and two nights never share a microsecond).
#[must_use]
pub fn night_tag(prefix: &str, time: &SnapshotTime) -> String {
    format!("{prefix}{}", time.compact())
}

/// A tag of a night (`PREFIX` + `YYYYMMDDTHHMMSS[.ffffff]Z`).
#[must_use]
pub fn is_night_tag(name: &str, prefix: &str) -> bool {
    let Some(stamp) = name
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix('Z'))
    else {
        return false;
    };
    let (seconds, fraction) = stamp.split_once('.').unwrap_or((stamp, "0"));
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    seconds.len() == 15
        && seconds.as_bytes()[8] == b'T'
        && digits(&seconds[..8])
        && digits(&seconds[9..])
        && digits(fraction)
}

/// A tag that marks a commit pg2dolt published: a night, or a rollback's
/// target.
#[must_use]
pub fn is_published_mark(name: &str, prefix: &str) -> bool {
    is_night_tag(name, prefix)
        || name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with("rollback/"))
}

/// The published branch's state: head, last published commit, commits
/// since; `conn` is on the database. The uncommitted changes are asked
/// for with [`has_changes`] in a session on the branch, once it is known
/// to exist (a missing branch is exit 2).
pub async fn branch_state(
    conn: &mut Conn,
    branch: &str,
    prefix: &str,
) -> anyhow::Result<BranchState> {
    let Some(head) = branch_head(conn, branch).await? else {
        return Err(failure(
            FailureKind::Usage,
            format!("the target database has no branch {branch} (--branch)"),
        ));
    };
    let marks: Vec<String> = tags(conn, prefix)
        .await?
        .into_iter()
        .filter(|tag| is_published_mark(&tag.name, prefix))
        .map(|tag| tag.hash)
        .collect();
    let log = log(conn, branch).await?;
    let (base, commits_since) = log
        .iter()
        .position(|entry| marks.contains(&entry.hash))
        .map_or_else(|| (head.clone(), 0), |at| (log[at].hash.clone(), at));
    Ok(BranchState {
        head,
        base,
        commits_since,
        dirty: false,
    })
}

/// A night's tag message: the snapshot, for `pg2dolt history`, then the
/// state the next night starts from (when there is one).
#[must_use]
pub fn tag_message(snapshot: &Snapshot, state: Option<&super::state::NightState>) -> String {
    let message = format!(
        "pg2dolt refresh of Postgres database {}: snapshot {} ({})",
        snapshot.database, snapshot.time, snapshot.id
    );
    match state {
        Some(state) => state.append_to(&message),
        None => message,
    }
}

/// The snapshot time a night's tag message names (`… snapshot TIME (id)`).
#[must_use]
pub fn snapshot_of(message: &str) -> Option<String> {
    let rest = message.split(" snapshot ").nth(1)?;
    Some(rest.split_whitespace().next()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn night_tags_name_the_snapshot_second() {
        let time = "2026-12-02T05:01:32.123456Z".parse().unwrap();
        let tag = night_tag("pg2dolt/", &time);
        assert_eq!(tag, "pg2dolt/20261202T050132.123456Z");
        assert!(is_night_tag("pg2dolt/20261202T050132Z", "pg2dolt/"));
        assert!(is_night_tag(&tag, "pg2dolt/"));
        assert!(is_published_mark(&tag, "pg2dolt/"));
        assert!(is_published_mark(
            "pg2dolt/rollback/20261202T050132Z",
            "pg2dolt/"
        ));
        assert!(!is_published_mark(
            "pg2dolt/before-reset/20261202T050132Z",
            "pg2dolt/"
        ));
        assert!(!is_night_tag("pg2dolt/2026120xT050132Z", "pg2dolt/"));
        assert!(!is_night_tag("other/20261202T050132Z", "pg2dolt/"));
    }

    #[test]
    fn the_snapshot_is_read_from_the_tag_message() {
        let message = "pg2dolt refresh of Postgres database app: snapshot 2026-12-02T05:01:32.123456Z (00000003-0000001B-1)";
        assert_eq!(
            snapshot_of(message).as_deref(),
            Some("2026-12-02T05:01:32.123456Z")
        );
        assert_eq!(snapshot_of("made by hand"), None);
    }
}
