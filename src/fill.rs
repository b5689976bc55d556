//! A database being filled, on the target side (copy, restore, a refresh
//! night, verify's scratch branch): opened with the schema files applied
//! and the load route chosen, its catalog checked against the plan's,
//! completed once the rows are in (fix-ups, counters, counts, constraints)
//! and, on Dolt, committed. Each step returns what it did; the command's
//! phase list records it.

use anyhow::Context as _;
use mysql_async::Conn;

use crate::clock::SnapshotTime;
use crate::dolt::commit::commit_if_dolt;
use crate::error::{FailureKind, failure};
use crate::mysql::catalog::TargetTable;
use crate::mysql::completion::{Completion, ExpectedRows, apply_schema, complete};
use crate::mysql::load::{LoadRequest, Route, choose_route};
use crate::mysql::schema::ParsedSchemaFile;
use crate::mysql::{TargetAddress, TargetServer};
use crate::postgres::snapshot::Snapshot;
use crate::report::TableReport;
use crate::settings::Settings;

/// A database being filled.
pub struct Fill {
    /// a session on it
    pub conn: Conn,
    /// its name (`database/branch` on a branch)
    pub database: String,
    /// its tables after the schema files
    pub catalog: Vec<TargetTable>,
    /// how rows reach it
    pub route: Route,
    /// the server it is on
    pub server: TargetServer,
}

impl Fill {
    /// Connects to `database` (which exists), applies `files` and chooses
    /// the load route.
    pub async fn open(
        address: &TargetAddress,
        database: &str,
        files: &[ParsedSchemaFile],
        load: LoadRequest,
        server: &TargetServer,
    ) -> anyhow::Result<Fill> {
        let mut conn = crate::mysql::connect(address, Some(database)).await?;
        let catalog = apply_schema(&mut conn, database, files).await?;
        let route = choose_route(&mut conn, load, server.kind, &catalog).await?;
        Ok(Fill {
            conn,
            database: database.to_string(),
            catalog,
            route,
            server: server.clone(),
        })
    }

    /// The catalog is the one the plan was checked against (on a scratch
    /// database, from the same files).
    pub fn check_catalog(&self, planned: &[TargetTable]) -> anyhow::Result<()> {
        if self.catalog == planned {
            return Ok(());
        }
        Err(failure(
            FailureKind::Plan,
            format!(
                "the schema files made other tables in {} than in the scratch database the plan was checked on (do they depend on the server's state, or was the database changed by hand?)",
                self.database
            ),
        ))
    }

    /// After the rows are in: foreign-key fix-ups, AUTO_INCREMENT counters,
    /// each of `tables` holding its rows and, on Dolt, its constraints.
    pub async fn complete(&mut self, tables: &[TableReport]) -> anyhow::Result<Completion> {
        let expected: Vec<ExpectedRows<'_>> = tables
            .iter()
            .map(|table| ExpectedRows {
                label: &table.source,
                table: &table.target,
                rows: table.rows,
            })
            .collect();
        complete(&mut self.conn, &self.server, &self.catalog, &expected).await
    }

    /// The Dolt commit of the completed database (none elsewhere).
    pub async fn commit(&mut self, message: &CommitMessage) -> anyhow::Result<Option<String>> {
        commit_if_dolt(
            &mut self.conn,
            &self.server,
            &message.text,
            &message.author,
            &message.time,
        )
        .await
    }

    /// The Dolt commit a night needs (an error elsewhere).
    pub async fn commit_night(&mut self, message: &CommitMessage) -> anyhow::Result<String> {
        self.commit(message).await?.context("the night's commit")
    }

    /// Closes the session.
    pub async fn close(self) {
        let _ = self.conn.disconnect().await;
    }
}

/// A Dolt commit's message, author and date.
pub struct CommitMessage {
    /// the message
    pub text: String,
    /// `Name <email>`
    pub author: String,
    /// the snapshot's time: the commit's date
    pub time: SnapshotTime,
}

impl CommitMessage {
    /// `--commit-message`, else what was done (`what`: copy, refresh, a
    /// restore of …) from which Postgres database as of which snapshot;
    /// the masking rules' SHA-256 below it, so a change of rules shows in
    /// history.
    #[must_use]
    pub fn new(
        given: Option<&str>,
        author: &str,
        what: &str,
        snapshot: &Snapshot,
        mask_rules_sha256: Option<&str>,
    ) -> CommitMessage {
        let mut text = given.map_or_else(|| default_text(what, snapshot), str::to_string);
        if let Some(sha256) = mask_rules_sha256 {
            text = format!("{text}\n\nmasked by rules SHA-256 {sha256}");
        }
        CommitMessage {
            text,
            author: author.to_string(),
            time: snapshot.time,
        }
    }
}

impl CommitMessage {
    /// The message of a run over copy's settings (`what`: copy, refresh).
    #[must_use]
    pub fn of_run(settings: &Settings, what: &str, snapshot: &Snapshot) -> CommitMessage {
        let options = &settings.target_database;
        let rules = settings.masking.as_ref();
        let mut message = CommitMessage::new(
            options.commit_message.as_deref(),
            &options.author,
            what,
            snapshot,
            rules.map(|masking| masking.rules.sha256.as_str()),
        );
        if rules.is_none() && settings.unmask {
            message
                .text
                .push_str("\n\nunmasked (--unmask): masking was turned off; no column is masked");
        }
        message
    }
}

/// The Dolt commit message when none is given.
fn default_text(what: &str, snapshot: &Snapshot) -> String {
    let lsn = snapshot
        .wal_lsn
        .as_deref()
        .map_or_else(String::new, |lsn| format!(", WAL {lsn}"));
    format!(
        "pg2dolt: {what} of Postgres database {} as of {} (snapshot {}{lsn})",
        snapshot.database, snapshot.time, snapshot.id
    )
}
