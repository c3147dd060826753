//! XGJ (闲管家): the two signature schemes and a client that sends signed calls.

pub mod client;
pub mod gate;
pub mod sign;

pub use client::{SignedCall, XgjSupplyClient};
pub use sign::{erp_sign, supply_sign, SupplyCredentials};
