//! Commands on orders: load the stream, decide, commit with metadata, refresh the views.

use std::time::Duration;

use chrono::Utc;
use cqrs_es::persist::{EventStoreAggregateContext, PersistedEventStore};
use cqrs_es::{Aggregate, AggregateError, DomainEvent, EventEnvelope, EventStore};
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;
use xyt_domain::order::{EventMeta, Order, OrderCommand, OrderError};
use xyt_domain::OrderNo;

use crate::intake::NewClaim;
use crate::projections::{is_events_conflict, BatchWrite, Projections, ViewRefresh};

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
    /// reported. The views commit with the events; if they fail the events still commit and the
    /// catch-up heals the views, so a view error never fails the command.
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
            match self.try_execute(on, command.clone(), meta, Views::Refreshed).await {
                Err(ExecuteError::Conflict) if on_conflict == OnConflict::Retry && attempt < 8 => {
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                }
                other => break other,
            }
        };
        count_outcome(result.as_ref());
        let executed = result?;
        Ok(executed)
    }

    /// Decides and, when there is something to record, commits the events and (with
    /// [`Views::Refreshed`]) the order's views in one transaction.
    async fn try_execute(
        &self,
        current: Current,
        command: OrderCommand,
        meta: &EventMeta,
        views: Views,
    ) -> Result<Executed, ExecuteError> {
        let decided = Self::decide(current, command, meta)?;
        if decided.events.is_empty() {
            return Ok(Executed {
                events: vec![],
                current: decided.current,
            });
        }
        let store = |e: sqlx::Error| ExecuteError::Store(e.to_string());
        let mut tx = self.begin().await.map_err(store)?;
        let executed = self.insert(&mut tx, decided, views, None).await?;
        tx.commit().await.map_err(store)?;
        // Only a claim can stop an append from writing.
        executed.ok_or_else(|| ExecuteError::Store("an append without a claim wrote nothing".into()))
    }

    /// A command's transaction: begun with the view tables' lock and the savepoint its views
    /// sit behind, in one round trip.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin_with(crate::projections::begin_command()).await
    }

    /// Decides `command` on the order as loaded, without committing anything: the events it
    /// calls for, and the order as they would leave it, for a caller that must see that order
    /// before it commits (XGJ's intake keeps its answer in the same transaction).
    pub fn decide(current: Current, command: OrderCommand, meta: &EventMeta) -> Result<Decided, ExecuteError> {
        let events = current.order().decide(command)?;
        let mut meta = meta.clone();
        meta.processed_at = Utc::now();
        let metadata = meta.to_map();
        let Current { order_no, mut ctx } = current;
        let base = ctx.current_sequence;
        let events: Vec<EventEnvelope<Order>> = events
            .into_iter()
            .enumerate()
            .map(|(i, payload)| EventEnvelope {
                aggregate_id: order_no.as_str().to_string(),
                sequence: base + i + 1,
                payload,
                metadata: metadata.clone(),
            })
            .collect();
        for e in &events {
            ctx.aggregate.apply(e.payload.clone());
        }
        ctx.current_sequence += events.len();
        Ok(Decided {
            events,
            current: Current { order_no, ctx },
        })
    }

    /// Commits a new order as decided in the caller's transaction (begun by [`Self::begin`]),
    /// its number claimed for XGJ's order by the same statement that appends its events and
    /// writes its views. `None` when another call had claimed that order first: nothing of the
    /// order was written, and the transaction is to be dropped.
    pub async fn commit_claimed(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        decided: Decided,
        claim: &NewClaim<'_>,
    ) -> Result<Option<Executed>, ExecuteError> {
        let result = self.insert(tx, decided, Views::Refreshed, Some(claim)).await;
        match &result {
            Ok(Some(e)) => count_outcome(Ok(e)),
            Ok(None) => {}
            Err(e) => count_outcome(Err(e)),
        }
        result
    }

    /// Appends the events decided (and, for a new order claimed for XGJ's order, the claim) and
    /// the order's views, behind the savepoint [`Self::begin`] set: views that fail leave the
    /// events appended alone. A new order's views are folded from the events as decided and
    /// written by the statement that appends them; an existing order's are refreshed from its
    /// stream.
    async fn insert(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        decided: Decided,
        views: Views,
        claim: Option<&NewClaim<'_>>,
    ) -> Result<Option<Executed>, ExecuteError> {
        let new_order = decided.is_new_order();
        let Decided { events, current } = decided;
        if events.is_empty() {
            return Ok(Some(Executed { events, current }));
        }
        let order_no = current.order_no.clone();
        let store = |e: &dyn std::fmt::Display| ExecuteError::Store(e.to_string());
        let appended = |e: sqlx::Error| {
            if is_events_conflict(&e) {
                ExecuteError::Conflict
            } else {
                store(&e)
            }
        };
        let part = |w: &mut BatchWrite| {
            if let Some(claim) = claim {
                crate::intake::claim_part(w, claim, order_no.as_str())?;
            }
            events_part(w, order_no.as_str(), &events)
        };
        let (written, refreshed) = match views {
            Views::Refreshed if new_order => self
                .projections
                .append_new_order(tx, order_no.as_str(), &events, part)
                .await
                .map_err(appended)?,
            Views::Refreshed => (
                true,
                self.projections
                    .append(tx, order_no.as_str(), part)
                    .await
                    .map_err(appended)?,
            ),
            Views::Left => {
                let mut w = BatchWrite::default();
                part(&mut w).map_err(|e| store(&e))?;
                (w.execute(tx).await.map_err(appended)?, ViewRefresh::Done)
            }
        };
        if !written {
            return Ok(None);
        }
        if let ViewRefresh::Failed(e) = refreshed {
            tracing::warn!(order_no = %order_no, error = format!("{e:#}"), "view refresh failed; catch-up will heal it");
        }
        Ok(Some(Executed { events, current }))
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
        Ok(self.try_execute(current, command, meta, Views::Left).await?.events)
    }
}

fn count_outcome(result: Result<&Executed, &ExecuteError>) {
    let outcome = match result {
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
}

/// A command decided on an order, its events not committed yet ([`OrderStore::decide`]).
pub struct Decided {
    events: Vec<EventEnvelope<Order>>,
    /// The order as the events leave it.
    current: Current,
}

impl Decided {
    /// The order as the events would leave it.
    pub fn order(&self) -> &Order {
        self.current.order()
    }

    /// Whether these are the order's first events (nothing of it is stored yet).
    fn is_new_order(&self) -> bool {
        self.current.ctx.current_sequence == self.events.len()
    }
}

/// The events' columns, as stored: the payload and metadata in jsonb's normalised spelling
/// (as every event has been stored), which the chain trigger hashes.
const EVENT_COLUMNS: [(&str, &str); 7] = [
    ("aggregate_type", "text"),
    ("aggregate_id", "text"),
    ("sequence", "bigint"),
    ("event_type", "text"),
    ("event_version", "text"),
    ("payload", "jsonb::json"),
    ("metadata", "jsonb::json"),
];

/// Adds the append of `events` to a batch write: the one way events are inserted (the chain
/// trigger links each to the one before).
fn events_part(w: &mut BatchWrite, order_no: &str, events: &[EventEnvelope<Order>]) -> Result<(), sqlx::Error> {
    let metadata =
        serde_json::to_string(&events.first().map(|e| &e.metadata)).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let mut payloads = Vec::with_capacity(events.len());
    for e in events {
        payloads.push(serde_json::to_string(&e.payload).map_err(|e| sqlx::Error::Encode(Box::new(e)))?);
    }
    let arrays = vec![
        w.array(vec![Order::TYPE.to_string(); events.len()], "text")?,
        w.array(vec![order_no.to_string(); events.len()], "text")?,
        w.array(events.iter().map(|e| e.sequence as i64).collect::<Vec<_>>(), "bigint")?,
        w.array(
            events.iter().map(|e| e.payload.event_type()).collect::<Vec<_>>(),
            "text",
        )?,
        w.array(
            events.iter().map(|e| e.payload.event_version()).collect::<Vec<_>>(),
            "text",
        )?,
        w.array(payloads, "jsonb::json")?,
        w.array(vec![metadata; events.len()], "jsonb::json")?,
    ];
    w.insert("events", &EVENT_COLUMNS, arrays, "");
    Ok(())
}

/// Whether a commit brings the order's views along (always, but for the tests that show what a
/// crash between the two would leave).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Views {
    Refreshed,
    Left,
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
