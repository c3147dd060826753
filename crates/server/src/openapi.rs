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
        (name = "fulfilment", description = "Payment and proof, push to the agent, screenshot review, profit share, cancel"),
        (name = "deliveries", description = "Notification deliveries: every message sent, its attempts, resend"),
        (name = "public", description = "The buyer's form behind the card link (no sign-in; rate-limited)"),
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
        .service(crate::api::public::scope())
        .service(crate::api::admin_scope())
        .service(crate::xgj::scope())
        .split_for_parts();
    with_generic_answers(api)
}

/// The answers every `/api` operation can give whatever its own annotation lists, added in one
/// place so the document states them all: 413 and 415 for a request body (too large, or not
/// the declared media type), 422 for a body or parameters (the shared validation and the
/// control-character gate), and 404 for a path parameter (an id that names nothing).
fn with_generic_answers(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::path::{Operation, ParameterIn};
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    };
    let amend = |op: &mut Operation| {
        let params: Vec<ParameterIn> = op
            .parameters
            .iter()
            .flatten()
            .filter_map(|p| match p {
                RefOr::T(p) => Some(p.parameter_in.clone()),
                RefOr::Ref(_) => None,
            })
            .collect();
        let has_body = op.request_body.is_some();
        let responses = &mut op.responses.responses;
        let mut add = |code: &str, description: &str| {
            responses.entry(code.to_string()).or_insert_with(|| error(description));
        };
        if has_body {
            add("413", "The request body is over the size limit");
            add("415", "The request body is not of the declared media type");
        }
        if has_body || !params.is_empty() {
            add("422", "Invalid field(s), named in fieldErrors");
        }
        if params.iter().any(|p| matches!(p, ParameterIn::Path)) {
            add("404", "Nothing by that id");
        }
    };
    for (path, item) in api.paths.paths.iter_mut() {
        if !path.starts_with("/api/") {
            continue;
        }
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            amend(op);
        }
    }
    api
}

pub fn to_json() -> String {
    let mut s = document().to_pretty_json().expect("the OpenAPI document serializes");
    s.push('\n');
    s
}
