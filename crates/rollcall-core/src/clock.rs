//! Time as the rules see it: unix seconds from a [`Clock`].
//!
//! Token expiry, meeting status and default windows all read the clock through this trait so
//! that the emulator can run on a virtual clock (SPEC §9) without the rules knowing.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of "now" in unix seconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> i64;

    /// The clock as a virtual one, if it is (the admin API moves it).
    fn as_virtual(&self) -> Option<&VirtualClock> {
        None
    }
}

/// The machine's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; shared by clones.
///
/// It remembers the time it started at, so that a reset (SPEC §9) can put it back there.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    now: Arc<AtomicI64>,
    start: i64,
}

impl VirtualClock {
    pub fn new(now: i64) -> Self {
        Self {
            now: Arc::new(AtomicI64::new(now)),
            start: now,
        }
    }
    pub fn set(&self, now: i64) {
        self.now.store(now, Ordering::SeqCst);
    }
    pub fn advance(&self, secs: i64) -> i64 {
        self.now.fetch_add(secs, Ordering::SeqCst) + secs
    }
    /// The time the clock was made at.
    pub fn start(&self) -> i64 {
        self.start
    }
    /// Back to [`Self::start`], for every clone.
    pub fn reset(&self) {
        self.set(self.start);
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn as_virtual(&self) -> Option<&VirtualClock> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_returns_every_clone_to_the_start() {
        let clock = VirtualClock::new(1_000);
        let clone = clock.clone();
        clone.advance(50);
        clock.set(7);
        clone.reset();
        assert_eq!((clock.now(), clock.start()), (1_000, 1_000));
    }
}
