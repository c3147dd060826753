//! The admin REST API (`/api`), JSON in camelCase. All operator routes live in the one scope
//! built by [`admin_scope`], so that sign-in can guard them in one place.

pub mod error;
pub mod orders;

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
        .service(orders::get_order)
        .service(orders::get_order_events)
}
