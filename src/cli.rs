//! Command-line flags as the user typed them (parse only; `settings`
//! validates). Every flag also reads a `PG2DOLT_*` environment variable.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

/// pg2dolt: a point-in-time copy of a PostgreSQL database as a fresh Dolt
/// (or MySQL/MariaDB) database.
#[derive(Debug, Parser)]
#[command(name = "pg2dolt", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do (default: copy).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of the default command, copy.
    #[command(flatten)]
    pub copy: CopyArgs,
}

impl Cli {
    /// The command to run; copy when none was named.
    #[must_use]
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Copy(self.copy))
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
    /// Load an archived copy (`copy --archive`) into a fresh target
    /// database, without Postgres: schema files, data verified against the
    /// manifest's checksums and counts, fix-ups, Dolt commit.
    Restore(RestoreArgs),
    /// List the archived copies under an archive location, newest first.
    Archives(ArchivesArgs),
    /// Draft target schema files from the Postgres catalog and its data, or
    /// compare committed files with the source (schema drift).
    Schema(SchemaArgs),
}

/// `pg2dolt schema …`.
#[derive(Debug, Args, Clone)]
pub struct SchemaArgs {
    /// What to do with the schema.
    #[command(subcommand)]
    pub action: SchemaAction,
}

/// `pg2dolt schema draft|diff`.
#[derive(Debug, Subcommand, Clone)]
pub enum SchemaAction {
    /// Write numbered schema files (tables, then foreign keys) drafted from
    /// the source: types from the conversion table, string lengths measured
    /// from the data, keys, indexes, checks, defaults, comments; every
    /// choice to review marked `-- REVIEW:`.
    Draft(DraftArgs),
    /// Compare drafted schema files with the source now: new, dropped and
    /// retyped tables and columns. Exit code 3 when something changed.
    Diff(DiffArgs),
}

/// The source flags `schema draft` and `schema diff` take.
#[derive(Debug, Args, Clone)]
pub struct SourceArgs {
    /// How to reach the source.
    #[command(flatten)]
    pub connection: SourceConnectionArgs,

    /// Which source tables.
    #[command(flatten)]
    pub tables: TableSelectionArgs,

    /// Logging flags.
    #[command(flatten)]
    pub logging: LoggingArgs,
}

/// Flags of `pg2dolt schema draft`.
#[derive(Debug, Args, Clone)]
pub struct DraftArgs {
    /// The source.
    #[command(flatten)]
    pub source: SourceArgs,

    /// Directory for the drafted files.
    #[arg(
        long,
        env = "PG2DOLT_OUT",
        value_name = "DIR",
        default_value = "schema-draft"
    )]
    pub out: PathBuf,

    /// Collation of every table (case-sensitive like Postgres by default;
    /// on MariaDB pg2dolt applies it as utf8mb4_nopad_bin, its equal).
    #[arg(
        long,
        env = "PG2DOLT_COLLATION",
        value_name = "NAME",
        default_value = "utf8mb4_0900_bin"
    )]
    pub collation: String,
}

/// Flags of `pg2dolt schema diff`.
#[derive(Debug, Args, Clone)]
pub struct DiffArgs {
    /// The source.
    #[command(flatten)]
    pub source: SourceArgs,

    /// The drafted schema files to compare [default: the embedded ones].
    #[arg(long, env = "PG2DOLT_SCHEMA_DIR", value_name = "DIR")]
    pub schema_dir: Option<PathBuf>,
}

impl Command {
    /// The logging flags.
    #[must_use]
    pub fn logging(&self) -> &LoggingArgs {
        match self {
            Command::Copy(arguments) => &arguments.logging,
            Command::Plan(arguments) => &arguments.copy.logging,
            Command::Restore(arguments) => &arguments.logging,
            Command::Archives(arguments) => &arguments.logging,
            Command::Schema(arguments) => match &arguments.action {
                SchemaAction::Draft(draft) => &draft.source.logging,
                SchemaAction::Diff(diff) => &diff.source.logging,
            },
        }
    }

    /// The URLs given on the command line (their passwords are secrets).
    #[must_use]
    pub fn urls(&self) -> Vec<&str> {
        let copy = match self {
            Command::Copy(arguments) => arguments,
            Command::Plan(arguments) => &arguments.copy,
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

/// Which source tables (copy, plan, schema draft and diff).
#[derive(Debug, Args, Clone)]
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
#[derive(Debug, Args, Clone)]
pub struct TargetDatabaseArgs {
    /// Target database name [default: the (archived) source database's
    /// name].
    #[arg(long, env = "PG2DOLT_DATABASE", value_name = "NAME")]
    pub database: Option<String>,

    /// Drop and recreate the target database if it exists (without it an
    /// existing database is refused and left untouched).
    #[arg(long, env = "PG2DOLT_REPLACE")]
    pub replace: bool,

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
    #[arg(long, env = "PG2DOLT_REPORT", value_name = "FILE|S3-URL")]
    pub report: Option<String>,

    /// How rows reach the target: LOAD DATA LOCAL INFILE (streamed) or
    /// multi-row INSERT; auto uses LOAD DATA when the server allows it, and
    /// INSERT on Dolt (faster there).
    #[arg(long, env = "PG2DOLT_LOAD_METHOD", value_enum, default_value_t = LoadMethodArg::Auto)]
    pub load_method: LoadMethodArg,

    /// Readers and loaders working at once, on tables or ranges of large
    /// tables (restore: data files) [default: number of CPUs].
    #[arg(long, env = "PG2DOLT_JOBS", value_name = "N")]
    pub jobs: Option<usize>,

    /// Keep the target database when the run fails (default: drop the
    /// database this run created, so a re-run starts clean).
    #[arg(long, env = "PG2DOLT_KEEP_FAILED")]
    pub keep_failed: bool,
}

/// Flags of `pg2dolt restore`.
#[derive(Debug, Args, Clone)]
pub struct RestoreArgs {
    /// The archived copy: s3://bucket/prefix/<key>/ or a directory (as the
    /// copy's report and `pg2dolt archives` name it).
    #[arg(long, env = "PG2DOLT_FROM", value_name = "S3-URL|DIR")]
    pub from: String,

    /// How to reach the target.
    #[command(flatten)]
    pub connection: TargetConnectionArgs,

    /// What becomes of the target database.
    #[command(flatten)]
    pub target_database: TargetDatabaseArgs,

    /// S3: address buckets by path.
    #[arg(long, env = "PG2DOLT_S3_PATH_STYLE")]
    pub s3_path_style: bool,

    /// Logging flags.
    #[command(flatten)]
    pub logging: LoggingArgs,
}

/// Flags of `pg2dolt archives`.
#[derive(Debug, Args, Clone)]
pub struct ArchivesArgs {
    /// The archive location: s3://bucket/prefix/ or a directory.
    #[arg(value_name = "S3-URL|DIR", env = "PG2DOLT_ARCHIVE")]
    pub location: String,

    /// Output: a table, or JSON.
    #[arg(long, env = "PG2DOLT_FORMAT", value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// S3: address buckets by path.
    #[arg(long, env = "PG2DOLT_S3_PATH_STYLE")]
    pub s3_path_style: bool,

    /// Logging flags.
    #[command(flatten)]
    pub logging: LoggingArgs,
}

/// Flags of `pg2dolt plan`: those of copy, and the output format.
#[derive(Debug, Args, Clone)]
pub struct PlanArgs {
    /// The copy flags.
    #[command(flatten)]
    pub copy: CopyArgs,

    /// Output: a readable table on stderr, or JSON on stdout.
    #[arg(long, env = "PG2DOLT_FORMAT", value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
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

/// How to reach the Postgres source (`copy`, `plan`, `schema`).
#[derive(Debug, Args, Clone)]
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

/// Flags of `pg2dolt copy`.
#[derive(Debug, Args, Clone)]
pub struct CopyArgs {
    /// How to reach the source.
    #[command(flatten)]
    pub source: SourceConnectionArgs,

    /// How to reach the target.
    #[command(flatten)]
    pub target: TargetConnectionArgs,

    /// What becomes of the target database.
    #[command(flatten)]
    pub target_database: TargetDatabaseArgs,

    /// Apply the *.sql files of this directory (in numeric-prefix order)
    /// instead of the schema embedded in the binary.
    #[arg(long, env = "PG2DOLT_SCHEMA_DIR", value_name = "DIR")]
    pub schema_dir: Option<PathBuf>,

    /// Also archive this copy (schema files, zstd data files, manifest)
    /// under s3://bucket/prefix/ or a local directory, in a new directory
    /// named by the snapshot time.
    #[arg(long, env = "PG2DOLT_ARCHIVE", value_name = "S3-URL|DIR")]
    pub archive: Option<String>,

    /// Dump only: archive the copy without loading a target database. The
    /// target server is still used to plan (a scratch database, dropped).
    #[arg(long, env = "PG2DOLT_NO_TARGET", requires = "archive")]
    pub no_target: bool,

    /// S3: address buckets by path (http://host/bucket/key), as most
    /// S3-compatible stores want (automatic for an AWS_ENDPOINT_URL on an IP
    /// address or localhost).
    #[arg(long, env = "PG2DOLT_S3_PATH_STYLE")]
    pub s3_path_style: bool,

    /// S3: bytes per multipart upload part (at least 5 MiB); smaller objects
    /// are one PUT.
    #[arg(long, env = "PG2DOLT_ARCHIVE_PART_SIZE", value_name = "BYTES", default_value_t = 8 * 1024 * 1024)]
    pub archive_part_size: usize,

    /// Map a source name to a target name where the rules cannot:
    /// `table=TargetTable` or `table.column=TargetColumn`. Repeatable;
    /// the environment variable takes a comma-separated list.
    #[arg(
        long = "map",
        env = "PG2DOLT_MAP",
        value_delimiter = ',',
        value_name = "SOURCE=TARGET"
    )]
    pub mappings: Vec<String>,

    /// A file of mappings, one `source=target` per line (# comments).
    #[arg(long, env = "PG2DOLT_MAP_FILE", value_name = "FILE")]
    pub map_file: Option<PathBuf>,

    /// Which source tables.
    #[command(flatten)]
    pub tables: TableSelectionArgs,

    /// Copy the leaf partitions of partitioned tables as tables of their own
    /// (the target must have tables by their names) instead of copying each
    /// partitioned table once, with all its partitions' rows.
    #[arg(long, env = "PG2DOLT_PARTITIONS_AS_TABLES")]
    pub partitions_as_tables: bool,

    /// Split tables larger than this many rows (estimated) into key or page
    /// ranges, copied in parallel, each loaded and committed on its own
    /// (Dolt keeps uncommitted work in memory).
    #[arg(
        long,
        env = "PG2DOLT_CHUNK_ROWS",
        value_name = "ROWS",
        default_value_t = 250_000
    )]
    pub chunk_rows: u64,

    /// Logging flags.
    #[command(flatten)]
    pub logging: LoggingArgs,
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

/// Logging flags.
#[derive(Debug, Args, Clone)]
pub struct LoggingArgs {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,

    /// Only warnings and errors. RUST_LOG overrides.
    #[arg(short, long)]
    pub quiet: bool,

    /// Log format on stderr.
    #[arg(long, env = "PG2DOLT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log pipelines).
    Json,
}
