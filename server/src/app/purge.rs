//! The background purge each instance runs every `purge.interval_secs`.

use std::sync::Arc;
use std::time::Duration;

use mfa_totp_application::purge::Purger;

/// Purges every `every`, from one `every` after start. A failed purge is logged and tried
/// again at the next tick; a purge stopped halfway (shutdown) leaves only whole batches done.
pub async fn purge_every(purger: Arc<Purger>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if let Err(error) = purger.purge().await {
            tracing::warn!(error = %error, "purge failed; trying again at the next interval");
        }
    }
}
