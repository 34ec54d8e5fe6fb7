//! Choosing the compute device.
pub use cubecl::Device;

/// The device cubecl picks by default (the most capable runtime compiled in; with the
/// `wgpu` feature on a machine without a GPU, Mesa's lavapipe CPU Vulkan driver).
pub fn default_device() -> Device {
    Device::default()
}

/// A one-line description of the runtime and adapter behind `device`, e.g. `wgpu<wgsl>`.
pub fn describe(device: &Device) -> String {
    let client = device.client();
    format!("{} ({:?})", client.name(), device)
}
