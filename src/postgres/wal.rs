//! Where the source's write-ahead log stood at the snapshot: the WAL
//! position past every transaction the snapshot sees, the timeline the
//! server is on, and that timeline's history (which timelines it forked
//! from, and where). A later night compares them with what the last
//! published night recorded to prove the source's history is continuous
//! (`nightly::continuity`). Pure parsing here, and one read on the
//! coordinator; nothing is written.
//!
//! How each is read, and why (PostgreSQL's documentation, "System
//! Administration Functions", and `src/backend/access/transam/xlogfuncs.c`):
//! - On a primary, the position is `pg_current_wal_insert_lsn()`: a
//!   transaction's commit record is inserted before it leaves the running
//!   set, so every commit the snapshot sees lies before it (the write
//!   position, `pg_current_wal_lsn()`, can lag an asynchronous commit). The
//!   timeline is the first eight hex digits of
//!   `pg_walfile_name(pg_current_wal_insert_lsn())`, named with the WAL
//!   insertion timeline (`GetWALInsertionTimeLine()`): it changes the moment
//!   a promotion ends. `pg_control_checkpoint()`'s timeline does not: it
//!   changes only at the promoted server's first checkpoint, which
//!   promotion does not wait for (issue 31).
//! - On a hot standby, the position is `pg_last_wal_replay_lsn()` (the
//!   snapshot sees only what was replayed) and the timeline is
//!   `pg_stat_wal_receiver.received_tli`, readable by superusers and
//!   `pg_read_all_stats` while the WAL receiver runs. The received timeline
//!   can be ahead of the replayed one, never behind: a standby follows a
//!   new timeline only when it forked after the standby's replay position,
//!   so the point recorded is the same point of history either way.
//! - A timeline's history is the file `pg_wal/<timeline>.history` (lines of
//!   `parent timeline, switch point, reason`), read with `pg_read_file`,
//!   which superusers may run and other roles only when granted.

use std::fmt;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

/// A WAL position (`pg_lsn`), as a 64-bit number; written (in reports and
/// a night's state) as Postgres writes it, `16/B374D848`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lsn(pub u64);

impl Serialize for Lsn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Lsn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Lsn, D::Error> {
        let text = String::deserialize(deserializer)?;
        Lsn::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a WAL position: {text:?}")))
    }
}

impl Lsn {
    /// Parses `pg_lsn` text (`16/B374D848`).
    #[must_use]
    pub fn parse(text: &str) -> Option<Lsn> {
        let (high, low) = text.trim().split_once('/')?;
        let high = u64::from(u32::from_str_radix(high, 16).ok()?);
        let low = u64::from(u32::from_str_radix(low, 16).ok()?);
        Some(Lsn(high << 32 | low))
    }
}

/// As Postgres writes it.
impl fmt::Display for Lsn {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// One line of a timeline's history: `timeline` ended at `end`, where its
/// child took over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineSwitch {
    /// an ancestor timeline
    pub timeline: u32,
    /// the WAL position where it ended in this history
    pub end: Lsn,
}

/// The source's WAL at the snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalPoint {
    /// the source is a hot standby (in recovery)
    pub standby: bool,
    /// the position past every transaction the snapshot sees
    pub position: Option<Lsn>,
    /// the timeline the source is on, when readable
    pub timeline: Option<u32>,
    /// that timeline's ancestors and where each ended, oldest first (empty
    /// on timeline 1); `None` when the role may not read it
    pub history: Option<Vec<TimelineSwitch>>,
}

/// The timeline a WAL file name starts with (`000000020000000000000003`).
#[must_use]
pub fn timeline_of_file(name: &str) -> Option<u32> {
    let prefix = name.get(..8)?;
    u32::from_str_radix(prefix, 16).ok().filter(|tli| *tli > 0)
}

/// Parses a timeline history file: `parent<TAB>switch point<TAB>reason`
/// lines; blank lines and `#` comments skipped (as `readTimeLineHistory`
/// does). `None` when a line is not of that form.
#[must_use]
pub fn parse_history(text: &str) -> Option<Vec<TimelineSwitch>> {
    let mut switches = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let timeline = fields.next()?.parse().ok()?;
        let end = Lsn::parse(fields.next()?)?;
        switches.push(TimelineSwitch { timeline, end });
    }
    Some(switches)
}

/// The history file of `timeline`, relative to the data directory.
#[must_use]
pub fn history_file(timeline: u32) -> String {
    format!("pg_wal/{timeline:08X}.history")
}

/// The columns the snapshot's own statement reads (`export_snapshot`), in
/// this order: in recovery, the WAL position (text), the WAL file name (a
/// primary's) and the received timeline (a standby's). They must be read in
/// the statement that takes the snapshot, so the position is past it.
// language=PostgreSQL
pub const SNAPSHOT_COLUMNS: &str = "recovery.in_recovery, position.lsn::text, \
    CASE WHEN recovery.in_recovery THEN NULL ELSE pg_walfile_name(position.lsn) END, \
    CASE WHEN recovery.in_recovery THEN (SELECT received_tli FROM pg_stat_wal_receiver) END";

/// The `FROM` items [`SNAPSHOT_COLUMNS`] need (one look at the recovery
/// state, so a promotion between two looks cannot mix them).
// language=PostgreSQL
pub const SNAPSHOT_FROM: &str = "(SELECT pg_is_in_recovery() AS in_recovery) AS recovery, \
    LATERAL (SELECT CASE WHEN recovery.in_recovery THEN pg_last_wal_replay_lsn() \
    ELSE pg_current_wal_insert_lsn() END AS lsn) AS position";

/// The point [`SNAPSHOT_COLUMNS`] read, without its history.
#[must_use]
pub fn point_of(
    in_recovery: Option<&str>,
    position: Option<&str>,
    file: Option<&str>,
    received: Option<&str>,
) -> WalPoint {
    let standby = in_recovery == Some("t");
    let timeline = if standby {
        received.and_then(|text| text.parse().ok())
    } else {
        file.and_then(timeline_of_file)
    };
    WalPoint {
        standby,
        position: position.and_then(Lsn::parse),
        timeline,
        history: (timeline == Some(1)).then(Vec::new),
    }
}

/// Reads the history of `point`'s timeline on the coordinator, when the role
/// may (`pg_read_file`); inside a savepoint, so an unexpected error cannot
/// end the snapshot's transaction. Timeline 1 has none to read.
pub async fn read_history(coordinator: &Client, point: &mut WalPoint) -> anyhow::Result<()> {
    let Some(timeline) = point.timeline.filter(|timeline| *timeline > 1) else {
        return Ok(());
    };
    // language=PostgreSQL
    let allowed = super::first_text(
        coordinator,
        "SELECT has_function_privilege('pg_read_file(text,bigint,bigint,boolean)', 'EXECUTE')",
    )
    .await
    .context("asking whether the role may read the source's timeline history")?;
    if allowed.as_deref() != Some("t") {
        return Ok(());
    }
    coordinator
        .batch_execute("SAVEPOINT pg2dolt_timeline_history")
        .await
        .context("reading the source's timeline history")?;
    // The file name is made of a number: quoting it is safe.
    // language=PostgreSQL
    let query = format!(
        "SELECT pg_read_file('{}', 0, 1048576, true)",
        history_file(timeline)
    );
    let text = match super::first_text(coordinator, &query).await {
        Ok(text) => text,
        Err(error) => {
            let error = super::pg_error(&error);
            tracing::warn!(%error, "the source's timeline history could not be read");
            coordinator
                .batch_execute("ROLLBACK TO SAVEPOINT pg2dolt_timeline_history")
                .await
                .context("reading the source's timeline history")?;
            return Ok(());
        }
    };
    coordinator
        .batch_execute("RELEASE SAVEPOINT pg2dolt_timeline_history")
        .await
        .context("reading the source's timeline history")?;
    point.history = text.as_deref().and_then(parse_history);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_and_print_as_postgres_writes_them() {
        assert_eq!(Lsn::parse("0/3000EE8"), Some(Lsn(0x0300_0EE8)));
        assert_eq!(Lsn::parse("16/B374D848"), Some(Lsn(0x16_B374_D848)));
        assert_eq!(Lsn(0x16_B374_D848).to_string(), "16/B374D848");
        assert_eq!(Lsn::parse("3000EE8"), None);
        assert_eq!(Lsn::parse("x/1"), None);
        assert!(Lsn::parse("1/0").unwrap() > Lsn::parse("0/FFFFFFFF").unwrap());
    }

    #[test]
    fn positions_are_written_as_postgres_writes_them() {
        let point = WalPoint {
            standby: false,
            position: Some(Lsn(0x16_B374_D848)),
            timeline: Some(2),
            history: Some(vec![TimelineSwitch {
                timeline: 1,
                end: Lsn(0x0300_0EE8),
            }]),
        };
        let json = serde_json::to_string(&point).unwrap();
        assert_eq!(
            json,
            r#"{"standby":false,"position":"16/B374D848","timeline":2,"history":[{"timeline":1,"end":"0/3000EE8"}]}"#
        );
        assert_eq!(serde_json::from_str::<WalPoint>(&json).unwrap(), point);
        assert!(serde_json::from_str::<Lsn>("\"nonsense\"").is_err());
    }

    #[test]
    fn the_timeline_is_the_start_of_the_wal_file_name() {
        assert_eq!(timeline_of_file("000000020000000000000003"), Some(2));
        assert_eq!(timeline_of_file("0000001A0000000000000003"), Some(26));
        assert_eq!(timeline_of_file("zz"), None);
        assert_eq!(history_file(26), "pg_wal/0000001A.history");
    }

    #[test]
    fn history_files_read_as_postgres_writes_them() {
        let text = "1\t0/3000EE8\tno recovery target specified\n\n\
                    # a comment\n2\t0/5000000\tat restore point \"before\"\n";
        assert_eq!(
            parse_history(text),
            Some(vec![
                TimelineSwitch {
                    timeline: 1,
                    end: Lsn(0x0300_0EE8)
                },
                TimelineSwitch {
                    timeline: 2,
                    end: Lsn(0x0500_0000)
                },
            ])
        );
        assert_eq!(parse_history("1 nonsense"), None);
        assert_eq!(parse_history(""), Some(vec![]));
    }

    #[test]
    fn a_primary_names_its_timeline_in_its_wal_file_a_standby_in_its_receiver() {
        let primary = point_of(
            Some("f"),
            Some("0/3000F18"),
            Some("000000020000000000000003"),
            None,
        );
        assert_eq!(primary.timeline, Some(2));
        assert!(!primary.standby);
        assert_eq!(primary.history, None);
        let standby = point_of(Some("t"), Some("0/3000000"), None, Some("1"));
        assert_eq!(standby.timeline, Some(1));
        assert_eq!(standby.history, Some(vec![]));
        let unreadable = point_of(Some("t"), Some("0/3000000"), None, None);
        assert_eq!(unreadable.timeline, None);
    }
}
