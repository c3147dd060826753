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
    SubmitUserForm { form: BuyerForm },
    /// The system's price check, computed by the caller from the config for exactly `for_form`.
    RecordPriceCheck { check: PriceCheck, for_form: BuyerForm },
    /// An operator's manual review.
    Review(ReviewDecision),
    /// A delivery attempt finished (recorded once per attempt, whatever the order's state).
    RecordDeliveryAttempt(Box<DeliveryAttempted>),
    /// An operator asked for a resend.
    RequestResend(DeliveryResendRequested),
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
                xgj_trade: Some(trade),
                cancelled_at: Some(at),
            })]),
        }
    }

    /// The buyer may correct the form until the order is pushed to the agent.
    fn submit_form(&self, form: BuyerForm) -> Result<Vec<OrderEvent>, OrderError> {
        let status = self.status.ok_or(OrderError::NotFound)?;
        match status {
            OrderStatus::AwaitingUserForm
            | OrderStatus::PendingManualReview
            | OrderStatus::AwaitingPayment
            | OrderStatus::AwaitingPush => {}
            other => return Err(OrderError::FormLocked(other)),
        }
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

    /// Decides without side effects; `handle` only forwards to this, so tests and the service
    /// layer can call it directly too.
    pub fn decide(&self, command: OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        match command {
            OrderCommand::TakeInXgjOrder(c) => self.take_in(*c),
            OrderCommand::SubmitUserForm { form } => self.submit_form(form),
            OrderCommand::RecordPriceCheck { check, for_form } => self.record_price_check(check, for_form),
            OrderCommand::Review(decision) => self.review(decision),
            OrderCommand::RecordDeliveryAttempt(a) => {
                self.status.ok_or(OrderError::NotFound)?;
                if self.recorded_attempts.contains(&a.attempt_id) {
                    return Ok(vec![]);
                }
                let sent = a.delivery_status == "sent";
                Ok(vec![match a.notification_type.as_str() {
                    "user_form_group_push" if sent => OrderEvent::UserFormGroupPushed(*a),
                    "user_form_group_push" => OrderEvent::UserFormGroupPushFailed(*a),
                    _ => OrderEvent::UserPriceExceptionNotified(*a),
                }])
            }
            OrderCommand::RequestResend(r) => {
                self.status.ok_or(OrderError::NotFound)?;
                Ok(vec![OrderEvent::DeliveryResendRequested(r)])
            }
            OrderCommand::CancelByXgj { reason, trade, at } => self.cancel_by_xgj(reason, trade, at),
        }
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
            OrderEvent::OrderCancelled(e) => {
                self.cancelled_from = self.status;
                self.cancel_reason = Some(e.reason);
                self.status = Some(OrderStatus::Cancelled);
            }
        }
    }
}
