//! Command-line flags as the user typed them (parse only; `settings`
//! validates). Every flag also reads a `PG2DOLT_*` environment variable.

mod commands;
mod groups;

pub use commands::{
    ArchivesArgs, CopyArgs, DiffArgs, DraftArgs, HistoryArgs, PlanArgs, PublishedArgs, RefreshArgs,
    RestoreArgs, RollbackArgs, SchemaAction, SchemaArgs, SourceArgs, VerifyArgs,
};
pub use groups::{
    BranchArgs, LoadMethodArg, LogFormat, LoggingArgs, MaskNewColumnsArg, OnDivergedArg,
    OutputFormat, SourceConnectionArgs, TableSelectionArgs, TargetConnectionArgs,
    TargetDatabaseArgs,
};

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

/// pg2dolt: a point-in-time copy of a PostgreSQL database as a fresh Dolt
/// (or MySQL/MariaDB) database. Without a command, the flags are copy's
/// (`pg2dolt copy --help` lists them).
#[derive(Debug, Parser)]
#[command(
    name = "pg2dolt",
    version,
    // The default command's flags work here but are listed by `copy --help`:
    // this help shows the commands and the global flags.
    mut_args(|flag| if flag.is_global_set() { flag } else { flag.hide(true) })
)]
pub struct Cli {
    /// What to do (default: copy).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of the default command, copy.
    #[command(flatten)]
    pub copy: CopyArgs,
    /// The logging flags, before or after the command.
    #[command(flatten)]
    pub logging: LoggingArgs,
}

impl Cli {
    /// Parses the command line: the logging flags go before or after the
    /// command; copy's flags before a command are refused (they would be
    /// ignored). clap's `args_conflicts_with_subcommands` would refuse the
    /// global flags there too (clap 4.6).
    pub fn parse_args() -> Result<Cli, clap::Error> {
        let mut command = Cli::command();
        let matches = command.try_get_matches_from_mut(std::env::args_os())?;
        if let Some((name, _)) = matches.subcommand() {
            let given = command.get_arguments().find(|flag| {
                !flag.is_global_set()
                    && matches.value_source(flag.get_id().as_str())
                        == Some(clap::parser::ValueSource::CommandLine)
            });
            if let Some(flag) = given {
                let shown = flag
                    .get_long()
                    .map_or_else(|| flag.get_id().to_string(), |long| format!("--{long}"));
                return Err(command.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("the subcommand '{name}' cannot be used with '{shown}': give the flags after the command"),
                ));
            }
        }
        Cli::from_arg_matches(&matches)
    }

    /// The command to run (copy when none was named) and the logging flags.
    #[must_use]
    pub fn into_command(self) -> (Command, LoggingArgs) {
        (
            self.command.unwrap_or(Command::Copy(self.copy)),
            self.logging,
        )
    }
}

/// pg2dolt's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy the source database into a fresh target database (the default).
    Copy(CopyArgs),
    /// Check, without moving data, everything that would make a copy fail:
    /// names and types on both sides (the schema files are applied to a
    /// scratch database) and source data the target cannot hold. Exit code
    /// 3 when the copy would fail.
    Plan(PlanArgs),
    /// The nightly refresh of a Dolt database: today's snapshot loaded on
    /// a work branch (only what changed becomes the diff), verified,
    /// committed, guarded, then published on --branch in one step and
    /// tagged. The first night is a copy. Exit code 7: held back, nothing
    /// published.
    #[command(
        mut_arg("replace", |flag| flag.hide(true)),
        mut_arg("discard_history", |flag| flag.hide(true)),
        mut_arg("resume", |flag| flag.hide(true)),
        mut_arg("no_target", |flag| flag.hide(true))
    )]
    Refresh(RefreshArgs),
    /// Compare every row of a Dolt branch with a new snapshot of the
    /// source, converted and masked as a copy would store it. Exit code 0:
    /// equal; 4: rows differ (per table: missing, extra and different rows,
    /// with up to 5 keys each).
    #[command(
        mut_arg("replace", |flag| flag.hide(true)),
        mut_arg("discard_history", |flag| flag.hide(true)),
        mut_arg("resume", |flag| flag.hide(true)),
        mut_arg("no_target", |flag| flag.hide(true)),
        mut_arg("archive", |flag| flag.hide(true))
    )]
    Verify(VerifyArgs),
    /// Move the published branch of a refreshed database to a night's tag
    /// or a commit (the old head is tagged first).
    Rollback(RollbackArgs),
    /// List the nights published on a refreshed database's branch: time,
    /// snapshot, tag, rows changed.
    History(HistoryArgs),
    /// Load an archived copy (`copy --archive`) into a fresh target
    /// database, without Postgres: schema files, data verified against the
    /// manifest's checksums and counts, fix-ups, Dolt commit.
    #[command(mut_arg("resume", |flag| flag.hide(true)))]
    Restore(RestoreArgs),
    /// List the archived copies under an archive location, newest first.
    Archives(ArchivesArgs),
    /// Draft target schema files from the Postgres catalog and its data, or
    /// compare committed files with the source (schema drift).
    Schema(SchemaArgs),
}

impl Command {
    /// The URLs given on the command line (their passwords are secrets).
    #[must_use]
    pub fn urls(&self) -> Vec<&str> {
        let copy = match self {
            Command::Copy(arguments) => arguments,
            Command::Plan(arguments) => &arguments.copy,
            Command::Refresh(arguments) => &arguments.copy,
            Command::Verify(arguments) => &arguments.copy,
            Command::Rollback(RollbackArgs { published, .. })
            | Command::History(HistoryArgs { published, .. }) => {
                return published.connection.target.as_deref().into_iter().collect();
            }
            Command::Restore(arguments) => {
                return arguments.connection.target.as_deref().into_iter().collect();
            }
            Command::Archives(_) => return Vec::new(),
            Command::Schema(arguments) => {
                let source = match &arguments.action {
                    SchemaAction::Draft(draft) => &draft.source,
                    SchemaAction::Diff(diff) => &diff.source,
                };
                return source.connection.source.as_deref().into_iter().collect();
            }
        };
        [copy.source.source.as_deref(), copy.target.target.as_deref()]
            .into_iter()
            .flatten()
            .collect()
    }
}
