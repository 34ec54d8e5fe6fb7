//! Stopping a run cleanly: a flag checked by [`crate::trainer::fit`] after every step, set by
//! Ctrl-C or by the program.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// A shared "stop after the current step" request. Clones share the flag.
#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A flag that nothing has set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A flag set by the first Ctrl-C (SIGINT, or SIGTERM / SIGHUP, via the `ctrlc` crate):
    /// [`crate::trainer::fit`] then finishes the step in flight, writes its checkpoint and
    /// returns [`Error::Interrupted`]. A second Ctrl-C exits at once with status 130.
    ///
    /// # Errors
    /// [`Error::Config`] if a signal handler is already installed in this process.
    pub fn on_ctrl_c() -> Result<Self> {
        let flag = StopFlag::new();
        let inner = Arc::clone(&flag.0);
        ctrlc::set_handler(move || {
            if inner.swap(true, Ordering::SeqCst) {
                eprintln!("\nsecond interrupt: exiting without saving");
                std::process::exit(130);
            }
            eprintln!("\ninterrupt: finishing the current step and saving a checkpoint (press Ctrl-C again to quit at once)");
        })
        .map_err(|e| Error::Config(format!("cannot install the Ctrl-C handler: {e}")))?;
        Ok(flag)
    }

    /// Asks the run to stop after the current step.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was requested.
    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
