//! Loads rows, always encoded as LOAD DATA text, into one target table
//! inside one transaction: `LOAD DATA LOCAL INFILE` fed from a stream
//! (never a temp file), or multi-row INSERTs whose tuples are derived from
//! that text here (Dolt's default, and when the server refuses LOCAL). Any
//! warning is an error: MySQL turns data errors into warnings under LOAD
//! DATA LOCAL.

use std::io;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use futures_util::StreamExt as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tokio::sync::mpsc;

use crate::convert::frame::RowSplitter;
use crate::convert::mysql_text::tuple_from_load_data;
use crate::mysql::sql::quote_identifier;

pub use super::route::{LoadMethod, LoadRequest, Route, choose_route};
use super::route::{local_refused_error, refused_local};

/// Chunks of LOAD DATA text rows (a row may span chunks); an `Err` aborts
/// the load.
pub type Chunks = mpsc::Receiver<io::Result<Bytes>>;

/// Chunks in flight between whoever produces rows and the load (and the
/// archive): the bound that turns a slow target into backpressure.
pub const CHUNKS_IN_FLIGHT: usize = 8;

/// A bounded channel of chunks for one load (or one archive file).
#[must_use]
pub fn chunk_channel() -> (mpsc::Sender<io::Result<Bytes>>, Chunks) {
    mpsc::channel(CHUNKS_IN_FLIGHT)
}

/// The most bytes handed to the driver at once under LOAD DATA.
const INFILE_SLICE: usize = 1024 * 1024;

/// One column to load.
#[derive(Debug, Clone)]
pub struct LoadColumn {
    /// target column name
    pub name: String,
    /// values arrive as hex and go through `UNHEX`
    pub binary: bool,
}

/// The LOAD DATA statement for `table`. Binary columns are read into user
/// variables and decoded with `UNHEX`, so no character set conversion can
/// touch raw bytes. When any column needs a SET clause, every column goes
/// through a variable: MariaDB (10.11, checked with its own client) gives a
/// row whose AUTO_INCREMENT column reads 0 a new id when the statement has
/// a SET clause and that column is loaded directly, whatever
/// `NO_AUTO_VALUE_ON_ZERO` says; assigned from a variable it keeps 0.
#[must_use]
pub fn load_data_statement(table: &str, columns: &[LoadColumn]) -> String {
    let through_variables = columns.iter().any(|column| column.binary);
    let mut targets = Vec::new();
    let mut assignments = Vec::new();
    for (index, column) in columns.iter().enumerate() {
        let name = quote_identifier(&column.name);
        if !through_variables {
            targets.push(name);
            continue;
        }
        let variable = format!("@pg2dolt_{index}");
        assignments.push(if column.binary {
            format!("{name} = UNHEX({variable})")
        } else {
            format!("{name} = {variable}")
        });
        targets.push(variable);
    }
    // language=MySQL
    let mut statement = format!(
        "LOAD DATA LOCAL INFILE 'pg2dolt-stream' INTO TABLE {} CHARACTER SET utf8mb4 \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
        quote_identifier(table),
        targets.join(", ")
    );
    if !assignments.is_empty() {
        statement.push_str(" SET ");
        statement.push_str(&assignments.join(", "));
    }
    statement
}

/// Loads every chunk of LOAD DATA text rows into `table` in one transaction; returns the rows the
/// server says it stored. On error the transaction is rolled back.
pub async fn load_table(
    conn: &mut Conn,
    route: Route,
    table: &str,
    columns: &[LoadColumn],
    chunks: Chunks,
) -> anyhow::Result<u64> {
    conn.query_drop("START TRANSACTION")
        .await
        .context("starting the load transaction")?;
    let loaded = match route.method {
        LoadMethod::LoadData => load_data(conn, table, columns, chunks).await,
        LoadMethod::Insert => {
            insert_rows(conn, table, columns, route.insert_bytes, chunks, None).await
        }
        LoadMethod::Upsert => {
            let update = upsert_clause(columns);
            insert_rows(
                conn,
                table,
                columns,
                route.insert_bytes,
                chunks,
                Some(&update),
            )
            .await
        }
    };
    match loaded {
        Ok(rows) => {
            conn.query_drop("COMMIT")
                .await
                .context("committing the load")?;
            Ok(rows)
        }
        Err(error) => {
            // Best effort: the run fails with the load's error either way.
            let _ = conn.query_drop("ROLLBACK").await;
            Err(error)
        }
    }
}

async fn load_data(
    conn: &mut Conn,
    table: &str,
    columns: &[LoadColumn],
    chunks: Chunks,
) -> anyhow::Result<u64> {
    // The handler future must be Sync: it captures only the receiver and
    // builds the (non-Sync) stream when polled. Chunks go out in slices:
    // the driver copies each piece it writes into a pooled buffer, and a
    // row of 48 MB should not be copied whole.
    conn.set_infile_handler(async move {
        Ok(futures_util::stream::unfold(
            (chunks, Bytes::new()),
            |(mut receiver, mut rest)| async move {
                if rest.is_empty() {
                    match receiver.recv().await? {
                        Ok(chunk) => rest = chunk,
                        Err(error) => return Some((Err(error), (receiver, rest))),
                    }
                }
                let piece = rest.split_to(rest.len().min(INFILE_SLICE));
                Some((Ok(piece), (receiver, rest)))
            },
        )
        .boxed())
    });
    let statement = load_data_statement(table, columns);
    if let Err(error) = conn.query_drop(statement.as_str()).await {
        if let Some(message) = refused_local(&error) {
            return Err(local_refused_error(message));
        }
        return Err(anyhow::Error::new(error).context("LOAD DATA failed"));
    }
    let rows = conn.affected_rows();
    check_warnings(conn).await?;
    Ok(rows)
}

/// `ON DUPLICATE KEY UPDATE` of every column loaded (`VALUES(c)`: MariaDB
/// and Dolt both take it). A key column set to itself changes nothing.
fn upsert_clause(columns: &[LoadColumn]) -> String {
    let assignments: Vec<String> = columns
        .iter()
        .map(|column| {
            let name = quote_identifier(&column.name);
            format!("{name} = VALUES({name})")
        })
        .collect();
    format!(" ON DUPLICATE KEY UPDATE {}", assignments.join(", "))
}

/// The INSERT route: the LOAD DATA text rows, framed and turned into
/// tuples here, go out as statements of about `statement_bytes`; with
/// `upsert` (an `ON DUPLICATE KEY UPDATE` clause) each statement updates
/// the rows whose key is there already, and the rows sent are returned
/// (the server counts an updated row twice and an unchanged one not at all).
async fn insert_rows(
    conn: &mut Conn,
    table: &str,
    columns: &[LoadColumn],
    statement_bytes: usize,
    mut chunks: Chunks,
    upsert: Option<&str>,
) -> anyhow::Result<u64> {
    let names: Vec<String> = columns
        .iter()
        .map(|column| quote_identifier(&column.name))
        .collect();
    let binary: Vec<bool> = columns.iter().map(|column| column.binary).collect();
    // language=MySQL
    let prefix = format!(
        "INSERT INTO {} ({}) VALUES ",
        quote_identifier(table),
        names.join(", ")
    );
    let suffix = upsert.unwrap_or("");
    let mut splitter = RowSplitter::default();
    let mut tuples: Vec<u8> = Vec::new();
    let mut full: Vec<(Vec<u8>, u64)> = Vec::new();
    let (mut rows, mut in_tuples) = (0, 0);
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk.context("reading rows for INSERT")?;
        splitter
            .push(&chunk, |row| {
                tuple_from_load_data(&mut tuples, row, &binary)?;
                in_tuples += 1;
                if tuples.len() >= statement_bytes {
                    full.push((std::mem::take(&mut tuples), in_tuples));
                    in_tuples = 0;
                }
                Ok::<_, &str>(())
            })
            .map_err(|error| anyhow::anyhow!("{table}: {error}"))?;
        drop(chunk);
        for (tuples, sent) in full.drain(..) {
            let stored = insert(conn, &prefix, tuples, suffix).await?;
            rows += if upsert.is_some() { sent } else { stored };
        }
    }
    anyhow::ensure!(
        splitter.pending() == 0,
        "{table}: the rows end in the middle of a row"
    );
    if !tuples.is_empty() {
        let stored = insert(conn, &prefix, tuples, suffix).await?;
        rows += if upsert.is_some() { in_tuples } else { stored };
    }
    Ok(rows)
}

/// One INSERT statement: `prefix`, the tuples and `suffix`; returns the
/// rows the server says it changed.
async fn insert(
    conn: &mut Conn,
    prefix: &str,
    tuples: Vec<u8>,
    suffix: &str,
) -> anyhow::Result<u64> {
    let tuples = String::from_utf8(tuples).context("INSERT text is not UTF-8")?;
    let mut statement = String::with_capacity(prefix.len() + tuples.len() + suffix.len());
    statement.push_str(prefix);
    statement.push_str(&tuples);
    statement.push_str(suffix);
    drop(tuples);
    conn.query_drop(statement).await.context("INSERT failed")?;
    check_warnings(conn).await?;
    Ok(conn.affected_rows())
}

/// Fails when the last statement left warnings, showing the first ones.
async fn check_warnings(conn: &mut Conn) -> anyhow::Result<()> {
    let count = conn.get_warnings();
    if count == 0 {
        return Ok(());
    }
    let warnings: Vec<(String, u32, String)> = conn
        .query("SHOW WARNINGS LIMIT 5")
        .await
        .unwrap_or_default();
    let shown: Vec<String> = warnings
        .iter()
        .map(|(level, code, message)| format!("{level} {code}: {message}"))
        .collect();
    bail!(
        "the target reported {count} warning(s), treated as errors: {}",
        shown.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upsert_updates_every_column_loaded() {
        let columns = [
            LoadColumn {
                name: "id".into(),
                binary: false,
            },
            LoadColumn {
                name: "na`me".into(),
                binary: false,
            },
        ];
        assert_eq!(
            upsert_clause(&columns),
            " ON DUPLICATE KEY UPDATE `id` = VALUES(`id`), `na``me` = VALUES(`na``me`)"
        );
    }

    #[test]
    fn binary_columns_go_through_unhex_and_every_column_through_a_variable() {
        let statement = load_data_statement(
            "Blobs",
            &[
                LoadColumn {
                    name: "id".into(),
                    binary: false,
                },
                LoadColumn {
                    name: "data".into(),
                    binary: true,
                },
            ],
        );
        assert_eq!(
            statement,
            "LOAD DATA LOCAL INFILE 'pg2dolt-stream' INTO TABLE `Blobs` CHARACTER SET utf8mb4 \
             FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (@pg2dolt_0, @pg2dolt_1) \
             SET `id` = @pg2dolt_0, `data` = UNHEX(@pg2dolt_1)"
        );
    }
}
