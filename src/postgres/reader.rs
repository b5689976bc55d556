//! A reader connection whose socket is read only on demand, and the COPY
//! stream that makes the demand.
//!
//! tokio-postgres reads ahead on its own task: up to three whole messages
//! wait for the consumer (a response channel of one slot per sender plus
//! one message held back), and each COPY row is one message. With rows of
//! 48 MB that is 150 MB per reader before pg2dolt has converted anything.
//! The connection task here is polled only while its gate is open, and
//! [`copy_rows`] closes the gate once the rows it has handed out but not
//! yet been asked past reach [`READ_AHEAD`] bytes, opening it again when
//! it runs dry. Small rows keep streaming; a large row is read while the
//! consumer waits for it, and nothing after it until the consumer asks.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use futures_util::task::AtomicWaker;
use tokio_postgres::Client;

/// Bytes of rows handed out before the connection stops reading ahead.
const READ_AHEAD: usize = 1024 * 1024;

/// Whether the connection task may read from the socket.
#[derive(Debug, Default)]
pub struct ReadGate {
    closed: AtomicBool,
    waker: AtomicWaker,
}

impl ReadGate {
    fn open(&self) {
        if self.closed.swap(false, Ordering::AcqRel) {
            self.waker.wake();
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

/// Runs a connection future while its gate is open.
pub struct GatedConnection<F> {
    /// the driver's connection future
    pub connection: Pin<Box<F>>,
    /// the gate that pauses it
    pub gate: Arc<ReadGate>,
}

impl<F: Future> Future for GatedConnection<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<F::Output> {
        // Registered before the check, so an `open` between the two wakes us.
        self.gate.waker.register(context.waker());
        if self.gate.closed.load(Ordering::Acquire) {
            return Poll::Pending;
        }
        self.connection.as_mut().poll(context)
    }
}

/// A source connection and the gate of its connection task.
pub struct Reader {
    /// the driver's client
    pub client: Client,
    /// pauses the connection task's reading (see [`copy_rows`])
    pub gate: Arc<ReadGate>,
}

impl Deref for Reader {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

/// The rows of a `COPY … TO STDOUT`, one driver message (one row in text
/// format) at a time, read from the socket only as they are asked for.
pub async fn copy_rows<'a>(
    reader: &'a Reader,
    statement: &str,
) -> Result<impl Stream<Item = Result<Bytes, tokio_postgres::Error>> + 'a, tokio_postgres::Error> {
    let inner = reader.client.copy_out(statement).await?;
    Ok(OnDemand {
        inner: Box::pin(inner),
        gate: &reader.gate,
        handed_out: 0,
    })
}

struct OnDemand<'a, S> {
    inner: Pin<Box<S>>,
    gate: &'a ReadGate,
    /// bytes handed out since the stream last ran dry
    handed_out: usize,
}

impl<S: Stream<Item = Result<Bytes, tokio_postgres::Error>>> Stream for OnDemand<'_, S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<S::Item>> {
        match self.inner.as_mut().poll_next(context) {
            Poll::Ready(Some(Ok(row))) => {
                self.handed_out += row.len();
                if self.handed_out >= READ_AHEAD {
                    self.gate.close();
                }
                Poll::Ready(Some(Ok(row)))
            }
            Poll::Ready(other) => {
                // The end, or an error: the connection serves other
                // statements again.
                self.gate.open();
                Poll::Ready(other)
            }
            Poll::Pending => {
                self.handed_out = 0;
                self.gate.open();
                Poll::Pending
            }
        }
    }
}

impl<S> Drop for OnDemand<'_, S> {
    fn drop(&mut self) {
        self.gate.open();
    }
}
