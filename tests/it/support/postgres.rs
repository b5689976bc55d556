//! A PostgreSQL cluster of one test's own, for what the shared server
//! cannot be put through: a streaming standby made with `pg_basebackup -R`,
//! promoted after its primary is lost, a point-in-time restore from a WAL
//! archive. Started from the builds the test command installed
//! (`PG2DOLT_TEST_PG_BINS`: PostgreSQL 15 from Debian and the newest major
//! it could install), in a temporary directory, on a free port; stopped
//! and removed on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::servers::{pg_connect, unique_name};

/// One PostgreSQL build's programs.
#[derive(Debug, Clone)]
pub struct PgBuild {
    /// the directory holding `initdb`, `pg_ctl`, `pg_basebackup`, `postgres`
    pub bin: PathBuf,
    /// the major version, e.g. 15
    pub major: u32,
}

/// Every build the test command installed (`None`, said, when it gave none;
/// a failure when every test is required).
pub fn pg_builds(test: &str) -> Option<Vec<PgBuild>> {
    let paths = super::servers::required(
        "PG2DOLT_TEST_PG_BINS",
        &format!("{test} (needs PostgreSQL builds of its own)"),
    )?;
    let builds: Vec<PgBuild> = paths
        .split(':')
        .filter(|path| !path.is_empty())
        .map(|path| {
            let bin = PathBuf::from(path);
            let output = Command::new(bin.join("postgres"))
                .arg("--version")
                .output()
                .unwrap();
            let printed = String::from_utf8_lossy(&output.stdout).to_string();
            let major = printed
                .split_whitespace()
                .nth(2)
                .and_then(|version| version.split('.').next())
                .and_then(|major| major.parse().ok())
                .unwrap_or_else(|| panic!("no version in {printed:?}"));
            PgBuild { bin, major }
        })
        .collect();
    assert!(!builds.is_empty(), "PG2DOLT_TEST_PG_BINS names no build");
    Some(builds)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// A PostgreSQL program, run as the `postgres` user when we are root (the
/// server refuses root).
fn pg_command(build: &PgBuild, program: &str) -> Command {
    let path = build.bin.join(program);
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(&path);
        command
    } else {
        Command::new(&path)
    }
}

/// Runs a PostgreSQL program; panics with its output when it fails.
fn run_pg(build: &PgBuild, program: &str, arguments: &[&str]) -> String {
    let output = pg_command(build, program).args(arguments).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{program} {arguments:?} failed:\n{text}"
    );
    text
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One running (or stopped) server and its data directory.
pub struct PgCluster {
    pub build: PgBuild,
    /// the directory all of this cluster's files are in
    directory: PathBuf,
    port: u16,
    /// a directory this cluster removes when dropped
    owned: bool,
}

impl PgCluster {
    /// A new primary (`initdb`, trust on loopback, replication allowed)
    /// with `settings` added to its postgresql.conf, started.
    pub fn primary(build: &PgBuild, settings: &[&str]) -> PgCluster {
        let directory = std::env::temp_dir().join(unique_name(&format!("pg{}", build.major)));
        std::fs::create_dir_all(&directory).unwrap();
        chown_to_server_user(&directory);
        let cluster = PgCluster {
            build: build.clone(),
            directory,
            port: free_port(),
            owned: true,
        };
        let data = cluster.data();
        run_pg(
            build,
            "initdb",
            &[
                "-D",
                path(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        );
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        for setting in ["fsync = off", "listen_addresses = '127.0.0.1'"]
            .iter()
            .chain(settings)
        {
            use std::io::Write as _;
            writeln!(conf, "{setting}").unwrap();
        }
        cluster.start();
        cluster
    }

    /// A hot standby of this server (`pg_basebackup -R`: it streams from
    /// this one), started on a port of its own, in this cluster's directory.
    pub fn standby(&self, name: &str) -> PgCluster {
        let standby = self.base_backup_with(name, &["-R"]);
        standby.start();
        standby
    }

    /// A base backup of this server into `name` (not started).
    pub fn base_backup(&self, name: &str) -> PgCluster {
        self.base_backup_with(name, &[])
    }

    /// `pg_basebackup` of this server into `name`, with its WAL streamed
    /// and a checkpoint at once (the default waits for a spread one).
    fn base_backup_with(&self, name: &str, options: &[&str]) -> PgCluster {
        let backup = self.sibling(name);
        let port = self.port.to_string();
        let data = backup.data();
        let mut arguments = vec!["-h", "127.0.0.1", "-p", &port, "-U", "postgres"];
        arguments.extend(["-D", path(&data), "-X", "stream", "--checkpoint=fast"]);
        arguments.extend(options);
        run_pg(&self.build, "pg_basebackup", &arguments);
        backup
    }

    fn sibling(&self, name: &str) -> PgCluster {
        let cluster = PgCluster {
            build: self.build.clone(),
            directory: self.directory.join(name),
            port: free_port(),
            owned: false,
        };
        std::fs::create_dir_all(&cluster.directory).unwrap();
        chown_to_server_user(&cluster.directory);
        cluster
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.directory.join("data")
    }

    /// Appends `settings` to postgresql.auto.conf (read at the next start).
    pub fn configure(&self, settings: &[&str]) {
        use std::io::Write as _;
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data().join("postgresql.auto.conf"))
            .unwrap();
        for setting in settings {
            writeln!(conf, "{setting}").unwrap();
        }
    }

    /// Archives every WAL segment into `archive/` of this cluster's
    /// directory (restarts the server); returns the archive.
    pub fn archive_wal(&self) -> PathBuf {
        let archive = self.directory.join("archive");
        std::fs::create_dir_all(&archive).unwrap();
        chown_to_server_user(&archive);
        self.configure(&[
            "archive_mode = on",
            &format!("archive_command = 'cp %p {}/%f'", path(&archive)),
        ]);
        self.stop("fast");
        self.start();
        archive
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) {
        let options = format!("-p {} -k {}", self.port, path(&self.directory));
        let log = self.directory.join(format!("server-{}.log", self.port));
        run_pg(
            &self.build,
            "pg_ctl",
            &[
                "-D",
                path(&self.data()),
                "-l",
                path(&log),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server: `fast` (a clean shutdown: a primary sends its
    /// standbys everything first) or `immediate` (as if the machine died).
    pub fn stop(&self, mode: &str) {
        run_pg(
            &self.build,
            "pg_ctl",
            &["-D", path(&self.data()), "-m", mode, "-w", "stop"],
        );
    }

    /// Promotes a standby (waits until it accepts writes).
    pub fn promote(&self) {
        run_pg(
            &self.build,
            "pg_ctl",
            &["-D", path(&self.data()), "-w", "-t", "60", "promote"],
        );
    }

    /// The URL of `database` as `user`.
    pub fn url_as(&self, user: &str, database: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{database}", self.port)
    }

    /// The URL of `database` as the superuser.
    pub fn url(&self, database: &str) -> String {
        self.url_as("postgres", database)
    }

    /// Runs `sql` in `database`.
    pub async fn sql(&self, database: &str, sql: &str) {
        pg_connect(&self.url(database))
            .await
            .batch_execute(sql)
            .await
            .unwrap();
    }

    /// One value of `query` in `database`, as text.
    pub async fn value(&self, database: &str, query: &str) -> String {
        let rows = pg_connect(&self.url(database))
            .await
            .simple_query(query)
            .await
            .unwrap();
        rows.iter()
            .find_map(|message| match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{query} returned no value"))
    }

    /// Waits until this standby has replayed everything `primary` has
    /// written so far.
    pub async fn wait_replayed(&self, primary: &PgCluster) {
        let written = primary
            .value("postgres", "SELECT pg_current_wal_lsn()::text")
            .await;
        let query = format!("SELECT pg_last_wal_replay_lsn() >= '{written}'::pg_lsn");
        self.wait_for(&query, "the standby to replay the primary's WAL")
            .await;
    }

    /// Waits until `query` returns true.
    pub async fn wait_for(&self, query: &str, what: &str) {
        let started = Instant::now();
        while self.value("postgres", query).await != "t" {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "waited 60 s for {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.data().join("postmaster.pid").exists() {
            let data = self.data();
            let _ = pg_command(&self.build, "pg_ctl")
                .args(["-D", path(&data), "-m", "immediate", "-w", "stop"])
                .output();
        }
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.directory);
        }
    }
}

/// The server's files must be its user's (its socket and log go there too).
fn chown_to_server_user(directory: &Path) {
    if running_as_root() {
        Command::new("chown")
            .args(["postgres", path(directory)])
            .status()
            .unwrap();
    }
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}
