//! `min` and `max` for the hot path. `f64::min` and `f64::max` return the other operand when
//! either one is NaN, which costs x86 four extra instructions each; these are one `minsd` or
//! `maxsd`, and give the same result whenever the second operand is not NaN (the first may be:
//! a NaN there yields the second, as `f64::min`/`f64::max` do).

/// The smaller of `a` and `b` (`b` when `a` is NaN). Equal to `a.min(b)` unless `b` is NaN.
#[inline(always)]
pub(crate) fn min(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else {
        b
    }
}

/// The larger of `a` and `b` (`b` when `a` is NaN). Equal to `a.max(b)` unless `b` is NaN.
#[inline(always)]
pub(crate) fn max(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agree_with_std_unless_the_second_operand_is_nan() {
        let values = [
            f64::NEG_INFINITY,
            -1.5,
            -0.0,
            0.0,
            1e-300,
            2.0,
            f64::INFINITY,
            f64::NAN,
        ];
        for a in values {
            for b in values.into_iter().filter(|b| !b.is_nan()) {
                // ±0 compare equal; either is a correct answer for both.
                assert_eq!(min(a, b), a.min(b), "min({a}, {b})");
                assert_eq!(max(a, b), a.max(b), "max({a}, {b})");
            }
        }
    }
}
