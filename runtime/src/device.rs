//! Choosing the compute device, and checking that it can run a network ([`check_loop_limit`]).
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use cubecl::client::Client;
pub use cubecl::Device;

use crate::error::{Error, Result};

#[cfg(not(any(feature = "wgpu", feature = "cpu", feature = "cuda")))]
compile_error!("cubenet-runtime needs a cubecl runtime: enable `wgpu`, `cpu` or `cuda`");

/// Gives the Vulkan loader a private `XDG_RUNTIME_DIR` (a 0700 folder under the system temp
/// folder) when none is set, which silences its harmless "XDG_RUNTIME_DIR is invalid or not set
/// in the environment" lines on headless machines. [`default_device`] and [`client`] call it
/// before anything reaches Vulkan, so a program need not; it runs once per process. Calling
/// it first in `main` keeps the environment change before any thread starts (setting an
/// environment variable while another thread reads one is a data race in C libraries).
pub fn quiet_vulkan_loader() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("cubenet-xdg-{}", std::process::id()));
        if std::fs::create_dir_all(&dir).is_ok() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
            }
            std::env::set_var("XDG_RUNTIME_DIR", dir);
        }
    });
}

/// The device to run on, among the runtimes this build links (the `wgpu`, `cpu` and `cuda`
/// features, in any combination), best first:
/// 1. `cuda`: CUDA device 0, where the machine has an NVIDIA GPU and driver;
/// 2. `wgpu`: wgpu's default adapter, where it is a real GPU — or, when the `cpu` runtime is
///    not linked, whatever wgpu finds (on a machine without a GPU, Mesa's lavapipe CPU Vulkan
///    driver; `CUBECL_WGPU_DEFAULT_DEVICE` still chooses among adapters);
/// 3. `cpu`: cubecl's CPU runtime, which trains faster than lavapipe on the same cores.
///
/// The default build (`wgpu` alone) asks nothing and takes wgpu's default adapter, as before.
/// A build with `cuda` alone on a machine without a GPU returns CUDA device 0 anyway: there is
/// nothing else, and the first use of the device says why it fails.
pub fn default_device() -> Device {
    quiet_vulkan_loader();
    #[cfg(feature = "cuda")]
    if let Ok(device) = Device::cuda(0) {
        return device;
    }
    #[cfg(all(feature = "wgpu", feature = "cpu"))]
    if wgpu_has_gpu() {
        return Device::Wgpu(Default::default());
    }
    #[cfg(feature = "cpu")]
    return Device::Cpu(Default::default());
    #[cfg(all(feature = "wgpu", not(feature = "cpu")))]
    return Device::Wgpu(Default::default());
    #[cfg(all(feature = "cuda", not(any(feature = "wgpu", feature = "cpu"))))]
    return Device::Cuda(Default::default());
    #[cfg(not(any(feature = "wgpu", feature = "cpu", feature = "cuda")))]
    unreachable!("no runtime linked (see the compile error above)")
}

/// Whether wgpu sees a hardware adapter: a discrete, integrated, virtual or other GPU, not a
/// software rasterizer (lavapipe, llvmpipe, WARP enumerate as `WgpuDeviceKind::Cpu`).
#[cfg(all(feature = "wgpu", feature = "cpu"))]
fn wgpu_has_gpu() -> bool {
    use cubecl::device::WgpuDeviceKind;
    [
        WgpuDeviceKind::DiscreteGpu(0),
        WgpuDeviceKind::IntegratedGpu(0),
        WgpuDeviceKind::VirtualGpu(0),
        WgpuDeviceKind::Other(0),
    ]
    .into_iter()
    .any(|kind| Device::wgpu(kind).is_ok())
}

/// The compute client of `device`, initialised on first use.
///
/// cubecl panics (on its device thread, then on the caller's) when a device cannot be
/// brought up: no wgpu adapter (no Vulkan driver installed), a CUDA device that fails to
/// initialise. This catches that panic, keeps its message off the terminal, and returns it as
/// an error that says what would help.
///
/// # Errors
/// [`Error::Device`] naming the device, cubecl's reason, and the fixes: install a Vulkan
/// driver (`mesa-vulkan-drivers libvulkan1` runs Vulkan on the CPU) or build with
/// `--features cpu`.
pub fn client(device: &Device) -> Result<Client> {
    quiet_vulkan_loader();
    let reason: Arc<Mutex<Option<String>>> = Arc::default();
    let previous = std::panic::take_hook();
    {
        let reason = Arc::clone(&reason);
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| info.to_string());
            let mut first = reason.lock().unwrap_or_else(|e| e.into_inner());
            // The device thread's panic carries the cause; the caller's is a closed channel.
            first.get_or_insert(text);
        }));
    }
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| device.client()));
    std::panic::set_hook(previous);
    result.map_err(|_| {
        let reason = reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| "unknown reason".into());
        Error::Device(format!(
            "cannot start device {device:?}: {reason}. Without a GPU, install a Vulkan driver \
             that runs on the CPU (`apt-get install mesa-vulkan-drivers libvulkan1`) or build \
             with `--features cpu` (cubecl's CPU runtime; see the README's backends section)"
        ))
    })
}

/// The class of device a network's kernels are configured for: each block has one row of
/// tile sizes per target (`#[network]` emits both), and [`target`] picks the row.
/// Tiles decide how work is split into units, never a result: reductions use the same
/// chunks and order on every target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Few large units sized to the cores, explicit 16-wide vectors: cubecl's cpu runtime.
    Cpu = 0,
    /// Many small units in 256-unit cubes: CUDA, wgpu (a GPU adapter, or lavapipe).
    Gpu = 1,
}

impl Target {
    /// Every target, in the order of a network's configuration rows.
    pub const ALL: [Target; 2] = [Target::Cpu, Target::Gpu];
    /// `cpu` or `gpu`.
    pub fn name(self) -> &'static str {
        match self {
            Target::Cpu => "cpu",
            Target::Gpu => "gpu",
        }
    }
}

/// The target of `client`: [`Target::Cpu`] for cubecl's cpu runtime, [`Target::Gpu`] for
/// everything else (CUDA, wgpu; a software Vulkan driver such as Mesa's lavapipe, which runs
/// WGSL shaders, takes the GPU row too: the CPU row uses 16-wide vectors WGSL lacks).
/// `CUBENET_TARGET=gpu` runs the GPU row on the cpu runtime (both rows compute the same
/// numbers; the override exists to run, test and time either row anywhere WGSL is not the
/// language).
pub fn target(client: &Client) -> Target {
    let cpu_runtime = client.name().starts_with("cpu");
    match std::env::var("CUBENET_TARGET").as_deref() {
        Ok("gpu") => Target::Gpu,
        Ok("cpu") if cpu_runtime => Target::Cpu,
        _ if cpu_runtime => Target::Cpu,
        _ => Target::Gpu,
    }
}

/// A one-line description of the runtime and adapter behind `device`, e.g. `wgpu<wgsl>`.
///
/// # Errors
/// As [`client`], when the device cannot be started.
pub fn describe(device: &Device) -> Result<String> {
    let client = client(device)?;
    Ok(format!("{} ({:?})", client.name(), device))
}

/// Refuses, on Mesa's llvmpipe / lavapipe (`adapter` names the device), a batch size at
/// which some kernel would exceed the driver's loop limit and silently return partial
/// results (see [`cubenet_kernels::LOOP_LIMIT`]).
///
/// # Errors
/// [`Error::Device`] naming the job, its loop count, the limit and the largest batch size
/// that fits (if any).
pub fn check_loop_limit(
    adapter: &str,
    batch_size: usize,
    target: Target,
    max_loops: fn(usize, bool, usize) -> (usize, &'static str),
) -> Result<()> {
    use cubenet_kernels::LOOP_LIMIT;
    if !adapter.contains("llvmpipe") || batch_size == 0 {
        return Ok(());
    }
    let t = target as usize;
    let fits =
        |n: usize| max_loops(n, true, t).0 <= LOOP_LIMIT && max_loops(n, false, t).0 <= LOOP_LIMIT;
    if fits(batch_size) {
        return Ok(());
    }
    let (iters, what) = [
        max_loops(batch_size, true, t),
        max_loops(batch_size, false, t),
    ]
    .into_iter()
    .max_by_key(|x| x.0)
    .expect("two candidates");
    // The counts grow with the batch size: the largest batch that fits by bisection.
    let (mut lo, mut hi) = (0usize, batch_size);
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let advice = if lo == 0 {
        "No batch size fits: the layer is too wide for this driver. Run on another backend \
         (a GPU, or the `cpu` feature)."
            .to_string()
    } else {
        format!(
            "Use a batch size of at most {lo}, or another backend (a GPU, or the `cpu` feature)."
        )
    };
    Err(Error::Device(format!(
        "{adapter} cannot run this network correctly at batch size {batch_size}: {what} runs up \
         to {iters} loop iterations in one shader invocation, and Mesa's CPU driver silently \
         stops a shader's loops after {LOOP_LIMIT} in total. {advice}"
    )))
}
