//! The delivery worker: claims due deliveries (`FOR UPDATE SKIP LOCKED`, so any number of
//! processes can run it side by side), reserves each attempt (and a robot's per-minute budget)
//! before sending, records the outcome, backs off exponentially with jitter, and appends every
//! attempt's outcome to the order's stream. An outcome not yet on the stream (a crash between the
//! send's record and the event) is appended by the next pass; recording is idempotent per attempt.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use xyt_domain::delivery::{Channel, DeliveryKind, DeliveryStatus};
use xyt_domain::order::{DeliveryAttempted, EventMeta, OrderCommand, OrderError};
use xyt_domain::target::Target;
use xyt_domain::OrderNo;
use xyt_integrations::notify::{ErrorClass, Message, SendError, Sender};
use xyt_store::deliveries::{self, DeliveryRow, Outcome, Reservation, StoredChannel};
use xyt_store::orders::{ExecuteError, OnConflict, OrderStore};
use xyt_store::PgPool;

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub poll: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// How long a claimed delivery stays locked to its worker (then another may take it over).
    pub lease: Duration,
    /// At most this many messages a minute per WeCom robot.
    pub robot_per_minute: i64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(1),
            backoff_base: Duration::from_secs(10),
            backoff_cap: Duration::from_secs(30 * 60),
            lease: Duration::from_secs(60),
            robot_per_minute: 20,
        }
    }
}

pub struct DeliveryWorker {
    pub pool: PgPool,
    pub orders: Arc<OrderStore>,
    pub sender: Arc<dyn Sender>,
    pub files: Arc<dyn xyt_integrations::files::FileStore>,
    pub config: DeliveryConfig,
    /// Robot URLs outside WeCom are never called.
    pub targets: xyt_domain::target::AllowedTargets,
}

/// `base × 2^(attempt−1)`, capped, with ±20 % jitter so failed sends do not retry in lockstep.
pub fn backoff(config: &DeliveryConfig, attempt: i32) -> Duration {
    let exp = 2f64.powi((attempt - 1).clamp(0, 30));
    let raw = (config.backoff_base.as_secs_f64() * exp).min(config.backoff_cap.as_secs_f64());
    Duration::from_secs_f64(raw * rand::thread_rng().gen_range(0.8..=1.2))
}

impl DeliveryWorker {
    /// One pass: due deliveries, then outcomes still missing from the event streams.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let mut done = 0;
        loop {
            let due = deliveries::claim_due(&self.pool, 10, self.config.lease).await?;
            if due.is_empty() {
                break;
            }
            for row in due {
                if let Err(e) = self.process(row).await {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "delivery attempt failed to run; it will be retried"
                    );
                }
                done += 1;
            }
        }
        self.record_outcomes(None).await?;
        Ok(done)
    }

    /// Sends a claimed delivery once.
    pub async fn process(&self, row: DeliveryRow) -> anyhow::Result<()> {
        let per_minute =
            (row.channel == StoredChannel::Target(Channel::WecomBot)).then_some(self.config.robot_per_minute);
        let (attempt_id, attempt) = match deliveries::reserve_attempt(&self.pool, &row, per_minute).await? {
            Reservation::Deferred(until) => {
                tracing::info!(delivery = %row.id, %until, "robot budget spent for this minute; deferred");
                return Ok(());
            }
            Reservation::Reserved { attempt_id, attempt } => (attempt_id, attempt),
        };
        let result = match Target::parse(&row.target, row.kind.url_target()) {
            // A robot URL stored before the WeCom-only rule (or with another base) is never called.
            Ok(target @ Target::WecomRobot { .. }) if !self.targets.allows(&target) => Err(SendError {
                class: ErrorClass::Permanent,
                code: "TARGET_NOT_ALLOWED".into(),
                message: "机器人地址不是企业微信的 webhook 地址".into(),
                hint: Some("在配置中心改为企业微信机器人地址后补发".into()),
            }),
            Ok(target) => self.send_all(&target, &row).await,
            Err(e) => Err(SendError {
                class: ErrorClass::Permanent,
                code: "INVALID_TARGET".into(),
                message: e.0,
                hint: Some("修正目标后补发".into()),
            }),
        };
        let next;
        let outcome = match &result {
            Ok(ok) => Outcome {
                status: DeliveryStatus::Sent,
                error_code: None,
                error_message: None,
                error_hint: None,
                detail: Some(&ok.detail),
                next_attempt_at: None,
            },
            Err(e) => {
                let last = e.class == ErrorClass::Permanent || attempt >= row.max_attempts;
                next = (!last).then(|| Utc::now() + backoff(&self.config, attempt));
                Outcome {
                    status: if last {
                        DeliveryStatus::FailedPermanent
                    } else {
                        DeliveryStatus::FailedRetryable
                    },
                    error_code: Some(&e.code),
                    error_message: Some(&e.message),
                    error_hint: e.hint.as_deref(),
                    detail: None,
                    next_attempt_at: next,
                }
            }
        };
        deliveries::finish_attempt(&self.pool, row.id, attempt_id, &outcome).await?;
        xyt_store::metrics::inc(
            "xyt_delivery_attempts_total",
            "Delivery attempts by outcome",
            &[("outcome", outcome.status.as_str()), ("type", row.kind.as_str())],
        );
        match &result {
            Ok(_) => tracing::info!(delivery = %row.id, kind = %row.kind, attempt, "delivery sent"),
            Err(e) => {
                tracing::warn!(delivery = %row.id, kind = %row.kind, attempt, code = %e.code, status = outcome.status.as_str(), "delivery failed")
            }
        }
        self.record_outcomes(Some(attempt_id)).await
    }

    /// Appends finished attempts' outcomes to their orders' streams.
    pub async fn record_outcomes(&self, only: Option<i64>) -> anyhow::Result<()> {
        for a in deliveries::unrecorded_attempts(&self.pool, only, 100).await? {
            // A goods change has no order, so no stream to record on.
            let Some(order_no) = a.order_no.as_deref().and_then(|o| OrderNo::parse(o).ok()) else {
                deliveries::mark_recorded(&self.pool, a.attempt_id).await?;
                continue;
            };
            let extra = |k: &str| a.extra.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let event = DeliveryAttempted {
                delivery_id: a.delivery_id.to_string(),
                attempt_id: a.attempt_id,
                attempt: a.attempt,
                notification_type: a.kind.as_str().to_string(),
                notification_channel: a.channel.as_str().to_string(),
                notification_target: a.target_display.clone(),
                message_text: a.message_text.clone(),
                delivery_status: a.delivery_status.as_str().to_string(),
                reason: extra("reason"),
                paid_amount: extra("paidAmount"),
                settlement_amount: extra("settlementAmount"),
                target_group_id: extra("targetGroupId"),
            };
            let sent = a.outcome == DeliveryStatus::Sent;
            let meta = EventMeta {
                source: "system".into(),
                result: if sent { "accepted" } else { "rejected" }.into(),
                created_at: a.started_at,
                processed_at: a.finished_at,
                request_id: format!("delivery-{}", a.delivery_id),
                error_code: a.error_code.clone(),
                error_message: a.error_message.clone(),
            };
            match self
                .orders
                .execute(
                    &order_no,
                    OrderCommand::RecordDeliveryAttempt(Box::new(event)),
                    &meta,
                    OnConflict::Retry,
                )
                .await
            {
                Ok(_) | Err(ExecuteError::Domain(OrderError::NotFound)) => {
                    deliveries::mark_recorded(&self.pool, a.attempt_id).await?
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

impl DeliveryWorker {
    /// The message (text, or an XGJ callback's JSON body), then (for a push to the agent) the
    /// payment proof image.
    async fn send_all(
        &self,
        target: &Target,
        row: &DeliveryRow,
    ) -> Result<xyt_integrations::notify::SendOk, SendError> {
        let sent = self.sender.send(target, &message_of(row)?).await?;
        let Some(sha) = row.extra.get("proofSha256").and_then(|v| v.as_str()) else {
            return Ok(sent);
        };
        let bytes = match self.files.get(sha).await {
            Ok(Some(b)) => b,
            Ok(None) => {
                return Err(SendError::permanent(
                    "PROOF_MISSING",
                    format!("payment proof {sha} is not in the file store"),
                    Some("重新上传付款凭证后重试推单".into()),
                ))
            }
            Err(e) => return Err(SendError::retryable("FILE_STORE", e.to_string(), None)),
        };
        let image = self.sender.send(target, &Message::Image { bytes }).await?;
        Ok(xyt_integrations::notify::SendOk {
            detail: format!("{}; image: {}", sent.detail, image.detail),
        })
    }
}

/// What a delivery sends: XGJ callbacks carry their JSON body as the message text.
fn message_of(row: &DeliveryRow) -> Result<Message, SendError> {
    match row.kind {
        DeliveryKind::UserNotify | DeliveryKind::GoodsChange => serde_json::from_str(&row.message_text)
            .map(Message::XgjCallback)
            .map_err(|e| SendError::permanent("INVALID_BODY", format!("callback body is not JSON: {e}"), None)),
        DeliveryKind::PriceException
        | DeliveryKind::UserFormGroupPush
        | DeliveryKind::OrderPush
        | DeliveryKind::RefundAlert => Ok(Message::Text(row.message_text.clone())),
    }
}

pub fn spawn(worker: Arc<DeliveryWorker>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = worker.run_once().await {
                tracing::warn!(error = format!("{e:#}"), "delivery pass failed");
            }
            tokio::time::sleep(worker.config.poll).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let c = DeliveryConfig {
            backoff_base: Duration::from_secs(10),
            backoff_cap: Duration::from_secs(100),
            ..Default::default()
        };
        for (attempt, nominal) in [(1, 10.0), (2, 20.0), (3, 40.0), (4, 80.0), (5, 100.0), (30, 100.0)] {
            let d = backoff(&c, attempt).as_secs_f64();
            assert!(
                d >= nominal * 0.8 - 1e-9 && d <= nominal * 1.2 + 1e-9,
                "attempt {attempt}: {d}"
            );
        }
    }
}
