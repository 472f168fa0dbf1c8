//! What the benchmarks share: reading `--name value` flags.

/// The value after `--name` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// A numeric flag with a default.
#[allow(dead_code)]
pub fn arg_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `--size WxH`, or `default`.
#[allow(dead_code)]
pub fn size_arg(default: (u32, u32)) -> (u32, u32) {
    arg("--size")
        .and_then(|s| {
            let (a, b) = s.split_once('x')?;
            Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?))
        })
        .unwrap_or(default)
}

/// The median of `iters` timed calls of `run` (seconds each), after one warm-up call.
#[allow(dead_code)]
pub fn median_seconds(iters: usize, run: impl Fn() -> f64) -> f64 {
    run();
    let mut times: Vec<f64> = (0..iters.max(1)).map(|_| run()).collect();
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// Seconds per training step of `recipe`'s networks on a fixed batch, after a two-step
/// warm-up. Reading the losses waits for each step to finish, as training does.
#[allow(dead_code)]
pub fn seconds_per_gan_step<R: atelier::train::GanRecipe>(
    recipe: &R,
    g: R::Net,
    d: R::D,
    batch: R::Batch,
    steps: usize,
) -> f64
where
    R::Batch: Clone,
{
    use atelier::train::step::{adam, gan_step};
    // As the training engine does around its steps.
    let _keep = atelier::alloc::KeepFreedMemory::new();
    let mut rng = atelier::util::rng::SeededRng::new(1);
    let (mut opt_g, mut opt_d) = (adam((0.5, 0.999)), adam((0.5, 0.999)));
    let (mut g, mut d) = (g, d);
    let mut run = |n: usize| {
        let t = std::time::Instant::now();
        for _ in 0..n {
            let (g2, d2, d_out, g_out) = gan_step(
                recipe,
                g.clone(),
                d.clone(),
                &mut opt_g,
                &mut opt_d,
                &mut || batch.clone(),
                1,
                (2e-4, 2e-4),
                &mut rng,
            );
            let _: f32 = d_out.loss.into_scalar();
            let _: f32 = g_out.loss.into_scalar();
            (g, d) = (g2, d2);
        }
        t.elapsed().as_secs_f64()
    };
    run(2);
    run(steps) / steps.max(1) as f64
}
