//! Where archives live: a local directory or an S3 bucket and prefix.
//! Objects are written as streams (S3: a single PUT when small, a multipart
//! upload otherwise, never the whole object in memory) and read as streams.
//!
//! S3 credentials and region come from the standard AWS chain (environment,
//! web identity in Kubernetes, instance profile); `AWS_ENDPOINT_URL` points
//! at an S3-compatible store, which gets path-style addressing when it is
//! an IP address or localhost (or with `--s3-path-style`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use futures_util::Stream;
use tokio::io::AsyncWriteExt as _;

use crate::error::{FailureKind, failure};

/// The smallest part S3 accepts (but for the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// An archive location.
#[derive(Debug, Clone)]
pub enum Store {
    /// a local directory
    Local(PathBuf),
    /// an S3 bucket and key prefix (empty, or ending in `/`)
    S3 {
        /// the client
        client: aws_sdk_s3::Client,
        /// bucket name
        bucket: String,
        /// key prefix
        prefix: String,
        /// bytes per multipart part (and the single-PUT threshold)
        part_size: usize,
    },
}

/// A location as the user wrote it, parsed but not yet connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// a local directory
    Local(PathBuf),
    /// `s3://bucket/prefix`
    S3 {
        /// bucket name
        bucket: String,
        /// key prefix (empty, or ending in `/`)
        prefix: String,
    },
}

impl Location {
    /// Parses `s3://bucket/prefix/` or a local path.
    pub fn parse(text: &str) -> Result<Location, String> {
        let Some(rest) = text.strip_prefix("s3://") else {
            if text.contains("://") {
                return Err(format!(
                    "{text} is neither s3://bucket/prefix nor a local directory"
                ));
            }
            return Ok(Location::Local(PathBuf::from(text)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{text} names no bucket"));
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Ok(Location::S3 {
            bucket: bucket.to_string(),
            prefix,
        })
    }
}

impl Location {
    /// Parses the location of one object (`s3://bucket/dir/report.json`,
    /// `reports/run.json`): its directory or prefix, and its name.
    pub fn parse_object(text: &str) -> Result<(Location, String), String> {
        let trimmed = text.trim_end_matches('/');
        let (parent, name) = match trimmed.rsplit_once('/') {
            Some((parent, name)) if !parent.ends_with(':') && !parent.ends_with("s3:/") => {
                (parent.to_string(), name.to_string())
            }
            _ if trimmed.starts_with("s3://") => {
                return Err(format!("{text} names a bucket but no object key"));
            }
            _ => (".".to_string(), trimmed.to_string()),
        };
        if name.is_empty() {
            return Err(format!("{text} names no file"));
        }
        Ok((Location::parse(&parent)?, name))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(path) => write!(formatter, "{}/", path.display()),
            Location::S3 { bucket, prefix } => write!(formatter, "s3://{bucket}/{prefix}"),
        }
    }
}

impl Store {
    /// Connects to the location and checks it can be used (the bucket
    /// exists and the credentials reach it; the directory can be made), so
    /// a bad location stops a run before it starts.
    pub async fn open(
        location: &Location,
        path_style: bool,
        part_size: usize,
    ) -> anyhow::Result<Store> {
        match location {
            Location::Local(path) => {
                tokio::fs::create_dir_all(path).await.map_err(|error| {
                    failure(
                        FailureKind::Usage,
                        format!("archive directory {}: {error}", path.display()),
                    )
                })?;
                Ok(Store::Local(path.clone()))
            }
            Location::S3 { bucket, prefix } => {
                let client = s3_client(path_style).await;
                check_bucket(&client, bucket).await?;
                Ok(Store::S3 {
                    client,
                    bucket: bucket.clone(),
                    prefix: prefix.clone(),
                    part_size: part_size.max(MIN_PART_SIZE),
                })
            }
        }
    }

    /// A streaming writer for the object at `key` (relative to the store).
    #[must_use]
    pub fn writer(&self, key: &str) -> ObjectWriter {
        match self {
            Store::Local(root) => ObjectWriter::Local {
                path: root.join(key),
                file: None,
            },
            Store::S3 {
                client,
                bucket,
                prefix,
                part_size,
            } => ObjectWriter::S3(Box::new(MultipartWriter {
                client: client.clone(),
                bucket: bucket.clone(),
                key: format!("{prefix}{key}"),
                part_size: *part_size,
                buffer: Vec::new(),
                upload_id: None,
                parts: Vec::new(),
            })),
        }
    }

    /// Writes a small object in one piece.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let mut writer = self.writer(key);
        writer.write(&bytes).await?;
        writer.finish().await
    }

    /// Reads a whole (small) object.
    pub async fn get(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        use futures_util::StreamExt as _;
        let mut stream = Box::pin(self.read(key).await?);
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    /// Streams the object at `key`.
    pub async fn read(
        &self,
        key: &str,
    ) -> anyhow::Result<impl Stream<Item = anyhow::Result<Bytes>> + Send + use<>> {
        enum Source {
            Local(tokio::fs::File),
            S3(ByteStream),
        }
        let source = match self {
            Store::Local(root) => {
                let path = root.join(key);
                Source::Local(
                    tokio::fs::File::open(&path)
                        .await
                        .with_context(|| format!("opening {}", path.display()))?,
                )
            }
            Store::S3 {
                client,
                bucket,
                prefix,
                ..
            } => {
                let object = client
                    .get_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{key}"))
                    .send()
                    .await
                    .map_err(|error| {
                        s3_error(&error, &format!("reading s3://{bucket}/{prefix}{key}"))
                    })?;
                Source::S3(object.body)
            }
        };
        Ok(futures_util::stream::unfold(
            source,
            |mut source| async move {
                match &mut source {
                    Source::Local(file) => {
                        use tokio::io::AsyncReadExt as _;
                        let mut buffer = vec![0; 256 * 1024];
                        match file.read(&mut buffer).await {
                            Ok(0) => None,
                            Ok(read) => {
                                buffer.truncate(read);
                                Some((Ok(Bytes::from(buffer)), source))
                            }
                            Err(error) => Some((Err(error.into()), source)),
                        }
                    }
                    Source::S3(body) => match body.next().await {
                        None => None,
                        Some(Ok(bytes)) => Some((Ok(bytes), source)),
                        Some(Err(error)) => {
                            Some((Err(anyhow::anyhow!("reading from S3: {error}")), source))
                        }
                    },
                }
            },
        ))
    }

    /// The archive keys (directories) under the store that hold a
    /// manifest, in no particular order.
    pub async fn list_archives(&self) -> anyhow::Result<Vec<String>> {
        match self {
            Store::Local(root) => {
                let mut keys = Vec::new();
                let mut entries = tokio::fs::read_dir(root)
                    .await
                    .with_context(|| format!("listing {}", root.display()))?;
                while let Some(entry) = entries.next_entry().await? {
                    if entry.path().join(super::MANIFEST).is_file() {
                        keys.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
                Ok(keys)
            }
            Store::S3 {
                client,
                bucket,
                prefix,
                ..
            } => {
                let mut keys = Vec::new();
                let mut pages = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix.as_str())
                    .delimiter("/")
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|error| {
                        s3_error(&error, &format!("listing s3://{bucket}/{prefix}"))
                    })?;
                    for common in page.common_prefixes() {
                        if let Some(key) = common.prefix() {
                            keys.push(key[prefix.len()..].trim_end_matches('/').to_string());
                        }
                    }
                }
                Ok(keys)
            }
        }
    }
}

/// Streams bytes into one object.
pub enum ObjectWriter {
    /// a file, created on the first write (parents included)
    Local {
        /// the final path
        path: PathBuf,
        /// the open temporary file, renamed into place by `finish`
        file: Option<(tokio::fs::File, PathBuf)>,
    },
    /// an S3 object
    S3(Box<MultipartWriter>),
}

/// An S3 object written as one PUT, or in parts once it outgrows one.
pub struct MultipartWriter {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    part_size: usize,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
}

impl ObjectWriter {
    /// Appends bytes. S3 holds at most one part in memory.
    pub async fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        match self {
            ObjectWriter::Local { path, file } => {
                if file.is_none() {
                    if let Some(parent) = path.parent() {
                        tokio::fs::create_dir_all(parent).await?;
                    }
                    let temporary = temporary_path(path);
                    let opened = tokio::fs::File::create(&temporary)
                        .await
                        .with_context(|| format!("creating {}", temporary.display()))?;
                    *file = Some((opened, temporary));
                }
                if let Some((opened, temporary)) = file {
                    opened
                        .write_all(bytes)
                        .await
                        .with_context(|| format!("writing {}", temporary.display()))?;
                }
                Ok(())
            }
            ObjectWriter::S3(writer) => {
                writer.buffer.extend_from_slice(bytes);
                while writer.buffer.len() >= writer.part_size {
                    let rest = writer.buffer.split_off(writer.part_size);
                    let part = std::mem::replace(&mut writer.buffer, rest);
                    writer.upload_part(part).await?;
                }
                Ok(())
            }
        }
    }

    /// Completes the object (an empty one when nothing was written).
    pub async fn finish(self) -> anyhow::Result<()> {
        match self {
            ObjectWriter::Local { path, file } => {
                let (mut opened, temporary) = if let Some(open) = file {
                    open
                } else {
                    if let Some(parent) = path.parent() {
                        tokio::fs::create_dir_all(parent).await?;
                    }
                    let temporary = temporary_path(&path);
                    (tokio::fs::File::create(&temporary).await?, temporary)
                };
                opened.flush().await?;
                opened.sync_all().await?;
                drop(opened);
                tokio::fs::rename(&temporary, &path)
                    .await
                    .with_context(|| format!("writing {}", path.display()))
            }
            ObjectWriter::S3(mut writer) => {
                let location = format!("s3://{}/{}", writer.bucket, writer.key);
                let Some(upload_id) = writer.upload_id.clone() else {
                    let body = std::mem::take(&mut writer.buffer);
                    writer
                        .client
                        .put_object()
                        .bucket(&writer.bucket)
                        .key(&writer.key)
                        .body(ByteStream::from(body))
                        .send()
                        .await
                        .map_err(|error| s3_error(&error, &format!("writing {location}")))?;
                    return Ok(());
                };
                if !writer.buffer.is_empty() {
                    let last = std::mem::take(&mut writer.buffer);
                    writer.upload_part(last).await?;
                }
                writer
                    .client
                    .complete_multipart_upload()
                    .bucket(&writer.bucket)
                    .key(&writer.key)
                    .upload_id(&upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(std::mem::take(&mut writer.parts)))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|error| s3_error(&error, &format!("completing {location}")))?;
                Ok(())
            }
        }
    }

    /// Drops what was written (best effort): a failed run leaves no half
    /// object behind.
    pub async fn abort(self) {
        match self {
            ObjectWriter::Local { file, .. } => {
                if let Some((opened, temporary)) = file {
                    drop(opened);
                    let _ = tokio::fs::remove_file(temporary).await;
                }
            }
            ObjectWriter::S3(writer) => {
                if let Some(upload_id) = &writer.upload_id {
                    let _ = writer
                        .client
                        .abort_multipart_upload()
                        .bucket(&writer.bucket)
                        .key(&writer.key)
                        .upload_id(upload_id)
                        .send()
                        .await;
                }
            }
        }
    }
}

impl MultipartWriter {
    async fn upload_part(&mut self, part: Vec<u8>) -> anyhow::Result<()> {
        let location = format!("s3://{}/{}", self.bucket, self.key);
        let upload_id = if let Some(id) = &self.upload_id {
            id.clone()
        } else {
            let created = self
                .client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .send()
                .await
                .map_err(|error| s3_error(&error, &format!("starting the upload of {location}")))?;
            let id = created
                .upload_id()
                .context("S3 returned no upload id")?
                .to_string();
            self.upload_id = Some(id.clone());
            id
        };
        let number = i32::try_from(self.parts.len() + 1).unwrap_or(i32::MAX);
        let uploaded = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(part))
            .send()
            .await
            .map_err(|error| s3_error(&error, &format!("uploading part {number} of {location}")))?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(uploaded.e_tag().map(str::to_string))
                .build(),
        );
        Ok(())
    }
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// The S3 client from the standard AWS chain, over rustls with ring.
async fn s3_client(path_style: bool) -> aws_sdk_s3::Client {
    use aws_smithy_http_client::tls;
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(300))
        .build();
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    // An S3-compatible store on an IP address or localhost has no
    // virtual-host DNS: address buckets by path there.
    let local_endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .ok()
        .and_then(|endpoint| url::Url::parse(&endpoint).ok())
        .is_some_and(|endpoint| match endpoint.host() {
            Some(url::Host::Domain(host)) => host == "localhost",
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => true,
            None => false,
        });
    let mut config =
        aws_sdk_s3::config::Builder::from(&shared).force_path_style(path_style || local_endpoint);
    if shared.region().is_none() {
        config = config.region(aws_sdk_s3::config::Region::new("us-east-1"));
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

/// The bucket exists and these credentials reach it.
async fn check_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<()> {
    client
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|error| s3_error(&error, &format!("checking the bucket {bucket}")))?;
    Ok(())
}

/// One line for an S3 failure, with the exit code's kind: a missing bucket
/// is configuration (2), denied access or an unreachable endpoint is
/// connection (5).
fn s3_error<E>(
    error: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    doing: &str,
) -> anyhow::Error
where
    E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static,
{
    use aws_sdk_s3::error::SdkError;
    let (kind, message) = match error {
        SdkError::DispatchFailure(failure_info) => {
            let detail = failure_info
                .as_connector_error()
                .map_or_else(|| "no answer".to_string(), |error| error_chain(error));
            if detail.contains("loading credentials") {
                (
                    FailureKind::Connect,
                    "no usable AWS credentials (looked in the environment, web identity and the instance profile)"
                        .to_string(),
                )
            } else {
                (
                    FailureKind::Connect,
                    format!("cannot reach the S3 endpoint ({detail})"),
                )
            }
        }
        SdkError::TimeoutError(_) => (
            FailureKind::Connect,
            "the S3 endpoint did not answer in time".to_string(),
        ),
        SdkError::ConstructionFailure(_) => (
            FailureKind::Connect,
            format!("cannot make the S3 request: {}", error_chain(error)),
        ),
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("");
            let http = service.raw().status().as_u16();
            match (code, http) {
                ("NoSuchBucket", _) | (_, 404) => {
                    (FailureKind::Usage, "the bucket does not exist".to_string())
                }
                ("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch", _)
                | (_, 401 | 403) => (
                    FailureKind::Connect,
                    format!(
                        "access denied ({}): check the AWS credentials",
                        if code.is_empty() { "HTTP 403" } else { code }
                    ),
                ),
                _ => (
                    FailureKind::Connect,
                    format!(
                        "S3 said {} (HTTP {http}): {}",
                        if code.is_empty() { "an error" } else { code },
                        service.err().message().unwrap_or("")
                    ),
                ),
            }
        }
        _ => (FailureKind::Connect, error_chain(error)),
    };
    failure(kind, format!("{doing}: {message}"))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_locations_parse() {
        assert_eq!(
            Location::parse_object("s3://b/runs/report.json"),
            Ok((
                Location::S3 {
                    bucket: "b".into(),
                    prefix: "runs/".into()
                },
                "report.json".into()
            ))
        );
        assert_eq!(
            Location::parse_object("s3://b/report.json"),
            Ok((
                Location::S3 {
                    bucket: "b".into(),
                    prefix: String::new()
                },
                "report.json".into()
            ))
        );
        assert!(Location::parse_object("s3://b").is_err());
        assert_eq!(
            Location::parse_object("report.json"),
            Ok((Location::Local(PathBuf::from(".")), "report.json".into()))
        );
        assert_eq!(
            Location::parse_object("/tmp/x/r.json"),
            Ok((Location::Local(PathBuf::from("/tmp/x")), "r.json".into()))
        );
    }

    #[test]
    fn locations_parse() {
        assert_eq!(
            Location::parse("s3://bucket/nightly/copies"),
            Ok(Location::S3 {
                bucket: "bucket".into(),
                prefix: "nightly/copies/".into()
            })
        );
        assert_eq!(
            Location::parse("s3://bucket"),
            Ok(Location::S3 {
                bucket: "bucket".into(),
                prefix: String::new()
            })
        );
        assert!(Location::parse("s3:///x").is_err());
        assert!(Location::parse("gs://bucket").is_err());
        assert_eq!(
            Location::parse("/var/archives"),
            Ok(Location::Local(PathBuf::from("/var/archives")))
        );
    }
}
