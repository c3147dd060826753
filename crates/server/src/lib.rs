//! xyt-server: the HTTP server (`xyt`), its routes, the OpenAPI document, the background workers
//! and the CLI subcommands.

pub mod api;
pub mod app;
pub mod auth;
pub mod bundle;
pub mod buyer_page;
pub mod console;
pub mod delivery_worker;
pub mod demo;
pub mod disputes;
pub mod env_config;
pub mod heavy;
pub mod input_guard;
pub mod metrics;
pub mod openapi;
pub mod orders_service;
pub mod pipeline;
pub mod rate_limit;
pub mod request_id;
pub mod state;
pub mod unmatched;
pub mod workers;
pub mod xgj;
