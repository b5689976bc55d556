//! Streams bytes into one object: a local file renamed into place when
//! finished, or an S3 object (one PUT when small, a multipart upload
//! otherwise, never the whole object in memory).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::io::AsyncWriteExt as _;

use super::s3::s3_error;

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
    /// A writer of `key` in `bucket`, in parts of `part_size` bytes.
    pub(super) fn new(
        client: aws_sdk_s3::Client,
        bucket: String,
        key: String,
        part_size: usize,
    ) -> MultipartWriter {
        MultipartWriter {
            client,
            bucket,
            key,
            part_size,
            buffer: Vec::new(),
            upload_id: None,
            parts: Vec::new(),
        }
    }

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
