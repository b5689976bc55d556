//! Splits a schema file into statements the way the mysql client does:
//! `;` ends a statement outside quotes and comments, and a `DELIMITER`
//! line changes the terminator (for triggers and procedures). Each
//! statement keeps the line it starts on, so errors can name file and line.

/// One statement of a schema file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// the statement text, without its terminator
    pub text: String,
    /// 1-based line of the statement's first character
    pub line: usize,
}

/// A file that cannot be split (an unterminated quote or comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    /// 1-based line where the unterminated construct starts
    pub line: usize,
    /// what is wrong
    pub message: String,
}

/// Splits `sql` into statements.
pub fn split_statements(sql: &str) -> Result<Vec<Statement>, SplitError> {
    let bytes = sql.as_bytes();
    let mut statements = Vec::new();
    let mut delimiter = ";".to_string();
    let mut index = 0;
    let mut line = 1;
    let mut start: Option<(usize, usize)> = None;
    while index < bytes.len() {
        let byte = bytes[index];
        // DELIMITER begins a line (after blanks, as the mysql client allows).
        if start.is_none() && is_delimiter_line(bytes, index) {
            let end = bytes[index..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |offset| index + offset);
            let new_delimiter = sql[index + 9..end].trim();
            if new_delimiter.is_empty() {
                return Err(SplitError {
                    line,
                    message: "DELIMITER needs a delimiter".into(),
                });
            }
            delimiter = new_delimiter.to_string();
            index = end;
            continue;
        }
        match byte {
            b'\n' => {
                line += 1;
                index += 1;
            }
            b'\'' | b'"' | b'`' => {
                start.get_or_insert((index, line));
                (index, line) = skip_quoted(bytes, index, line)?;
            }
            b'#' => index = skip_line(bytes, index),
            b'-' if bytes.get(index + 1) == Some(&b'-')
                && bytes.get(index + 2).is_none_or(u8::is_ascii_whitespace) =>
            {
                index = skip_line(bytes, index);
            }
            b'/' if bytes.get(index + 1) == Some(&b'*') => {
                // `/*! … */` is executable in MySQL: it belongs to the statement.
                if bytes.get(index + 2) == Some(&b'!') {
                    start.get_or_insert((index, line));
                }
                (index, line) = skip_block_comment(sql, index, line)?;
            }
            _ if bytes[index..].starts_with(delimiter.as_bytes()) => {
                if let Some((begin, begin_line)) = start.take() {
                    push_statement(&mut statements, &sql[begin..index], begin_line);
                }
                index += delimiter.len();
            }
            _ => {
                if !byte.is_ascii_whitespace() {
                    start.get_or_insert((index, line));
                }
                index += 1;
            }
        }
    }
    if let Some((begin, begin_line)) = start {
        push_statement(&mut statements, &sql[begin..], begin_line);
    }
    Ok(statements)
}

/// A `DELIMITER` command at `index`: the keyword, after nothing but
/// blanks on its line.
fn is_delimiter_line(bytes: &[u8], index: usize) -> bool {
    starts_with_keyword(&bytes[index..], b"delimiter")
        && bytes[..index]
            .iter()
            .rev()
            .take_while(|&&b| b != b'\n')
            .all(|&b| b == b' ' || b == b'\t')
}

/// Past the quoted string (or identifier) opening at `index`, on `line`:
/// the index and line after its closing quote. A doubled quote, and a
/// backslash in a string, escape the next character.
fn skip_quoted(bytes: &[u8], index: usize, line: usize) -> Result<(usize, usize), SplitError> {
    let quote = bytes[index];
    let (mut index, mut line, open_line) = (index + 1, line, line);
    loop {
        let Some(&inner) = bytes.get(index) else {
            return Err(SplitError {
                line: open_line,
                message: format!("unterminated {} quote", quote as char),
            });
        };
        index += 1;
        if inner == b'\n' {
            line += 1;
        }
        if inner == b'\\' && quote != b'`' {
            if bytes.get(index) == Some(&b'\n') {
                line += 1;
            }
            index += 1;
        } else if inner == quote {
            if bytes.get(index) == Some(&quote) {
                index += 1;
            } else {
                return Ok((index, line));
            }
        }
    }
}

/// Past the `/* … */` comment opening at `index`, on `line`.
fn skip_block_comment(sql: &str, index: usize, line: usize) -> Result<(usize, usize), SplitError> {
    let Some(offset) = sql[index + 2..].find("*/") else {
        return Err(SplitError {
            line,
            message: "unterminated /* comment".into(),
        });
    };
    let lines = sql[index..index + 2 + offset].matches('\n').count();
    Ok((index + offset + 4, line + lines))
}

fn push_statement(statements: &mut Vec<Statement>, text: &str, line: usize) {
    let text = text.trim_end();
    if !text.is_empty() {
        statements.push(Statement {
            text: text.to_string(),
            line,
        });
    }
}

fn skip_line(bytes: &[u8], index: usize) -> usize {
    bytes[index..]
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(bytes.len(), |offset| index + offset)
}

fn starts_with_keyword(bytes: &[u8], keyword: &[u8]) -> bool {
    bytes.len() > keyword.len()
        && bytes[..keyword.len()].eq_ignore_ascii_case(keyword)
        && bytes[keyword.len()].is_ascii_whitespace()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<(String, usize)> {
        split_statements(sql)
            .unwrap()
            .into_iter()
            .map(|statement| (statement.text, statement.line))
            .collect()
    }

    #[test]
    fn splits_on_semicolons_outside_quotes_and_comments() {
        let sql = "-- a comment; still comment\nCREATE TABLE a (x TEXT DEFAULT 'a;b');\n\n/* c; */ INSERT INTO a VALUES (\"q;\"), ('it''s; \\' ok');# tail;\nSELECT `we;ird`";
        assert_eq!(
            texts(sql),
            vec![
                ("CREATE TABLE a (x TEXT DEFAULT 'a;b')".to_string(), 2),
                (
                    "INSERT INTO a VALUES (\"q;\"), ('it''s; \\' ok')".to_string(),
                    4
                ),
                ("SELECT `we;ird`".to_string(), 5),
            ]
        );
    }

    #[test]
    fn statements_keep_their_first_line() {
        let sql = "\n\nCREATE TABLE t (\n  id INT\n);\n\n\nALTER TABLE t\n ADD x INT;";
        assert_eq!(
            texts(sql).iter().map(|(_, line)| *line).collect::<Vec<_>>(),
            vec![3, 8]
        );
    }

    #[test]
    fn indented_delimiter_lines_count_too() {
        let statements = split_statements(
            "  CREATE TABLE t (id INT);\n  DELIMITER //\n  CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN DO 1; DO 2; END//\n  DELIMITER ;\n",
        )
        .unwrap();
        assert_eq!(statements.len(), 2);
        assert!(statements[1].text.ends_with("END"), "{:?}", statements[1]);
    }

    #[test]
    fn delimiter_lines_change_the_terminator() {
        let sql = "DELIMITER //\nCREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET NEW.x = 1; END//\nDELIMITER ;\nSELECT 1;";
        let statements = texts(sql);
        assert_eq!(statements.len(), 2);
        assert!(statements[0].0.ends_with("END"));
        assert_eq!(statements[0].1, 2);
        assert_eq!(statements[1], ("SELECT 1".to_string(), 4));
    }

    #[test]
    fn unterminated_quotes_name_their_line() {
        let error = split_statements("SELECT 1;\nSELECT 'oops;\n").unwrap_err();
        assert_eq!(error.line, 2);
    }

    #[test]
    fn double_dash_needs_whitespace_to_be_a_comment() {
        assert_eq!(texts("SELECT 1--1;"), vec![("SELECT 1--1".to_string(), 1)]);
    }
}
