//! Whether the source's history since the last published night is
//! continuous: every transaction that night saw is still in the source's
//! past. A delta reads only the row versions written since that night's
//! snapshot, so it is exact only then. A failover to a standby that had not
//! received everything, or a restore to an earlier point in time, forks the
//! history: the new server hands out the lost transactions' ids again, so
//! transaction ids alone cannot tell (issue 31).
//!
//! The proof is PostgreSQL's own record of its history: a timeline is one
//! unbroken stretch of WAL, and each new one (a promotion, the end of a
//! point-in-time recovery) starts with a history file naming its ancestors
//! and the WAL position where each ended (PostgreSQL's documentation,
//! "Continuous Archiving and Point-in-Time Recovery", Timelines). The last
//! night recorded its timeline and a WAL position past every transaction it
//! saw (`postgres::wal`); its history continues into tonight's when tonight's
//! timeline is the same one at or past that position, or descends from it
//! through a switch at or past that position. Pure: the facts come in.

use super::state::NightState;
use crate::postgres::snapshot::Snapshot;
use crate::postgres::wal::{Lsn, TimelineSwitch, WalPoint, history_file};
use crate::report::{SourceHistory, Verdict};

/// What the evidence says of the source's history since the last night.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Continuity {
    /// proven continuous: deltas are exact
    Continuous,
    /// proven broken (a fork, a restore, another cluster): every table
    /// reloads, whatever the flags
    Broken(String),
    /// the role could not read enough to prove it: every table reloads
    /// unless the operator accepts the risk (`--trust-source-history`)
    Unproven(String),
}

impl Continuity {
    /// The verdict without its reason.
    #[must_use]
    pub fn verdict(&self) -> Verdict {
        match self {
            Continuity::Continuous => Verdict::Continuous,
            Continuity::Broken(_) => Verdict::Broken,
            Continuity::Unproven(_) => Verdict::Unproven,
        }
    }
}

/// The report's form of `continuity` (`refresh.source_history`).
#[must_use]
pub fn source_history(continuity: &Continuity, trust_unproven: bool) -> SourceHistory {
    let reason = match continuity {
        Continuity::Continuous => None,
        Continuity::Broken(reason) | Continuity::Unproven(reason) => Some(reason.clone()),
    };
    let verdict = continuity.verdict();
    SourceHistory {
        verdict,
        reason,
        trusted: trust_unproven && verdict == Verdict::Unproven,
    }
}

/// Tonight's source against the last published night's record.
#[must_use]
pub fn continuity(previous: &NightState, now: &Snapshot) -> Continuity {
    match (&previous.system_identifier, &now.system_identifier) {
        (Some(was), Some(is)) if was != is => {
            return Continuity::Broken(format!(
                "the source is not the cluster of the last published night (system identifier {is}, was {was})"
            ));
        }
        (Some(_), Some(_)) => {}
        _ => {
            return Continuity::Unproven(
                "the source's system identifier cannot be read (pg_control_system())".to_string(),
            );
        }
    }
    wal_continuity(&previous.wal, &now.wal)
}

/// The WAL part of [`continuity`].
#[must_use]
pub fn wal_continuity(was: &WalPoint, now: &WalPoint) -> Continuity {
    let (Some(was_timeline), Some(was_position)) = (was.timeline, was.position) else {
        return Continuity::Unproven(
            "the last published night recorded no timeline and WAL position of the source"
                .to_string(),
        );
    };
    let Some(timeline) = now.timeline else {
        return Continuity::Unproven(unreadable_timeline(now));
    };
    let Some(position) = now.position else {
        return Continuity::Unproven("the source's WAL position cannot be read".to_string());
    };
    let behind = || {
        Continuity::Broken(format!(
            "the source is behind the last published night (WAL position {position}, was {was_position}): \
             restored to an earlier point, or a replica that lags"
        ))
    };
    if timeline == was_timeline {
        if position < was_position {
            return behind();
        }
        return match (&was.history, &now.history) {
            (Some(recorded), Some(current)) if recorded != current => Continuity::Broken(format!(
                "timeline {timeline}'s history differs from the last published night's: \
                 another server was promoted onto the same timeline number"
            )),
            _ => Continuity::Continuous,
        };
    }
    if timeline < was_timeline {
        return Continuity::Broken(format!(
            "the source is on timeline {timeline}, older than the last published night's {was_timeline}: \
             restored from an earlier backup"
        ));
    }
    let Some(history) = &now.history else {
        if position < was_position {
            return behind();
        }
        return Continuity::Unproven(format!(
            "the source moved from timeline {was_timeline} to {timeline} since the last published night, \
             and this role may not read {} (pg_read_file) to prove no transaction was lost",
            history_file(timeline)
        ));
    };
    descends(history, was, was_timeline, was_position, timeline)
}

/// Whether `timeline` (with its `history`) descends from the recorded
/// point through switches at or past it.
fn descends(
    history: &[TimelineSwitch],
    was: &WalPoint,
    was_timeline: u32,
    was_position: Lsn,
    timeline: u32,
) -> Continuity {
    let Some(switch) = history
        .iter()
        .find(|switch| switch.timeline == was_timeline)
    else {
        return Continuity::Broken(format!(
            "timeline {was_timeline} of the last published night is not an ancestor of the source's timeline {timeline}"
        ));
    };
    if switch.end < was_position {
        return Continuity::Broken(format!(
            "the source failed over or was restored to a point before the last published night: \
             timeline {was_timeline} ended at WAL position {} in the history of timeline {timeline}, \
             before the night's {was_position}; transactions that night saw may be lost",
            switch.end
        ));
    }
    // The recorded ancestors must be the same switches (another fork that
    // reused a timeline number has other switch points).
    if let Some(recorded) = &was.history {
        if recorded.iter().any(|old| !history.contains(old)) {
            return Continuity::Broken(format!(
                "the history of timeline {timeline} is not the one the last published night's timeline {was_timeline} had"
            ));
        }
    }
    Continuity::Continuous
}

/// Why `now`'s timeline is unknown, and what would let pg2dolt read it.
fn unreadable_timeline(now: &WalPoint) -> String {
    if now.standby {
        "the source is a standby whose timeline this role cannot read \
         (pg_stat_wal_receiver.received_tli: grant the role pg_read_all_stats; the standby's WAL receiver must be running)"
            .to_string()
    } else {
        "the source's timeline cannot be read (pg_walfile_name(pg_current_wal_insert_lsn()))"
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(timeline: u32, position: u64, history: Option<&[(u32, u64)]>) -> WalPoint {
        WalPoint {
            standby: false,
            position: Some(Lsn(position)),
            timeline: Some(timeline),
            history: history.map(|switches| {
                switches
                    .iter()
                    .map(|&(timeline, end)| TimelineSwitch {
                        timeline,
                        end: Lsn(end),
                    })
                    .collect()
            }),
        }
    }

    fn verdict(was: &WalPoint, now: &WalPoint) -> Verdict {
        wal_continuity(was, now).verdict()
    }

    #[test]
    fn the_same_timeline_moving_forward_is_continuous() {
        let night = point(1, 1000, Some(&[]));
        assert_eq!(
            verdict(&night, &point(1, 1000, Some(&[]))),
            Verdict::Continuous
        );
        assert_eq!(
            verdict(&night, &point(1, 5000, Some(&[]))),
            Verdict::Continuous
        );
        // a replica that lags, a restore paused in recovery
        assert_eq!(verdict(&night, &point(1, 999, Some(&[]))), Verdict::Broken);
    }

    #[test]
    fn a_failover_to_a_standby_that_lost_transactions_is_broken_however_many_came_after() {
        // Night 2 read the old primary at 5000; the standby had received up
        // to 4000 when promoted. Positions (and transaction ids) after the
        // failover may pass the night's: only the switch point tells.
        let night = point(1, 5000, Some(&[]));
        for now in [4500, 5000, 5001, 90_000] {
            let promoted = point(2, now, Some(&[(1, 4000)]));
            let Continuity::Broken(reason) = wal_continuity(&night, &promoted) else {
                panic!("not broken at {now}");
            };
            assert!(
                reason.contains("timeline 1 ended at WAL position 0/FA0"),
                "{reason}"
            );
        }
    }

    #[test]
    fn a_point_in_time_restore_to_before_the_night_is_broken() {
        let night = point(1, 5000, Some(&[]));
        // restored to 3000 (before the night), then written on: timeline 2
        assert_eq!(
            verdict(&night, &point(2, 8000, Some(&[(1, 3000)]))),
            Verdict::Broken
        );
        // restored to after the night: nothing the night saw was lost
        assert_eq!(
            verdict(&night, &point(2, 8000, Some(&[(1, 6000)]))),
            Verdict::Continuous
        );
        // restored from an older backup whose timeline number is lower
        assert_eq!(
            verdict(&point(3, 5000, None), &point(2, 8000, None)),
            Verdict::Broken
        );
    }

    #[test]
    fn a_promotion_without_loss_is_continuous_even_through_several_timelines() {
        // nights read a hot standby at 5000; it was promoted at 5200
        let mut night = point(1, 5000, Some(&[]));
        night.standby = true;
        assert_eq!(
            verdict(&night, &point(2, 6000, Some(&[(1, 5200)]))),
            Verdict::Continuous
        );
        let on_two = point(2, 6000, Some(&[(1, 5200)]));
        assert_eq!(
            verdict(&on_two, &point(3, 9000, Some(&[(1, 5200), (2, 7000)]))),
            Verdict::Continuous
        );
        // the same number on another fork: other switch points
        assert_eq!(
            verdict(&on_two, &point(3, 9000, Some(&[(1, 5100), (2, 7000)]))),
            Verdict::Broken
        );
        assert_eq!(
            verdict(&on_two, &point(2, 9000, Some(&[(1, 5100)]))),
            Verdict::Broken
        );
        // a timeline that is not an ancestor
        assert_eq!(
            verdict(&on_two, &point(4, 9000, Some(&[(1, 5200), (3, 7000)]))),
            Verdict::Broken
        );
    }

    #[test]
    fn what_the_role_cannot_read_is_unproven_never_continuous() {
        let night = point(1, 5000, Some(&[]));
        // a new timeline whose history the role may not read
        let Continuity::Unproven(reason) = wal_continuity(&night, &point(2, 6000, None)) else {
            panic!("proven without a history");
        };
        assert!(reason.contains("pg_wal/00000002.history"), "{reason}");
        // a standby without pg_read_all_stats
        let mut standby = point(1, 6000, None);
        standby.timeline = None;
        standby.standby = true;
        let Continuity::Unproven(reason) = wal_continuity(&night, &standby) else {
            panic!("proven without a timeline");
        };
        assert!(reason.contains("pg_read_all_stats"), "{reason}");
        // a night recorded without a point
        assert_eq!(
            verdict(&WalPoint::default(), &point(1, 6000, Some(&[]))),
            Verdict::Unproven
        );
    }
}
