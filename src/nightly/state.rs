//! What a published night records so the next one can prove its delta:
//! the source's identity and transaction range at the snapshot, and per
//! table the source table's identity, a fingerprint of its definition, the
//! row count and the Dolt table's hash after the night.
//!
//! It travels in the night's tag message (after [`MARKER`]): the tag
//! points at the published commit, so a rollback, a reset or a merge finds
//! exactly the state of the commit it starts from, a failed or killed
//! night leaves none, and no table of the database changes because of it
//! (a row of state in a table would show in every night's diff and make a
//! commit of a night that changed nothing).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::deletes::ranges::KeyRanges;
use crate::postgres::wal::WalPoint;

/// Where the state starts in a tag message.
pub const MARKER: &str = "\n\npg2dolt-night-state: ";

/// The version of the state's format and of what decides a row's bytes
/// (conversion and masking code): a night recorded by another version is
/// not trusted for a delta. 2: the WAL point (issue 31; format 1 recorded
/// the checkpoint's timeline, which a promotion does not change at once).
pub const FORMAT: u32 = 2;

/// One published night's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NightState {
    /// [`FORMAT`] when it was written
    pub format: u32,
    /// pg2dolt's version that wrote it (a new version may convert a value
    /// differently: its first night reloads in full)
    pub pg2dolt: String,
    /// the source cluster's `system_identifier`, when readable
    pub system_identifier: Option<String>,
    /// where the source's WAL stood at the snapshot (position, timeline,
    /// its history): the next night proves the source's history continuous
    /// from it (`continuity`)
    #[serde(default)]
    pub wal: WalPoint,
    /// the snapshot's `xmin`, 64-bit: rows whose version is not older may
    /// have changed since
    pub xmin: u64,
    /// the snapshot's `xmax`, 64-bit
    pub xmax: u64,
    /// per target table
    pub tables: BTreeMap<String, TableState>,
}

/// One table as the night left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableState {
    /// the source table, `schema.table`
    pub source: String,
    /// the source table's oid
    pub oid: u32,
    /// the source table's definition (`source::identities`)
    pub fingerprint: String,
    /// how its values were converted and masked (`conversion_fingerprint`)
    pub conversion: String,
    /// rows in the source table at the snapshot
    pub rows: u64,
    /// `dolt_hashof_table` of the target table after the night
    pub hash: String,
    /// its rows per range of its first key column (an integer), so the
    /// next night reads the keys of the ranges that lost rows only
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ranges: Option<KeyRanges>,
}

impl NightState {
    /// The tag message with the state appended.
    #[must_use]
    pub fn append_to(&self, message: &str) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!("{message}{MARKER}{json}")
    }

    /// The state a tag message carries, if any (and if readable).
    #[must_use]
    pub fn from_message(message: &str) -> Option<NightState> {
        let (_, json) = message.split_once(MARKER.trim_start_matches('\n'))?;
        serde_json::from_str(json.trim()).ok()
    }

    /// The message without its state (for people).
    #[must_use]
    pub fn strip(message: &str) -> &str {
        message
            .split_once(MARKER.trim_start_matches('\n'))
            .map_or(message, |(text, _)| text.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_survives_a_tag_message() {
        let mut tables = BTreeMap::new();
        tables.insert(
            "Track".to_string(),
            TableState {
                source: "public.track".to_string(),
                oid: 16_384,
                fingerprint: "ab12".to_string(),
                conversion: "cd34".to_string(),
                rows: 3503,
                hash: "k3j2".to_string(),
                key_ranges: Some(KeyRanges {
                    shift: 3,
                    counts: [(0, 7), (437, 8)].into_iter().collect(),
                }),
            },
        );
        let state = NightState {
            format: FORMAT,
            pg2dolt: "0.1.0".to_string(),
            system_identifier: Some("7312".to_string()),
            wal: WalPoint {
                standby: false,
                position: crate::postgres::wal::Lsn::parse("1/3000EE8"),
                timeline: Some(2),
                history: Some(vec![crate::postgres::wal::TimelineSwitch {
                    timeline: 1,
                    end: crate::postgres::wal::Lsn(0x0300_0000),
                }]),
            },
            xmin: 4_294_967_400,
            xmax: 4_294_967_410,
            tables,
        };
        let message = state.append_to("pg2dolt refresh of Postgres database app: snapshot T (1)");
        assert_eq!(NightState::from_message(&message), Some(state));
        assert_eq!(
            NightState::strip(&message),
            "pg2dolt refresh of Postgres database app: snapshot T (1)"
        );
        assert_eq!(
            NightState::from_message("pg2dolt refresh: snapshot T"),
            None
        );
        assert_eq!(
            NightState::from_message("x\n\npg2dolt-night-state: {not json"),
            None
        );
    }
}
