//! Helpers shared by the benchmark examples; the benchmarks themselves live in `benches/`
//! and `examples/`. See BENCHMARKS.md for the figures and the commands.

use std::time::Instant;

/// Runs `f` `n` times and returns the mean time per call, in nanoseconds.
pub fn time<F: FnMut()>(n: u32, mut f: F) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() * 1e9 / f64::from(n.max(1))
}

/// The median of `v` (sorts it); 0 for an empty slice.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}
