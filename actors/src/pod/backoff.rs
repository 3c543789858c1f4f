//! Kubernetes' crash-loop back-off: 10 s doubling to 5 min, reset after 10 min of running.

use std::time::Duration;

/// Longest back-off.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A container that ran this long starts its back-off over.
pub const RESET_AFTER: Duration = Duration::from_secs(600);

/// The delay before restart number `restarts + 1`, given how long the last run lasted.
pub fn delay(base: Duration, restarts: u32, last_run: Duration) -> Duration {
    if last_run >= RESET_AFTER {
        return base.min(MAX_BACKOFF);
    }
    let factor = 1u32.checked_shl(restarts.min(16)).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_resets() {
        let b = Duration::from_secs(10);
        let short = Duration::from_secs(1);
        let got: Vec<u64> = (0..7).map(|r| delay(b, r, short).as_secs()).collect();
        assert_eq!(got, [10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(delay(b, 6, Duration::from_secs(601)).as_secs(), 10);
        assert_eq!(delay(b, 40, short), MAX_BACKOFF);
    }
}
