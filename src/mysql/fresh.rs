//! The fresh target database, the one lifecycle copy, restore and a first
//! refresh night share:
//! created (an existing one dropped first with `--replace`), filled by the
//! command, then settled: kept whole when the fill succeeded, else dropped
//! unless `--keep-failed`, on a connection of its own (the run's may have
//! died with the server). A signal is one more failure here (with a
//! shorter time to drop in: a pod's grace period).

use std::time::Duration;

use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tracing::{info, warn};

use super::{TargetAddress, TargetKind};
use crate::signal::{Stop, interruption};

/// How long dropping an incomplete database may take after a signal (the
/// whole stop stays under ten seconds: a pod's grace period) and after a
/// failure.
pub const DROP_AFTER_SIGNAL: Duration = Duration::from_secs(5);
/// See [`DROP_AFTER_SIGNAL`].
pub const DROP_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// What the target database holds when the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetState {
    /// the run made it, whole: verified (and committed on Dolt)
    Complete,
    /// this run did not create it (an existing one was left as it was,
    /// unless --replace had dropped it)
    NotCreated,
    /// it was incomplete and has been dropped
    Dropped,
    /// it exists and holds a partial copy: kept by --keep-failed, or it
    /// could not be dropped
    Partial,
    /// refresh: the published branch was left as it was (the night failed
    /// or was held back before the publish)
    Untouched,
}

/// How a run left the target database: the state, the same for people,
/// and whether the run's summary is worth showing (it created, dropped or
/// wrote something: a database, a branch, a night).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetOutcome {
    /// what the database holds now
    pub state: TargetState,
    /// what happened to it and what to do, for people
    pub detail: String,
    /// the run changed something a person should read about
    pub show_summary: bool,
}

/// A target database this run created; settle it with [`FreshDatabase::settle`].
#[must_use = "a fresh database must be settled: kept, or dropped after a failure"]
pub struct FreshDatabase {
    target: TargetAddress,
    name: String,
}

impl FreshDatabase {
    /// Creates `name`, first dropping an existing one when `exists` (the
    /// caller has refused an existing database without `--replace`). On
    /// failure the error comes with what the target was left in.
    pub async fn create(
        admin: &mut Conn,
        target: &TargetAddress,
        name: &str,
        kind: TargetKind,
        exists: bool,
    ) -> Result<FreshDatabase, (anyhow::Error, TargetOutcome)> {
        if exists {
            warn!(database = %name, "dropping the existing target database");
            super::drop_database(admin, name)
                .await
                .map_err(|error| (error, not_created(name, false)))?;
        }
        super::create_database(admin, name, kind)
            .await
            .map_err(|error| (error, not_created(name, exists)))?;
        info!(database = %name, "target database created");
        Ok(FreshDatabase {
            target: target.clone(),
            name: name.to_string(),
        })
    }

    /// The database a failed run kept, taken over by this run (`copy
    /// --resume`): settled as if this run had created it.
    pub fn adopt(target: &TargetAddress, name: &str) -> FreshDatabase {
        FreshDatabase {
            target: target.clone(),
            name: name.to_string(),
        }
    }

    /// Runs `work` (the fill; a signal stops it), then settles the
    /// database as it ended: what it was left in, and how the fill ended.
    pub async fn fill<T>(
        self,
        stop: &Stop,
        keep_failed: bool,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> (TargetOutcome, anyhow::Result<T>) {
        let filled = stop.run(work).await;
        let outcome = self.settle(&filled, keep_failed).await;
        (outcome, filled)
    }

    /// After the fill: the database is complete when it succeeded; after a
    /// failure or a signal it is dropped (unless `keep_failed`).
    pub async fn settle<T>(self, filled: &anyhow::Result<T>, keep_failed: bool) -> TargetOutcome {
        let Err(error) = filled else {
            return TargetOutcome {
                state: TargetState::Complete,
                detail: format!("the target database {} holds the complete copy", self.name),
                show_summary: true,
            };
        };
        self.abandon(keep_failed, Self::limit(error)).await
    }

    /// After a failed fill, the database is kept on purpose: it holds
    /// work the next run continues from (`detail` says what, for people).
    #[must_use]
    pub fn keep(self, detail: String) -> TargetOutcome {
        TargetOutcome {
            state: TargetState::Partial,
            detail,
            show_summary: true,
        }
    }

    /// How long settling a failed fill may take: shorter after a signal.
    #[must_use]
    pub fn limit(error: &anyhow::Error) -> Duration {
        if interruption(error).is_some() {
            DROP_AFTER_SIGNAL
        } else {
            DROP_AFTER_FAILURE
        }
    }

    async fn abandon(self, keep_failed: bool, limit: Duration) -> TargetOutcome {
        let database = &self.name;
        let partial = |detail: String| TargetOutcome {
            state: TargetState::Partial,
            detail,
            show_summary: true,
        };
        if keep_failed {
            return partial(format!(
                "the target database {database} holds a partial copy (kept: --keep-failed)"
            ));
        }
        let dropped = tokio::time::timeout(limit, async {
            let mut admin = super::connect(&self.target, None).await?;
            // The aborted load may still hold its table: do not wait for it long.
            admin
                .query_drop(format!(
                    "SET SESSION lock_wait_timeout = {}",
                    limit.as_secs().saturating_sub(1).max(1)
                ))
                .await?;
            super::drop_database(&mut admin, database).await
        })
        .await;
        let failed = match dropped {
            Ok(Ok(())) => {
                return TargetOutcome {
                    state: TargetState::Dropped,
                    detail: format!(
                        "the incomplete target database {database} was dropped; a re-run starts clean"
                    ),
                    show_summary: true,
                };
            }
            Ok(Err(error)) => crate::error::one_line(&error),
            Err(_) => format!("it did not finish within {} s", limit.as_secs()),
        };
        partial(format!(
            "the target database {database} holds a partial copy: drop it before use (dropping it failed: {failed})"
        ))
    }
}

/// The run stopped before its database existed; `replaced`: an existing
/// one had been dropped (--replace).
#[must_use]
pub fn not_created(database: &str, replaced: bool) -> TargetOutcome {
    let note = if replaced {
        " (the existing one had already been dropped: --replace)"
    } else {
        ""
    };
    TargetOutcome {
        state: TargetState::NotCreated,
        detail: format!("the target database {database} was not created{note}"),
        show_summary: replaced,
    }
}
