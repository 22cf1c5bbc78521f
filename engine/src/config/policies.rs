//! Validation of `[retry]`, `[health]` and the error sensitivity of `[balancing]`.

use super::raw::RawConfig;
use super::*;
use crate::error::ConfigError;

impl Validator {
    pub(super) fn retry(raw: &RawConfig) -> Result<RetryPolicy, ConfigError> {
        let r = &raw.retry;
        if !(1..=MAX_ATTEMPTS_LIMIT as i64).contains(&r.max_attempts) {
            return Err(invalid(
                "retry.max_attempts".into(),
                r.max_attempts,
                "an integer from 1 to 16",
                None,
            ));
        }
        if !(0.0..=1.0).contains(&r.jitter) {
            return Err(invalid(
                "retry.jitter".into(),
                r.jitter,
                "a fraction from 0 to 1",
                None,
            ));
        }
        if r.backoff_max < r.backoff_base {
            return Err(invalid(
                "retry.backoff_max".into(),
                humantime::format_duration(r.backoff_max),
                "at least retry.backoff_base",
                None,
            ));
        }
        let mut retry_on = [false; FailureKind::COUNT];
        for (j, name) in r.retry_on.iter().enumerate() {
            let kind: FailureKind = name.parse().map_err(|_| {
                invalid(
                    format!("retry.retry_on[{j}]"),
                    format!("{name:?}"),
                    FailureKind::RETRYABLE_EXPECTED,
                    None,
                )
            })?;
            if matches!(
                kind,
                FailureKind::Client | FailureKind::ContextLength | FailureKind::Auth
            ) {
                return Err(invalid(
                    format!("retry.retry_on[{j}]"),
                    format!("{name:?}"),
                    "a retryable kind (client errors are never retried; context-length errors \
                     move to the tier's context_fallback; refused keys are always retried \
                     elsewhere)",
                    None,
                ));
            }
            retry_on[kind as usize] = true;
        }
        if r.deadline.is_some_and(|d| d.is_zero()) {
            return Err(invalid(
                "retry.deadline".into(),
                "0s",
                "a duration > 0 (omit it for no deadline)",
                None,
            ));
        }
        Ok(RetryPolicy {
            max_attempts: r.max_attempts as usize,
            backoff_base: r.backoff_base,
            backoff_max: r.backoff_max,
            jitter: r.jitter,
            retry_on,
            max_wait: r.max_wait,
            deadline: r.deadline,
        })
    }

    pub(super) fn sensitivity(raw: &RawConfig) -> Result<f64, ConfigError> {
        let k = raw.balancing.error_sensitivity;
        if (0.0..=10_000.0).contains(&k) {
            Ok(k)
        } else {
            Err(invalid(
                "balancing.error_sensitivity".into(),
                k,
                "a number from 0 to 10000",
                None,
            ))
        }
    }

    pub(super) fn health(raw: &RawConfig) -> Result<HealthPolicy, ConfigError> {
        let h = &raw.health;
        if !(1..=1_000_000).contains(&h.failure_threshold) {
            return Err(invalid(
                "health.failure_threshold".into(),
                h.failure_threshold,
                "an integer from 1 to 1000000",
                None,
            ));
        }
        Ok(HealthPolicy {
            cooldown: h.cooldown,
            max_cooldown: h.max_cooldown.max(h.cooldown),
            failure_threshold: h.failure_threshold as u32,
            open_for: h.open_for,
            max_open_for: h.max_open_for.max(h.open_for),
            error_window: nonzero(h.error_window, "health.error_window")?,
        })
    }
}
