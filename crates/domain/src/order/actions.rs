//! 订单操作: which operator commands an order accepts right now, and in the seed page's words
//! why a refused one is refused. The console only draws what this says, so the business rules
//! live here once, next to `decide`, which enforces the same rules (a test walks both).

use serde::{Deserialize, Serialize};

use super::state::{Order, OrderStatus, PushState};

/// One operator command on an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderAction {
    /// 人工审核 (approve or reject with a note).
    ManualReview,
    /// 确认付款 against the active QR code.
    ConfirmPayment,
    /// 上传付款凭证 / 重新上传覆盖.
    UploadPaymentProof,
    /// 推送代理群 / 修改目标群后重试.
    PushToAgent,
    /// 截图上传 (the agent's booking screenshot).
    UploadScreenshot,
    /// 待复核: confirm or reject a mismatched screenshot.
    ReviewScreenshotMatch,
    /// 分润结算.
    SettleProfitShare,
    /// 取消订单.
    Cancel,
}

impl OrderAction {
    pub const ALL: [OrderAction; 8] = [
        OrderAction::ManualReview,
        OrderAction::ConfirmPayment,
        OrderAction::UploadPaymentProof,
        OrderAction::PushToAgent,
        OrderAction::UploadScreenshot,
        OrderAction::ReviewScreenshotMatch,
        OrderAction::SettleProfitShare,
        OrderAction::Cancel,
    ];
}

/// One entry of `availableActions`: the action, its button label, whether it is possible now,
/// and when it is not, why (shown next to the disabled button).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AvailableAction {
    pub action: OrderAction,
    pub label: String,
    pub enabled: bool,
    /// Why the action is not possible now; absent when enabled.
    pub reason: Option<String>,
}

/// What an action needs from the configuration rather than from the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionContext {
    /// A payment QR code is active (确认付款 pays against it).
    pub active_qr_code: bool,
    /// An agent group is active (推单 sends to it).
    pub active_agent_group: bool,
}

impl ActionContext {
    /// Nothing missing from the configuration: what the order alone allows.
    pub const ORDER_ONLY: ActionContext = ActionContext {
        active_qr_code: true,
        active_agent_group: true,
    };
}

pub const NO_QR_CODE: &str = "当前还没有生效二维码。请先到配置中心上传或登记二维码。";
pub const NO_AGENT_GROUP: &str = "没有可用的代理群,请先到配置中心添加代理群。";
pub const NO_PAYMENT_RECORD: &str = "当前还没有付款记录,先点上面的「确认付款」。";
pub const PUSH_NOT_READY: &str = "当前不满足推送条件:通常是还没上传付款凭证或状态未到。";

fn on(action: OrderAction, label: &str) -> AvailableAction {
    AvailableAction {
        action,
        label: label.into(),
        enabled: true,
        reason: None,
    }
}

fn off(action: OrderAction, label: &str, reason: impl Into<String>) -> AvailableAction {
    AvailableAction {
        action,
        label: label.into(),
        enabled: false,
        reason: Some(reason.into()),
    }
}

/// The reason shared by every action once the order is closed.
fn closed(status: OrderStatus) -> Option<&'static str> {
    match status {
        OrderStatus::Cancelled => Some("订单已取消,不能再操作。"),
        _ => None,
    }
}

impl Order {
    /// Every operator action, in the order of the page, each enabled or not with its reason.
    /// Pure: the configuration facts it needs come in `ctx`.
    pub fn available_actions(&self, ctx: &ActionContext) -> Vec<AvailableAction> {
        use OrderAction as A;
        use OrderStatus as S;
        let Some(status) = self.status else {
            return A::ALL.iter().map(|a| off(*a, "-", "订单不存在")).collect();
        };
        let here = format!("当前订单状态:{}。", status.label());

        let review = {
            let l = "人工审核";
            match status {
                S::PendingManualReview => on(A::ManualReview, l),
                S::AwaitingUserForm => off(A::ManualReview, l, "买家还没有提交资料,价格校验之后才需要人工审核。"),
                s if closed(s).is_some() => off(A::ManualReview, l, closed(s).unwrap_or_default()),
                _ => off(A::ManualReview, l, format!("只有待人工审核的订单需要审核。{here}")),
            }
        };

        let payment = {
            let l = "确认付款";
            match status {
                S::AwaitingPayment if self.payment.is_some() => {
                    off(A::ConfirmPayment, l, "付款已确认,请上传付款凭证。")
                }
                S::AwaitingPayment if !ctx.active_qr_code => off(A::ConfirmPayment, l, NO_QR_CODE),
                S::AwaitingPayment => on(A::ConfirmPayment, l),
                S::AwaitingUserForm | S::PendingManualReview => off(
                    A::ConfirmPayment,
                    l,
                    format!("订单还没到代付环节:价格校验通过或人工审核通过后才能付款。{here}"),
                ),
                s if closed(s).is_some() => off(A::ConfirmPayment, l, closed(s).unwrap_or_default()),
                _ => off(A::ConfirmPayment, l, "付款已确认。"),
            }
        };

        let proof = {
            let l = if self.payment_proof.is_some() {
                "重新上传覆盖"
            } else {
                "上传付款凭证"
            };
            match status {
                S::AwaitingPayment | S::AwaitingPush if self.payment.is_none() => {
                    off(A::UploadPaymentProof, l, NO_PAYMENT_RECORD)
                }
                S::AwaitingPayment | S::AwaitingPush if self.push == PushState::Requested => {
                    off(A::UploadPaymentProof, l, "正在推送代理群,推送结束后才能更换凭证。")
                }
                S::AwaitingPayment | S::AwaitingPush => on(A::UploadPaymentProof, l),
                S::AwaitingUserForm | S::PendingManualReview => off(A::UploadPaymentProof, l, NO_PAYMENT_RECORD),
                s if closed(s).is_some() => off(A::UploadPaymentProof, l, closed(s).unwrap_or_default()),
                _ => off(A::UploadPaymentProof, l, "订单已推送代理,不能再更换付款凭证。"),
            }
        };

        let push = {
            let l = if self.push == PushState::Failed {
                "修改目标群后重试"
            } else {
                "推送代理群"
            };
            match status {
                S::AwaitingPush if self.push == PushState::Requested => {
                    off(A::PushToAgent, l, "正在推送代理群,稍候查看推送结果。")
                }
                S::AwaitingPush if self.payment_proof.is_none() || self.form.is_none() => {
                    off(A::PushToAgent, l, PUSH_NOT_READY)
                }
                S::AwaitingPush if !ctx.active_agent_group => off(A::PushToAgent, l, NO_AGENT_GROUP),
                S::AwaitingPush => on(A::PushToAgent, l),
                S::AwaitingTicket | S::PendingMatchReview | S::AwaitingUserNotification | S::Completed => {
                    off(A::PushToAgent, l, "订单已推送代理群。")
                }
                s if closed(s).is_some() => off(A::PushToAgent, l, closed(s).unwrap_or_default()),
                _ => off(A::PushToAgent, l, PUSH_NOT_READY),
            }
        };

        let screenshot = {
            let l = if self.screenshot.is_some() {
                "重新上传截图"
            } else {
                "上传截图"
            };
            match status {
                S::AwaitingTicket | S::PendingMatchReview => on(A::UploadScreenshot, l),
                S::AwaitingUserNotification | S::Completed => {
                    off(A::UploadScreenshot, l, "截图已匹配订单,无需再上传。")
                }
                s if closed(s).is_some() => off(A::UploadScreenshot, l, closed(s).unwrap_or_default()),
                _ => off(
                    A::UploadScreenshot,
                    l,
                    "订单还没有推送给代理:推单成功、代理出票后才能上传截图。",
                ),
            }
        };

        let match_review = {
            let l = "复核截图";
            match status {
                S::PendingMatchReview => on(A::ReviewScreenshotMatch, l),
                s if closed(s).is_some() => off(A::ReviewScreenshotMatch, l, closed(s).unwrap_or_default()),
                _ => off(
                    A::ReviewScreenshotMatch,
                    l,
                    "只有截图与订单不符(待复核)时才需要人工复核。",
                ),
            }
        };

        let settle = {
            let l = "结算分润";
            match status {
                S::Completed if self.profit_share_settled => off(A::SettleProfitShare, l, "分润已结算。"),
                S::Completed if self.profit_share.is_none() => {
                    off(A::SettleProfitShare, l, "分润还在计算中,稍候刷新。")
                }
                S::Completed => on(A::SettleProfitShare, l),
                s if closed(s).is_some() => off(A::SettleProfitShare, l, closed(s).unwrap_or_default()),
                _ => off(
                    A::SettleProfitShare,
                    l,
                    "订单完成(通知用户)后才能结算分润;当前分润 not_ready。",
                ),
            }
        };

        let cancel = {
            let l = "取消订单";
            match status {
                S::Completed => off(A::Cancel, l, "订单已完成,不能取消。"),
                S::Cancelled => off(A::Cancel, l, "订单已取消。"),
                _ => on(A::Cancel, l),
            }
        };

        vec![review, payment, proof, push, screenshot, match_review, settle, cancel]
    }
}

/// Narrows actions decided with [`ActionContext::ORDER_ONLY`] (as the stored order view holds
/// them) to what the configuration allows now; the same as deciding with `ctx` directly.
pub fn narrow_to(actions: &mut [AvailableAction], ctx: &ActionContext) {
    for a in actions.iter_mut().filter(|a| a.enabled) {
        let missing = match a.action {
            OrderAction::ConfirmPayment if !ctx.active_qr_code => Some(NO_QR_CODE),
            OrderAction::PushToAgent if !ctx.active_agent_group => Some(NO_AGENT_GROUP),
            _ => None,
        };
        if let Some(reason) = missing {
            a.enabled = false;
            a.reason = Some(reason.into());
        }
    }
}
