//! The admin REST API (`/api`), JSON in camelCase. All operator routes live in the one scope
//! built by [`admin_scope`], so that sign-in can guard them in one place.

pub mod config;
pub mod deliveries;
pub mod error;
pub mod etag;
pub mod fulfilment;
pub mod orders;
pub mod params;
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
        .service(orders::list_orders)
        // Before `/orders/{orderNo}`, which would take `counts` for an order number.
        .service(orders::count_orders)
        .service(orders::get_order)
        .service(orders::get_order_events)
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

/// Who is acting, for event metadata (`admin:<operator>`) and the config history. Until sign-in
/// lands this is the `X-Operator` header (letters, digits, `._-@`, at most 64), else `unknown`;
/// sign-in will replace it in this one place.
pub fn operator(req: &actix_web::HttpRequest) -> String {
    let name = req
        .headers()
        .get("x-operator")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b)))
        .unwrap_or("unknown");
    format!("admin:{name}")
}
