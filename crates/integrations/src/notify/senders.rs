//! All channels behind one `Sender`: dispatch on the target. The delivery worker holds one
//! `Senders`; tests and demos read what went to `mock://` targets from `mock`.

use super::classify::unsupported_message;
use super::wecom_app::not_configured;
use super::{
    http_client, HttpTimeouts, Message, MockSender, SendError, SendOk, Sender, Target, WecomApp, WecomAppConfig,
    WecomRobot, XgjNotifier,
};
use crate::xgj::sign::SupplyCredentials;

/// What `Senders::new` needs.
#[derive(Debug, Clone)]
pub struct SendersConfig {
    /// Bounds for every HTTP call (connect 3 s, total 10 s by default).
    pub timeouts: HttpTimeouts,
    /// `None`: `wecom-app:` targets fail with `WECOM_APP_NOT_CONFIGURED`.
    pub wecom_app: Option<WecomAppConfig>,
    /// Signs XGJ order-result callbacks.
    pub xgj: SupplyCredentials,
}

#[derive(Debug, Clone)]
pub struct Senders {
    pub robot: WecomRobot,
    pub app: Option<WecomApp>,
    pub xgj: XgjNotifier,
    pub mock: MockSender,
}

impl Senders {
    /// One HTTP client (one connection pool) for every channel. Fails only when the TLS backend
    /// cannot start.
    pub fn new(config: SendersConfig) -> Result<Self, reqwest::Error> {
        let http = http_client(config.timeouts)?;
        Ok(Self {
            robot: WecomRobot::new(http.clone()),
            app: config.wecom_app.map(|c| WecomApp::new(http.clone(), c)),
            xgj: XgjNotifier::new(http, config.xgj),
            mock: MockSender::new(),
        })
    }
}

#[async_trait::async_trait]
impl Sender for Senders {
    async fn send(&self, target: &Target, message: &Message) -> Result<SendOk, SendError> {
        match (target, message) {
            (Target::Mock { .. }, _) => self.mock.send(target, message).await,
            (Target::XgjCallback { .. }, Message::XgjCallback(_)) => self.xgj.send(target, message).await,
            (Target::XgjCallback { .. }, _) => Err(unsupported_message("only an XGJ callback body", "an XGJ callback")),
            (_, Message::XgjCallback(_)) => Err(unsupported_message(
                "an XGJ callback body",
                &format!("a {} target", target.channel().as_str()),
            )),
            (Target::WecomRobot { .. }, _) => self.robot.send(target, message).await,
            (Target::WecomApp { .. }, _) => match &self.app {
                Some(app) => app.send(target, message).await,
                None => Err(not_configured()),
            },
        }
    }
}
