//! Rows out of a byte stream cut anywhere: COPY text arrives in driver
//! messages and archived LOAD DATA text in blocks, and a row may span
//! several of either. Both formats end every row with a newline that is
//! never part of a value (values escape theirs), so a row is everything up
//! to the next newline. Copy and the INSERT route of every load share this
//! one framer.

/// Frames rows: push bytes as they come, get each complete row (without
/// its newline) once.
#[derive(Debug, Default)]
pub struct RowSplitter {
    /// the start of a row whose end has not arrived yet
    pending: Vec<u8>,
}

impl RowSplitter {
    /// Hands every row `data` completes to `each`, in order; keeps the
    /// start of an unfinished row for the next push. Stops at the first
    /// error `each` returns.
    pub fn push<E>(
        &mut self,
        data: &[u8],
        mut each: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut rest = data;
        if !self.pending.is_empty() {
            let Some(end) = memchr::memchr(b'\n', rest) else {
                self.pending.extend_from_slice(rest);
                return Ok(());
            };
            self.pending.extend_from_slice(&rest[..end]);
            let row = std::mem::take(&mut self.pending);
            rest = &rest[end + 1..];
            let result = each(&row);
            // Keep the allocation for the next split row.
            self.pending = row;
            self.pending.clear();
            result?;
        }
        while let Some(end) = memchr::memchr(b'\n', rest) {
            each(&rest[..end])?;
            rest = &rest[end + 1..];
        }
        self.pending.extend_from_slice(rest);
        Ok(())
    }

    /// Bytes of an unfinished row held (at the end of the data: a row cut
    /// off, which is an error).
    #[must_use]
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(pieces: &[&[u8]]) -> (Vec<Vec<u8>>, usize) {
        let mut splitter = RowSplitter::default();
        let mut rows = Vec::new();
        for piece in pieces {
            splitter
                .push(piece, |row| {
                    rows.push(row.to_vec());
                    Ok::<_, ()>(())
                })
                .unwrap();
        }
        (rows, splitter.pending())
    }

    #[test]
    fn a_row_split_across_three_pieces_comes_out_once() {
        let (rows, pending) = frame(&[b"a\tb", b"c", b"d\ne\n", b"f"]);
        assert_eq!(rows, vec![b"a\tbcd".to_vec(), b"e".to_vec()]);
        assert_eq!(pending, 1);
    }

    #[test]
    fn an_error_stops_the_rows() {
        let mut splitter = RowSplitter::default();
        let mut seen = 0;
        let result = splitter.push(b"1\n2\n3\n", |row| {
            seen += 1;
            if row == b"2" { Err("bad row") } else { Ok(()) }
        });
        assert_eq!(result, Err("bad row"));
        assert_eq!(seen, 2);
    }

    proptest! {
        /// However the stream is cut, the same rows come out, and nothing
        /// is left over when it ends with a newline.
        #[test]
        fn rows_do_not_depend_on_chunk_boundaries(
            rows in proptest::collection::vec(proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..40), 0..20),
            cuts in proptest::collection::vec(0usize..1000, 0..12),
        ) {
            let mut stream = Vec::new();
            for row in &rows {
                stream.extend_from_slice(row);
                stream.push(b'\n');
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|cut| cut % (stream.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces: Vec<&[u8]> = Vec::new();
            let mut start = 0;
            for cut in cuts.into_iter().chain([stream.len()]) {
                pieces.push(&stream[start..cut]);
                start = cut;
            }
            let (framed, pending) = frame(&pieces);
            prop_assert_eq!(framed, rows);
            prop_assert_eq!(pending, 0);
        }
    }
}
