//! pg2dolt's own tables in the target database: the schema files applied
//! (`schema_files`, `pg2dolt_schema_files`) and the masking baseline
//! (`mask_baseline`, `pg2dolt_mask_baseline`), both read by name so a
//! `db/branch` revision database works.

pub mod mask_baseline;
pub mod schema_files;

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use super::sql::quote_identifier;

/// The rows of pg2dolt's record `table` (`columns`, a select list) in
/// `database`, or `None` when the table (1146) or the database (1049: a
/// branch of a revision database that does not exist) is not there. Read
/// by name, not through information_schema: Dolt lists a `db/branch`
/// revision database there only to a session connected to it.
pub async fn read_record<T>(
    conn: &mut Conn,
    database: &str,
    table: &str,
    columns: &str,
) -> anyhow::Result<Option<Vec<T>>>
where
    T: mysql_async::prelude::FromRow + Send + 'static,
{
    // language=MySQL
    let read: Result<Vec<T>, _> = conn
        .query(format!(
            "SELECT {columns} FROM {}.{}",
            quote_identifier(database),
            quote_identifier(table)
        ))
        .await;
    match read {
        Ok(rows) => Ok(Some(rows)),
        Err(mysql_async::Error::Server(server)) if server.code == 1146 || server.code == 1049 => {
            Ok(None)
        }
        Err(error) => Err(error).with_context(|| format!("reading {table} in {database}")),
    }
}
