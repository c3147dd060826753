//! xyt-domain: the Order aggregate and the value types it is made of.
//!
//! Pure: no database, no HTTP, no clock and no randomness inside `handle`. Everything a decision
//! needs (times, generated numbers, the goods config at intake) arrives in the command, and every
//! input of a decision is recorded in the event, so replaying a stream years later reaches the
//! same state whatever the configuration says by then.

pub mod access;
pub mod buyer;
pub mod delivery;
pub mod ids;
pub mod matching;
pub mod money;
pub mod order;
pub mod personal;
pub mod pricing;
pub mod target;
pub mod text;

pub use ids::{OrderNo, OutOrderNo};
pub use order::{EventMeta, Order, OrderCommand, OrderError, OrderEvent, OrderStatus, SuggestedAction};
