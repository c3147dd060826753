//! Commands on orders: load the stream, decide, commit with metadata, refresh the views.

use std::time::Duration;

use chrono::Utc;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{AggregateContext, AggregateError, EventEnvelope, EventStore};
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;
use xyt_domain::order::{EventMeta, Order, OrderCommand, OrderError};
use xyt_domain::OrderNo;

use crate::projections::Projections;

#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error(transparent)]
    Domain(#[from] OrderError),
    /// Another command committed to the same order first. Operators' commands surface this
    /// as "the order changed, reload"; system commands retry.
    #[error("the order changed while the command ran")]
    Conflict,
    #[error("event store: {0}")]
    Store(String),
}

impl From<AggregateError<OrderError>> for ExecuteError {
    fn from(e: AggregateError<OrderError>) -> Self {
        match e {
            AggregateError::UserError(e) => ExecuteError::Domain(e),
            AggregateError::AggregateConflict => ExecuteError::Conflict,
            other => ExecuteError::Store(other.to_string()),
        }
    }
}

/// Whether a conflicting concurrent commit is retried or reported. Retrying is safe for every
/// command: `decide` runs again on the new state, so an operator whose command no longer fits
/// (another operator won) gets its refusal, while one that still fits is not refused merely
/// because the worker recorded a delivery attempt on the same order meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    Retry,
    Report,
}

pub struct OrderStore {
    pool: PgPool,
    store: PersistedEventStore<PostgresEventRepository, Order>,
    projections: Projections,
}

impl OrderStore {
    pub fn new(pool: PgPool) -> Self {
        let store = PersistedEventStore::new_event_store(PostgresEventRepository::new(pool.clone()));
        Self {
            projections: Projections::new(pool.clone()),
            pool,
            store,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn projections(&self) -> &Projections {
        &self.projections
    }

    /// The current state of an order (not-existing orders load as the default state).
    pub async fn load(&self, order_no: &OrderNo) -> Result<Order, ExecuteError> {
        let mut ctx = self.store.load_aggregate(order_no.as_str()).await?;
        Ok(ctx.aggregate().clone())
    }

    /// Runs a command and returns the committed events (none when the command found its work
    /// already done). The views are refreshed afterwards; if that fails the catch-up heals it,
    /// so a view error never fails the command.
    pub async fn execute(
        &self,
        order_no: &OrderNo,
        command: OrderCommand,
        meta: &EventMeta,
        on_conflict: OnConflict,
    ) -> Result<Vec<EventEnvelope<Order>>, ExecuteError> {
        let mut attempt = 0u32;
        let result = loop {
            attempt += 1;
            match self.try_execute(order_no, command.clone(), meta).await {
                Err(ExecuteError::Conflict) if on_conflict == OnConflict::Retry && attempt < 8 => {
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                }
                other => break other,
            }
        };
        let outcome = match &result {
            Ok(c) if c.is_empty() => "no_change",
            Ok(_) => "committed",
            Err(ExecuteError::Domain(_)) => "refused",
            Err(ExecuteError::Conflict) => "conflict",
            Err(ExecuteError::Store(_)) => "error",
        };
        crate::metrics::inc(
            "xyt_commands_total",
            "Order commands by outcome",
            &[("outcome", outcome)],
        );
        let committed = result?;
        if !committed.is_empty() {
            if let Err(e) = self.projections.refresh(order_no.as_str()).await {
                tracing::warn!(order_no = %order_no, error = %e, "view refresh failed; catch-up will heal it");
            }
        }
        Ok(committed)
    }

    async fn try_execute(
        &self,
        order_no: &OrderNo,
        command: OrderCommand,
        meta: &EventMeta,
    ) -> Result<Vec<EventEnvelope<Order>>, ExecuteError> {
        let mut ctx = self.store.load_aggregate(order_no.as_str()).await?;
        let events = ctx.aggregate().decide(command)?;
        if events.is_empty() {
            return Ok(vec![]);
        }
        let mut meta = meta.clone();
        meta.processed_at = Utc::now();
        Ok(self.store.commit(events, ctx, meta.to_map()).await?)
    }

    /// Commits events without refreshing any view: what a crash right after the commit leaves
    /// behind. Tests use it to show that the catch-up heals the views.
    pub async fn commit_without_views(
        &self,
        order_no: &OrderNo,
        command: OrderCommand,
        meta: &EventMeta,
    ) -> Result<Vec<EventEnvelope<Order>>, ExecuteError> {
        self.try_execute(order_no, command, meta).await
    }
}
