//! Each command's flags: its own, and the shared groups flattened in.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::groups::{
    BranchArgs, MaskNewColumnsArg, OnDivergedArg, OutputFormat, SourceConnectionArgs,
    TableSelectionArgs, TargetConnectionArgs, TargetDatabaseArgs,
};

/// Flags of `pg2dolt copy`.
#[expect(
    clippy::struct_excessive_bools,
    reason = "command-line switches are on or off"
)]
#[derive(Debug, Args, Clone)]
pub struct CopyArgs {
    /// How to reach the source.
    #[command(flatten)]
    pub source: SourceConnectionArgs,

    /// How to reach the target.
    #[command(flatten)]
    pub target: TargetConnectionArgs,

    /// Apply the *.sql files of this directory (in numeric-prefix order)
    /// instead of the schema embedded in the binary.
    #[arg(
        help_heading = "Schema files",
        long,
        env = "PG2DOLT_SCHEMA_DIR",
        value_name = "DIR"
    )]
    pub schema_dir: Option<PathBuf>,

    /// Map a source name to a target name where the rules cannot:
    /// `table=TargetTable` or `table.column=TargetColumn`. Repeatable;
    /// the environment variable takes a comma-separated list.
    #[arg(
        help_heading = "Selection and mapping",
        long = "map",
        env = "PG2DOLT_MAP",
        value_delimiter = ',',
        value_name = "SOURCE=TARGET"
    )]
    pub mappings: Vec<String>,

    /// A file of mappings, one `source=target` per line (# comments).
    #[arg(
        help_heading = "Selection and mapping",
        long,
        env = "PG2DOLT_MAP_FILE",
        value_name = "FILE"
    )]
    pub map_file: Option<PathBuf>,

    /// Which source tables.
    #[command(flatten)]
    pub tables: TableSelectionArgs,

    /// Copy the leaf partitions of partitioned tables as tables of their own
    /// (the target must have tables by their names) instead of copying each
    /// partitioned table once, with all its partitions' rows.
    #[arg(
        help_heading = "Selection and mapping",
        long,
        env = "PG2DOLT_PARTITIONS_AS_TABLES"
    )]
    pub partitions_as_tables: bool,

    /// Also archive this copy (schema files, zstd data files, manifest)
    /// under s3://bucket/prefix/ or a local directory, in a new directory
    /// named by the snapshot time.
    #[arg(
        help_heading = "Archive",
        long,
        env = "PG2DOLT_ARCHIVE",
        value_name = "S3-URL|DIR"
    )]
    pub archive: Option<String>,

    /// Dump only: archive the copy without loading a target database. The
    /// target server is still used to plan (a scratch database, dropped).
    #[arg(
        help_heading = "Archive",
        long,
        env = "PG2DOLT_NO_TARGET",
        requires = "archive"
    )]
    pub no_target: bool,

    /// S3: address buckets by path (http://host/bucket/key), as most
    /// S3-compatible stores want (automatic for an AWS_ENDPOINT_URL on an IP
    /// address or localhost).
    #[arg(help_heading = "Archive", long, env = "PG2DOLT_S3_PATH_STYLE")]
    pub s3_path_style: bool,

    /// S3: bytes per multipart upload part (at least 5 MiB); smaller objects
    /// are one PUT.
    #[arg(help_heading = "Archive", long, env = "PG2DOLT_ARCHIVE_PART_SIZE", value_name = "BYTES", default_value_t = 8 * 1024 * 1024)]
    pub archive_part_size: usize,

    /// Mask columns: one rule per line, `table.column = generator` or
    /// `schema.table.column = generator` (# comments); generators: email,
    /// first_name, last_name, full_name, phone, text, hash, null,
    /// const(VALUE), date_shift(DAYS), number_noise(PERCENT).
    #[arg(
        help_heading = "Masking",
        long,
        env = "PG2DOLT_MASK_RULES",
        value_name = "FILE"
    )]
    pub mask_rules: Option<PathBuf>,

    /// The secret key of the masking generators (a mounted secret; never
    /// logged); required when a rule needs it (all but null and const).
    #[arg(
        help_heading = "Masking",
        long,
        env = "PG2DOLT_MASK_KEY_FILE",
        value_name = "FILE"
    )]
    pub mask_key_file: Option<PathBuf>,

    /// Turn masking off for good on a database that was masked: without it
    /// a run with no --mask-rules on such a database stops (exit 3) before
    /// any data moves. The masked tables then load in clear, and the
    /// night's commit says masking was turned off.
    #[arg(
        help_heading = "Masking",
        long,
        env = "PG2DOLT_UNMASK",
        conflicts_with = "mask_rules"
    )]
    pub unmask: bool,

    /// A column of a masked table that is new since the rules were written:
    /// stop (exit 3, before any data moves), load NULL, or copy it in clear.
    #[arg(help_heading = "Masking", long, env = "PG2DOLT_MASK_NEW_COLUMNS", value_enum, default_value_t = MaskNewColumnsArg::Fail)]
    pub mask_new_columns: MaskNewColumnsArg,

    /// Split tables larger than this many rows (estimated) into key or page
    /// ranges, copied in parallel, each loaded and committed on its own
    /// (Dolt keeps uncommitted work in memory).
    #[arg(
        help_heading = "Tuning",
        display_order = 900,
        long,
        env = "PG2DOLT_CHUNK_ROWS",
        value_name = "ROWS",
        default_value_t = 250_000
    )]
    pub chunk_rows: u64,

    /// What becomes of the target database.
    #[command(flatten)]
    pub target_database: TargetDatabaseArgs,
}

/// Flags of `pg2dolt plan`: those of copy, and the output format.
#[derive(Debug, Args, Clone)]
pub struct PlanArgs {
    /// The copy flags.
    #[command(flatten)]
    pub copy: CopyArgs,

    /// Output: a readable table on stderr, or JSON on stdout.
    #[arg(help_heading = "Output", display_order = 950, long, env = "PG2DOLT_FORMAT", value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// Flags of `pg2dolt refresh`: those of copy, and how the night is
/// published.
#[derive(Debug, Args, Clone)]
pub struct RefreshArgs {
    /// The copy flags.
    #[command(flatten)]
    pub copy: CopyArgs,

    /// The published branch and its tags.
    #[command(flatten)]
    pub branch: BranchArgs,

    /// When the published branch was written to since the last refresh.
    #[arg(help_heading = "Refresh", long, env = "PG2DOLT_ON_DIVERGED", value_enum, default_value_t = OnDivergedArg::Fail)]
    pub on_diverged: OnDivergedArg,

    /// Hold the refresh back (exit 7, nothing published) when a table loses
    /// more than this percentage of its rows, or becomes empty (100: never).
    #[arg(
        help_heading = "Refresh",
        long,
        env = "PG2DOLT_MAX_DELETED_PERCENT",
        value_name = "P",
        default_value_t = 50.0
    )]
    pub max_deleted_percent: f64,

    /// Reload every table this night instead of writing only the rows that
    /// changed since the last published night (a weekly reset).
    #[arg(help_heading = "Refresh", long, env = "PG2DOLT_FULL")]
    pub full: bool,

    /// Before publishing, compare every row of the work branch with the
    /// snapshot (as `pg2dolt verify` does); a difference is exit 4 and
    /// nothing is published.
    #[arg(help_heading = "Refresh", long, env = "PG2DOLT_VERIFY")]
    pub verify: bool,

    /// Take deltas when the source's history since the last night cannot be
    /// proven continuous because the role may not read enough (a standby's
    /// timeline needs pg_read_all_stats; a new timeline's history file needs
    /// pg_read_file). Without it such a night reloads every table. A
    /// history proven broken (a failover that lost transactions, a restore
    /// to an earlier point) reloads every table regardless.
    #[arg(help_heading = "Refresh", long, env = "PG2DOLT_TRUST_SOURCE_HISTORY")]
    pub trust_source_history: bool,
}

/// Flags of `pg2dolt verify`.
#[derive(Debug, Args, Clone)]
pub struct VerifyArgs {
    /// The copy flags (source, target, database, schema files, selection,
    /// mapping, masking, report).
    #[command(flatten)]
    pub copy: CopyArgs,

    /// The branch compared (and the tag prefix, unused here).
    #[command(flatten)]
    pub branch: BranchArgs,
}

/// The refreshed database `rollback` and `history` read: target server,
/// database, branch and tags.
#[derive(Debug, Args, Clone)]
pub struct PublishedArgs {
    /// How to reach the target.
    #[command(flatten)]
    pub connection: TargetConnectionArgs,

    /// The refreshed database.
    #[arg(
        help_heading = "Target",
        long,
        env = "PG2DOLT_DATABASE",
        value_name = "NAME"
    )]
    pub database: String,

    /// The published branch and its tags.
    #[command(flatten)]
    pub branch: BranchArgs,
}

/// Flags of `pg2dolt rollback`.
#[derive(Debug, Args, Clone)]
pub struct RollbackArgs {
    /// The refreshed database.
    #[command(flatten)]
    pub published: PublishedArgs,

    /// Where the published branch goes: a tag (a night's) or a commit hash.
    #[arg(help_heading = "Refresh", long, env = "PG2DOLT_TO", value_name = "REF")]
    pub to: String,
}

/// Flags of `pg2dolt history`.
#[derive(Debug, Args, Clone)]
pub struct HistoryArgs {
    /// The refreshed database.
    #[command(flatten)]
    pub published: PublishedArgs,

    /// Output: a table, or JSON.
    #[arg(help_heading = "Output", display_order = 950, long, env = "PG2DOLT_FORMAT", value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// Flags of `pg2dolt restore`.
#[derive(Debug, Args, Clone)]
pub struct RestoreArgs {
    /// The archived copy: s3://bucket/prefix/<key>/ or a directory (as the
    /// copy's report and `pg2dolt archives` name it).
    #[arg(
        help_heading = "Archive",
        long,
        env = "PG2DOLT_FROM",
        value_name = "S3-URL|DIR"
    )]
    pub from: String,

    /// How to reach the target.
    #[command(flatten)]
    pub connection: TargetConnectionArgs,

    /// What becomes of the target database.
    #[command(flatten)]
    pub target_database: TargetDatabaseArgs,

    /// S3: address buckets by path.
    #[arg(help_heading = "Archive", long, env = "PG2DOLT_S3_PATH_STYLE")]
    pub s3_path_style: bool,
}

/// Flags of `pg2dolt archives`.
#[derive(Debug, Args, Clone)]
pub struct ArchivesArgs {
    /// The archive location: s3://bucket/prefix/ or a directory.
    #[arg(
        help_heading = "Archive",
        value_name = "S3-URL|DIR",
        env = "PG2DOLT_ARCHIVE"
    )]
    pub location: String,

    /// Output: a table, or JSON.
    #[arg(help_heading = "Output", display_order = 950, long, env = "PG2DOLT_FORMAT", value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// S3: address buckets by path.
    #[arg(help_heading = "Archive", long, env = "PG2DOLT_S3_PATH_STYLE")]
    pub s3_path_style: bool,
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
}

/// Flags of `pg2dolt schema draft`.
#[derive(Debug, Args, Clone)]
pub struct DraftArgs {
    /// The source.
    #[command(flatten)]
    pub source: SourceArgs,

    /// Directory for the drafted files.
    #[arg(
        help_heading = "Schema files",
        long,
        env = "PG2DOLT_OUT",
        value_name = "DIR",
        default_value = "schema-draft"
    )]
    pub out: PathBuf,

    /// Collation of every table (case-sensitive like Postgres by default;
    /// on MariaDB pg2dolt applies it as utf8mb4_nopad_bin, its equal).
    #[arg(
        help_heading = "Schema files",
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
    #[arg(
        help_heading = "Schema files",
        long,
        env = "PG2DOLT_SCHEMA_DIR",
        value_name = "DIR"
    )]
    pub schema_dir: Option<PathBuf>,
}
