//! `mock://` targets: recorded in memory, never sent anywhere. For demos and tests.

use std::sync::{Arc, Mutex};

use super::{Message, SendError, SendOk, Sender, Target};

/// The record keeps the latest sends only: a demo server runs for days, and every send is in
/// the deliveries table anyway.
pub const MOCK_RECORD_LIMIT: usize = 1000;

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
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        if sent.len() >= MOCK_RECORD_LIMIT {
            sent.remove(0);
        }
        sent.push((target.clone(), message.clone()));
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

    #[tokio::test]
    async fn the_mock_keeps_only_the_latest_sends() {
        let mock = MockSender::new();
        let t = Target::Mock { name: "a".into() };
        for i in 0..MOCK_RECORD_LIMIT + 5 {
            mock.send(&t, &Message::Text(i.to_string())).await.unwrap();
        }
        let sent = mock.sent();
        assert_eq!(sent.len(), MOCK_RECORD_LIMIT);
        assert_eq!(sent[0].1, Message::Text("5".into()));
    }
}
