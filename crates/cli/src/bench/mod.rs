//! `xiaoan bench …`: benchmarks on synthetic data at the sizes the product must handle.
//! Figures are printed, never asserted: machines are noisy.

mod compliance;
mod hazards;

use crate::config::AppConfig;

/// Options of `xiaoan bench`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    which: Which,
}

#[derive(clap::Subcommand)]
enum Which {
    /// Hazard list API, bureau overview page and district xlsx export under load.
    Hazards(hazards::Args),
    /// Full compliance recompute, one new record, and the matrix page and API at scale.
    Compliance(compliance::Args),
}

/// Runs the chosen benchmark.
pub async fn run(cfg: AppConfig, args: Args) -> anyhow::Result<()> {
    match args.which {
        Which::Hazards(a) => hazards::run(cfg, a).await,
        Which::Compliance(a) => compliance::run(cfg, a).await,
    }
}

/// Median and 99th percentile of `samples` (milliseconds).
pub fn percentiles(samples: &mut [f64]) -> (f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99))
}
