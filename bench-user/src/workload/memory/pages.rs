//! Page contents of a target compressibility: a seedable generator, template pages calibrated
//! to an lz4 ratio, and the ratio measurement itself (page by page, as zswap compresses).
use crate::scenario::PAGE;

// ---------------------------------------------------------------------------------------------
// Deterministic pseudo-random numbers (SplitMix64: tiny, seedable, same stream everywhere)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0), by multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

// ---------------------------------------------------------------------------------------------
// Page contents of a target compressibility
// ---------------------------------------------------------------------------------------------

pub const PAGE_SZ: usize = PAGE as usize;
/// Distinct template pages (the fill cycles through them).
pub const TEMPLATE_PAGES: usize = 64;

/// lz4 compressed/original size over whole pages, each compressed on its own as zswap does;
/// a page that does not shrink counts as stored uncompressed (ratio 1).
pub fn measure_ratio(buf: &[u8]) -> f64 {
    let mut total = 0usize;
    let mut n = 0usize;
    for page in buf.chunks_exact(PAGE_SZ) {
        total += lz4_flex::block::compress(page).len().min(PAGE_SZ);
        n += PAGE_SZ;
    }
    if n == 0 { 0.0 } else { total as f64 / n as f64 }
}

/// Fills one page: `random_bytes` of noise spread over runs between runs of a repeated short
/// pattern (so the page looks like data, not a zero page, which zswap would special-case).
fn fill_page(page: &mut [u8], random_bytes: usize, rng: &mut Rng) {
    const RUN: usize = 64;
    let runs = PAGE_SZ / RUN;
    let per_run = random_bytes / runs;
    let extra = random_bytes % runs;
    for (r, chunk) in page.chunks_exact_mut(RUN).enumerate() {
        let noisy = per_run + usize::from(r < extra);
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = if i < noisy {
                rng.next_u64() as u8
            } else {
                b"zswap-bench pattern "[i % 20]
            };
        }
    }
}

fn make_pages(random_bytes: usize, seed: u64, pages: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut buf = vec![0u8; pages * PAGE_SZ];
    for p in buf.chunks_exact_mut(PAGE_SZ) {
        fill_page(p, random_bytes, &mut rng);
    }
    buf
}

/// Template pages calibrated to a target ratio, with the ratio they actually achieve.
#[derive(Debug, Clone)]
pub struct Template {
    pub pages: Vec<u8>,
    pub measured: f64,
}

impl Template {
    /// Bisects the amount of noise per page until lz4 gives the target ratio (within 1%).
    pub fn calibrate(target: f64, seed: u64) -> Template {
        let (mut lo, mut hi) = (0usize, PAGE_SZ);
        let mut best = (make_pages(PAGE_SZ, seed, TEMPLATE_PAGES), 1.0f64);
        for _ in 0..14 {
            let mid = (lo + hi) / 2;
            let pages = make_pages(mid, seed, TEMPLATE_PAGES);
            let r = measure_ratio(&pages);
            if (r - target).abs() < (best.1 - target).abs() {
                best = (pages, r);
            }
            if (r - target).abs() < 0.01 || hi - lo <= 1 {
                break;
            }
            if r < target { lo = mid } else { hi = mid }
        }
        Template {
            pages: best.0,
            measured: best.1,
        }
    }

    pub fn page(&self, i: usize) -> &[u8] {
        let k = i % (self.pages.len() / PAGE_SZ);
        &self.pages[k * PAGE_SZ..(k + 1) * PAGE_SZ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibrated_ratio_is_measured_close_to_target() {
        for target in [0.1, 0.3, 0.5, 0.75] {
            let t = Template::calibrate(target, 7);
            assert!(
                (t.measured - target).abs() < 0.03,
                "target {target}: measured {}",
                t.measured
            );
            // The measurement is real: recompressing gives the same number.
            assert_eq!(measure_ratio(&t.pages), t.measured);
        }
        let t = Template::calibrate(1.0, 7);
        assert!(t.measured > 0.97, "{}", t.measured);
    }

    #[test]
    fn zero_pages_compress_far_and_noise_does_not() {
        assert!(measure_ratio(&vec![0u8; 4 * PAGE_SZ]) < 0.02);
        let mut rng = Rng::new(1);
        let noise: Vec<u8> = (0..4 * PAGE_SZ).map(|_| rng.next_u64() as u8).collect();
        assert_eq!(measure_ratio(&noise), 1.0);
    }
}
