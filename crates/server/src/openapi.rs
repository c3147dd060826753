//! The OpenAPI 3.1 document, collected by utoipa-actix-web from the very services the server
//! mounts, so it cannot describe a route that does not exist or miss one that does.

use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "xy-ticket",
        description = "Order back office for ticket resellers on Xianyu (闲鱼) through XGJ (闲管家). \
                       Admin API under /api (JSON, camelCase, errors as {code, message, fieldErrors?, requestId}); \
                       XGJ gateway under /xgj (XGJ's own signed envelope)."
    ),
    tags(
        (name = "orders", description = "Order views: list, detail, event log"),
        (name = "config", description = "The config centre: goods, seasons, prices, QR codes, agent groups, targets, history"),
        (name = "xgj", description = "Endpoints XGJ calls: virtual supply (/xgj/goofish/...) and the ERP order push"),
    )
)]
pub struct ApiDoc;

impl ApiDoc {
    pub fn openapi_doc() -> utoipa::openapi::OpenApi {
        <Self as OpenApi>::openapi()
    }
}

/// The document as served at `/api/openapi.json` and printed by `xyt openapi`.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, api) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi_doc())
        .service(crate::api::admin_scope())
        .service(crate::xgj::scope())
        .split_for_parts();
    api
}

pub fn to_json() -> String {
    let mut s = document().to_pretty_json().expect("the OpenAPI document serializes");
    s.push('\n');
    s
}
