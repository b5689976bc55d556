//! The drafted schema as SQL files: `010_tables.sql` (tables, keys,
//! indexes, checks) and `020_foreign_keys.sql` (foreign keys, after the
//! tables, so the data import and FK fix-ups work as designed). Every
//! choice to review is a `-- REVIEW:` comment on the line it concerns.

use std::fmt::Write as _;

use super::ddl::quote;

/// A drafted table.
#[derive(Debug, Clone, Default)]
pub struct DraftTable {
    /// `schema.table` in the source
    pub source: String,
    /// the target table name
    pub name: String,
    /// columns in source order
    pub columns: Vec<DraftColumn>,
    /// primary key columns
    pub primary_key: Vec<String>,
    /// (name, unique, columns)
    pub indexes: Vec<(String, bool, Vec<String>)>,
    /// `CHECK …` clauses: (name, SQL)
    pub checks: Vec<(String, String)>,
    /// notes about the table as a whole
    pub review: Vec<String>,
    /// table comment
    pub comment: Option<String>,
    /// foreign keys, rendered into the later file
    pub foreign_keys: Vec<DraftForeignKey>,
}

/// A drafted column.
#[derive(Debug, Clone, Default)]
pub struct DraftColumn {
    /// name
    pub name: String,
    /// MySQL type
    pub sql_type: String,
    /// NOT NULL
    pub not_null: bool,
    /// DEFAULT text
    pub default: Option<String>,
    /// AUTO_INCREMENT
    pub auto_increment: bool,
    /// COMMENT
    pub comment: Option<String>,
    /// notes for the reviewer
    pub review: Vec<String>,
}

/// A drafted foreign key.
#[derive(Debug, Clone, Default)]
pub struct DraftForeignKey {
    /// constraint name
    pub name: String,
    /// columns
    pub columns: Vec<String>,
    /// referenced target table
    pub referenced: String,
    /// referenced columns
    pub referenced_columns: Vec<String>,
    /// `ON DELETE …` / `ON UPDATE …` text
    pub actions: String,
    /// notes for the reviewer
    pub review: Vec<String>,
}

/// MySQL identifier quoting.
#[must_use]
pub fn identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn identifiers(names: &[String]) -> String {
    names
        .iter()
        .map(|name| identifier(name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn review_comment(notes: &[String]) -> String {
    if notes.is_empty() {
        String::new()
    } else {
        format!("  -- REVIEW: {}", notes.join("; ").replace('\n', " "))
    }
}

/// `010_tables.sql`: a header (with the source signature line) and one
/// CREATE TABLE per table.
#[must_use]
pub fn tables_file(header: &str, tables: &[DraftTable], collation: &str) -> String {
    let mut text = String::from(header);
    for table in tables {
        text.push('\n');
        for note in &table.review {
            let _ = writeln!(text, "-- REVIEW: {}: {note}", table.source);
        }
        let _ = writeln!(text, "CREATE TABLE {} (", identifier(&table.name));
        let mut items: Vec<(String, Vec<String>)> = table
            .columns
            .iter()
            .map(|column| (column_definition(column), column.review.clone()))
            .collect();
        if !table.primary_key.is_empty() {
            items.push((
                format!("PRIMARY KEY ({})", identifiers(&table.primary_key)),
                Vec::new(),
            ));
        }
        for (name, unique, columns) in &table.indexes {
            let kind = if *unique { "UNIQUE KEY" } else { "KEY" };
            items.push((
                format!("{kind} {} ({})", identifier(name), identifiers(columns)),
                Vec::new(),
            ));
        }
        for (name, check) in &table.checks {
            items.push((
                format!("CONSTRAINT {} {check}", identifier(name)),
                Vec::new(),
            ));
        }
        let last = items.len().saturating_sub(1);
        for (index, (definition, notes)) in items.iter().enumerate() {
            let comma = if index < last { "," } else { "" };
            let _ = writeln!(text, "    {definition}{comma}{}", review_comment(notes));
        }
        let comment = table
            .comment
            .as_deref()
            .map_or_else(String::new, |comment| {
                format!(" COMMENT = {}", quote(comment))
            });
        let _ = writeln!(
            text,
            ") DEFAULT CHARSET = utf8mb4 COLLATE = {collation}{comment};"
        );
    }
    text
}

fn column_definition(column: &DraftColumn) -> String {
    let mut definition = format!("{} {}", identifier(&column.name), column.sql_type);
    if column.not_null {
        definition.push_str(" NOT NULL");
    }
    if let Some(default) = &column.default {
        let _ = write!(definition, " DEFAULT {default}");
    }
    if column.auto_increment {
        definition.push_str(" AUTO_INCREMENT");
    }
    if let Some(comment) = &column.comment {
        let _ = write!(definition, " COMMENT {}", quote(comment));
    }
    definition
}

/// `020_foreign_keys.sql`: one ALTER TABLE per foreign key.
#[must_use]
pub fn foreign_keys_file(header: &str, tables: &[DraftTable]) -> String {
    let mut text = String::from(header);
    for table in tables {
        for key in &table.foreign_keys {
            let _ = writeln!(
                text,
                "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}){};{}",
                identifier(&table.name),
                identifier(&key.name),
                identifiers(&key.columns),
                identifier(&key.referenced),
                identifiers(&key.referenced_columns),
                key.actions,
                review_comment(&key.review)
            );
        }
    }
    text
}

/// How many `-- REVIEW:` notes the files hold.
#[must_use]
pub fn count_reviews(files: &[&str]) -> usize {
    files
        .iter()
        .map(|text| text.matches("-- REVIEW:").count())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_renders_with_its_notes_on_their_lines() {
        let table = DraftTable {
            source: "public.users".into(),
            name: "users".into(),
            columns: vec![
                DraftColumn {
                    name: "id".into(),
                    sql_type: "BIGINT".into(),
                    not_null: true,
                    auto_increment: true,
                    ..DraftColumn::default()
                },
                DraftColumn {
                    name: "note".into(),
                    sql_type: "VARCHAR(255)".into(),
                    default: Some("'x'".into()),
                    review: vec!["no values to measure".into()],
                    ..DraftColumn::default()
                },
            ],
            primary_key: vec!["id".into()],
            indexes: vec![("users_note_idx".into(), false, vec!["note".into()])],
            ..DraftTable::default()
        };
        let text = tables_file("-- header\n", &[table], "utf8mb4_0900_bin");
        assert_eq!(
            text,
            "-- header\n\nCREATE TABLE `users` (\n    `id` BIGINT NOT NULL AUTO_INCREMENT,\n    `note` VARCHAR(255) DEFAULT 'x',  -- REVIEW: no values to measure\n    PRIMARY KEY (`id`),\n    KEY `users_note_idx` (`note`)\n) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_0900_bin;\n"
        );
        assert_eq!(count_reviews(&[&text]), 1);
    }
}
