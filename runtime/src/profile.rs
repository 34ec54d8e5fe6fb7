//! Per-kernel timing: the [`Profile`] a network collects when `CUBENET_PROFILE=1`, and the
//! bookkeeping behind [`NetState::before_launch`](crate::NetState::before_launch) and
//! [`NetState::after_launch`](crate::NetState::after_launch).
use std::time::Instant;

/// Per-kernel wall-clock times, collected when `CUBENET_PROFILE=1` (each launch is then
/// followed by a device sync, so the total is slower than an unprofiled step).
#[derive(Debug, Default)]
pub struct Profile {
    last: Option<Instant>,
    /// (kernel name, total seconds, launches).
    pub kernels: Vec<(&'static str, f64, usize)>,
}

impl Profile {
    /// One line per kernel, in first-launch order: name, milliseconds per launch and share of
    /// the total, under a heading.
    pub fn table(&self) -> String {
        let total: f64 = self.kernels.iter().map(|k| k.1).sum();
        let width = self.kernels.iter().map(|k| k.0.len()).max().unwrap_or(0);
        let mut out = String::from("kernel profile (CUBENET_PROFILE=1; each launch synced):\n");
        for (name, secs, launches) in &self.kernels {
            out.push_str(&format!(
                "  {name:<width$} {:>9.3} ms/launch {:>5.1}%\n",
                1e3 * secs / (*launches).max(1) as f64,
                100.0 * secs / total.max(1e-12)
            ));
        }
        out
    }

    /// An empty profile when `CUBENET_PROFILE=1` is set, else `None` (no profiling).
    pub(crate) fn from_env() -> Option<Profile> {
        std::env::var_os("CUBENET_PROFILE")
            .filter(|v| v == "1")
            .map(|_| Default::default())
    }

    /// Starts the clock of the next launch (the device has finished everything before it).
    pub(crate) fn start(&mut self) {
        self.last = Some(Instant::now());
    }

    /// Adds the time since [`Profile::start`] to kernel `name` (the device has finished it).
    pub(crate) fn record(&mut self, name: &'static str) {
        let dt = self.last.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
        match self.kernels.iter_mut().find(|k| k.0 == name) {
            Some(k) => {
                k.1 += dt;
                k.2 += 1;
            }
            None => self.kernels.push((name, dt, 1)),
        }
    }
}
