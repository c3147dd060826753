//! CPU-heavy work (image decoding, OCR, screenshot matching) runs here: on tokio's blocking
//! threads, never on the two HTTP workers, and at most [`limit`] at a time, so a burst of large
//! uploads queues up instead of starving every other request (or the memory).

use std::sync::LazyLock;

use tokio::sync::{Semaphore, SemaphorePermit};

/// One per core: more would only fight over the same cores.
pub fn limit() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8)
}

static PERMITS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(limit()));

/// A place among the [`limit`] heavy jobs; held while an async step (an OCR process) runs.
pub async fn permit() -> SemaphorePermit<'static> {
    PERMITS
        .acquire()
        .await
        .expect("the heavy-work semaphore is never closed")
}

/// Runs `f` on a blocking thread, after waiting for a place.
pub async fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let _permit = permit().await;
    run_held(f).await
}

/// Runs `f` on a blocking thread; the caller already holds a [`permit`].
pub async fn run_held<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| anyhow::anyhow!("heavy job failed: {e}"))
}
