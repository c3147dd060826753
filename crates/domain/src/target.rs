//! Where a message goes: a delivery's target, parsed once at the edge.
//!
//! A WeCom group robot is its whole webhook URL (`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...`,
//! so a test fake or a self-hosted relay can stand in), an app chat is `wecom-app:<chatid>`, an XGJ
//! callback is the order's `notify_url`, and a demo target is `mock://<name>` (recorded, never sent).

pub use crate::delivery::Channel;

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    WecomRobot { url: String },
    WecomApp { chat_id: String },
    XgjCallback { url: String },
    Mock { name: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(pub String);

/// What an `http(s)://` target is, which its text alone does not say: a WeCom robot webhook (every
/// operator-configured target) or an XGJ callback (an order's or a goods subscriber's
/// `notify_url`). Both follow the same URL rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlTarget {
    WecomRobot,
    XgjCallback,
}

impl Target {
    /// Parses a target; an `http(s)://` URL is read as `url_target` says.
    pub fn parse(s: &str, url_target: UrlTarget) -> Result<Self, TargetError> {
        let s = s.trim();
        if let Some(name) = s.strip_prefix("mock://") {
            if name.is_empty() || name.len() > 200 {
                return Err(TargetError("mock:// 后需要名称".into()));
            }
            return Ok(Target::Mock { name: name.into() });
        }
        if let Some(id) = s.strip_prefix("wecom-app:") {
            if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(TargetError("wecom-app: 后需要 1–32 位字母或数字的 chatid".into()));
            }
            return Ok(Target::WecomApp { chat_id: id.into() });
        }
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            // The same outbound rules for every URL we call: https (http only to loopback, for
            // local fakes), no credentials, a sane host; checked before any connection is made.
            outbound_url(s).map_err(TargetError)?;
            return Ok(match url_target {
                UrlTarget::XgjCallback => Target::XgjCallback { url: s.into() },
                UrlTarget::WecomRobot => Target::WecomRobot { url: s.into() },
            });
        }
        Err(TargetError(
            "目标必须是 mock://名称、wecom-app:chatid 或 http(s) 地址".into(),
        ))
    }

    pub fn channel(&self) -> Channel {
        match self {
            Target::WecomRobot { .. } => Channel::WecomBot,
            Target::WecomApp { .. } => Channel::WecomApp,
            Target::XgjCallback { .. } => Channel::XgjNotify,
            Target::Mock { .. } => Channel::Mock,
        }
    }

    /// The target as stored and shown, with a robot's key masked (it is the robot's only credential).
    pub fn display(&self) -> String {
        match self {
            Target::WecomRobot { url } => match url.split_once("key=") {
                Some((head, key)) => {
                    let tail: String = key
                        .chars()
                        .rev()
                        .take(4)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                    format!("{head}key=****{tail}")
                }
                None => url.clone(),
            },
            Target::WecomApp { chat_id } => format!("wecom-app:{chat_id}"),
            Target::XgjCallback { url } => url.clone(),
            Target::Mock { name } => format!("mock://{name}"),
        }
    }
}

/// A configured target as every answer and the config history show it: a robot's key masked.
pub fn masked(s: &str) -> String {
    match Target::parse(s, UrlTarget::WecomRobot) {
        Ok(t @ Target::WecomRobot { .. }) => t.display(),
        _ => s.to_string(),
    }
}

/// `serialize_with` for a stored target field: the key never leaves the server once saved.
pub fn serialize_masked<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&masked(v))
}

/// Where operators may send messages: WeCom and nothing else. A robot must be
/// `{wecom base}/cgi-bin/webhook/send?key=...` (the base is `https://qyapi.weixin.qq.com` unless
/// configured, e.g. to a test's fake); an app chat `wecom-app:<chatid>`; a demo `mock://<name>`.
/// An operator can never point a message (with its buyer data and payment proof) at a URL of
/// their choosing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedTargets {
    wecom_base: String,
}

impl AllowedTargets {
    pub const DEFAULT_WECOM_BASE: &'static str = "https://qyapi.weixin.qq.com";

    pub fn new(wecom_base: Option<&str>) -> Self {
        let base = wecom_base
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .unwrap_or(Self::DEFAULT_WECOM_BASE);
        Self {
            wecom_base: base.trim_end_matches('/').to_string(),
        }
    }

    /// Parses what an operator typed; anything but an allowed form is refused with the reason.
    pub fn parse(&self, s: &str) -> Result<Target, TargetError> {
        let t = Target::parse(s, UrlTarget::WecomRobot)?;
        if self.allows(&t) {
            Ok(t)
        } else {
            Err(TargetError(format!(
                "只能发送到企业微信:机器人地址必须是 {}/cgi-bin/webhook/send?key=…,或 wecom-app:chatid、mock://名称",
                self.wecom_base
            )))
        }
    }

    pub fn allows(&self, t: &Target) -> bool {
        match t {
            Target::WecomRobot { url } => {
                let prefix = format!("{}/cgi-bin/webhook/send?key=", self.wecom_base);
                url.len() > prefix.len()
                    && url.is_char_boundary(prefix.len())
                    && url[..prefix.len()].eq_ignore_ascii_case(&prefix)
                    && url[prefix.len()..]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }
            Target::WecomApp { .. } | Target::Mock { .. } => true,
            // XGJ's callback is the order's own notify_url, never typed by an operator.
            Target::XgjCallback { .. } => false,
        }
    }
}

/// An outbound URL (robot webhook or XGJ callback): `https://`, or plain `http://` to a loopback host only (local fakes and
/// relays); no credentials in the authority, a sane host and port, at most 2048 characters.
fn outbound_url(s: &str) -> Result<(), String> {
    if s.len() > 2048 {
        return Err("目标最长 2048 个字符".into());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("目标不能包含空白或控制字符".into());
    }
    let lower = s.to_ascii_lowercase();
    let (rest, https) = if lower.starts_with("https://") {
        (&s[8..], true)
    } else {
        (&s[7..], false)
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("地址中不能包含用户名或密码".into());
    }
    let valid_port = |p: &str| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| n <= 65535)
    };
    let host = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, port)) if port.is_empty() || port.strip_prefix(':').is_some_and(valid_port) => h,
            _ => return Err("地址的主机或端口无效".into()),
        },
        None => match authority.split_once(':') {
            Some((h, port)) if valid_port(port) => h,
            Some(_) => return Err("地址的端口无效".into()),
            None => authority,
        },
    };
    if host.is_empty() || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b)) {
        return Err("地址的主机无效".into());
    }
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !https && !loopback {
        return Err("只接受 https:// 地址(http:// 仅限本机 127.0.0.1 / localhost 测试)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_can_only_reach_wecom() {
        let real = AllowedTargets::new(None);
        assert!(real
            .parse("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123")
            .is_ok());
        assert!(real.parse("wecom-app:chat1").is_ok());
        assert!(real.parse("mock://x").is_ok());
        for bad in [
            "https://evil.example.com/cgi-bin/webhook/send?key=abc",
            "https://qyapi.weixin.qq.com.evil.example/cgi-bin/webhook/send?key=abc",
            "https://qyapi.weixin.qq.com/cgi-bin/other?key=abc",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=a&url=https://evil",
            "http://127.0.0.1:9/cgi-bin/webhook/send?key=abc",
        ] {
            assert!(real.parse(bad).is_err(), "{bad}");
        }
        let test = AllowedTargets::new(Some("http://127.0.0.1:9999/"));
        assert!(test.parse("http://127.0.0.1:9999/cgi-bin/webhook/send?key=k1").is_ok());
        assert!(test
            .parse("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1")
            .is_err());
        assert_eq!(
            masked("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcd-1234"),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****1234"
        );
        assert_eq!(masked("mock://x"), "mock://x");
    }

    #[test]
    fn targets_parse_by_their_form() {
        assert_eq!(
            Target::parse("mock://wecom-bot/default", UrlTarget::WecomRobot)
                .unwrap()
                .channel(),
            Channel::Mock
        );
        assert_eq!(
            Target::parse("wecom-app:10891352157802033", UrlTarget::WecomRobot)
                .unwrap()
                .channel(),
            Channel::WecomApp
        );
        let robot = Target::parse(
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcd-1234",
            UrlTarget::WecomRobot,
        )
        .unwrap();
        assert_eq!(robot.channel(), Channel::WecomBot);
        assert_eq!(
            robot.display(),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****1234"
        );
        assert_eq!(
            Target::parse("https://open.goofish.pro/cb/x", UrlTarget::XgjCallback)
                .unwrap()
                .channel(),
            Channel::XgjNotify
        );
        assert!(Target::parse(
            "http://127.0.0.1:9000/cgi-bin/webhook/send?key=k",
            UrlTarget::WecomRobot
        )
        .is_ok());
        assert!(Target::parse("http://127.0.0.1:9000/goods/notify", UrlTarget::XgjCallback).is_ok());
        for bad in [
            "http://10.0.0.8/notify",
            "http://open.goofish.pro/cb",
            "https://u:p@open.goofish.pro/cb",
            "https://open.goofish.pro/c b",
        ] {
            assert!(Target::parse(bad, UrlTarget::XgjCallback).is_err(), "{bad}");
        }
        for bad in [
            "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
            "https://user:pw@example.com/x",
            "https://exa mple.com/x",
        ] {
            assert!(Target::parse(bad, UrlTarget::WecomRobot).is_err(), "{bad}");
        }
        for bad in [
            "",
            "mock://",
            "wecom-app:",
            "wecom-app:has space",
            "ftp://x",
            "wecom-app:0123456789012345678901234567890123",
        ] {
            assert!(Target::parse(bad, UrlTarget::WecomRobot).is_err(), "{bad}");
        }
    }
}
