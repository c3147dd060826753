use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::buyer::BuyerForm;
use crate::ids::{OrderNo, OutOrderNo};
use crate::pricing::PriceCheck;

/// The goods config as it was when the order came in (XGJ's call carries no amount).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoodsSnapshot {
    pub goods_no: String,
    pub goods_name: String,
    pub goods_price_cent: i64,
    pub ticket_type: String,
    pub season_label: String,
}

/// The fields of XGJ's 创建卡密订单 call that the order needs; the raw body is kept beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct XgjPurchase {
    /// XGJ's `order_no`, our external order number.
    pub order_no: String,
    pub goods_no: String,
    pub buy_quantity: i64,
    pub notify_url: String,
    pub biz_order_no: String,
    pub max_amount: Option<i64>,
}

/// What an ERP order push said about the trade (闲鱼 order / refund state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct XgjTradeChange {
    pub order_status: i64,
    pub refund_status: i64,
    pub modify_time: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct XgjVirtualOrderReceived {
    pub order_no: OrderNo,
    pub external_order_no: String,
    pub biz_order_no: String,
    /// XGJ's body as received, plus the `mchId` of the query.
    pub request: serde_json::Value,
    pub goods_no: String,
    pub buy_quantity: i64,
    pub notify_url: String,
    /// `None` when the goods number is not configured: the buyer has paid, so the order is
    /// taken in all the same and flagged for manual review.
    pub goods_snapshot: Option<GoodsSnapshot>,
    pub ticket_type: Option<String>,
    pub season_label: Option<String>,
    /// goods price × quantity, `None` for unknown goods.
    pub paid_amount: Option<Decimal>,
    /// The platform fee rate in force at intake, and paid × (1 − rate) half-up to cents
    /// (应付代下单金额). The price check records its own inputs again when it runs.
    pub fee_rate: Decimal,
    pub payable_amount: Option<Decimal>,
    pub unknown_goods: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct XgjVirtualCardOrderCreated {
    pub request: serde_json::Value,
    pub out_order_no: OutOrderNo,
    /// XGJ's `order_status` we answered: 20 (已成功).
    pub virtual_order_status: i64,
    /// The buyer's form link, handed to XGJ as the card's `card_pwd`.
    pub form_link: String,
    pub form_token: String,
    /// `order_amount` we answered, in cents.
    pub order_amount_cent: i64,
    /// `order_time` / `end_time` we answered, Unix seconds.
    pub order_time: i64,
}

/// Version 2.0 added `cause`; version 1.0 rows are upcast on read (see [`upcast`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelled {
    pub reason: String,
    /// Who ended the order: `operator`, `xgj_trade` (the ERP push reported a refund or a closed
    /// trade), `xgj_refund_apply` (XGJ's 自动撤单, agreed before the agent was paid) or
    /// `xgj_refund_notify` (XGJ reported a refund).
    pub cause: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xgj_trade: Option<XgjTradeChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// XGJ's `/goofish/order/refund/apply` (自动撤单) and what we answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct XgjRefundApplied {
    /// XGJ's body as received.
    pub request: serde_json::Value,
    pub refund_amount_cent: Option<i64>,
    pub refund_reason: String,
    pub refund_scene: String,
    /// `agree` (the agent was not paid yet: the order is cancelled) or `merchant_decides`
    /// (the agent was paid: XGJ is refused and operators are alerted).
    pub decision: String,
    /// When we decided, Unix seconds (answered to XGJ as `refund_time`).
    #[serde(default)]
    pub decided_at: i64,
}

/// XGJ's `/goofish/order/refund/notify`: the refund went through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct XgjRefundNotified {
    pub request: serde_json::Value,
    pub refund_amount_cent: Option<i64>,
    pub refund_reason: String,
    /// XGJ's `refund_time`, Unix seconds.
    pub refund_time: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManualReviewApproved {
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManualReviewRejected {
    pub reason: String,
}

/// One attempt to deliver a message (to the ops bot, an agent group, the buyer through XGJ),
/// recorded on the order whatever its outcome; the metadata's `result` says accepted/rejected
/// and carries the error code and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempted {
    pub delivery_id: String,
    /// The attempt row; makes recording idempotent.
    pub attempt_id: i64,
    pub attempt: i32,
    /// `price_exception`, `user_form_group_push`, `order_push`, `user_notify`.
    pub notification_type: String,
    pub notification_channel: String,
    /// As shown (a robot's key masked).
    pub notification_target: String,
    pub message_text: String,
    /// `sent`, `failed_retryable` or `failed_permanent` after this attempt.
    pub delivery_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_id: Option<String>,
}

/// An operator asked for a delivery to be sent again, maybe to another target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryResendRequested {
    pub delivery_id: String,
    pub notification_type: String,
    pub notification_target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_target: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentConfirmed {
    /// What the operator paid the agent (代付), yuan.
    pub amount: Decimal,
    /// The active QR code paid to.
    pub qr_code_id: String,
    pub qr_code_label: String,
    pub paid_at: DateTime<Utc>,
}

/// An uploaded image (payment proof or agent screenshot), content-addressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredImage {
    /// The file's id: its sha256.
    pub file_id: String,
    pub sha256: String,
    pub content_type: String,
    pub size: i64,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPushRequested {
    pub agent_group_id: String,
    pub agent_group_name: String,
    pub target_group_id: Option<String>,
    pub notification_target: String,
    pub message_text: String,
}

/// What OCR read from the agent's screenshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotOcrCompleted {
    pub sha256: String,
    /// `mock` or `tesseract`.
    pub engine: String,
    pub text: String,
    /// The fields extracted from the text (name, certificate no, play date, ticket type).
    pub fields: serde_json::Value,
    pub confidence: f32,
}

/// The comparison of what was read with the order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotMatch {
    pub sha256: String,
    /// Per field: expected (masked), found, ok.
    pub comparisons: serde_json::Value,
    /// Stable reason codes (`name_mismatch`, `play_date_mismatch`, `low_confidence`, ...).
    pub reasons: Vec<String>,
    /// Their Chinese labels.
    pub reason_labels: Vec<String>,
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatorNote {
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserNotification {
    /// `buyer_page` (the form link shows the result) or `xgj_notify` (the order's notify_url).
    pub channel: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfitShare {
    /// The payable amount (应付代下单金额).
    pub revenue: Decimal,
    /// The settlement amount of the price check (or, without one, what was paid to the agent).
    pub cost: Decimal,
    pub profit: Decimal,
    /// `settlement_amount` or `payment_amount`.
    pub cost_basis: String,
}

/// Every event of an order. The serde tag of each variant is its stable wire name, the same
/// string `event_type` returns.
// Not boxed: events are built once and moved straight into the store, so the size of the
// largest variant costs nothing worth an indirection in every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderEvent {
    XgjVirtualOrderReceived(XgjVirtualOrderReceived),
    XgjVirtualCardOrderCreated(XgjVirtualCardOrderCreated),
    /// The buyer's form, exactly as validated; each submission is an event, the latest counts.
    UserFormSubmitted(BuyerForm),
    /// The price check with every input of its decision.
    PriceCheckPassed(PriceCheck),
    PriceCheckFailed(PriceCheck),
    ManualReviewApproved(ManualReviewApproved),
    ManualReviewRejected(ManualReviewRejected),
    OrderCancelled(OrderCancelled),
    /// The ops alert about a failed price check, sent or not.
    UserPriceExceptionNotified(DeliveryAttempted),
    /// The buyer's details reached the agent group.
    UserFormGroupPushed(DeliveryAttempted),
    UserFormGroupPushFailed(DeliveryAttempted),
    DeliveryResendRequested(DeliveryResendRequested),
    PaymentConfirmed(PaymentConfirmed),
    /// A new upload supersedes the last.
    PaymentProofUploaded(StoredImage),
    OrderPushRequested(OrderPushRequested),
    OrderPushedToAgent(DeliveryAttempted),
    OrderPushFailed(DeliveryAttempted),
    AgentScreenshotUploaded(StoredImage),
    ScreenshotOcrCompleted(ScreenshotOcrCompleted),
    ScreenshotMatched(ScreenshotMatch),
    ScreenshotMismatched(ScreenshotMatch),
    ScreenshotMatchConfirmed(OperatorNote),
    /// The operator asks the agent for a new screenshot.
    ScreenshotMatchRejected(OperatorNote),
    UserNotified(UserNotification),
    UserNotifyFailed(UserNotification),
    ProfitShareCalculated(ProfitShare),
    ProfitShareSettled(ProfitShare),
    XgjRefundApplied(XgjRefundApplied),
    XgjRefundNotified(XgjRefundNotified),
    /// The operators' alert about a refund XGJ asked for after the agent was paid, sent or not.
    RefundAlertNotified(DeliveryAttempted),
}

impl OrderEvent {
    pub const fn name(&self) -> &'static str {
        match self {
            OrderEvent::XgjVirtualOrderReceived(_) => "xgj_virtual_order_received",
            OrderEvent::XgjVirtualCardOrderCreated(_) => "xgj_virtual_card_order_created",
            OrderEvent::UserFormSubmitted(_) => "user_form_submitted",
            OrderEvent::PriceCheckPassed(_) => "price_check_passed",
            OrderEvent::PriceCheckFailed(_) => "price_check_failed",
            OrderEvent::ManualReviewApproved(_) => "manual_review_approved",
            OrderEvent::ManualReviewRejected(_) => "manual_review_rejected",
            OrderEvent::OrderCancelled(_) => "order_cancelled",
            OrderEvent::UserPriceExceptionNotified(_) => "user_price_exception_notified",
            OrderEvent::UserFormGroupPushed(_) => "user_form_group_pushed",
            OrderEvent::UserFormGroupPushFailed(_) => "user_form_group_push_failed",
            OrderEvent::DeliveryResendRequested(_) => "delivery_resend_requested",
            OrderEvent::PaymentConfirmed(_) => "payment_confirmed",
            OrderEvent::PaymentProofUploaded(_) => "payment_proof_uploaded",
            OrderEvent::OrderPushRequested(_) => "order_push_requested",
            OrderEvent::OrderPushedToAgent(_) => "order_pushed_to_agent",
            OrderEvent::OrderPushFailed(_) => "order_push_failed",
            OrderEvent::AgentScreenshotUploaded(_) => "agent_screenshot_uploaded",
            OrderEvent::ScreenshotOcrCompleted(_) => "screenshot_ocr_completed",
            OrderEvent::ScreenshotMatched(_) => "screenshot_matched",
            OrderEvent::ScreenshotMismatched(_) => "screenshot_mismatched",
            OrderEvent::ScreenshotMatchConfirmed(_) => "screenshot_match_confirmed",
            OrderEvent::ScreenshotMatchRejected(_) => "screenshot_match_rejected",
            OrderEvent::UserNotified(_) => "user_notified",
            OrderEvent::UserNotifyFailed(_) => "user_notify_failed",
            OrderEvent::ProfitShareCalculated(_) => "profit_share_calculated",
            OrderEvent::ProfitShareSettled(_) => "profit_share_settled",
            OrderEvent::XgjRefundApplied(_) => "xgj_refund_applied",
            OrderEvent::XgjRefundNotified(_) => "xgj_refund_notified",
            OrderEvent::RefundAlertNotified(_) => "refund_alert_notified",
        }
    }
}

impl DomainEvent for OrderEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }

    fn event_version(&self) -> String {
        match self {
            OrderEvent::OrderCancelled(_) => "2.0",
            _ => "1.0",
        }
        .to_string()
    }
}

/// Reads a stored payload of an older version as the current one. The one schema change so
/// far: `order_cancelled` 1.0 had no `cause`; it is derived from what 1.0 recorded (an ERP
/// trade change means XGJ ended it, otherwise an operator did).
pub fn upcast(event_type: &str, event_version: &str, mut payload: serde_json::Value) -> serde_json::Value {
    if event_type == "order_cancelled" && event_version == "1.0" {
        if let Some(inner) = payload.get_mut("order_cancelled").and_then(|v| v.as_object_mut()) {
            if !inner.contains_key("cause") {
                let by_xgj = inner.get("xgjTrade").is_some_and(|t| !t.is_null());
                inner.insert("cause".into(), if by_xgj { "xgj_trade" } else { "operator" }.into());
            }
        }
    }
    payload
}

/// The version [`upcast`] brings an event type to.
pub fn current_version(event_type: &str) -> &'static str {
    if event_type == "order_cancelled" {
        "2.0"
    } else {
        "1.0"
    }
}
