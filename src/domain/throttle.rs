//! The sign-in throttle: a documented, simple defence against password guessing.
//!
//! Failures are counted per account ID (whether or not it exists, so the throttle reveals
//! nothing) and per client address (with a higher allowance: a campus NAT puts a whole lab
//! behind one address). The first `free_failures` within the window cost nothing; after that each attempt must wait 2^(n - free) seconds since the last failure,
//! up to `max_delay_secs`. A success clears the account's count.

/// How long the next attempt must still wait, or `None` if it may go ahead.
pub fn wait_secs(
    failures: i64,
    last_failure_at: i64,
    now: i64,
    free_failures: i64,
    window_secs: i64,
    max_delay_secs: i64,
) -> Option<i64> {
    if failures < free_failures || now - last_failure_at > window_secs {
        return None;
    }
    let excess = (failures - free_failures).clamp(0, 30) as u32;
    let delay = 2i64.pow(excess).min(max_delay_secs);
    let remaining = last_failure_at + delay - now;
    (remaining > 0).then_some(remaining)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_failures_cost_nothing_then_waits_double() {
        // (failures, seconds since last failure, expected wait)
        let cases = [
            (0, 0, None),
            (4, 0, None),
            (5, 0, Some(1)),
            (6, 0, Some(2)),
            (6, 1, Some(1)),
            (6, 2, None),
            (10, 0, Some(32)),
            (40, 0, Some(900)),
            (40, 901, None),
        ];
        for (failures, ago, want) in cases {
            assert_eq!(
                wait_secs(failures, 1000, 1000 + ago, 5, 900, 900),
                want,
                "{failures} failures, {ago}s ago"
            );
        }
    }
}
