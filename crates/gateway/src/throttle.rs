//! A per-address limit on the public, unauthenticated sign-in endpoints (`/login/sso` writes a
//! pending request; the ACS does signature work and writes audit events), so that one client
//! cannot flood the database or the CPU. It is per instance, in memory: an approximation that
//! needs nothing shared, unlike the password-failure limits, which must hold across instances.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most `per_window` requests per client address in each `window`.
#[derive(Debug)]
pub struct Throttle {
    per_window: u32,
    window: Duration,
    seen: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Throttle {
    pub fn new(per_window: u32, window: Duration) -> Self {
        Throttle { per_window, window, seen: Mutex::new(HashMap::new()) }
    }

    /// Counts a request from `address` (an IPv6 address counts as its /64, see
    /// `directory::sign_in::address_key`); false when it is over the limit.
    pub fn allow(&self, address: &str, now: Instant) -> bool {
        let address = &directory::sign_in::address_key(address);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 100_000 {
            // Forget stale windows before the table grows without bound.
            let window = self.window;
            seen.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = seen.entry(address.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_window
    }

    /// True when `address` has used up its window, without counting this look: for limits on
    /// failures, where only a failure counts.
    pub fn exhausted(&self, address: &str, now: Instant) -> bool {
        let address = &directory::sign_in::address_key(address);
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(address).is_some_and(|(start, n)| now.duration_since(*start) < self.window && *n >= self.per_window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_each_address_within_its_window() {
        let t = Throttle::new(3, Duration::from_secs(60));
        let now = Instant::now();
        assert!((0..3).all(|_| t.allow("10.0.0.1", now)));
        assert!(!t.allow("10.0.0.1", now));
        assert!(t.allow("10.0.0.2", now), "other addresses are not affected");
        assert!(t.allow("10.0.0.1", now + Duration::from_secs(61)), "a new window starts");
    }

    #[test]
    fn ipv6_addresses_count_as_their_64() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let now = Instant::now();
        assert!(t.allow("2001:db8:1:2::1", now) && t.allow("2001:db8:1:2::ffff", now));
        assert!(!t.allow("2001:db8:1:2:abcd::9", now), "the same /64");
        assert!(t.exhausted("2001:db8:1:2::5", now));
        assert!(t.allow("2001:db8:1:3::1", now), "another /64");
    }

    #[test]
    fn exhausted_looks_without_counting() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let now = Instant::now();
        assert!(!t.exhausted("10.0.0.1", now));
        assert!(!t.exhausted("10.0.0.1", now), "looking does not count");
        t.allow("10.0.0.1", now);
        assert!(!t.exhausted("10.0.0.1", now));
        t.allow("10.0.0.1", now);
        assert!(t.exhausted("10.0.0.1", now));
        assert!(!t.exhausted("10.0.0.1", now + Duration::from_secs(61)));
    }
}
