//! What the admin views show about an order, as pure functions of its state: the suggested
//! action, the key statuses (关键状态), the exception overview (异常概览) and the fields whose
//! before/after values the event log records.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::state::{NotificationState, Order, OrderStatus, PushState, ReviewOutcome, ScreenshotState};
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

/// 关键状态 by name, so that a view picks the stage it means rather than an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatuses {
    pub review: KeyStatus,
    pub payment: KeyStatus,
    pub push: KeyStatus,
    pub screenshot_match: KeyStatus,
    pub user_notification: KeyStatus,
    pub profit_share: KeyStatus,
}

impl KeyStatuses {
    /// The stages in the order of the seed page.
    pub fn into_vec(self) -> Vec<KeyStatus> {
        vec![
            self.review,
            self.payment,
            self.push,
            self.screenshot_match,
            self.user_notification,
            self.profit_share,
        ]
    }
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
            Some(OrderStatus::AwaitingPush) => match self.push {
                PushState::Failed => SuggestedAction::RetryPush,
                PushState::Requested => SuggestedAction::None,
                _ => SuggestedAction::PushToAgent,
            },
            Some(OrderStatus::AwaitingTicket) => SuggestedAction::UploadScreenshot,
            Some(OrderStatus::PendingMatchReview) => SuggestedAction::ReviewScreenshotMatch,
            Some(OrderStatus::AwaitingUserNotification) => match self.user_notification {
                NotificationState::Failed => SuggestedAction::RetryNotification,
                _ => SuggestedAction::NotifyUser,
            },
            Some(OrderStatus::Completed) if self.profit_share.is_some() && !self.profit_share_settled => {
                SuggestedAction::SettleProfit
            }
            Some(OrderStatus::Completed) => SuggestedAction::None,
        }
    }

    /// 关键状态, in the order of the seed page.
    pub fn key_statuses(&self) -> Vec<KeyStatus> {
        self.key_status().into_vec()
    }

    /// 关键状态 by stage.
    pub fn key_status(&self) -> KeyStatuses {
        let review = match (&self.review, self.status, &self.price_check) {
            (Some(ReviewOutcome::Approved { .. }), _, _) => ks("review", "审核", "approved", "人工通过"),
            (Some(ReviewOutcome::Rejected { .. }), _, _) => ks("review", "审核", "rejected", "人工拒绝"),
            (None, Some(OrderStatus::PendingManualReview), _) => ks("review", "审核", "pending", "待人工处理"),
            (None, _, Some(c)) if c.passed => ks("review", "审核", "passed", "价格校验通过"),
            (None, _, _) if self.unknown_goods => ks("review", "审核", "flagged", "需人工审核(商品未配置)"),
            _ => ks("review", "审核", "not_started", "未开始"),
        };
        let payment = match (&self.payment, &self.payment_proof) {
            (_, Some(_)) => ks("payment", "代付", "proof_uploaded", "已上传凭证"),
            (Some(_), None) => ks("payment", "代付", "confirmed", "已付款,待传凭证"),
            (None, None) => ks("payment", "代付", "not_started", "未开始"),
        };
        let push = match self.push {
            PushState::NotStarted => ks("push", "推单", "not_started", "未开始"),
            PushState::Requested => ks("push", "推单", "requested", "推送中"),
            PushState::Pushed => ks("push", "推单", "pushed", "已推送"),
            PushState::Failed => ks("push", "推单", "failed", "推送失败"),
        };
        let screenshot = match self.screenshot_state {
            ScreenshotState::NotStarted => ks("screenshot_match", "截图匹配", "not_started", "未开始"),
            ScreenshotState::Reading => ks("screenshot_match", "截图匹配", "reading", "识别中"),
            ScreenshotState::Matched => ks("screenshot_match", "截图匹配", "matched", "匹配"),
            ScreenshotState::Mismatched => ks("screenshot_match", "截图匹配", "mismatched", "不匹配,待复核"),
            ScreenshotState::Confirmed => ks("screenshot_match", "截图匹配", "confirmed", "人工确认"),
            ScreenshotState::Rejected => ks("screenshot_match", "截图匹配", "rejected", "已驳回,待重传"),
        };
        let notification = match self.user_notification {
            NotificationState::NotStarted => ks("user_notification", "用户通知", "not_started", "未开始"),
            NotificationState::Notified => ks("user_notification", "用户通知", "notified", "已通知"),
            NotificationState::Failed => ks("user_notification", "用户通知", "failed", "通知失败"),
        };
        let profit = match (&self.profit_share, self.profit_share_settled) {
            (Some(_), true) => ks("profit_share", "分润", "settled", "已结算"),
            (Some(_), false) => ks("profit_share", "分润", "ready", "待结算"),
            (None, _) => ks("profit_share", "分润", "not_ready", "未就绪"),
        };
        KeyStatuses {
            review,
            payment,
            push,
            screenshot_match: screenshot,
            user_notification: notification,
            profit_share: profit,
        }
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
            OrderStatus::AwaitingPush => match self.push {
                PushState::Failed => o(
                    "推单失败",
                    "上次推送代理群没有成功,代理还不知道这个订单。".into(),
                    "查看通知投递里的错误,修正后重试推单,必要时换一个代理群",
                ),
                PushState::Requested => o("推单中", "正在推送到代理群。".into(), "稍候刷新查看推送结果"),
                _ => o("待推单", "付款凭证已上传,还没有推送给代理。".into(), "推送代理群"),
            },
            OrderStatus::AwaitingTicket if self.screenshot_state == ScreenshotState::Reading => o(
                "截图识别中",
                "代理截图已上传,系统正在识别并匹配。".into(),
                "稍候刷新;识别结果会自动匹配订单",
            ),
            OrderStatus::AwaitingTicket => o(
                "待出票",
                if self.screenshot_state == ScreenshotState::Rejected {
                    "上一张截图已被驳回,需要代理重新出票截图。".into()
                } else {
                    "已推送代理,还没有代理的出票截图。".into()
                },
                "收到代理截图后上传,系统会自动识别并匹配",
            ),
            OrderStatus::PendingMatchReview => o(
                "截图与订单不符,待复核",
                self.screenshot_match
                    .as_ref()
                    .map(|m| format!("{}。", m.reason_labels.join(";")))
                    .unwrap_or_else(|| "截图与订单不符。".into()),
                "核对截图:确认匹配则通知用户;驳回则请代理重新出票截图",
            ),
            OrderStatus::AwaitingUserNotification if self.user_notification == NotificationState::Failed => o(
                "用户通知失败",
                "出票结果没能通知到买家。".into(),
                "查看通知投递里的错误后重发通知",
            ),
            OrderStatus::Completed if self.profit_share.is_some() && !self.profit_share_settled => o(
                "待结算分润",
                "订单已完成,分润已计算但还没有结算。".into(),
                "核对收入、成本与利润后结算分润",
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
        let stages = self.key_status();
        let started = |k: &KeyStatus, idle: &str| Some(k.status.to_string()).filter(|s| s != idle);
        put("paymentStatus", started(&stages.payment, "not_started"));
        put("pushStatus", started(&stages.push, "not_started"));
        put(
            "screenshotMatchStatus",
            started(&stages.screenshot_match, "not_started"),
        );
        put(
            "userNotificationStatus",
            started(&stages.user_notification, "not_started"),
        );
        put("profitShareStatus", started(&stages.profit_share, "not_ready"));
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

impl Order {
    /// Whether the system owes this order a step it takes by itself (a price check, reading a
    /// screenshot, telling the buyer, computing the profit share). The sweep runs such steps
    /// after a crash left them undone.
    pub fn owes_system_step(&self) -> bool {
        match self.status {
            None | Some(OrderStatus::Cancelled) => false,
            Some(OrderStatus::AwaitingUserNotification) => self.user_notification != NotificationState::Notified,
            Some(OrderStatus::Completed) => self.profit_share.is_none(),
            Some(_) => self.price_check_pending || self.screenshot_state == ScreenshotState::Reading,
        }
    }
}
