//! Errors of the data layer.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while reading a dataset file, building a [`Dataset`]
/// or setting up a [`DataLoader`].
///
/// Errors about a file always name the file (`path`) and say what is wrong with it,
/// with the numbers involved. No byte sequence makes the readers panic.
///
/// [`Dataset`]: super::Dataset
/// [`DataLoader`]: super::DataLoader
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read (or its gzip stream is corrupt).
    #[error("{path}: cannot {action}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What was being done, e.g. "open the file" or "decompress the gzip stream".
        action: &'static str,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// The file (after gzip decompression, if it was compressed) holds no bytes at all.
    #[error("{path}: the file is empty{}", if *.gzip { " after gzip decompression" } else { "" })]
    Empty {
        /// The file concerned.
        path: PathBuf,
        /// Whether the file was gzip-compressed.
        gzip: bool,
    },
    /// The file ends inside the IDX header.
    #[error(
        "{path}: truncated IDX header: the file has {len} bytes, the {kind} header needs {need}"
    )]
    TruncatedHeader {
        /// The file concerned.
        path: PathBuf,
        /// Bytes present.
        len: usize,
        /// Bytes the header needs.
        need: usize,
        /// "images" or "labels".
        kind: &'static str,
    },
    /// The first four bytes are not an IDX magic number.
    #[error("{path}: not an IDX file: magic number 0x{magic:08X} (expected 0x{expected:08X} for IDX {kind})")]
    BadMagic {
        /// The file concerned.
        path: PathBuf,
        /// The magic number found.
        magic: u32,
        /// The magic number wanted.
        expected: u32,
        /// "images" or "labels".
        kind: &'static str,
    },
    /// The IDX data-type byte is valid IDX but not unsigned bytes (0x08).
    #[error(
        "{path}: unsupported IDX data type 0x{code:02X} (only 0x08, unsigned byte, is supported)"
    )]
    UnsupportedDataType {
        /// The file concerned.
        path: PathBuf,
        /// The data-type byte (third byte of the magic number).
        code: u8,
    },
    /// An IDX labels file was given where images are due, or the reverse.
    #[error("{path}: this is an IDX {found} file (magic 0x{magic:08X}), but an IDX {expected} file (magic 0x{expected_magic:08X}) was expected")]
    WrongKind {
        /// The file concerned.
        path: PathBuf,
        /// What the file is: "images" or "labels".
        found: &'static str,
        /// What was wanted.
        expected: &'static str,
        /// Magic number found.
        magic: u32,
        /// Magic number wanted.
        expected_magic: u32,
    },
    /// The header's dimensions multiply to more bytes than can be addressed.
    #[error("{path}: IDX header dimensions {dims:?} describe more bytes than can be held")]
    TooLarge {
        /// The file concerned.
        path: PathBuf,
        /// The dimensions read from the header.
        dims: Vec<u32>,
    },
    /// The data after the header is shorter or longer than the header says.
    #[error("{path}: payload has {actual} bytes, but the header ({dims:?}) says {expected}")]
    PayloadSize {
        /// The file concerned.
        path: PathBuf,
        /// The dimensions read from the header.
        dims: Vec<u32>,
        /// Bytes the header asks for.
        expected: u64,
        /// Bytes present after the header (decompressed).
        actual: u64,
    },
    /// A label is not below the number of classes.
    #[error("{path}: label {label} at index {index} is out of range (must be < {num_classes})")]
    LabelOutOfRange {
        /// The file concerned (empty for in-memory data).
        path: PathBuf,
        /// Index of the sample (record) holding the label.
        index: usize,
        /// The offending label.
        label: u8,
        /// Number of classes.
        num_classes: usize,
    },
    /// Images and labels files disagree on the number of samples.
    #[error("{images_path} holds {images} images but {labels_path} holds {labels} labels")]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// The labels file.
        labels_path: PathBuf,
        /// Number of images.
        images: usize,
        /// Number of labels.
        labels: usize,
    },
    /// A dataset file could not be found.
    #[error("{dir}: no {what} file found (looked for {}){hint}", .searched.join(", "))]
    MissingFile {
        /// The folder searched.
        dir: PathBuf,
        /// Which file was wanted, e.g. "train images".
        what: String,
        /// The file names tried, in order.
        searched: Vec<String>,
        /// Extra advice appended to the message (may be empty).
        hint: &'static str,
    },
    /// A CIFAR-10 binary file whose size is not a whole number of records.
    #[error("{path}: size {size} bytes is not a multiple of the CIFAR-10 record size 3073 (1 label + 3072 pixels)")]
    CifarSize {
        /// The file concerned.
        path: PathBuf,
        /// The file size in bytes.
        size: u64,
    },
    /// A `.npy`, safetensors or image file (or an image-folder entry) that cannot be used:
    /// the message says what is wrong and what was expected.
    #[error("{path}: {message}")]
    Malformed {
        /// The file or folder concerned.
        path: PathBuf,
        /// What is wrong, with the numbers involved.
        message: String,
    },
    /// In-memory data passed to [`Dataset::from_raw`](super::Dataset::from_raw),
    /// [`Dataset::new`](super::Dataset::new) and its kin is inconsistent.
    #[error("invalid raw dataset: {0}")]
    InvalidRaw(String),
    /// A [`Normalize`](super::Normalize) does not fit the data.
    #[error("invalid normalisation: {0}")]
    InvalidNormalize(String),
    /// The loader settings yield no batch at all.
    #[error("invalid data loader: {0}")]
    InvalidLoader(String),
}
