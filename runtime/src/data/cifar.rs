//! CIFAR-10 binary-version reader.
//!
//! Each record is 1 label byte followed by 3072 pixel bytes: the red plane, then green, then
//! blue, each 32x32 row-major, i.e. already CHW.

use super::DataError;
use std::path::Path;

/// Image side of CIFAR-10 (32).
pub const CIFAR_SIDE: usize = 32;
/// Channels of CIFAR-10 images (3: R, G, B).
pub const CIFAR_CHANNELS: usize = 3;
/// Pixel bytes per CIFAR-10 image (3 * 32 * 32 = 3072).
pub const CIFAR_IMAGE_BYTES: usize = CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE;
/// Bytes per CIFAR-10 record (1 label + 3072 pixels = 3073).
pub const CIFAR_RECORD_BYTES: usize = 1 + CIFAR_IMAGE_BYTES;
/// Number of CIFAR-10 classes (10).
pub const CIFAR_NUM_CLASSES: usize = 10;
/// Training files of the CIFAR-10 binary version, in order.
pub const CIFAR_TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// Test file of the CIFAR-10 binary version.
pub const CIFAR_TEST_FILE: &str = "test_batch.bin";
/// Advice attached to a missing CIFAR-10 file.
pub const CIFAR_HINT: &str = ": the folder should be the extracted `cifar-10-batches-bin` from \
     the CIFAR-10 binary version, https://www.cs.toronto.edu/~kriz/cifar.html";

/// The records of one CIFAR-10 binary file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CifarBatch {
    /// Pixel bytes, `labels.len() * 3072`, each image CHW (3 x 32 x 32), 0..=255.
    pub images: Vec<u8>,
    /// One label per record, each `< 10`.
    pub labels: Vec<u8>,
}

/// Reads one CIFAR-10 binary file (e.g. `data_batch_1.bin`).
///
/// # Errors
/// [`DataError`] naming `path`: [`DataError::Io`] if it cannot be read, [`DataError::Empty`]
/// for an empty file, [`DataError::CifarSize`] (with the size) if the size is not a multiple
/// of 3073, [`DataError::LabelOutOfRange`] (with the record index) for a label `>= 10`.
pub fn read_cifar_batch(path: impl AsRef<Path>) -> Result<CifarBatch, DataError> {
    let path = path.as_ref();
    let io_err = |action| {
        move |source| DataError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    // Check the size before reading so a wrong file is reported without loading it.
    let size = std::fs::metadata(path)
        .map_err(io_err("read the file's metadata"))?
        .len();
    check_size(path, size)?;
    let bytes = std::fs::read(path).map_err(io_err("read the file"))?;
    check_size(path, bytes.len() as u64)?; // the file may have changed in between
    let n = bytes.len() / CIFAR_RECORD_BYTES;
    let mut images = Vec::with_capacity(n * CIFAR_IMAGE_BYTES);
    let mut labels = Vec::with_capacity(n);
    for (index, record) in bytes.chunks_exact(CIFAR_RECORD_BYTES).enumerate() {
        let label = record[0];
        if usize::from(label) >= CIFAR_NUM_CLASSES {
            return Err(DataError::LabelOutOfRange {
                path: path.to_path_buf(),
                index,
                label,
                num_classes: CIFAR_NUM_CLASSES,
            });
        }
        labels.push(label);
        images.extend_from_slice(&record[1..]);
    }
    Ok(CifarBatch { images, labels })
}

fn check_size(path: &Path, size: u64) -> Result<(), DataError> {
    if size == 0 {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
            gzip: false,
        });
    }
    if !size.is_multiple_of(CIFAR_RECORD_BYTES as u64) {
        return Err(DataError::CifarSize {
            path: path.to_path_buf(),
            size,
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Record i has label (3i+1) mod 10 and byte (i,c,h,w) = (50i + 80c + 3h + w) mod 256.
    pub(crate) fn fixture(n: usize) -> Vec<u8> {
        let mut b = Vec::new();
        for i in 0..n {
            b.push(((3 * i + 1) % 10) as u8);
            for c in 0..3 {
                for h in 0..32 {
                    for w in 0..32 {
                        b.push(((50 * i + 80 * c + 3 * h + w) % 256) as u8);
                    }
                }
            }
        }
        b
    }

    #[test]
    fn reads_fixture() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data_batch_1.bin");
        std::fs::write(&p, fixture(3)).unwrap();
        let b = read_cifar_batch(&p).unwrap();
        assert_eq!(b.labels, vec![1, 4, 7]);
        let x = |i: usize, c: usize, h: usize, w: usize| {
            f32::from(b.images[((i * 3 + c) * 32 + h) * 32 + w]) / 255.0
        };
        assert!((x(0, 1, 5, 7) - 0.4).abs() < 1e-6);
        assert!((x(1, 0, 0, 0) - 0.196078).abs() < 1e-6);
        assert!((x(1, 2, 10, 20) - 0.0156863).abs() < 1e-6);
        assert!((x(2, 2, 31, 31) - 0.501961).abs() < 1e-6);
    }

    #[test]
    fn bad_size_label_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.bin");
        std::fs::write(&p, &fixture(2)[..3073 + 100]).unwrap();
        let e = read_cifar_batch(&p).unwrap_err();
        assert!(matches!(e, DataError::CifarSize { size: 3173, .. }), "{e}");
        assert!(e.to_string().contains("3173") && e.to_string().contains("b.bin"));

        let mut f = fixture(3);
        f[2 * 3073] = 10;
        std::fs::write(&p, &f).unwrap();
        let e = read_cifar_batch(&p).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::LabelOutOfRange {
                    index: 2,
                    label: 10,
                    ..
                }
            ),
            "{e}"
        );

        std::fs::write(&p, []).unwrap();
        assert!(matches!(read_cifar_batch(&p), Err(DataError::Empty { .. })));
        let e = read_cifar_batch(dir.path().join("gone.bin")).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }) && e.to_string().contains("gone.bin"));
    }
}
