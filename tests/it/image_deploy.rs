//! Issue 22, the image as the deploy files and the README run it: the
//! Job's and the CronJob's command lines read from k8s/ and run as written
//! (secrets mounted as Kubernetes mounts them), and the README's `docker
//! run` examples run word for word.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::image::{
    IMAGE_USER, SCHEMA, SOURCE, count, directory_for_the_image, image, mount, text,
};
use crate::support::*;

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
