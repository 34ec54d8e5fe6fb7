//! The data side of the parity cases through the public API `cubenet::data` (the
//! readers' own unit tests in runtime/src/data go through more malformed files):
//! - P5: the CIFAR-10 binary layout (label byte, then the R, G and B planes, 32x32 row-major;
//!   files concatenated in order), per-channel normalisation of its batches, and its errors;
//! - P6: IDX values (byte / 255) from raw and gzip files, and its errors;
//! - P7: batch counts of the loader, and an evaluation that counts every sample, the short
//!   last batch included.
//!
//! Expected values are hand computations from the formats (cited at each test): the CIFAR-10
//! page https://www.cs.toronto.edu/~kriz/cifar.html ("the first 1024 bytes are the red channel
//! values, the next 1024 the green, and the final 1024 the blue"), Yann LeCun's MNIST page for
//! IDX, torchvision's `ToTensor` (byte / 255) and `Normalize` ((x - mean) / std).
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cubenet::data::{read_cifar_batch, read_idx_images, read_idx_labels, DataError};
use cubenet::prelude::*;

/// A temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p =
            std::env::temp_dir().join(format!("cubenet-parity-data-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// CIFAR-10 records `first .. first + n`: record i has label (3i + 1) mod 10 and pixel
/// (c, h, w) = (7i + 100c + 3h + w) mod 256, so every plane, row and record differs.
fn cifar_records(first: usize, n: usize) -> Vec<u8> {
    let mut b = Vec::new();
    for i in first..first + n {
        b.push(((3 * i + 1) % 10) as u8);
        for c in 0..3 {
            for h in 0..32 {
                for w in 0..32 {
                    b.push(((7 * i + 100 * c + 3 * h + w) % 256) as u8);
                }
            }
        }
    }
    b
}

fn cifar_pixel(i: usize, c: usize, h: usize, w: usize) -> u8 {
    ((7 * i + 100 * c + 3 * h + w) % 256) as u8
}

/// P5: layout. One record is 1 label byte + 3072 pixel bytes, the R plane, then G, then B,
/// each 32 x 32 row-major: so the images are CHW already. The training set is data_batch_1
/// .. data_batch_5 in that order; a batch is normalised per channel, torchvision's
/// `(byte / 255 - mean[c]) / std[c]`.
#[test]
fn p5_cifar_binary_layout_and_normalisation() {
    let dir = TempDir::new("cifar-layout");
    let b = read_cifar_batch(dir.write("one.bin", &cifar_records(0, 3))).unwrap();
    assert_eq!(b.labels, [1, 4, 7]);
    assert_eq!(b.images.len(), 3 * 3072);
    for (i, c, h, w) in [
        (0, 0, 0, 0),
        (0, 1, 0, 0),
        (0, 2, 31, 31),
        (1, 0, 5, 7),
        (2, 1, 31, 0),
        (2, 2, 0, 31),
    ] {
        assert_eq!(
            b.images[((i * 3 + c) * 32 + h) * 32 + w],
            cifar_pixel(i, c, h, w),
            "({i}, {c}, {h}, {w})"
        );
    }

    // Five training files of 1, 2, 1, 1, 2 records (in a `cifar-10-batches-bin` subfolder)
    // and a test file.
    let counts = [1, 2, 1, 1, 2];
    let mut first = 0;
    for (k, n) in counts.iter().enumerate() {
        dir.write(
            &format!("cifar-10-batches-bin/data_batch_{}.bin", k + 1),
            &cifar_records(first, *n),
        );
        first += n;
    }
    dir.write(
        "cifar-10-batches-bin/test_batch.bin",
        &cifar_records(100, 2),
    );
    let train = Dataset::cifar10(dir.path(), Split::Train).unwrap();
    assert_eq!(
        (train.len(), train.image_shape(), train.num_classes()),
        (7, [3, 32, 32], 10)
    );
    assert_eq!(
        train.labels(),
        (0..7)
            .map(|i| ((3 * i + 1) % 10) as u32)
            .collect::<Vec<_>>()
    );
    let test = Dataset::cifar10(&dir.path().join("cifar-10-batches-bin"), Split::Test).unwrap();
    assert_eq!(test.labels(), [1, 4]);
    assert_eq!(test.image(1)[3072 - 1], cifar_pixel(101, 2, 31, 31));

    // Normalised batches: the usual CIFAR-10 statistics, channel by channel.
    let (mean, std) = (
        vec![0.4914f32, 0.4822, 0.4465],
        vec![0.2470f32, 0.2435, 0.2616],
    );
    let loader = DataLoader::new(
        Arc::new(train),
        4,
        false,
        false,
        Normalize {
            mean: mean.clone(),
            std: std.clone(),
        },
        0,
    )
    .unwrap();
    let batches: Vec<_> = loader.epoch(0).collect();
    assert_eq!(batches.iter().map(|b| b.len).collect::<Vec<_>>(), [4, 3]);
    for batch in &batches {
        for (r, &i) in batch.indices.iter().enumerate() {
            assert_eq!(batch.labels[r], ((3 * i + 1) % 10) as u32);
            for c in 0..3 {
                for (h, w) in [(0, 0), (7, 19), (31, 31)] {
                    let got = batch.images[((r * 3 + c) * 32 + h) * 32 + w];
                    let want = (cifar_pixel(i, c, h, w) as f32 / 255.0 - mean[c]) / std[c];
                    assert_eq!(got, want, "sample {i} ({c}, {h}, {w})");
                }
            }
        }
    }
}

/// P5: errors name the file and what is wrong; nothing panics.
#[test]
fn p5_cifar_errors() {
    let dir = TempDir::new("cifar-errors");
    // A size that is not a whole number of 3073-byte records.
    let p = dir.write("short.bin", &cifar_records(0, 2)[..3073 + 100]);
    let e = read_cifar_batch(&p).unwrap_err();
    assert!(matches!(e, DataError::CifarSize { size: 3173, .. }), "{e}");
    let m = e.to_string();
    assert!(
        m.contains("short.bin") && m.contains("3173") && m.contains("3073"),
        "{m}"
    );
    // A label >= 10 names its record.
    let mut bytes = cifar_records(0, 3);
    bytes[2 * 3073] = 10;
    let e = read_cifar_batch(dir.write("label.bin", &bytes)).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::LabelOutOfRange {
                index: 2,
                label: 10,
                num_classes: 10,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("label.bin") && e.to_string().contains("index 2"),
        "{e}"
    );
    // Empty and missing files.
    let e = read_cifar_batch(dir.write("empty.bin", &[])).unwrap_err();
    assert!(
        matches!(e, DataError::Empty { .. }) && e.to_string().contains("empty.bin"),
        "{e}"
    );
    let e = read_cifar_batch(dir.path().join("gone.bin")).unwrap_err();
    assert!(
        matches!(e, DataError::Io { .. }) && e.to_string().contains("gone.bin"),
        "{e}"
    );
    // A training set without data_batch_3.bin names it, the folder and where to get the data.
    for k in [1, 2] {
        dir.write(&format!("set/data_batch_{k}.bin"), &cifar_records(0, 1));
    }
    let e = Dataset::cifar10(&dir.path().join("set"), Split::Train).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, DataError::MissingFile { .. }), "{m}");
    assert!(
        m.contains("data_batch_3.bin")
            && m.contains("set")
            && m.contains("https://www.cs.toronto.edu/~kriz/cifar.html"),
        "{m}"
    );
    // Sizes around the record size.
    for len in [1, 3072, 3074, 2 * 3073 - 1, 2 * 3073 + 1] {
        let p = dir.write("odd.bin", &vec![0; len]);
        assert!(
            matches!(read_cifar_batch(&p), Err(DataError::CifarSize { .. })),
            "{len} bytes"
        );
    }
}

/// The IDX fixture: 2 images of 2 x 3, labels 7 and 2.
const IDX_IMAGES: [u8; 28] = [
    0x00, 0x00, 0x08, 0x03, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, //
    0x00, 0x33, 0x66, 0x99, 0xcc, 0xff, 0xff, 0x00, 0x80, 0x01, 0x02, 0x03,
];
const IDX_LABELS: [u8; 10] = [0x00, 0x00, 0x08, 0x01, 0, 0, 0, 2, 0x07, 0x02];

/// CRC-32 (IEEE 802.3, the one gzip uses).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `bytes` as a gzip file (RFC 1952) holding one stored (uncompressed) deflate block.
fn gzip_stored(bytes: &[u8]) -> Vec<u8> {
    assert!(bytes.len() < 65536);
    let len = bytes.len() as u16;
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0x01];
    out.extend(len.to_le_bytes());
    out.extend((!len).to_le_bytes());
    out.extend(bytes);
    out.extend(crc32(bytes).to_le_bytes());
    out.extend((bytes.len() as u32).to_le_bytes());
    out
}

/// P6: the IDX fixture, raw and gzip-compressed: 2 images 2x3, labels [7, 2], values
/// byte / 255 = [0, 0.2, 0.4, 0.6, 0.8, 1, 1, 0, 0.501961, 0.00392157, 0.00784314, 0.0117647].
#[test]
fn p6_idx_values_raw_and_gzip() {
    let dir = TempDir::new("idx-values");
    let want = [
        0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 0.0, 0.501961, 0.00392157, 0.00784314, 0.0117647,
    ];
    for gz in [false, true] {
        let enc = |b: &[u8]| if gz { gzip_stored(b) } else { b.to_vec() };
        let sfx = if gz { ".gz" } else { "" };
        let ip = dir.write(&format!("t10k-images-idx3-ubyte{sfx}"), &enc(&IDX_IMAGES));
        dir.write(&format!("t10k-labels-idx1-ubyte{sfx}"), &enc(&IDX_LABELS));
        let images = read_idx_images(&ip).unwrap();
        assert_eq!((images.count, images.rows, images.cols), (2, 2, 3));
        assert_eq!(images.data, IDX_IMAGES[16..]);
        let ds = Dataset::mnist(dir.path(), Split::Test).unwrap();
        assert_eq!(
            (ds.len(), ds.image_shape(), ds.labels()),
            (2, [1, 2, 3], &[7u32, 2][..])
        );
        let loader =
            DataLoader::new(Arc::new(ds), 2, false, false, Normalize::identity(1), 0).unwrap();
        let batch = loader.epoch(0).next().unwrap();
        assert_eq!(batch.labels, [7, 2]);
        common::assert_close(&format!("gzip {gz}"), &batch.images, &want, 1e-6);
        for (g, b) in batch.images.iter().zip(&IDX_IMAGES[16..]) {
            assert_eq!(*g, *b as f32 / 255.0);
        }
        std::fs::remove_file(ip).unwrap();
        std::fs::remove_file(dir.path().join(format!("t10k-labels-idx1-ubyte{sfx}"))).unwrap();
    }
}

/// P6: errors name the file and what is wrong (magic, data type, kind, sizes, labels,
/// files disagreeing, missing files); nothing panics and a huge header claim allocates
/// nothing.
#[test]
fn p6_idx_errors() {
    let dir = TempDir::new("idx-errors");
    let img = |bytes: &[u8], name: &str| read_idx_images(dir.write(name, bytes)).unwrap_err();
    let e = img(&[], "empty");
    assert!(
        matches!(e, DataError::Empty { gzip: false, .. }) && e.to_string().contains("empty"),
        "{e}"
    );
    let e = img(&IDX_IMAGES[..6], "truncated");
    assert!(
        matches!(
            e,
            DataError::TruncatedHeader {
                len: 6,
                need: 16,
                ..
            }
        ),
        "{e}"
    );
    let mut bad = IDX_IMAGES;
    bad[0] = 1;
    let e = img(&bad, "magic");
    assert!(
        matches!(
            e,
            DataError::BadMagic {
                magic: 0x0100_0803,
                ..
            }
        ) && e.to_string().contains("0x00000803"),
        "{e}"
    );
    let mut float = IDX_IMAGES;
    float[2] = 0x0D;
    let e = img(&float, "float");
    assert!(
        matches!(e, DataError::UnsupportedDataType { code: 0x0D, .. }),
        "{e}"
    );
    let e = img(&IDX_LABELS, "labels-as-images");
    assert!(
        matches!(
            e,
            DataError::WrongKind {
                found: "labels",
                expected: "images",
                ..
            }
        ),
        "{e}"
    );
    let e = img(&IDX_IMAGES[..27], "short-payload");
    assert!(
        matches!(
            e,
            DataError::PayloadSize {
                expected: 12,
                actual: 11,
                ..
            }
        ) && e.to_string().contains("short-payload"),
        "{e}"
    );
    let e = img(&[&IDX_IMAGES[..], &[9]].concat(), "long-payload");
    assert!(
        matches!(
            e,
            DataError::PayloadSize {
                expected: 12,
                actual: 13,
                ..
            }
        ),
        "{e}"
    );
    let mut huge = IDX_IMAGES;
    huge[4..16].copy_from_slice(&[0xff; 12]);
    assert!(matches!(
        img(&huge, "huge"),
        DataError::TooLarge { .. } | DataError::PayloadSize { .. }
    ));
    let mut gz = gzip_stored(&IDX_IMAGES);
    let n = gz.len();
    gz[n - 8] ^= 1; // wrong CRC
    let e = img(&gz, "crc.gz");
    assert!(
        matches!(e, DataError::Io { .. }) && e.to_string().contains("crc.gz"),
        "{e}"
    );

    let mut labels = IDX_LABELS;
    labels[9] = 10;
    let e = read_idx_labels(dir.write("label10", &labels)).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::LabelOutOfRange {
                index: 1,
                label: 10,
                ..
            }
        ) && e.to_string().contains("index 1"),
        "{e}"
    );
    let e = read_idx_labels(dir.write("images-as-labels", &IDX_IMAGES)).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::WrongKind {
                found: "images",
                expected: "labels",
                ..
            }
        ),
        "{e}"
    );

    // A labels file with 3 labels next to 2 images; then a missing split.
    let set = TempDir::new("idx-mismatch");
    set.write("train-images-idx3-ubyte", &IDX_IMAGES);
    set.write(
        "train-labels-idx1-ubyte",
        &[0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1],
    );
    let e = Dataset::mnist(set.path(), Split::Train).unwrap_err();
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
    let e = Dataset::mnist(set.path(), Split::Test).unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("t10k-images-idx3-ubyte, t10k-images-idx3-ubyte.gz"),
        "{m}"
    );
}

fn tiny(n: usize) -> Arc<Dataset> {
    Arc::new(
        Dataset::from_raw(
            (0..n).map(|i| (i % 256) as u8).collect(),
            (0..n).map(|i| (i % 2) as u8).collect(),
            [1, 1, 1],
            2,
        )
        .unwrap(),
    )
}

fn lens(l: &DataLoader) -> Vec<usize> {
    l.epoch(0).map(|b| b.len).collect()
}

/// P7: batch sizes [4, 4, 2] for 10 samples of batch 4, [4, 4] with drop_last; 60000 samples
/// of batch 128: 468 full batches and one of 96; 10000: 78 and one of 16 (none with
/// drop_last); an epoch with 0 batches (N = 0, or drop_last with N < batch) is an error "0
/// batches per epoch" (the issue; N mod 128 by hand).
#[test]
fn p7_loader_batch_counts() {
    let new = |n, bs, shuffle, drop| {
        DataLoader::new(tiny(n), bs, shuffle, drop, Normalize::identity(1), 9)
    };
    assert_eq!(lens(&new(10, 4, true, false).unwrap()), [4, 4, 2]);
    assert_eq!(lens(&new(10, 4, true, true).unwrap()), [4, 4]);
    for (n, full, last) in [(60000, 468, 96), (10000, 78, 16)] {
        let l = new(n, 128, true, false).unwrap();
        let got = lens(&l);
        assert_eq!(
            (l.num_batches(), got.len(), got[full]),
            (full + 1, full + 1, last)
        );
        assert!(got[..full].iter().all(|&b| b == 128));
        let mut seen: Vec<usize> = l.epoch(3).flat_map(|b| b.indices).collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            (0..n).collect::<Vec<_>>(),
            "every sample once per epoch"
        );
        let d = new(n, 128, true, true).unwrap();
        assert_eq!((d.num_batches(), lens(&d).len()), (full, full));
    }
    for (n, drop) in [(0, false), (0, true), (3, true)] {
        let m = new(n, 4, false, drop).unwrap_err().to_string();
        assert!(
            m.contains("0 batches per epoch") && m.contains(&format!("{n} samples")),
            "{m}"
        );
    }
    assert!(new(3, 0, false, false)
        .unwrap_err()
        .to_string()
        .contains("batch_size"));
}

#[network(input = [1, 1, 1])]
pub struct Sign {
    flatten: Flatten,
    fc: Linear<1, 2>,
}

/// P7: evaluating 10000 samples in batches of 128 counts all 10000, the last 16 included.
/// The network's logits are (-x, x) with x = byte / 255 - 0.5, so it predicts class 1 iff
/// byte >= 128; the expected accuracy and mean loss are computed here (hand formula, f64) and
/// differ from those of the first 9984 samples.
#[test]
fn p7_evaluation_counts_every_sample() {
    let n = 10000;
    let bytes: Vec<u8> = (0..n).map(|i| ((i * 37) % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| u8::from(i % 7 < 3 || i >= 9984)).collect();
    let ds = Arc::new(Dataset::from_raw(bytes.clone(), labels.clone(), [1, 1, 1], 2).unwrap());
    let loader = DataLoader::new(
        ds,
        128,
        true,
        false,
        Normalize {
            mean: vec![0.5],
            std: vec![1.0],
        },
        1,
    )
    .unwrap();
    let mut net = Sign::new(&common::device(), 128, 0).unwrap();
    net.load_state_dict(&[
        cubenet::NamedTensor {
            name: "fc.weight".into(),
            shape: vec![2, 1],
            data: vec![-1.0, 1.0],
        },
        cubenet::NamedTensor {
            name: "fc.bias".into(),
            shape: vec![2],
            data: vec![0.0, 0.0],
        },
    ])
    .unwrap();
    let expect = |m: usize| {
        let (mut correct, mut loss) = (0usize, 0f64);
        for i in 0..m {
            let x = (bytes[i] as f32 / 255.0 - 0.5) as f64;
            let z = [-x, x];
            let l = usize::from(labels[i]);
            correct += usize::from(usize::from(x > 0.0) == l);
            loss += (z[0].exp() + z[1].exp()).ln() - z[l];
        }
        (correct as f64 / m as f64, loss / m as f64)
    };
    let (acc, loss) = cubenet::trainer::evaluate(&mut net, &loader).unwrap();
    let (want_acc, want_loss) = expect(n);
    assert_eq!(acc, want_acc, "accuracy over all {n} samples");
    common::assert_close_f64("mean loss", &[loss as f32], &[want_loss], 1e-5);
    assert_ne!(
        expect(9984).0,
        want_acc,
        "the test cannot tell a dropped last batch"
    );
}
