//! What the admin views show about an order, as pure functions of its state: the suggested
//! action, the key statuses (关键状态), the exception overview (异常概览) and the fields whose
//! before/after values the event log records.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::state::{Order, OrderStatus, ReviewOutcome};
use crate::money;

/// 建议动作. `AwaitUserForm` is ours: the old system said nothing while the buyer had not filled
/// in the form, and operators asked what to do with such orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuggestedAction {
    AwaitUserForm,
    ManualReview,
    UploadPaymentProof,
    PushToAgent,
    RetryPush,
    UploadScreenshot,
    ReviewScreenshotMatch,
    NotifyUser,
    RetryNotification,
    SettleProfit,
    None,
}

impl SuggestedAction {
    pub const fn as_str(self) -> &'static str {
        match self {
            SuggestedAction::AwaitUserForm => "await_user_form",
            SuggestedAction::ManualReview => "manual_review",
            SuggestedAction::UploadPaymentProof => "upload_payment_proof",
            SuggestedAction::PushToAgent => "push_to_agent",
            SuggestedAction::RetryPush => "retry_push",
            SuggestedAction::UploadScreenshot => "upload_screenshot",
            SuggestedAction::ReviewScreenshotMatch => "review_screenshot_match",
            SuggestedAction::NotifyUser => "notify_user",
            SuggestedAction::RetryNotification => "retry_notification",
            SuggestedAction::SettleProfit => "settle_profit",
            SuggestedAction::None => "none",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            SuggestedAction::AwaitUserForm => "等待买家填写资料",
            SuggestedAction::ManualReview => "人工审核",
            SuggestedAction::UploadPaymentProof => "上传付款凭证",
            SuggestedAction::PushToAgent => "推送代理群",
            SuggestedAction::RetryPush => "重新推单",
            SuggestedAction::UploadScreenshot => "上传出票截图",
            SuggestedAction::ReviewScreenshotMatch => "复核截图匹配",
            SuggestedAction::NotifyUser => "通知用户",
            SuggestedAction::RetryNotification => "重发通知",
            SuggestedAction::SettleProfit => "结算分润",
            SuggestedAction::None => "无需操作",
        }
    }
}

/// One pipeline stage of 关键状态: `stage`/`stageLabel` name it, `status`/`statusLabel` say
/// where it is (`not_started`, in progress, done or failed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyStatus {
    pub stage: &'static str,
    pub stage_label: &'static str,
    pub status: &'static str,
    pub status_label: &'static str,
}

/// 异常概览: what blocks the order, why, and what to do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionOverview {
    pub title: String,
    pub reason: String,
    pub next_step: String,
}

const fn ks(
    stage: &'static str,
    stage_label: &'static str,
    status: &'static str,
    status_label: &'static str,
) -> KeyStatus {
    KeyStatus {
        stage,
        stage_label,
        status,
        status_label,
    }
}

impl Order {
    pub fn suggested_action(&self) -> SuggestedAction {
        match self.status {
            None | Some(OrderStatus::Cancelled) => SuggestedAction::None,
            Some(OrderStatus::AwaitingUserForm) => SuggestedAction::AwaitUserForm,
            Some(OrderStatus::PendingManualReview) => SuggestedAction::ManualReview,
            Some(OrderStatus::AwaitingPayment) => SuggestedAction::UploadPaymentProof,
            Some(OrderStatus::AwaitingPush) => SuggestedAction::PushToAgent,
            Some(OrderStatus::AwaitingTicket) => SuggestedAction::UploadScreenshot,
            Some(OrderStatus::PendingMatchReview) => SuggestedAction::ReviewScreenshotMatch,
            Some(OrderStatus::AwaitingUserNotification) => SuggestedAction::NotifyUser,
            Some(OrderStatus::Completed) => SuggestedAction::SettleProfit,
        }
    }

    /// 关键状态, in the order of the seed page.
    pub fn key_statuses(&self) -> Vec<KeyStatus> {
        let review = match (&self.review, self.status, &self.price_check) {
            (Some(ReviewOutcome::Approved { .. }), _, _) => ks("review", "审核", "approved", "人工通过"),
            (Some(ReviewOutcome::Rejected { .. }), _, _) => ks("review", "审核", "rejected", "人工拒绝"),
            (None, Some(OrderStatus::PendingManualReview), _) => ks("review", "审核", "pending", "待人工处理"),
            (None, _, Some(c)) if c.passed => ks("review", "审核", "passed", "价格校验通过"),
            (None, _, _) if self.unknown_goods => ks("review", "审核", "flagged", "需人工审核(商品未配置)"),
            _ => ks("review", "审核", "not_started", "未开始"),
        };
        vec![
            review,
            ks("payment", "代付", "not_started", "未开始"),
            ks("push", "推单", "not_started", "未开始"),
            ks("screenshot_match", "截图匹配", "not_started", "未开始"),
            ks("user_notification", "用户通知", "not_started", "未开始"),
            ks("profit_share", "分润", "not_ready", "未就绪"),
        ]
    }

    pub fn exception_overview(&self) -> Option<ExceptionOverview> {
        let o = |t: &str, r: String, n: &str| {
            Some(ExceptionOverview {
                title: t.into(),
                reason: r,
                next_step: n.into(),
            })
        };
        match self.status? {
            OrderStatus::Cancelled => o(
                "订单已取消",
                format!("原因:{}", self.cancel_reason.as_deref().unwrap_or("-")),
                "无需处理;如需恢复请联系买家重新下单。",
            ),
            OrderStatus::AwaitingUserForm if self.price_check_pending => o(
                "价格校验中",
                "买家已提交资料,系统正在校验价格。".into(),
                "稍候刷新;如长时间停留在此状态,请检查服务日志。",
            ),
            OrderStatus::PendingManualReview => {
                let reasons = self
                    .price_check
                    .as_ref()
                    .map(|c| self.price_check_reasons(c))
                    .unwrap_or_else(|| "价格校验未通过。".into());
                o(
                    "价格校验未通过,待人工审核",
                    reasons,
                    "核对价格与游玩日后人工审核:通过则进入代付,拒绝需填写原因并取消订单。",
                )
            }
            OrderStatus::AwaitingPayment => o(
                "待上传付款凭证",
                "当前还没有付款凭证,代理侧无法继续处理。".into(),
                "先上传付款凭证,再推送代理群",
            ),
            OrderStatus::AwaitingUserForm if self.unknown_goods => o(
                "商品未配置",
                format!(
                    "商品编码「{}」不在商品配置中,系统无法确定票种和价格。",
                    self.goods_no.as_deref().unwrap_or("-")
                ),
                "到配置中心补充该商品;买家提交资料后由人工审核价格。",
            ),
            OrderStatus::AwaitingUserForm => o(
                "待补用户资料",
                "买家还没有提交出票资料,无法校验价格,也无法推送代理。".into(),
                "等待买家通过卡密链接填写资料;买家找不到链接时,把订单详情里的表单链接发给买家。",
            ),
            _ => None,
        }
    }

    fn price_check_reasons(&self, c: &crate::pricing::PriceCheck) -> String {
        use crate::pricing::PriceCheckReason as R;
        let yuan =
            |d: Option<rust_decimal::Decimal>| d.map(|d| format!("¥{}", money::round_cents(d))).unwrap_or("-".into());
        let parts: Vec<String> = c
            .reasons
            .iter()
            .map(|r| match r {
                R::PayableBelowSettlement => format!(
                    "应付代下单金额 {} 低于结算价 {}({} {})",
                    yuan(c.payable_amount),
                    yuan(c.settlement_amount),
                    c.ticket_type.as_deref().unwrap_or("-"),
                    c.season_type.label()
                ),
                R::SeasonMismatch => format!(
                    "商品季节({})与游玩日 {} 的季节({})不符",
                    c.goods_season_label.as_deref().unwrap_or("-"),
                    c.play_date,
                    c.season_type.label()
                ),
                R::UnknownGoods => format!(
                    "商品「{}」未配置,无法确定票种和价格",
                    self.goods_no.as_deref().unwrap_or("-")
                ),
                R::NoSettlementPrice => format!(
                    "价格表里没有 {} {} 的结算价",
                    c.ticket_type.as_deref().unwrap_or("-"),
                    c.season_type.label()
                ),
            })
            .collect();
        format!("{}。", parts.join(";"))
    }

    /// The order fields the event log shows before and after each event (only those that
    /// changed are recorded).
    pub fn tracked_fields(&self) -> BTreeMap<&'static str, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                m.insert(k, v);
            }
        };
        put("orderNo", self.order_no.as_ref().map(|n| n.to_string()));
        put("externalOrderNo", self.external_order_no.clone());
        put("ticketType", self.ticket_type.clone());
        put("orderStatus", self.status.map(|s| s.label().to_string()));
        // As on the seed page: the virtual order is XGJ's order number, set once we answered it.
        put(
            "virtualOrderNo",
            self.virtual_order_status.and(self.external_order_no.clone()),
        );
        put("outOrderNo", self.out_order_no.as_ref().map(|n| n.to_string()));
        put("playDate", self.form.as_ref().map(|f| f.play_date.to_string()));
        put(
            "userSyncStatus",
            self.user_form_synced
                .map(|ok| if ok { "synced" } else { "failed" }.to_string()),
        );
        put(
            "priceCheck",
            self.price_check
                .as_ref()
                .map(|c| if c.passed { "passed" } else { "failed" }.to_string()),
        );
        put(
            "reviewStatus",
            self.review.as_ref().map(|r| match r {
                ReviewOutcome::Approved { .. } => "approved".to_string(),
                ReviewOutcome::Rejected { .. } => "rejected".to_string(),
            }),
        );
        put("virtualOrderStatus", self.virtual_order_status.map(|s| s.to_string()));
        m
    }
}
