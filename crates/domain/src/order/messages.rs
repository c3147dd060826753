//! The texts the system sends, as on the seed page.

use super::state::Order;
use crate::personal::PersonalData;
use crate::personal::{mask_certificate, mask_name, mask_phone};

/// The ops alert for a failed price check.
pub fn price_exception_text(order_no: &str) -> String {
    format!("【订单异常】订单号:{order_no},异常类型:价格校验异常。")
}

/// The operators' alert when XGJ asks for a refund after the agent was paid.
pub fn refund_alert_text(order_no: &str, refund_amount_cent: Option<i64>, reason: &str) -> String {
    let amount = refund_amount_cent
        .map(|c| format!("¥{}", crate::money::from_cents(c)))
        .unwrap_or_else(|| "-".into());
    let reason = if reason.is_empty() { "-" } else { reason };
    format!(
        "【退款申请】订单号:{order_no},闲管家申请退款 {amount}(原因:{reason})。代理已付款,系统未同意自动撤单,请在闲管家人工处理。"
    )
}

/// The buyer's details for the agent group. `season_label` is the play date's season
/// (淡季/平季/旺季). `PersonalData::Masked` gives the same text with personal data masked, for lists and logs.
pub fn user_form_group_text(order: &Order, season_label: &str, shown: PersonalData) -> Option<String> {
    let masked = shown == PersonalData::Masked;
    let f = order.form.as_ref()?;
    let (name, cert, phone) = if masked {
        (
            mask_name(f.name.as_str()),
            mask_certificate(f.certificate_no.as_str()),
            mask_phone(f.phone.as_str()),
        )
    } else {
        (
            f.name.as_str().to_string(),
            f.certificate_no.as_str().to_string(),
            f.phone.as_str().to_string(),
        )
    };
    let mut lines = vec![
        "【闲鱼出票资料已提交】".to_string(),
        format!("订单号:{}", order.order_no.as_ref()?),
        format!("外部单号:{}", order.external_order_no.as_deref().unwrap_or("-")),
        format!("票种:{}", order.ticket_type.as_deref().unwrap_or("-")),
        format!(
            "商品:{}",
            order
                .goods
                .as_ref()
                .map(|g| g.goods_name.as_str())
                .or(order.goods_no.as_deref())
                .unwrap_or("-")
        ),
        format!("季节:{season_label}"),
        format!("游玩日:{}", f.play_date),
        format!("姓名:{name}"),
        format!("证件类型:{}", f.certificate_type.label()),
        format!("证件号:{cert}"),
    ];
    if let Some(g) = f.gender {
        lines.push(format!("性别:{}", g.label()));
    }
    if let Some(b) = f.birthday {
        lines.push(format!(
            "出生日期:{}",
            if masked {
                "****-**-**".to_string()
            } else {
                b.to_string()
            }
        ));
    }
    lines.push(format!("手机号:{}{phone}", f.phone_country_code));
    lines.push(format!(
        "实付金额:{}",
        order
            .paid_amount
            .map(|a| format!("¥{}", crate::money::round_cents(a)))
            .unwrap_or("-".into())
    ));
    Some(lines.join("\n"))
}

/// The order pushed to the agent group, sent with the payment proof image.
pub fn order_push_text(order: &Order, shown: PersonalData) -> Option<String> {
    let season = order.price_check.as_ref().map(|c| c.season_type.label()).unwrap_or("-");
    let details = user_form_group_text(order, season, shown)?;
    let body = details.split_once('\n').map(|(_, rest)| rest).unwrap_or(&details);
    let paid = order
        .payment
        .as_ref()
        .map(|p| format!("¥{}", crate::money::round_cents(p.amount)))
        .unwrap_or("-".into());
    Some(format!(
        "【代下单,请出票】\n{body}\n代付金额:{paid}\n付款凭证见下图;出票后请回传出票截图。"
    ))
}

/// 推单 of `order` to the agent group `group_id` (`name`, its configured `target`): the push
/// text and where it goes; `None` before the buyer submitted the form.
pub fn push_request(order: &Order, group_id: &str, name: &str, target: &str) -> Option<super::OrderPushRequested> {
    use crate::target::Target;
    let message_text = order_push_text(order, PersonalData::Whole)?;
    let parsed = Target::parse(target, crate::target::UrlTarget::WecomRobot).ok();
    Some(super::OrderPushRequested {
        agent_group_id: group_id.to_string(),
        agent_group_name: name.to_string(),
        target_group_id: Some(match &parsed {
            Some(Target::WecomApp { chat_id }) => chat_id.clone(),
            _ => group_id.to_string(),
        }),
        notification_target: parsed.map(|t| t.display()).unwrap_or_else(|| target.to_string()),
        message_text,
    })
}
