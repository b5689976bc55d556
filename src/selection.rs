//! Which source tables a run copies: `--include` and `--exclude` globs on
//! `schema.table` (`*` any run of characters, `?` one character, `[…]` a
//! class; globset's syntax, case-sensitive like Postgres names). A pattern
//! without a dot matches the table name in any source schema.
//!
//! Pure: the catalog is read first, then split here.

use globset::{GlobBuilder, GlobMatcher};

use crate::postgres::catalog::SourceTable;

/// The include and exclude patterns, validated and compiled.
#[derive(Debug, Clone, Default)]
pub struct TableSelection {
    /// a table must match one of these (all tables when empty)
    pub include: Vec<String>,
    /// a table matching any of these is left out
    pub exclude: Vec<String>,
    include_matchers: Vec<Pattern>,
    exclude_matchers: Vec<Pattern>,
}

/// One compiled pattern: on `schema.table` when it holds a dot, else on
/// the table name.
#[derive(Debug, Clone)]
struct Pattern {
    matcher: GlobMatcher,
    qualified: bool,
}

impl Pattern {
    fn new(pattern: &str, flag: &str) -> Result<Pattern, String> {
        let glob = GlobBuilder::new(pattern)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|error| format!("{flag} {pattern}: {}", error.kind()))?;
        Ok(Pattern {
            matcher: glob.compile_matcher(),
            qualified: pattern.contains('.'),
        })
    }

    fn matches(&self, schema: &str, table: &str) -> bool {
        if self.qualified {
            self.matcher.is_match(format!("{schema}.{table}"))
        } else {
            self.matcher.is_match(table)
        }
    }
}

impl TableSelection {
    /// Validates and compiles the patterns: none may be empty or malformed.
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
        let compile = |patterns: &[String], flag: &str| -> Result<Vec<Pattern>, String> {
            patterns
                .iter()
                .map(|pattern| Pattern::new(pattern, flag))
                .collect()
        };
        let include = clean(include, "--include")?;
        let exclude = clean(exclude, "--exclude")?;
        Ok(TableSelection {
            include_matchers: compile(&include, "--include")?,
            exclude_matchers: compile(&exclude, "--exclude")?,
            include,
            exclude,
        })
    }

    /// True when the table is copied.
    #[must_use]
    pub fn selects(&self, schema: &str, table: &str) -> bool {
        let matches = |pattern: &Pattern| pattern.matches(schema, table);
        (self.include_matchers.is_empty() || self.include_matchers.iter().any(matches))
            && !self.exclude_matchers.iter().any(matches)
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
            .zip(&self.include_matchers)
            .filter(|(_, pattern)| {
                !tables
                    .iter()
                    .any(|table| pattern.matches(&table.schema, &table.name))
            })
            .map(|(text, _)| text.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob_matches(pattern: &str, text: &str) -> bool {
        Pattern::new(pattern, "--include")
            .unwrap()
            .matcher
            .is_match(text)
    }

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
        assert!(glob_matches("audit_20[0-9][0-9]", "audit_2024"));
        assert!(glob_matches("we/ird*", "we/ird_table"));
    }

    #[test]
    fn a_malformed_pattern_is_refused() {
        let error = TableSelection::new(&["users[".into()], &[]).unwrap_err();
        assert!(error.starts_with("--include users["), "{error}");
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
