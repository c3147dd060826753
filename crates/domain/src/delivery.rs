//! A delivery's kind, status and channel: the closed sets the deliveries table, the worker, the
//! API and the notify senders share. Each value's stored (and API) string is written once, in
//! the `stored_strings!` table below; everything else matches on the enums, so a new kind or
//! status is a compile error wherever it needs a decision.

use std::fmt;
use std::str::FromStr;

/// An unknown stored or requested string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

macro_rules! stored_strings {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $variant:ident => $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The string stored in the database and shown by the API.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| UnknownValue {
                    what: $what,
                    value: s.to_string(),
                })
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownValue;
            fn try_from(s: String) -> Result<Self, UnknownValue> {
                s.parse()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

stored_strings! {
    /// What a delivery is for (the `type` column and the API's `type`).
    DeliveryKind, "delivery type" {
        /// A price check failed: operators are told.
        PriceException => "price_exception",
        /// The buyer's form is in: the agent group gets it.
        UserFormGroupPush => "user_form_group_push",
        /// The order (and the payment proof) pushed to the agent.
        OrderPush => "order_push",
        /// An XGJ order-result callback to the order's own notify_url.
        UserNotify => "user_notify",
        /// XGJ asked for a refund after the agent was paid: operators decide.
        RefundAlert => "refund_alert",
        /// A goods' price or stock changed: XGJ's goods-change subscriber is told.
        GoodsChange => "goods_change",
    }
}

stored_strings! {
    /// Where a delivery stands.
    DeliveryStatus, "delivery status" {
        Pending => "pending",
        Sending => "sending",
        Sent => "sent",
        FailedRetryable => "failed_retryable",
        FailedPermanent => "failed_permanent",
    }
}

stored_strings! {
    /// The channel of a target, as the delivery rows name it.
    Channel, "channel" {
        WecomBot => "wecom_bot",
        WecomApp => "wecom_app",
        XgjNotify => "xgj_notify",
        Mock => "mock",
    }
}

/// A delivery's channel as stored: its target's channel, or why it has none (a delivery created
/// without a usable target is kept, failed and visible, until an operator resends it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoredChannel {
    Target(Channel),
    /// No target was configured when the delivery was created.
    Unconfigured,
    /// The configured target did not parse.
    Invalid,
}

impl StoredChannel {
    pub const fn as_str(self) -> &'static str {
        match self {
            StoredChannel::Target(c) => c.as_str(),
            StoredChannel::Unconfigured => "none",
            StoredChannel::Invalid => "unknown",
        }
    }
}

impl FromStr for StoredChannel {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        match [StoredChannel::Unconfigured, StoredChannel::Invalid]
            .into_iter()
            .find(|c| c.as_str() == s)
        {
            Some(c) => Ok(c),
            None => s.parse().map(StoredChannel::Target),
        }
    }
}

impl TryFrom<String> for StoredChannel {
    type Error = UnknownValue;
    fn try_from(s: String) -> Result<Self, UnknownValue> {
        s.parse()
    }
}

impl DeliveryKind {
    /// How an `http(s)://` target of this kind reads: an XGJ callback URL (the order's or the
    /// subscriber's notify_url), or an operator-configured WeCom robot.
    pub const fn url_target(self) -> crate::target::UrlTarget {
        use crate::target::UrlTarget;
        match self {
            DeliveryKind::UserNotify | DeliveryKind::GoodsChange => UrlTarget::XgjCallback,
            DeliveryKind::PriceException
            | DeliveryKind::UserFormGroupPush
            | DeliveryKind::OrderPush
            | DeliveryKind::RefundAlert => UrlTarget::WecomRobot,
        }
    }
}

impl DeliveryStatus {
    /// Waiting for a worker (due now or after its back-off).
    pub const fn is_waiting(self) -> bool {
        match self {
            DeliveryStatus::Pending | DeliveryStatus::FailedRetryable => true,
            DeliveryStatus::Sending | DeliveryStatus::Sent | DeliveryStatus::FailedPermanent => false,
        }
    }

    /// Queued or in flight: a resend would change nothing.
    pub const fn is_queued(self) -> bool {
        match self {
            DeliveryStatus::Pending | DeliveryStatus::Sending => true,
            DeliveryStatus::FailedRetryable | DeliveryStatus::Sent | DeliveryStatus::FailedPermanent => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_stored_string() {
        for k in DeliveryKind::ALL {
            assert_eq!(k.as_str().parse::<DeliveryKind>().unwrap(), *k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for s in DeliveryStatus::ALL {
            assert_eq!(s.as_str().parse::<DeliveryStatus>().unwrap(), *s);
        }
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>().unwrap(), *c);
        }
        for c in ["none", "unknown", "wecom_bot", "mock"] {
            assert_eq!(c.parse::<StoredChannel>().unwrap().as_str(), c);
        }
        assert!("webhook".parse::<StoredChannel>().is_err());
        assert_eq!(
            "nope".parse::<DeliveryKind>().unwrap_err().to_string(),
            "unknown delivery type `nope`"
        );
        assert_eq!(
            serde_json::from_value::<DeliveryStatus>("sent".into()).unwrap(),
            DeliveryStatus::Sent
        );
    }

    #[test]
    fn the_stored_strings_are_the_ones_in_use() {
        assert_eq!(
            DeliveryKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            [
                "price_exception",
                "user_form_group_push",
                "order_push",
                "user_notify",
                "refund_alert",
                "goods_change"
            ]
        );
        assert_eq!(
            DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            ["pending", "sending", "sent", "failed_retryable", "failed_permanent"]
        );
        assert_eq!(
            Channel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            ["wecom_bot", "wecom_app", "xgj_notify", "mock"]
        );
    }
}
