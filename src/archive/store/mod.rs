//! Where archives live: a local directory or an S3 bucket and prefix.
//! Objects are written as streams (S3: a single PUT when small, a multipart
//! upload otherwise, never the whole object in memory) and read as streams.
//!
//! S3 credentials and region come from the standard AWS chain (environment,
//! web identity in Kubernetes, instance profile); `AWS_ENDPOINT_URL` points
//! at an S3-compatible store, which gets path-style addressing when it is
//! an IP address or localhost (or with `--s3-path-style`).

use std::path::PathBuf;

use anyhow::Context as _;
use aws_sdk_s3::primitives::ByteStream;

use bytes::Bytes;
use futures_util::Stream;

use crate::error::{FailureKind, failure};

mod location;
mod s3;
mod writer;

pub use location::Location;
pub use writer::{MultipartWriter, ObjectWriter};

use s3::{check_bucket, s3_client, s3_error};

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
            } => ObjectWriter::S3(Box::new(MultipartWriter::new(
                client.clone(),
                bucket.clone(),
                format!("{prefix}{key}"),
                *part_size,
            ))),
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
