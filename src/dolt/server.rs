//! `--target dolt:PATH`: a private `dolt sql-server` (the `dolt` on PATH)
//! over the directory PATH, on the loopback port the settings reserved
//! (so the target's address is known before it runs), with LOAD DATA LOCAL
//! on, for one run. Each database is then an ordinary Dolt database in
//! PATH/<database> (`dolt log`, `dolt sql`, `dolt push` work there).

use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::process::{Child, Command};
use tracing::{debug, info};

use crate::error::{FailureKind, failure};
use crate::mysql::TargetAddress;

/// How long the server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A free loopback port for the private server, chosen when the settings
/// are resolved.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .context("finding a free loopback port for dolt sql-server")?
        .port())
}

/// The `dolt` executable on PATH, if there is one.
#[must_use]
pub fn dolt_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|directory| directory.join("dolt"))
        .find(|candidate| candidate.is_file())
}

/// `dolt sql-server --config CONFIG` (`$0`, `$1`) under a watcher: SIGTERM
/// or SIGINT to it stop the server (SIGTERM, so Dolt flushes; SIGKILL after
/// 9 s), and so does the end of process `$2` (this run, checked every
/// second).
const WATCHED: &str = "\"$0\" sql-server --config \"$1\" & server=$!
halt() { kill -TERM $server 2>/dev/null; (sleep 9; kill -KILL $server 2>/dev/null) & killer=$!; wait $server; kill $killer 2>/dev/null; exit; }
trap halt TERM INT
while kill -0 \"$2\" 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 1; done
halt";

/// A running private sql-server; stopped by [`LocalDolt::stop`] (or, as a
/// last resort, when dropped or when this process ends: its watcher).
pub struct LocalDolt {
    child: Child,
    /// the server's config file and log, removed when it stops
    scratch: PathBuf,
}

impl LocalDolt {
    /// Starts the server `target` asks for (`--target dolt:PATH`, on the
    /// port its settings reserved); none for a server URL. Stop it with
    /// [`LocalDolt::stop`] once the target is settled.
    pub async fn start_for(target: &TargetAddress) -> anyhow::Result<Option<LocalDolt>> {
        match &target.local_dolt {
            Some(local) => Ok(Some(LocalDolt::start(&local.directory, local.port).await?)),
            None => Ok(None),
        }
    }

    /// Starts a sql-server over `directory` (created when missing) on
    /// loopback `port`.
    pub async fn start(directory: &Path, port: u16) -> anyhow::Result<LocalDolt> {
        let dolt = dolt_on_path().ok_or_else(|| {
            failure(
                FailureKind::Usage,
                "--target dolt:PATH needs the dolt command on PATH (https://docs.dolthub.com/introduction/installation)",
            )
        })?;
        std::fs::create_dir_all(directory)
            .with_context(|| format!("creating the Dolt directory {}", directory.display()))?;
        let directory = directory
            .canonicalize()
            .with_context(|| format!("the Dolt directory {}", directory.display()))?;
        let scratch =
            std::env::temp_dir().join(format!("pg2dolt-dolt-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&scratch).context("creating the sql-server's config directory")?;
        let config = scratch.join("config.yaml");
        // The YAML string is quoted: a directory may hold any character.
        let quoted = serde_json::to_string(&directory.to_string_lossy())?;
        std::fs::write(
            &config,
            format!(
                "log_level: warning\nlistener:\n  host: 127.0.0.1\n  port: {port}\ndata_dir: {quoted}\n\
                 system_variables:\n  local_infile: 1\n"
            ),
        )
        .context("writing the sql-server's config")?;
        let log = std::fs::File::create(scratch.join("server.log"))
            .context("creating the sql-server's log")?;
        // The server runs under a watcher that stops it once this process
        // is gone, so a run killed outright (SIGKILL) does not leave it
        // holding the directory, which the next run's server could not open.
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(WATCHED)
            .arg(&dolt)
            .arg(&config)
            .arg(std::process::id().to_string())
            .current_dir(&directory)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} sql-server", dolt.display()))?;
        let mut server = LocalDolt { child, scratch };
        server.wait_until_listening(port).await?;
        info!(directory = %directory.display(), port, "dolt sql-server started");
        Ok(server)
    }

    async fn wait_until_listening(&mut self, port: u16) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "dolt sql-server exited while starting ({status}): {}",
                    self.log_tail()
                );
            }
            if started.elapsed() > START_TIMEOUT {
                anyhow::bail!(
                    "dolt sql-server did not listen within {} s: {}",
                    START_TIMEOUT.as_secs(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The end of the server's log, on one line.
    fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(self.scratch.join("server.log")) {
            let length = file.metadata().map_or(0, |metadata| metadata.len());
            let _ = file.seek(std::io::SeekFrom::Start(length.saturating_sub(2000)));
            let _ = file.read_to_string(&mut text);
        }
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// Stops the server: SIGTERM to its watcher (the server finishes what
    /// it writes; SIGKILL after 9 s), which is killed after 10 s.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // std and tokio send only SIGKILL; SIGTERM lets Dolt flush.
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        let stopped = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        if matches!(stopped, Ok(Ok(_))) {
            debug!("dolt sql-server stopped");
            return;
        }
        let _ = self.child.kill().await;
    }
}

impl Drop for LocalDolt {
    fn drop(&mut self) {
        // Not stopped: its watcher stops it.
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}
