//! A `dolt sql-server` of a test's own, for tests that end sessions or
//! kill the server, which must not touch the suite's shared one.

/// A `dolt sql-server` of the test's own with Dolt's defaults (local_infile
/// off), on a free port; killed and removed on drop.
pub struct OwnDolt {
    child: std::process::Child,
    directory: std::path::PathBuf,
    /// `mysql://root@127.0.0.1:PORT`
    pub url: String,
}

impl OwnDolt {
    /// Starts one over a new directory named after `name`.
    pub async fn start(name: &str) -> OwnDolt {
        let directory = std::env::temp_dir().join(format!("{name}-server"));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(directory.join("data")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = directory.join("config.yaml");
        std::fs::write(
            &config,
            format!(
                "listener:\n  host: 127.0.0.1\n  port: {port}\ndata_dir: {}\n",
                directory.join("data").display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new("dolt")
            .args(["sql-server", "--config", config.to_str().unwrap()])
            .current_dir(&directory)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("mysql://root@127.0.0.1:{port}");
        let started = std::time::Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                started.elapsed().as_secs() < 60,
                "dolt sql-server did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        OwnDolt {
            child,
            directory,
            url,
        }
    }
}

impl OwnDolt {
    /// Kills the server at once (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnDolt {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
