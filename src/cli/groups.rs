//! Flag groups several commands share (flattened into each, each under its
//! `--help` heading), the logging flags (global: before or after the
//! command), and the values of the enumerated flags.

use std::path::PathBuf;

use clap::{ArgAction, Args, ValueEnum};

/// How to reach the Postgres source (`copy`, `plan`, `schema`).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Source")]
pub struct SourceConnectionArgs {
    /// Postgres source URL, e.g. postgres://user:password@host:5432/db.
    #[arg(
        long,
        env = "PG2DOLT_SOURCE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub source: Option<String>,

    /// Read the source URL from this file (a mounted secret) instead of
    /// --source.
    #[arg(
        long,
        env = "PG2DOLT_SOURCE_URL_FILE",
        value_name = "FILE",
        conflicts_with = "source"
    )]
    pub source_url_file: Option<PathBuf>,

    /// Read the source password from this file (the URL then needs none).
    #[arg(long, env = "PG2DOLT_SOURCE_PASSWORD_FILE", value_name = "FILE")]
    pub source_password_file: Option<PathBuf>,

    /// Source TLS: disable, prefer, require, verify-ca, verify-full
    /// [default: the URL's sslmode, else prefer].
    #[arg(long, env = "PG2DOLT_SOURCE_SSL_MODE", value_name = "MODE")]
    pub source_ssl_mode: Option<String>,

    /// CA certificates (PEM) the source's certificate must chain to
    /// [default: the URL's sslrootcert, else the web PKI roots].
    #[arg(long, env = "PG2DOLT_SOURCE_CA_FILE", value_name = "FILE")]
    pub source_ca_file: Option<PathBuf>,
}

/// How to reach the MySQL-protocol target (`copy`, `plan`, `restore`).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Target")]
pub struct TargetConnectionArgs {
    /// MySQL-protocol target URL (Dolt sql-server, MySQL or MariaDB), e.g.
    /// mysql://root:password@host:3306.
    #[arg(
        long,
        env = "PG2DOLT_TARGET",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub target: Option<String>,

    /// Read the target URL from this file instead of --target.
    #[arg(
        long,
        env = "PG2DOLT_TARGET_URL_FILE",
        value_name = "FILE",
        conflicts_with = "target"
    )]
    pub target_url_file: Option<PathBuf>,

    /// Read the target password from this file.
    #[arg(long, env = "PG2DOLT_TARGET_PASSWORD_FILE", value_name = "FILE")]
    pub target_password_file: Option<PathBuf>,

    /// Target TLS: disable, prefer, require, verify-ca, verify-full (the
    /// mysql client's names work too) [default: the URL's ssl-mode, else
    /// prefer].
    #[arg(long, env = "PG2DOLT_TARGET_SSL_MODE", value_name = "MODE")]
    pub target_ssl_mode: Option<String>,

    /// CA certificates (PEM) the target's certificate must chain to
    /// [default: the URL's ssl-ca, else the web PKI roots].
    #[arg(long, env = "PG2DOLT_TARGET_CA_FILE", value_name = "FILE")]
    pub target_ca_file: Option<PathBuf>,
}

/// Which source tables (copy, plan, schema draft and diff).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Selection and mapping")]
pub struct TableSelectionArgs {
    /// Postgres schema to copy from. Repeatable [default: public].
    #[arg(
        long = "source-schema",
        env = "PG2DOLT_SOURCE_SCHEMA",
        value_delimiter = ',',
        value_name = "SCHEMA"
    )]
    pub source_schemas: Vec<String>,

    /// Copy only tables matching this glob on schema.table (`*`, `?`,
    /// `[…]`; a pattern without a dot matches the table name). Repeatable.
    #[arg(
        long,
        env = "PG2DOLT_INCLUDE",
        value_delimiter = ',',
        value_name = "GLOB"
    )]
    pub include: Vec<String>,

    /// Leave out tables matching this glob on schema.table. Repeatable.
    #[arg(
        long,
        env = "PG2DOLT_EXCLUDE",
        value_delimiter = ',',
        value_name = "GLOB"
    )]
    pub exclude: Vec<String>,
}

/// What becomes of the target database (copy, plan and restore).
#[expect(
    clippy::struct_excessive_bools,
    reason = "command-line switches are on or off"
)]
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Target")]
pub struct TargetDatabaseArgs {
    /// Target database name [default: the (archived) source database's
    /// name].
    #[arg(long, env = "PG2DOLT_DATABASE", value_name = "NAME")]
    pub database: Option<String>,

    /// Drop and recreate the target database if it exists (without it an
    /// existing database is refused and left untouched).
    #[arg(long, env = "PG2DOLT_REPLACE")]
    pub replace: bool,

    /// With --replace: drop a Dolt database that holds history (night tags,
    /// or more commits than one copy makes); without it such a database is
    /// refused (exit 3) and left untouched.
    #[arg(long, env = "PG2DOLT_DISCARD_HISTORY", requires = "replace")]
    pub discard_history: bool,

    /// Dolt commit message [default: names the source (or the archive)
    /// and the snapshot].
    #[arg(long, env = "PG2DOLT_COMMIT_MESSAGE", value_name = "TEXT")]
    pub commit_message: Option<String>,

    /// Dolt commit author, "Name <email>".
    #[arg(
        long,
        env = "PG2DOLT_AUTHOR",
        value_name = "AUTHOR",
        default_value = "pg2dolt <pg2dolt@localhost>"
    )]
    pub author: String,

    /// Write the JSON report to this file, or to s3://bucket/key.json (also
    /// on failure).
    #[arg(
        long,
        env = "PG2DOLT_REPORT",
        value_name = "FILE|S3-URL",
        help_heading = "Output",
        display_order = 950
    )]
    pub report: Option<String>,

    /// How rows reach the target: LOAD DATA LOCAL INFILE (streamed) or
    /// multi-row INSERT; auto uses LOAD DATA when the server allows it, and
    /// INSERT on Dolt (faster there).
    #[arg(long, env = "PG2DOLT_LOAD_METHOD", value_enum, default_value_t = LoadMethodArg::Auto, help_heading = "Tuning", display_order = 900)]
    pub load_method: LoadMethodArg,

    /// Readers and loaders working at once, on tables or ranges of large
    /// tables (restore: data files) [default: number of CPUs].
    #[arg(
        long,
        env = "PG2DOLT_JOBS",
        value_name = "N",
        help_heading = "Tuning",
        display_order = 900
    )]
    pub jobs: Option<usize>,

    /// Keep the target database when the run fails (default: drop the
    /// database this run created, so a re-run starts clean).
    #[arg(long, env = "PG2DOLT_KEEP_FAILED")]
    pub keep_failed: bool,

    /// copy: continue the copy a failed run kept (--keep-failed, on Dolt):
    /// the tables it finished are kept and caught up from its snapshot, the
    /// others load; with no such database, copy. (refresh always continues
    /// a stopped night.)
    #[arg(long, env = "PG2DOLT_RESUME", conflicts_with = "replace")]
    pub resume: bool,
}

/// Logging flags.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Output", display_order = 950)]
pub struct LoggingArgs {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only warnings and errors. RUST_LOG overrides.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Log format on stderr.
    #[arg(long, env = "PG2DOLT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// `--load-method` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoadMethodArg {
    /// LOAD DATA when the server allows LOCAL, INSERT otherwise and on Dolt.
    Auto,
    /// Always LOAD DATA LOCAL INFILE (fails with the fix if refused).
    LoadData,
    /// Always multi-row INSERT.
    Insert,
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log pipelines).
    Json,
}

/// `--format` values of `pg2dolt plan` (its table goes to stderr, its
/// JSON to stdout) and `pg2dolt archives` (both to stdout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A table for people.
    Text,
    /// One JSON document, on stdout.
    Json,
}

/// The published branch of a refreshed Dolt database and the tags that
/// mark its nights (refresh, rollback, history).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Refresh")]
pub struct BranchArgs {
    /// The branch readers read: refresh publishes each night there.
    #[arg(
        long,
        env = "PG2DOLT_BRANCH",
        value_name = "NAME",
        default_value = "main"
    )]
    pub branch: String,

    /// Tags pg2dolt makes start with this: each night is tagged
    /// PREFIX<snapshot time>, e.g. pg2dolt/20261202T020000Z.
    #[arg(
        long,
        env = "PG2DOLT_TAG_PREFIX",
        value_name = "PREFIX",
        default_value = "pg2dolt/"
    )]
    pub tag_prefix: String,
}

/// `--on-diverged` values: what refresh does when the published branch
/// was written to since the last refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnDivergedArg {
    /// Publish nothing (exit 7); the night stays on its work branch.
    Fail,
    /// Publish anyway: the old head is tagged first, then the branch moves
    /// to the night.
    Reset,
    /// Merge the night into the branch (a conflict: nothing published,
    /// exit 7).
    Merge,
}

/// `--mask-new-columns` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MaskNewColumnsArg {
    /// Stop before any data moves (exit 3), naming the column.
    Fail,
    /// Load NULL into it.
    Null,
    /// Copy it in clear.
    Copy,
}
