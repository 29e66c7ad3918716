//! Purging what outlived its retention: finished and expired challenges with their contexts
//! and send records, old audit events, and ended limit windows.

use std::sync::Arc;

use chrono::TimeDelta;

use crate::{Clock, Cutoffs, Purged, Retention, StoreError};

/// How long rows are kept, and how many one statement deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// After a challenge's expiry (every challenge is finished by then).
    pub challenges: TimeDelta,
    pub audit_events: TimeDelta,
    /// The longest a limit window can last: older windows have ended.
    pub longest_window: TimeDelta,
    pub batch_size: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            challenges: TimeDelta::days(7),
            audit_events: TimeDelta::days(90),
            longest_window: TimeDelta::days(1),
            batch_size: 1000,
        }
    }
}

pub struct Purger {
    pub store: Arc<dyn Retention>,
    pub clock: Arc<dyn Clock>,
    pub policy: RetentionPolicy,
}

impl Purger {
    /// Deletes batch after batch until a batch finds nothing more to delete.
    #[tracing::instrument(skip_all)]
    pub async fn purge(&self) -> Result<Purged, StoreError> {
        let now = self.clock.now();
        let cutoffs = Cutoffs {
            challenges_expired_before: now - self.policy.challenges,
            events_before: now - self.policy.audit_events,
            windows_began_before: now - self.policy.longest_window,
        };
        let mut purged = Purged::default();
        loop {
            let batch = self
                .store
                .purge_batch(&cutoffs, self.policy.batch_size)
                .await?;
            purged += batch;
            let full = u64::from(self.policy.batch_size);
            if batch.challenges < full && batch.audit_events < full && batch.limit_windows < full {
                break;
            }
        }
        tracing::info!(
            challenges = purged.challenges,
            audit_events = purged.audit_events,
            limit_windows = purged.limit_windows,
            "purged what outlived its retention"
        );
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{MockClock, MockRetention};
    use crate::test_support::now;

    #[tokio::test]
    async fn purges_batch_after_batch_from_the_retention_cutoffs_until_one_is_not_full() {
        let mut store = MockRetention::new();
        let mut batches = vec![
            Purged {
                challenges: 2,
                audit_events: 0,
                limit_windows: 1,
            },
            Purged {
                challenges: 0,
                audit_events: 2,
                limit_windows: 0,
            },
            Purged {
                challenges: 1,
                audit_events: 0,
                limit_windows: 0,
            },
        ]
        .into_iter();
        store
            .expect_purge_batch()
            .withf(|cutoffs, batch| {
                *batch == 2
                    && cutoffs.challenges_expired_before == now() - TimeDelta::days(7)
                    && cutoffs.events_before == now() - TimeDelta::days(90)
                    && cutoffs.windows_began_before == now() - TimeDelta::days(1)
            })
            .times(3)
            .returning(move |_, _| Ok(batches.next().unwrap()));
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        let purger = Purger {
            store: Arc::new(store),
            clock: Arc::new(clock),
            policy: RetentionPolicy {
                batch_size: 2,
                ..RetentionPolicy::default()
            },
        };
        let purged = purger.purge().await.unwrap();
        assert_eq!(
            purged,
            Purged {
                challenges: 3,
                audit_events: 2,
                limit_windows: 1
            }
        );
    }
}
