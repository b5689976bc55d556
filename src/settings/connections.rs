//! The connection flags resolved: URLs (from a flag or a file), TLS modes
//! and CA files, passwords from files, `dolt:PATH` targets; every secret is
//! registered for redaction as it is read.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use crate::cli::{CopyArgs, SourceConnectionArgs, TargetConnectionArgs};
use crate::error::{FailureKind, failure};
use crate::mysql::TargetAddress;
use crate::postgres::SourceAddress;
use crate::redact::{redact_text, redact_url, secrets_of_url};
use crate::tls::{Tls, TlsMode, take_url_parameters};

/// The two connections: URLs from flags or files, passwords from files.
pub(super) fn resolve_connections(
    arguments: &CopyArgs,
) -> anyhow::Result<(SourceAddress, String, TargetAddress, String)> {
    let (source, source_display) = resolve_source(&arguments.source)?;
    let (target, target_display) = resolve_target(&arguments.target)?;
    Ok((source, source_display, target, target_display))
}

/// The source connection: URL from the flag or a file, TLS from the URL or
/// flags, password from a file. Returns it and its redacted display.
pub fn resolve_source(flags: &SourceConnectionArgs) -> anyhow::Result<(SourceAddress, String)> {
    let source_url = url_from(
        flags.source.as_deref(),
        flags.source_url_file.as_deref(),
        "missing --source (or PG2DOLT_SOURCE, or --source-url-file): the Postgres URL to copy from",
    )?;
    // The drivers know neither verify-ca/verify-full nor CA files: take the
    // TLS parameters out of the URL; flags override them.
    let (source_url, source_mode, source_ca) =
        take_url_parameters(&source_url, &["sslmode"], &["sslrootcert"]);
    let (mut source, source_display) = parse_source(&source_url)?;
    let source_tls = tls_settings(
        flags.source_ssl_mode.as_deref().or(source_mode.as_deref()),
        flags
            .source_ca_file
            .clone()
            .or(source_ca.map(PathBuf::from)),
        "--source-ssl-mode (or sslmode=)",
    )?;
    source.ssl_mode(match source_tls.mode {
        TlsMode::Disable => tokio_postgres::config::SslMode::Disable,
        TlsMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => {
            tokio_postgres::config::SslMode::Require
        }
    });
    if let Some(file) = &flags.source_password_file {
        source.password(read_secret_file(file, "--source-password-file")?);
    }
    Ok((
        SourceAddress {
            config: source,
            tls: source_tls,
        },
        source_display,
    ))
}

/// The target connection: URL from the flag or a file, TLS from the URL or
/// flags, password from a file. Returns it and its redacted display.
pub fn resolve_target(flags: &TargetConnectionArgs) -> anyhow::Result<(TargetAddress, String)> {
    let target_url = url_from(
        flags.target.as_deref(),
        flags.target_url_file.as_deref(),
        "missing --target (or PG2DOLT_TARGET, or --target-url-file): the MySQL-protocol URL to copy into",
    )?;
    if let Some(directory) = target_url.strip_prefix("dolt:") {
        return local_dolt_target(directory);
    }
    let (target_url, target_mode, target_ca) = take_url_parameters(
        &target_url,
        &["ssl-mode", "sslmode"],
        &["ssl-ca", "sslrootcert"],
    );
    let (mut target, target_display) = parse_target(&target_url)?;
    let explicit_target_mode = flags.target_ssl_mode.as_deref().or(target_mode.as_deref());
    let target_tls = tls_settings(
        explicit_target_mode,
        flags
            .target_ca_file
            .clone()
            .or(target_ca.map(PathBuf::from)),
        "--target-ssl-mode (or ssl-mode=)",
    )?;
    // TLS options the URL set the driver's way (require_ssl=true, …) stand
    // unless a mode was given.
    if explicit_target_mode.is_some() || target.ssl_opts().is_none() {
        target = mysql_async::OptsBuilder::from_opts(target)
            .ssl_opts(crate::tls::mysql_ssl_opts(&target_tls))
            .into();
    }
    if let Some(file) = &flags.target_password_file {
        let password = read_secret_file(file, "--target-password-file")?;
        target = mysql_async::OptsBuilder::from_opts(target)
            .pass(Some(password))
            .into();
    }
    Ok((
        TargetAddress {
            opts: target,
            tls: target_tls.mode,
            local_dolt: None,
        },
        target_display,
    ))
}

/// A side's TLS settings; the CA file must exist.
fn tls_settings(mode: Option<&str>, ca_file: Option<PathBuf>, flag: &str) -> anyhow::Result<Tls> {
    let usage = |message: String| failure(FailureKind::Usage, message);
    let mode = match mode {
        Some(text) => TlsMode::parse(text).map_err(|error| usage(format!("{flag}: {error}")))?,
        None => TlsMode::Prefer,
    };
    if let Some(path) = &ca_file
        && !path.is_file()
    {
        return Err(usage(format!("CA file {} does not exist", path.display())));
    }
    Ok(Tls { mode, ca_file })
}

/// A URL from its flag or from a file (a mounted secret); the file's
/// secrets are registered for redaction before anything can print them.
fn url_from(flag: Option<&str>, file: Option<&Path>, missing: &str) -> anyhow::Result<String> {
    if let Some(url) = flag {
        return Ok(url.to_string());
    }
    let Some(file) = file else {
        return Err(failure(FailureKind::Usage, missing));
    };
    let text = std::fs::read_to_string(file).map_err(|error| {
        failure(
            FailureKind::Usage,
            format!("cannot read {}: {error}", file.display()),
        )
    })?;
    let url = text.trim().to_string();
    crate::redact::add_secrets(secrets_of_url(&url));
    if url.is_empty() {
        return Err(failure(
            FailureKind::Usage,
            format!("{} is empty", file.display()),
        ));
    }
    Ok(url)
}

/// A password from a file (trailing newline dropped), registered for
/// redaction at once.
fn read_secret_file(file: &Path, flag: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(file).map_err(|error| {
        failure(
            FailureKind::Usage,
            format!("{flag}: cannot read {}: {error}", file.display()),
        )
    })?;
    let password = text.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err(failure(
            FailureKind::Usage,
            format!("{flag}: {} is empty", file.display()),
        ));
    }
    crate::redact::add_secrets([password.clone()]);
    Ok(password)
}

fn parse_source(url: &str) -> anyhow::Result<(tokio_postgres::Config, String)> {
    let usage = |message: String| failure(FailureKind::Usage, message);
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if !is_url && !url.contains('=') {
        return Err(usage(
            "--source must be a postgres:// URL (or a key=value connection string)".into(),
        ));
    }
    if is_url {
        url::Url::parse(url)
            .map_err(|error| usage(format!("--source is not a valid URL: {error}")))?;
    }
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|error| usage(format!("--source is not a valid Postgres URL: {error}")))?;
    if config.get_hosts().is_empty() {
        return Err(usage("--source names no host".into()));
    }
    config.application_name("pg2dolt");
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(crate::mysql::CONNECT_TIMEOUT);
    }
    Ok((config, redact_url(url)))
}

/// `--target dolt:PATH`: checked now (a directory name, `dolt` on PATH)
/// and given its loopback port; the server starts when the run does.
fn local_dolt_target(directory: &str) -> anyhow::Result<(TargetAddress, String)> {
    if directory.is_empty() {
        return Err(failure(
            FailureKind::Usage,
            "--target dolt:PATH names no directory (e.g. dolt:./staging)",
        ));
    }
    if crate::dolt::server::dolt_on_path().is_none() {
        return Err(failure(
            FailureKind::Usage,
            "--target dolt:PATH needs the dolt command on PATH (https://docs.dolthub.com/introduction/installation)",
        ));
    }
    // The port is reserved now, so the address never changes once resolved.
    let port = crate::dolt::server::free_port()?;
    let opts = mysql_async::Opts::from_url(&format!("mysql://root@127.0.0.1:{port}"))
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok((
        TargetAddress {
            opts,
            tls: TlsMode::Disable,
            local_dolt: Some(crate::mysql::LocalDoltTarget {
                directory: PathBuf::from(directory),
                port,
            }),
        },
        format!("dolt:{directory}"),
    ))
}

fn parse_target(url: &str) -> anyhow::Result<(mysql_async::Opts, String)> {
    let usage = |message: String| failure(FailureKind::Usage, message);
    let parsed = url::Url::parse(url)
        .map_err(|error| usage(format!("--target is not a valid URL: {error}")))?;
    if parsed.scheme() != "mysql" {
        return Err(usage(format!(
            "--target must be a mysql:// URL, not {}://",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(usage("--target names no host".into()));
    }
    let opts = mysql_async::Opts::from_url(url).map_err(|error| {
        usage(format!(
            "--target is not a valid MySQL URL: {}",
            redact_text(&error.to_string(), &secrets_of_url(url))
        ))
    })?;
    Ok((opts, redact_url(url)))
}
