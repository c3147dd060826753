//! Integration tests: the real app on an ephemeral port, a fresh PostgreSQL database per test,
//! real HTTP. One binary, so the app links once.

mod access;
mod channels;
mod config;
mod console;
mod deliveries;
mod disputes;
mod erp;
mod forms;
mod fulfilment;
mod gateway;
mod goods_sync;
mod hardening;
mod helpers;
mod instances;
mod metrics;
mod openapi;
mod orders;
mod projections;
mod service;
