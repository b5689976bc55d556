//! A session on a refreshed database, for the commands that read or move
//! its published branch afterwards (rollback, history): the target must be
//! Dolt and the database must exist (exit 2 otherwise), and the branch
//! must exist.

use mysql_async::Conn;

use crate::dolt::refs::branch_head;
use crate::error::{FailureKind, failure};
use crate::mysql::TargetKind;
use crate::settings::PublishedSettings;

/// A session on the refreshed database.
pub async fn open_published(settings: &PublishedSettings) -> anyhow::Result<Conn> {
    let mut admin = crate::mysql::connect(&settings.target, None).await?;
    let server = crate::mysql::detect_server(&mut admin).await?;
    if server.kind != TargetKind::Dolt {
        return Err(failure(
            FailureKind::Usage,
            format!(
                "refreshed databases live on Dolt; the target is {}",
                server.describe()
            ),
        ));
    }
    if !crate::mysql::database_exists(&mut admin, &settings.database).await? {
        return Err(failure(
            FailureKind::Usage,
            format!("the target has no database {}", settings.database),
        ));
    }
    let _ = admin.disconnect().await;
    crate::mysql::connect(&settings.target, Some(&settings.database)).await
}

/// The head of the published branch (`--branch`); a missing branch is
/// exit 2.
pub async fn published_head(
    conn: &mut Conn,
    settings: &PublishedSettings,
) -> anyhow::Result<String> {
    let branch = &settings.branch.name;
    branch_head(conn, branch).await?.ok_or_else(|| {
        failure(
            FailureKind::Usage,
            format!(
                "database {} has no branch {branch} (--branch)",
                settings.database
            ),
        )
    })
}
