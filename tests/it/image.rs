//! Issue 22: the image, run as users run it. `scripts/test.sh` builds it
//! with `scripts/build-image.sh` (the Dockerfile unchanged) and names it in
//! PG2DOLT_TEST_IMAGE; the engine (docker or podman) is PG2DOLT_TEST_ENGINE.
//! Every container shares the host's network, so the test servers on the
//! loopback are the ones it copies from and into.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use mysql_async::prelude::Queryable as _;

use crate::support::*;

pub(crate) const SOURCE: &str = "
    CREATE TABLE authors (id INT PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE books (id INT PRIMARY KEY, author_id INT NOT NULL REFERENCES authors (id),
                        title TEXT NOT NULL);
    INSERT INTO authors SELECT g, 'author ' || g FROM generate_series(1, 20) g;
    INSERT INTO books SELECT g, 1 + g % 20, 'book ' || g FROM generate_series(1, 500) g;
";

pub(crate) const SCHEMA: &str = "
    CREATE TABLE authors (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL);
    CREATE TABLE books (id INT PRIMARY KEY, author_id INT NOT NULL, title VARCHAR(100) NOT NULL,
                        FOREIGN KEY (author_id) REFERENCES authors (id));
";

/// The image's non-root user.
pub(crate) const IMAGE_USER: u32 = 10001;

/// The image under test and its engine, or `None` (said; a failure under
/// PG2DOLT_TEST_REQUIRE_DOLT=1, as in CI).
pub(crate) fn image(test: &str) -> Option<Image> {
    let tag = required("PG2DOLT_TEST_IMAGE", &format!("{test}: the image"))?;
    let engine = std::env::var("PG2DOLT_TEST_ENGINE").unwrap_or_else(|_| "podman".into());
    Some(Image { tag, engine })
}

pub(crate) struct Image {
    pub(crate) tag: String,
    pub(crate) engine: String,
}

impl Image {
    /// `ENGINE run --rm --network host` with `options`, the image, and
    /// `arguments` (pg2dolt's).
    pub(crate) fn run(&self, options: &[&str], arguments: &[&str]) -> Output {
        self.command(options, arguments).output().unwrap()
    }

    fn command(&self, options: &[&str], arguments: &[&str]) -> Command {
        let mut command = Command::new(&self.engine);
        command
            .args(["run", "--rm", "--network", "host"])
            .args(options)
            .arg(&self.tag)
            .args(arguments)
            .stdin(Stdio::null());
        command
    }

    /// A shell command in the image (entrypoint replaced).
    fn shell(&self, script: &str) -> String {
        let output = self.run(&["--entrypoint", "sh"], &["-c", script]);
        assert!(
            output.status.success(),
            "{script}: {}",
            text(&output.stderr)
        );
        text(&output.stdout)
    }
}

/// pg2dolt's flags for `command` from the case's source into `target`,
/// into the case's database, with the schema files mounted at /schema.
pub(crate) fn flags<'a>(command: &'a str, case: &'a Case, target: &'a str) -> Vec<&'a str> {
    vec![
        command,
        "--source",
        &case.source,
        "--target",
        target,
        "--database",
        &case.name,
        "--schema-dir",
        "/schema",
    ]
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A directory the image's user may read (and write, `writable`).
pub(crate) fn directory_for_the_image(name: &str, writable: bool) -> PathBuf {
    let directory = std::env::temp_dir().join(unique_name(name));
    std::fs::create_dir_all(&directory).unwrap();
    if writable {
        let status = Command::new("chown")
            .arg(format!("{IMAGE_USER}:{IMAGE_USER}"))
            .arg(&directory)
            .status()
            .unwrap();
        assert!(status.success());
    }
    directory
}

pub(crate) fn mount(host: &Path, inside: &str, read_only: bool) -> String {
    let mode = if read_only { ":ro" } else { "" };
    format!("{}:{inside}{mode}", host.display())
}

pub(crate) async fn count(url: &str, database: &str, table: &str) -> Option<u64> {
    let mut conn = mysql_connect(&with_database(url, database)).await;
    conn.query_first(format!("SELECT COUNT(*) FROM `{table}`"))
        .await
        .unwrap()
}

#[test]
fn the_image_is_small_non_root_and_carries_the_pinned_dolt() {
    let Some(image) = image("the image's contents") else {
        return;
    };
    let version = image.run(&[], &["--version"]);
    assert!(version.status.success(), "{}", text(&version.stderr));
    assert!(
        text(&version.stdout).starts_with("pg2dolt "),
        "{}",
        text(&version.stdout)
    );

    let pinned = std::fs::read_to_string(repo_path("scripts/dolt-version")).unwrap();
    let pinned = pinned
        .lines()
        .find_map(|line| line.strip_prefix("DOLT_VERSION="))
        .unwrap()
        .to_string();
    let dolt = image.shell("dolt version");
    assert!(
        dolt.contains(&format!("dolt version {pinned}")),
        "pinned {pinned}, the image has: {dolt}"
    );
    assert_eq!(image.shell("id -u").trim(), IMAGE_USER.to_string());
    let tools = image.shell(
        "for tool in cc gcc rustc cargo go apt-get; do command -v $tool || true; done; ls /var/lib/apt/lists",
    );
    let leftovers: Vec<&str> = tools
        .lines()
        .filter(|line| !line.ends_with("apt-get") && !line.trim().is_empty())
        .collect();
    assert!(
        leftovers.is_empty(),
        "compilers or package lists left: {leftovers:?}"
    );
    // pg2dolt is stripped: no symbol table (read with the host's readelf).
    let binary = image.run(&["--entrypoint", "cat"], &["/usr/local/bin/pg2dolt"]);
    assert!(binary.status.success() && binary.stdout.len() > 1_000_000);
    let copied = std::env::temp_dir().join(unique_name("image_pg2dolt"));
    std::fs::write(&copied, &binary.stdout).unwrap();
    let sections = Command::new("readelf")
        .arg("-S")
        .arg(&copied)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&copied);
    assert!(sections.status.success(), "{}", text(&sections.stderr));
    let sections = text(&sections.stdout);
    assert!(
        sections.contains(".text") && !sections.contains(".symtab"),
        "not stripped:\n{sections}"
    );

    let inspected = Command::new(&image.engine)
        .args(["image", "inspect", "--format", "{{.Size}}", &image.tag])
        .output()
        .unwrap();
    let bytes: u64 = text(&inspected.stdout).trim().parse().unwrap();
    let megabytes = bytes / 1_000_000;
    assert!(megabytes <= 300, "the image is {megabytes} MB");
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("image {}: {megabytes} MB\n", image.tag).as_bytes(),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_copies_with_schema_files_mounted_read_only() {
    let Some(image) = image("a copy in the image") else {
        return;
    };
    let Some(dolt) = dolt_url("a copy in the image") else {
        return;
    };
    let case = Case::new("image_copy", SOURCE).await;
    let schema = case.schema_dir(&[("010_tables.sql", SCHEMA)]);
    let output = image.run(
        &["-v", &mount(&schema, "/schema", true)],
        &flags("copy", &case, &dolt),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let hash = text(&output.stdout);
    assert_eq!(hash.trim().len(), 32, "the Dolt commit on stdout: {hash}");
    assert_eq!(count(&dolt, &case.name, "books").await, Some(500));
    assert_eq!(count(&dolt, &case.name, "authors").await, Some(20));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_copies_into_a_mounted_dolt_directory_as_its_user() {
    let Some(image) = image("dolt:PATH in the image") else {
        return;
    };
    let case = Case::new("image_local", SOURCE).await;
    let schema = case.schema_dir(&[("010_tables.sql", SCHEMA)]);
    let data = directory_for_the_image("image_data", true);
    let output = image.run(
        &[
            "-v",
            &mount(&schema, "/schema", true),
            "-v",
            &mount(&data, "/data", false),
        ],
        &flags("copy", &case, "dolt:/data"),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    // The host's dolt reads what the image's user wrote.
    let database = data.join(&case.name);
    let counted = Command::new("dolt")
        .args(["sql", "-r", "csv", "-q", "SELECT COUNT(*) FROM books"])
        .current_dir(&database)
        .output()
        .unwrap();
    assert!(counted.status.success(), "{}", text(&counted.stderr));
    assert_eq!(text(&counted.stdout).lines().nth(1), Some("500"));
    let log = Command::new("dolt")
        .args(["log", "-n", "1", "--oneline"])
        .current_dir(&database)
        .output()
        .unwrap();
    assert!(text(&log.stdout).contains("pg2dolt: copy of Postgres database"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_night_runs_in_the_image() {
    let Some(image) = image("a refresh in the image") else {
        return;
    };
    let Some(dolt) = dolt_url("a refresh in the image") else {
        return;
    };
    let case = Case::new("image_refresh", SOURCE).await;
    let schema = case.schema_dir(&[("010_tables.sql", SCHEMA)]);
    let night = || {
        image.run(
            &["-v", &mount(&schema, "/schema", true)],
            &flags("refresh", &case, &dolt),
        )
    };
    let first = night();
    assert!(first.status.success(), "{}", text(&first.stderr));
    case.source_sql(
        "UPDATE books SET title = 'retitled' WHERE id <= 10; DELETE FROM books WHERE id > 490",
    )
    .await;
    let second = night();
    assert!(second.status.success(), "{}", text(&second.stderr));
    let summary = text(&second.stderr);
    assert!(summary.contains("published"), "{summary}");
    assert_eq!(count(&dolt, &case.name, "books").await, Some(490));
    let first_head = text(&first.stdout);
    let second_head = text(&second.stdout);
    assert_ne!(first_head.trim(), second_head.trim(), "a new commit");
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_the_container_mid_copy_is_a_sigterm_with_its_summary() {
    let Some(image) = image("SIGTERM through the engine") else {
        return;
    };
    let case = Case::new(
        "image_sigterm",
        "CREATE TABLE big (id int PRIMARY KEY, payload text);
         INSERT INTO big SELECT n, md5(n::text) FROM generate_series(1, 5000) n;",
    )
    .await;
    let lock = format!("{}_stall", case.name);
    let schema = crate::parallel::stalling_schema(&lock, 100);
    let directory = case.schema_dir(&[("010.sql", &schema)]);
    let mut holder = mysql_connect(&case.servers.mysql_url).await;
    holder
        .query_drop(format!("DO GET_LOCK('{lock}', 10)"))
        .await
        .unwrap();
    let name = unique_name("pg2dolt_sigterm");
    let mut child = image
        .command(
            &["--name", &name, "-v", &mount(&directory, "/schema", true)],
            &[
                &flags("copy", &case, &case.servers.mysql_url)[..],
                &["--jobs", "1"],
            ]
            .concat(),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    crate::parallel::wait_for_stall(&case, &mut child).await;
    let stopped = Command::new(&image.engine)
        .args(["stop", "-t", "30", &name])
        .output()
        .unwrap();
    assert!(stopped.status.success(), "{}", text(&stopped.stderr));
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    holder
        .query_drop(format!("DO RELEASE_LOCK('{lock}')"))
        .await
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("interrupted by SIGTERM: the copy stopped and no Dolt commit was made"),
        "{stderr}"
    );
    assert!(
        stderr.contains("INTERRUPTED after copying"),
        "the summary:\n{stderr}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
}
