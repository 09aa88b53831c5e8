//! Time as the domain sees it. Production uses the system clock; tests use a manual clock they
//! can move forward to expire sessions and rate-limit windows without sleeping.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock that starts at `start` and moves one microsecond per reading (so rows written
    /// one after the other keep their order), plus whatever [`Clock::advance`] adds.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Self { manual: Some(Arc::new(Mutex::new(start))) }
    }

    /// Now, to the microsecond: the precision both databases store, so a value read back
    /// compares equal to the value written.
    pub fn now(&self) -> DateTime<Utc> {
        let now = match &self.manual {
            Some(time) => {
                let mut time = time.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                *time += TimeDelta::microseconds(1);
                *time
            }
            None => Utc::now(),
        };
        now.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(now)
    }

    /// Moves a manual clock forward; the system clock ignores this.
    pub fn advance(&self, by: Duration) {
        if let Some(time) = &self.manual {
            let mut time = time.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            *time += TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        }
    }
}
