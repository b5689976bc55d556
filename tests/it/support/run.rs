//! Running the release-shaped binary as a user does: the `Pg2dolt`
//! builder, its `Run` (exit code, output, report), a SIGTERM mid-run, and
//! the end a killed target must be told as.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as Json;

/// What a run of the binary printed and returned.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// the --report file given
    pub report: Option<PathBuf>,
}

impl Run {
    /// The JSON report this run wrote (it must have written one).
    pub fn report(&self) -> Json {
        let path = self.report.as_ref().expect("the run was given no --report");
        assert!(
            path.exists(),
            "the run wrote no report at {}; stderr:\n{}",
            path.display(),
            self.stderr
        );
        read_report(path)
    }

    pub fn assert_success(&self) {
        assert_eq!(self.code, 0, "pg2dolt failed:\n{}", self.stderr);
    }

    /// A failed run: the expected exit code, one error line, no panic.
    pub fn assert_one_line_error(&self, code: i32) -> String {
        assert_eq!(
            self.code, code,
            "unexpected exit code; stderr:\n{}",
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("stack backtrace"),
            "{}",
            self.stderr
        );
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|line| line.starts_with("pg2dolt: error: "))
            .collect();
        assert_eq!(
            errors.len(),
            1,
            "expected exactly one error line:\n{}",
            self.stderr
        );
        errors[0].to_string()
    }
}

/// One pg2dolt run, its flags as data: `Pg2dolt::new("copy")` or
/// [`Case::copy`], then flags, then [`Pg2dolt::run`]. The environment
/// carries no PG2DOLT_* flag variables but those given here.
#[derive(Debug, Clone)]
pub struct Pg2dolt {
    arguments: Vec<OsString>,
    environment: Vec<(String, String)>,
    /// no RUST_LOG: `-v`/`-q` pick the log level, as for a user
    as_user: bool,
    /// the --report file, removed before the run
    report: Option<PathBuf>,
}

impl Pg2dolt {
    /// A run of `command` (`copy`, `plan`, `restore`, …; empty: none).
    pub fn new(command: &str) -> Pg2dolt {
        Pg2dolt {
            arguments: command.split_whitespace().map(OsString::from).collect(),
            environment: Vec::new(),
            as_user: false,
            report: None,
        }
    }

    /// A flag with its value.
    pub fn flag(mut self, flag: &str, value: impl AsRef<OsStr>) -> Pg2dolt {
        self.arguments.push(flag.into());
        self.arguments.push(value.as_ref().to_owned());
        self
    }

    /// Arguments as given (switches, or flag and value pairs).
    pub fn args<S: AsRef<OsStr>>(mut self, arguments: impl IntoIterator<Item = S>) -> Pg2dolt {
        self.arguments.extend(
            arguments
                .into_iter()
                .map(|argument| argument.as_ref().to_owned()),
        );
        self
    }

    pub fn source(self, url: &str) -> Pg2dolt {
        self.flag("--source", url)
    }

    pub fn target(self, url: &str) -> Pg2dolt {
        self.flag("--target", url)
    }

    pub fn database(self, name: &str) -> Pg2dolt {
        self.flag("--database", name)
    }

    pub fn schema_dir(self, directory: &Path) -> Pg2dolt {
        self.flag("--schema-dir", directory)
    }

    /// `--report FILE`; the file is removed before the run, so a run that
    /// writes none is never read with an earlier run's.
    pub fn report(mut self, path: &Path) -> Pg2dolt {
        self.report = Some(path.to_path_buf());
        self.flag("--report", path)
    }

    /// An environment variable for the run.
    pub fn env(mut self, name: &str, value: &str) -> Pg2dolt {
        self.environment.push((name.into(), value.into()));
        self
    }

    /// Environment variables for the run.
    pub fn envs(self, variables: &[(&str, &str)]) -> Pg2dolt {
        variables
            .iter()
            .fold(self, |run, (name, value)| run.env(name, value))
    }

    /// As a user runs it: no RUST_LOG.
    pub fn like_a_user(mut self) -> Pg2dolt {
        self.as_user = true;
        self
    }

    /// The command, its environment set (PG2DOLT_* flag variables but
    /// those given removed); the report file removed.
    fn command(&self) -> Command {
        if let Some(report) = &self.report {
            let _ = std::fs::remove_file(report);
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_pg2dolt"));
        command.args(&self.arguments);
        for (key, _) in std::env::vars() {
            if key.starts_with("PG2DOLT_") && !key.starts_with("PG2DOLT_TEST_") {
                command.env_remove(key);
            }
        }
        if self.as_user {
            command.env_remove("RUST_LOG");
        } else {
            command.env("RUST_LOG", "pg2dolt=info");
        }
        command.envs(self.environment.iter().map(|(name, value)| (name, value)));
        command
    }

    /// Runs the binary to the end.
    pub fn run(self) -> Run {
        let Output {
            status,
            stdout,
            stderr,
        } = self.command().output().unwrap();
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            report: self.report,
        }
    }

    /// Starts the binary and returns at once (stdout and stderr piped);
    /// end it with [`terminate`].
    pub fn spawn(self) -> std::process::Child {
        self.command()
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// Sends SIGTERM to a running pg2dolt and waits for it to end: its exit
/// code, stdout and stderr, and how long it took to stop after the signal.
pub async fn terminate(child: std::process::Child) -> (Option<i32>, Run, std::time::Duration) {
    let sent = std::time::Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        report: None,
    };
    (output.status.code(), run, sent.elapsed())
}

/// Waits for a copy whose target server was killed at `killed`, and checks
/// that it ended as a user must be told: within 30 s, exit 1 with one error
/// line naming `table` once, and the summary and the report saying the
/// target holds a partial copy (and no Dolt commit was made).
pub async fn assert_ends_partial_after_kill(
    child: std::process::Child,
    killed: std::time::Instant,
    report: &Path,
    table: &str,
) {
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        killed.elapsed().as_secs() < 30,
        "pg2dolt took {:?} to stop:\n{stderr}",
        killed.elapsed()
    );
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr,
        report: Some(report.to_path_buf()),
    };
    let error = run.assert_one_line_error(1);
    assert_eq!(error.matches(table).count(), 1, "{error}");
    assert!(
        !error.contains("Input/output error: Input/output error"),
        "{error}"
    );
    assert!(
        run.stderr.contains("target: the target database") && run.stderr.contains("partial copy"),
        "the summary tells the state:\n{}",
        run.stderr
    );
    let report = read_report(report);
    assert_eq!(report["status"], "failed");
    assert_eq!(report["target_state"], "partial");
    assert_eq!(report["target_dropped"], false);
    assert_eq!(report["dolt_commit"], Json::Null);
}

pub fn read_report(path: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
