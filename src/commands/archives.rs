//! `pg2dolt archives LOCATION`: the archived copies there, newest first,
//! with their time, tables, rows and size (a table on stdout, or JSON).

use std::io::Write as _;

use serde::Serialize;

use crate::archive::store::{Location, MIN_PART_SIZE, Store};
use crate::archive::{MANIFEST, Manifest};
use crate::cli::{ArchivesArgs, LoggingArgs, OutputFormat};
use crate::error::{FailureKind, failure};
use crate::output::Output;

/// One archived copy, as listed.
#[derive(Debug, Serialize)]
struct Listed {
    /// what `restore --from` takes
    location: String,
    key: String,
    snapshot_time: String,
    source_database: String,
    tables: usize,
    rows: u64,
    bytes: u64,
}

/// Lists the archives; returns the exit code.
pub async fn run(arguments: &ArchivesArgs, logging: &LoggingArgs) -> u8 {
    let output = Output::new(logging.log_format, None);
    match list(arguments).await {
        Ok(()) => 0,
        Err(error) => output.error(&error),
    }
}

async fn list(arguments: &ArchivesArgs) -> anyhow::Result<()> {
    let location =
        Location::parse(&arguments.location).map_err(|error| failure(FailureKind::Usage, error))?;
    let store = Store::open(&location, arguments.s3_path_style, MIN_PART_SIZE).await?;
    let mut listed = Vec::new();
    for key in store.list_archives().await? {
        let Ok(bytes) = store.get(&format!("{key}/{MANIFEST}")).await else {
            continue; // an archive still being written, or not one of ours
        };
        let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) else {
            continue;
        };
        listed.push(Listed {
            location: format!("{location}{key}/"),
            key,
            snapshot_time: manifest.snapshot.time.to_string(),
            source_database: manifest.snapshot.database,
            tables: manifest.tables.len(),
            rows: manifest.rows_total,
            bytes: manifest.bytes_total,
        });
    }
    listed.sort_by(|left, right| right.snapshot_time.cmp(&left.snapshot_time));
    let mut stdout = std::io::stdout();
    match arguments.format {
        OutputFormat::Json => {
            writeln!(stdout, "{}", serde_json::to_string_pretty(&listed)?)?;
        }
        OutputFormat::Text => {
            writeln!(
                stdout,
                "{:<28} {:<20} {:>7} {:>12} {:>10}  location",
                "snapshot time", "source database", "tables", "rows", "MB"
            )?;
            for archive in &listed {
                writeln!(
                    stdout,
                    "{:<28} {:<20} {:>7} {:>12} {:>10.1}  {}",
                    archive.snapshot_time,
                    archive.source_database,
                    archive.tables,
                    archive.rows,
                    archive.bytes as f64 / 1_048_576.0,
                    archive.location
                )?;
            }
        }
    }
    Ok(())
}
