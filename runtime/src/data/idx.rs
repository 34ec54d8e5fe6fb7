//! IDX reader (MNIST, Fashion-MNIST), raw or gzip-compressed.
//!
//! Format: big-endian header `00 00 <type> <ndims>`, then `ndims` u32 sizes, then the data.
//! Images: magic 0x00000803 (u8, 3 dims: count, rows, cols); labels: 0x00000801 (u8, 1 dim).

use super::DataError;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

/// Magic number of an IDX images file (unsigned bytes, 3 dimensions).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX labels file (unsigned bytes, 1 dimension).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;
/// Labels read by [`read_idx_labels`] must be below this (MNIST and Fashion-MNIST have 10 classes).
pub const IDX_NUM_CLASSES: usize = 10;

/// Images read from an IDX file: `count` images of `rows x cols` bytes, row-major, contiguous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Pixel bytes, `count * rows * cols` of them, image after image (0 = black, 255 = white).
    pub data: Vec<u8>,
    /// Number of images.
    pub count: usize,
    /// Rows (height) of each image.
    pub rows: usize,
    /// Columns (width) of each image.
    pub cols: usize,
}

/// Reads an IDX images file (magic 0x00000803), raw or gzip (detected by the bytes 1f 8b).
///
/// # Errors
/// [`DataError`] naming `path` when the file cannot be read, is empty, has a truncated
/// header, a wrong magic number (including a labels file), an unsupported data type, or a
/// payload that is not exactly `count * rows * cols` bytes.
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<IdxImages, DataError> {
    let (dims, data) = read_idx(path.as_ref(), Kind::Images)?;
    let [count, rows, cols] = [dims[0], dims[1], dims[2]].map(|d| d as usize);
    Ok(IdxImages {
        data,
        count,
        rows,
        cols,
    })
}

/// Reads an IDX labels file (magic 0x00000801), raw or gzip, one byte per sample.
///
/// # Errors
/// As [`read_idx_images`], plus [`DataError::LabelOutOfRange`] (naming the index) for a label
/// `>= 10`.
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<u8>, DataError> {
    let path = path.as_ref();
    let (_, data) = read_idx(path, Kind::Labels)?;
    if let Some(index) = data.iter().position(|&l| usize::from(l) >= IDX_NUM_CLASSES) {
        return Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            label: data[index],
            num_classes: IDX_NUM_CLASSES,
        });
    }
    Ok(data)
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Images => "images",
            Kind::Labels => "labels",
        }
    }
    fn magic(self) -> u32 {
        match self {
            Kind::Images => IDX_IMAGES_MAGIC,
            Kind::Labels => IDX_LABELS_MAGIC,
        }
    }
    fn ndims(self) -> u8 {
        match self {
            Kind::Images => 3,
            Kind::Labels => 1,
        }
    }
}

/// Reads until `buf` is full or the stream ends; returns the number of bytes read.
fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Opens `path`, returning a reader over its (decompressed) bytes and whether it was gzip.
fn open(path: &Path) -> Result<(Box<dyn Read>, bool, u64), DataError> {
    let io_err = |action| {
        move |source| DataError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let mut file = File::open(path).map_err(io_err("open the file"))?;
    let size = file
        .metadata()
        .map_err(io_err("read the file's metadata"))?
        .len();
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut file, &mut magic).map_err(io_err("read the file"))?;
    let gzip = n == 2 && magic == [0x1f, 0x8b];
    // Put the two bytes back in front of the rest of the file.
    let rest = io::Cursor::new(magic[..n].to_vec()).chain(BufReader::new(file));
    if gzip {
        Ok((Box::new(MultiGzDecoder::new(rest)), true, size))
    } else {
        Ok((Box::new(rest), false, size))
    }
}

/// Reads and validates an IDX file of the given kind; returns its dimensions and payload.
fn read_idx(path: &Path, kind: Kind) -> Result<(Vec<u32>, Vec<u8>), DataError> {
    let p = || path.to_path_buf();
    let (mut r, gzip, file_size) = open(path)?;
    let action = if gzip {
        "decompress the gzip stream"
    } else {
        "read the file"
    };
    let io_err = |source| DataError::Io {
        path: p(),
        action,
        source,
    };

    let need = 4 + 4 * usize::from(kind.ndims());
    let mut header = vec![0u8; need];
    let got = read_up_to(&mut r, &mut header[..4]).map_err(io_err)?;
    if got == 0 {
        return Err(DataError::Empty { path: p(), gzip });
    }
    let truncated = |len| DataError::TruncatedHeader {
        path: p(),
        len,
        need,
        kind: kind.name(),
    };
    if got < 4 {
        return Err(truncated(got));
    }
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    check_magic(path, kind, magic)?;
    let got = 4 + read_up_to(&mut r, &mut header[4..]).map_err(io_err)?;
    if got < need {
        return Err(truncated(got));
    }
    let dims: Vec<u32> = header[4..]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let expected = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)))
        .filter(|&e| usize::try_from(e).is_ok())
        .ok_or_else(|| DataError::TooLarge {
            path: p(),
            dims: dims.clone(),
        })?;

    // Never trust the header for the allocation: grow with the bytes actually present.
    let cap = if gzip {
        expected.min(1 << 26)
    } else {
        expected.min(file_size)
    };
    let mut data = Vec::with_capacity(cap as usize);
    (&mut r)
        .take(expected)
        .read_to_end(&mut data)
        .map_err(io_err)?;
    let extra = io::copy(&mut r, &mut io::sink()).map_err(io_err)?;
    let actual = data.len() as u64 + extra;
    if actual != expected {
        return Err(DataError::PayloadSize {
            path: p(),
            dims,
            expected,
            actual,
        });
    }
    Ok((dims, data))
}

fn check_magic(path: &Path, kind: Kind, magic: u32) -> Result<(), DataError> {
    let [z0, z1, code, ndims] = magic.to_be_bytes();
    let bad = || DataError::BadMagic {
        path: path.to_path_buf(),
        magic,
        expected: kind.magic(),
        kind: kind.name(),
    };
    if z0 != 0 || z1 != 0 {
        return Err(bad());
    }
    if ndims == kind.ndims() && code != 0x08 {
        // A valid IDX type code other than unsigned byte, or an unknown one.
        return Err(DataError::UnsupportedDataType {
            path: path.to_path_buf(),
            code,
        });
    }
    let other = if kind == Kind::Images {
        Kind::Labels
    } else {
        Kind::Images
    };
    if magic == other.magic() {
        return Err(DataError::WrongKind {
            path: PathBuf::from(path),
            found: other.name(),
            expected: kind.name(),
            magic,
            expected_magic: kind.magic(),
        });
    }
    if magic != kind.magic() {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    /// The fixture: 2 images of 2x3.
    pub(crate) const IMAGES: [u8; 28] = [
        0x00, 0x00, 0x08, 0x03, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, //
        0x00, 0x33, 0x66, 0x99, 0xcc, 0xff, 0xff, 0x00, 0x80, 0x01, 0x02, 0x03,
    ];
    /// The fixture: labels 7, 2.
    pub(crate) const LABELS: [u8; 10] = [0x00, 0x00, 0x08, 0x01, 0, 0, 0, 2, 0x07, 0x02];

    pub(crate) fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    pub(crate) fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn msg(e: &DataError) -> String {
        e.to_string()
    }

    #[test]
    fn reads_fixture_raw_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        for (suffix, img, lab) in [
            ("", IMAGES.to_vec(), LABELS.to_vec()),
            (".gz", gz(&IMAGES), gz(&LABELS)),
        ] {
            let ip = write(dir.path(), &format!("img{suffix}"), &img);
            let lp = write(dir.path(), &format!("lab{suffix}"), &lab);
            let images = read_idx_images(&ip).unwrap();
            assert_eq!((images.count, images.rows, images.cols), (2, 2, 3));
            assert_eq!(images.data, IMAGES[16..]);
            assert_eq!(read_idx_labels(&lp).unwrap(), vec![7, 2]);
        }
    }

    #[test]
    fn empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "empty", &[]);
        let e = read_idx_images(&p).unwrap_err();
        assert!(matches!(e, DataError::Empty { gzip: false, .. }), "{e}");
        assert!(msg(&e).contains("empty") && msg(&e).contains(&*p.to_string_lossy()));
        let p = write(dir.path(), "empty.gz", &gz(&[]));
        let e = read_idx_labels(&p).unwrap_err();
        assert!(matches!(e, DataError::Empty { gzip: true, .. }), "{e}");
    }

    #[test]
    fn truncated_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "short", &IMAGES[..15]);
        let e = read_idx_images(&p).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::TruncatedHeader {
                    len: 15,
                    need: 16,
                    ..
                }
            ),
            "{e}"
        );
        assert!(msg(&e).contains("15") && msg(&e).contains("16") && msg(&e).contains("short"));
        let p = write(dir.path(), "short2", &IMAGES[..3]);
        let e = read_idx_images(&p).unwrap_err();
        assert!(
            matches!(e, DataError::TruncatedHeader { len: 3, .. }),
            "{e}"
        );
        let p = write(dir.path(), "shortlab", &LABELS[..7]);
        let e = read_idx_labels(&p).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::TruncatedHeader {
                    len: 7,
                    need: 8,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn payload_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "short.gz", &gz(&IMAGES[..27]));
        let e = read_idx_images(&p).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::PayloadSize {
                    expected: 12,
                    actual: 11,
                    ..
                }
            ),
            "{e}"
        );
        assert!(msg(&e).contains("11") && msg(&e).contains("12") && msg(&e).contains("short.gz"));
        let mut long = LABELS.to_vec();
        long.extend([1, 2, 3]);
        let p = write(dir.path(), "long", &long);
        let e = read_idx_labels(&p).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::PayloadSize {
                    expected: 2,
                    actual: 5,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn huge_header_claim_is_an_error_not_an_allocation() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = IMAGES[..16].to_vec();
        h[4..16].copy_from_slice(&[0xff; 12]);
        h.extend([1, 2, 3]);
        let e = read_idx_images(write(dir.path(), "huge", &h)).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::PayloadSize { actual: 3, .. } | DataError::TooLarge { .. }
            ),
            "{e}"
        );
        let mut h = LABELS[..8].to_vec();
        h[4..8].copy_from_slice(&[0xff; 4]);
        let e = read_idx_labels(write(dir.path(), "huge_lab.gz", &gz(&h))).unwrap_err();
        assert!(matches!(
            e,
            DataError::PayloadSize {
                actual: 0,
                expected: 0xffff_ffff,
                ..
            }
        ));
    }

    #[test]
    fn unsupported_type_and_wrong_kind_and_bad_magic() {
        let dir = tempfile::tempdir().unwrap();
        let mut f32s = IMAGES.to_vec();
        f32s[2] = 0x0D;
        let e = read_idx_images(write(dir.path(), "f32", &f32s)).unwrap_err();
        assert!(
            matches!(e, DataError::UnsupportedDataType { code: 0x0D, .. }),
            "{e}"
        );
        assert!(msg(&e).contains("0x0D") && msg(&e).contains("f32"));

        let e = read_idx_images(write(dir.path(), "labels", &LABELS)).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::WrongKind {
                    found: "labels",
                    ..
                }
            ),
            "{e}"
        );
        assert!(msg(&e).contains("0x00000801") && msg(&e).contains("0x00000803"));
        let e = read_idx_labels(write(dir.path(), "images", &IMAGES)).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::WrongKind {
                    found: "images",
                    ..
                }
            ),
            "{e}"
        );

        let e = read_idx_images(write(dir.path(), "png", b"\x89PNG\r\n\x1a\n....")).unwrap_err();
        assert!(matches!(e, DataError::BadMagic { .. }), "{e}");
    }

    #[test]
    fn label_out_of_range_names_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = LABELS.to_vec();
        l[9] = 10;
        let e = read_idx_labels(write(dir.path(), "lab", &l)).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::LabelOutOfRange {
                    index: 1,
                    label: 10,
                    ..
                }
            ),
            "{e}"
        );
        assert!(msg(&e).contains("index 1"));
    }

    #[test]
    fn corrupt_gzip_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let g = gz(&IMAGES);
        let e = read_idx_images(write(dir.path(), "cut.gz", &g[..g.len() - 12])).unwrap_err();
        assert!(
            matches!(e, DataError::Io { .. } | DataError::PayloadSize { .. }),
            "{e}"
        );
        let mut bad = g.clone();
        bad[12] ^= 0xff;
        bad[14] ^= 0x55;
        assert!(read_idx_images(write(dir.path(), "bad.gz", &bad)).is_err());
        let e = read_idx_images(dir.path().join("nope")).unwrap_err();
        assert!(
            matches!(e, DataError::Io { .. }) && msg(&e).contains("nope"),
            "{e}"
        );
    }

    /// Every prefix and many one-byte corruptions of the fixtures: errors, never panics.
    #[test]
    fn no_panics_on_mangled_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        for src in [IMAGES.to_vec(), LABELS.to_vec(), gz(&IMAGES), gz(&LABELS)] {
            for cut in 0..=src.len() {
                std::fs::write(&p, &src[..cut]).unwrap();
                let _ = read_idx_images(&p);
                let _ = read_idx_labels(&p);
            }
            for i in 0..src.len() {
                for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                    let mut b = src.clone();
                    b[i] = v;
                    std::fs::write(&p, &b).unwrap();
                    let _ = read_idx_images(&p);
                    let _ = read_idx_labels(&p);
                }
            }
        }
    }
}
