//! The config centre API (`/api/config/...`).

/// Registers the config centre's routes inside the admin scope.
pub fn configure(_cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {}
