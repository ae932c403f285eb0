//! The log-linear bucket function of the in-kernel histograms.
//!
//! Values below 2^SUB_BITS get a bucket each; above, every power of two [2^e, 2^(e+1))
//! is split into 2^SUB_BITS equal sub-buckets. With SUB_BITS = 7 a bucket is at most
//! 1/128 (< 1%) of its values wide, and the buckets are exactly HdrHistogram's at two
//! significant digits — so userspace turns them into an `hdrhistogram::Histogram`
//! without losing anything. (bcc's and bpftrace's log2 histograms are 100% wide.)
//!
//! Branch-only arithmetic: the verifier accepts it and it costs a few instructions.
//!
//! The per-syscall histograms use the same function with fewer sub-bucket bits
//! ([`SYS_SUB_BITS`] = 4: a bucket is at most 1/16 of its values wide, HdrHistogram's
//! one significant digit, its coarsest), so they too convert losslessly — into an
//! HdrHistogram of one significant digit.

/// log2 of the number of sub-buckets per power of two.
pub const SUB_BITS: u32 = 7;
/// Sub-buckets per power of two.
pub const SUB_COUNT: u64 = 1 << SUB_BITS;
/// Number of buckets covering all of u64.
pub const BUCKETS: u32 = (64 - SUB_BITS + 1) << SUB_BITS;

/// Sub-bucket bits of the per-syscall histograms (precision 1/16 = 6.25%).
pub const SYS_SUB_BITS: u32 = 4;
/// Per-syscall histograms cover [0, 2^SYS_MAX_LOG2) ns (about 68.7 s); a longer call is
/// recorded in the last bucket.
pub const SYS_MAX_LOG2: u32 = 36;
/// Buckets of one per-syscall histogram.
pub const SYS_BUCKETS: u32 = (SYS_MAX_LOG2 - SYS_SUB_BITS + 1) << SYS_SUB_BITS;

/// Buckets per row of the fixed histograms' per-CPU array (one power of two's worth).
pub const ROW: u32 = SUB_COUNT as u32;
/// Rows per fixed histogram: `BUCKETS / ROW`.
pub const ROWS: u32 = BUCKETS / ROW;

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

/// The bucket holding `v`, with `bits` sub-bucket bits.
#[inline(always)]
pub const fn bucket_bits(v: u64, bits: u32) -> u32 {
    let count = 1u64 << bits;
    if v < count {
        return v as u32;
    }
    let shift = log2_floor(v) - bits;
    // (v >> shift) is in [count, 2 * count): its low `bits` bits pick the sub-bucket.
    ((shift + 1) << bits) + ((v >> shift) as u32 - count as u32)
}

/// The smallest value in bucket `b` of [`bucket_bits`] with `bits` sub-bucket bits.
pub const fn bucket_low_bits(b: u32, bits: u32) -> u64 {
    let count = 1u64 << bits;
    if (b as u64) < count {
        return b as u64;
    }
    let shift = (b >> bits) - 1;
    let sub = (b as u64 & (count - 1)) + count;
    sub << shift
}

/// The largest value in bucket `b` of [`bucket_bits`] with `bits` sub-bucket bits.
pub const fn bucket_high_bits(b: u32, bits: u32) -> u64 {
    let count = 1u64 << bits;
    if (b as u64) < count {
        return b as u64;
    }
    let shift = (b >> bits) - 1;
    bucket_low_bits(b, bits) + ((1u64 << shift) - 1)
}

/// The bucket holding `v`.
#[inline(always)]
pub const fn bucket(v: u64) -> u32 {
    bucket_bits(v, SUB_BITS)
}

/// The smallest value in bucket `b`.
pub const fn bucket_low(b: u32) -> u64 {
    bucket_low_bits(b, SUB_BITS)
}

/// The largest value in bucket `b`.
pub const fn bucket_high(b: u32) -> u64 {
    bucket_high_bits(b, SUB_BITS)
}

/// The per-syscall histogram bucket of `v` ns (clamped to the last bucket).
#[inline(always)]
pub const fn sys_bucket(v: u64) -> u32 {
    let b = bucket_bits(v, SYS_SUB_BITS);
    if b >= SYS_BUCKETS {
        SYS_BUCKETS - 1
    } else {
        b
    }
}
