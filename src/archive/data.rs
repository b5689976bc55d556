//! Data files: LOAD DATA text, zstd-compressed and hashed as it streams
//! into the store, and streamed back out with the hash and size checked at
//! the end. Neither side holds a whole file: chunks in, chunks out.

use std::io::{self, Write as _};

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use super::store::Store;
use super::{DataFile, hex};
use crate::error::{FailureKind, failure};

/// zstd level: fast, and several times smaller than the text.
const LEVEL: i32 = 3;

/// What was stored.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    /// bytes of text received
    pub bytes: u64,
    /// bytes stored
    pub stored_bytes: u64,
    /// SHA-256 (hex) of the stored bytes
    pub sha256: String,
}

/// Stores the chunks arriving on `receiver` at `path`, compressed. The
/// object is completed only when the sender closes the channel after its
/// last chunk; an error sent instead drops what was written.
pub async fn write_data_file(
    store: &Store,
    path: &str,
    mut receiver: mpsc::Receiver<io::Result<Bytes>>,
) -> anyhow::Result<WrittenFile> {
    let mut writer = store.writer(path);
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), LEVEL)
        .context("starting zstd compression")?;
    // A frame checksum too: damage shows while decoding, not only at the end.
    encoder
        .include_checksum(true)
        .context("starting zstd compression")?;
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    let mut bytes = 0_u64;
    let mut stored = 0_u64;
    while let Some(chunk) = receiver.recv().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                writer.abort().await;
                return Err(anyhow::anyhow!("archiving {path} stopped: {error}"));
            }
        };
        bytes += chunk.len() as u64;
        encoder.write_all(&chunk).context("compressing")?;
        let compressed = std::mem::take(encoder.get_mut());
        if !compressed.is_empty() {
            hash.update(&compressed);
            stored += compressed.len() as u64;
            if let Err(error) = writer.write(&compressed).await {
                writer.abort().await;
                return Err(error.context(format!("archiving {path}")));
            }
        }
    }
    let last = encoder.finish().context("finishing zstd compression")?;
    hash.update(&last);
    stored += last.len() as u64;
    writer.write(&last).await?;
    writer
        .finish()
        .await
        .with_context(|| format!("archiving {path}"))?;
    Ok(WrittenFile {
        bytes,
        stored_bytes: stored,
        sha256: hex(hash.finish().as_ref()),
    })
}

/// Streams the data file `file` (at `path` in `store`) as LOAD DATA text
/// into `sender`. Its size and SHA-256 are checked as it ends: a mismatch
/// is sent down the channel as an error (so the load rolls back) and
/// returned, naming the file.
pub async fn read_data_file(
    store: &Store,
    path: &str,
    file: &DataFile,
    sender: &mpsc::Sender<io::Result<Bytes>>,
) -> anyhow::Result<u64> {
    let location = path.to_string();
    let checked = stream_and_check(store, &location, file, sender).await;
    if let Err(error) = &checked {
        let _ = sender
            .send(Err(io::Error::other(crate::error::one_line(error))))
            .await;
    }
    checked
}

/// What reading a data file found.
struct Read {
    /// SHA-256 of the stored (compressed) bytes
    sha256: String,
    /// stored bytes
    stored: u64,
    /// bytes of LOAD DATA text decompressed
    bytes: u64,
    /// why it stopped decompressing, if it did
    undecodable: Option<String>,
}

impl Read {
    /// The file is the one the manifest describes: checksum, size, text.
    fn check(&self, location: &str, file: &DataFile) -> anyhow::Result<()> {
        let corrupt = |detail: String| {
            failure(
                FailureKind::Verify,
                format!("archived data file {location} is damaged: {detail}"),
            )
        };
        let decoding = self.undecodable.as_ref().map_or_else(String::new, |error| {
            format!("; it does not decompress ({error})")
        });
        if self.sha256 != file.sha256 || self.stored != file.stored_bytes {
            return Err(corrupt(format!(
                "checksum mismatch: SHA-256 {} over {} bytes, the manifest says {} over {} bytes{decoding}",
                self.sha256, self.stored, file.sha256, file.stored_bytes
            )));
        }
        if !decoding.is_empty() || self.bytes != file.bytes {
            return Err(corrupt(format!(
                "{} bytes of data, the manifest says {}{decoding}",
                self.bytes, file.bytes
            )));
        }
        Ok(())
    }
}

async fn stream_and_check(
    store: &Store,
    location: &str,
    file: &DataFile,
    sender: &mpsc::Sender<io::Result<Bytes>>,
) -> anyhow::Result<u64> {
    let mut stream = Box::pin(store.read(location).await?);
    let mut decoder =
        zstd::stream::write::Decoder::new(Vec::new()).context("starting zstd decompression")?;
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    let mut stored = 0_u64;
    let mut bytes = 0_u64;
    // A file that stops decompressing is still read to its end, so the
    // message can give its checksum against the manifest's.
    let mut undecodable: Option<String> = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("reading {location}"))?;
        hash.update(&chunk);
        stored += chunk.len() as u64;
        if undecodable.is_some() {
            continue;
        }
        if let Err(error) = decoder.write_all(&chunk) {
            undecodable = Some(error.to_string());
            continue;
        }
        let text = std::mem::take(decoder.get_mut());
        if !text.is_empty() {
            bytes += text.len() as u64;
            sender
                .send(Ok(Bytes::from(text)))
                .await
                .map_err(|_| anyhow::anyhow!("the target stopped reading {location}"))?;
        }
    }
    if undecodable.is_none()
        && let Err(error) = decoder.flush()
    {
        undecodable = Some(error.to_string());
    }
    let text = std::mem::take(decoder.get_mut());
    bytes += text.len() as u64;
    let read = Read {
        sha256: hex(hash.finish().as_ref()),
        stored,
        bytes,
        undecodable,
    };
    read.check(location, file)?;
    if !text.is_empty() {
        sender
            .send(Ok(Bytes::from(text)))
            .await
            .map_err(|_| anyhow::anyhow!("the target stopped reading {location}"))?;
    }
    Ok(bytes)
}
