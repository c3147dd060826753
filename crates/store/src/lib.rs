//! xyt-store: everything PostgreSQL.
//!
//! The `events` table (postgres-es's plain event store, never a snapshot or aggregate store) is
//! the truth. Commands go through [`orders::OrderStore`], which commits an order's events and
//! then refreshes its projections. Projections are derived from the events alone and record,
//! per order, the last sequence they applied; [`projections::Projections::catch_up`] applies
//! whatever is missing, so a crash between a commit and a view update heals by itself.

pub mod access;
pub mod chain;
pub mod config_centre;
pub mod db;
pub mod deliveries;
pub mod erp;
pub mod goods_sync;
pub mod intake;
pub mod metrics;
pub mod orders;
pub mod projections;
pub mod replay;
pub mod step_backoff;
pub mod views;

pub use sqlx::PgPool;
