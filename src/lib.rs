//! pg2dolt: a point-in-time copy of a PostgreSQL database as a fresh Dolt
//! (or MySQL/MariaDB) database, and its nightly refresh.
//!
//! Layers, each using only those below it:
//! - `cli` (flags) → `commands/` (one module per command, its phase list)
//!   → `run` (the run driver: output, signals, the private Dolt server,
//!   the report assembled from what the phases did), `output` (how a
//!   command's end is told), `settings` (flags resolved once);
//! - the refresh domain, `nightly` (marks, the work branch, deltas, the
//!   publish, the comparison with a snapshot);
//! - the phases: `preflight` (snapshot, catalogs, the plan and its
//!   checks), `copy` (the transfer; `copy::phase` as commands call it),
//!   `fill` (a database being filled: schema, completion, commit),
//!   `archive` (archives written, listed, loaded), `report` (the JSON
//!   report and the summary), `draft` (schema files drafted);
//! - `dolt` (Dolt's version control: the private server, refs, moves,
//!   diff, commit) over `mysql` (the target database: Dolt, MySQL,
//!   MariaDB, and pg2dolt's record tables), and `postgres` (the source);
//!   `plan`, `checks`, `mask`, `selection` over the two sides;
//! - the pure core, `convert` (COPY text in, LOAD DATA text out), and
//!   `column_types`;
//! - leaves: `error` (exit codes), `signal`, `logging`, `redact`, `clock`,
//!   `digest`, `pool`, `progress`, `tls`.

pub mod archive;
pub mod checks;
pub mod cli;
pub mod clock;
pub mod column_types;
pub mod commands;
pub mod convert;
pub mod copy;
pub mod digest;
pub mod dolt;
pub mod draft;
pub mod error;
pub mod fill;
pub mod logging;
pub mod mask;
pub mod mysql;
pub mod nightly;
pub mod output;
pub mod plan;
pub mod pool;
pub mod postgres;
pub mod preflight;
pub mod progress;
pub mod redact;
pub mod report;
pub mod run;
pub mod selection;
pub mod settings;
pub mod signal;
pub mod tls;

use crate::cli::{Command, LoggingArgs};

/// Runs a command to the end and returns the exit code. Errors are
/// printed once, on one line, with every secret redacted. (Commands are
/// boxed: their futures are too large for the stack.)
pub async fn run(command: Command, logging: &LoggingArgs) -> u8 {
    match command {
        Command::Copy(arguments) => Box::pin(commands::copy::run(&arguments, logging)).await,
        Command::Plan(arguments) => Box::pin(commands::plan::run(&arguments, logging)).await,
        Command::Restore(arguments) => Box::pin(commands::restore::run(&arguments, logging)).await,
        Command::Refresh(arguments) => Box::pin(commands::refresh::run(&arguments, logging)).await,
        Command::Verify(arguments) => Box::pin(commands::verify::run(&arguments, logging)).await,
        Command::Rollback(arguments) => commands::rollback::run(&arguments, logging).await,
        Command::History(arguments) => commands::history::run(&arguments, logging).await,
        Command::Archives(arguments) => commands::archives::run(&arguments, logging).await,
        Command::Schema(arguments) => commands::schema::run(&arguments, logging).await,
    }
}
