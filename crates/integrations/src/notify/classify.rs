//! What a failed send means: worth another attempt later (Retryable) or broken until an operator
//! fixes something (Permanent), with a stable code, the far side's words verbatim and, in
//! Chinese, what the operator must do.
//!
//! Pure functions over plain facts (transport failure kind, HTTP status, WeCom errcode, XGJ code)
//! so the whole table is unit-tested; `from_reqwest` only picks the transport kind.

use super::{ErrorClass, SendError};

/// How a request failed before any HTTP status arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Connect or total timeout.
    Timeout,
    /// DNS, refused connection, reset, TLS, a broken body...
    Network,
    /// The request could not even be built (a malformed target URL): it never will be.
    InvalidRequest,
}

pub fn transport(kind: Transport, detail: &str) -> SendError {
    match kind {
        Transport::Timeout => {
            SendError::retryable("TIMEOUT", detail, Some("对方在超时时间内没有应答,将稍后重试".into()))
        }
        Transport::Network => SendError::retryable(
            "NETWORK",
            detail,
            Some("网络错误(连接失败或中断),将稍后重试;一直失败请检查服务器网络与目标地址".into()),
        ),
        Transport::InvalidRequest => SendError::permanent(
            "INVALID_TARGET",
            detail,
            Some("目标地址格式不正确,无法发出请求:检查通知目标的 URL".into()),
        ),
    }
}

/// A reqwest error, with the URL removed: a robot URL carries its key and an app call its
/// access_token, and the message is stored and shown.
pub fn from_reqwest(err: reqwest::Error) -> SendError {
    let kind = if err.is_builder() {
        Transport::InvalidRequest
    } else if err.is_timeout() {
        Transport::Timeout
    } else {
        Transport::Network
    };
    let err = err.without_url();
    let mut detail = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    transport(kind, &detail)
}

/// `None` for HTTP 200, the only status a WeCom or XGJ success comes with.
/// 5xx, 408 and 429 are the far side being busy or broken for now; any other status will not
/// change by itself (a wrong URL, a proxy refusing us).
pub fn http_status(status: u16, body: &str) -> Option<SendError> {
    if status == 200 {
        return None;
    }
    let code = format!("HTTP_{status}");
    let message = clip(body.trim());
    Some(match status {
        500..=599 => SendError::retryable(code, message, Some("对方服务器暂时出错,将稍后重试".into())),
        408 | 429 => SendError::retryable(code, message, Some("对方繁忙或限流,将稍后重试".into())),
        404 | 410 => SendError::permanent(
            code,
            message,
            Some("目标地址不存在:检查通知目标的 URL 是否完整、正确".into()),
        ),
        401 | 403 => SendError::permanent(
            code,
            message,
            Some("对方拒绝访问:检查通知目标的 URL 与凭证(key、签名配置)".into()),
        ),
        _ => SendError::permanent(
            code,
            message,
            Some(format!("对方返回 HTTP {status}:检查通知目标的 URL 是否正确")),
        ),
    })
}

/// A 200 whose body is not what the far side promised. Retryable: the message may or may not
/// have gone out, and a flaky proxy is the likely cause; the worker's attempt limit bounds it.
pub fn bad_response(detail: impl Into<String>) -> SendError {
    SendError::retryable(
        "BAD_RESPONSE",
        detail,
        Some("对方的应答无法识别,将稍后重试;一直出现请检查目标地址是否指向企业微信或闲管家".into()),
    )
}

/// WeCom errcodes that clear by themselves.
const WECOM_RETRYABLE: [i64; 3] = [-1, 45009, 45033];

/// `None` for errcode 0. Anything not known to be transient is Permanent: resending the same
/// thing to the same place would fail the same way.
pub fn wecom_errcode(errcode: i64, errmsg: &str) -> Option<SendError> {
    if errcode == 0 {
        return None;
    }
    let class = if WECOM_RETRYABLE.contains(&errcode) {
        ErrorClass::Retryable
    } else {
        ErrorClass::Permanent
    };
    Some(SendError {
        class,
        code: format!("WECOM_{errcode}"),
        message: errmsg.to_string(),
        hint: Some(wecom_hint(errcode)),
    })
}

/// In Chinese, what the operator must do about a WeCom errcode (`xgj-wecom.md` §8.2).
pub fn wecom_hint(errcode: i64) -> String {
    match errcode {
        -1 => "企业微信系统繁忙,将稍后重试".into(),
        40001 => "企业微信应用 Secret 不正确:把 XYT_WECOM_CORP_SECRET 改成该自建应用的 Secret(应用管理 → 应用详情)".into(),
        40013 => "企业 ID 不正确:把 XYT_WECOM_CORP_ID 改成企业微信管理后台「我的企业」里的企业ID".into(),
        40008 => "消息类型不合法:这是程序问题,请联系开发人员".into(),
        40014 | 42001 => "access_token 无效或已过期,重新获取后仍失败:检查应用 Secret 是否被重置".into(),
        44004 => "消息内容为空:检查通知模板".into(),
        45002 => "消息内容超过企业微信的大小限制:缩短通知内容".into(),
        45009 => "企业微信接口调用频率超限(群机器人每分钟最多 20 条),将稍后重试".into(),
        45033 => "企业微信接口并发调用超限,将稍后重试".into(),
        48002 => "应用没有调用该接口的权限:在企业微信管理后台检查应用的接口权限与可见范围(群聊需可见范围为根部门)".into(),
        60020 => "服务器出口 IP 不在企业微信应用的「企业可信IP」里:把报错里的 from ip 加到应用的企业可信IP,或改用群机器人发送"
            .into(),
        86001 => "群聊 chatid 不合法:检查通知目标 wecom-app: 后面的 chatid".into(),
        86003 => "群聊不存在:确认群聊由本应用通过 appchat/create 创建,并更新通知目标的 chatid".into(),
        86008 => "该群不是本应用创建的:应用只能向自己用 appchat/create 创建的群聊发消息,请用本应用创建群聊并更新通知目标,或改用群机器人"
            .into(),
        93000 => "群机器人 webhook 地址无效或机器人已被移出群:在群里重新添加机器人,并把新的 webhook 地址更新到通知目标".into(),
        93004 => "群机器人已被停用:在群设置里重新启用机器人,或添加新机器人并更新通知目标".into(),
        93008 => "机器人不在该群里:把机器人加回群,或更新通知目标".into(),
        other => format!("企业微信返回错误码 {other}:按企业微信全局错误码说明修正配置后重试"),
    }
}

/// `None` for XGJ code 0. What XGJ's reply to an order callback means is unconfirmed
/// (`xgj-wecom.md` §3.4, §9), so every non-zero code is Retryable and the worker's attempt
/// limit bounds it.
pub fn xgj_code(code: i64, msg: &str) -> Option<SendError> {
    if code == 0 {
        return None;
    }
    let hint = match code {
        401 => "闲管家回调签名错误:核对 app_id、app_secret、mch_id、mch_secret 与闲管家后台一致;将稍后重试".to_string(),
        408 => "闲管家认为时间戳已过期:检查服务器时钟;将稍后重试".to_string(),
        1200 => "闲管家找不到该订单:核对订单号与回调地址;将稍后重试".to_string(),
        other => format!("闲管家回调返回 code {other},将稍后重试;多次失败请人工核对该订单"),
    };
    Some(SendError::retryable(format!("XGJ_{code}"), msg, Some(hint)))
}

/// A sender handed a target of another channel (a dispatch bug, not a configuration one).
pub fn unsupported_target(sender: &str, target: &super::Target) -> SendError {
    SendError::permanent(
        "UNSUPPORTED_TARGET",
        format!("the {sender} sender cannot send to {}", target.channel().as_str()),
        Some("通知目标与发送通道不匹配:这是程序问题,请联系开发人员".into()),
    )
}

/// A message the target cannot take (text to an XGJ callback, an XGJ callback body to WeCom).
pub fn unsupported_message(what: &str, to: &str) -> SendError {
    SendError::permanent(
        "UNSUPPORTED_MESSAGE",
        format!("{what} cannot be sent to {to}"),
        Some("该类消息不能发往这种目标:检查通知规则里的目标配置".into()),
    )
}

/// An integer field that may arrive as a JSON number or a numeric string.
pub fn json_int(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// At most 200 chars of a reply, for error messages.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 200;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::{Permanent, Retryable};

    #[test]
    fn transport_failures_are_retryable() {
        let t = transport(Transport::Timeout, "operation timed out");
        assert_eq!((t.class, t.code.as_str()), (Retryable, "TIMEOUT"));
        assert_eq!(t.message, "operation timed out");
        let n = transport(Transport::Network, "connection refused");
        assert_eq!((n.class, n.code.as_str()), (Retryable, "NETWORK"));
        let b = transport(Transport::InvalidRequest, "builder error");
        assert_eq!((b.class, b.code.as_str()), (Permanent, "INVALID_TARGET"));
    }

    #[test]
    fn http_statuses_classify_by_the_table() {
        assert_eq!(http_status(200, "{}"), None);
        let table: &[(u16, ErrorClass)] = &[
            (500, Retryable),
            (502, Retryable),
            (503, Retryable),
            (504, Retryable),
            (408, Retryable),
            (429, Retryable),
            (201, Permanent),
            (204, Permanent),
            (301, Permanent),
            (302, Permanent),
            (400, Permanent),
            (401, Permanent),
            (403, Permanent),
            (404, Permanent),
            (410, Permanent),
        ];
        for &(status, class) in table {
            let e = http_status(status, " busy ").unwrap();
            assert_eq!(e.class, class, "{status}");
            assert_eq!(e.code, format!("HTTP_{status}"));
            assert_eq!(e.message, "busy");
            assert!(e.hint.is_some());
        }
    }

    #[test]
    fn wecom_errcodes_classify_by_the_table() {
        assert_eq!(wecom_errcode(0, "ok"), None);
        let table: &[(i64, ErrorClass)] = &[
            (-1, Retryable),
            (45009, Retryable),
            (45033, Retryable),
            (60020, Permanent),
            (93000, Permanent),
            (93004, Permanent),
            (93008, Permanent),
            (86008, Permanent),
            (40001, Permanent),
            (48002, Permanent),
            (86001, Permanent),
            (86003, Permanent),
            (40008, Permanent),
            (44004, Permanent),
            (45002, Permanent),
            (40014, Permanent),
            (42001, Permanent),
            (12345, Permanent),
            (301002, Permanent),
        ];
        for &(errcode, class) in table {
            let e = wecom_errcode(errcode, "the errmsg").unwrap();
            assert_eq!(e.class, class, "{errcode}");
            assert_eq!(e.code, format!("WECOM_{errcode}"));
            assert_eq!(e.message, "the errmsg");
            assert!(!e.hint.unwrap().is_empty());
        }
    }

    #[test]
    fn wecom_hints_tell_the_operator_what_to_do() {
        let e = wecom_errcode(
            60020,
            "not allow to access from your ip, hint: [1700000000], from ip: 1.2.3.4, more info at https://open.work.weixin.qq.com/devtool/query?e=60020",
        )
        .unwrap();
        assert!(e.message.contains("from ip: 1.2.3.4"), "errmsg kept verbatim");
        let hint = e.hint.unwrap();
        assert!(
            hint.contains("企业可信IP") && hint.contains("from ip") && hint.contains("群机器人"),
            "{hint}"
        );
        assert!(wecom_hint(93000).contains("重新添加机器人"));
        assert!(wecom_hint(93004).contains("停用"));
        assert!(wecom_hint(93008).contains("不在该群"));
        assert!(wecom_hint(86008).contains("appchat/create"));
        assert!(wecom_hint(40001).contains("XYT_WECOM_CORP_SECRET"));
        assert!(wecom_hint(45009).contains("稍后重试"));
        assert!(wecom_hint(777).contains("777"));
    }

    #[test]
    fn xgj_codes_other_than_zero_are_retryable() {
        assert_eq!(xgj_code(0, "OK"), None);
        for code in [1, 401, 408, 500, 1200, 1209, -3] {
            let e = xgj_code(code, "签名错误").unwrap();
            assert_eq!(e.class, Retryable, "{code}");
            assert_eq!(e.code, format!("XGJ_{code}"));
            assert_eq!(e.message, "签名错误");
            assert!(e.hint.is_some());
        }
    }

    #[test]
    fn a_bad_reply_is_retryable() {
        let e = bad_response("not JSON: <html>");
        assert_eq!((e.class, e.code.as_str()), (Retryable, "BAD_RESPONSE"));
    }

    #[test]
    fn integers_arrive_as_numbers_or_strings() {
        assert_eq!(json_int(&serde_json::json!(0)), Some(0));
        assert_eq!(json_int(&serde_json::json!(-1)), Some(-1));
        assert_eq!(json_int(&serde_json::json!("42001")), Some(42001));
        assert_eq!(json_int(&serde_json::json!("x")), None);
        assert_eq!(json_int(&serde_json::json!(null)), None);
        assert_eq!(json_int(&serde_json::json!(1.5)), None);
    }
}
