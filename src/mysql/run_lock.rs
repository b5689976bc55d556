//! One run per database at a time (issue 27): a refresh or rollback holds
//! the server's named lock `pg2dolt:<database>` (`GET_LOCK`, which Dolt
//! implements as MySQL does: go-mysql-server's `sql/expression/function/
//! lock.go` over its lock subsystem) on a session of its own for its whole
//! run. A second run finds it taken and stops at once (exit 8), naming the
//! holding session; a holder that died (SIGKILL, a lost node) lost its
//! session with its connection, and the lock with it, so the next run
//! takes it over.

use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tracing::info;

use super::TargetAddress;
use crate::error::{FailureKind, failure};

/// The lock a run holds; released by [`RunLock::release`] or when the run
/// ends (its session closes).
pub struct RunLock {
    conn: Conn,
}

/// The lock's name for `database` (a long name by its SHA-256: MySQL
/// limits lock names to 64 characters).
fn name(database: &str) -> String {
    let name = format!("pg2dolt:{database}");
    if name.len() <= 64 {
        name
    } else {
        format!(
            "pg2dolt:{}",
            &crate::digest::sha256_hex(database.as_bytes())[..56]
        )
    }
}

impl RunLock {
    /// Takes the lock on `database` for this run (`what` it is, for the
    /// message), or says who holds it (exit 8, nothing done).
    pub async fn take(
        target: &TargetAddress,
        database: &str,
        what: &str,
    ) -> anyhow::Result<RunLock> {
        let mut conn = super::connect(target, None).await?;
        let lock = name(database);
        // language=MySQL
        let got: Option<Option<i64>> = conn
            .exec_first("SELECT GET_LOCK(?, 0)", (lock.as_str(),))
            .await?;
        if got.flatten() == Some(1) {
            info!(database, lock = %lock, "this run holds the database's lock");
            return Ok(RunLock { conn });
        }
        // language=MySQL
        let holder: Option<Option<u64>> = conn
            .exec_first("SELECT IS_USED_LOCK(?)", (lock.as_str(),))
            .await?;
        let holder = holder.flatten();
        // language=MySQL
        let seen: Option<(Option<String>, Option<u64>)> = match holder {
            Some(id) => {
                conn.exec_first(
                    "SELECT HOST, TIME FROM information_schema.PROCESSLIST WHERE ID = ?",
                    (id,),
                )
                .await?
            }
            None => None,
        };
        let _ = conn.disconnect().await;
        let who = match (holder, seen) {
            (Some(id), Some((host, seconds))) => {
                let since = seconds.map_or_else(String::new, |seconds| {
                    format!(", holding it since {}", started(seconds))
                });
                format!(
                    " (server session {id} from {}{since})",
                    host.unwrap_or_else(|| "an unknown host".to_string())
                )
            }
            (Some(id), None) => format!(" (server session {id})"),
            _ => String::new(),
        };
        Err(failure(
            FailureKind::Busy,
            format!(
                "another pg2dolt run holds the lock on database {database}{who}: this {what} changed nothing; run it again once that run has ended"
            ),
        ))
    }

    /// Releases the lock (its session ends).
    pub async fn release(self) {
        let _ = self.conn.disconnect().await;
    }
}

/// The UTC time `seconds` ago, as `YYYY-MM-DDTHH:MM:SSZ`.
fn started(seconds: u64) -> String {
    let ago = jiff::SignedDuration::from_secs(i64::try_from(seconds).unwrap_or(i64::MAX));
    let now = jiff::Timestamp::now();
    crate::clock::format_utc(now.checked_sub(ago).unwrap_or(now))
}
