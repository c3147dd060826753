//! The admin REST API (`/api`), JSON in camelCase. Every route here is guarded by
//! [`crate::auth::guard`] by method and path (the policy is `xyt_domain::access::need`).

pub mod admin;
pub mod auth;
pub mod config;
pub mod deliveries;
pub mod disputes;
pub mod error;
pub mod etag;
pub mod fulfilment;
pub mod orders;
pub mod params;
pub mod personal;
pub mod public;
pub mod uploads;

use utoipa_actix_web::scope;

pub use error::ApiError;

pub fn admin_scope() -> utoipa_actix_web::scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    scope::scope("/api")
        .service(auth::login)
        .service(auth::logout)
        .service(auth::me)
        .service(admin::list_users)
        .service(admin::create_user)
        .service(admin::update_user)
        .service(admin::list_api_keys)
        .service(admin::create_api_key)
        .service(admin::revoke_api_key)
        .service(admin::security_log)
        .service(admin::personal_data_reads)
        .service(orders::list_orders)
        // Before `/orders/{orderNo}`, which would take `counts` for an order number.
        .service(orders::count_orders)
        .service(orders::get_order)
        .service(orders::get_order_events)
        .service(disputes::replay_order)
        .service(disputes::verify_order)
        .service(disputes::dispute_bundle)
        .service(orders::review_order)
        .service(fulfilment::confirm_payment)
        .service(fulfilment::push_to_agent)
        .service(uploads::upload_payment_proof)
        .service(uploads::upload_screenshot)
        .service(uploads::get_file)
        .service(fulfilment::review_screenshot)
        .service(fulfilment::settle_profit_share)
        .service(fulfilment::cancel_order)
        .service(deliveries::order_deliveries)
        .service(deliveries::list_deliveries)
        .service(deliveries::resend_delivery)
        .configure(config::configure)
}

/// Who is acting, for event metadata and the config history: `admin:<username>` for a signed-in
/// user, `api:<key name>` for an API key. The guard has put the principal on every request that
/// reaches a guarded handler; `X-Operator` and the like are ignored.
pub fn operator(req: &actix_web::HttpRequest) -> String {
    crate::auth::Principal::of(req)
        .map(|p| p.source())
        .unwrap_or_else(|| "system:unauthenticated".into())
}
