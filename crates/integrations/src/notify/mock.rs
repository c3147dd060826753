//! `mock://` targets: recorded in memory, never sent anywhere. For demos and tests.

use std::sync::{Arc, Mutex};

use super::{Message, SendError, SendOk, Sender, Target};

/// Clones share one record.
#[derive(Debug, Clone, Default)]
pub struct MockSender {
    sent: Arc<Mutex<Vec<(Target, Message)>>>,
}

impl MockSender {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything sent so far, in order.
    pub fn sent(&self) -> Vec<(Target, Message)> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait::async_trait]
impl Sender for MockSender {
    async fn send(&self, target: &Target, message: &Message) -> Result<SendOk, SendError> {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((target.clone(), message.clone()));
        Ok(SendOk {
            detail: "mock: recorded".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_mock_records_every_send_in_order() {
        let mock = MockSender::new();
        let a = Target::Mock { name: "a".into() };
        let b = Target::Mock { name: "b".into() };
        let ok = mock.send(&a, &Message::Text("one".into())).await.unwrap();
        assert_eq!(ok.detail, "mock: recorded");
        mock.clone().send(&b, &Message::Markdown("two".into())).await.unwrap();
        assert_eq!(
            mock.sent(),
            vec![(a, Message::Text("one".into())), (b, Message::Markdown("two".into()))]
        );
    }
}
