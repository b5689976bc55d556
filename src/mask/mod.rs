//! Deterministic masking (`--mask-rules`, `--mask-key-file`): one rule per
//! line, `table.column = generator` or `schema.table.column = generator`,
//! `#` comments. Each generator is a function of (secret key, value)
//! (`generators.rs`), so an unchanged source row gives a byte-identical
//! masked row every night and a masked key still joins. Values are masked
//! in the converter, before the archive and the load: no unmasked value of
//! a masked column leaves the process. A leaf over `digest`.

mod generators;
mod names;

use std::sync::Arc;

use ring::hmac;

pub use generators::Generator;

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct MaskRule {
    /// the source schema, when the rule names it
    pub schema: Option<String>,
    /// the source table
    pub table: String,
    /// the source column
    pub column: String,
    /// what replaces its values
    pub generator: Generator,
    /// the rule's line in its file
    pub line: usize,
}

impl MaskRule {
    /// `schema.table.column` or `table.column`, as written.
    #[must_use]
    pub fn target_name(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}.{}", self.table, self.column),
            None => format!("{}.{}", self.table, self.column),
        }
    }

    fn matches(&self, schema: &str, table: &str) -> bool {
        self.table == table && self.schema.as_deref().is_none_or(|named| named == schema)
    }
}

/// The rules of one file, and the file's SHA-256 (in the report and the
/// Dolt commit message, so a change of rules shows in history).
#[derive(Debug, Clone, Default)]
pub struct MaskRules {
    /// the rules, in file order
    pub rules: Vec<MaskRule>,
    /// SHA-256 of the file, hex
    pub sha256: String,
}

impl MaskRules {
    /// Parses a rules file; an error names the line.
    pub fn parse(text: &str) -> Result<MaskRules, String> {
        let mut rules = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let entry = line.split('#').next().unwrap_or_default().trim();
            if entry.is_empty() {
                continue;
            }
            let Some((name, generator)) = entry.split_once('=') else {
                return Err(format!(
                    "line {number}: {entry:?} is not `table.column = generator`"
                ));
            };
            let parts: Vec<&str> = name.trim().split('.').map(str::trim).collect();
            let (schema, table, column) = match parts.as_slice() {
                [table, column] => (None, *table, *column),
                [schema, table, column] => (Some((*schema).to_string()), *table, *column),
                _ => {
                    return Err(format!(
                        "line {number}: {:?} is not table.column or schema.table.column",
                        name.trim()
                    ));
                }
            };
            if table.is_empty() || column.is_empty() {
                return Err(format!("line {number}: {entry:?} names no column"));
            }
            let generator =
                Generator::parse(generator).map_err(|error| format!("line {number}: {error}"))?;
            let rule = MaskRule {
                schema,
                table: table.to_string(),
                column: column.to_string(),
                generator,
                line: number,
            };
            if let Some(earlier) = rules
                .iter()
                .find(|other: &&MaskRule| other.target_name() == rule.target_name())
            {
                return Err(format!(
                    "line {number}: {} has a rule already (line {})",
                    rule.target_name(),
                    earlier.line
                ));
            }
            rules.push(rule);
        }
        Ok(MaskRules {
            rules,
            sha256: crate::digest::sha256_hex(text.as_bytes()),
        })
    }

    /// The rule for a source column (one naming the schema first).
    #[must_use]
    pub fn rule_for(&self, schema: &str, table: &str, column: &str) -> Option<&MaskRule> {
        let mut matching = self
            .rules
            .iter()
            .filter(|rule| rule.column == column && rule.matches(schema, table));
        let first = matching.next()?;
        Some(
            std::iter::once(first)
                .chain(matching)
                .find(|rule| rule.schema.is_some())
                .unwrap_or(first),
        )
    }

    /// Some rule names a column of this source table.
    #[must_use]
    pub fn covers_table(&self, schema: &str, table: &str) -> bool {
        self.rules.iter().any(|rule| rule.matches(schema, table))
    }

    /// Some rule needs the secret key.
    #[must_use]
    pub fn need_key(&self) -> Option<&MaskRule> {
        self.rules.iter().find(|rule| rule.generator.needs_key())
    }
}

/// The columns of the masked tables when the rules (by SHA-256) were first
/// used on a database: what the rules' author could see. A column of a
/// masked table that is not here is new. Source table (`schema.table`) →
/// its source columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    /// the rules' SHA-256
    pub rules_sha256: String,
    /// source table → columns
    pub columns: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
}

/// The secret key (from `--mask-key-file`); never logged, never in a
/// report or an error.
#[derive(Clone)]
pub struct MaskKey(Arc<hmac::Key>);

impl std::fmt::Debug for MaskKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("MaskKey(<secret>)")
    }
}

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;

impl MaskKey {
    /// A key from a key file's bytes (a trailing newline dropped).
    pub fn new(bytes: &[u8]) -> Result<MaskKey, String> {
        let trimmed = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        if trimmed.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the mask key holds {} bytes; at least {MIN_KEY_BYTES} are needed (e.g. `openssl rand -hex 32`)",
                trimmed.len()
            ));
        }
        Ok(MaskKey(Arc::new(hmac::Key::new(
            hmac::HMAC_SHA256,
            trimmed,
        ))))
    }
}

/// One column's mask, as the converter applies it.
#[derive(Debug, Clone)]
pub struct Mask {
    /// the generator
    pub generator: Generator,
    /// the key (absent for generators that need none)
    key: Option<MaskKey>,
    /// hex digits `hash` writes: the column's length, at most 64
    pub hash_length: usize,
}

impl Mask {
    /// The mask of a column whose target holds at most `max_chars`
    /// characters (`None`: unbounded). `key` must be given when the
    /// generator needs one.
    #[must_use]
    pub fn new(generator: Generator, key: Option<MaskKey>, max_chars: Option<u64>) -> Mask {
        let hash_length =
            max_chars.map_or(64, |chars| usize::try_from(chars).unwrap_or(64).min(64));
        Mask {
            generator,
            key,
            hash_length,
        }
    }

    /// Masks one non-NULL value (COPY text, decoded); `None`: NULL.
    #[must_use]
    pub fn apply(&self, value: &[u8]) -> Option<Vec<u8>> {
        static NO_KEY: std::sync::OnceLock<hmac::Key> = std::sync::OnceLock::new();
        let key = match &self.key {
            Some(key) => &key.0,
            None => NO_KEY.get_or_init(|| hmac::Key::new(hmac::HMAC_SHA256, b"")),
        };
        generators::mask(&self.generator, key, self.hash_length, value)
    }

    /// The generator keeps distinct inputs distinct here.
    #[must_use]
    pub fn injective(&self) -> bool {
        self.generator.injective(self.hash_length)
    }

    /// The most characters it writes (`None`: as many as the input).
    #[must_use]
    pub fn max_chars(&self) -> Option<usize> {
        self.generator.max_chars(self.hash_length)
    }
}

impl serde::Serialize for Mask {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.generator.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_files_parse_like_map_files_and_errors_name_the_line() {
        let text = "# staging rules\nusers.email = email\npublic.users.name = full_name # comment\n\norders.total = number_noise(5)\n";
        let rules = MaskRules::parse(text).unwrap();
        assert_eq!(rules.rules.len(), 3);
        assert_eq!(rules.sha256, crate::digest::sha256_hex(text.as_bytes()));
        assert_eq!(
            rules.rule_for("public", "users", "name").unwrap().generator,
            Generator::FullName
        );
        assert!(rules.rule_for("other", "users", "name").is_none());
        assert!(rules.rule_for("other", "users", "email").is_some());
        assert!(rules.covers_table("public", "orders"));
        assert!(!rules.covers_table("public", "items"));
        for (bad, line) in [
            ("users.email email", "line 1"),
            ("# c\nusers = email", "line 2"),
            ("users.email = nope", "line 1"),
            ("users.email = email\nusers.email = hash", "line 2"),
        ] {
            let error = MaskRules::parse(bad).unwrap_err();
            assert!(error.starts_with(line), "{bad}: {error}");
        }
    }

    #[test]
    fn keys_are_long_enough_and_never_printed() {
        assert!(MaskKey::new(b"short\n").is_err());
        let key = MaskKey::new(b"0123456789abcdef0123\n").unwrap();
        assert_eq!(format!("{key:?}"), "MaskKey(<secret>)");
        let mask = Mask::new(Generator::Hash, Some(key), Some(12));
        assert_eq!(mask.apply(b"x").unwrap().len(), 12);
        assert!(!mask.injective());
        assert_eq!(Mask::new(Generator::Null, None, None).apply(b"x"), None);
    }
}
