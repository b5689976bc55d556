//! pg2dolt: a point-in-time copy of a PostgreSQL database as a fresh Dolt
//! (or MySQL/MariaDB) database.
//!
//! Layers, each using only those below it:
//! - `cli` (flags) → `commands/` (one module per command, its phase list)
//!   → `output` (how a command's end is told), `settings` (flags resolved);
//! - the phases: `preflight` (snapshot, catalogs, the plan and its checks),
//!   `copy` (the transfer), `archive` (archives written, listed, loaded),
//!   `report` (the JSON report and the summary);
//! - `plan`, `checks`, `selection` over the two sides: `postgres` (the
//!   source) and `mysql` (the target: Dolt, MySQL, MariaDB);
//! - the pure core, `convert` (COPY text in, LOAD DATA text out), and
//!   `types`;
//! - leaves: `error` (exit codes), `signal`, `logging`, `redact`, `clock`,
//!   `tls`.

pub mod archive;
pub mod checks;
pub mod cli;
pub mod clock;
pub mod column_types;
pub mod commands;
pub mod convert;
pub mod copy;
pub mod digest;
pub mod draft;
pub mod error;
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
pub mod selection;
pub mod settings;
pub mod signal;
pub mod tls;

use crate::cli::Command;

/// Runs a command to the end and returns the exit code. Errors are
/// printed once, on one line, with every secret redacted. (Commands are
/// boxed: their futures are too large for the stack.)
pub async fn run(command: Command) -> u8 {
    match command {
        Command::Copy(arguments) => Box::pin(commands::copy::run(&arguments)).await,
        Command::Plan(arguments) => Box::pin(commands::plan::run(&arguments)).await,
        Command::Restore(arguments) => Box::pin(commands::restore::run(&arguments)).await,
        Command::Refresh(arguments) => Box::pin(commands::refresh::run(&arguments)).await,
        Command::Verify(arguments) => Box::pin(commands::verify::run(&arguments)).await,
        Command::Rollback(arguments) => commands::rollback::run(&arguments).await,
        Command::History(arguments) => commands::history::run(&arguments).await,
        Command::Archives(arguments) => commands::archives::run(&arguments).await,
        Command::Schema(arguments) => commands::schema::run(&arguments).await,
    }
}
