//! NumPy `.npy` files (format versions 1 to 3, as `numpy.save` writes them): the header is
//! parsed by the `npyz` crate, the data is decoded here from the raw bytes after it.

use super::array::{self, DType, RawArray};
use super::{DataError, Dataset, TargetKind};
use npyz::{Endianness, NpyHeader, Order, TypeChar};
use std::path::Path;

/// The six bytes every `.npy` file starts with.
const MAGIC: &[u8] = b"\x93NUMPY";

impl Dataset {
    /// Reads a dataset from two `.npy` files, as `numpy.save` writes them: `samples` holds a
    /// C-order u8 (`uint8`) or f32 (`float32`) array of shape `[N, C, H, W]`, or `[N, H, W]`
    /// for one channel; `targets` holds, for `TargetKind::Classes`, `N` integer class
    /// indices (u8, i8, u16, i16, u32, i32, u64 or i64, each checked to be in
    /// `0..num_classes`), for `TargetKind::Values` an f32 array of shape `[N, ...]`.
    /// Big- and little-endian files are read.
    ///
    /// ```no_run
    /// use cubenet_runtime::data::{Dataset, TargetKind};
    /// use std::path::Path;
    /// // np.save("x.npy", x.astype(np.float32)); np.save("y.npy", y)  # y: int64 class indices
    /// let train = Dataset::from_npy(
    ///     Path::new("x.npy"),
    ///     Path::new("y.npy"),
    ///     TargetKind::Classes { num_classes: 10 },
    /// )?;
    /// # Ok::<(), cubenet_runtime::data::DataError>(())
    /// ```
    ///
    /// # Errors
    /// Each names the file: [`DataError::Io`] if it cannot be read; [`DataError::Malformed`]
    /// if it is not a `.npy` file, its header is truncated or malformed, it is in Fortran
    /// order, its data is shorter or longer than the shape says (e.g. a truncated file), its
    /// dtype or number of dimensions does not fit its role, a value is not finite, or a label
    /// is out of range (with its index); [`DataError::CountMismatch`] naming both files if
    /// they hold different numbers of samples.
    pub fn from_npy(
        samples: &Path,
        targets: &Path,
        kind: TargetKind,
    ) -> Result<Dataset, DataError> {
        let sample_bytes = read(samples)?;
        let target_bytes = read(targets)?;
        let x = parse(samples, &sample_bytes)?;
        let y = parse(targets, &target_bytes)?;
        array::dataset(&x, &y, kind)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        action: "read the file",
        source,
    })
}

/// The header and data of one `.npy` file held in `bytes`.
fn parse<'a>(path: &'a Path, bytes: &'a [u8]) -> Result<RawArray<'a>, DataError> {
    let err = |message: String| DataError::Malformed {
        path: path.to_path_buf(),
        message,
    };
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(err(format!(
            "not a .npy file: it does not start with the magic bytes \\x93NUMPY ({} bytes long)",
            bytes.len()
        )));
    }
    // Preamble: magic, major and minor version, then the header length (u16 LE in version 1,
    // u32 LE in versions 2 and 3).
    let (len_bytes, major) = match bytes[6] {
        1 => (2, 1),
        2 | 3 => (4, bytes[6]),
        v => {
            return Err(err(format!(
                "unsupported .npy format version {v}.{}",
                bytes[7]
            )))
        }
    };
    let Some(len_field) = bytes.get(8..8 + len_bytes) else {
        return Err(err("truncated .npy header".into()));
    };
    let header_len = len_field
        .iter()
        .rev()
        .fold(0usize, |a, &b| (a << 8) | usize::from(b));
    let start = 8 + len_bytes;
    let Some(text) = bytes.get(start..start + header_len) else {
        return Err(err(format!(
            "truncated .npy header: it should be {header_len} bytes, the file has {} after the \
             preamble",
            bytes.len() - start
        )));
    };
    precheck(text).map_err(|m| err(format!("malformed .npy header (version {major}): {m}")))?;
    let header = NpyHeader::from_reader(&bytes[..start + header_len])
        .map_err(|e| err(format!("malformed .npy header: {e}")))?;
    if header.order() == Order::Fortran && header.shape().len() > 1 {
        return Err(err(
            "the array is stored in Fortran order; save a C-order array (np.ascontiguousarray)"
                .into(),
        ));
    }
    let (dtype, big_endian) = dtype(&header);
    Ok(RawArray {
        path,
        what: String::new(),
        dtype,
        big_endian,
        shape: header.shape().iter().map(|&d| d as usize).collect(),
        data: &bytes[start + header_len..],
    })
}

/// Element type and byte order of the array described by `h`.
fn dtype(h: &NpyHeader) -> (DType, bool) {
    let npyz::DType::Plain(ts) = h.dtype() else {
        return (
            DType::Other(format!("{} (a structured dtype)", h.dtype().descr())),
            false,
        );
    };
    let big = ts.endianness() == Endianness::Big;
    let t = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Uint, 1) => DType::U8,
        (TypeChar::Int, 1) => DType::I8,
        (TypeChar::Uint, 2) => DType::U16,
        (TypeChar::Int, 2) => DType::I16,
        (TypeChar::Uint, 4) => DType::U32,
        (TypeChar::Int, 4) => DType::I32,
        (TypeChar::Uint, 8) => DType::U64,
        (TypeChar::Int, 8) => DType::I64,
        (TypeChar::Float, 4) => DType::F32,
        _ => DType::Other(format!("{ts} ({})", numpy_name(&ts.to_string()))),
    };
    (t, big)
}

/// NumPy's name of a few common type strings, for messages.
fn numpy_name(descr: &str) -> &'static str {
    match descr.get(1..) {
        Some("f8") => "float64",
        Some("f2") => "float16",
        Some("b1") => "bool",
        Some("c8") | Some("c16") => "complex",
        _ => "unsupported",
    }
}

/// Guards the header parser: a header as NumPy writes it is one flat dict with a shape tuple,
/// so brackets nest at most 3 deep (structured dtypes aside), and the shape's dimensions must
/// multiply to a number that fits in 64 bits.
fn precheck(text: &[u8]) -> Result<(), String> {
    let mut depth = 0usize;
    for &b in text {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > 4 {
            return Err("brackets nest more than 4 deep".into());
        }
    }
    let text = String::from_utf8_lossy(text);
    if let Some(at) = text.find("'shape'").or_else(|| text.find("\"shape\"")) {
        let rest = &text[at..];
        if let (Some(open), Some(close)) = (rest.find('('), rest.find(')')) {
            if open < close {
                let mut product = 1u64;
                for part in rest[open + 1..close].split(',').map(str::trim) {
                    if part.is_empty() {
                        continue;
                    }
                    let d: u64 = part
                        .trim_end_matches('L')
                        .parse()
                        .map_err(|_| format!("shape entry `{part}` is not a whole number"))?;
                    product = product
                        .checked_mul(d)
                        .ok_or_else(|| format!("shape {} is too large", &rest[open..=close]))?;
                }
            }
        }
    }
    Ok(())
}
