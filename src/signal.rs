//! SIGINT and SIGTERM as one more way for a run to fail: a [`Stop`] listens
//! from the start of a command, and [`Stop::run`] ends the phase it wraps
//! with an [`Interrupted`] error, which then takes the same path as any
//! other failure (the incomplete target database is dropped, the report
//! says so). mini-redis's `Shutdown` is the model: the work learns of the
//! signal where it is, instead of being dropped from outside.

use std::future::Future;

use tokio::sync::watch;

use crate::error::{EXIT_SIGINT, EXIT_SIGTERM};

/// The run was stopped by a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted by {}", self.name())]
pub struct Interrupted {
    /// the exit code for the signal (130 or 143)
    pub exit_code: u8,
}

impl Interrupted {
    /// The signal's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        if self.exit_code == EXIT_SIGTERM {
            "SIGTERM"
        } else {
            "SIGINT"
        }
    }
}

/// The signal that stopped the run, if one did.
#[must_use]
pub fn interruption(error: &anyhow::Error) -> Option<Interrupted> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Interrupted>())
        .copied()
}

/// Listens for SIGINT and SIGTERM from its creation on (a signal between
/// two phases is not lost) until dropped.
pub struct Stop {
    received: watch::Receiver<Option<Interrupted>>,
    listener: tokio::task::JoinHandle<()>,
}

impl Stop {
    /// Starts listening.
    #[must_use]
    pub fn listen() -> Stop {
        let (sender, received) = watch::channel(None);
        let listener = tokio::spawn(async move {
            let exit_code = wait_for_signal().await;
            let _ = sender.send(Some(Interrupted { exit_code }));
        });
        Stop { received, listener }
    }

    /// Runs `work` unless a signal comes first (or came already); then the
    /// work is dropped (its connections close, loads roll back) and the
    /// result is an [`Interrupted`] error. The work is boxed: phases are
    /// too large futures for the stack.
    pub async fn run<T>(&self, work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
        let work = Box::pin(work);
        let mut received = self.received.clone();
        let signal = async move {
            match received.wait_for(Option::is_some).await {
                Ok(signal) => *signal,
                // The listener is gone: no signal will come.
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            signal = signal => Err(anyhow::Error::new(signal.unwrap_or(Interrupted { exit_code: EXIT_SIGINT }))),
            result = work => result,
        }
    }
}

impl Drop for Stop {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Waits for SIGINT or SIGTERM; returns the exit code for it.
async fn wait_for_signal() -> u8 {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut terminate) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return EXIT_SIGINT;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => EXIT_SIGINT,
            _ = terminate.recv() => EXIT_SIGTERM,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        EXIT_SIGINT
    }
}
