//! Commands on orders: load the stream, decide, commit with metadata, refresh the views.

use std::time::Duration;

use chrono::Utc;
use cqrs_es::persist::{EventStoreAggregateContext, PersistedEventStore};
use cqrs_es::{Aggregate, AggregateError, EventEnvelope, EventStore};
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

/// Reads older event versions as the current ones when the aggregate loads (the projections
/// call the same [`xyt_domain::order::upcast`]).
struct Upcaster;

impl cqrs_es::persist::EventUpcaster for Upcaster {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        event_version != xyt_domain::order::current_version(event_type)
    }

    fn upcast(&self, mut event: cqrs_es::persist::SerializedEvent) -> cqrs_es::persist::SerializedEvent {
        event.payload = xyt_domain::order::upcast(&event.event_type, &event.event_version, event.payload);
        event.event_version = xyt_domain::order::current_version(&event.event_type).to_string();
        event
    }
}

pub struct OrderStore {
    pool: PgPool,
    store: PersistedEventStore<PostgresEventRepository, Order>,
    projections: Projections,
}

impl OrderStore {
    pub fn new(pool: PgPool) -> Self {
        let store = PersistedEventStore::new_event_store(PostgresEventRepository::new(pool.clone()))
            .with_upcasters(vec![Box::new(Upcaster)]);
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
        Ok(self.current(order_no).await?.into_order())
    }

    /// The order as it stands, ready for a command: its state and the sequence it is at.
    pub async fn current(&self, order_no: &OrderNo) -> Result<Current, ExecuteError> {
        Ok(Current {
            order_no: order_no.clone(),
            ctx: self.store.load_aggregate(order_no.as_str()).await?,
        })
    }

    /// An order whose stream is known to be empty (its number was just claimed): no read.
    /// Were the stream not empty after all, the commit would conflict and be decided again on
    /// what is there.
    pub fn fresh(&self, order_no: &OrderNo) -> Current {
        Current {
            order_no: order_no.clone(),
            ctx: EventStoreAggregateContext {
                aggregate_id: order_no.as_str().to_string(),
                aggregate: Order::default(),
                current_sequence: 0,
                current_snapshot: None,
            },
        }
    }

    /// Loads the order, then runs a command on it: see [`Self::execute_on`].
    pub async fn execute(
        &self,
        order_no: &OrderNo,
        command: OrderCommand,
        meta: &EventMeta,
        on_conflict: OnConflict,
    ) -> Result<Executed, ExecuteError> {
        let current = self.current(order_no).await?;
        self.execute_on(current, command, meta, on_conflict).await
    }

    /// Runs a command on the order as the caller loaded it and returns the committed events
    /// (none when the command found its work already done) with the order as they left it, so
    /// nothing is read again. A concurrent commit is retried (reloaded, decided again) or
    /// reported. The views are refreshed afterwards; if that fails the catch-up heals it, so a
    /// view error never fails the command.
    pub async fn execute_on(
        &self,
        current: Current,
        command: OrderCommand,
        meta: &EventMeta,
        on_conflict: OnConflict,
    ) -> Result<Executed, ExecuteError> {
        let order_no = current.order_no.clone();
        let mut current = Some(current);
        let mut attempt = 0u32;
        let result = loop {
            attempt += 1;
            let on = match current.take() {
                Some(c) => c,
                None => match self.current(&order_no).await {
                    Ok(c) => c,
                    Err(e) => break Err(e),
                },
            };
            match self.try_execute(on, command.clone(), meta).await {
                Err(ExecuteError::Conflict) if on_conflict == OnConflict::Retry && attempt < 8 => {
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                }
                other => break other,
            }
        };
        let outcome = match &result {
            Ok(c) if c.events.is_empty() => "no_change",
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
        let executed = result?;
        if !executed.events.is_empty() {
            if let Err(e) = self.projections.refresh(order_no.as_str()).await {
                tracing::warn!(order_no = %order_no, error = %e, "view refresh failed; catch-up will heal it");
            }
        }
        Ok(executed)
    }

    async fn try_execute(
        &self,
        current: Current,
        command: OrderCommand,
        meta: &EventMeta,
    ) -> Result<Executed, ExecuteError> {
        let events = current.order().decide(command)?;
        if events.is_empty() {
            return Ok(Executed {
                events: vec![],
                current,
            });
        }
        let mut meta = meta.clone();
        meta.processed_at = Utc::now();
        let Current { order_no, ctx } = current;
        let (mut after, sequence) = (ctx.aggregate.clone(), ctx.current_sequence);
        let snapshot = ctx.current_snapshot;
        let committed = self.store.commit(events, ctx, meta.to_map()).await?;
        for e in &committed {
            after.apply(e.payload.clone());
        }
        let ctx = EventStoreAggregateContext {
            aggregate_id: order_no.as_str().to_string(),
            aggregate: after,
            current_sequence: sequence + committed.len(),
            current_snapshot: snapshot,
        };
        Ok(Executed {
            events: committed,
            current: Current { order_no, ctx },
        })
    }

    /// Commits events without refreshing any view: what a crash right after the commit leaves
    /// behind. Tests use it to show that the catch-up heals the views.
    pub async fn commit_without_views(
        &self,
        order_no: &OrderNo,
        command: OrderCommand,
        meta: &EventMeta,
    ) -> Result<Vec<EventEnvelope<Order>>, ExecuteError> {
        let current = self.current(order_no).await?;
        Ok(self.try_execute(current, command, meta).await?.events)
    }
}

/// An order as loaded, or as the last command left it: what the next command decides on.
pub struct Current {
    order_no: OrderNo,
    ctx: EventStoreAggregateContext<Order>,
}

impl Current {
    pub fn order_no(&self) -> &OrderNo {
        &self.order_no
    }

    pub fn order(&self) -> &Order {
        &self.ctx.aggregate
    }

    pub fn into_order(self) -> Order {
        self.ctx.aggregate
    }
}

/// What a command committed, and the order as it left it.
pub struct Executed {
    pub events: Vec<EventEnvelope<Order>>,
    pub current: Current,
}
