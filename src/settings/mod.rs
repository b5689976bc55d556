//! Turns the raw flags into validated settings before any network I/O:
//! copy's `Settings` (also plan's, refresh's and verify's), refresh's,
//! rollback's and history's (`refresh.rs`), restore's, draft's. Resolved
//! once and never changed after: a `dolt:PATH` target gets its loopback
//! port here. Nothing after this reads argv or the environment.

use crate::archive::store::Location;
use crate::cli::{CopyArgs, LoadMethodArg, TargetDatabaseArgs};
use crate::error::{FailureKind, failure};
use crate::mysql::TargetAddress;
use crate::mysql::load::LoadRequest;
use crate::mysql::schema::{self, ParsedSchemaFile};
use crate::plan::Mappings;
use crate::postgres::SourceAddress;
use crate::selection::TableSelection;

mod connections;
mod masking;
mod refresh;

use connections::resolve_connections;
pub use connections::{resolve_source, resolve_target};
pub use refresh::{BranchSettings, OnDiverged, PublishedSettings, RefreshSettings};

/// A report's place: the directory or S3 prefix, and the file name.
pub type ReportLocation = (Location, String);

/// How archives and reports are stored.
#[derive(Debug, Clone, Copy)]
pub struct StorageSettings {
    /// path-style addressing
    pub path_style: bool,
    /// multipart part size
    pub part_size: usize,
}

/// Where a copy's rows go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// a fresh target database (and the archive, with `--archive`)
    Database,
    /// the archive only, no target database (`--no-target`)
    ArchiveOnly,
}

/// Everything a copy run needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Postgres connection settings
    pub source: SourceAddress,
    /// the source URL with its password redacted
    pub source_display: String,
    /// target connection settings (no database selected)
    pub target: TargetAddress,
    /// the target URL with its password redacted
    pub target_display: String,
    /// target database name
    pub database: String,
    /// what becomes of it: --replace, --keep-failed, the commit, the report,
    /// the load method, --jobs
    pub target_database: TargetDatabaseSettings,
    /// schema files in apply order
    pub schema_files: Vec<ParsedSchemaFile>,
    /// where the schema files came from (for logs and the report)
    pub schema_origin: String,
    /// where the copy is archived
    pub archive: Option<Location>,
    /// where the rows go
    pub destination: Destination,
    /// archive and report storage options
    pub storage: StorageSettings,
    /// explicit name mappings
    pub mappings: Mappings,
    /// rows per chunk of a split table
    pub chunk_rows: u64,
    /// source schemas to copy
    pub source_schemas: Vec<String>,
    /// which tables of those schemas
    pub selection: TableSelection,
    /// copy leaf partitions as tables instead of their partitioned parents
    pub partitions_as_tables: bool,
    /// `--mask-rules`: the rules, the key, the new-column policy
    pub masking: Option<crate::plan::masking::Masking>,
    /// `--unmask`: a masked database may be loaded without masking
    pub unmask: bool,
}

impl Settings {
    /// Validates the flags.
    pub fn resolve(arguments: &CopyArgs) -> anyhow::Result<Settings> {
        let usage = |message: String| failure(FailureKind::Usage, message);
        let (source, source_display, target, target_display) = resolve_connections(arguments)?;

        let database = resolve_database(arguments, &source, &target)?;
        let (schema_files, schema_origin) = resolve_schema_files(arguments)?;
        let target_database = TargetDatabaseSettings::resolve(&arguments.target_database)?;

        let mappings = resolve_mappings(arguments)?;
        let selection = TableSelection::new(&arguments.tables.include, &arguments.tables.exclude)
            .map_err(usage)?;
        let source_schemas = resolve_schemas(&arguments.tables.source_schemas)?;

        let archive = arguments
            .archive
            .as_deref()
            .map(Location::parse)
            .transpose()
            .map_err(|error| usage(format!("--archive: {error}")))?;
        if arguments.chunk_rows == 0 {
            return Err(usage("--chunk-rows must be at least 1".into()));
        }
        Ok(Settings {
            source,
            source_display,
            target,
            target_display,
            database,
            target_database,
            schema_files,
            schema_origin,
            archive,
            destination: if arguments.no_target {
                Destination::ArchiveOnly
            } else {
                Destination::Database
            },
            storage: StorageSettings {
                path_style: arguments.s3_path_style,
                part_size: arguments.archive_part_size,
            },
            mappings,
            chunk_rows: arguments.chunk_rows,
            source_schemas,
            selection,
            partitions_as_tables: arguments.partitions_as_tables,
            masking: masking::resolve_masking(arguments)?,
            unmask: arguments.unmask,
        })
    }
}

impl Settings {
    /// Logs the effective configuration (URLs redacted) at the start of a
    /// run, so a Job's log says what it was asked to do.
    pub fn log_effective(&self, command: &str) {
        tracing::info!(
            command,
            version = env!("CARGO_PKG_VERSION"),
            source = %self.source_display,
            target = %self.target_display,
            database = %self.database,
            replace = self.target_database.replace,
            schema = %self.schema_origin,
            schema_files = self.schema_files.len(),
            source_schemas = ?self.source_schemas,
            include = ?self.selection.include,
            exclude = ?self.selection.exclude,
            partitions_as_tables = self.partitions_as_tables,
            mappings = self.mappings.len(),
            mask_rules = self.masking.as_ref().map_or(0, |masking| masking.rules.rules.len()),
            mask_rules_sha256 = ?self.masking.as_ref().map(|masking| &masking.rules.sha256),
            load_method = ?self.target_database.load_method,
            jobs = self.target_database.jobs,
            chunk_rows = self.chunk_rows,
            keep_failed = self.target_database.keep_failed,
            report = ?self.target_database.report.as_ref().map(|(location, name)| format!("{location}{name}")),
            archive = ?self.archive.as_ref().map(ToString::to_string),
            no_target = self.destination == Destination::ArchiveOnly,
            source_tls = self.source.tls.mode.name(),
            target_tls = self.target.tls.name(),
            "pg2dolt starting"
        );
    }
}

/// The target database: --database, else the source database's name
/// (a target URL's own database is ignored, saying so).
fn resolve_database(
    arguments: &CopyArgs,
    source: &SourceAddress,
    target: &TargetAddress,
) -> anyhow::Result<String> {
    let usage = |message: String| failure(FailureKind::Usage, message);
    let database = match &arguments.target_database.database {
        Some(name) => name.clone(),
        None => source
            .config
            .get_dbname()
            .or(source.config.get_user())
            .map(str::to_string)
            .ok_or_else(|| {
                usage("--database not given and the source URL names no database".into())
            })?,
    };
    check_database_name(&database)?;
    if let Some(named) = target.opts.db_name()
        && named != database
    {
        tracing::warn!(url_database = named, database = %database, "the target URL names a database; pg2dolt writes to --database (default: the source database's name)");
    }
    Ok(database)
}

/// The --map entries and those of --map-file.
fn resolve_mappings(arguments: &CopyArgs) -> anyhow::Result<Mappings> {
    let usage = |message: String| failure(FailureKind::Usage, message);
    let mut entries: Vec<String> = arguments.mappings.clone();
    if let Some(file) = &arguments.map_file {
        let text = std::fs::read_to_string(file).map_err(|error| {
            usage(format!(
                "cannot read mapping file {}: {error}",
                file.display()
            ))
        })?;
        entries.extend(text.lines().map(str::to_string));
    }
    Mappings::parse(entries.iter().map(String::as_str)).map_err(usage)
}

/// The source schemas to read: the flags' (once each), or `public`.
pub fn resolve_schemas(schemas: &[String]) -> anyhow::Result<Vec<String>> {
    let mut resolved: Vec<String> = Vec::new();
    for schema in schemas {
        let schema = schema.trim();
        if schema.is_empty() {
            return Err(failure(
                FailureKind::Usage,
                "--source-schema has an empty name",
            ));
        }
        if !resolved.iter().any(|known| known == schema) {
            resolved.push(schema.to_string());
        }
    }
    if resolved.is_empty() {
        resolved.push("public".to_string());
    }
    Ok(resolved)
}

/// What `schema draft` and `schema diff` need.
#[derive(Debug, Clone)]
pub struct DraftSettings {
    /// the source
    pub source: SourceAddress,
    /// source schemas
    pub source_schemas: Vec<String>,
    /// which tables
    pub selection: TableSelection,
    /// the collation of every table
    pub collation: String,
}

/// `schema draft`/`schema diff` settings.
pub fn resolve_draft(
    source: &crate::cli::SourceArgs,
    collation: &str,
) -> anyhow::Result<DraftSettings> {
    let (address, _) = resolve_source(&source.connection)?;
    Ok(DraftSettings {
        source: address,
        source_schemas: resolve_schemas(&source.tables.source_schemas)?,
        selection: TableSelection::new(&source.tables.include, &source.tables.exclude)
            .map_err(|error| failure(FailureKind::Usage, error))?,
        collation: collation.to_string(),
    })
}

/// What `--replace` may do to a Dolt database that holds history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// refuse it (the default)
    Keep,
    /// drop it with its history (`--discard-history`)
    Discard,
}

/// What becomes of the target database, for copy and restore alike.
#[derive(Debug, Clone)]
pub struct TargetDatabaseSettings {
    /// drop and recreate an existing target database
    pub replace: bool,
    /// what `--replace` may do to a database that holds history
    pub history: History,
    /// keep a failed target database
    pub keep_failed: bool,
    /// copy: continue the copy a failed run kept
    pub resume: bool,
    /// Dolt commit message, when given
    pub commit_message: Option<String>,
    /// Dolt commit author, `Name <email>`
    pub author: String,
    /// where the JSON report goes: a directory or S3 prefix, and its name
    pub report: Option<ReportLocation>,
    /// requested load method
    pub load_method: LoadRequest,
    /// tables, ranges or data files loaded at the same time
    pub jobs: usize,
}

impl TargetDatabaseSettings {
    /// Validates the flags.
    pub fn resolve(arguments: &TargetDatabaseArgs) -> anyhow::Result<TargetDatabaseSettings> {
        let report = arguments
            .report
            .as_deref()
            .map(Location::parse_object)
            .transpose()
            .map_err(|error| failure(FailureKind::Usage, format!("--report: {error}")))?;
        Ok(TargetDatabaseSettings {
            replace: arguments.replace,
            history: if arguments.discard_history {
                History::Discard
            } else {
                History::Keep
            },
            keep_failed: arguments.keep_failed,
            resume: arguments.resume,
            commit_message: arguments.commit_message.clone(),
            author: resolve_author(&arguments.author)?,
            report,
            load_method: arguments.load_method.into(),
            jobs: resolve_jobs(arguments.jobs)?,
        })
    }
}

/// What `pg2dolt restore` needs, validated.
#[derive(Debug, Clone)]
pub struct RestoreSettings {
    /// the archived copy
    pub from: Location,
    /// target connection settings
    pub target: TargetAddress,
    /// the target URL, password redacted
    pub target_display: String,
    /// target database name (`None`: the archived source database's)
    pub database: Option<String>,
    /// what becomes of it (as for a copy)
    pub target_database: TargetDatabaseSettings,
    /// S3 path-style addressing
    pub path_style: bool,
}

impl RestoreSettings {
    /// Validates the flags.
    pub fn resolve(arguments: &crate::cli::RestoreArgs) -> anyhow::Result<RestoreSettings> {
        let usage = |message: String| failure(FailureKind::Usage, message);
        let from =
            Location::parse(&arguments.from).map_err(|error| usage(format!("--from: {error}")))?;
        let (target, target_display) = resolve_target(&arguments.connection)?;
        Ok(RestoreSettings {
            from,
            target,
            target_display,
            database: arguments.target_database.database.clone(),
            target_database: TargetDatabaseSettings::resolve(&arguments.target_database)?,
            path_style: arguments.s3_path_style,
        })
    }
}

/// A target database name MySQL, MariaDB and Dolt all accept.
pub fn check_database_name(database: &str) -> anyhow::Result<()> {
    if database.is_empty()
        || database.len() > 64
        || database.ends_with(' ')
        || database.contains(['/', '\\', '.', '\0'])
    {
        return Err(failure(
            FailureKind::Usage,
            format!("{database:?} is not a usable target database name"),
        ));
    }
    Ok(())
}

/// `--jobs`, or the number of CPUs.
pub fn resolve_jobs(jobs: Option<usize>) -> anyhow::Result<usize> {
    match jobs {
        Some(0) => Err(failure(FailureKind::Usage, "--jobs must be at least 1")),
        Some(jobs) => Ok(jobs),
        None => Ok(std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)),
    }
}

/// `--author`, checked: `Name <email>`.
pub fn resolve_author(author: &str) -> anyhow::Result<String> {
    let author = author.trim().to_string();
    let well_formed = author
        .find('<')
        .is_some_and(|open| open > 0 && author.ends_with('>') && author.len() > open + 2);
    if !well_formed {
        return Err(failure(
            FailureKind::Usage,
            format!("--author {author:?} must look like \"Name <email>\""),
        ));
    }
    Ok(author)
}

/// The schema files, parsed: from --schema-dir, else the embedded ones.
fn resolve_schema_files(arguments: &CopyArgs) -> anyhow::Result<(Vec<ParsedSchemaFile>, String)> {
    let (files, origin) = match &arguments.schema_dir {
        Some(directory) => {
            if !directory.is_dir() {
                return Err(failure(
                    FailureKind::Usage,
                    format!("schema directory {} does not exist", directory.display()),
                ));
            }
            (
                schema::read_directory(directory)?,
                directory.display().to_string(),
            )
        }
        None => (schema::embedded_files()?, "embedded".to_string()),
    };
    Ok((schema::parse_files(&files)?, origin))
}

impl From<LoadMethodArg> for LoadRequest {
    fn from(argument: LoadMethodArg) -> LoadRequest {
        match argument {
            LoadMethodArg::Auto => LoadRequest::Auto,
            LoadMethodArg::LoadData => LoadRequest::LoadData,
            LoadMethodArg::Insert => LoadRequest::Insert,
        }
    }
}

#[cfg(test)]
mod tests;
