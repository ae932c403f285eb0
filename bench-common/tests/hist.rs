//! The kernel's bucket function against HdrHistogram at two significant digits: every
//! bucket must be exactly HdrHistogram's equivalence range, so converting kernel
//! histograms into `hdrhistogram::Histogram` loses nothing.
use bench_common::hist::{bucket, bucket_high, bucket_low, log2_floor, BUCKETS, SUB_COUNT};
use hdrhistogram::Histogram;

fn hdr() -> Histogram<u64> {
    Histogram::new_with_bounds(1, u64::MAX / 2, 2).unwrap()
}

fn check(h: &Histogram<u64>, v: u64) {
    let b = bucket(v);
    assert!(b < BUCKETS, "{v}: bucket {b} out of range");
    let (lo, hi) = (bucket_low(b), bucket_high(b));
    assert!(lo <= v && v <= hi, "{v} not in its bucket [{lo}, {hi}]");
    assert_eq!(lo, h.lowest_equivalent(v), "lowest of {v}");
    assert_eq!(hi, h.highest_equivalent(v), "highest of {v}");
    // <1% relative width: HdrHistogram's 2-significant-digit promise.
    assert!(
        (hi - lo) as f64 <= lo as f64 / 100.0 + 1.0,
        "{v}: [{lo}, {hi}] too wide"
    );
}

#[test]
fn every_power_of_two_boundary_matches_hdrhistogram() {
    let h = hdr();
    for e in 0..62 {
        let p = 1u64 << e;
        for v in [p.saturating_sub(1), p, p + 1] {
            check(&h, v);
        }
    }
    for v in 0..4 * SUB_COUNT {
        check(&h, v);
    }
}

#[test]
fn random_values_match_hdrhistogram() {
    let h = hdr();
    // xorshift64*: deterministic and spread over every magnitude.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..200_000 {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // Pick a magnitude, then a value within it, so small values are as common as big ones.
        let v = r >> (r % 62 + 2);
        check(&h, v);
    }
}

#[test]
fn buckets_are_contiguous_and_ordered() {
    for b in 0..BUCKETS - 1 {
        assert_eq!(
            bucket_high(b) + 1,
            bucket_low(b + 1),
            "gap after bucket {b}"
        );
        assert_eq!(bucket(bucket_low(b)), b);
        assert_eq!(bucket(bucket_high(b)), b);
    }
    assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    assert_eq!(bucket_high(BUCKETS - 1), u64::MAX);
}

#[test]
fn log2_floor_is_exact() {
    for e in 0..64 {
        assert_eq!(log2_floor(1 << e), e);
        if e > 1 {
            assert_eq!(log2_floor((1 << e) - 1), e - 1);
        }
    }
}

/// The per-syscall histograms' 4-bit buckets are exactly HdrHistogram's at one
/// significant digit (its coarsest), so they too convert without loss; values from
/// 2^SYS_MAX_LOG2 ns on land in the last bucket.
#[test]
fn syscall_buckets_match_hdrhistogram_at_one_digit() {
    use bench_common::hist::{
        bucket_high_bits, bucket_low_bits, sys_bucket, SYS_BUCKETS, SYS_MAX_LOG2, SYS_SUB_BITS,
    };
    let h = Histogram::<u64>::new_with_bounds(1, u64::MAX / 2, 1).unwrap();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut values: Vec<u64> = (0..SYS_MAX_LOG2)
        .flat_map(|e| {
            let p = 1u64 << e;
            [p.saturating_sub(1), p, p + 1]
        })
        .collect();
    for _ in 0..100_000 {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        values.push(r >> (r % 40 + 28));
    }
    for v in values {
        let b = sys_bucket(v);
        assert!(b < SYS_BUCKETS, "{v}: bucket {b}");
        if v >> SYS_MAX_LOG2 != 0 {
            assert_eq!(b, SYS_BUCKETS - 1, "{v} clamps");
            continue;
        }
        let (lo, hi) = (
            bucket_low_bits(b, SYS_SUB_BITS),
            bucket_high_bits(b, SYS_SUB_BITS),
        );
        assert!(lo <= v && v <= hi, "{v} not in [{lo}, {hi}]");
        assert_eq!(lo, h.lowest_equivalent(v), "lowest of {v}");
        assert_eq!(hi, h.highest_equivalent(v), "highest of {v}");
    }
    assert_eq!(sys_bucket((1 << SYS_MAX_LOG2) - 1), SYS_BUCKETS - 1);
    assert_eq!(sys_bucket(u64::MAX), SYS_BUCKETS - 1);
}
