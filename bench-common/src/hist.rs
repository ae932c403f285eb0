//! The log-linear bucket function of the in-kernel histograms.
//!
//! Values below 2^SUB_BITS get a bucket each; above, every power of two [2^e, 2^(e+1))
//! is split into 2^SUB_BITS equal sub-buckets. With SUB_BITS = 7 a bucket is at most
//! 1/128 (< 1%) of its values wide, and the buckets are exactly HdrHistogram's at two
//! significant digits — so userspace turns them into an `hdrhistogram::Histogram`
//! without losing anything. (bcc's and bpftrace's log2 histograms are 100% wide.)
//!
//! Branch-only arithmetic: the verifier accepts it and it costs a few instructions.

/// log2 of the number of sub-buckets per power of two.
pub const SUB_BITS: u32 = 7;
/// Sub-buckets per power of two.
pub const SUB_COUNT: u64 = 1 << SUB_BITS;
/// Number of buckets covering all of u64.
pub const BUCKETS: u32 = (64 - SUB_BITS + 1) << SUB_BITS;

/// floor(log2(v)) for v > 0 (0 for v = 0), by binary search: no loops, no clz.
#[inline(always)]
pub const fn log2_floor(mut v: u64) -> u32 {
    let mut r = 0;
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

/// The bucket holding `v`.
#[inline(always)]
pub const fn bucket(v: u64) -> u32 {
    if v < SUB_COUNT {
        return v as u32;
    }
    let shift = log2_floor(v) - SUB_BITS;
    // (v >> shift) is in [SUB_COUNT, 2 * SUB_COUNT): its low SUB_BITS bits pick the sub-bucket.
    ((shift + 1) << SUB_BITS) + ((v >> shift) as u32 - SUB_COUNT as u32)
}

/// The smallest value in bucket `b`.
pub const fn bucket_low(b: u32) -> u64 {
    if (b as u64) < SUB_COUNT {
        return b as u64;
    }
    let shift = (b >> SUB_BITS) - 1;
    let sub = (b as u64 & (SUB_COUNT - 1)) + SUB_COUNT;
    sub << shift
}

/// The largest value in bucket `b`.
pub const fn bucket_high(b: u32) -> u64 {
    if (b as u64) < SUB_COUNT {
        return b as u64;
    }
    let shift = (b >> SUB_BITS) - 1;
    bucket_low(b) + ((1u64 << shift) - 1)
}
