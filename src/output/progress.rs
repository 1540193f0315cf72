//! The spinner of a slow request, by `indicatif`, on stderr (STYLE, Output). The printer only
//! starts one when stderr is a terminal, colour is on and no verbose log is written.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A spinner that appears about 200 ms after it starts (a quick request shows nothing) and is
/// erased when dropped, before anything else is printed.
pub struct Spinner {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Spinner {
    /// How long a request may take before the spinner shows.
    pub const DELAY: Duration = Duration::from_millis(200);
    const TICK: Duration = Duration::from_millis(100);
    const FRAMES: [&'static str; 11] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", " "];

    /// Starts the wait; the spinner shows only if it is still running after [`Spinner::DELAY`].
    pub fn start() -> Spinner {
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sts-spinner".into())
            .spawn(move || {
                if rx.recv_timeout(Self::DELAY) != Err(RecvTimeoutError::Timeout) {
                    return;
                }
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner())
                    .tick_strings(&Self::FRAMES);
                bar.set_style(style);
                bar.set_message("Awaiting server response..");
                bar.enable_steady_tick(Self::TICK);
                // Until the request ends (the sender is dropped).
                let _ = rx.recv();
                bar.finish_and_clear();
            })
            .ok();
        Spinner {
            stop: Some(tx),
            thread,
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_a_spinner_ends_its_thread() {
        // Not a terminal here: indicatif draws nothing; the thread must still end on drop.
        drop(Spinner::start());
    }
}
