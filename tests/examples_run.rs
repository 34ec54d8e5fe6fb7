//! Runs the example programs as a user would, on small generated data.
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>/examples/<name>`: `cargo test` builds the examples before the tests
/// run; when only this test target was built, build the example here.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = dir.join("examples").join(name);
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(status.success(), "building example {name} failed");
    }
    path
}

/// Writes a CIFAR-10 binary file of `n` records whose class is visible in the picture:
/// the red plane of class k is 25k plus noise in [0, 16).
fn write_cifar(path: &Path, n: usize, seed: u64) {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    let mut out = Vec::with_capacity(n * 3073);
    for _ in 0..n {
        let label = (next() % 10) as u8;
        out.push(label);
        for c in 0..3 {
            for h in 0..32 {
                for _w in 0..32 {
                    let noise = (next() % 16) as u8;
                    let _ = h;
                    out.push(if c == 0 { 25 * label + noise } else { noise });
                }
            }
        }
    }
    std::fs::write(path, out).unwrap();
}

/// A folder of CIFAR-10 files under the temp folder, named after `tag`: five training files
/// of `per_file` records and a test file of 200. Returns the folder to remove and the
/// `cifar-10-batches-bin` folder in it.
fn cifar_folder(tag: &str, per_file: usize) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("cubenet-{tag}-{}", std::process::id()));
    let data = dir.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&data).unwrap();
    for i in 1..=5 {
        write_cifar(&data.join(format!("data_batch_{i}.bin")), per_file, i);
    }
    write_cifar(&data.join("test_batch.bin"), 200, 99);
    (dir, data)
}

/// What an example that succeeded printed.
struct Printed {
    stdout: String,
    stderr: String,
}

impl Printed {
    /// Runs example `name` with `args` (and a private `XDG_RUNTIME_DIR`); it must succeed.
    fn run<S: AsRef<OsStr>>(name: &str, args: impl IntoIterator<Item = S>) -> Printed {
        let out = Command::new(example(name))
            .args(args)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .output()
            .unwrap();
        let printed = Printed {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(out.status.success(), "{name} failed:\n{printed}");
        printed
    }

    /// The machine-readable last line.
    fn last(&self) -> &str {
        self.stdout.lines().last().unwrap()
    }

    /// The `test_accuracy=` value of the last line.
    fn test_accuracy(&self) -> f64 {
        self.last()
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("test_accuracy="))
            .unwrap()
            .parse()
            .unwrap()
    }
}

impl std::fmt::Display for Printed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n{}", self.stdout, self.stderr)
    }
}

#[test]
fn cifar10_example_trains_on_cifar_format_files() {
    let (dir, data) = cifar_folder("cifar", 200);
    let out = Printed::run(
        "cifar10",
        [
            "--data",
            data.to_str().unwrap(),
            "--epochs",
            "3",
            "--lr",
            "0.01",
            "--batch-size",
            "20",
            "--quiet",
            "--log-every",
            "25",
        ],
    );
    assert!(
        out.stdout
            .contains("Accuracy of the network on the 200 test images"),
        "{out}"
    );
    // The tutorial's running-loss lines, `[epoch, step] loss: x`.
    assert!(out.stdout.contains("[1,    25] loss:"), "{out}");
    // The class is the red level: far above the 0.1 of chance after 150 steps (measured 0.44).
    let acc = out.test_accuracy();
    assert!(
        acc >= 0.3,
        "accuracy {acc} on learnable synthetic data\n{out}"
    );
    let last = out.last();
    assert!(
        last.contains("epochs=3") && last.contains("kernels_per_step=12"),
        "{last}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn cifar10_example_without_data_says_what_is_missing() {
    let out = Command::new(example("cifar10")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--data") && stderr.contains("cifar-10-batches-bin"),
        "{stderr}"
    );
}

#[test]
fn cifar10_example_with_a_wrong_folder_names_the_missing_file() {
    let dir = std::env::temp_dir().join(format!("cubenet-cifar-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(example("cifar10"))
        .args(["--data", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("data_batch_1.bin"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The main job on a real subset: Fashion-MNIST (Debian package `dataset-fashion-mnist`),
/// 6400 training images, one epoch. Accuracy floor 0.65 (measured 0.72 on this subset; chance
/// is 0.10).
#[test]
fn fashion_mnist_example_learns_on_a_real_subset() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.exists() {
        eprintln!(
            "skipped: {} is missing (apt-get install dataset-fashion-mnist)",
            dir.display()
        );
        return;
    }
    let ckpt = std::env::temp_dir().join(format!("cubenet-fm-{}.safetensors", std::process::id()));
    let args = [
        "--epochs",
        "1",
        "--limit",
        "6400",
        "--quiet",
        "--checkpoint",
    ];
    let out = Printed::run(
        "fashion_mnist",
        args.iter().map(OsStr::new).chain([ckpt.as_os_str()]),
    );
    std::fs::remove_file(&ckpt).ok();
    let last = out.last();
    assert!(out.test_accuracy() >= 0.65, "{last}");
    assert!(last.contains("kernels_per_step=12"), "{last}");
}

/// The denoising autoencoder (`loss = mse`) on 6400 real training images, two epochs: the
/// test MSE (noisy inputs, clean targets) falls well below predicting the training set's mean
/// image (0.087) or the noisy input itself (0.16): measured 0.0445 on the cpu runtime; the
/// PNG grid is 3 rows of 8 images. 7 minutes on lavapipe, so it runs with the `cpu` runtime
/// (CI: `--features cpu --test examples_run`).
#[test]
#[cfg_attr(
    not(feature = "cpu"),
    ignore = "slow on lavapipe; CI runs it with --no-default-features --features cpu"
)]
fn denoising_autoencoder_example_learns_and_writes_its_grid() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.exists() {
        eprintln!(
            "skipped: {} is missing (apt-get install dataset-fashion-mnist)",
            dir.display()
        );
        return;
    }
    let png = std::env::temp_dir().join(format!("cubenet-dae-{}.png", std::process::id()));
    let args = ["--epochs", "2", "--limit", "6400", "--png"];
    let out = Printed::run(
        "denoising_autoencoder",
        args.iter().map(OsStr::new).chain([png.as_os_str()]),
    );
    let last = out.last();
    let mse: f64 = last
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("test_mse="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no test_mse in {last}"));
    assert!(mse < 0.055, "{last}");
    let bytes = std::fs::read(&png).expect("the example writes its PNG");
    std::fs::remove_file(&png).ok();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (w, h) = (
        u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
    );
    assert_eq!(
        (w, h),
        (8 * 86 + 2, 3 * 86 + 2),
        "3 rows of 8 images of 84 + 2 pixels"
    );
}

/// An ImageFolder tree under the temp folder: `root/{blue,red}/<k>.png`, `per_class` RGB
/// 32 x 32 images each, whose class shows in its dominant colour (noise in [0, 64) on every
/// channel, +160 on the class's one).
fn image_folder(root: &Path, per_class: usize, seed: u32) {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 26) as u8
    };
    for (class, ch) in [("blue", 2), ("red", 0)] {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for k in 0..per_class {
            let img = image::RgbImage::from_fn(32, 32, |_, _| {
                let mut p = [next(), next(), next()];
                p[ch] += 160;
                image::Rgb(p)
            });
            img.save(dir.join(format!("{k:03}.png"))).unwrap();
        }
    }
}

/// `train_folder` on generated ImageFolder trees: it names the classes, trains CifarLeNet
/// and classifies the test folder (chance is 0.5); a wrong-size image is an error naming
/// the file.
#[test]
fn train_folder_example_trains_on_an_image_folder() {
    let dir = std::env::temp_dir().join(format!("cubenet-folder-{}", std::process::id()));
    let (train, test) = (dir.join("train"), dir.join("test"));
    image_folder(&train, 48, 1);
    image_folder(&test, 16, 2);
    let args = [
        OsStr::new("--data"),
        train.as_os_str(),
        OsStr::new("--test"),
        test.as_os_str(),
        OsStr::new("--epochs"),
        OsStr::new("4"),
        OsStr::new("--batch-size"),
        OsStr::new("16"),
        OsStr::new("--augment"),
    ];
    let out = Printed::run("train_folder", args);
    assert!(out.test_accuracy() >= 0.9, "{}", out.last());
    image::RgbImage::new(28, 28)
        .save(train.join("red").join("small.png"))
        .unwrap();
    let run = Command::new(example("train_folder"))
        .args(["--data".as_ref(), train.as_os_str()])
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{err}");
    assert!(err.contains("small.png") && err.contains("28"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A program that never calls `quiet_vulkan_loader` (train_folder), run with
/// `XDG_RUNTIME_DIR` unset: the Vulkan loader's "XDG_RUNTIME_DIR is invalid or not set" lines
/// (4 of them here before the library set it itself) do not appear.
#[test]
fn no_xdg_runtime_dir_noise_without_quiet_vulkan_loader() {
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/train_folder.rs"),
    )
    .unwrap();
    assert!(!source.contains("quiet_vulkan_loader"));
    let dir = std::env::temp_dir().join(format!("cubenet-xdg-test-{}", std::process::id()));
    image_folder(&dir, 2, 3);
    let run = Command::new(example("train_folder"))
        .args([
            "--data".as_ref(),
            dir.as_os_str(),
            "--epochs".as_ref(),
            "1".as_ref(),
        ])
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    assert!(!err.contains("XDG_RUNTIME_DIR"), "{err}");
}

/// Ctrl-C (SIGINT) during training: the example finishes the step, writes its checkpoint,
/// says how to resume and exits with status 130; the printed command resumes the run, which
/// ends with the same test accuracy as the uninterrupted run above.
#[cfg(unix)]
#[test]
fn fashion_mnist_example_saves_on_ctrl_c_and_resumes() {
    use std::io::{BufRead, BufReader, Read};
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.exists() {
        eprintln!("skipped: {} is missing", dir.display());
        return;
    }
    let tmp = std::env::temp_dir().join(format!("cubenet-sigint-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let ckpt = tmp.join("run.safetensors");
    let base = [
        "--epochs",
        "1",
        "--limit",
        "3200",
        "--quiet",
        "--checkpoint-every",
        "0",
    ];
    let run = |extra: &[&str], path: &Path| {
        let mut args: Vec<&OsStr> = base.iter().map(OsStr::new).collect();
        args.extend([OsStr::new("--checkpoint"), path.as_os_str()]);
        args.extend(extra.iter().map(OsStr::new));
        Printed::run("fashion_mnist", args)
    };
    let started = std::time::Instant::now();
    let whole = run(&[], &tmp.join("whole.safetensors"));
    let whole_time = started.elapsed();

    // Interrupt it while training is under way: at a fraction of the time the same run took
    // uninterrupted (whatever the backend's speed), after the Ctrl-C handler is installed.
    // How much of that time is start-up (kernel compilation) and evaluation differs between
    // runs and backends, so a signal that came too early (before the handler: killed) or too
    // late (after the last step: exit 0) is tried again at another fraction.
    let attempt = |fraction: f64| {
        std::fs::remove_file(&ckpt).ok();
        let mut child = Command::new(example("fashion_mnist"))
            .args(base)
            .arg("--checkpoint")
            .arg(&ckpt)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(first.starts_with("device:"), "{first}");
        std::thread::sleep(whole_time.mul_f64(fraction));
        let killed = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status, err)
    };
    let (mut status, mut err) = attempt(0.4);
    for fraction in [0.2, 0.6, 0.1, 0.8] {
        if status.code() == Some(130) {
            break;
        }
        (status, err) = attempt(fraction);
    }
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("training stopped after step")
            && err.contains("to resume: cargo run --release --example fashion_mnist --")
            && err.contains(&format!("--resume {}", ckpt.display())),
        "{err}"
    );
    assert!(ckpt.exists());

    let resumed = run(&["--resume", ckpt.to_str().unwrap()], &ckpt);
    assert_eq!(resumed.test_accuracy(), whole.test_accuracy());
    std::fs::remove_dir_all(&tmp).ok();
}

/// The ResNet-8 example (BasicBlocks, BatchNorm, global average pooling) trains on
/// CIFAR-format files and its test accuracy (eval mode, running statistics) is far above
/// chance. ResNet-8 at 32 x 32 costs ~37 M multiply-adds per sample and step: minutes on
/// lavapipe, so it runs with the `cpu` runtime (CI: `--features cpu --test examples_run`).
#[test]
#[cfg_attr(
    not(feature = "cpu"),
    ignore = "slow on lavapipe; CI runs it with --no-default-features --features cpu"
)]
fn cifar10_resnet_example_trains_on_cifar_format_files() {
    let (dir, data) = cifar_folder("cifar-resnet", 40);
    let out = Printed::run(
        "cifar10_resnet",
        [
            "--data",
            data.to_str().unwrap(),
            "--epochs",
            "3",
            "--limit",
            "100",
            "--lr",
            "0.05",
            "--batch-size",
            "20",
            "--quiet",
        ],
    );
    // The class is the red level; 15 steps (measured 0.455 with the cpu runtime).
    let acc = out.test_accuracy();
    assert!(
        acc >= 0.3,
        "accuracy {acc} on learnable synthetic data\n{out}"
    );
    assert!(out.last().contains("epochs=3"), "{}", out.last());
    std::fs::remove_dir_all(&dir).ok();
}
