//! The quickstart: random arrays, a fused elementwise expression, reductions along an axis,
//! the optimised plan, and a progress bar.
//!
//! Run with `cargo run --example quickstart`.

use chunkwise::prelude::*;

fn main() -> chunkwise::Result<()> {
    let shape = [8000, 8000];
    let tiles = [2000, 2000];
    let x = chunkwise::random::uniform::<f64>(1, 0.0, 1.0, &shape, tiles)?;
    let y = chunkwise::random::normal::<f64>(2, 0.0, 1.0, &shape, tiles)?;

    // A chain of elementwise work: fused into one kernel that evaluates strips of each tile.
    let z = x.sin().powi(2) + y.cos().powi(2) * 2.0 - &x / (y.abs() + 1.0);

    // Reductions: the whole sum, and mean and standard deviation along axis 0.
    let total = z.sum();
    let column_mean = z.mean_axis(0);
    let column_std = z.std_axis(0, 0.0);

    println!("Optimised plan of the sum:\n{}", total.explain()?);
    println!(
        "Optimised plan of the column means:\n{}",
        column_mean.explain()?
    );

    let config = Config::default().progress(true);
    let (value, report) = total.compute_report(&config)?;
    println!(
        "sum = {:.6} ({} tasks on {} threads in {:.3} s, peak {:.1} MiB held of a {:.1} GiB budget)",
        value[[]],
        report.tasks,
        report.threads,
        report.elapsed.as_secs_f64(),
        report.peak_bytes as f64 / (1 << 20) as f64,
        report.budget as f64 / (1u64 << 30) as f64,
    );
    let means = column_mean.compute_with(&config)?;
    let stds = column_std.compute_with(&config)?;
    println!(
        "column means [0..4]: {:?}",
        &means.as_slice().unwrap_or(&[])[..4]
    );
    println!(
        "column stds  [0..4]: {:?}",
        &stds.as_slice().unwrap_or(&[])[..4]
    );
    Ok(())
}
