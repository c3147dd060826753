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
                       XGJ gateway under /xgj (XGJ's own signed envelope). \
                       Every /api operation but sign-in, the buyer's form and this document needs a session \
                       (cookie `xyt_session`, plus `X-CSRF-Token` on state-changing requests) or an API key \
                       (`Authorization: Bearer <key>`). Each operation says which roles may call it. \
                       Every authenticated POST accepts `Idempotency-Key`."
    ),
    tags(
        (name = "orders", description = "Order views: list, detail, event log"),
        (name = "fulfilment", description = "Payment and proof, push to the agent, screenshot review, profit share, cancel"),
        (name = "deliveries", description = "Notification deliveries: every message sent, its attempts, resend"),
        (name = "public", description = "The buyer's form behind the card link (no sign-in; rate-limited)"),
        (name = "config", description = "The config centre: goods, seasons, prices, QR codes, agent groups, targets, history"),
        (name = "auth", description = "Sign-in for the console: a session cookie and its CSRF token"),
        (name = "admin", description = "Users, API keys, the security log and personal-data reads (admins)"),
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
    with_generic_answers(with_access(api))
}

/// Adds the two security schemes and, to every guarded operation, its security requirement, the
/// roles that may call it (from the same policy the guard enforces) and its 401/403 answers.
fn with_access(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    use xyt_domain::access::{need, Need};
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            crate::auth::SESSION_COOKIE,
            "The console's session (POST /api/auth/login); state-changing requests also send X-CSRF-Token",
        ))),
    );
    let mut bearer = Http::new(HttpAuthScheme::Bearer);
    bearer.description = Some("An API key (`xyt api-key create`)".into());
    components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    let error = |d: &str| -> RefOr<utoipa::openapi::Response> {
        ResponseBuilder::new()
            .description(d)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
            .into()
    };
    let idempotency_key = {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(utoipa::openapi::Required::False)
            .description(Some(
                "1–128 visible ASCII characters. The first answer is kept 24 hours per caller and key: a repeat \
                 with the same request gets it again (header `Idempotency-Replayed: true`) and does nothing; the \
                 same key with another request gets 422 `IDEMPOTENCY_KEY_REUSED`; a repeat while the first runs, 409.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(128))
                    .pattern(Some("^[\\x21-\\x7e]+$")),
            ))
            .build()
    };
    for (path, item) in api.paths.paths.iter_mut() {
        let ops = [
            ("GET", &mut item.get),
            ("PUT", &mut item.put),
            ("POST", &mut item.post),
            ("DELETE", &mut item.delete),
            ("PATCH", &mut item.patch),
            ("HEAD", &mut item.head),
            ("OPTIONS", &mut item.options),
        ];
        for (method, op) in ops {
            let Some(op) = op.as_mut() else { continue };
            let needed = need(method, path);
            if needed == Need::Nothing {
                continue;
            }
            op.security = Some(vec![
                SecurityRequirement::new("session", Vec::<String>::new()),
                SecurityRequirement::new("bearer", Vec::<String>::new()),
            ]);
            let roles: Vec<&str> = needed.roles().iter().map(|r| r.as_str()).collect();
            let line = format!("Roles: {}.", roles.join(", "));
            op.description = Some(match op.description.take() {
                Some(d) if !d.is_empty() => format!("{d}\n\n{line}"),
                _ => line,
            });
            if method == "POST" {
                op.parameters
                    .get_or_insert_with(Vec::new)
                    .push(idempotency_key.clone().into());
            }
            let r = &mut op.responses.responses;
            r.entry("401".into())
                .or_insert_with(|| error("No session or API key, or an expired or revoked one (`UNAUTHENTICATED`)"));
            r.entry("403".into()).or_insert_with(|| {
                error("The role may not (`FORBIDDEN`), or a session's request lacks its X-CSRF-Token (`CSRF_FAILED`) or comes from a foreign Origin (`ORIGIN_NOT_ALLOWED`)")
            });
        }
    }
    api
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
