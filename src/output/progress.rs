//! The spinner of a slow request, by `indicatif`, on stderr (STYLE, Output). The printer only
//! starts one when stderr is a terminal, colour is on and no verbose log is written. A Ctrl-C
//! while a spinner (or the progress line of `-A`) shows clears its line, then ends `sts` by the
//! signal as before (exit 130 in a shell).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use std::io::{self, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

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
                let bar = ProgressBar::with_draw_target(None, stderr_target());
                let style = ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner())
                    .tick_strings(&Self::FRAMES);
                bar.set_style(style);
                bar.set_message("Awaiting server response..");
                let _shown = LineShown::new();
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

/// stderr as the terminal of a progress line. indicatif pads its line to the terminal's width;
/// told of two columns less, it leaves room for the `^C` a terminal echoes, so that the echo does
/// not wrap to a new line and the line stays the one a Ctrl-C clears.
pub fn stderr_target() -> ProgressDrawTarget {
    ProgressDrawTarget::term_like_with_hz(Box::new(Stderr), 20)
}

#[derive(Debug)]
struct Stderr;

impl Stderr {
    fn write(&self, s: &str) -> io::Result<()> {
        io::stderr().lock().write_all(s.as_bytes())
    }

    fn size(&self) -> (u16, u16) {
        terminal_size::terminal_size_of(io::stderr()).map_or((80, 24), |(w, h)| (w.0, h.0))
    }

    fn csi(&self, n: usize, code: char) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.write(&format!("\x1b[{n}{code}"))
    }
}

impl TermLike for Stderr {
    fn width(&self) -> u16 {
        self.size().0.saturating_sub(2).max(1)
    }

    fn height(&self) -> u16 {
        self.size().1
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.csi(n, 'A')
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.csi(n, 'B')
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.csi(n, 'C')
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.csi(n, 'D')
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.write(&format!("{s}\n"))
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.write(s)
    }

    fn clear_line(&self) -> io::Result<()> {
        self.write("\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        io::stderr().lock().flush()
    }
}

/// While one lives, a line of progress is on stderr: a Ctrl-C clears it before `sts` ends.
pub struct LineShown(());

impl LineShown {
    pub fn new() -> LineShown {
        #[cfg(unix)]
        interrupt::shown();
        LineShown(())
    }
}

impl Default for LineShown {
    fn default() -> Self {
        LineShown::new()
    }
}

impl Drop for LineShown {
    fn drop(&mut self) {
        #[cfg(unix)]
        interrupt::hidden();
    }
}

/// SIGINT while a progress line shows: the line erased (`\r`, erase line), then the default
/// action of the signal, so that `sts` ends exactly as it would have (killed by SIGINT, 130 in a
/// shell). Installed the first time a line shows, and only over the default action: a parent that
/// ignores SIGINT, or a handler of our own (the exporter's), is left alone.
#[cfg(unix)]
mod interrupt {
    use std::sync::Once;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static SHOWN: AtomicUsize = AtomicUsize::new(0);
    static INSTALL: Once = Once::new();

    pub fn shown() {
        INSTALL.call_once(install);
        SHOWN.fetch_add(1, Ordering::SeqCst);
    }

    pub fn hidden() {
        SHOWN.fetch_sub(1, Ordering::SeqCst);
    }

    /// Only async-signal-safe calls: an atomic load, write(2), signal(2), raise(3).
    extern "C" fn on_sigint(_: libc::c_int) {
        if SHOWN.load(Ordering::SeqCst) > 0 {
            const CLEAR: &[u8] = b"\r\x1b[2K";
            // SAFETY: writes a static buffer to the stderr descriptor.
            unsafe {
                libc::write(2, CLEAR.as_ptr().cast(), CLEAR.len());
            }
        }
        // SAFETY: puts back the default action and raises the signal again, which ends the
        // process as an unhandled SIGINT would have.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::raise(libc::SIGINT);
        }
    }

    fn install() {
        // SAFETY: sigaction with zeroed structs filled in here; the handler above only makes
        // async-signal-safe calls.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGINT, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction != libc::SIG_DFL
            {
                return;
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut new.sa_mask);
            libc::sigaction(libc::SIGINT, &new, std::ptr::null_mut());
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
