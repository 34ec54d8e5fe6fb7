//! Data augmentation with torchvision's semantics, applied by the loader's background thread to
//! each raw sample before normalisation, from a random stream of its own per sample.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// torchvision's `transforms.RandomCrop(size, padding=padding)` with its defaults
/// (`fill=0`, `padding_mode="constant"`, `pad_if_needed=False`): pad each side of every
/// channel by `padding` zeros, then cut out a `size[0] x size[1]` (H x W) window whose top-left
/// corner `(top, left)` is drawn uniformly from `0..=H + 2p - size[0]` and
/// `0..=W + 2p - size[1]` (`RandomCrop.get_params`).
///
/// The zeros are raw values: as in the CIFAR-10 recipe
/// `Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(), Normalize(...)])`,
/// the crop runs before normalisation, so a padded pixel is byte 0 (black) and becomes
/// `(0 - mean[c]) / std[c]` in the batch; for f32 samples it is the value 0 before
/// normalisation.
///
/// ```
/// use cubenet_runtime::data::RandomCrop;
/// let crop = RandomCrop::new(2, 1);
/// // A 1 x 2 x 2 image padded to 4 x 4; the window at top 0, left 1:
/// let out = crop.crop(&[1u8, 2, 3, 4], [1, 2, 2], 0, 1);
/// assert_eq!(out, [0, 0, 1, 2]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomCrop {
    /// Output height and width `[H_out, W_out]`.
    pub size: [usize; 2],
    /// Zeros added on each of the four sides before cropping.
    pub padding: usize,
}

impl RandomCrop {
    /// A square crop: `RandomCrop(size, padding=padding)`.
    pub fn new(size: usize, padding: usize) -> RandomCrop {
        RandomCrop {
            size: [size, size],
            padding,
        }
    }

    /// Draws `(top, left)` for an image of `h x w` (before padding): uniform in
    /// `0..=h + 2p - size[0]` and then `0..=w + 2p - size[1]`. Call only on a crop that
    /// [fits](Transform::output_shape) the image.
    pub fn get_params(&self, h: usize, w: usize, rng: &mut impl Rng) -> (usize, usize) {
        let p = 2 * self.padding;
        let top = rng.random_range(0..=h + p - self.size[0]);
        let left = rng.random_range(0..=w + p - self.size[1]);
        (top, left)
    }

    /// The window at `(top, left)` of the zero-padded `image` (CHW, `shape = [c, h, w]`):
    /// output pixel `(ch, y, x)` is padded pixel `(ch, top + y, left + x)`, that is input pixel
    /// `(ch, top + y - p, left + x - p)` or 0 outside the image. `c x size[0] x size[1]` values.
    pub fn crop<T: Copy + Default>(
        &self,
        image: &[T],
        [c, h, w]: [usize; 3],
        top: usize,
        left: usize,
    ) -> Vec<T> {
        let [oh, ow] = self.size;
        let p = self.padding;
        let mut out = vec![T::default(); c * oh * ow];
        for ch in 0..c {
            for y in 0..oh {
                let Some(iy) = (top + y).checked_sub(p).filter(|&iy| iy < h) else {
                    continue;
                };
                for x in 0..ow {
                    if let Some(ix) = (left + x).checked_sub(p).filter(|&ix| ix < w) {
                        out[(ch * oh + y) * ow + x] = image[(ch * h + iy) * w + ix];
                    }
                }
            }
        }
        out
    }
}

/// torchvision's `transforms.RandomHorizontalFlip(p)`: with probability `p` (`torch.rand(1) <
/// p`), mirror the image left to right (`x -> W - 1 - x`), every channel alike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomHorizontalFlip {
    /// Probability of a flip, in `[0, 1]`.
    pub p: f64,
}

impl Default for RandomHorizontalFlip {
    /// `p = 0.5`, torchvision's default.
    fn default() -> Self {
        RandomHorizontalFlip { p: 0.5 }
    }
}

impl RandomHorizontalFlip {
    /// Flips with probability `p`.
    pub fn new(p: f64) -> RandomHorizontalFlip {
        RandomHorizontalFlip { p }
    }

    /// Whether to flip: a uniform `u` in `[0, 1)` drawn from `rng`, `u < p`.
    pub fn get_params(&self, rng: &mut impl Rng) -> bool {
        rng.random::<f64>() < self.p
    }

    /// `image` (CHW, `shape = [c, h, w]`) mirrored left to right.
    pub fn flip<T: Copy>(image: &[T], [_, _, w]: [usize; 3]) -> Vec<T> {
        image
            .chunks_exact(w)
            .flat_map(|row| row.iter().rev().copied())
            .collect()
    }
}

/// One augmentation step of a training [`DataLoader`](super::DataLoader)
/// ([`DataLoader::with_transforms`](super::DataLoader::with_transforms)); steps run in order,
/// as in a torchvision `Compose`, on the raw sample before normalisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transform {
    /// See [`RandomCrop`].
    RandomCrop(RandomCrop),
    /// See [`RandomHorizontalFlip`].
    RandomHorizontalFlip(RandomHorizontalFlip),
}

impl From<RandomCrop> for Transform {
    fn from(t: RandomCrop) -> Transform {
        Transform::RandomCrop(t)
    }
}

impl From<RandomHorizontalFlip> for Transform {
    fn from(t: RandomHorizontalFlip) -> Transform {
        Transform::RandomHorizontalFlip(t)
    }
}

impl Transform {
    /// The shape `[c, h, w]` of a sample after this step.
    ///
    /// # Errors
    /// A message if the step does not fit: a crop size of 0 or larger than the padded image
    /// (`h + 2p`, `w + 2p`), a flip probability outside `[0, 1]`.
    pub fn output_shape(&self, [c, h, w]: [usize; 3]) -> Result<[usize; 3], String> {
        match self {
            Transform::RandomCrop(t) => {
                let [oh, ow] = t.size;
                let (ph, pw) = (h + 2 * t.padding, w + 2 * t.padding);
                if oh == 0 || ow == 0 || oh > ph || ow > pw {
                    return Err(format!(
                        "RandomCrop size {oh} x {ow} does not fit a {h} x {w} image padded by \
                         {} to {ph} x {pw}",
                        t.padding
                    ));
                }
                Ok([c, oh, ow])
            }
            Transform::RandomHorizontalFlip(t) => {
                if !(0.0..=1.0).contains(&t.p) {
                    return Err(format!(
                        "RandomHorizontalFlip p = {} must be in [0, 1]",
                        t.p
                    ));
                }
                Ok([c, h, w])
            }
        }
    }

    /// Applies this step to `image` of `shape`, drawing its parameters from `rng` (crop: top,
    /// then left; flip: one uniform f64). Returns the new image and shape.
    pub fn apply<T: Copy + Default>(
        &self,
        image: &[T],
        shape: [usize; 3],
        rng: &mut impl Rng,
    ) -> (Vec<T>, [usize; 3]) {
        match self {
            Transform::RandomCrop(t) => {
                let (top, left) = t.get_params(shape[1], shape[2], rng);
                (
                    t.crop(image, shape, top, left),
                    [shape[0], t.size[0], t.size[1]],
                )
            }
            Transform::RandomHorizontalFlip(t) => {
                if t.get_params(rng) {
                    (RandomHorizontalFlip::flip(image, shape), shape)
                } else {
                    (image.to_vec(), shape)
                }
            }
        }
    }
}

/// The random stream of the augmentation of one sample: `ChaCha8Rng::from_seed(key)` with the
/// 32-byte key `seed (u64 LE) ‖ epoch (u64 LE) ‖ position (u64 LE) ‖ b"augment\0"`, where
/// `position` is the sample's place in the epoch's order (`batch.index * batch_size + row`).
///
/// It depends only on these three numbers, so an epoch's augmented batches are the same
/// whatever the thread timing, and a run resumed mid-epoch continues them exactly.
pub fn sample_rng(seed: u64, epoch: u64, position: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&epoch.to_le_bytes());
    key[16..24].copy_from_slice(&position.to_le_bytes());
    key[24..].copy_from_slice(b"augment\0");
    ChaCha8Rng::from_seed(key)
}
