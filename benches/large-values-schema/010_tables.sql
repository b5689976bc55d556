-- Target tables for scripts/bench-large-values.sh: documents kept in rows.
CREATE TABLE big_text (id INT PRIMARY KEY, body LONGTEXT NOT NULL);
CREATE TABLE mixed (id INT PRIMARY KEY, data LONGBLOB NOT NULL, body LONGTEXT NOT NULL);
