//! The Postgres side: connect, export one snapshot, read the catalog, stream
//! tables out with COPY. The source is never written to.

pub mod catalog;
pub mod ranges;
pub mod reader;
pub mod snapshot;
pub mod sql;
pub mod statement;
pub mod wal;

use std::sync::Arc;

use anyhow::Context as _;
use tokio_postgres::{Client, Config};

use self::reader::{GatedConnection, ReadGate, Reader};

use crate::tls::Tls;
use tracing::debug;

use crate::error::{FailureKind, failure};

/// Session settings that make Postgres print canonical text for every type.
// language=PostgreSQL
const SESSION_SETTINGS: &str = "SET TimeZone = 'UTC'; \
    SET DateStyle = 'ISO, YMD'; \
    SET IntervalStyle = 'iso_8601'; \
    SET extra_float_digits = 3; \
    SET bytea_output = 'hex'; \
    SET client_encoding = 'UTF8'; \
    SET statement_timeout = 0; \
    SET idle_in_transaction_session_timeout = 0";

/// How to reach the source: the driver's configuration and the TLS
/// settings (the driver knows only disable/prefer/require).
#[derive(Debug, Clone)]
pub struct SourceAddress {
    /// connection settings
    pub config: Config,
    /// TLS mode and CA file
    pub tls: Tls,
}

/// Opens a connection with pg2dolt's session settings. `role` names the
/// connection in logs (coordinator, reader 2, …).
pub async fn connect(address: &SourceAddress, role: &str) -> anyhow::Result<Client> {
    Ok(connect_reader(address, role).await?.client)
}

/// [`connect`], keeping the gate that lets [`reader::copy_rows`] read the
/// socket only on demand.
pub async fn connect_reader(address: &SourceAddress, role: &str) -> anyhow::Result<Reader> {
    let connector = crate::tls::postgres_connector(&address.tls).map_err(|error| {
        failure(
            FailureKind::Usage,
            format!("source TLS: {}", crate::error::one_line(&error)),
        )
    })?;
    let (client, connection) = address.config.connect(connector).await.map_err(|error| {
        failure(
            FailureKind::Connect,
            format!(
                "cannot connect to the Postgres source: {}{}",
                describe_pg_error(&error),
                crate::tls::hint(&error.to_string(), "--source-ca-file (or sslrootcert=)")
            ),
        )
    })?;
    let role_name = role.to_string();
    let gate = Arc::new(ReadGate::default());
    let connection = GatedConnection {
        connection: Box::pin(connection),
        gate: Arc::clone(&gate),
    };
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            debug!(connection = %role_name, %error, "postgres connection ended");
        }
    });
    client
        .batch_execute(SESSION_SETTINGS)
        .await
        .with_context(|| format!("setting up the {role} session"))?;
    Ok(Reader { client, gate })
}

/// The first column of the first row of a simple query, as text (`None`:
/// no row, or NULL).
pub async fn first_text(
    client: &Client,
    query: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    let messages = client.simple_query(query).await?;
    Ok(messages
        .iter()
        .find_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_string)),
            _ => None,
        })
        .flatten())
}

/// A Postgres error as an anyhow error carrying [`describe_pg_error`]'s line.
#[must_use]
pub fn pg_error(error: &tokio_postgres::Error) -> anyhow::Error {
    anyhow::anyhow!("{}", describe_pg_error(error))
}

/// A Postgres error as one line: the server's message when there is one, the
/// driver's otherwise (never the connection string).
#[must_use]
pub fn describe_pg_error(error: &tokio_postgres::Error) -> String {
    if let Some(database_error) = error.as_db_error() {
        return format!(
            "{} ({})",
            database_error.message(),
            database_error.code().code()
        );
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
