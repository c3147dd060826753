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

/// The document collected from the services, with access and the generic answers.
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

/// The document as served at `/api/openapi.json` and printed by `xyt openapi`: [`document`]
/// with the input rules (JSON Schema utoipa's model cannot hold: `if`/`then`, recursive refs).
pub fn document_json() -> serde_json::Value {
    with_input_rules(serde_json::to_value(document()).expect("the OpenAPI document serializes"))
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

/// Strings in a JSON body: no control character but tab, line feed and carriage return
/// (`xyt_domain::text::TextKind::MultiLine`, checked by `input_guard` for every string).
const BODY_TEXT: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";
/// Object keys, query and path values, multipart text fields: no control character at all
/// (`TextKind::SingleLine`).
const LINE_TEXT: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";
/// A notification or agent-group target (`mock://<name>`, `wecom-app:<chatid>` or an http(s) URL),
/// no blank at either end, no control character.
const TARGET: &str = "^(mock://[^\\s\\u0000-\\u001F\\u007F-\\u009F]([^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F])?|wecom-app:[A-Za-z0-9]{1,32}|https://qyapi\\.weixin\\.qq\\.com/cgi-bin/webhook/send\\?key=[A-Za-z0-9-]{1,64})$";
/// A display text the server trims (`check_text`, `parse_display_name`): 1..=`max` characters
/// after trimming, none of them a control character.
fn trimmed(max: usize) -> String {
    let visible = "[^\\s\\u0000-\\u001F\\u007F-\\u009F]";
    let inner = "[^\\u0000-\\u001F\\u007F-\\u009F]";
    format!(
        "^[ \\t\\n\\r]*{visible}({inner}{{0,{}}}{visible})?[ \\t\\n\\r]*$",
        max - 2
    )
}
/// Not blank, and [`BODY_TEXT`].
const NOT_BLANK: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";

/// States in the document what the server enforces on input beyond what the types say, in one
/// place: the control-character gate (`input_guard`) for every string, object key, query and
/// path value of `/api` requests, and the field rules the handlers check (blank names, targets,
/// enums, amounts, the note a rejection needs). Schemathesis (`just schemathesis`) holds the
/// two to each other.
fn with_input_rules(mut doc: serde_json::Value) -> serde_json::Value {
    use serde_json::{json, Value};

    fn text(schema: &mut Value, pattern: &str) {
        let Some(o) = schema.as_object_mut() else { return };
        let is_string = match o.get("type") {
            Some(Value::String(t)) => t == "string",
            Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
            _ => false,
        };
        if !is_string || o.contains_key("enum") || o.contains_key("const") || o.contains_key("format") {
            return;
        }
        match o.get("pattern").and_then(Value::as_str) {
            None => {
                o.insert("pattern".into(), json!(pattern));
            }
            // Patterns written with the gate's ranges, or that name only visible characters.
            Some(p)
                if p.contains("\\u0000-")
                    || !(p.contains("\\s")
                        || p.contains("\\S")
                        || p.contains("[^")
                        || p.replace("\\.", "").contains('.')) => {}
            // A field's own format: the gate still applies (`\s` and `.` match control characters).
            Some(_) => {
                let all = o.entry("allOf").or_insert_with(|| json!([]));
                if let Some(all) = all.as_array_mut() {
                    if !all.iter().any(|r| r["pattern"] == json!(pattern)) {
                        all.push(json!({ "pattern": pattern }));
                    }
                }
            }
        }
    }
    // Every string, key and nested value of a request body schema.
    fn body(schema: &mut Value, pattern: &str) {
        text(schema, pattern);
        let Some(o) = schema.as_object_mut() else { return };
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(Value::Array(items)) = o.get_mut(key) {
                items.iter_mut().for_each(|s| body(s, pattern));
            }
        }
        if let Some(items) = o.get_mut("items") {
            body(items, pattern);
        }
        if let Some(Value::Object(props)) = o.get_mut("properties") {
            props.values_mut().for_each(|s| body(s, pattern));
        }
        let is_object = o
            .get("type")
            .is_some_and(|t| t == "object" || t.as_array().is_some_and(|ts| ts.iter().any(|t| t == "object")));
        if is_object {
            match o.get_mut("additionalProperties") {
                Some(Value::Bool(false)) => {}
                Some(Value::Object(_)) => {
                    body(o.get_mut("additionalProperties").expect("present"), pattern);
                    o.insert("propertyNames".into(), json!({ "pattern": LINE_TEXT }));
                }
                _ => {
                    // Unknown properties are ignored, but pass the same gate as the rest.
                    // (`unevaluatedProperties`, not `additionalProperties`: the console's generated
                    // types must not grow an index signature.)
                    o.insert(
                        "unevaluatedProperties".into(),
                        json!({ "$ref": "#/components/schemas/PlainJson" }),
                    );
                    o.insert("propertyNames".into(), json!({ "pattern": LINE_TEXT }));
                }
            }
        }
    }
    fn refs(v: &Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            Value::Object(o) => {
                if let Some(r) = o.get("$ref").and_then(Value::as_str) {
                    if let Some(name) = r.strip_prefix("#/components/schemas/") {
                        out.insert(name.to_string());
                    }
                }
                o.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    // Field rules the handlers check (before the gate is added to every string).
    let schemas = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .expect("the document has schemas");
    let mut field = |schema: &str, prop: &str, rule: Value| {
        let target = schemas
            .get_mut(schema)
            .and_then(|s| s.pointer_mut(&format!("/properties/{prop}")))
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{schema}.{prop} is in the document"));
        for (k, v) in rule.as_object().expect("a rule is an object") {
            if v.is_null() {
                target.remove(k);
            } else {
                target.insert(k.clone(), v.clone());
            }
        }
    };
    field(
        "UpdateUserRequest",
        "displayName",
        json!({ "minLength": 1, "maxLength": null, "pattern": trimmed(64) }),
    );
    field(
        "CreateUserRequest",
        "displayName",
        json!({ "minLength": 1, "maxLength": null, "pattern": trimmed(64) }),
    );
    field(
        "AgentGroupInput",
        "name",
        json!({ "minLength": 1, "maxLength": null, "pattern": trimmed(100) }),
    );
    field("AgentGroupInput", "wecomTarget", json!({ "pattern": TARGET }));
    field(
        "NotificationTargetInput",
        "name",
        json!({ "minLength": 1, "maxLength": null, "pattern": trimmed(100) }),
    );
    field("NotificationTargetInput", "target", json!({ "pattern": TARGET }));
    field("NotificationTargetInput", "purpose", json!({ "enum": ["price_alert"] }));
    field(
        "ResendRequest",
        "target",
        json!({ "pattern": "^\\s*$|^\\s*(mock://\\S.*|wecom-app:[A-Za-z0-9]{1,32}|https?://\\S+)\\s*$" }),
    );
    field(
        "PriceInput",
        "settlementAmount",
        json!({ "pattern": "^[ \\t\\n\\r]*0*[0-9]{1,12}(\\.[0-9]{1,2})?[ \\t\\n\\r]*$" }),
    );
    field(
        "SettingsInput",
        "feeRate",
        json!({ "pattern": "^[ \\t\\n\\r]*0+(\\.[0-9]{1,6})?[ \\t\\n\\r]*$" }),
    );
    field(
        "PaymentRequest",
        "amount",
        json!({ "pattern": "^[ \\t\\n\\r]*(?![0.]*[ \\t\\n\\r]*$)[0-9]{1,7}(\\.[0-9]{1,2})?[ \\t\\n\\r]*$" }),
    );
    for goods in ["GoodsCreate", "GoodsUpdate"] {
        field(
            goods,
            "seasonLabel",
            json!({ "pattern": "^[ \\t\\n\\r]*(淡季|平季|旺季)[ \\t\\n\\r]*$" }),
        );
        field(goods, "goodsName", json!({ "pattern": trimmed(200) }));
        field(goods, "ticketType", json!({ "minLength": 1, "pattern": trimmed(100) }));
        field(goods, "priceCent", json!({ "minimum": 0, "maximum": 999_999_999 }));
    }
    field(
        "GoodsCreate",
        "goodsNo",
        json!({
            "minLength": 1,
            "maxLength": 100,
            "pattern": "^[^\\s\\u0000-\\u001F\\u007F-\\u009F]([^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F])?$"
        }),
    );
    field("ReviewRequest", "decision", json!({ "enum": ["approve", "reject"] }));
    field(
        "ScreenshotReviewRequest",
        "decision",
        json!({ "enum": ["confirm", "reject"] }),
    );
    for review in ["ReviewRequest", "ScreenshotReviewRequest"] {
        // A rejection needs its reason.
        let s = schemas
            .get_mut(review)
            .and_then(Value::as_object_mut)
            .expect("a review request");
        s.insert(
            "if".into(),
            json!({ "properties": { "decision": { "const": "reject" } }, "required": ["decision"] }),
        );
        s.insert(
            "then".into(),
            json!({ "properties": { "note": { "type": "string", "pattern": NOT_BLANK } }, "required": ["note"] }),
        );
    }
    // At least one setting.
    schemas
        .get_mut("SettingsInput")
        .and_then(Value::as_object_mut)
        .expect("SettingsInput")
        .insert(
            "anyOf".into(),
            json!([
                { "properties": { "feeRate": { "type": "string" } }, "required": ["feeRate"] },
                { "properties": { "playDateHorizonDays": { "type": "integer" } }, "required": ["playDateHorizonDays"] }
            ]),
        );
    let season_day = "^((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-9])|(0[13-9]|1[0-2])-30|(0[13578]|1[02])-31)$";
    if let Some(Value::Array(rules)) = schemas.get_mut("SeasonRule").and_then(|s| s.get_mut("oneOf")) {
        for rule in rules {
            for end in ["from", "to"] {
                if let Some(Value::Object(p)) = rule.pointer_mut(&format!("/properties/{end}")) {
                    if !p.contains_key("format") {
                        p.insert("pattern".into(), json!(season_day));
                    }
                }
            }
        }
    }
    // Query and form parameters the handlers check.
    let mut param = |path: &str, pointer: &str, name: Option<&str>, rule: Value| {
        let at = doc
            .pointer_mut(&format!(
                "/paths/{}{pointer}",
                path.replace('~', "~0").replace('/', "~1")
            ))
            .unwrap_or_else(|| panic!("{path}{pointer} is in the document"));
        let target = match name {
            Some(name) => at
                .as_array_mut()
                .and_then(|ps| ps.iter_mut().find(|p| p["name"] == name))
                .map(|p| &mut p["schema"])
                .unwrap_or_else(|| panic!("{path} has parameter {name}")),
            None => at,
        };
        for (k, v) in rule.as_object().expect("a rule is an object") {
            target[k] = v.clone();
        }
    };
    // Cursors of the security and personal-data logs and of the config history are positive ids.
    param(
        "/api/admin/security-log",
        "/get/parameters",
        Some("before"),
        json!({ "minimum": 1 }),
    );
    param(
        "/api/admin/personal-data-reads",
        "/get/parameters",
        Some("before"),
        json!({ "minimum": 1 }),
    );
    param(
        "/api/config/history",
        "/get/parameters",
        Some("cursor"),
        json!({ "pattern": "^\\s*([1-9][0-9]{0,17})?\\s*$" }),
    );
    param(
        "/api/config/history",
        "/get/parameters",
        Some("entity"),
        json!({ "pattern": "^\\s*(goods|ticket_type|price|setting|qr_code|agent_group|notification_target)?\\s*$" }),
    );
    param(
        "/api/config/qr-codes",
        "/post/requestBody/content/multipart~1form-data/schema/properties/label",
        None,
        json!({ "pattern": trimmed(100) }),
    );
    // Any other form field is refused.
    param(
        "/api/config/qr-codes",
        "/post/requestBody/content/multipart~1form-data/schema",
        None,
        json!({ "additionalProperties": false }),
    );
    param(
        "/api/config/qr-codes",
        "/post/requestBody/content/multipart~1form-data/schema/properties/active",
        None,
        json!({ "type": ["boolean", "string"], "pattern": "^\\s*(true|1|on|false|0|off)?\\s*$" }),
    );
    // The type is read from the bytes: an image, not any octet stream.
    if let Some(Value::Object(file)) = doc.pointer_mut(
        "/paths/~1api~1config~1qr-codes/post/requestBody/content/multipart~1form-data/schema/properties/file",
    ) {
        file.remove("contentMediaType");
    }
    // Request bodies (inline schemas) and parameters; the components they use, transitively.
    let mut used = std::collections::BTreeSet::new();
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        for (path, item) in paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            let Some(item) = item.as_object_mut() else { continue };
            for op in item.values_mut() {
                for p in op
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if matches!(p.get("in").and_then(Value::as_str), Some("query" | "path")) {
                        if let Some(s) = p.get_mut("schema") {
                            text(s, LINE_TEXT);
                        }
                    }
                }
                let Some(Value::Object(content)) = op.pointer_mut("/requestBody/content") else {
                    continue;
                };
                for (media, c) in content.iter_mut() {
                    let Some(schema) = c.get_mut("schema") else { continue };
                    refs(schema, &mut used);
                    let pattern = if media.starts_with("multipart/") {
                        LINE_TEXT
                    } else {
                        BODY_TEXT
                    };
                    body(schema, pattern);
                }
            }
        }
    }
    let schemas = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .expect("the document has schemas");
    loop {
        let mut more = used.clone();
        for name in &used {
            if let Some(s) = schemas.get(name) {
                refs(s, &mut more);
            }
        }
        if more.len() == used.len() {
            break;
        }
        used = more;
    }
    for name in &used {
        if let Some(s) = schemas.get_mut(name) {
            body(s, BODY_TEXT);
        }
    }
    // Any JSON value whose strings and keys pass the gate (an unknown property's value).
    schemas.insert(
        "PlainJson".into(),
        json!({
            "description": "Any JSON value whose strings and keys hold no control characters (unknown properties are ignored).",
            "anyOf": [
                { "type": "string", "pattern": BODY_TEXT },
                { "type": ["number", "boolean", "null"] },
                { "type": "array", "items": { "$ref": "#/components/schemas/PlainJson" } },
                { "type": "object", "propertyNames": { "pattern": LINE_TEXT }, "additionalProperties": { "$ref": "#/components/schemas/PlainJson" } }
            ]
        }),
    );

    doc
}

pub fn to_json() -> String {
    let mut s = serde_json::to_string_pretty(&document_json()).expect("the OpenAPI document serializes");
    s.push('\n');
    s
}
