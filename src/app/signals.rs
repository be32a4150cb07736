//! The process's signals: SIGHUP asks for a reload, SIGINT and SIGTERM
//! stop the server. dnslb runs on unix only (SO_REUSEPORT, `recvmmsg`
//! through nix), so there is no other arm to keep compiling.

use anyhow::Context;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The signal streams, registered before serving starts: a HUP or TERM
/// right after "listening on" must find them installed (the default action
/// would kill the process).
pub(super) struct Signals {
    hup: Signal,
    int: Signal,
    term: Signal,
}

impl Signals {
    pub(super) fn install() -> anyhow::Result<Self> {
        Ok(Self {
            hup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
        })
    }

    /// Split into the reload trigger and the stop signal.
    pub(super) fn split(self) -> (Hup, Stop) {
        (
            Hup(self.hup),
            Stop {
                int: self.int,
                term: self.term,
            },
        )
    }
}

/// SIGHUP, forwarded as reload requests.
pub(super) struct Hup(Signal);

impl Hup {
    /// Send `"SIGHUP"` to the reloader for every HUP until `cancel` fires
    /// or the reloader is gone. A HUP while a reload runs waits in the
    /// channel (one slot: further HUPs meanwhile add nothing new).
    pub(super) async fn forward(
        mut self,
        to: mpsc::Sender<&'static str>,
        cancel: CancellationToken,
    ) {
        loop {
            tokio::select! {
                _ = self.0.recv() => {}
                _ = cancel.cancelled() => return,
            }
            if let Err(mpsc::error::TrySendError::Closed(_)) = to.try_send("SIGHUP") {
                return;
            }
        }
    }
}

/// SIGINT or SIGTERM.
pub(super) struct Stop {
    int: Signal,
    term: Signal,
}

impl Stop {
    pub(super) async fn wait(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}
