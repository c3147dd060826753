//! Background work, at start-up and every few seconds: the projection catch-up, then the sweep
//! of system steps a crash left undone.

use std::time::Duration;

use std::sync::Arc;

use xyt_store::orders::OrderStore;

/// Catch-up of the views, then the owed system steps (which read the views' work lists).
pub fn spawn_catch_up(
    orders: Arc<OrderStore>,
    pipeline: Arc<crate::pipeline::Pipeline>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let projections = orders.projections().clone();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let started = std::time::Instant::now();
            let caught_up = projections.catch_up().await;
            xyt_store::metrics::observe(
                "xyt_catch_up_duration_seconds",
                "Duration of each catch-up pass",
                &[("outcome", if caught_up.is_ok() { "ok" } else { "error" })],
                started.elapsed().as_secs_f64(),
            );
            match caught_up {
                Ok(0) => {}
                Ok(n) => tracing::info!(orders = n, "catch-up refreshed lagging views"),
                Err(e) => tracing::warn!(error = format!("{e:#}"), "catch-up pass failed"),
            }
            match pipeline.sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(orders = n, "sweep ran owed system steps"),
                Err(e) => tracing::warn!(error = format!("{e:#}"), "system-step sweep failed"),
            }
        }
    })
}
