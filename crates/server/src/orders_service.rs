//! The one way a command reaches an order, whoever sends it (an operator, the buyer's form, an
//! upload, XGJ's intake, ERP and refund calls): load the order once, decide, commit the events
//! (the views follow in the store's way), run the system steps the command made owed, and
//! answer the order as all that left it. Handlers only turn HTTP into a command and the result
//! back into HTTP.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cqrs_es::EventEnvelope;
use xyt_domain::order::{ActionContext, EventMeta, Order, OrderCommand};
use xyt_domain::OrderNo;
use xyt_store::intake::NewClaim;
use xyt_store::orders::{Current, Decided, ExecuteError, OnConflict, OrderStore};
use xyt_store::views::{self, OrderDetail};
use xyt_store::PgPool;

use crate::delivery_worker::DeliveryWorker;
use crate::pipeline::Pipeline;

pub struct OrderService {
    pub pool: PgPool,
    pub orders: Arc<OrderStore>,
    pub pipeline: Arc<Pipeline>,
    pub delivery_worker: Arc<DeliveryWorker>,
    /// How long a request waits for a delivery a worker took first.
    pub settle_wait: Duration,
}

/// Who sends a command, recorded on its events: `admin:<user>`, `api:<key>`, `public`,
/// `xgj_virtual`, `system`.
#[derive(Debug, Clone)]
pub struct Actor {
    pub source: String,
    pub request_id: String,
    pub at: DateTime<Utc>,
}

impl Actor {
    /// `source`, in the current request, now.
    pub fn new(source: impl Into<String>) -> Self {
        Self::at(source, Utc::now())
    }

    pub fn at(source: impl Into<String>, at: DateTime<Utc>) -> Self {
        Self {
            source: source.into(),
            request_id: crate::request_id::current(),
            at,
        }
    }

    fn meta(&self) -> EventMeta {
        EventMeta::accepted(&self.source, &self.request_id, self.at)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No order by the number as it was given (or it is not a number of ours).
    #[error("order {0} not found")]
    NotFound(String),
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    #[error("{0}")]
    Infra(String),
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        ServiceError::Infra(e.to_string())
    }
}

/// What a command committed, and the order after it and the steps it made owed.
pub struct Ran {
    pub events: Vec<EventEnvelope<Order>>,
    pub current: Current,
}

impl Ran {
    pub fn order(&self) -> &Order {
        self.current.order()
    }
}

impl OrderService {
    /// The order named `order_no` (as typed), ready for a command.
    pub async fn current(&self, order_no: &str) -> Result<Current, ServiceError> {
        let not_found = || ServiceError::NotFound(order_no.to_string());
        let no = OrderNo::parse(order_no).map_err(|_| not_found())?;
        let current = self.orders.current(&no).await?;
        if !current.order().exists() {
            return Err(not_found());
        }
        Ok(current)
    }

    /// The order `order_no`, existing or not (a number claimed for an order yet to be taken in).
    pub async fn load(&self, order_no: &OrderNo) -> Result<Current, ServiceError> {
        Ok(self.orders.current(order_no).await?)
    }

    /// Whether the order would take `command` now, without committing anything: for a caller
    /// that must know before it does something costly (storing an upload).
    pub fn admits(current: &Current, command: OrderCommand) -> Result<(), ServiceError> {
        current
            .order()
            .decide(command)
            .map(drop)
            .map_err(|e| ServiceError::Execute(ExecuteError::Domain(e)))
    }

    /// Loads the order and runs `command` on it: see [`Self::run_on`].
    pub async fn run(&self, order_no: &OrderNo, command: OrderCommand, actor: &Actor) -> Result<Ran, ServiceError> {
        let current = self.load(order_no).await?;
        self.run_on(current, command, actor).await
    }

    /// Decides `command` on the order as loaded (again on the new state if another commit came
    /// first), commits it, runs the system steps it made owed, and answers the order as that
    /// left it: nothing is read back.
    pub async fn run_on(&self, current: Current, command: OrderCommand, actor: &Actor) -> Result<Ran, ServiceError> {
        // Boxed: the steps' futures (OCR among them) are large, and would otherwise sit on the
        // stack of every handler that runs a command.
        let done = Box::pin(
            self.orders
                .execute_on(current, command, &actor.meta(), OnConflict::Retry),
        )
        .await?;
        let current = Box::pin(self.pipeline.run_owed_after(done.current, &actor.request_id)).await?;
        Ok(Ran {
            events: done.events,
            current,
        })
    }

    /// Decides `command` on a new order numbered `order_no`, committing nothing: see
    /// [`Self::commit_claimed`].
    pub fn decide_new(
        &self,
        order_no: &OrderNo,
        command: OrderCommand,
        actor: &Actor,
    ) -> Result<Decided, ServiceError> {
        Ok(OrderStore::decide(self.orders.fresh(order_no), command, &actor.meta())?)
    }

    /// Commits a new order as decided, its number claimed for XGJ's order by the same statement
    /// that appends its events and writes its views (so the claim, the answer kept with it, the
    /// events and the views commit together or not at all), then runs the system steps it owes.
    /// `None` when another call claimed that order first: nothing was written.
    pub async fn commit_claimed(
        &self,
        decided: Decided,
        claim: &NewClaim<'_>,
        actor: &Actor,
    ) -> Result<Option<Ran>, ServiceError> {
        let mut tx = self.orders.begin().await?;
        let Some(done) = Box::pin(self.orders.commit_claimed(&mut tx, decided, claim)).await? else {
            return Ok(None);
        };
        tx.commit().await?;
        let current = Box::pin(self.pipeline.run_owed_after(done.current, &actor.request_id)).await?;
        Ok(Some(Ran {
            events: done.events,
            current,
        }))
    }

    /// An operator's command on the order `order_no` (as typed), answered with its detail.
    pub async fn command(
        &self,
        order_no: &str,
        command: OrderCommand,
        actor: &Actor,
    ) -> Result<OrderDetail, ServiceError> {
        let current = self.current(order_no).await?;
        let ran = self.run_on(current, command, actor).await?;
        self.detail(ran.current.order_no().as_str()).await
    }

    /// Sends now the delivery of `kind` that the command's first event created, rather than at
    /// the worker's next poll, and waits for a worker that took it first.
    pub async fn send_now(&self, ran: &Ran, kind: xyt_domain::delivery::DeliveryKind) -> Result<(), ServiceError> {
        let Some(seq) = ran.events.first().map(|e| e.sequence as i64) else {
            return Ok(());
        };
        let order_no = ran.current.order_no().as_str();
        let Some(id) = xyt_store::deliveries::created_by(&self.pool, order_no, seq, kind).await? else {
            return Ok(());
        };
        let worker = &self.delivery_worker;
        if let Some(row) = xyt_store::deliveries::claim_one(&self.pool, id, worker.config.lease).await? {
            worker
                .process(row)
                .await
                .map_err(|e| ServiceError::Infra(format!("{e:#}")))?;
        }
        xyt_store::deliveries::settle(&self.pool, id, self.settle_wait).await?;
        Ok(())
    }

    /// The order's detail as the views hold it, healed first when the event store is ahead of
    /// them (a crash between commit and view update; the catch-up would heal it within seconds).
    pub async fn detail(&self, order_no: &str) -> Result<OrderDetail, ServiceError> {
        let not_found = || ServiceError::NotFound(order_no.to_string());
        let no = OrderNo::parse(order_no).map_err(|_| not_found())?;
        if let Some(d) = views::order_detail(&self.pool, no.as_str()).await? {
            return self.with_live_config(&no, d).await;
        }
        if views::order_has_events(&self.pool, no.as_str()).await? {
            self.orders
                .projections()
                .refresh(no.as_str())
                .await
                .map_err(|e| ServiceError::Infra(format!("{e:#}")))?;
            if let Some(d) = views::order_detail(&self.pool, no.as_str()).await? {
                return self.with_live_config(&no, d).await;
            }
        }
        Err(not_found())
    }

    /// What the stored view cannot know: the QR code to pay with now, and the actions narrowed
    /// to the configuration (no active QR code, no agent group). A view stored before actions
    /// existed gets them from the aggregate.
    async fn with_live_config(&self, no: &OrderNo, mut d: OrderDetail) -> Result<OrderDetail, ServiceError> {
        d.active_qr_code = views::active_qr_code(&self.pool).await?;
        let ctx = ActionContext {
            active_qr_code: d.active_qr_code.is_some(),
            active_agent_group: views::has_active_agent_group(&self.pool).await?,
        };
        if d.available_actions.is_empty() {
            d.available_actions = self.orders.load(no).await?.available_actions(&ctx);
        } else {
            xyt_domain::order::actions::narrow_to(&mut d.available_actions, &ctx);
        }
        Ok(d)
    }
}
