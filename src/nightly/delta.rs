//! How a later night loads each table: a delta (only the row versions
//! written since the last published snapshot are upserted; deleted rows
//! are found by counting, then by their keys) when the last published
//! night's state proves it exact, else in full (emptied and reloaded) with
//! the reason. The decision is pure: the facts are gathered by the caller.

use serde::Serialize;

use super::continuity::{Continuity, continuity};
use super::deletes::ranges::KeyRanges;
use super::source::{SourceIdentity, changed_since};
use super::state::{FORMAT, NightState, TableState};
use crate::postgres::snapshot::Snapshot;

/// More transactions than this since the last published snapshot and
/// `age()` could no longer tell old from new (it compares modulo 2³²;
/// half of that is the limit, this leaves a wide margin).
const MAX_TRANSACTIONS_SINCE: u64 = 1 << 30;

/// How one table is loaded this night.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "method")]
pub enum Method {
    /// upsert the rows changed since, delete the rows gone
    Delta {
        /// the COPY filter selecting the row versions to look at
        #[serde(skip)]
        filter: String,
        /// the target has a unique key besides the primary key: the rows
        /// the delta rewrites and the rows gone are deleted first, so no
        /// upsert meets an old value of that key (two rows that swapped
        /// values, a value freed by a deleted row)
        #[serde(skip)]
        clear_first: bool,
        /// the table's rows per key range as the last published night
        /// left them (none when not recorded, or when `clear_first`
        /// changes the table before the upserts)
        #[serde(skip)]
        ranges: Option<KeyRanges>,
        /// the table was loaded by a night that was killed, and is kept:
        /// this delta catches it up from that night's snapshot
        #[serde(skip)]
        resumed: Option<Resumed>,
    },
    /// emptied and reloaded
    Full {
        /// why a delta could not be proven exact
        reason: String,
    },
}

/// A table a killed night loaded, kept by the rerun.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    /// the killed night's work branch
    pub from: String,
    /// the rows it had loaded
    pub rows: u64,
}

impl Method {
    /// `delta`, `resumed` (a delta from a killed night's load) or `full`,
    /// for the report.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Method::Delta {
                resumed: Some(_), ..
            } => "resumed",
            Method::Delta { .. } => "delta",
            Method::Full { .. } => "full",
        }
    }

    /// What a resumed delta keeps of a stopped night's load.
    #[must_use]
    pub fn resumed(&self) -> Option<&Resumed> {
        match self {
            Method::Delta { resumed, .. } => resumed.as_ref(),
            Method::Full { .. } => None,
        }
    }

    /// The reason for a full load.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        match self {
            Method::Delta { .. } => None,
            Method::Full { reason } => Some(reason),
        }
    }
}

/// What the whole night knows.
pub struct NightFacts<'a> {
    /// the state recorded with the last published night, if any
    pub previous: Option<&'a NightState>,
    /// this night's snapshot
    pub snapshot: &'a Snapshot,
    /// `refresh --full`
    pub full_requested: bool,
    /// schema files are applied this night (on the work branch, before the
    /// decision: only the tables they changed are reloaded, see
    /// [`TableFacts::base_hash`])
    pub schema_changed: bool,
    /// `--trust-source-history`: take deltas when the source's history
    /// cannot be proven continuous (never when it is proven broken)
    pub trust_unproven_history: bool,
}

/// What one table pair is, this night.
#[derive(Clone, Copy)]
pub struct TableFacts<'a> {
    /// the target table
    pub target: &'a str,
    /// the source table, `schema.table`
    pub source: &'a str,
    /// the source table's identity, if read
    pub identity: Option<&'a SourceIdentity>,
    /// how its values are converted and masked (`conversion_fingerprint`)
    pub conversion: &'a str,
    /// both sides have the same primary key
    pub keyed: bool,
    /// the target has a unique key besides the primary key
    pub other_unique_key: bool,
    /// `dolt_hashof_table` on the work branch before the load (after this
    /// night's schema files): it differs from the recorded hash when
    /// someone wrote to the table since the last published night, or a
    /// schema file changed its definition or rows (Dolt's table hash covers
    /// both)
    pub base_hash: Option<&'a str>,
    /// schema files were applied on the work branch this night
    pub migrated: bool,
}

/// Why no table can take a delta this night, if so.
#[must_use]
pub fn night_reason(facts: &NightFacts<'_>) -> Option<String> {
    if facts.full_requested {
        return Some("--full".to_string());
    }
    let Some(previous) = facts.previous else {
        return Some("the last published night recorded no delta state".to_string());
    };
    if previous.pg2dolt != env!("CARGO_PKG_VERSION") {
        return Some(format!(
            "the last published night was made by pg2dolt {}",
            previous.pg2dolt
        ));
    }
    if previous.format != FORMAT {
        return Some(format!(
            "the last published night recorded its state in format {} (now {FORMAT}: the source's WAL point)",
            previous.format
        ));
    }
    let Some(now) = facts.snapshot.transactions else {
        return Some("the source's transaction ids are unknown".to_string());
    };
    match continuity(previous, facts.snapshot) {
        Continuity::Broken(reason) => return Some(reason),
        Continuity::Unproven(reason) if !facts.trust_unproven_history => {
            return Some(format!(
                "{reason}; --trust-source-history takes deltas without that proof"
            ));
        }
        Continuity::Continuous | Continuity::Unproven(_) => {}
    }
    if now.xmax < previous.xmax {
        return Some(
            "the source's transaction ids went back since the last published night (restored or failed over)"
                .to_string(),
        );
    }
    if now.xmax.saturating_sub(previous.xmin) >= MAX_TRANSACTIONS_SINCE || previous.xmin > now.xmax
    {
        return Some("too many transactions since the last published night".to_string());
    }
    None
}

/// How `table` is loaded, once the night allows deltas (`previous` is the
/// last published night's state).
#[must_use]
pub fn table_method(previous: &NightState, table: &TableFacts<'_>) -> Method {
    let full = |reason: &str| Method::Full {
        reason: reason.to_string(),
    };
    if !table.keyed {
        return full("no primary key");
    }
    let Some(recorded) = previous.tables.get(table.target) else {
        return full("not in the last published night");
    };
    let Some(identity) = table.identity else {
        return full("the source table's definition could not be read");
    };
    match check_recorded(recorded, table, identity) {
        Some(reason) => full(reason),
        None => Method::Delta {
            filter: changed_since(previous.xmin),
            clear_first: table.other_unique_key,
            ranges: recorded
                .key_ranges
                .clone()
                .filter(|_| !table.other_unique_key),
            resumed: None,
        },
    }
}

fn check_recorded(
    recorded: &TableState,
    table: &TableFacts<'_>,
    identity: &SourceIdentity,
) -> Option<&'static str> {
    if recorded.source != table.source {
        return Some("copied from another source table than last night");
    }
    if recorded.oid != identity.oid {
        return Some("the source table was re-created");
    }
    if recorded.fingerprint != identity.fingerprint {
        return Some("the source table's definition changed");
    }
    if recorded.conversion != table.conversion {
        return Some("its conversion or masking changed");
    }
    if table.base_hash != Some(recorded.hash.as_str()) {
        return Some(if table.migrated {
            "a schema file applied this night changed it (or it was written to on the target)"
        } else {
            "the table was changed on the target since the last published night"
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::postgres::snapshot::TransactionRange;
    use crate::postgres::wal::{Lsn, TimelineSwitch, WalPoint};

    fn snapshot(xmin: u64, xmax: u64) -> Snapshot {
        Snapshot {
            id: "00000003-0000001B-1".into(),
            time: "2026-12-06T00:00:00Z".parse().unwrap(),
            wal_lsn: None,
            server_version: "15".into(),
            database: "app".into(),
            transactions: Some(TransactionRange { xmin, xmax }),
            system_identifier: Some("73".into()),
            wal: on_timeline(1, 2000, &[]),
        }
    }

    fn on_timeline(timeline: u32, position: u64, history: &[(u32, u64)]) -> WalPoint {
        WalPoint {
            standby: false,
            position: Some(Lsn(position)),
            timeline: Some(timeline),
            history: Some(
                history
                    .iter()
                    .map(|&(timeline, end)| TimelineSwitch {
                        timeline,
                        end: Lsn(end),
                    })
                    .collect(),
            ),
        }
    }

    fn previous() -> NightState {
        let mut tables = BTreeMap::new();
        tables.insert(
            "Track".to_string(),
            TableState {
                source: "public.track".into(),
                oid: 10,
                fingerprint: "f".into(),
                conversion: "c".into(),
                rows: 5,
                hash: "h".into(),
                key_ranges: None,
            },
        );
        NightState {
            format: FORMAT,
            pg2dolt: env!("CARGO_PKG_VERSION").into(),
            system_identifier: Some("73".into()),
            wal: on_timeline(1, 1000, &[]),
            xmin: 900,
            xmax: 905,
            tables,
        }
    }

    fn facts<'a>(previous: Option<&'a NightState>, snapshot: &'a Snapshot) -> NightFacts<'a> {
        NightFacts {
            previous,
            snapshot,
            full_requested: false,
            schema_changed: false,
            trust_unproven_history: false,
        }
    }

    #[test]
    fn a_night_takes_deltas_only_from_the_same_cluster_moving_forward() {
        let state = previous();
        let now = snapshot(950, 960);
        assert_eq!(night_reason(&facts(Some(&state), &now)), None);
        assert!(night_reason(&facts(None, &now)).is_some());
        let restored = snapshot(800, 850);
        assert!(
            night_reason(&facts(Some(&state), &restored))
                .unwrap()
                .contains("went back")
        );
        let mut other = snapshot(950, 960);
        other.system_identifier = Some("74".into());
        assert!(night_reason(&facts(Some(&state), &other)).is_some());
        let mut promoted = snapshot(950, 960);
        promoted.wal = on_timeline(2, 3000, &[(1, 900)]);
        assert!(
            night_reason(&facts(Some(&state), &promoted))
                .unwrap()
                .contains("timeline")
        );
        let far = snapshot(900 + (1 << 30), 901 + (1 << 30));
        assert!(night_reason(&facts(Some(&state), &far)).is_some());
        let mut older = previous();
        older.format = 1;
        assert!(
            night_reason(&facts(Some(&older), &now))
                .unwrap()
                .contains("format 1")
        );
        let mut full = facts(Some(&state), &now);
        full.full_requested = true;
        assert_eq!(night_reason(&full).as_deref(), Some("--full"));
    }

    #[test]
    fn a_failover_that_lost_transactions_reloads_however_many_transactions_followed() {
        // The last night read the old primary at WAL 1000 (xmax 905); the
        // promoted standby had received up to 900. As many transactions
        // after the failover as were lost (xmax 905 again), or more: the
        // transaction ids say nothing, the switch point does.
        let state = previous();
        for xmax in [905, 906, 5000] {
            let mut now = snapshot(xmax, xmax);
            now.wal = on_timeline(2, 1000, &[(1, 900)]);
            let reason = night_reason(&facts(Some(&state), &now)).unwrap();
            assert!(reason.contains("failed over or was restored"), "{reason}");
            let mut trusting = facts(Some(&state), &now);
            trusting.trust_unproven_history = true;
            assert!(
                night_reason(&trusting).is_some(),
                "a broken history trusted"
            );
        }
        // promoted without loss: the switch is past the night's position
        let mut now = snapshot(950, 960);
        now.wal = on_timeline(2, 1500, &[(1, 1200)]);
        assert_eq!(night_reason(&facts(Some(&state), &now)), None);
    }

    #[test]
    fn an_unproven_history_reloads_unless_the_operator_trusts_it() {
        let state = previous();
        let mut now = snapshot(950, 960);
        now.wal.history = None;
        now.wal.timeline = Some(2);
        let reason = night_reason(&facts(Some(&state), &now)).unwrap();
        assert!(reason.contains("--trust-source-history"), "{reason}");
        let mut trusting = facts(Some(&state), &now);
        trusting.trust_unproven_history = true;
        assert_eq!(night_reason(&trusting), None);
        let mut anonymous = snapshot(950, 960);
        anonymous.system_identifier = None;
        assert!(night_reason(&facts(Some(&state), &anonymous)).is_some());
    }

    /// The recorded table, unchanged.
    fn track(identity: &SourceIdentity) -> TableFacts<'_> {
        TableFacts {
            target: "Track",
            source: "public.track",
            identity: Some(identity),
            conversion: "c",
            keyed: true,
            other_unique_key: false,
            base_hash: Some("h"),
            migrated: false,
        }
    }

    #[test]
    fn a_delta_goes_by_the_recorded_key_ranges_unless_rows_are_cleared_first() {
        let mut state = previous();
        let ranges = KeyRanges {
            shift: 9,
            counts: [(0, 5)].into_iter().collect(),
        };
        state.tables.get_mut("Track").unwrap().key_ranges = Some(ranges.clone());
        let identity = SourceIdentity {
            oid: 10,
            fingerprint: "f".into(),
        };
        let table = track(&identity);
        let Method::Delta {
            ranges: recorded, ..
        } = table_method(&state, &table)
        else {
            panic!("not a delta");
        };
        assert_eq!(recorded, Some(ranges));
        let unique = TableFacts {
            other_unique_key: true,
            ..table
        };
        let Method::Delta {
            clear_first: true,
            ranges: None,
            ..
        } = table_method(&state, &unique)
        else {
            panic!("rows cleared first, then counted from scratch");
        };
    }

    #[test]
    fn a_table_takes_a_delta_only_when_nothing_but_rows_changed() {
        let state = previous();
        let identity = SourceIdentity {
            oid: 10,
            fingerprint: "f".into(),
        };
        let table = track(&identity);
        assert_eq!(
            table_method(&state, &table),
            Method::Delta {
                filter: "age(xmin) <= age('900'::xid)".into(),
                clear_first: false,
                ranges: None,
                resumed: None,
            }
        );
        // Schema files applied this night: only the tables they changed.
        let migrated = TableFacts {
            migrated: true,
            ..table
        };
        assert!(matches!(
            table_method(&state, &migrated),
            Method::Delta { .. }
        ));
        let cases: [(TableFacts<'_>, &str); 5] = [
            (
                TableFacts {
                    base_hash: Some("x"),
                    ..migrated
                },
                "a schema file applied this night changed it",
            ),
            (
                TableFacts {
                    keyed: false,
                    ..table
                },
                "no primary key",
            ),
            (
                TableFacts {
                    base_hash: Some("x"),
                    ..table
                },
                "changed on the target",
            ),
            (
                TableFacts {
                    conversion: "d",
                    ..table
                },
                "masking",
            ),
            (
                TableFacts {
                    target: "Album",
                    ..table
                },
                "not in the last",
            ),
        ];
        for (facts, reason) in cases {
            let method = table_method(&state, &facts);
            assert!(method.reason().unwrap().contains(reason), "{method:?}");
        }
        let recreated = SourceIdentity {
            oid: 11,
            ..identity.clone()
        };
        let method = table_method(
            &state,
            &TableFacts {
                identity: Some(&recreated),
                ..table
            },
        );
        assert!(method.reason().unwrap().contains("re-created"));
    }
}
