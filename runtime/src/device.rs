//! Choosing the compute device.
pub use cubecl::Device;

#[cfg(not(any(feature = "wgpu", feature = "cpu", feature = "cuda")))]
compile_error!("cubenet-runtime needs a cubecl runtime: enable `wgpu`, `cpu` or `cuda`");

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

/// A one-line description of the runtime and adapter behind `device`, e.g. `wgpu<wgsl>`.
pub fn describe(device: &Device) -> String {
    let client = device.client();
    format!("{} ({:?})", client.name(), device)
}
