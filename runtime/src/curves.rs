//! Training curves: the per-epoch reports of [`crate::trainer::fit`] as CSV and as a PNG plot.
use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::report::EpochReport;

/// Where the PNG's labels find a TrueType font (Debian: `fonts-dejavu-core`). Without one
/// the plot is drawn without text.
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
];

fn io_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes one row per epoch: `epoch,train_loss,test_loss,test_accuracy,samples_per_s,
/// train_seconds` (empty cells where there was no test set).
///
/// # Errors
/// An error naming the file when it cannot be written.
pub fn write_csv(path: &Path, reports: &[EpochReport]) -> Result<()> {
    let mut w = csv::Writer::from_path(path).map_err(|e| io_err(path, e))?;
    w.write_record([
        "epoch",
        "train_loss",
        "test_loss",
        "test_accuracy",
        "samples_per_s",
        "train_seconds",
    ])
    .map_err(|e| io_err(path, e))?;
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for r in reports {
        w.write_record([
            r.epoch.to_string(),
            r.train_loss.to_string(),
            opt(r.test_loss),
            opt(r.test_accuracy),
            r.samples_per_s.to_string(),
            r.train_seconds.to_string(),
        ])
        .map_err(|e| io_err(path, e))?;
    }
    w.flush().map_err(|e| io_err(path, e))
}

/// Registers the first font of [`FONT_PATHS`] that exists; whether one was found.
fn font() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        FONT_PATHS.iter().any(|p| match std::fs::read(p) {
            Ok(bytes) => {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
            }
            Err(_) => false,
        })
    })
}

/// Draws the curves as an 800 x 600 PNG: training and test loss per epoch (top) and test
/// accuracy (bottom, when there was a test set).
///
/// # Errors
/// An error naming the file when it cannot be drawn or written, or when `reports` is empty.
pub fn write_png(path: &Path, reports: &[EpochReport]) -> Result<()> {
    if reports.is_empty() {
        return Err(io_err(path, "no epochs to plot"));
    }
    let text = font();
    let draw = || -> std::result::Result<(), Box<dyn std::error::Error>> {
        let root = BitMapBackend::new(path, (800, 600)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, bottom) = root.split_vertically(300);
        let epochs = reports.len() as f64;
        let x_range = 0.5..epochs + 0.5;
        let losses: Vec<f64> = reports
            .iter()
            .flat_map(|r| std::iter::once(r.train_loss).chain(r.test_loss))
            .filter(|v| v.is_finite())
            .collect();
        let hi = losses.iter().cloned().fold(0.0f64, f64::max).max(1e-6) * 1.1;
        let series = |f: &dyn Fn(&EpochReport) -> Option<f64>| -> Vec<(f64, f64)> {
            reports
                .iter()
                .filter_map(|r| f(r).map(|v| (r.epoch as f64, v)))
                .collect()
        };

        let mut b = ChartBuilder::on(&top);
        b.margin(12);
        if text {
            b.caption("loss per epoch", ("sans-serif", 20))
                .x_label_area_size(30)
                .y_label_area_size(50);
        }
        let mut chart = b.build_cartesian_2d(x_range.clone(), 0.0..hi)?;
        if text {
            chart.configure_mesh().x_desc("epoch").draw()?;
        }
        let train = series(&|r| Some(r.train_loss));
        chart.draw_series(train.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))?;
        let s = chart.draw_series(LineSeries::new(train, BLUE.stroke_width(2)))?;
        if text {
            s.label("train loss")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        }
        let test = series(&|r| r.test_loss);
        if !test.is_empty() {
            chart.draw_series(test.iter().map(|&p| Circle::new(p, 3, RED.filled())))?;
            let s = chart.draw_series(LineSeries::new(test, RED.stroke_width(2)))?;
            if text {
                s.label("test loss").legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2))
                });
            }
        }
        if text {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }

        let acc = series(&|r| r.test_accuracy);
        if !acc.is_empty() {
            let lo = acc.iter().map(|p| p.1).fold(1.0f64, f64::min);
            let lo = (lo - 0.02).clamp(0.0, 0.98);
            let mut b = ChartBuilder::on(&bottom);
            b.margin(12);
            if text {
                b.caption("test accuracy per epoch", ("sans-serif", 20))
                    .x_label_area_size(30)
                    .y_label_area_size(50);
            }
            let mut chart = b.build_cartesian_2d(x_range, lo..1.0)?;
            if text {
                chart.configure_mesh().x_desc("epoch").draw()?;
            }
            chart.draw_series(LineSeries::new(acc.clone(), GREEN.stroke_width(2)))?;
            chart.draw_series(acc.iter().map(|&p| Circle::new(p, 3, GREEN.filled())))?;
        }
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| io_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reports() -> Vec<EpochReport> {
        (1..=4)
            .map(|e| EpochReport {
                epoch: e,
                train_loss: 1.0 / e as f64,
                samples_per_s: 100.0,
                train_seconds: 2.5,
                test_accuracy: Some(0.5 + 0.125 * e as f64),
                test_loss: Some(1.2 / e as f64),
            })
            .collect()
    }

    #[test]
    fn csv_has_a_row_per_epoch_with_the_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.csv");
        write_csv(&p, &reports()).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(
            lines[0],
            "epoch,train_loss,test_loss,test_accuracy,samples_per_s,train_seconds"
        );
        assert_eq!(lines[2], "2,0.5,0.6,0.75,100,2.5");
    }

    #[test]
    fn png_is_an_800_by_600_image_with_curves() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.png");
        write_png(&p, &reports()).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height, big-endian, at bytes 16..24.
        let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        assert_eq!((w, h), (800, 600));
        assert!(write_png(&p, &[]).is_err());
    }
}
