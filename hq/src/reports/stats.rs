//! The statistics behind the satisfaction report (GB/T 9.1.3): the 95% confidence
//! interval of a mean rating by Student's t distribution, and whether two intervals
//! overlap. Pure arithmetic: never touches the database or HTML.

/// Two-sided 95% critical values of Student's t for 1..=30 degrees of freedom.
const T_975: [f64; 30] = [
    12.706_204_736,
    4.302_652_730,
    3.182_446_305,
    2.776_445_105,
    2.570_581_836,
    2.446_911_851,
    2.364_624_252,
    2.306_004_135,
    2.262_157_163,
    2.228_138_852,
    2.200_985_160,
    2.178_812_830,
    2.160_368_656,
    2.144_786_688,
    2.131_449_546,
    2.119_905_299,
    2.109_815_578,
    2.100_922_040,
    2.093_024_054,
    2.085_963_447,
    2.079_613_845,
    2.073_873_068,
    2.068_657_610,
    2.063_898_562,
    2.059_538_553,
    2.055_529_439,
    2.051_830_516,
    2.048_407_142,
    2.045_229_642,
    2.042_272_456,
];

/// The standard normal 97.5% quantile.
const Z_975: f64 = 1.959_963_984_540_054;

/// Student's t 97.5% quantile for `df` degrees of freedom (`df` ≥ 1): exact table values
/// up to 30, beyond that the Cornish–Fisher expansion around the normal quantile (error
/// below 1e-6 for df > 30).
pub(crate) fn t_975(df: u64) -> f64 {
    if df == 0 {
        return f64::INFINITY;
    }
    if let Some(t) = usize::try_from(df - 1).ok().and_then(|i| T_975.get(i)) {
        return *t;
    }
    let z = Z_975;
    let v = df as f64;
    let z2 = z * z;
    let g1 = (z2 + 1.0) * z / 4.0;
    let g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
    let g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
    let g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0;
    z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v)
}

/// A 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Interval {
    pub(crate) low: f64,
    pub(crate) high: f64,
}

impl Interval {
    pub(crate) fn overlaps(&self, other: &Interval) -> bool {
        self.low <= other.high && other.low <= self.high
    }
}

/// GB/T 9.1.3: the 95% confidence interval of a mean from `n` values with sample standard
/// deviation `sd`: mean ± t(0.975, n−1)·sd/√n. `None` below two values.
pub(crate) fn mean_ci(n: i64, mean: f64, sd: f64) -> Option<Interval> {
    if n < 2 || !mean.is_finite() || !sd.is_finite() {
        return None;
    }
    let df = u64::try_from(n - 1).ok()?;
    let half = t_975(df) * sd / (n as f64).sqrt();
    Some(Interval {
        low: mean - half,
        high: mean + half,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_tables() {
        assert!((t_975(1) - 12.7062).abs() < 1e-4);
        assert!((t_975(3) - 3.1824).abs() < 1e-4);
        // Beyond the table the expansion continues smoothly ...
        assert!((t_975(31) - 2.039_513).abs() < 1e-5);
        assert!((t_975(40) - 2.021_075).abs() < 1e-5);
        assert!((t_975(120) - 1.979_930).abs() < 1e-5);
        // ... and towards the normal quantile.
        assert!((t_975(1_000_000) - Z_975).abs() < 1e-5);
        let mut last = f64::INFINITY;
        for df in 1..500 {
            let t = t_975(df);
            assert!(t < last, "t must fall with df (df {df})");
            last = t;
        }
    }

    #[test]
    fn confidence_interval_by_hand() {
        // GB/T 9.1.3. Scores 5, 4, 4, 3: mean 4, sd √(2/3), t(3) = 3.182446.
        let sd = (2.0f64 / 3.0).sqrt();
        let ci = mean_ci(4, 4.0, sd).unwrap();
        let half = 3.182_446_305 * sd / 2.0;
        assert!((ci.low - (4.0 - half)).abs() < 1e-9);
        assert!((ci.high - (4.0 + half)).abs() < 1e-9);
        assert!(mean_ci(1, 5.0, 0.0).is_none());
        assert!(mean_ci(0, f64::NAN, f64::NAN).is_none());
    }

    #[test]
    fn overlap_is_symmetric_and_touching_counts() {
        let a = Interval {
            low: 1.0,
            high: 2.0,
        };
        let b = Interval {
            low: 2.0,
            high: 3.0,
        };
        let c = Interval {
            low: 2.5,
            high: 3.0,
        };
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c) && !c.overlaps(&a));
    }
}
