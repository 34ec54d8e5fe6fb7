//! Training steps replayed as device graphs (opt-in, [`NetState::set_graph_capture`]).
//!
//! A training step is a fixed sequence of kernel launches over the same buffers: the batch
//! size `n` is a compile-time constant of every kernel and the only launch arguments are
//! the optimiser's scalars and the Dropout seed ([`StepArgs`], [`NetState::launch_seed`]).
//! When the same sequence comes twice in a row, cubecl's graph capture records it
//! (`Client::graph_prepare` -> the step itself as the warm-up -> `start_capture` -> the same
//! launches recorded -> `stop_capture`), and every later step with the same arguments
//! replays the graph instead of launching each kernel: one dispatch of a CUDA graph
//! (cuGraphLaunch), or on wgpu a re-encoding of the recorded dispatches without the
//! pipeline lookup, binding resolution and metadata upload of each launch.
//!
//! What stays outside the graph: the batch upload (a host write between replays, as cubecl
//! requires), the device-side finite check (its stamp changes every step) and the separate
//! update passes of Adam and of clipped SGD. A step therefore computes exactly what the
//! launched kernels would: the same kernels, buffers and order (tests: `tests/graph_capture.rs`,
//! bitwise).
//!
//! Graphs are keyed by `n` and the bits of every launch argument; the Dropout seed is part of
//! the key only for a network with Dropout, whose seed changes every step, so such a network
//! never replays (its masks must change). A schedule that changes the rate every step never
//! repeats a key either; StepLR records one graph per rate. At most [`MAX_GRAPHS`] are kept.
//! A backend without graph support (cubecl's cpu runtime) refuses `start_capture`; the state
//! then launches kernels as usual for the rest of its life. A graph replays only on the thread
//! that recorded it (cubecl's stream is per thread, and the uploads between replays must be
//! on the graph's stream); another thread records its own.
use std::thread::ThreadId;

use cubecl::client::Graph;

use super::NetState;
use crate::error::{Error, Result};
use crate::optim::step::StepArgs;

/// Graphs kept per network: the rates of a StepLR schedule, full and short last batches.
pub const MAX_GRAPHS: usize = 8;

/// What a recorded step was launched with: `n` and the bits of every launch argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StepKey {
    n: usize,
    args: [u32; 6],
}

/// The graphs of one network and what capture learned about its backend.
#[derive(Default)]
pub(crate) struct StepGraphs {
    on: bool,
    /// The backend refused a capture: launch as usual from now on.
    unsupported: bool,
    /// The key of the last step launched without a graph.
    last: Option<StepKey>,
    /// Recorded graphs, oldest first, with the thread whose stream they were captured on.
    graphs: Vec<(StepKey, ThreadId, Graph)>,
    replays: u64,
}

impl NetState {
    /// Turns graph capture of training steps on or off (off by default; see
    /// [`crate::state::graph`]). Off drops the recorded graphs. Results do not change: a
    /// replay runs the same kernels on the same buffers in the same order. While profiling
    /// (`CUBENET_PROFILE=1`, every launch timed) steps are launched, never replayed.
    pub fn set_graph_capture(&mut self, on: bool) {
        self.graphs.on = on;
        if !on {
            self.clear_graphs();
        }
    }

    /// Whether graph capture of training steps is on ([`NetState::set_graph_capture`]).
    pub fn graph_capture(&self) -> bool {
        self.graphs.on
    }

    /// Training steps run by replaying a recorded graph so far (0 where the backend has no
    /// graph support or capture is off).
    pub fn graph_replays(&self) -> u64 {
        self.graphs.replays
    }

    /// Drops every recorded graph (the launch geometry or buffers they hold changed).
    pub(crate) fn clear_graphs(&mut self) {
        self.graphs.graphs.clear();
        self.graphs.last = None;
    }

    /// Runs the training kernels of one step on a batch of `n` already uploaded: `launch`
    /// itself, or the replay of the graph recorded for the same `n` and `args`.
    ///
    /// # Errors
    /// [`Error::Device`] when the device refuses the replay of a recorded graph.
    pub(crate) fn launch_step(
        &mut self,
        n: usize,
        args: StepArgs,
        launch: &impl Fn(&NetState, usize, StepArgs),
    ) -> Result<()> {
        if !self.graphs.on || self.graphs.unsupported || self.profile.is_some() {
            launch(self, n, args);
            return Ok(());
        }
        let seed = if self.layout.dropout {
            self.launch_seed
        } else {
            0
        };
        let key = StepKey {
            n,
            args: [
                args.lr.to_bits(),
                args.momentum.to_bits(),
                args.dampening.to_bits(),
                args.weight_decay.to_bits(),
                args.flags,
                seed,
            ],
        };
        let thread = std::thread::current().id();
        if let Some((_, _, graph)) = self
            .graphs
            .graphs
            .iter()
            .find(|(k, t, _)| *k == key && *t == thread)
        {
            // SAFETY: every buffer the graph recorded is an arena of this state, alive as long
            // as the state (the graphs are its first field, so they drop first) and used by
            // no other stream: the state is borrowed mutably, and a graph replays only on the
            // thread (so the stream) that recorded it, where uploads and reads also run.
            unsafe { graph.replay() }
                .map_err(|e| Error::Device(format!("replaying a recorded training step: {e}")))?;
            self.graphs.replays += 1;
            return Ok(());
        }
        if self.graphs.last != Some(key) {
            self.graphs.last = Some(key);
            launch(self, n, args);
            return Ok(());
        }
        // The second step in a row with these arguments: it runs as the capture's warm-up,
        // then the same launches are recorded (not run) for the steps to come.
        if self.client.graph_prepare().is_err() {
            self.graphs.unsupported = true;
            launch(self, n, args);
            return Ok(());
        }
        launch(self, n, args);
        if self.client.start_capture().is_err() {
            // Unwinds the prepared capture (nothing was recorded, so this is an error too).
            let _ = self.client.stop_capture();
            self.graphs.unsupported = true;
            return Ok(());
        }
        launch(self, n, args);
        match self.client.stop_capture() {
            Ok(graph) => {
                if self.graphs.graphs.len() == MAX_GRAPHS {
                    self.graphs.graphs.remove(0);
                }
                self.graphs.graphs.push((key, thread, graph));
            }
            // The warm-up ran the step; only the recording failed. Launch from now on. (cubecl
            // marks the buffers the refused recording claimed with its error, so a read of
            // them before a kernel writes them again reports it: the step's loss read then
            // fails with that error rather than returning a value. Not seen on wgpu or in
            // tests; a failure that could not be induced here.)
            Err(_) => self.graphs.unsupported = true,
        }
        Ok(())
    }
}
