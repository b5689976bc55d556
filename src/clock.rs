//! Wall-clock time: RFC 3339 UTC strings for reports, manifests and
//! commit messages, and the snapshot's time as a typed instant
//! (`SnapshotTime`) with the renderings pg2dolt names things by (jiff does
//! the calendar). A leaf: no other module of pg2dolt here.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The current time, UTC, RFC 3339 with seconds.
#[must_use]
pub fn utc_now() -> String {
    format_utc(Timestamp::now())
}

/// Formats a time as `YYYY-MM-DDTHH:MM:SSZ`.
#[must_use]
pub fn format_utc(time: Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `YYYYMMDDTHHMMSSZ`, now: a stamp for names (tags) made at run time.
#[must_use]
pub fn compact_now() -> String {
    Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// When a snapshot was taken: a UTC instant, shown and stored as RFC 3339
/// with microseconds (`2026-12-02T05:01:32.123456Z`, as Postgres reports
/// it), read back from any RFC 3339 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SnapshotTime(pub Timestamp);

impl SnapshotTime {
    /// Without dashes and colons (`20261202T050132.123456Z`): tag and
    /// branch names take no colons, and two nights never share a
    /// microsecond.
    #[must_use]
    pub fn compact(&self) -> String {
        self.0.strftime("%Y%m%dT%H%M%S%.6fZ").to_string()
    }

    /// To the second (`20261202T050132Z`): an archive's directory name.
    #[must_use]
    pub fn compact_seconds(&self) -> String {
        self.0.strftime("%Y%m%dT%H%M%SZ").to_string()
    }

    /// RFC 3339 to the second, as a Dolt commit's `--date` takes it.
    #[must_use]
    pub fn commit_date(&self) -> String {
        format_utc(self.0)
    }
}

impl std::str::FromStr for SnapshotTime {
    type Err = jiff::Error;

    fn from_str(text: &str) -> Result<SnapshotTime, jiff::Error> {
        text.parse().map(SnapshotTime)
    }
}

impl fmt::Display for SnapshotTime {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:.6}", self.0)
    }
}

impl Serialize for SnapshotTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SnapshotTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SnapshotTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        let at = |seconds| format_utc(Timestamp::from_second(seconds).unwrap());
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_795_262_400), "2026-11-21T12:00:00Z");
    }

    #[test]
    fn snapshot_times_keep_their_renderings() {
        let time: SnapshotTime = "2026-12-02T05:01:32.12Z".parse().unwrap();
        assert_eq!(time.to_string(), "2026-12-02T05:01:32.120000Z");
        assert_eq!(time.compact(), "20261202T050132.120000Z");
        assert_eq!(time.compact_seconds(), "20261202T050132Z");
        assert_eq!(time.commit_date(), "2026-12-02T05:01:32Z");
        let json = serde_json::to_string(&time).unwrap();
        assert_eq!(json, "\"2026-12-02T05:01:32.120000Z\"");
        assert_eq!(serde_json::from_str::<SnapshotTime>(&json).unwrap(), time);
        assert!("yesterday".parse::<SnapshotTime>().is_err());
    }
}
