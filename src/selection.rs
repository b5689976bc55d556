//! Which source tables a run copies: `--include` and `--exclude` globs on
//! `schema.table` (`*` any run of characters, `?` one character). A
//! pattern without a dot matches the table name in any source schema.
//!
//! Pure: the catalog is read first, then split here.

use crate::postgres::catalog::SourceTable;

/// The include and exclude patterns, validated.
#[derive(Debug, Clone, Default)]
pub struct TableSelection {
    /// a table must match one of these (all tables when empty)
    pub include: Vec<String>,
    /// a table matching any of these is left out
    pub exclude: Vec<String>,
}

impl TableSelection {
    /// Validates the patterns: none may be empty.
    pub fn new(include: &[String], exclude: &[String]) -> Result<TableSelection, String> {
        let clean = |patterns: &[String], flag: &str| -> Result<Vec<String>, String> {
            patterns
                .iter()
                .map(|pattern| {
                    let pattern = pattern.trim();
                    if pattern.is_empty() {
                        Err(format!("{flag} has an empty pattern"))
                    } else {
                        Ok(pattern.to_string())
                    }
                })
                .collect()
        };
        Ok(TableSelection {
            include: clean(include, "--include")?,
            exclude: clean(exclude, "--exclude")?,
        })
    }

    /// True when the table is copied.
    #[must_use]
    pub fn selects(&self, schema: &str, table: &str) -> bool {
        let matches = |pattern: &String| {
            if pattern.contains('.') {
                glob_matches(pattern, &format!("{schema}.{table}"))
            } else {
                glob_matches(pattern, table)
            }
        };
        (self.include.is_empty() || self.include.iter().any(matches))
            && !self.exclude.iter().any(matches)
    }

    /// Splits the catalog into (copied, left out).
    #[must_use]
    pub fn split(&self, tables: Vec<SourceTable>) -> (Vec<SourceTable>, Vec<SourceTable>) {
        tables
            .into_iter()
            .partition(|table| self.selects(&table.schema, &table.name))
    }

    /// Include patterns that matched none of `tables` (likely typos).
    #[must_use]
    pub fn unmatched_includes(&self, tables: &[SourceTable]) -> Vec<String> {
        self.include
            .iter()
            .filter(|pattern| {
                !tables.iter().any(|table| {
                    TableSelection {
                        include: vec![(*pattern).clone()],
                        exclude: Vec::new(),
                    }
                    .selects(&table.schema, &table.name)
                })
            })
            .cloned()
            .collect()
    }
}

/// Matches `text` against a glob of `*` and `?` (case-sensitive, like
/// Postgres names).
#[must_use]
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // The last `*` seen and the text position it was tried at: on a
    // mismatch, let that star swallow one more character.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some('?') => {
                p += 1;
                t += 1;
            }
            Some(&character) if character == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&character| character == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_a_shell() {
        assert!(glob_matches("public.*", "public.users"));
        assert!(glob_matches("*.audit_*", "app.audit_2024"));
        assert!(glob_matches("user?", "users"));
        assert!(!glob_matches("user?", "user"));
        assert!(glob_matches("a*b*c", "aXXbYYc"));
        assert!(!glob_matches("a*b*c", "aXXbYY"));
        assert!(glob_matches("*", ""));
        assert!(!glob_matches("Users", "users"));
    }

    #[test]
    fn include_then_exclude() {
        let selection = TableSelection::new(
            &["public.*".into(), "audit.events".into()],
            &["*_tmp".into()],
        )
        .unwrap();
        assert!(selection.selects("public", "users"));
        assert!(!selection.selects("public", "users_tmp"));
        assert!(selection.selects("audit", "events"));
        assert!(!selection.selects("audit", "other"));
        let everything = TableSelection::new(&[], &["logs".into()]).unwrap();
        assert!(everything.selects("any", "users"));
        assert!(!everything.selects("any", "logs"));
        assert!(TableSelection::new(&[" ".into()], &[]).is_err());
    }
}
