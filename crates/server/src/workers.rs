//! Background work: the projection catch-up, at start-up and every few seconds.

use std::time::Duration;

use xyt_store::projections::Projections;

pub fn spawn_catch_up(projections: Projections, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match projections.catch_up().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(orders = n, "catch-up refreshed lagging views"),
                Err(e) => tracing::warn!(error = format!("{e:#}"), "catch-up pass failed"),
            }
        }
    })
}
