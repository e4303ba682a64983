//! The flood limit: how many messages one device may send a minute (in bursts of as many).
//! What goes over is counted against the device and logged, and nothing of it is written,
//! so that one broken or hostile device cannot crowd out the others.

use std::num::NonZeroU32;
use std::sync::Arc;

/// The default limit: ten messages a second, sustained for a minute.
pub const DEFAULT_PER_MINUTE: u32 = 600;

/// Messages allowed per device, shared by the MQTT subscriber and the HTTP ingest of a node.
#[derive(Clone)]
pub struct FloodLimit(Arc<governor::DefaultKeyedRateLimiter<i64>>);

impl FloodLimit {
    /// `per_minute` messages a minute per device.
    pub fn per_minute(per_minute: u32) -> FloodLimit {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        FloodLimit(Arc::new(governor::RateLimiter::keyed(
            governor::Quota::per_minute(n),
        )))
    }

    /// Of `n` messages from device `id`, how many are allowed.
    pub fn allow(&self, id: i64, n: usize) -> usize {
        let mut allowed = 0;
        while allowed < n && self.0.check_key(&id).is_ok() {
            allowed += 1;
        }
        if self.0.len() > 100_000 {
            self.0.retain_recent();
        }
        allowed
    }
}

impl std::fmt::Debug for FloodLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FloodLimit")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_over_its_limit_is_held_back_and_others_are_not() {
        let l = FloodLimit::per_minute(5);
        assert_eq!(l.allow(1, 3), 3);
        assert_eq!(l.allow(1, 3), 2);
        assert_eq!(l.allow(1, 1), 0);
        assert_eq!(l.allow(2, 5), 5);
    }
}
