//! The seam between a chunk's source and its sinks: COPY text in (any
//! stream of it), every whole row converted, and LOAD DATA text out to the
//! sinks in chunks of about [`CHUNK_BYTES`], within the memory budget — a
//! slow sink makes the pump wait (backpressure) instead of filling memory.
//! No socket here: the tests below feed it from memory.

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};

use super::budget::{self, Held, MemoryBudget};
use super::sinks::{SinkStopped, Sinks};
use crate::convert::frame::RowSplitter;

/// Converted bytes sent to the sinks at a time.
pub(super) const CHUNK_BYTES: usize = 256 * 1024;

/// Converts `stream` row by row with `convert` (given the row, its number
/// from 1, and the output) and sends the result to `sinks`; `counted`
/// learns the rows converted so far, `label` names the table in errors.
/// Returns the rows and the bytes sent.
pub(super) async fn pump_rows(
    stream: impl Stream<Item = anyhow::Result<Bytes>>,
    sinks: &Sinks,
    budget: &MemoryBudget,
    mut convert: impl FnMut(&[u8], u64, &mut Vec<u8>) -> anyhow::Result<()>,
    mut counted: impl FnMut(u64),
    label: &str,
) -> anyhow::Result<(u64, u64)> {
    futures_util::pin_mut!(stream);
    let mut rows = 0_u64;
    let mut outbox = Outbox::new(sinks, budget);
    let mut splitter = RowSplitter::default();
    while let Some(data) = stream.next().await {
        let data = data?;
        outbox.cover(splitter.pending() + data.len()).await?;
        splitter.push(&data, |line| {
            rows += 1;
            convert(line, rows, &mut outbox.out)
        })?;
        // The COPY text is converted: free it before waiting on a sink.
        drop(data);
        if outbox.out.len() >= CHUNK_BYTES {
            outbox.send().await?;
            crate::progress::set_bar(rows);
        }
        counted(rows);
    }
    anyhow::ensure!(
        splitter.pending() == 0,
        "COPY data of {label} ended in the middle of a row"
    );
    outbox.send().await?;
    counted(rows);
    crate::progress::set_bar(rows);
    Ok((rows, outbox.bytes))
}

/// Converted rows not sent yet, and the memory budget they hold.
struct Outbox<'a> {
    sinks: &'a Sinks,
    budget: &'a MemoryBudget,
    /// LOAD DATA text rows
    out: Vec<u8>,
    held: Held,
    /// bytes sent so far
    bytes: u64,
}

impl<'a> Outbox<'a> {
    fn new(sinks: &'a Sinks, budget: &'a MemoryBudget) -> Outbox<'a> {
        Outbox {
            sinks,
            budget,
            out: Self::fresh(),
            held: Held::default(),
            bytes: 0,
        }
    }

    fn fresh() -> Vec<u8> {
        Vec::with_capacity(CHUNK_BYTES + 64 * 1024)
    }

    /// Covers `incoming` bytes of COPY text about to be converted
    /// (converted text is about as long), sending what is converted first
    /// when the budget must be waited for: never wait holding unsent rows.
    async fn cover(&mut self, incoming: usize) -> Result<(), SinkStopped> {
        let wanted = self.out.len() + incoming;
        if !self.budget.try_cover(&mut self.held, wanted, CHUNK_BYTES) {
            self.send().await?;
            self.budget
                .cover(&mut self.held, incoming, CHUNK_BYTES)
                .await;
        }
        self.out.reserve(incoming);
        Ok(())
    }

    /// Sends the converted rows (if any) to the sinks.
    async fn send(&mut self) -> Result<(), SinkStopped> {
        if self.out.is_empty() {
            return Ok(());
        }
        // Escapes may have made the text a little longer: take what is
        // free, never wait while holding unsent rows.
        self.budget.try_cover(&mut self.held, self.out.len(), 0);
        self.bytes += self.out.len() as u64;
        let full = std::mem::replace(&mut self.out, Self::fresh());
        self.sinks.send(budget::chunk(full, &mut self.held)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use tokio::sync::mpsc;

    use super::*;

    /// A stream of COPY text: `rows` rows of `width` bytes each, handed
    /// over in pieces of `piece` bytes (rows cross pieces).
    fn copy_text(rows: usize, width: usize, piece: usize) -> Vec<anyhow::Result<Bytes>> {
        let mut text = Vec::new();
        for row in 0..rows {
            let line = format!("{row:0>width$}\n", width = width - 1);
            text.extend_from_slice(line.as_bytes());
        }
        text.chunks(piece)
            .map(|part| Ok(Bytes::copy_from_slice(part)))
            .collect()
    }

    #[expect(
        clippy::unnecessary_wraps,
        reason = "the pump's conversion returns a Result"
    )]
    fn identity(line: &[u8], _row: u64, out: &mut Vec<u8>) -> anyhow::Result<()> {
        out.extend_from_slice(line);
        out.push(b'\n');
        Ok(())
    }

    fn sinks(room: usize) -> (Sinks, mpsc::Receiver<std::io::Result<Bytes>>) {
        let (sender, receiver) = mpsc::channel(room);
        let sinks = Sinks {
            load: Some(sender),
            archive: None,
        };
        (sinks, receiver)
    }

    #[tokio::test]
    async fn rows_arrive_whole_in_chunks_of_about_the_chunk_size() {
        let (sinks, mut receiver) = sinks(64);
        let budget = MemoryBudget::new(64 * CHUNK_BYTES);
        let stream = futures_util::stream::iter(copy_text(20_000, 100, 7_777));
        let mut counted = Vec::new();
        let (rows, bytes) = pump_rows(
            stream,
            &sinks,
            &budget,
            identity,
            |rows| counted.push(rows),
            "t",
        )
        .await
        .unwrap();
        drop(sinks);
        assert_eq!((rows, bytes), (20_000, 2_000_000));
        let mut chunks = Vec::new();
        while let Some(chunk) = receiver.recv().await {
            chunks.push(chunk.unwrap());
        }
        let whole: Vec<u8> = chunks.iter().flat_map(|chunk| chunk.to_vec()).collect();
        assert_eq!(whole.len(), 2_000_000);
        for chunk in &chunks {
            assert_eq!(chunk.last(), Some(&b'\n'), "a chunk ends with a whole row");
            assert!(chunk.len() < CHUNK_BYTES + 8_000, "{}", chunk.len());
        }
        assert!(
            chunks.len() >= 2_000_000 / (CHUNK_BYTES + 8_000),
            "{}",
            chunks.len()
        );
        assert_eq!(counted.last(), Some(&20_000));
        assert!(counted.windows(2).all(|pair| pair[0] <= pair[1]));
    }

    #[tokio::test]
    async fn a_slow_sink_holds_the_pump_back() {
        // Room for one chunk: the pump cannot run ahead of the reader.
        let (sinks, mut receiver) = sinks(1);
        let budget = MemoryBudget::new(64 * CHUNK_BYTES);
        let stream = futures_util::stream::iter(copy_text(10_000, 200, 65_536));
        let pumped = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&pumped);
        let pump = tokio::spawn(async move {
            let counted = |rows: u64| seen.store(rows, Ordering::SeqCst);
            pump_rows(stream, &sinks, &budget, identity, counted, "t").await
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let held_at = pumped.load(Ordering::SeqCst);
        assert!(held_at < 10_000, "the pump ran ahead: {held_at} rows");
        let mut bytes = 0;
        while let Some(chunk) = receiver.recv().await {
            bytes += chunk.unwrap().len();
        }
        let (rows, _) = pump.await.unwrap().unwrap();
        assert_eq!((rows, bytes), (10_000, 2_000_000));
    }

    #[tokio::test]
    async fn a_row_cut_short_and_a_conversion_error_stop_the_pump() {
        let (sinks, _receiver) = sinks(64);
        let budget = MemoryBudget::new(64 * CHUNK_BYTES);
        let cut = vec![Ok(Bytes::from_static(b"1\n2"))];
        let error = pump_rows(
            futures_util::stream::iter(cut),
            &sinks,
            &budget,
            identity,
            |_| {},
            "t",
        )
        .await
        .unwrap_err();
        assert!(
            error.to_string().contains("ended in the middle of a row"),
            "{error}"
        );
        let refuse = |line: &[u8], row: u64, _: &mut Vec<u8>| {
            anyhow::ensure!(line != b"13", "row {row} refused");
            Ok(())
        };
        let text = vec![
            Ok(Bytes::from_static(b"1\n2\n1")),
            Ok(Bytes::from_static(b"3\n4\n")),
        ];
        let error = pump_rows(
            futures_util::stream::iter(text),
            &sinks,
            &budget,
            refuse,
            |_| {},
            "t",
        )
        .await
        .unwrap_err();
        assert_eq!(error.to_string(), "row 3 refused");
    }

    #[tokio::test]
    async fn a_sink_that_stops_reading_stops_the_pump() {
        let (sinks, receiver) = sinks(1);
        drop(receiver);
        let budget = MemoryBudget::new(64 * CHUNK_BYTES);
        let stream = futures_util::stream::iter(copy_text(10, 10, 100));
        let error = pump_rows(stream, &sinks, &budget, identity, |_| {}, "t")
            .await
            .unwrap_err();
        assert!(error.downcast_ref::<SinkStopped>().is_some(), "{error}");
    }
}
