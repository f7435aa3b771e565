//! Log-linear histogram buckets ("log2x4"): 4 sub-buckets per power of two, so any value is
//! within 25% of its bucket's lower bound. The eBPF programs and userspace use this one
//! function, so kernel-side buckets replay exactly into userspace histograms.

/// Number of buckets: u64::MAX lands in bucket 251 (msb 63, sub-bucket 3).
pub const BUCKETS: usize = 252;
/// Reserved bucket ids: exact sum and maximum of the recorded values.
pub const SUM_BUCKET: u32 = u32::MAX;
pub const MAX_BUCKET: u32 = u32::MAX - 1;

/// Index of the highest set bit (v > 0), written without a loop or ctlz so it verifies and
/// compiles on the BPF target.
#[inline(always)]
pub fn log2(mut v: u64) -> u32 {
    let mut r = 0u32;
    if v >= 1 << 32 {
        v >>= 32;
        r += 32;
    }
    if v >= 1 << 16 {
        v >>= 16;
        r += 16;
    }
    if v >= 1 << 8 {
        v >>= 8;
        r += 8;
    }
    if v >= 1 << 4 {
        v >>= 4;
        r += 4;
    }
    if v >= 1 << 2 {
        v >>= 2;
        r += 2;
    }
    if v >= 1 << 1 {
        r += 1;
    }
    r
}

/// Bucket of a value: values 0..4 get their own bucket; above, 4 buckets per power of two.
#[inline(always)]
pub fn bucket_index(v: u64) -> u32 {
    if v < 4 {
        return v as u32;
    }
    let msb = log2(v);
    let sub = ((v >> (msb - 2)) & 3) as u32;
    (msb - 1) * 4 + sub
}

/// Inclusive lower and exclusive upper bound of a bucket (upper saturates at u64::MAX).
pub fn bucket_bounds(i: u32) -> (u64, u64) {
    if i < 4 {
        return (i as u64, i as u64 + 1);
    }
    let msb = i / 4 + 1;
    let sub = (i % 4) as u64;
    let lo = (1u64 << msb) + sub * (1u64 << (msb - 2));
    let hi = lo.saturating_add(1u64 << (msb - 2));
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_inside_its_bucket() {
        let mut v = 0u64;
        while v < (1 << 40) {
            let i = bucket_index(v);
            let (lo, hi) = bucket_bounds(i);
            assert!(lo <= v && v < hi, "v={v} i={i} lo={lo} hi={hi}");
            assert!((i as usize) < BUCKETS);
            v = v * 3 / 2 + 1;
        }
        // u64::MAX is the last bucket, whose upper bound saturates at u64::MAX instead of
        // wrapping (the exclusive bound 2^64 does not fit): the one value the half-open rule
        // cannot express is still covered by the bucket that ends there.
        let i = bucket_index(u64::MAX);
        assert_eq!(i as usize, BUCKETS - 1);
        let (lo, hi) = bucket_bounds(i);
        assert_eq!(lo, 7 << 61, "2^63 + 3 quarters of 2^63");
        assert_eq!(hi, u64::MAX);
    }

    #[test]
    fn buckets_are_contiguous_and_increasing() {
        for i in 0..(BUCKETS as u32 - 1) {
            let (_, hi) = bucket_bounds(i);
            let (lo2, _) = bucket_bounds(i + 1);
            if hi == u64::MAX {
                break;
            }
            assert_eq!(hi, lo2, "gap after bucket {i}");
        }
    }

    #[test]
    fn log2_matches_leading_zeros() {
        for s in 0..64 {
            let v = 1u64 << s;
            assert_eq!(log2(v), 63 - v.leading_zeros());
            assert_eq!(log2(v | (v >> 1)), 63 - v.leading_zeros());
        }
    }
}
