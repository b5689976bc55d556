//! Explicit names for what the matching rules cannot pair.

use std::collections::BTreeMap;

use crate::postgres::catalog::SourceTable;

/// Explicit source → target names for what the rules cannot match:
/// `table=Target`, `schema.table=Target`, `table.column=Target` or
/// `schema.table.column=Target`.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    /// source name as written → target name
    pub(super) entries: BTreeMap<String, String>,
}

impl Mappings {
    /// Parses `source=target` entries (from `--map` flags and mapping-file
    /// lines; blank lines and `#` comments skipped).
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Mappings, String> {
        let mut mappings = Mappings::default();
        for entry in entries {
            let entry = entry.trim();
            if entry.is_empty() || entry.starts_with('#') {
                continue;
            }
            let Some((source, target)) = entry.split_once('=') else {
                return Err(format!("mapping {entry:?} is not source=target"));
            };
            let (source, target) = (source.trim(), target.trim());
            if source.is_empty() || target.is_empty() {
                return Err(format!("mapping {entry:?} has an empty side"));
            }
            mappings
                .entries
                .insert(source.to_string(), target.to_string());
        }
        Ok(mappings)
    }

    /// How many mappings there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for the first of `keys` that has one: (key, target).
    fn lookup(&self, keys: [String; 2]) -> Option<(&str, &str)> {
        let [qualified, short] = keys;
        self.entries
            .get_key_value(&qualified)
            .or_else(|| self.entries.get_key_value(&short))
            .map(|(key, target)| (key.as_str(), target.as_str()))
    }

    /// The mapped target table for a source table: (entry, target).
    pub(super) fn table(&self, source: &SourceTable) -> Option<(&str, &str)> {
        self.lookup([source.qualified_name(), source.name.clone()])
    }

    /// The mapped target column for a source column: (entry, target).
    pub(super) fn column(&self, source: &SourceTable, column: &str) -> Option<(&str, &str)> {
        self.lookup([
            format!("{}.{column}", source.qualified_name()),
            format!("{}.{column}", source.name),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_entries_must_have_two_sides() {
        assert!(Mappings::parse(["nonsense"]).is_err());
        assert!(
            Mappings::parse(["# comment", "", "a=b"])
                .unwrap()
                .entries
                .contains_key("a")
        );
    }
}
