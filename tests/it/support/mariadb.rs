//! A MariaDB server of one test's own, for what a shared server cannot be
//! put through: killed in the middle of a load, or started with LOCAL
//! INFILE refused. Started from the binaries the test command installed,
//! in a temporary directory, on a free port; killed and removed on drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::servers::unique_name;

pub struct Mariadb {
    child: Child,
    directory: PathBuf,
    /// `mysql://root@127.0.0.1:PORT`
    pub url: String,
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn mariadbd() -> String {
    ["/usr/sbin/mariadbd", "/usr/bin/mariadbd"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
        .unwrap_or("mariadbd")
        .to_string()
}

impl Mariadb {
    /// Starts a server with `options` added to its command line.
    pub async fn start(options: &[&str]) -> Mariadb {
        let directory = std::env::temp_dir().join(unique_name("mariadb"));
        std::fs::create_dir_all(&directory).unwrap();
        let user: Vec<String> = if running_as_root() {
            // mariadbd refuses to run as root; the package made a mysql user.
            Command::new("chown")
                .args(["mysql", directory.to_str().unwrap()])
                .status()
                .unwrap();
            vec!["--user=mysql".into()]
        } else {
            Vec::new()
        };
        let data = directory.join("data");
        let installed = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(&user)
            .output()
            .expect("mariadb-install-db (scripts/test.sh installs mariadb-server)");
        assert!(
            installed.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&installed.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(mariadbd())
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg(format!("--socket={}", directory.join("sock").display()))
            .arg(format!("--pid-file={}", directory.join("pid").display()))
            .arg(format!(
                "--log-error={}",
                directory.join("error.log").display()
            ))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--skip-grant-tables",
                "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=16M",
            ])
            .args(&user)
            .args(options)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Mariadb {
            child,
            directory,
            url: format!("mysql://root@127.0.0.1:{port}"),
        };
        server.wait_until_ready().await;
        server
    }

    async fn wait_until_ready(&mut self) {
        let started = Instant::now();
        loop {
            let opts = mysql_async::Opts::from_url(&self.url).unwrap();
            if let Ok(conn) = mysql_async::Conn::new(opts).await {
                let _ = conn.disconnect().await;
                return;
            }
            let log = std::fs::read_to_string(self.directory.join("error.log")).unwrap_or_default();
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "mariadbd exited while starting:\n{log}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "mariadbd did not start in 60 s:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills the server at once (SIGKILL): connections drop mid-statement.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
