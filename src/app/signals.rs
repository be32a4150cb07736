//! The process's signals: SIGHUP asks for a reload, SIGINT and SIGTERM
//! stop the server. dnslb runs on unix only (SO_REUSEPORT, `recvmmsg`
//! through nix), so there is no other arm to keep compiling.

use anyhow::Context;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::reload::{Cause, Trigger};

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
    /// Ask `to` for a reload on every HUP until `cancel` fires. A HUP
    /// while a reload runs merges with any other pending request into one
    /// more reload.
    pub(super) async fn forward(mut self, to: Trigger, cancel: CancellationToken) {
        loop {
            tokio::select! {
                _ = self.0.recv() => to.request(Cause::Signal),
                _ = cancel.cancelled() => return,
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
