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

const SOURCE: &str = "
    CREATE TABLE authors (id INT PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE books (id INT PRIMARY KEY, author_id INT NOT NULL REFERENCES authors (id),
                        title TEXT NOT NULL);
    INSERT INTO authors SELECT g, 'author ' || g FROM generate_series(1, 20) g;
    INSERT INTO books SELECT g, 1 + g % 20, 'book ' || g FROM generate_series(1, 500) g;
";

const SCHEMA: &str = "
    CREATE TABLE authors (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL);
    CREATE TABLE books (id INT PRIMARY KEY, author_id INT NOT NULL, title VARCHAR(100) NOT NULL,
                        FOREIGN KEY (author_id) REFERENCES authors (id));
";

/// The image's non-root user.
const IMAGE_USER: u32 = 10001;

/// The image under test and its engine, or `None` (said; a failure under
/// PG2DOLT_TEST_REQUIRE_DOLT=1, as in CI).
fn image(test: &str) -> Option<Image> {
    let tag = required("PG2DOLT_TEST_IMAGE", &format!("{test}: the image"))?;
    let engine = std::env::var("PG2DOLT_TEST_ENGINE").unwrap_or_else(|_| "podman".into());
    Some(Image { tag, engine })
}

struct Image {
    tag: String,
    engine: String,
}

impl Image {
    /// `ENGINE run --rm --network host` with `options`, the image, and
    /// `arguments` (pg2dolt's).
    fn run(&self, options: &[&str], arguments: &[&str]) -> Output {
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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A directory the image's user may read (and write, `writable`).
fn directory_for_the_image(name: &str, writable: bool) -> PathBuf {
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

fn mount(host: &Path, inside: &str, read_only: bool) -> String {
    let mode = if read_only { ":ro" } else { "" };
    format!("{}:{inside}{mode}", host.display())
}

async fn count(url: &str, database: &str, table: &str) -> Option<u64> {
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
        &[
            "copy",
            "--source",
            &case.source,
            "--target",
            &dolt,
            "--database",
            &case.name,
            "--schema-dir",
            "/schema",
        ],
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
        &[
            "copy",
            "--source",
            &case.source,
            "--target",
            "dolt:/data",
            "--database",
            &case.name,
            "--schema-dir",
            "/schema",
        ],
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
            &[
                "refresh",
                "--source",
                &case.source,
                "--target",
                &dolt,
                "--database",
                &case.name,
                "--schema-dir",
                "/schema",
            ],
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
                "copy",
                "--source",
                &case.source,
                "--target",
                &case.servers.mysql_url,
                "--database",
                &case.name,
                "--schema-dir",
                "/schema",
                "--jobs",
                "1",
            ],
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

/// `KEY: VALUE` pairs of a manifest's container env, and its args (one
/// JSON array line `args: [...]`), read from the YAML as written.
fn manifest_container(path: &str) -> (Vec<String>, Vec<(String, String)>) {
    let yaml = std::fs::read_to_string(repo_path(path)).unwrap();
    let mut args = Vec::new();
    let mut environment = Vec::new();
    let mut name: Option<String> = None;
    for line in yaml.lines().map(str::trim) {
        if let Some(list) = line.strip_prefix("args: ") {
            args = serde_json::from_str(list).unwrap();
        } else if let Some(value) = line.strip_prefix("- name: ") {
            name = Some(value.to_string());
        } else if let (Some(value), Some(key)) = (line.strip_prefix("value: "), name.take()) {
            environment.push((key, value.trim_matches('"').to_string()));
        }
    }
    assert!(!args.is_empty(), "{path} has no args line");
    (args, environment)
}

/// A secret's files as Kubernetes mounts them with the manifests' pod
/// security context: owned by root, group `fsGroup`, mode `defaultMode`.
fn secret_files(files: &[(&str, &str)]) -> PathBuf {
    let directory = directory_for_the_image("image_secret", false);
    for (name, content) in files {
        let path = directory.join(name);
        std::fs::write(&path, content).unwrap();
        let owned = Command::new("chown")
            .arg(format!("0:{IMAGE_USER}"))
            .arg(&path)
            .status()
            .unwrap();
        assert!(owned.success());
        let mode = Command::new("chmod")
            .arg("0440")
            .arg(&path)
            .status()
            .unwrap();
        assert!(mode.success());
    }
    directory
}

#[tokio::test(flavor = "multi_thread")]
async fn the_job_and_cronjob_args_run_as_written_with_secrets_from_files() {
    let Some(image) = image("the Kubernetes manifests' command lines") else {
        return;
    };
    let Some(dolt) = dolt_url("the Kubernetes manifests' command lines") else {
        return;
    };
    let case = Case::new("image_k8s", SOURCE).await;
    // A password that must appear nowhere: the source's role has it.
    let password = format!("pw{}", unique_name("secret").replace('_', ""));
    let role = unique_name("k8s_role");
    case.source_sql(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD '{password}'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};"
    ))
    .await;
    let source = strip_user(&case.source, &role, &password);
    let schema = case.schema_dir(&[("010_tables.sql", SCHEMA)]);
    let secrets = secret_files(&[("source-url", &source), ("target-url", &dolt)]);
    for (manifest, database) in [
        ("k8s/job.yaml", &case.name),
        ("k8s/cronjob.yaml", &case.name),
    ] {
        let (args, environment) = manifest_container(manifest);
        let mut options: Vec<String> = vec![
            "--user".into(),
            format!("{IMAGE_USER}:{IMAGE_USER}"),
            "--read-only".into(),
            "--tmpfs".into(),
            "/tmp".into(),
            "--cap-drop".into(),
            "ALL".into(),
            "--security-opt".into(),
            "no-new-privileges".into(),
            "-v".into(),
            mount(&secrets, "/var/run/secrets/pg2dolt", true),
            "-v".into(),
            mount(&schema, "/etc/pg2dolt/schema", true),
        ];
        for (key, value) in &environment {
            // The database is the test's own; everything else as written.
            let value = if key == "PG2DOLT_DATABASE" {
                database
            } else {
                value
            };
            options.push("-e".into());
            options.push(format!("{key}={value}"));
        }
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = image.run(&options, &args);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert!(output.status.success(), "{manifest}: {stderr}");
        assert!(
            !stdout.contains(&password) && !stderr.contains(&password),
            "{manifest} printed the password"
        );
        assert!(
            stderr.lines().all(|line| line.starts_with('{')),
            "{manifest}: JSON logs: {stderr}"
        );
    }
    assert_eq!(count(&dolt, &case.name, "books").await, Some(500));
}

/// The source URL with `role:password@` in place of its user.
fn strip_user(url: &str, role: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{role}:{password}@{host}")
}

/// The `docker` commands of the README's Docker section, each a list of
/// words (backslash continuations joined, quotes removed, `$PWD` kept).
fn readme_docker_commands() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let section = readme.split("\n## Docker\n").nth(1).unwrap();
    let block = section.split("```sh\n").nth(1).unwrap();
    let block = block.split("```").next().unwrap();
    let joined = block.replace("\\\n", " ");
    joined
        .lines()
        .filter(|line| line.starts_with("docker "))
        .map(shell_words)
        .collect()
}

/// A command line split as the shell splits it (quotes, no expansion).
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut started) = (Vec::new(), String::new(), None, false);
    for character in line.chars() {
        match (quote, character) {
            (None, '\'' | '"') => (quote, started) = (Some(character), true),
            (Some(open), _) if character == open => quote = None,
            (None, ' ') if started => {
                words.push(std::mem::take(&mut word));
                started = false;
            }
            (None, ' ') => {}
            _ => {
                word.push(character);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_docker_examples_run_word_for_word() {
    let Some(image) = image("the README's docker examples") else {
        return;
    };
    let Some(dolt) = dolt_url("the README's docker examples") else {
        return;
    };
    let commands = readme_docker_commands();
    assert_eq!(
        commands[0],
        ["docker", "build", "-t", "pg2dolt", "."],
        "built by scripts/build-image.sh"
    );
    let runs = &commands[1..];
    assert_eq!(runs.len(), 2, "{commands:?}");
    let case = Case::new("image_readme", SOURCE).await;
    let workdir = directory_for_the_image("image_readme", true);
    std::fs::create_dir_all(workdir.join("my-schema")).unwrap();
    std::fs::write(workdir.join("my-schema/010_tables.sql"), SCHEMA).unwrap();
    let staging = workdir.join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let owned = Command::new("chown")
        .args(["-R", &format!("{IMAGE_USER}:{IMAGE_USER}")])
        .arg(&staging)
        .status()
        .unwrap();
    assert!(owned.success());
    for words in runs {
        // The test's URLs, directories, database and image in place of the
        // README's; every other word as written.
        let words: Vec<String> = words
            .iter()
            .map(|word| {
                let word = word.replace("$PWD", &workdir.display().to_string());
                match word.split_once('=') {
                    Some(("PG2DOLT_SOURCE", _)) => format!("PG2DOLT_SOURCE={}", case.source),
                    Some(("PG2DOLT_TARGET", _)) => format!("PG2DOLT_TARGET={dolt}"),
                    _ if word == "shop" => case.name.clone(),
                    _ if word == "pg2dolt" => image.tag.clone(),
                    _ if word == "docker" => image.engine.clone(),
                    _ => word,
                }
            })
            .collect();
        let output = Command::new(&words[0])
            .args(&words[1..])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{words:?}: {}",
            text(&output.stderr)
        );
    }
    assert_eq!(count(&dolt, &case.name, "books").await, Some(500));
    // The second wrote a Dolt database named after the source database.
    let written = std::fs::read_dir(&staging)
        .unwrap()
        .filter_map(Result::ok)
        .any(|entry| entry.path().join(".dolt").is_dir());
    assert!(written, "no Dolt database in {}", staging.display());
}
