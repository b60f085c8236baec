//! Time as Unix seconds, injectable: services read `now` from a `Clock`, tests move it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp()
    }
}

/// A clock for tests: it starts at the system time and moves only when told, so that what
/// a test checks (a throttle's wait, a code's expiry) does not depend on how fast the
/// machine runs the test.
#[derive(Debug)]
pub struct OffsetClock {
    now: AtomicI64,
}

impl OffsetClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            now: AtomicI64::new(chrono::Utc::now().timestamp()),
        })
    }

    pub fn advance(&self, secs: i64) {
        self.now.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}
