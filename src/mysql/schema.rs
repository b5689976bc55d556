//! The target schema: SQL files embedded in the binary (`schema/`) or read
//! from `--schema-dir`, applied in numeric-prefix order to the fresh
//! database. A failing statement is reported by file and line.

use std::path::Path;

use anyhow::Context as _;
use include_dir::{Dir, include_dir};
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tracing::{debug, info, instrument, warn};

use super::statements::{Statement, split_statements};
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
/// before `10_`), then by name; files without a prefix come last, by name
/// (a warning says so when that decides the order of several files).
pub fn order_files(files: Vec<SchemaFile>) -> anyhow::Result<Vec<SchemaFile>> {
    let mut keyed: Vec<(Option<u64>, SchemaFile)> = files
        .into_iter()
        .filter(|file| is_sql_file(&file.name))
        .map(|file| {
            let digits: String = file.name.chars().take_while(char::is_ascii_digit).collect();
            (digits.parse::<u64>().ok(), file)
        })
        .collect();
    let unnumbered: Vec<&str> = keyed
        .iter()
        .filter(|(prefix, _)| prefix.is_none())
        .map(|(_, file)| file.name.as_str())
        .collect();
    if !unnumbered.is_empty() && keyed.len() > 1 {
        warn!(files = %unnumbered.join(", "), "schema files without a numeric prefix run last, in name order");
    }
    // None sorts before Some: compare "has no prefix" first.
    keyed.sort_by(|(left_prefix, left), (right_prefix, right)| {
        (left_prefix.is_none(), left_prefix, &left.name).cmp(&(
            right_prefix.is_none(),
            right_prefix,
            &right.name,
        ))
    });
    Ok(keyed.into_iter().map(|(_, file)| file).collect())
}

fn is_sql_file(name: &str) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("sql"))
}

/// A schema file split into the statements to apply.
#[derive(Debug, Clone)]
pub struct ParsedSchemaFile {
    /// file name
    pub name: String,
    /// the file's text, as written (archived with the data)
    pub sql: String,
    /// statements in file order, each with its first line
    pub statements: Vec<Statement>,
}

/// Splits every file, once, before anything is applied. Statements that
/// would leave the target database (`USE`, `CREATE/DROP DATABASE|SCHEMA`, as
/// in DDL taken from a dump) are skipped with a warning: pg2dolt creates the
/// target database and applies the files inside it.
pub fn parse_files(files: &[SchemaFile]) -> anyhow::Result<Vec<ParsedSchemaFile>> {
    let mut parsed = Vec::new();
    for file in files {
        let mut statements = split_statements(&file.sql).map_err(|error| {
            failure(
                FailureKind::Plan,
                format!(
                    "schema file {} line {}: {}",
                    file.name, error.line, error.message
                ),
            )
        })?;
        statements.retain(|statement| {
            let leaves = leaves_database(&statement.text);
            if leaves {
                warn!(file = %file.name, line = statement.line, "skipping a statement that would leave the target database");
            }
            !leaves
        });
        parsed.push(ParsedSchemaFile {
            name: file.name.clone(),
            sql: file.sql.clone(),
            statements,
        });
    }
    Ok(parsed)
}

/// `USE …`, `CREATE DATABASE …`, `DROP SCHEMA …` and the like.
fn leaves_database(statement: &str) -> bool {
    let words: Vec<String> = statement
        .split_whitespace()
        .take(2)
        .map(str::to_ascii_uppercase)
        .collect();
    match words.first().map(String::as_str) {
        Some("USE") => true,
        Some("CREATE" | "DROP") => matches!(
            words.get(1).map(String::as_str),
            Some("DATABASE" | "SCHEMA")
        ),
        _ => false,
    }
}

/// Applies the files, in order, to the connection's current database.
#[instrument(skip_all, fields(files = files.len()))]
pub async fn apply_schema_files(
    conn: &mut Conn,
    files: &[ParsedSchemaFile],
) -> anyhow::Result<usize> {
    let mut applied = 0;
    let collation_swap = collation_equivalent(conn, files).await;
    for file in files {
        for statement in &file.statements {
            debug!(file = %file.name, line = statement.line, "applying statement");
            let text = match &collation_swap {
                Some((from, to)) => replace_ignoring_case(&statement.text, from, to),
                None => statement.text.clone(),
            };
            if let Err(error) = conn.query_drop(text.as_str()).await {
                let (line, message) = locate_error(statement, &error);
                return Err(failure(
                    FailureKind::Plan,
                    format!("schema file {} line {line}: {message}", file.name),
                ));
            }
            applied += 1;
        }
        debug!(file = %file.name, "schema file applied");
    }
    Ok(applied)
}

/// MySQL 8's and Dolt's `utf8mb4_0900_bin` (binary, no padding, as
/// Postgres compares) is `utf8mb4_nopad_bin` on MariaDB, which does not
/// know the 0900 name: when the files use it and the server lacks it,
/// apply it under the name the server knows (said once in the log).
async fn collation_equivalent(
    conn: &mut Conn,
    files: &[ParsedSchemaFile],
) -> Option<(String, String)> {
    const MYSQL: &str = "utf8mb4_0900_bin";
    const MARIADB: &str = "utf8mb4_nopad_bin";
    let used = files.iter().any(|file| {
        file.statements
            .iter()
            .any(|statement| statement.text.to_ascii_lowercase().contains(MYSQL))
    });
    if !used {
        return None;
    }
    // language=MySQL
    let known: Vec<String> = conn
        .exec(
            "SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN (?, ?)",
            (MYSQL, MARIADB),
        )
        .await
        .unwrap_or_default();
    if known.iter().any(|name| name == MYSQL) || !known.iter().any(|name| name == MARIADB) {
        return None;
    }
    info!(
        collation = MYSQL,
        applied_as = MARIADB,
        "the server has no utf8mb4_0900_bin: applying its equal, utf8mb4_nopad_bin"
    );
    Some((MYSQL.to_string(), MARIADB.to_string()))
}

/// `text` with every `from` (any case) replaced by `to`.
fn replace_ignoring_case(text: &str, from: &str, to: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut position = 0;
    while let Some(found) = lower[position..].find(from) {
        out.push_str(&text[position..position + found]);
        out.push_str(to);
        position += found + from.len();
    }
    out.push_str(&text[position..]);
    out
}

/// The file line of a failing statement: the statement's first line plus
/// the line the server names (MySQL/MariaDB: "at line N"; Dolt: "at
/// position N", a byte offset).
fn locate_error(statement: &Statement, error: &mysql_async::Error) -> (usize, String) {
    let message = super::describe_mysql_error(error);
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
        // Dolt's position is where its tokenizer stopped, past the
        // whitespace after the offending token (`NOT NULL,,\n` stops at the
        // next line): the error is on the line of the last character that
        // is not whitespace.
        let bytes = statement.text.as_bytes();
        let mut offset = offset.min(bytes.len());
        while offset > 0 && bytes[offset - 1].is_ascii_whitespace() {
            offset -= 1;
        }
        statement.line
            + bytes[..offset]
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
    fn files_without_prefix_run_last_in_name_order() {
        let ordered = order_files(vec![
            file("b.sql"),
            file("020_x.sql"),
            file("a.SQL"),
            file("010_y.sql"),
        ])
        .unwrap();
        let names: Vec<_> = ordered.iter().map(|file| file.name.as_str()).collect();
        assert_eq!(names, vec!["010_y.sql", "020_x.sql", "a.SQL", "b.sql"]);
    }

    #[test]
    fn statements_that_leave_the_database_are_skipped() {
        let sql = "DROP DATABASE IF EXISTS `Chinook`;\nCREATE DATABASE `Chinook`;\nUSE `Chinook`;\nCREATE TABLE a (x INT);\ncreate schema s;";
        let files = vec![SchemaFile {
            name: "010_x.sql".into(),
            sql: sql.into(),
        }];
        let parsed = parse_files(&files).unwrap();
        let kept: Vec<&str> = parsed[0]
            .statements
            .iter()
            .map(|statement| statement.text.as_str())
            .collect();
        assert_eq!(kept, vec!["CREATE TABLE a (x INT)"]);
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

    #[test]
    fn dolt_positions_past_a_line_end_name_the_line_before() {
        let statement = Statement {
            text: "CREATE TABLE tags (\n  id INT PRIMARY KEY,\n  name VARCHAR(100) NOT NULL,,\n);"
                .into(),
            line: 3,
        };
        // Dolt 1.86.4 says so of the doubled comma, whose line is 5.
        let error = mysql_async::Error::Server(mysql_async::ServerError {
            code: 1105,
            message: "syntax error at position 73 near 'NULL'".into(),
            state: "HY000".into(),
        });
        assert_eq!(locate_error(&statement, &error).0, 5);
    }
}
