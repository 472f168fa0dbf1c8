//! Hole masks for inpainting: where a generator must fill. White (255) is a hole, black (0)
//! is kept. Every generator is seeded (the same `SeededRng` state gives the same mask) and
//! keeps its hole fraction inside a documented range ([`MaskKind::hole_range`]): a draw
//! outside it is redrawn from the same stream, so the range holds by construction.
//!
//! Sizes are given for 256 px and scale with the image's short side.
//!
//! - `strokes`: free-form brush strokes, the DeepFill v2 recipe (Yu et al. 2019): 1–3
//!   strokes of 4–12 vertices, width 12–40 px, vertices joined by round-capped lines;
//! - `thin`, `thick`: LaMa's irregular masks (Suvorov et al. 2022): many thin random
//!   polylines (width 5–15 px), or fewer wide ones (10–60 px) plus 0–3 boxes;
//! - `cracks`: craquelure, the network of fine cracks aged paint forms: the edges of a
//!   wobbly Voronoi tessellation (irregular cells, cracks meeting at junctions), some
//!   edges dropped, inside a blob-shaped region, plus a few long branching cracks;
//! - `losses`: paint loss: islands of lost paint where flakes came off along a crack
//!   network (lumpy blobs centred on crack points), with the cracks themselves;
//! - `tears`: scratches (long, nearly straight, 1–4 px) and tears (jagged 3–10 px rips
//!   running in from an edge);
//! - `corners`: missing corners and edges: ragged pieces broken off a corner or along a
//!   side.

use image::{GrayImage, Luma};
use serde::{Deserialize, Serialize};

use crate::util::rng::SeededRng;

/// A hole pixel.
pub const HOLE: u8 = 255;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum MaskKind {
    /// Free-form brush strokes (DeepFill v2).
    Strokes,
    /// Many thin random lines (LaMa "thin").
    Thin,
    /// Few wide lines and boxes (LaMa "thick").
    Thick,
    /// Craquelure: a network of fine branching cracks.
    Cracks,
    /// Paint-loss islands along cracks.
    Losses,
    /// Scratches and tears.
    Tears,
    /// Missing corners and edges.
    Corners,
}

impl MaskKind {
    pub const ALL: [MaskKind; 7] = [
        MaskKind::Strokes,
        MaskKind::Thin,
        MaskKind::Thick,
        MaskKind::Cracks,
        MaskKind::Losses,
        MaskKind::Tears,
        MaskKind::Corners,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MaskKind::Strokes => "strokes",
            MaskKind::Thin => "thin",
            MaskKind::Thick => "thick",
            MaskKind::Cracks => "cracks",
            MaskKind::Losses => "losses",
            MaskKind::Tears => "tears",
            MaskKind::Corners => "corners",
        }
    }

    /// The fraction of pixels a mask of this kind holes, lowest and highest.
    pub fn hole_range(self) -> (f64, f64) {
        match self {
            MaskKind::Strokes => (0.02, 0.45),
            MaskKind::Thin => (0.04, 0.45),
            MaskKind::Thick => (0.10, 0.60),
            MaskKind::Cracks => (0.01, 0.22),
            MaskKind::Losses => (0.02, 0.20),
            MaskKind::Tears => (0.003, 0.06),
            MaskKind::Corners => (0.02, 0.40),
        }
    }

    /// A `width` × `height` mask drawn from `rng`.
    pub fn generate(self, width: u32, height: u32, rng: &mut SeededRng) -> GrayImage {
        let (lo, hi) = self.hole_range();
        let mut last = None;
        // Redraw until the fraction is in range; 64 draws are never needed in practice
        // (the test draws hundreds of masks per kind), but a loop must end.
        for _ in 0..64 {
            let mut c = Canvas::new(width, height);
            self.draw(&mut c, rng);
            let f = c.fraction();
            if (lo..=hi).contains(&f) {
                return c.into_image();
            }
            last = Some(c);
        }
        let mut c = last.expect("drawn at least once");
        c.fit_fraction(lo, hi);
        c.into_image()
    }

    fn draw(self, c: &mut Canvas, rng: &mut SeededRng) {
        match self {
            MaskKind::Strokes => strokes(c, rng),
            MaskKind::Thin => irregular(c, rng, 4..=20, 100.0, (5.0, 15.0)),
            MaskKind::Thick => {
                irregular(c, rng, 1..=5, 200.0, (10.0, 60.0));
                let n = rng.below(4);
                boxes(c, rng, n);
            }
            MaskKind::Cracks => {
                craquelure(c, rng, 0.7);
                for _ in 0..1 + rng.below(3) {
                    branching_crack(c, rng);
                }
            }
            MaskKind::Losses => {
                let points = craquelure(c, rng, 0.55);
                paint_losses(c, rng, &points);
            }
            MaskKind::Tears => tears(c, rng),
            MaskKind::Corners => corners(c, rng),
        }
    }
}

/// Whether a mask pixel is a hole (8-bit masks: 128 and above).
pub fn is_hole(v: u8) -> bool {
    v >= 128
}

/// The fraction of a mask's pixels that are holes.
pub fn hole_fraction(mask: &GrayImage) -> f64 {
    let holes = mask.pixels().filter(|p| is_hole(p.0[0])).count();
    holes as f64 / (mask.width() as f64 * mask.height() as f64).max(1.0)
}

/// A mask drawn for training: a kind picked evenly from `kinds`, then drawn.
pub fn random_mask(kinds: &[MaskKind], size: u32, rng: &mut SeededRng) -> GrayImage {
    let kind = kinds[rng.below(kinds.len())];
    kind.generate(size, size, rng)
}

/// The 8-connected groups of `marked` pixels in a `w`-wide raster, as pixel indices.
pub fn connected_groups(marked: &[bool], w: usize) -> Vec<Vec<usize>> {
    let h = marked.len() / w.max(1);
    let mut seen = vec![false; marked.len()];
    let mut groups = Vec::new();
    for start in 0..marked.len() {
        if !marked[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        let (mut group, mut stack) = (vec![start], vec![start]);
        while let Some(i) = stack.pop() {
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            for (dx, dy) in (-1..=1).flat_map(|dy| (-1..=1).map(move |dx| (dx, dy))) {
                let (nx, ny) = (x + dx, y + dy);
                if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                    continue;
                }
                let j = ny as usize * w + nx as usize;
                if marked[j] && !seen[j] {
                    seen[j] = true;
                    group.push(j);
                    stack.push(j);
                }
            }
        }
        groups.push(group);
    }
    groups
}

/// One step of dilation (`grow`) or erosion of `marked` in a `w`-wide raster, over the
/// pixel and its 4 neighbours; outside the raster counts as unmarked.
pub fn morph4(marked: &[bool], w: usize, grow: bool) -> Vec<bool> {
    let h = marked.len() / w.max(1);
    let at = |x: i64, y: i64| {
        x >= 0 && y >= 0 && x < w as i64 && y < h as i64 && marked[y as usize * w + x as usize]
    };
    (0..marked.len())
        .map(|i| {
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            let n = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)].map(|(dx, dy)| at(x + dx, y + dy));
            if grow {
                n.iter().any(|&b| b)
            } else {
                n.iter().all(|&b| b)
            }
        })
        .collect()
}

/// A boolean drawing surface; lengths in the drawing functions are at 256 px and scaled.
struct Canvas {
    w: u32,
    h: u32,
    px: Vec<bool>,
    /// Pixels per 256-px unit.
    scale: f32,
}

impl Canvas {
    fn new(w: u32, h: u32) -> Self {
        Self {
            w,
            h,
            px: vec![false; (w * h) as usize],
            scale: w.min(h) as f32 / 256.0,
        }
    }

    fn fraction(&self) -> f64 {
        self.px.iter().filter(|&&b| b).count() as f64 / self.px.len().max(1) as f64
    }

    fn into_image(self) -> GrayImage {
        GrayImage::from_fn(self.w, self.h, |x, y| {
            Luma([if self.px[(y * self.w + x) as usize] {
                HOLE
            } else {
                0
            }])
        })
    }

    fn set(&mut self, x: i64, y: i64) {
        if x >= 0 && y >= 0 && x < self.w as i64 && y < self.h as i64 {
            self.px[(y as u32 * self.w + x as u32) as usize] = true;
        }
    }

    fn rand_point(&self, rng: &mut SeededRng) -> (f32, f32) {
        (rng.uniform() * self.w as f32, rng.uniform() * self.h as f32)
    }

    /// A filled disc of diameter `width` (pixels).
    fn disc(&mut self, cx: f32, cy: f32, width: f32) {
        let r = (width / 2.0).max(0.5);
        let (x0, x1) = ((cx - r).floor() as i64, (cx + r).ceil() as i64);
        let (y0, y1) = ((cy - r).floor() as i64, (cy + r).ceil() as i64);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                if dx * dx + dy * dy <= r * r {
                    self.set(x, y);
                }
            }
        }
    }

    /// A round-capped line of `width` pixels (at least one pixel: a 1-px line is an
    /// 8-connected path).
    fn line(&mut self, (ax, ay): (f32, f32), (bx, by): (f32, f32), width: f32) {
        let len = ((bx - ax).powi(2) + (by - ay).powi(2)).sqrt();
        let steps = (len / (width / 3.0).clamp(0.5, 2.0)).ceil().max(1.0) as usize;
        for i in 0..=steps {
            let t = i as f32 / steps as f32;
            let (x, y) = (ax + (bx - ax) * t, ay + (by - ay) * t);
            if width <= 1.5 {
                self.set(x.floor() as i64, y.floor() as i64);
            } else {
                self.disc(x, y, width);
            }
        }
    }

    /// A filled polygon (even-odd rule, pixel centres).
    fn polygon(&mut self, pts: &[(f32, f32)]) {
        if pts.len() < 3 {
            return;
        }
        let ymin = pts
            .iter()
            .map(|p| p.1)
            .fold(f32::MAX, f32::min)
            .floor()
            .max(0.0) as i64;
        let ymax = pts
            .iter()
            .map(|p| p.1)
            .fold(f32::MIN, f32::max)
            .ceil()
            .min(self.h as f32) as i64;
        for y in ymin..ymax {
            let yc = y as f32 + 0.5;
            let mut xs: Vec<f32> = Vec::new();
            for i in 0..pts.len() {
                let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
                if (a.1 <= yc) != (b.1 <= yc) {
                    xs.push(a.0 + (yc - a.1) / (b.1 - a.1) * (b.0 - a.0));
                }
            }
            xs.sort_by(f32::total_cmp);
            for pair in xs.chunks(2) {
                if let [x0, x1] = pair {
                    for x in (x0 - 0.5).ceil() as i64..=(x1 - 0.5).floor() as i64 {
                        self.set(x, y);
                    }
                }
            }
        }
    }

    /// Grow or shrink by one pixel at a time until the fraction is in range (the fallback
    /// when 64 draws all missed).
    fn fit_fraction(&mut self, lo: f64, hi: f64) {
        for _ in 0..256 {
            let f = self.fraction();
            if f < lo {
                self.morph(true);
            } else if f > hi {
                self.morph(false);
            } else {
                return;
            }
        }
    }

    /// One step of dilation (`grow`) or erosion; an erosion that would empty the mask
    /// leaves a disc in the middle instead.
    fn morph(&mut self, grow: bool) {
        let next = morph4(&self.px, self.w as usize, grow);
        let old = std::mem::replace(&mut self.px, next);
        if !grow && self.fraction() == 0.0 {
            self.px = old;
            let (w, h) = (self.w as f32, self.h as f32);
            self.disc(w / 2.0, h / 2.0, w.min(h) / 4.0);
        }
    }
}

/// DeepFill v2's free-form strokes: each stroke turns by angles around 2π/5 (alternately
/// reversed), with segment lengths around a quarter of the diagonal, width 12–40 px.
fn strokes(c: &mut Canvas, rng: &mut SeededRng) {
    use std::f32::consts::PI;
    let (mean_angle, angle_range) = (2.0 * PI / 5.0, 2.0 * PI / 15.0);
    let diag = ((c.w * c.w + c.h * c.h) as f32).sqrt();
    let avg_radius = diag / 8.0;
    for _ in 0..1 + rng.below(3) {
        let vertices = 4 + rng.below(9);
        let width = c.scale * (12.0 + 28.0 * rng.uniform());
        let mut p = c.rand_point(rng);
        for i in 0..vertices {
            let a = mean_angle - angle_range + 2.0 * angle_range * rng.uniform();
            let angle = if i % 2 == 0 { 2.0 * PI - a } else { a };
            let r =
                (avg_radius + avg_radius / 2.0 * rng.normal_vec(1)[0]).clamp(0.0, 2.0 * avg_radius);
            let q = (
                (p.0 + r * angle.cos()).clamp(0.0, c.w as f32 - 1.0),
                (p.1 + r * angle.sin()).clamp(0.0, c.h as f32 - 1.0),
            );
            c.line(p, q, width);
            p = q;
        }
    }
}

/// LaMa's irregular masks: `times` polylines of 1–5 segments, each turning by up to 4
/// radians, segment length 10 + up to `max_len`, width in `widths` (all at 256 px).
fn irregular(
    c: &mut Canvas,
    rng: &mut SeededRng,
    times: std::ops::RangeInclusive<usize>,
    max_len: f32,
    widths: (f32, f32),
) {
    let n = times.start() + rng.below(times.end() - times.start() + 1);
    for i in 0..n {
        let mut p = c.rand_point(rng);
        for _ in 0..1 + rng.below(5) {
            let mut angle = 0.01 + 4.0 * rng.uniform();
            if i % 2 == 0 {
                angle = std::f32::consts::TAU - angle;
            }
            let len = c.scale * (10.0 + max_len * rng.uniform());
            let width = c.scale * (widths.0 + (widths.1 - widths.0) * rng.uniform());
            let q = (
                (p.0 + len * angle.sin()).clamp(0.0, c.w as f32),
                (p.1 + len * angle.cos()).clamp(0.0, c.h as f32),
            );
            c.line(p, q, width);
            p = q;
        }
    }
}

/// `n` boxes of 30–100 px a side, at least 10 px from the border.
fn boxes(c: &mut Canvas, rng: &mut SeededRng, n: usize) {
    let (margin, lo, hi) = (10.0 * c.scale, 30.0 * c.scale, 100.0 * c.scale);
    for _ in 0..n {
        let bw = lo + (hi - lo) * rng.uniform();
        let bh = lo + (hi - lo) * rng.uniform();
        let x = margin + (c.w as f32 - 2.0 * margin - bw).max(0.0) * rng.uniform();
        let y = margin + (c.h as f32 - 2.0 * margin - bh).max(0.0) * rng.uniform();
        c.polygon(&[(x, y), (x + bw, y), (x + bw, y + bh), (x, y + bh)]);
    }
}

/// A smooth random field in about [-1, 1]: a few random sinusoids (cheap, seeded, smooth
/// enough to wobble crack lines and shape blobs).
struct Wobble {
    waves: Vec<(f32, f32, f32, f32)>,
}

impl Wobble {
    fn new(rng: &mut SeededRng, wavelength: f32) -> Self {
        let waves = (0..4)
            .map(|_| {
                let a = rng.uniform() * std::f32::consts::TAU;
                let k = std::f32::consts::TAU / (wavelength * (0.6 + 0.8 * rng.uniform()));
                (
                    k * a.cos(),
                    k * a.sin(),
                    rng.uniform() * std::f32::consts::TAU,
                    0.5,
                )
            })
            .collect();
        Self { waves }
    }

    fn at(&self, x: f32, y: f32) -> f32 {
        self.waves
            .iter()
            .map(|(kx, ky, ph, amp)| amp * (kx * x + ky * y + ph).sin())
            .sum::<f32>()
            / 2.0
    }
}

/// Craquelure: the edges of a Voronoi tessellation of random seeds (cell size 20–45 px),
/// warped by a smooth field so edges wobble, a fraction `keep` of the edges kept (by the
/// pair of cells they separate), inside a blob-shaped region covering part of the image.
/// Returns points on the drawn cracks (where paint loss starts).
fn craquelure(c: &mut Canvas, rng: &mut SeededRng, keep: f32) -> Vec<(f32, f32)> {
    let cell = c.scale * (20.0 + 25.0 * rng.uniform());
    let (w, h) = (c.w as f32, c.h as f32);
    let n_seeds = ((w * h) / (cell * cell)).ceil().clamp(4.0, 4000.0) as usize;
    let seeds: Vec<(f32, f32)> = (0..n_seeds).map(|_| c.rand_point(rng)).collect();
    let salt = rng.below(1 << 30) as u64;
    let warp_x = Wobble::new(rng, cell * 2.0);
    let warp_y = Wobble::new(rng, cell * 2.0);
    let region = Wobble::new(rng, w.min(h) * 0.8);
    // The region: a disc of radius 0.35–0.8 of the short side with a wobbly edge.
    let (rx, ry) = c.rand_point(rng);
    let radius = w.min(h) * (0.35 + 0.45 * rng.uniform());
    let width = (c.scale * (1.0 + 2.0 * rng.uniform())).max(1.0);
    let amp = cell * 0.25;
    let mut on_crack = Vec::new();
    // Seeds binned on a grid so each pixel looks only at nearby seeds.
    let bin = cell * 1.5;
    let (bw, bh) = ((w / bin).ceil() as usize + 1, (h / bin).ceil() as usize + 1);
    let mut bins: Vec<Vec<usize>> = vec![Vec::new(); bw * bh];
    for (i, s) in seeds.iter().enumerate() {
        bins[(s.1 / bin) as usize * bw + (s.0 / bin) as usize].push(i);
    }
    for y in 0..c.h {
        for x in 0..c.w {
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            let d = ((fx - rx).powi(2) + (fy - ry).powi(2)).sqrt();
            if d > radius * (1.0 + 0.3 * region.at(fx, fy)) {
                continue;
            }
            let (px, py) = (fx + amp * warp_x.at(fx, fy), fy + amp * warp_y.at(fx, fy));
            let (bx, by) = ((px / bin).floor() as i64, (py / bin).floor() as i64);
            let (mut d1, mut d2, mut i1, mut i2) = (f32::MAX, f32::MAX, 0, 0);
            for yy in by - 2..=by + 2 {
                for xx in bx - 2..=bx + 2 {
                    if xx < 0 || yy < 0 || xx >= bw as i64 || yy >= bh as i64 {
                        continue;
                    }
                    for &i in &bins[yy as usize * bw + xx as usize] {
                        let s = seeds[i];
                        let dd = ((px - s.0).powi(2) + (py - s.1).powi(2)).sqrt();
                        if dd < d1 {
                            (d2, i2) = (d1, i1);
                            (d1, i1) = (dd, i);
                        } else if dd < d2 {
                            (d2, i2) = (dd, i);
                        }
                    }
                }
            }
            if d2 == f32::MAX || d2 - d1 > width {
                continue;
            }
            let (a, b) = (i1.min(i2) as u64, i1.max(i2) as u64);
            let kept = SeededRng::derived(salt, &[a, b]).uniform() < keep;
            if kept {
                c.set(x as i64, y as i64);
                if (x * 7 + y * 13) % 97 == 0 {
                    on_crack.push((fx, fy));
                }
            }
        }
    }
    on_crack
}

/// A long crack: a random walk with a slowly turning heading, 1–2 px, that splits now and
/// then into a side branch.
fn branching_crack(c: &mut Canvas, rng: &mut SeededRng) {
    let start = c.rand_point(rng);
    let heading = rng.uniform() * std::f32::consts::TAU;
    let len = c.scale * (80.0 + 160.0 * rng.uniform());
    let mut stack = vec![(start, heading, len, 0)];
    while let Some(((mut x, mut y), mut heading, len, depth)) = stack.pop() {
        let width = (c.scale * 1.5).max(1.0);
        let mut walked = 0.0;
        while walked < len {
            heading += (rng.uniform() - 0.5) * 0.5;
            let (nx, ny) = (x + 2.0 * heading.cos(), y + 2.0 * heading.sin());
            c.line((x, y), (nx, ny), width);
            (x, y) = (nx, ny);
            walked += 2.0;
            if depth < 3 && rng.uniform() < 0.02 {
                let turn = (0.5 + rng.uniform()) * if rng.coin() { 1.0 } else { -1.0 };
                stack.push(((x, y), heading + turn, (len - walked) * 0.6, depth + 1));
            }
        }
    }
}

/// Lumpy islands of lost paint (3–20 px across, clusters of discs) at crack points.
fn paint_losses(c: &mut Canvas, rng: &mut SeededRng, crack_points: &[(f32, f32)]) {
    let islands = 3 + rng.below(12);
    for _ in 0..islands {
        let (cx, cy) = if crack_points.is_empty() {
            c.rand_point(rng)
        } else {
            crack_points[rng.below(crack_points.len())]
        };
        let size = c.scale * (3.0 + 17.0 * rng.uniform());
        for _ in 0..3 + rng.below(5) {
            let (dx, dy) = (rng.uniform() - 0.5, rng.uniform() - 0.5);
            c.disc(
                cx + dx * size,
                cy + dy * size,
                size * (0.4 + 0.6 * rng.uniform()),
            );
        }
    }
}

/// A point on the border and the inward direction there.
fn border_point(c: &Canvas, rng: &mut SeededRng) -> ((f32, f32), f32) {
    use std::f32::consts::PI;
    let (w, h) = (c.w as f32, c.h as f32);
    let t = rng.uniform();
    match rng.below(4) {
        0 => ((t * w, 0.0), PI / 2.0),
        1 => ((t * w, h), -PI / 2.0),
        2 => ((0.0, t * h), 0.0),
        _ => ((w, t * h), PI),
    }
}

/// 1–4 scratches (nearly straight, 1–4 px, long) and 0–2 tears (jagged rips 3–10 px wide
/// from an edge, a third to two thirds across).
fn tears(c: &mut Canvas, rng: &mut SeededRng) {
    let diag = ((c.w * c.w + c.h * c.h) as f32).sqrt();
    for _ in 0..1 + rng.below(4) {
        let (x, y) = c.rand_point(rng);
        let angle = rng.uniform() * std::f32::consts::TAU;
        let len = diag * (0.3 + 0.5 * rng.uniform());
        let width = (c.scale * (1.0 + 3.0 * rng.uniform())).max(1.0);
        let bend = (rng.uniform() - 0.5) * 0.3;
        let mut p = (x - angle.cos() * len / 2.0, y - angle.sin() * len / 2.0);
        for i in 0..8 {
            let a = angle + bend * (i as f32 / 8.0);
            let q = (p.0 + a.cos() * len / 8.0, p.1 + a.sin() * len / 8.0);
            c.line(p, q, width);
            p = q;
        }
    }
    for _ in 0..rng.below(3) {
        let (mut p, mut heading) = border_point(c, rng);
        heading += (rng.uniform() - 0.5) * 0.8;
        let len = c.w.min(c.h) as f32 * (0.33 + 0.33 * rng.uniform());
        let step = 6.0 * c.scale.max(0.25);
        let mut walked = 0.0;
        while walked < len {
            let zig = heading + (rng.uniform() - 0.5) * 1.4;
            let q = (p.0 + step * zig.cos(), p.1 + step * zig.sin());
            // Tears narrow towards their end.
            let width = c.scale * (3.0 + 7.0 * rng.uniform()) * (1.0 - 0.6 * walked / len);
            c.line(p, q, width.max(1.0));
            p = q;
            walked += step;
        }
    }
}

/// 1–2 ragged pieces broken off: a corner (a jagged triangle-like piece) or a strip along
/// a side, 15–45 % of the short side deep.
fn corners(c: &mut Canvas, rng: &mut SeededRng) {
    let (w, h) = (c.w as f32, c.h as f32);
    let short = w.min(h);
    for _ in 0..1 + rng.below(2) {
        let depth = short * (0.15 + 0.3 * rng.uniform());
        // A ragged edge: points along the break with inward/outward jitter.
        let ragged = |rng: &mut SeededRng, a: (f32, f32), b: (f32, f32)| -> Vec<(f32, f32)> {
            let n = 8;
            let (nx, ny) = (-(b.1 - a.1), b.0 - a.0);
            let nl = (nx * nx + ny * ny).sqrt().max(1e-3);
            (0..=n)
                .map(|i| {
                    let t = i as f32 / n as f32;
                    let j = if i == 0 || i == n {
                        0.0
                    } else {
                        (rng.uniform() - 0.5) * depth * 0.3
                    };
                    (
                        a.0 + (b.0 - a.0) * t + nx / nl * j,
                        a.1 + (b.1 - a.1) * t + ny / nl * j,
                    )
                })
                .collect()
        };
        if rng.coin() {
            // A corner: from a point on one side to a point on the adjacent side.
            let (cx, cy) = (
                if rng.coin() { 0.0 } else { w },
                if rng.coin() { 0.0 } else { h },
            );
            let d1 = depth * (0.7 + 0.9 * rng.uniform());
            let d2 = depth * (0.7 + 0.9 * rng.uniform());
            let a = (cx, if cy == 0.0 { d1 } else { h - d1 });
            let b = (if cx == 0.0 { d2 } else { w - d2 }, cy);
            let mut pts = ragged(rng, a, b);
            pts.push((cx, cy));
            c.polygon(&pts);
        } else {
            // A strip along a side, part of its length.
            let len = (if rng.coin() { w } else { h }) * (0.3 + 0.5 * rng.uniform());
            let side = rng.below(4);
            let along = rng.uniform();
            let (a, b, e1, e2) = match side {
                0 => {
                    let x0 = along * (w - len).max(0.0);
                    ((x0, depth), (x0 + len, depth), (x0 + len, 0.0), (x0, 0.0))
                }
                1 => {
                    let x0 = along * (w - len).max(0.0);
                    (
                        (x0, h - depth),
                        (x0 + len, h - depth),
                        (x0 + len, h),
                        (x0, h),
                    )
                }
                2 => {
                    let y0 = along * (h - len).max(0.0);
                    ((depth, y0), (depth, y0 + len), (0.0, y0 + len), (0.0, y0))
                }
                _ => {
                    let y0 = along * (h - len).max(0.0);
                    (
                        (w - depth, y0),
                        (w - depth, y0 + len),
                        (w, y0 + len),
                        (w, y0),
                    )
                }
            };
            let mut pts = ragged(rng, a, b);
            pts.extend([e1, e2]);
            c.polygon(&pts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_seeded_and_stays_in_its_range() {
        for kind in MaskKind::ALL {
            let (lo, hi) = kind.hole_range();
            let mut fractions = Vec::new();
            for seed in 0..40 {
                let a = kind.generate(128, 96, &mut SeededRng::new(seed));
                let b = kind.generate(128, 96, &mut SeededRng::new(seed));
                assert_eq!(a, b, "{kind:?} seed {seed} is not deterministic");
                assert_eq!(a.dimensions(), (128, 96));
                assert!(a.pixels().all(|p| p.0[0] == 0 || p.0[0] == HOLE));
                let f = hole_fraction(&a);
                assert!((lo..=hi).contains(&f), "{kind:?} seed {seed}: {f}");
                fractions.push(f);
            }
            // Not one mask repeated: the fractions vary with the seed.
            let distinct = {
                let mut v: Vec<u64> = fractions.iter().map(|f| (f * 1e6) as u64).collect();
                v.sort();
                v.dedup();
                v.len()
            };
            assert!(
                distinct > 30,
                "{kind:?}: only {distinct} distinct masks in 40"
            );
        }
    }

    #[test]
    fn primitives_draw_what_they_say() {
        let mut c = Canvas::new(20, 20);
        c.polygon(&[(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]);
        assert_eq!(c.fraction(), 0.25);
        let mut d = Canvas::new(20, 20);
        d.line((0.0, 10.0), (20.0, 10.0), 1.0);
        assert_eq!(d.px.iter().filter(|&&b| b).count(), 20);
    }
}
