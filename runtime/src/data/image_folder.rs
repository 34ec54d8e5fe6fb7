//! A folder of PNG/JPEG images laid out as torchvision's `ImageFolder`.

use super::{DataError, Dataset, Samples, Targets};
use image::{DynamicImage, ImageFormat};
use std::path::{Path, PathBuf};

/// A labelled image dataset read from a folder laid out as torchvision's
/// `datasets.ImageFolder`: one sub-folder per class, e.g. `root/cat/001.png`,
/// `root/dog/a.jpg`.
///
/// As torchvision: the class names are the sub-folders' names sorted (by Unicode code point,
/// Python's `sorted`), and class `i` is the `i`-th of them; each class folder is walked
/// recursively, its files visited in sorted order, and sample order is class after class.
/// Names starting with `.` (hidden files and folders) are skipped, and so are plain files in
/// `root` itself.
///
/// Unlike torchvision, nothing is converted silently: every other file must be a PNG or JPEG
/// image (whatever its extension; torchvision skips unknown extensions, here they are an
/// error so no data goes missing unnoticed) whose size is exactly `H x W` and whose channel
/// count is exactly `C` of the expected `[C, H, W]`: 1 = 8-bit grayscale, 2 = grayscale +
/// alpha, 3 = RGB, 4 = RGBA (torchvision's loader converts everything to RGB; here a
/// grayscale image in an RGB dataset, or the reverse, is an error). There is no resize.
/// Pixels are stored as bytes, CHW (R, G, B planes), so they become `byte / 255` as
/// torchvision's `ToTensor` makes them.
///
/// ```no_run
/// use cubenet_runtime::data::ImageFolder;
/// use std::path::Path;
/// let folder = ImageFolder::open(Path::new("data/train"), [3, 32, 32])?;
/// println!("classes: {:?}", folder.classes());
/// let train = folder.into_dataset();
/// # Ok::<(), cubenet_runtime::data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFolder {
    classes: Vec<String>,
    files: Vec<(PathBuf, u32)>,
    dataset: Dataset,
}

impl ImageFolder {
    /// Reads every image under `root`; `shape` is the `[C, H, W]` every image must have
    /// (e.g. the network's input shape).
    ///
    /// # Errors
    /// [`DataError::Io`] naming the folder or file that cannot be read;
    /// [`DataError::Malformed`] naming `root` if it has no class folder, or naming the class
    /// folder that holds no file, or naming the file that is not a PNG or JPEG image (or is
    /// corrupt), has another size than `H x W`, another channel count than `C`, or 16-bit
    /// samples; [`DataError::InvalidRaw`] if a dimension of `shape` is 0.
    pub fn open(root: &Path, shape: [usize; 3]) -> Result<ImageFolder, DataError> {
        let [c, h, w] = shape;
        if shape.contains(&0) || c > 4 {
            return Err(DataError::InvalidRaw(format!(
                "image shape {shape:?} must have every dimension > 0 and at most 4 channels"
            )));
        }
        let mut classes: Vec<(String, PathBuf)> = Vec::new();
        for entry in read_dir(root)? {
            let (name, path) = entry;
            if path.is_dir() {
                classes.push((name, path));
            }
        }
        if classes.is_empty() {
            return Err(malformed(
                root,
                "no class folder found (expected one sub-folder per class, as torchvision's \
                 ImageFolder)"
                    .into(),
            ));
        }
        classes.sort();
        let mut files = Vec::new();
        for (index, (_, dir)) in classes.iter().enumerate() {
            let mut found = Vec::new();
            walk(dir, &mut found)?;
            if found.is_empty() {
                return Err(malformed(
                    dir,
                    "the class folder holds no image file".into(),
                ));
            }
            found.sort();
            files.extend(found.into_iter().map(|(_, p)| (p, index as u32)));
        }
        let plane = h * w;
        let mut pixels = vec![0u8; files.len() * c * plane];
        for ((path, _), out) in files.iter().zip(pixels.chunks_exact_mut(c * plane)) {
            decode(path, shape, out)?;
        }
        let targets = Targets::Classes {
            labels: files.iter().map(|&(_, l)| l).collect(),
            num_classes: classes.len(),
        };
        let dataset = Dataset::new(Samples::U8(pixels), shape, targets)?;
        Ok(ImageFolder {
            classes: classes.into_iter().map(|(n, _)| n).collect(),
            files,
            dataset,
        })
    }

    /// The class names, sorted; class index `i` is `classes()[i]` (torchvision's `classes`).
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Every image file with its class index, in sample order (torchvision's `samples`).
    pub fn files(&self) -> &[(PathBuf, u32)] {
        &self.files
    }

    /// The images as a dataset (u8 samples, class labels).
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    /// The images as a dataset, without copying.
    pub fn into_dataset(self) -> Dataset {
        self.dataset
    }
}

fn malformed(path: &Path, message: String) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        message,
    }
}

/// The non-hidden entries of `dir`: (file name, path).
fn read_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>, DataError> {
    let io = |source| DataError::Io {
        path: dir.to_path_buf(),
        action: "list the folder",
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            out.push((name, entry.path()));
        }
    }
    Ok(out)
}

/// Collects the files under `dir` recursively, keyed for torchvision's order
/// (`sorted(os.walk(dir))`, then `sorted(fnames)`): (folder path as a string, file name).
fn walk(dir: &Path, out: &mut Vec<((String, String), PathBuf)>) -> Result<(), DataError> {
    for (name, path) in read_dir(dir)? {
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(((dir.to_string_lossy().into_owned(), name), path));
        }
    }
    Ok(())
}

/// Decodes the image at `path` into `out` (CHW bytes), checking it is `[c, h, w]`.
fn decode(path: &Path, [c, h, w]: [usize; 3], out: &mut [u8]) -> Result<(), DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        action: "read the file",
        source,
    })?;
    let format = match image::guess_format(&bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        _ => {
            return Err(malformed(
                path,
                "not a PNG or JPEG image (an image folder may hold only images; hidden files, \
                 starting with '.', are skipped)"
                    .into(),
            ))
        }
    };
    let name = if format == ImageFormat::Png {
        "PNG"
    } else {
        "JPEG"
    };
    let img = image::load_from_memory_with_format(&bytes, format)
        .map_err(|e| malformed(path, format!("cannot decode the {name} image: {e}")))?;
    let (iw, ih) = (img.width() as usize, img.height() as usize);
    let (channels, raw): (usize, &[u8]) = match &img {
        DynamicImage::ImageLuma8(i) => (1, i.as_raw()),
        DynamicImage::ImageLumaA8(i) => (2, i.as_raw()),
        DynamicImage::ImageRgb8(i) => (3, i.as_raw()),
        DynamicImage::ImageRgba8(i) => (4, i.as_raw()),
        other => {
            return Err(malformed(
                path,
                format!(
                    "{:?} images are not supported (only 8-bit grayscale, grayscale + alpha, \
                     RGB and RGBA)",
                    other.color()
                ),
            ))
        }
    };
    if (ih, iw) != (h, w) {
        return Err(malformed(
            path,
            format!("the image is {ih} x {iw} (H x W), expected {h} x {w}; images are not resized"),
        ));
    }
    if channels != c {
        return Err(malformed(
            path,
            format!(
                "the image has {channels} channel{} ({}), expected {c} ({})",
                if channels == 1 { "" } else { "s" },
                channel_name(channels),
                channel_name(c)
            ),
        ));
    }
    // HWC (interleaved) to CHW (planes).
    let plane = h * w;
    for (p, px) in raw.chunks_exact(c).enumerate() {
        for (k, &v) in px.iter().enumerate() {
            out[k * plane + p] = v;
        }
    }
    Ok(())
}

fn channel_name(c: usize) -> &'static str {
    match c {
        1 => "grayscale",
        2 => "grayscale + alpha",
        3 => "RGB",
        _ => "RGBA",
    }
}
