//! The device-side finite check (`finite::flag_non_finite`): a NaN, +Inf or -Inf anywhere in
//! the first `len` values (first, middle, last index, in arenas shorter and longer than one
//! invocation per element) sets the flag to the launch's stamp; all-finite values (extremes,
//! subnormals, -0) leave it; values past `len` are not looked at; a later launch with a new
//! stamp tells its own result apart from an earlier one without clearing the flag.
mod common;

use common::client;
use cubecl::client::Client;
use cubecl::prelude::*;
use cubecl::server::Handle;
use cubenet_kernels::finite::{flag_non_finite, is_finite_bits, pass_units};

/// Runs the check over the first `len` values of `values` with `stamp` on a flag holding
/// `flag_before`; returns the flag after.
fn check(client: &Client, values: &[f32], len: usize, flag_before: u32, stamp: u32) -> u32 {
    let h = client.create_from_slice(f32::as_bytes(values));
    let flag = client.create_from_slice(u32::as_bytes(&[flag_before]));
    launch(client, &h, values.len(), &flag, len, stamp);
    read_flag(client, &flag)
}

fn launch(client: &Client, values: &Handle, cap: usize, flag: &Handle, len: usize, stamp: u32) {
    let units = pass_units(len);
    unsafe {
        flag_non_finite::launch_unchecked(
            client,
            CubeCount::Static(units.div_ceil(64) as u32, 1, 1),
            CubeDim::new_1d(64),
            BufferArg::from_raw_parts(values.clone(), cap.max(1)),
            BufferArg::from_raw_parts(flag.clone(), 1),
            len,
            units,
            stamp,
        );
    }
}

fn read_flag(client: &Client, flag: &Handle) -> u32 {
    u32::from_bytes(&client.read_one(flag.clone()).expect("read back"))[0]
}

fn finite_values(len: usize) -> Vec<f32> {
    let extremes = [
        0.0,
        -0.0,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        1e-45, // subnormal
        -1e-45,
        1.5,
    ];
    (0..len).map(|i| extremes[i % extremes.len()]).collect()
}

#[test]
fn every_kind_of_non_finite_value_at_any_index_sets_the_flag() {
    let client = client();
    // 1000: one invocation per element; 65536 * 2 + 3: several elements per invocation and a
    // short tail (the last index is checked by the last loop iteration of invocation 2).
    for len in [1usize, 7, 1000, (1 << 16) * 2 + 3] {
        let good = finite_values(len);
        assert_eq!(check(&client, &good, len, 0, 5), 0, "len {len}: all finite");
        for bad in [f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for at in [0, len / 2, len - 1] {
                let mut v = good.clone();
                v[at] = bad;
                assert_eq!(
                    check(&client, &v, len, 0, 5),
                    5,
                    "len {len}: {bad} at index {at} not flagged"
                );
            }
        }
    }
}

#[test]
fn values_past_len_are_not_checked() {
    let client = client();
    let mut v = finite_values(100);
    v[99] = f32::NAN;
    assert_eq!(check(&client, &v, 99, 0, 3), 0);
    assert_eq!(check(&client, &v, 100, 0, 3), 3);
}

#[test]
fn a_new_stamp_needs_no_clearing() {
    let client = client();
    let len = 300;
    let good = finite_values(len);
    let mut bad = good.clone();
    bad[len - 1] = f32::INFINITY;
    let h = client.create_from_slice(f32::as_bytes(&bad));
    let flag = client.create_from_slice(u32::as_bytes(&[0u32]));
    launch(&client, &h, len, &flag, len, 1);
    assert_eq!(read_flag(&client, &flag), 1);
    // The same flag, now over finite values with stamp 2: it keeps the old stamp, which the
    // caller does not take for its own.
    client.write(
        &h,
        cubecl::bytes::Bytes::from_bytes_vec(f32::as_bytes(&good).to_vec()),
    );
    launch(&client, &h, len, &flag, len, 2);
    assert_eq!(read_flag(&client, &flag), 1);
    client.write(
        &h,
        cubecl::bytes::Bytes::from_bytes_vec(f32::as_bytes(&bad).to_vec()),
    );
    launch(&client, &h, len, &flag, len, 3);
    assert_eq!(read_flag(&client, &flag), 3);
}

#[test]
fn the_host_test_agrees_with_f32_is_finite() {
    for x in [
        0.0,
        -0.0,
        1.0,
        f32::MAX,
        f32::MIN,
        1e-45,
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ] {
        assert_eq!(is_finite_bits(x.to_bits()), x.is_finite(), "{x}");
    }
}
