//! The `.npy`, safetensors and image-folder readers on files generated here, good and bad.
//! Every bad file must give an error whose message names it.

use cubenet_runtime::data::{DataError, Dataset, ImageFolder, Samples, TargetKind, Targets};
use image::{ColorType, ImageFormat};
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use std::path::{Path, PathBuf};

/// A `.npy` file (format 1.0) as `numpy.save` writes it: magic, version, u16 LE header
/// length, the header dict padded with spaces to a multiple of 64 bytes and ending in '\n'.
fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    npy_order(descr, "False", shape, data)
}

/// [`npy`] with `fortran_order` set to `fortran` ("True" or "False").
fn npy_order(descr: &str, fortran: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn le_i64(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Asserts `e`'s message contains the file name of `path` and every one of `parts`.
fn assert_names(e: &DataError, path: &Path, parts: &[&str]) {
    let m = e.to_string();
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(m.contains(&*name), "message does not name {name}: {m}");
    for p in parts {
        assert!(m.contains(p), "message lacks `{p}`: {m}");
    }
}

/// 2 samples of 2 x 2 x 3 f32 values, distinct and not representable as bytes / 255.
fn values() -> Vec<f32> {
    (0..24).map(|i| i as f32 * 0.37 - 4.1).collect()
}

#[test]
fn npy_f32_samples_and_class_labels_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let x = write(
        dir.path(),
        "x.npy",
        &npy("<f4", &[2, 2, 2, 3], &le_f32(&values())),
    );
    for (descr, bytes) in [
        ("|u1", vec![3u8, 1]),
        (
            "<i4",
            [3i32, 1].iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
        ("<i8", le_i64(&[3, 1])),
        (
            "<u4",
            [3u32, 1].iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
        (
            "<u8",
            [3u64, 1].iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
        (
            ">i8",
            [3i64, 1].iter().flat_map(|v| v.to_be_bytes()).collect(),
        ),
    ] {
        let y = write(dir.path(), "y.npy", &npy(descr, &[2], &bytes));
        let ds = Dataset::from_npy(&x, &y, TargetKind::Classes { num_classes: 4 }).unwrap();
        assert_eq!((ds.len(), ds.image_shape()), (2, [2, 2, 3]), "{descr}");
        assert_eq!(ds.samples(), &Samples::F32(values()), "{descr}");
        assert_eq!(ds.labels(), [3, 1], "{descr}");
        assert_eq!(ds.num_classes(), 4);
    }
}

#[test]
fn npy_u8_nhw_and_value_targets_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..12).map(|i| (i * 21) as u8).collect();
    let x = write(dir.path(), "x.npy", &npy("|u1", &[3, 2, 2], &bytes));
    let t = [0.5f32, -1.25, 2.0, 1e-3, 7.0, -0.0];
    let y = write(dir.path(), "t.npy", &npy("<f4", &[3, 2], &le_f32(&t)));
    let ds = Dataset::from_npy(&x, &y, TargetKind::Values).unwrap();
    assert_eq!(
        (ds.len(), ds.image_shape(), ds.num_classes()),
        (3, [1, 2, 2], 0)
    );
    assert_eq!(ds.images(), bytes);
    assert_eq!(
        ds.targets(),
        &Targets::Values {
            values: t.to_vec(),
            len_per_sample: 2
        }
    );
    // Big-endian f32 and a 1-dimensional target (one value per sample).
    let be: Vec<u8> = [1.5f32, 2.5, -3.5]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let y1 = write(dir.path(), "t1.npy", &npy(">f4", &[3], &be));
    let ds = Dataset::from_npy(&x, &y1, TargetKind::Values).unwrap();
    assert_eq!(
        ds.targets(),
        &Targets::Values {
            values: vec![1.5, 2.5, -3.5],
            len_per_sample: 1
        }
    );
}

#[test]
fn npy_bad_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good_x = npy("<f4", &[2, 2, 2, 3], &le_f32(&values()));
    let x = write(d, "x.npy", &good_x);
    let y = write(d, "y.npy", &npy("<i8", &[2], &le_i64(&[0, 1])));
    let classes = TargetKind::Classes { num_classes: 2 };
    let err = |xp: &Path, yp: &Path, kind| Dataset::from_npy(xp, yp, kind).unwrap_err();

    // Truncated data, truncated header, not a .npy file at all.
    let cut = write(d, "truncated.npy", &good_x[..good_x.len() - 3]);
    assert_names(
        &err(&cut, &y, classes),
        &cut,
        &["93 bytes", "96", "truncated"],
    );
    let cut_header = write(d, "cut_header.npy", &good_x[..40]);
    assert_names(
        &err(&cut_header, &y, classes),
        &cut_header,
        &["truncated .npy header"],
    );
    let text = write(d, "notes.npy", b"hello, this is text");
    assert_names(&err(&text, &y, classes), &text, &["not a .npy file"]);
    let empty = write(d, "empty.npy", b"");
    assert_names(&err(&empty, &y, classes), &empty, &["not a .npy file"]);

    // Wrong dtype of samples, labels and value targets.
    let f8 = write(d, "f8.npy", &npy("<f8", &[2, 1, 1, 1], &[0; 16]));
    assert_names(
        &err(&f8, &y, classes),
        &f8,
        &["float64", "astype(np.float32)"],
    );
    let float_labels = write(d, "flabels.npy", &npy("<f4", &[2], &le_f32(&[0.0, 1.0])));
    assert_names(
        &err(&x, &float_labels, classes),
        &float_labels,
        &["integer"],
    );
    assert_names(&err(&x, &y, TargetKind::Values), &y, &["i64", "f32"]);
    let f8_labels = write(d, "f8labels.npy", &npy("<f8", &[2], &[0; 16]));
    assert_names(
        &err(&x, &f8_labels, classes),
        &f8_labels,
        &["<f8 (float64)", "integer"],
    );
    assert_names(
        &err(&x, &f8_labels, TargetKind::Values),
        &f8_labels,
        &["float64", "f32"],
    );

    // Wrong number of dimensions.
    let two_d = write(d, "two_d.npy", &npy("<f4", &[2, 12], &le_f32(&values())));
    assert_names(
        &err(&two_d, &y, classes),
        &two_d,
        &["2 dimensions", "[2, 12]"],
    );
    let y2 = write(d, "y2d.npy", &npy("<i8", &[2, 1], &le_i64(&[0, 1])));
    assert_names(&err(&x, &y2, classes), &y2, &["1 dimension"]);

    // Labels out of range (too large, negative).
    let big = write(d, "big.npy", &npy("<i8", &[2], &le_i64(&[1, 2])));
    assert_names(
        &err(&x, &big, classes),
        &big,
        &["label 2 at index 1", "0..2"],
    );
    let neg = write(d, "neg.npy", &npy("<i8", &[2], &le_i64(&[-1, 0])));
    assert_names(&err(&x, &neg, classes), &neg, &["label -1 at index 0"]);

    // Different sample counts: both files are named.
    let three = write(d, "three.npy", &npy("<i8", &[3], &le_i64(&[0, 1, 0])));
    let e = err(&x, &three, classes);
    assert!(
        matches!(
            e,
            DataError::CountMismatch {
                images: 2,
                labels: 3,
                ..
            }
        ),
        "{e}"
    );
    assert_names(&e, &x, &["three.npy"]);

    // A non-finite sample, a Fortran-order array, a shape overflowing 64 bits.
    let mut nan = values();
    nan[5] = f32::NAN;
    let nan_x = write(d, "nan.npy", &npy("<f4", &[2, 2, 2, 3], &le_f32(&nan)));
    assert_names(
        &err(&nan_x, &y, classes),
        &nan_x,
        &["index 5", "not finite"],
    );
    let fortran = npy_order("<f4", "True", &[2, 2, 2, 3], &le_f32(&values()));
    let fortran = write(d, "fortran.npy", &fortran);
    assert_names(&err(&fortran, &y, classes), &fortran, &["Fortran order"]);
    let huge = write(d, "huge.npy", &npy("<f4", &[1 << 40, 1 << 40, 1, 1], &[]));
    assert_names(&err(&huge, &y, classes), &huge, &["too large"]);
    let missing = d.join("missing.npy");
    assert_names(&err(&missing, &y, classes), &missing, &["cannot read"]);
}

fn safetensors_file(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(k, d, s, b)| (k.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::tensor::serialize(views, &None).unwrap()
}

#[test]
fn safetensors_round_trip_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes: Vec<u8> = (0..24).map(|i| (i * 10) as u8).collect();
    let file = safetensors_file(&[
        ("images", Dtype::U8, vec![2, 3, 2, 2], bytes.clone()),
        ("labels", Dtype::I64, vec![2], le_i64(&[4, 0])),
        ("noisy", Dtype::F32, vec![2, 1, 3, 4], le_f32(&values())),
        ("clean", Dtype::F32, vec![2, 12], le_f32(&values())),
        ("x64", Dtype::F64, vec![2, 1, 1, 1], vec![0; 16]),
    ]);
    let p = write(d, "set.safetensors", &file);
    let ds = Dataset::from_safetensors(
        &p,
        "images",
        "labels",
        TargetKind::Classes { num_classes: 5 },
    )
    .unwrap();
    assert_eq!((ds.len(), ds.image_shape()), (2, [3, 2, 2]));
    assert_eq!((ds.images(), ds.labels()), (&bytes[..], &[4, 0][..]));
    let ae = Dataset::from_safetensors(&p, "noisy", "clean", TargetKind::Values).unwrap();
    assert_eq!(ae.samples(), &Samples::F32(values()));
    assert_eq!(
        ae.targets(),
        &Targets::Values {
            values: values(),
            len_per_sample: 12
        }
    );

    let classes = TargetKind::Classes { num_classes: 5 };
    let e = Dataset::from_safetensors(&p, "images", "y", classes).unwrap_err();
    assert_names(
        &e,
        &p,
        &["no tensor named `y`", "clean, images, labels, noisy, x64"],
    );
    let e = Dataset::from_safetensors(&p, "x64", "labels", classes).unwrap_err();
    assert_names(&e, &p, &["tensor `x64`", "F64"]);
    let e = Dataset::from_safetensors(
        &p,
        "images",
        "labels",
        TargetKind::Classes { num_classes: 4 },
    )
    .unwrap_err();
    assert_names(&e, &p, &["tensor `labels`", "label 4 at index 0"]);
    let e = Dataset::from_safetensors(&p, "clean", "labels", classes).unwrap_err();
    assert_names(&e, &p, &["2 dimensions"]);
    let bad = write(d, "bad.safetensors", &file[..file.len() / 2]);
    let e = Dataset::from_safetensors(&bad, "images", "labels", classes).unwrap_err();
    assert_names(&e, &bad, &["not a valid safetensors file"]);
    let mismatch = write(
        d,
        "mismatch.safetensors",
        &safetensors_file(&[
            ("x", Dtype::U8, vec![2, 1, 1, 1], vec![1, 2]),
            ("y", Dtype::U8, vec![3], vec![0, 0, 0]),
        ]),
    );
    let e = Dataset::from_safetensors(&mismatch, "x", "y", classes).unwrap_err();
    assert_names(&e, &mismatch, &["2 samples", "3 targets"]);
}

/// Writes an 8-bit image of `w x h` with `channels` interleaved channels.
fn image(path: &Path, w: u32, h: u32, channels: usize, pixels: &[u8], format: ImageFormat) {
    let color = match channels {
        1 => ColorType::L8,
        3 => ColorType::Rgb8,
        _ => ColorType::Rgba8,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    image::save_buffer_with_format(path, pixels, w, h, color, format).unwrap();
}

/// An RGB image of 2 x 3 (H x W) whose interleaved pixel bytes are `seed * 20 + k`.
fn rgb(seed: u8) -> Vec<u8> {
    (0..18).map(|k| seed * 20 + k).collect()
}

/// The CHW planes of an interleaved HWC image.
fn planes(hwc: &[u8], c: usize) -> Vec<u8> {
    (0..c)
        .flat_map(|ch| hwc.iter().skip(ch).step_by(c).copied())
        .collect()
}

#[test]
fn image_folder_reads_like_torchvision() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Class names sorted: "Zebra" < "cat" < "dog" (code points); files sorted within.
    image(&root.join("dog/b.png"), 3, 2, 3, &rgb(1), ImageFormat::Png);
    image(&root.join("dog/a.png"), 3, 2, 3, &rgb(2), ImageFormat::Png);
    image(&root.join("cat/x.png"), 3, 2, 3, &rgb(3), ImageFormat::Png);
    image(
        &root.join("Zebra/sub/z.png"),
        3,
        2,
        3,
        &rgb(4),
        ImageFormat::Png,
    );
    image(
        &root.join("Zebra/y.png"),
        3,
        2,
        3,
        &rgb(5),
        ImageFormat::Png,
    );
    write(root, "cat/.DS_Store", b"not an image, hidden");
    write(root, ".hidden_class/x.txt", b"hidden folder");
    write(root, "README.txt", b"a file in the root is no class");
    let folder = ImageFolder::open(root, [3, 2, 3]).unwrap();
    assert_eq!(folder.classes(), ["Zebra", "cat", "dog"]);
    let names: Vec<String> = folder
        .files()
        .iter()
        .map(|(p, l)| format!("{}:{l}", p.strip_prefix(root).unwrap().display()))
        .collect();
    assert_eq!(
        names,
        [
            "Zebra/y.png:0",
            "Zebra/sub/z.png:0",
            "cat/x.png:1",
            "dog/a.png:2",
            "dog/b.png:2"
        ]
    );
    let ds = folder.dataset();
    assert_eq!(
        (ds.len(), ds.image_shape(), ds.num_classes()),
        (5, [3, 2, 3], 3)
    );
    assert_eq!(ds.labels(), [0, 0, 1, 2, 2]);
    for (i, seed) in [5u8, 4, 3, 2, 1].into_iter().enumerate() {
        assert_eq!(ds.image(i), planes(&rgb(seed), 3), "sample {i}");
    }

    // Grayscale PNG and JPEG (a flat JPEG decodes to its value within rounding).
    let gray = dir.path().join("gray");
    image(
        &gray.join("a/p.png"),
        2,
        2,
        1,
        &[0, 50, 100, 255],
        ImageFormat::Png,
    );
    image(
        &gray.join("b/j.jpg"),
        8,
        8,
        1,
        &[128; 64],
        ImageFormat::Jpeg,
    );
    let e = ImageFolder::open(&gray, [1, 2, 2]).unwrap_err();
    assert_names(&e, Path::new("j.jpg"), &["8 x 8", "expected 2 x 2"]);
    std::fs::remove_file(gray.join("b/j.jpg")).unwrap();
    image(&gray.join("b/j.jpg"), 2, 2, 1, &[128; 4], ImageFormat::Jpeg);
    let ds = ImageFolder::open(&gray, [1, 2, 2]).unwrap().into_dataset();
    assert_eq!(ds.image(0), [0, 50, 100, 255]);
    assert!(
        ds.image(1).iter().all(|&v| v.abs_diff(128) <= 2),
        "{:?}",
        ds.image(1)
    );
}

#[test]
fn image_folder_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("set");
    image(&root.join("a/1.png"), 3, 2, 3, &rgb(1), ImageFormat::Png);
    image(&root.join("b/1.png"), 3, 2, 3, &rgb(2), ImageFormat::Png);
    let open = || ImageFolder::open(&root, [3, 2, 3]).unwrap_err();

    let notes = write(&root, "b/notes.txt", b"these are not pixels");
    assert_names(&open(), &notes, &["not a PNG or JPEG image"]);
    std::fs::remove_file(&notes).unwrap();
    let fake = write(&root, "b/fake.png", b"\x89PNG\r\n\x1a\n but then garbage");
    assert_names(&open(), &fake, &["cannot decode"]);
    std::fs::remove_file(&fake).unwrap();

    let wide = root.join("b/wide.png");
    image(&wide, 4, 2, 3, &[9; 24], ImageFormat::Png);
    assert_names(&open(), &wide, &["2 x 4", "expected 2 x 3", "not resized"]);
    std::fs::remove_file(&wide).unwrap();

    let gray = root.join("a/gray.png");
    image(&gray, 3, 2, 1, &[7; 6], ImageFormat::Png);
    assert_names(
        &open(),
        &gray,
        &["1 channel (grayscale)", "expected 3 (RGB)"],
    );
    std::fs::remove_file(&gray).unwrap();
    let rgba = root.join("a/rgba.png");
    image(&rgba, 3, 2, 4, &[7; 24], ImageFormat::Png);
    assert_names(&open(), &rgba, &["4 channels (RGBA)", "expected 3 (RGB)"]);
    std::fs::remove_file(&rgba).unwrap();

    let empty = root.join("c_empty");
    std::fs::create_dir(&empty).unwrap();
    write(&empty, ".keep", b"hidden, so the folder is still empty");
    assert_names(&open(), &empty, &["holds no image file"]);
    std::fs::remove_dir_all(&empty).unwrap();
    assert!(ImageFolder::open(&root, [3, 2, 3]).is_ok());

    let bare = dir.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    let e = ImageFolder::open(&bare, [3, 2, 3]).unwrap_err();
    assert_names(&e, &bare, &["no class folder"]);
    let missing = dir.path().join("missing");
    let e = ImageFolder::open(&missing, [3, 2, 3]).unwrap_err();
    assert_names(&e, &missing, &["cannot list the folder"]);
    assert!(ImageFolder::open(&root, [3, 0, 3]).is_err());
}

/// Every truncation and many single-byte changes of good files are an `Ok` or an error,
/// never a panic (the header parsers included).
#[test]
fn mangled_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let y = write(d, "y.npy", &npy("<i8", &[2], &le_i64(&[0, 1])));
    let good = npy("<f4", &[2, 2, 2, 3], &le_f32(&values()));
    let classes = TargetKind::Classes { num_classes: 2 };
    let try_npy = |bytes: &[u8]| {
        let x = write(d, "x.npy", bytes);
        let _ = Dataset::from_npy(&x, &y, classes);
        let _ = Dataset::from_npy(&y, &x, TargetKind::Values);
    };
    for len in 0..good.len() {
        try_npy(&good[..len]);
    }
    let replacements = [
        b'(', b')', b'9', b'0', b'-', b',', b'\'', b'{', b'f', b'U', 0xff, b' ',
    ];
    for at in 0..130.min(good.len()) {
        for &r in &replacements {
            let mut bad = good.clone();
            bad[at] = r;
            try_npy(&bad);
        }
    }
    let st = safetensors_file(&[
        ("x", Dtype::U8, vec![2, 1, 2, 2], vec![1; 8]),
        ("y", Dtype::I64, vec![2], le_i64(&[0, 1])),
    ]);
    let try_st = |bytes: &[u8]| {
        let p = write(d, "s.safetensors", bytes);
        let _ = Dataset::from_safetensors(&p, "x", "y", classes);
    };
    for len in 0..st.len() {
        try_st(&st[..len]);
    }
    for at in 0..st.len() {
        for &r in &replacements {
            let mut bad = st.clone();
            bad[at] = r;
            try_st(&bad);
        }
    }
}

/// Truncated and changed PNG and JPEG files in an image folder are errors naming the file
/// (or, where a change leaves the image valid, read), never panics.
#[test]
fn mangled_images_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("set");
    let img = root.join("a/img");
    for format in [ImageFormat::Png, ImageFormat::Jpeg] {
        image(&img, 3, 2, 3, &rgb(1), format);
        let good = std::fs::read(&img).unwrap();
        let check = |bytes: &[u8]| {
            std::fs::write(&img, bytes).unwrap();
            if let Err(e) = ImageFolder::open(&root, [3, 2, 3]) {
                assert_names(&e, &img, &[]);
            }
        };
        for len in 0..good.len() {
            check(&good[..len]);
        }
        for at in (0..good.len()).step_by(3) {
            for r in [0u8, 0xff, 0x7f, 0x01] {
                let mut bad = good.clone();
                bad[at] = r;
                check(&bad);
            }
        }
    }
}

/// `Normalize::from_dataset`: per-channel mean and population std of `byte / 255` (u8) or of
/// the values (f32), checked against sums done here; a constant channel gets std 1.
#[test]
fn normalize_from_dataset_is_the_per_channel_mean_and_std() {
    use cubenet_runtime::data::{Dataset, Normalize, Samples, Targets};
    // 2 samples of 2 channels x 1 x 2: channel 0 = bytes {0, 255, 51, 102}, channel 1 = 7s.
    let bytes = vec![0u8, 255, 7, 7, 51, 102, 7, 7];
    let ds = Dataset::from_raw(bytes, vec![0, 1], [2, 1, 2], 2).unwrap();
    let n = Normalize::from_dataset(&ds).unwrap();
    let c0 = [0.0, 1.0, 0.2, 0.4];
    let mean = c0.iter().sum::<f64>() / 4.0;
    let sd = (c0.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 4.0).sqrt();
    assert!((n.mean[0] as f64 - mean).abs() < 1e-6, "{n:?}");
    assert!((n.std[0] as f64 - sd).abs() < 1e-6, "{n:?}");
    assert!((n.mean[1] as f64 - 7.0 / 255.0).abs() < 1e-6, "{n:?}");
    assert_eq!(n.std[1], 1.0, "a constant channel");
    let f = Dataset::new(
        Samples::F32(vec![1.0, 3.0, -2.0, 6.0]),
        [1, 2, 2],
        Targets::Classes {
            labels: vec![0],
            num_classes: 1,
        },
    )
    .unwrap();
    let n = Normalize::from_dataset(&f).unwrap();
    assert_eq!(n.mean, vec![2.0]);
    assert!((n.std[0] - 8.5f32.sqrt()).abs() < 1e-6, "{n:?}");
    assert!(Normalize::from_dataset(&ds.head(0)).is_err());
}
