//! The target schema: SQL files embedded in the binary (`schema/`) or read
//! from `--schema-dir`, applied in numeric-prefix order to the fresh
//! database. A failing statement is reported by file and line.

use std::path::Path;

use anyhow::Context as _;
use include_dir::{Dir, include_dir};
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tracing::{debug, info, instrument};

use super::splitter::{Statement, split_statements};
use crate::error::{FailureKind, failure};

/// The schema files built into the binary.
static EMBEDDED_SCHEMA: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/schema");

/// One schema file.
#[derive(Debug, Clone)]
pub struct SchemaFile {
    /// file name, e.g. `010_tables.sql`
    pub name: String,
    /// its SQL text
    pub sql: String,
}

/// The embedded schema files, in order.
pub fn embedded_files() -> anyhow::Result<Vec<SchemaFile>> {
    let files = EMBEDDED_SCHEMA
        .files()
        .filter_map(|file| {
            let name = file.path().file_name()?.to_str()?.to_string();
            Some(SchemaFile {
                name,
                sql: file.contents_utf8()?.to_string(),
            })
        })
        .collect();
    order_files(files)
}

/// The `*.sql` files of `directory`, in order.
pub fn read_directory(directory: &Path) -> anyhow::Result<Vec<SchemaFile>> {
    let entries = std::fs::read_dir(directory).map_err(|error| {
        failure(
            FailureKind::Usage,
            format!(
                "cannot read schema directory {}: {error}",
                directory.display()
            ),
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("listing {}", directory.display()))?
            .path();
        let Some(name) = path
            .file_name()
            .and_then(|name| name.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if !path.is_file() || !is_sql_file(&name) {
            continue;
        }
        let sql = std::fs::read_to_string(&path).map_err(|error| {
            failure(
                FailureKind::Usage,
                format!("cannot read schema file {}: {error}", path.display()),
            )
        })?;
        files.push(SchemaFile { name, sql });
    }
    if files.is_empty() {
        return Err(failure(
            FailureKind::Usage,
            format!(
                "schema directory {} holds no .sql files",
                directory.display()
            ),
        ));
    }
    order_files(files)
}

/// Orders `*.sql` files by their numeric prefix (`010_` before `020_`, `9_`
/// before `10_`), then by name. A file without a numeric prefix is refused:
/// its place in the order would be a guess.
pub fn order_files(files: Vec<SchemaFile>) -> anyhow::Result<Vec<SchemaFile>> {
    let mut keyed = Vec::new();
    for file in files.into_iter().filter(|file| is_sql_file(&file.name)) {
        let digits: String = file.name.chars().take_while(char::is_ascii_digit).collect();
        let Ok(prefix) = digits.parse::<u64>() else {
            return Err(failure(
                FailureKind::Usage,
                format!(
                    "schema file {} has no numeric prefix (name files like 010_tables.sql)",
                    file.name
                ),
            ));
        };
        keyed.push((prefix, file));
    }
    keyed.sort_by(|(left_prefix, left), (right_prefix, right)| {
        left_prefix
            .cmp(right_prefix)
            .then_with(|| left.name.cmp(&right.name))
    });
    Ok(keyed.into_iter().map(|(_, file)| file).collect())
}

fn is_sql_file(name: &str) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("sql"))
}

/// Splits every file and refuses statements that would leave the target
/// database (`USE`, `CREATE/DROP DATABASE`), before anything is applied.
pub fn parse_files(files: &[SchemaFile]) -> anyhow::Result<Vec<(&SchemaFile, Vec<Statement>)>> {
    let mut parsed = Vec::new();
    for file in files {
        let statements = split_statements(&file.sql).map_err(|error| {
            failure(
                FailureKind::Plan,
                format!(
                    "schema file {} line {}: {}",
                    file.name, error.line, error.message
                ),
            )
        })?;
        for statement in &statements {
            let words: Vec<String> = statement
                .text
                .split_whitespace()
                .take(2)
                .map(str::to_ascii_uppercase)
                .collect();
            let leaves_database = matches!(words.first().map(String::as_str), Some("USE"))
                || (matches!(words.first().map(String::as_str), Some("CREATE" | "DROP"))
                    && matches!(
                        words.get(1).map(String::as_str),
                        Some("DATABASE" | "SCHEMA")
                    ));
            if leaves_database {
                return Err(failure(
                    FailureKind::Plan,
                    format!(
                        "schema file {} line {}: schema files must not create, drop or switch databases (pg2dolt creates the target database)",
                        file.name, statement.line
                    ),
                ));
            }
        }
        parsed.push((file, statements));
    }
    Ok(parsed)
}

/// Applies the files, in order, to the connection's current database.
#[instrument(skip_all, fields(files = files.len()))]
pub async fn apply_schema_files(conn: &mut Conn, files: &[SchemaFile]) -> anyhow::Result<usize> {
    let parsed = parse_files(files)?;
    let mut applied = 0;
    for (file, statements) in parsed {
        for statement in statements {
            debug!(file = %file.name, line = statement.line, "applying statement");
            if let Err(error) = conn.query_drop(statement.text.as_str()).await {
                let (line, message) = locate_error(&statement, &error);
                return Err(failure(
                    FailureKind::Plan,
                    format!("schema file {} line {line}: {message}", file.name),
                ));
            }
            applied += 1;
        }
        info!(file = %file.name, "schema file applied");
    }
    Ok(applied)
}

/// The file line of a failing statement: the statement's first line plus
/// the line the server names (MySQL/MariaDB: "at line N"; Dolt: "at
/// position N", a byte offset).
fn locate_error(statement: &Statement, error: &mysql_async::Error) -> (usize, String) {
    let message = match error {
        mysql_async::Error::Server(server) => format!("{} (error {})", server.message, server.code),
        other => other.to_string(),
    };
    let number_after = |marker: &str| -> Option<usize> {
        let position = message.rfind(marker)? + marker.len();
        message[position..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    };
    let line = if let Some(relative) = number_after(" at line ") {
        statement.line + relative.saturating_sub(1)
    } else if let Some(offset) = number_after(" at position ") {
        let offset = offset.min(statement.text.len());
        statement.line
            + statement.text.as_bytes()[..offset]
                .iter()
                .filter(|&&byte| byte == b'\n')
                .count()
    } else {
        statement.line
    };
    (line, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> SchemaFile {
        SchemaFile {
            name: name.to_string(),
            sql: String::new(),
        }
    }

    #[test]
    fn files_are_ordered_by_numeric_prefix() {
        let ordered = order_files(vec![
            file("10_b.sql"),
            file("9_a.sql"),
            file("010_a.sql"),
            file("README.md"),
        ])
        .unwrap();
        let names: Vec<_> = ordered.iter().map(|file| file.name.as_str()).collect();
        assert_eq!(names, vec!["9_a.sql", "010_a.sql", "10_b.sql"]);
    }

    #[test]
    fn a_file_without_prefix_is_refused() {
        assert!(
            order_files(vec![file("tables.sql")])
                .unwrap_err()
                .to_string()
                .contains("numeric prefix")
        );
    }

    #[test]
    fn statements_that_leave_the_database_are_refused() {
        let files = vec![SchemaFile {
            name: "010_x.sql".into(),
            sql: "CREATE TABLE a (x INT);\n\nuse other;".into(),
        }];
        let error = parse_files(&files).unwrap_err().to_string();
        assert!(error.contains("010_x.sql line 3"), "{error}");
    }

    #[test]
    fn the_embedded_schema_parses() {
        let files = embedded_files().unwrap();
        assert!(!files.is_empty());
        parse_files(&files).unwrap();
    }

    #[test]
    fn server_line_numbers_map_to_file_lines() {
        let statement = Statement {
            text: "CREATE TABLE t (\n  id INT,\n  oops\n)".into(),
            line: 10,
        };
        let error = mysql_async::Error::Server(mysql_async::ServerError {
            code: 1064,
            message: "You have an error in your SQL syntax; check the manual near ')' at line 3"
                .into(),
            state: "42000".into(),
        });
        assert_eq!(locate_error(&statement, &error).0, 12);
    }
}
