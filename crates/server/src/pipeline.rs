//! The steps the system takes by itself, each following from the order's state: the price
//! check after a form submission, reading the agent's screenshot, telling the buyer, and the
//! profit share. Every step is idempotent (the aggregate refuses to repeat it), so the request
//! that caused it runs it at once and the sweep runs whatever a crash left undone.

use std::sync::Arc;

use chrono::Utc;
use xyt_domain::order::{EventMeta, OrderCommand, OrderError, OrderStatus, UserNotification};
use xyt_domain::pricing::{check_price, PriceCheckInput};
use xyt_domain::OrderNo;
use xyt_store::config_centre::cache::ConfigCache;
use xyt_store::orders::{Current, ExecuteError, OnConflict, OrderStore};
use xyt_store::PgPool;

pub struct Pipeline {
    pub pool: PgPool,
    pub config_cache: Arc<ConfigCache>,
    pub orders: Arc<OrderStore>,
    pub files: Arc<dyn xyt_integrations::files::FileStore>,
    pub ocr: Arc<dyn xyt_integrations::ocr::OcrEngine>,
    pub policy: StepPolicy,
    /// One runner of an order's owed steps at a time in this process: a request that finds the
    /// sweep already running them waits for it, so its answer shows their outcome.
    pub in_flight: OrderLocks,
}

/// Per-order async locks, dropped when no one holds or waits for them (memory bounded by the
/// orders being worked on right now).
#[derive(Default)]
pub struct OrderLocks(std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl OrderLocks {
    /// Runs `f` holding the order's lock; `f` is told whether it had to wait for it (someone
    /// else worked on the order meanwhile, so what the caller read before may be out of date).
    pub async fn run<T, F: std::future::Future<Output = T>>(&self, order_no: &str, f: impl FnOnce(bool) -> F) -> T {
        let lock = {
            let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
            m.entry(order_no.to_string()).or_default().clone()
        };
        let out = {
            let (_held, waited) = match lock.try_lock() {
                Ok(held) => (held, false),
                Err(_) => (lock.lock().await, true),
            };
            f(waited).await
        };
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Ours and the map's: nobody else waits, so the entry can go.
        if Arc::strong_count(&lock) == 2 {
            m.remove(order_no);
        }
        out
    }
}

/// How long each owed step may take, and how long an order whose steps keep failing
/// waits before the next attempt (doubling from `backoff_base` up to `backoff_max`, persisted in
/// `system_step_backoff`, so a restart does not retry a poisoned order at once either).
#[derive(Debug, Clone)]
pub struct StepPolicy {
    pub budget: std::time::Duration,
    pub backoff_base: std::time::Duration,
    pub backoff_max: std::time::Duration,
    /// The sweep leaves an order alone until it has not changed for this long: the request that
    /// caused a step runs it itself, and the sweep doing the same work at the same moment only
    /// made the request's answer show the view from before the sweep's refresh.
    pub sweep_grace: std::time::Duration,
}

impl Default for StepPolicy {
    fn default() -> Self {
        Self {
            // Tesseract's own timeout is 60 s; the rest are a few queries.
            budget: std::time::Duration::from_secs(90),
            backoff_base: std::time::Duration::from_secs(30),
            backoff_max: std::time::Duration::from_secs(6 * 3600),
            sweep_grace: std::time::Duration::from_secs(2),
        }
    }
}

fn system(request_id: &str) -> EventMeta {
    EventMeta::accepted("system", request_id, Utc::now())
}

impl Pipeline {
    /// Runs every step the order owes, in order, each on the state the one before left; a
    /// failing step is left to the sweep. Answers the order as the steps left it.
    pub async fn run_owed(&self, current: Current, request_id: &str) -> anyhow::Result<Current> {
        // Almost every command owes nothing: that is read from the state in hand.
        if !current.order().owes_system_step() {
            return Ok(current);
        }
        // Each step within the time budget: one that hangs (an OCR engine, a stuck query) fails
        // like any other and is backed off, instead of holding up the sweep.
        let budget = self.policy.budget;
        let current = within(budget, "price_check", self.price_check(current, request_id)).await?;
        let current = within(budget, "read_screenshot", self.read_screenshot(current, request_id)).await?;
        let current = within(budget, "notify_buyer", self.notify_buyer(current, request_id)).await?;
        within(budget, "profit_share", self.profit_share(current, request_id)).await
    }

    /// The price check an order owes, if any, with today's config; the event records every input.
    pub async fn price_check(&self, mut current: Current, request_id: &str) -> anyhow::Result<Current> {
        let order_no = current.order_no().clone();
        for _ in 0..5 {
            let order = current.order();
            let Some(form) = order.form.clone().filter(|_| order.price_check_pending) else {
                return Ok(current);
            };
            let calendar = self.config_cache.season_calendar().await?;
            let season_type = calendar.season_for(form.play_date);
            let settlement_amount = match &order.ticket_type {
                Some(t) => self.config_cache.settlement_amount(t, season_type).await?,
                None => None,
            };
            let check = check_price(PriceCheckInput {
                play_date: form.play_date,
                ticket_type: order.ticket_type.clone(),
                goods_season_label: order.season_label.clone(),
                paid_amount: order.paid_amount,
                fee_rate: self.config_cache.fee_rate().await?,
                season_type,
                settlement_amount,
            });
            let command = OrderCommand::RecordPriceCheck { check, for_form: form };
            match self
                .orders
                .execute_on(current, command, &system(request_id), OnConflict::Retry)
                .await
            {
                Ok(done) => return Ok(done.current),
                // The buyer corrected the form meanwhile: check the new one.
                Err(ExecuteError::Domain(OrderError::StalePriceCheck)) => {
                    current = self.orders.current(&order_no).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        anyhow::bail!("order {order_no}: the form kept changing during its price check")
    }

    /// OCR of the current screenshot, then the comparison with the order; both recorded with the
    /// engine's name and every field read. An engine failure leaves the reading owed (the sweep
    /// retries) and is logged; the operator can still review the image by eye.
    pub async fn read_screenshot(&self, current: Current, request_id: &str) -> anyhow::Result<Current> {
        use xyt_domain::matching::{extract_fields, match_screenshot, Expected};
        use xyt_domain::order::{ScreenshotMatch, ScreenshotOcrCompleted, ScreenshotState};
        let order = current.order();
        if order.screenshot_state != ScreenshotState::Reading {
            return Ok(current);
        }
        let Some(shot) = order.screenshot.clone() else {
            return Ok(current);
        };
        let bytes = self
            .files
            .get(&shot.sha256)
            .await?
            .ok_or_else(|| anyhow::anyhow!("screenshot {} missing from the file store", shot.sha256))?;
        let form = order.form.as_ref();
        let expected = Expected {
            name: form.map(|f| f.name.as_str().to_string()).unwrap_or_default(),
            certificate_no: form.map(|f| f.certificate_no.as_str().to_string()).unwrap_or_default(),
            play_date: form.map(|f| f.play_date).unwrap_or_default(),
            ticket_type: order.ticket_type.clone().unwrap_or_default(),
        };
        // OCR and matching take a place among the heavy jobs and run off the request workers.
        let permit = crate::heavy::permit().await;
        let mut ocr = self
            .ocr
            .read(&bytes)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
        let (raw, confidence) = (std::mem::take(&mut ocr.text), ocr.confidence);
        let (text, fields, outcome) = crate::heavy::run_held(move || {
            // What is recorded is what was read: capped, and without characters the database
            // refuses (a NUL in the text would make this step fail for ever).
            let text = recordable_ocr_text(&raw);
            let fields = extract_fields(&text);
            let outcome = match_screenshot(&fields, confidence, &expected);
            (text, fields, outcome)
        })
        .await?;
        drop(permit);
        ocr.text = text;
        let command = OrderCommand::RecordScreenshotReading {
            matched: outcome.matched,
            ocr: ScreenshotOcrCompleted {
                sha256: shot.sha256.clone(),
                engine: ocr.engine.clone(),
                text: ocr.text.clone(),
                fields: serde_json::to_value(&fields)?,
                confidence: ocr.confidence,
            },
            outcome: ScreenshotMatch {
                sha256: shot.sha256.clone(),
                comparisons: serde_json::to_value(&outcome.comparisons)?,
                reasons: outcome
                    .reasons
                    .iter()
                    .map(|r| serde_json::to_value(r).map(|v| v.as_str().unwrap_or_default().to_string()))
                    .collect::<Result<_, _>>()?,
                reason_labels: outcome.reasons.iter().map(|r| r.label().to_string()).collect(),
                confidence: outcome.confidence,
            },
        };
        let order_no = current.order_no().clone();
        match self
            .orders
            .execute_on(current, command, &system(request_id), OnConflict::Retry)
            .await
        {
            Ok(done) => Ok(done.current),
            // Replaced by a newer upload meanwhile: that one is read on its own turn.
            Err(ExecuteError::Domain(OrderError::StaleScreenshot)) => Ok(self.orders.current(&order_no).await?),
            Err(e) => Err(e.into()),
        }
    }

    /// After a match: the order was answered synchronously (order_status 20), so the buyer's
    /// page is where the buyer learns the result; it shows it from now on.
    pub async fn notify_buyer(&self, current: Current, request_id: &str) -> anyhow::Result<Current> {
        let order = current.order();
        if order.status != Some(OrderStatus::AwaitingUserNotification) {
            return Ok(current);
        }
        let notification = UserNotification {
            channel: "buyer_page".into(),
            target: order.form_link.clone().unwrap_or_default(),
            delivery_id: None,
        };
        let command = OrderCommand::RecordUserNotification { notification, ok: true };
        let done = self
            .orders
            .execute_on(current, command, &system(request_id), OnConflict::Retry)
            .await?;
        Ok(done.current)
    }

    /// On completion, the profit share the order owes ([`xyt_domain::order::Order::profit_share_due`]).
    pub async fn profit_share(&self, current: Current, request_id: &str) -> anyhow::Result<Current> {
        let order = current.order();
        if order.status != Some(OrderStatus::Completed) || order.profit_share.is_some() {
            return Ok(current);
        }
        let Some(share) = order.profit_share_due() else {
            tracing::warn!(order_no = %current.order_no(), "completed order has no revenue or cost to share");
            return Ok(current);
        };
        let done = self
            .orders
            .execute_on(
                current,
                OrderCommand::CalculateProfitShare(share),
                &system(request_id),
                OnConflict::Retry,
            )
            .await?;
        Ok(done.current)
    }

    /// Runs every step still owed (after a crash between a step's cause and the step), for the
    /// orders whose back-off is over; each order within the time budget.
    pub async fn sweep(&self) -> anyhow::Result<usize> {
        let mut done = 0;
        for no in xyt_store::step_backoff::due_orders(&self.pool, 200, self.policy.sweep_grace).await? {
            let Ok(order_no) = OrderNo::parse(&no) else { continue };
            let Ok(current) = self.orders.current(&order_no).await else {
                continue;
            };
            if self.run_owed_within_budget(current, "sweep").await.is_ok() {
                done += 1;
            }
        }
        Ok(done)
    }

    /// [`Self::run_owed`] (each step within the policy's budget), one runner per order at a
    /// time; a failure (or running out of time) is logged and backs the order off, a success
    /// ends its back-off.
    pub async fn run_owed_within_budget(&self, current: Current, request_id: &str) -> anyhow::Result<Current> {
        let order_no = current.order_no().clone();
        let result = self
            .in_flight
            .run(order_no.as_str(), |waited| async move {
                // Another runner went first: what it did is on the stream, not in `current`.
                let current = if waited {
                    self.orders.current(current.order_no()).await?
                } else {
                    current
                };
                self.run_owed(current, request_id).await
            })
            .await;
        match &result {
            Ok(_) => {
                if let Err(e) = xyt_store::step_backoff::clear(&self.pool, order_no.as_str()).await {
                    tracing::warn!(order_no = %order_no, error = %e, "could not clear the step back-off");
                }
            }
            Err(e) => {
                let error = format!("{e:#}");
                let p = &self.policy;
                match xyt_store::step_backoff::record_failure(
                    &self.pool,
                    order_no.as_str(),
                    &error,
                    p.backoff_base,
                    p.backoff_max,
                )
                .await
                {
                    Ok(b) => tracing::warn!(
                        order_no = %order_no, error, failures = b.failures, next_attempt_at = %b.next_attempt_at,
                        "owed step failed; backing off"
                    ),
                    Err(db) => tracing::warn!(order_no = %order_no, error, db_error = %db, "owed step failed"),
                }
            }
        }
        result
    }

    /// After a command: the steps it made owed, now, within the budget. A failure is left to
    /// the sweep (backed off) and the order is answered as it stands.
    pub async fn run_owed_after(&self, current: Current, request_id: &str) -> Result<Current, ExecuteError> {
        if !current.order().owes_system_step() {
            return Ok(current);
        }
        let order_no = current.order_no().clone();
        match self.run_owed_within_budget(current, request_id).await {
            Ok(current) => Ok(current),
            Err(_) => self.orders.current(&order_no).await,
        }
    }
}

/// `step` cut off after `budget`, as a failure of its own.
async fn within<T>(
    budget: std::time::Duration,
    step: &str,
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::time::timeout(budget, f)
        .await
        .map_err(|_| anyhow::anyhow!("{step} ran out of its {budget:?} budget"))?
}

/// The OCR text as the matcher reads it and the event records it: at most
/// [`xyt_domain::matching::MAX_OCR_CHARS`] characters, control characters other than line breaks
/// and tabs dropped.
pub fn recordable_ocr_text(text: &str) -> String {
    use xyt_domain::text::{is_refused, TextKind};
    text.chars()
        .filter(|&c| !is_refused(c, TextKind::MultiLine))
        .take(xyt_domain::matching::MAX_OCR_CHARS)
        .collect()
}
