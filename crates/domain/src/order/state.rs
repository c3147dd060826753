use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::events::*;
use crate::buyer::BuyerForm;
use crate::ids::{OrderNo, OutOrderNo};
use crate::money;
use crate::pricing::PriceCheck;

/// 订单状态. The wire names are stable; `label` gives the Chinese shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingUserForm,
    PendingManualReview,
    AwaitingPayment,
    AwaitingPush,
    AwaitingTicket,
    PendingMatchReview,
    AwaitingUserNotification,
    Completed,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 9] = [
        OrderStatus::AwaitingUserForm,
        OrderStatus::PendingManualReview,
        OrderStatus::AwaitingPayment,
        OrderStatus::AwaitingPush,
        OrderStatus::AwaitingTicket,
        OrderStatus::PendingMatchReview,
        OrderStatus::AwaitingUserNotification,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::AwaitingUserForm => "awaiting_user_form",
            OrderStatus::PendingManualReview => "pending_manual_review",
            OrderStatus::AwaitingPayment => "awaiting_payment",
            OrderStatus::AwaitingPush => "awaiting_push",
            OrderStatus::AwaitingTicket => "awaiting_ticket",
            OrderStatus::PendingMatchReview => "pending_match_review",
            OrderStatus::AwaitingUserNotification => "awaiting_user_notification",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            OrderStatus::AwaitingUserForm => "待补用户资料",
            OrderStatus::PendingManualReview => "待人工审核",
            OrderStatus::AwaitingPayment => "待代付",
            OrderStatus::AwaitingPush => "待推单",
            OrderStatus::AwaitingTicket => "待出票",
            OrderStatus::PendingMatchReview => "待复核",
            OrderStatus::AwaitingUserNotification => "待通知用户",
            OrderStatus::Completed => "已完成",
            OrderStatus::Cancelled => "已取消",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub const fn is_final(self) -> bool {
        matches!(self, OrderStatus::Completed | OrderStatus::Cancelled)
    }
}

/// The folded state of one order. Only `apply` changes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_no: Option<OrderNo>,
    pub external_order_no: Option<String>,
    pub biz_order_no: Option<String>,
    pub out_order_no: Option<OutOrderNo>,
    pub goods_no: Option<String>,
    pub goods: Option<GoodsSnapshot>,
    pub ticket_type: Option<String>,
    pub season_label: Option<String>,
    pub buy_quantity: i64,
    pub paid_amount: Option<Decimal>,
    pub fee_rate: Option<Decimal>,
    pub payable_amount: Option<Decimal>,
    pub notify_url: Option<String>,
    pub unknown_goods: bool,
    pub virtual_order_status: Option<i64>,
    pub form_token: Option<String>,
    pub form_link: Option<String>,
    pub order_amount_cent: i64,
    pub order_time: i64,
    pub status: Option<OrderStatus>,
    pub cancel_reason: Option<String>,
    pub cancelled_from: Option<OrderStatus>,
    /// The latest form the buyer submitted, and how many times they submitted one.
    pub form: Option<BuyerForm>,
    pub form_submissions: u32,
    /// A form was submitted and its price check has not been recorded yet (a crash in between
    /// is healed by the sweep that runs pending checks).
    pub price_check_pending: bool,
    pub price_check: Option<PriceCheck>,
    pub review: Option<ReviewOutcome>,
    /// Whether the buyer's details reached the agent group (`None` until tried).
    pub user_form_synced: Option<bool>,
    /// Delivery attempts already on the stream, so recording one twice adds nothing.
    pub recorded_attempts: std::collections::BTreeSet<i64>,
    pub payment: Option<PaymentConfirmed>,
    /// The current payment proof (the latest upload).
    pub payment_proof: Option<StoredImage>,
    pub push: PushState,
    pub push_request: Option<OrderPushRequested>,
    /// The current agent screenshot, and what became of it.
    pub screenshot: Option<StoredImage>,
    pub screenshot_state: ScreenshotState,
    pub ocr: Option<ScreenshotOcrCompleted>,
    pub screenshot_match: Option<ScreenshotMatch>,
    pub user_notification: NotificationState,
    pub profit_share: Option<ProfitShare>,
    pub profit_share_settled: bool,
    /// XGJ's refund application and our decision (the first one; repeats change nothing).
    pub refund_apply: Option<XgjRefundApplied>,
    /// XGJ reported the refund done.
    pub refunded: Option<XgjRefundNotified>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushState {
    #[default]
    NotStarted,
    /// Asked for, no outcome yet.
    Requested,
    Pushed,
    Failed,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScreenshotState {
    #[default]
    NotStarted,
    /// Uploaded; OCR and matching owed.
    Reading,
    Matched,
    Mismatched,
    Confirmed,
    Rejected,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationState {
    #[default]
    NotStarted,
    Notified,
    Failed,
}

/// The outcome of the latest manual review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReviewOutcome {
    Approved { note: String },
    Rejected { reason: String },
}

/// 人工审核: approve (with an optional note) or reject (with a required reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewDecision {
    Approve { note: String },
    Reject { reason: String },
}

/// Commands. Everything time- or randomness-dependent is decided by the caller and passed in.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderCommand {
    /// XGJ's 创建卡密订单: take the order in and create its virtual card order in one commit.
    TakeInXgjOrder(Box<TakeInXgjOrder>),
    /// The buyer submitted (or corrected) the form.
    SubmitUserForm {
        form: BuyerForm,
    },
    /// The system's price check, computed by the caller from the config for exactly `for_form`.
    RecordPriceCheck {
        check: PriceCheck,
        for_form: BuyerForm,
    },
    /// An operator's manual review.
    Review(ReviewDecision),
    /// A delivery attempt finished (recorded once per attempt, whatever the order's state).
    RecordDeliveryAttempt(Box<DeliveryAttempted>),
    /// An operator asked for a resend.
    RequestResend(DeliveryResendRequested),
    /// 确认付款 against the active QR code.
    ConfirmPayment(PaymentConfirmed),
    /// 上传付款凭证 (a new one supersedes the last).
    UploadPaymentProof(StoredImage),
    /// 推单: push the order with its proof to an agent group.
    RequestPush(OrderPushRequested),
    /// The agent's booking screenshot.
    UploadScreenshot(StoredImage),
    /// What OCR read from the screenshot `ocr.sha256`, and how it compares with the order.
    RecordScreenshotReading {
        ocr: ScreenshotOcrCompleted,
        outcome: ScreenshotMatch,
        matched: bool,
    },
    /// An operator confirms (true) or rejects (false) a mismatched screenshot.
    ReviewScreenshot {
        confirm: bool,
        note: String,
    },
    /// The buyer was told (or could not be).
    RecordUserNotification {
        notification: UserNotification,
        ok: bool,
    },
    CalculateProfitShare(ProfitShare),
    SettleProfitShare,
    /// An operator cancels the order before completion.
    Cancel {
        reason: String,
        at: DateTime<Utc>,
    },
    /// XGJ's 自动撤单 (`refund/apply`; `decision` is left empty, the order decides it).
    ApplyXgjRefund {
        apply: XgjRefundApplied,
        at: DateTime<Utc>,
    },
    /// XGJ's `refund/notify`: record the refund and cancel.
    RecordXgjRefund {
        notice: XgjRefundNotified,
        at: DateTime<Utc>,
    },
    /// XGJ's ERP push reported a refund or a closed trade.
    CancelByXgj {
        reason: String,
        trade: XgjTradeChange,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TakeInXgjOrder {
    pub order_no: OrderNo,
    pub out_order_no: OutOrderNo,
    pub form_token: String,
    pub form_link: String,
    pub request: serde_json::Value,
    pub purchase: XgjPurchase,
    pub goods: Option<GoodsSnapshot>,
    pub fee_rate: Decimal,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OrderError {
    #[error("the order does not exist")]
    NotFound,
    #[error("order {order_no} already holds XGJ order {existing}, not {requested}")]
    OtherExternalOrder {
        order_no: String,
        existing: String,
        requested: String,
    },
    #[error("buy_quantity must be at least 1, got {0}")]
    InvalidQuantity(i64),
    #[error("the order amount {amount_cent} cents is above max_amount {max_amount_cent} cents")]
    MaxAmountBelowPrice { amount_cent: i64, max_amount_cent: i64 },
    #[error("the fee rate must be in [0, 1), got {0}")]
    InvalidFeeRate(Decimal),
    #[error("the order amount overflows")]
    AmountOverflow,
    #[error("the order is completed and can no longer be cancelled")]
    AlreadyCompleted,
    #[error("the form can no longer be changed: the order is {0:?}")]
    FormLocked(OrderStatus),
    #[error("the price check was computed for another version of the form")]
    StalePriceCheck,
    #[error("{action} is not possible while the order is {status:?}")]
    InvalidState { action: &'static str, status: OrderStatus },
    #[error("a reason is required to reject")]
    ReasonRequired,
    #[error("the payment is already confirmed")]
    PaymentAlreadyConfirmed,
    #[error("confirm the payment first")]
    PaymentNotConfirmed,
    #[error("upload the payment proof first")]
    NoPaymentProof,
    #[error("a push is already under way")]
    PushInFlight,
    #[error("the screenshot was replaced meanwhile")]
    StaleScreenshot,
    #[error("the profit share is not ready")]
    ProfitShareNotReady,
    #[error("the profit share is already settled")]
    ProfitShareAlreadySettled,
}

impl OrderError {
    /// A stable code for API error envelopes and logs.
    pub const fn code(&self) -> &'static str {
        match self {
            OrderError::NotFound => "ORDER_NOT_FOUND",
            OrderError::OtherExternalOrder { .. } => "ORDER_NO_TAKEN",
            OrderError::InvalidQuantity(_) => "INVALID_QUANTITY",
            OrderError::MaxAmountBelowPrice { .. } => "MAX_AMOUNT_BELOW_PRICE",
            OrderError::AmountOverflow => "AMOUNT_OVERFLOW",
            OrderError::InvalidFeeRate(_) => "INVALID_FEE_RATE",
            OrderError::FormLocked(_) => "FORM_LOCKED",
            OrderError::StalePriceCheck => "STALE_PRICE_CHECK",
            OrderError::InvalidState { .. } => "INVALID_STATE",
            OrderError::ReasonRequired => "REASON_REQUIRED",
            OrderError::PaymentAlreadyConfirmed => "PAYMENT_ALREADY_CONFIRMED",
            OrderError::PaymentNotConfirmed => "PAYMENT_NOT_CONFIRMED",
            OrderError::NoPaymentProof => "NO_PAYMENT_PROOF",
            OrderError::PushInFlight => "PUSH_IN_FLIGHT",
            OrderError::StaleScreenshot => "STALE_SCREENSHOT",
            OrderError::ProfitShareNotReady => "PROFIT_SHARE_NOT_READY",
            OrderError::ProfitShareAlreadySettled => "PROFIT_SHARE_ALREADY_SETTLED",
            OrderError::AlreadyCompleted => "ORDER_COMPLETED",
        }
    }
}

impl Order {
    pub fn exists(&self) -> bool {
        self.order_no.is_some()
    }

    /// The amount XGJ is told for the order, in cents: goods price × quantity (0 when the
    /// goods are unknown: the price is then settled by manual review).
    fn amount_cent(goods: Option<&GoodsSnapshot>, quantity: i64) -> Result<i64, OrderError> {
        match goods {
            Some(g) => g
                .goods_price_cent
                .checked_mul(quantity)
                .ok_or(OrderError::AmountOverflow),
            None => Ok(0),
        }
    }

    fn take_in(&self, c: TakeInXgjOrder) -> Result<Vec<OrderEvent>, OrderError> {
        if let Some(existing) = &self.external_order_no {
            // XGJ retried, or a concurrent copy of the call won the race: nothing more to do.
            if *existing == c.purchase.order_no {
                return Ok(vec![]);
            }
            return Err(OrderError::OtherExternalOrder {
                order_no: c.order_no.to_string(),
                existing: existing.clone(),
                requested: c.purchase.order_no,
            });
        }
        if c.purchase.buy_quantity < 1 {
            return Err(OrderError::InvalidQuantity(c.purchase.buy_quantity));
        }
        if c.fee_rate < Decimal::ZERO || c.fee_rate >= Decimal::ONE {
            return Err(OrderError::InvalidFeeRate(c.fee_rate));
        }
        let amount_cent = Self::amount_cent(c.goods.as_ref(), c.purchase.buy_quantity)?;
        if let Some(max) = c.purchase.max_amount {
            if c.goods.is_some() && amount_cent > max {
                return Err(OrderError::MaxAmountBelowPrice {
                    amount_cent,
                    max_amount_cent: max,
                });
            }
        }
        let received = XgjVirtualOrderReceived {
            order_no: c.order_no,
            external_order_no: c.purchase.order_no.clone(),
            biz_order_no: c.purchase.biz_order_no.clone(),
            request: c.request.clone(),
            goods_no: c.purchase.goods_no.clone(),
            buy_quantity: c.purchase.buy_quantity,
            notify_url: c.purchase.notify_url.clone(),
            ticket_type: c.goods.as_ref().map(|g| g.ticket_type.clone()),
            season_label: c.goods.as_ref().map(|g| g.season_label.clone()),
            paid_amount: c.goods.as_ref().map(|_| money::from_cents(amount_cent)),
            payable_amount: c
                .goods
                .as_ref()
                .map(|_| money::payable(money::from_cents(amount_cent), c.fee_rate)),
            fee_rate: c.fee_rate,
            unknown_goods: c.goods.is_none(),
            goods_snapshot: c.goods,
        };
        let created = XgjVirtualCardOrderCreated {
            request: c.request,
            out_order_no: c.out_order_no,
            virtual_order_status: 20,
            form_link: c.form_link,
            form_token: c.form_token,
            order_amount_cent: amount_cent,
            order_time: c.received_at.timestamp(),
        };
        Ok(vec![
            OrderEvent::XgjVirtualOrderReceived(received),
            OrderEvent::XgjVirtualCardOrderCreated(created),
        ])
    }

    fn cancel_by_xgj(
        &self,
        reason: String,
        trade: XgjTradeChange,
        at: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        match self.status {
            None => Err(OrderError::NotFound),
            Some(OrderStatus::Cancelled) => Ok(vec![]),
            Some(OrderStatus::Completed) => Err(OrderError::AlreadyCompleted),
            Some(_) => Ok(vec![OrderEvent::OrderCancelled(OrderCancelled {
                reason,
                cause: "xgj_trade".into(),
                xgj_trade: Some(trade),
                cancelled_at: Some(at),
            })]),
        }
    }

    /// Before the agent is paid XGJ's refund is agreed and the order cancelled; after, the
    /// merchant decides (operators are alerted). A repeat changes nothing: the first decision
    /// stands and is answered again.
    fn apply_xgj_refund(&self, mut apply: XgjRefundApplied, at: DateTime<Utc>) -> Result<Vec<OrderEvent>, OrderError> {
        let status = self.status.ok_or(OrderError::NotFound)?;
        if self.refund_apply.is_some() {
            return Ok(vec![]);
        }
        let agent_paid = self.payment.is_some() || status == OrderStatus::Completed;
        if agent_paid {
            apply.decision = "merchant_decides".into();
            return Ok(vec![OrderEvent::XgjRefundApplied(apply)]);
        }
        apply.decision = "agree".into();
        let reason = format!(
            "闲管家自动撤单(代理未付款,同意退款){}",
            if apply.refund_reason.is_empty() {
                String::new()
            } else {
                format!(":{}", apply.refund_reason)
            }
        );
        let mut events = vec![OrderEvent::XgjRefundApplied(apply)];
        if status != OrderStatus::Cancelled {
            events.push(OrderEvent::OrderCancelled(OrderCancelled {
                reason,
                cause: "xgj_refund_apply".into(),
                xgj_trade: None,
                cancelled_at: Some(at),
            }));
        }
        Ok(events)
    }

    /// XGJ refunded: recorded once; the order is cancelled unless it already ended.
    fn record_xgj_refund(&self, notice: XgjRefundNotified, at: DateTime<Utc>) -> Result<Vec<OrderEvent>, OrderError> {
        let status = self.status.ok_or(OrderError::NotFound)?;
        if self.refunded.is_some() {
            return Ok(vec![]);
        }
        let reason = format!(
            "闲管家已退款{}",
            if notice.refund_reason.is_empty() {
                String::new()
            } else {
                format!(":{}", notice.refund_reason)
            }
        );
        let mut events = vec![OrderEvent::XgjRefundNotified(notice)];
        if !matches!(status, OrderStatus::Cancelled | OrderStatus::Completed) {
            events.push(OrderEvent::OrderCancelled(OrderCancelled {
                reason,
                cause: "xgj_refund_notify".into(),
                xgj_trade: None,
                cancelled_at: Some(at),
            }));
        }
        Ok(events)
    }

    /// The profit share a completed order owes: revenue is the payable amount, cost the
    /// settlement amount of the price check (or, without one, what was paid to the agent).
    pub fn profit_share_due(&self) -> Option<ProfitShare> {
        let check = self.price_check.as_ref();
        let revenue = check.and_then(|c| c.payable_amount).or(self.payable_amount)?;
        let (cost, cost_basis) = match check.and_then(|c| c.settlement_amount) {
            Some(s) => (s, "settlement_amount"),
            None => (self.payment.as_ref()?.amount, "payment_amount"),
        };
        let r = money::round_cents;
        Some(ProfitShare {
            revenue: r(revenue),
            cost: r(cost),
            profit: r(revenue - cost),
            cost_basis: cost_basis.into(),
        })
    }

    /// The buyer may correct the form until the order is pushed to the agent.
    pub fn form_editable(&self) -> Result<(), OrderError> {
        let status = self.status.ok_or(OrderError::NotFound)?;
        match status {
            OrderStatus::AwaitingUserForm
            | OrderStatus::PendingManualReview
            | OrderStatus::AwaitingPayment
            | OrderStatus::AwaitingPush => {}
            OrderStatus::AwaitingTicket
            | OrderStatus::PendingMatchReview
            | OrderStatus::AwaitingUserNotification
            | OrderStatus::Completed
            | OrderStatus::Cancelled => return Err(OrderError::FormLocked(status)),
        }
        match self.push {
            PushState::Requested | PushState::Pushed => Err(OrderError::FormLocked(status)),
            PushState::NotStarted | PushState::Failed => Ok(()),
        }
    }

    fn submit_form(&self, form: BuyerForm) -> Result<Vec<OrderEvent>, OrderError> {
        self.form_editable()?;
        // A double click, or a retry after a lost answer: the same form again is not news.
        if self.form.as_ref() == Some(&form) {
            return Ok(vec![]);
        }
        Ok(vec![OrderEvent::UserFormSubmitted(form)])
    }

    fn record_price_check(&self, check: PriceCheck, for_form: BuyerForm) -> Result<Vec<OrderEvent>, OrderError> {
        let status = self.status.ok_or(OrderError::NotFound)?;
        if !self.price_check_pending || status.is_final() {
            // Already recorded (a concurrent or repeated run), or nothing left to decide.
            return Ok(vec![]);
        }
        if self.form.as_ref() != Some(&for_form) || check.play_date != for_form.play_date {
            return Err(OrderError::StalePriceCheck);
        }
        Ok(vec![if check.passed {
            OrderEvent::PriceCheckPassed(check)
        } else {
            OrderEvent::PriceCheckFailed(check)
        }])
    }

    fn review(&self, decision: ReviewDecision) -> Result<Vec<OrderEvent>, OrderError> {
        let status = self.status.ok_or(OrderError::NotFound)?;
        if status != OrderStatus::PendingManualReview {
            return Err(OrderError::InvalidState {
                action: "manual_review",
                status,
            });
        }
        Ok(vec![match decision {
            ReviewDecision::Approve { note } => OrderEvent::ManualReviewApproved(ManualReviewApproved {
                note: note.trim().to_string(),
            }),
            ReviewDecision::Reject { reason } => {
                let reason = reason.trim().to_string();
                if reason.is_empty() {
                    return Err(OrderError::ReasonRequired);
                }
                OrderEvent::ManualReviewRejected(ManualReviewRejected { reason })
            }
        }])
    }

    fn require(&self, action: &'static str, allowed: &[OrderStatus]) -> Result<OrderStatus, OrderError> {
        let status = self.status.ok_or(OrderError::NotFound)?;
        if allowed.contains(&status) {
            Ok(status)
        } else {
            Err(OrderError::InvalidState { action, status })
        }
    }

    /// Decides without side effects; `handle` only forwards to this, so tests and the service
    /// layer can call it directly too. Every command has its own arm: a new one does not
    /// compile until it is decided here.
    pub fn decide(&self, command: OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        use OrderStatus as S;
        Ok(match command {
            OrderCommand::TakeInXgjOrder(c) => self.take_in(*c)?,
            OrderCommand::SubmitUserForm { form } => self.submit_form(form)?,
            OrderCommand::RecordPriceCheck { check, for_form } => self.record_price_check(check, for_form)?,
            OrderCommand::Review(decision) => self.review(decision)?,
            OrderCommand::RecordDeliveryAttempt(a) => {
                self.status.ok_or(OrderError::NotFound)?;
                if self.recorded_attempts.contains(&a.attempt_id) {
                    return Ok(vec![]);
                }
                use crate::delivery::DeliveryKind as K;
                let sent = a.delivery_status == "sent";
                vec![match a.notification_type.parse::<K>() {
                    Ok(K::OrderPush) if sent => OrderEvent::OrderPushedToAgent(*a),
                    Ok(K::OrderPush) => OrderEvent::OrderPushFailed(*a),
                    Ok(K::UserFormGroupPush) if sent => OrderEvent::UserFormGroupPushed(*a),
                    Ok(K::UserFormGroupPush) => OrderEvent::UserFormGroupPushFailed(*a),
                    Ok(K::RefundAlert) => OrderEvent::RefundAlertNotified(*a),
                    // Deliveries of other kinds are not attempts on an order's stream; an
                    // attempt of one is recorded as the alert kind, as it always was.
                    Ok(K::PriceException | K::UserNotify | K::GoodsChange) | Err(_) => {
                        OrderEvent::UserPriceExceptionNotified(*a)
                    }
                }]
            }
            OrderCommand::RequestResend(r) => {
                self.status.ok_or(OrderError::NotFound)?;
                vec![OrderEvent::DeliveryResendRequested(r)]
            }
            OrderCommand::CancelByXgj { reason, trade, at } => self.cancel_by_xgj(reason, trade, at)?,
            OrderCommand::ApplyXgjRefund { apply, at } => self.apply_xgj_refund(apply, at)?,
            OrderCommand::RecordXgjRefund { notice, at } => self.record_xgj_refund(notice, at)?,
            OrderCommand::ConfirmPayment(p) => {
                self.require("confirm_payment", &[S::AwaitingPayment])?;
                if self.payment.is_some() {
                    return Err(OrderError::PaymentAlreadyConfirmed);
                }
                vec![OrderEvent::PaymentConfirmed(p)]
            }
            OrderCommand::UploadPaymentProof(img) => {
                self.require("upload_payment_proof", &[S::AwaitingPayment, S::AwaitingPush])?;
                if self.payment.is_none() {
                    return Err(OrderError::PaymentNotConfirmed);
                }
                if self.push == PushState::Requested {
                    return Err(OrderError::PushInFlight);
                }
                if self.payment_proof.as_ref().is_some_and(|p| p.sha256 == img.sha256) {
                    return Ok(vec![]);
                }
                vec![OrderEvent::PaymentProofUploaded(img)]
            }
            OrderCommand::RequestPush(r) => {
                self.require("push_to_agent", &[S::AwaitingPush])?;
                if self.payment_proof.is_none() {
                    return Err(OrderError::NoPaymentProof);
                }
                if self.push == PushState::Requested {
                    return Err(OrderError::PushInFlight);
                }
                vec![OrderEvent::OrderPushRequested(r)]
            }
            OrderCommand::UploadScreenshot(img) => {
                self.require("upload_screenshot", &[S::AwaitingTicket, S::PendingMatchReview])?;
                if self.screenshot.as_ref().is_some_and(|s| s.sha256 == img.sha256) {
                    return Ok(vec![]);
                }
                vec![OrderEvent::AgentScreenshotUploaded(img)]
            }
            OrderCommand::RecordScreenshotReading { ocr, outcome, matched } => {
                if self.screenshot_state != ScreenshotState::Reading {
                    return Ok(vec![]);
                }
                if self.screenshot.as_ref().map(|s| &s.sha256) != Some(&ocr.sha256) || ocr.sha256 != outcome.sha256 {
                    return Err(OrderError::StaleScreenshot);
                }
                let verdict = if matched {
                    OrderEvent::ScreenshotMatched(outcome)
                } else {
                    OrderEvent::ScreenshotMismatched(outcome)
                };
                vec![OrderEvent::ScreenshotOcrCompleted(ocr), verdict]
            }
            OrderCommand::ReviewScreenshot { confirm, note } => {
                self.require("review_screenshot_match", &[S::PendingMatchReview])?;
                let note = OperatorNote {
                    note: note.trim().to_string(),
                };
                if confirm {
                    vec![OrderEvent::ScreenshotMatchConfirmed(note)]
                } else {
                    if note.note.is_empty() {
                        return Err(OrderError::ReasonRequired);
                    }
                    vec![OrderEvent::ScreenshotMatchRejected(note)]
                }
            }
            OrderCommand::RecordUserNotification { notification, ok } => {
                if self.status != Some(S::AwaitingUserNotification) {
                    return Ok(vec![]);
                }
                vec![if ok {
                    OrderEvent::UserNotified(notification)
                } else {
                    OrderEvent::UserNotifyFailed(notification)
                }]
            }
            OrderCommand::CalculateProfitShare(p) => {
                self.require("calculate_profit_share", &[S::Completed])?;
                if self.profit_share.is_some() {
                    return Ok(vec![]);
                }
                vec![OrderEvent::ProfitShareCalculated(p)]
            }
            OrderCommand::SettleProfitShare => {
                self.require("settle_profit_share", &[S::Completed])?;
                let Some(p) = self.profit_share.clone() else {
                    return Err(OrderError::ProfitShareNotReady);
                };
                if self.profit_share_settled {
                    return Err(OrderError::ProfitShareAlreadySettled);
                }
                vec![OrderEvent::ProfitShareSettled(p)]
            }
            OrderCommand::Cancel { reason, at } => {
                let status = self.status.ok_or(OrderError::NotFound)?;
                if status == S::Completed {
                    return Err(OrderError::AlreadyCompleted);
                }
                if status == S::Cancelled {
                    return Err(OrderError::InvalidState {
                        action: "cancel",
                        status,
                    });
                }
                let reason = reason.trim().to_string();
                if reason.is_empty() {
                    return Err(OrderError::ReasonRequired);
                }
                vec![OrderEvent::OrderCancelled(OrderCancelled {
                    reason,
                    cause: "operator".into(),
                    xgj_trade: None,
                    cancelled_at: Some(at),
                })]
            }
        })
    }
}

impl Aggregate for Order {
    const TYPE: &'static str = "Order";
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            OrderEvent::XgjVirtualOrderReceived(e) => {
                self.order_no = Some(e.order_no);
                self.external_order_no = Some(e.external_order_no);
                self.biz_order_no = Some(e.biz_order_no);
                self.goods_no = Some(e.goods_no);
                self.ticket_type = e.ticket_type;
                self.season_label = e.season_label;
                self.buy_quantity = e.buy_quantity;
                self.paid_amount = e.paid_amount;
                self.fee_rate = Some(e.fee_rate);
                self.payable_amount = e.payable_amount;
                self.notify_url = Some(e.notify_url);
                self.unknown_goods = e.unknown_goods;
                self.goods = e.goods_snapshot;
                self.status = Some(OrderStatus::AwaitingUserForm);
            }
            OrderEvent::XgjVirtualCardOrderCreated(e) => {
                self.out_order_no = Some(e.out_order_no);
                self.virtual_order_status = Some(e.virtual_order_status);
                self.form_link = Some(e.form_link);
                self.form_token = Some(e.form_token);
                self.order_amount_cent = e.order_amount_cent;
                self.order_time = e.order_time;
            }
            OrderEvent::UserFormSubmitted(form) => {
                self.form = Some(form);
                self.form_submissions += 1;
                self.price_check_pending = true;
            }
            OrderEvent::PriceCheckPassed(check) | OrderEvent::PriceCheckFailed(check) => {
                let passed = check.passed;
                self.price_check = Some(check);
                self.price_check_pending = false;
                // A check decides the status only before payment; later corrections (issue of
                // the fulfilment stage) keep the order where it is.
                if matches!(
                    self.status,
                    Some(
                        OrderStatus::AwaitingUserForm | OrderStatus::PendingManualReview | OrderStatus::AwaitingPayment
                    )
                ) {
                    self.review = None;
                    self.status = Some(if passed {
                        OrderStatus::AwaitingPayment
                    } else {
                        OrderStatus::PendingManualReview
                    });
                }
            }
            OrderEvent::ManualReviewApproved(e) => {
                self.review = Some(ReviewOutcome::Approved { note: e.note });
                self.status = Some(OrderStatus::AwaitingPayment);
            }
            OrderEvent::ManualReviewRejected(e) => {
                self.cancel_reason = Some(format!("人工审核拒绝:{}", e.reason));
                self.review = Some(ReviewOutcome::Rejected { reason: e.reason });
                self.cancelled_from = self.status;
                self.status = Some(OrderStatus::Cancelled);
            }
            OrderEvent::UserPriceExceptionNotified(a) => {
                self.recorded_attempts.insert(a.attempt_id);
            }
            OrderEvent::UserFormGroupPushed(a) => {
                self.recorded_attempts.insert(a.attempt_id);
                self.user_form_synced = Some(true);
            }
            OrderEvent::UserFormGroupPushFailed(a) => {
                self.recorded_attempts.insert(a.attempt_id);
                if self.user_form_synced != Some(true) {
                    self.user_form_synced = Some(false);
                }
            }
            OrderEvent::DeliveryResendRequested(_) => {}
            OrderEvent::PaymentConfirmed(p) => self.payment = Some(p),
            OrderEvent::PaymentProofUploaded(img) => {
                self.payment_proof = Some(img);
                if self.status == Some(OrderStatus::AwaitingPayment) {
                    self.status = Some(OrderStatus::AwaitingPush);
                }
            }
            OrderEvent::OrderPushRequested(r) => {
                self.push_request = Some(r);
                self.push = PushState::Requested;
            }
            OrderEvent::OrderPushedToAgent(a) => {
                self.recorded_attempts.insert(a.attempt_id);
                self.push = PushState::Pushed;
                if self.status == Some(OrderStatus::AwaitingPush) {
                    self.status = Some(OrderStatus::AwaitingTicket);
                }
            }
            OrderEvent::OrderPushFailed(a) => {
                self.recorded_attempts.insert(a.attempt_id);
                if self.push != PushState::Pushed {
                    self.push = PushState::Failed;
                }
            }
            OrderEvent::AgentScreenshotUploaded(img) => {
                self.screenshot = Some(img);
                self.screenshot_state = ScreenshotState::Reading;
                self.ocr = None;
                self.screenshot_match = None;
                if self.status == Some(OrderStatus::PendingMatchReview) {
                    self.status = Some(OrderStatus::AwaitingTicket);
                }
            }
            OrderEvent::ScreenshotOcrCompleted(o) => self.ocr = Some(o),
            OrderEvent::ScreenshotMatched(m) => {
                self.screenshot_match = Some(m);
                self.screenshot_state = ScreenshotState::Matched;
                if self.status == Some(OrderStatus::AwaitingTicket) {
                    self.status = Some(OrderStatus::AwaitingUserNotification);
                }
            }
            OrderEvent::ScreenshotMismatched(m) => {
                self.screenshot_match = Some(m);
                self.screenshot_state = ScreenshotState::Mismatched;
                if self.status == Some(OrderStatus::AwaitingTicket) {
                    self.status = Some(OrderStatus::PendingMatchReview);
                }
            }
            OrderEvent::ScreenshotMatchConfirmed(_) => {
                self.screenshot_state = ScreenshotState::Confirmed;
                self.status = Some(OrderStatus::AwaitingUserNotification);
            }
            OrderEvent::ScreenshotMatchRejected(_) => {
                self.screenshot_state = ScreenshotState::Rejected;
                self.status = Some(OrderStatus::AwaitingTicket);
            }
            OrderEvent::UserNotified(_) => {
                self.user_notification = NotificationState::Notified;
                self.status = Some(OrderStatus::Completed);
            }
            OrderEvent::UserNotifyFailed(_) => self.user_notification = NotificationState::Failed,
            OrderEvent::ProfitShareCalculated(p) => self.profit_share = Some(p),
            OrderEvent::ProfitShareSettled(_) => self.profit_share_settled = true,
            OrderEvent::XgjRefundApplied(a) => self.refund_apply = Some(a),
            OrderEvent::XgjRefundNotified(n) => self.refunded = Some(n),
            OrderEvent::RefundAlertNotified(a) => {
                self.recorded_attempts.insert(a.attempt_id);
            }
            OrderEvent::OrderCancelled(e) => {
                self.cancelled_from = self.status;
                self.cancel_reason = Some(e.reason);
                self.status = Some(OrderStatus::Cancelled);
            }
        }
    }
}
