use std::sync::Arc;

use xyt_store::config_centre::cache::ConfigCache;
use xyt_store::orders::OrderStore;
use xyt_store::PgPool;

use crate::env_config::EnvConfig;

/// Shared by every handler.
pub struct AppState {
    pub pool: PgPool,
    /// The config reads on the order path, from memory while fresh.
    pub config_cache: Arc<ConfigCache>,
    pub orders: Arc<OrderStore>,
    pub public_limiter: crate::rate_limit::RateLimiter,
    pub delivery_worker: Arc<crate::delivery_worker::DeliveryWorker>,
    pub pipeline: Arc<crate::pipeline::Pipeline>,
    /// Every command on an order goes through it.
    pub service: crate::orders_service::OrderService,
    pub files: Arc<dyn xyt_integrations::files::FileStore>,
    pub config: Arc<EnvConfig>,
    pub auth: crate::auth::AuthConfig,
    /// Where operators may send messages (WeCom only).
    pub targets: xyt_domain::target::AllowedTargets,
}
