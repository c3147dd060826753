//! The config centre API (`/api/config/...`): goods, ticket types, the season calendar, the price
//! table, settings, payment QR codes, agent groups, notification targets, and the history of
//! every change (who, when, before, after).
//!
//! Handlers are thin: they parse the request, name the actor (`admin:<operator>`) and call
//! [`xyt_store::config_centre`], which validates, writes and records the change in one
//! transaction. JSON bodies are read as values and then deserialised with the failing field's
//! path, so even a wrong type answers 422 against the field that has it. QR code uploads are
//! multipart, capped while they stream, and typed from their bytes ([`crate::images`]).

use std::collections::BTreeMap;

use actix_multipart::{Multipart, MultipartError};
use actix_web::http::StatusCode;
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use xyt_domain::pricing::SeasonCalendar;
use xyt_store::config_centre::{
    self as cc, AgentGroup, AgentGroupInput, ConfigChange, ConfigError, Goods, GoodsCreate, GoodsUpdate, NewQrCode,
    NotificationTarget, NotificationTargetInput, PriceEntry, PriceInput, QrCode, Settings, SettingsInput, TicketType,
    TicketTypeInput,
};

use super::error::{ApiError, ErrorBody};
use super::operator;
use xyt_integrations::files::{check_image, ImageError, ImageLimits};

/// The largest QR code upload, checked while the body streams in.
const MAX_UPLOAD_BYTES: usize = 2 * 1024 * 1024;

/// A QR code is small: 2 MiB and 4096 pixels a side at most.
fn qr_limits() -> ImageLimits {
    ImageLimits {
        max_bytes: MAX_UPLOAD_BYTES,
        max_width: 4096,
        max_height: 4096,
        max_pixels: 4096 * 4096,
        ..ImageLimits::default()
    }
}
use crate::state::AppState;

/// Registers the config centre's routes inside the admin scope.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_goods)
        .service(create_goods)
        .service(get_goods)
        .service(update_goods)
        .service(delete_goods)
        .service(list_ticket_types)
        .service(put_ticket_type)
        .service(delete_ticket_type)
        .service(get_season_calendar)
        .service(put_season_calendar)
        .service(list_prices)
        .service(put_price)
        .service(delete_price)
        .service(get_settings)
        .service(put_settings)
        .service(list_qr_codes)
        .service(upload_qr_code)
        .service(activate_qr_code)
        .service(get_qr_image)
        .service(list_agent_groups)
        .service(create_agent_group)
        .service(update_agent_group)
        .service(delete_agent_group)
        .service(list_notification_targets)
        .service(create_notification_target)
        .service(update_notification_target)
        .service(delete_notification_target)
        .service(list_config_changes);
}

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Invalid(fields) => ApiError::validation(fields),
            ConfigError::NotFound { code, message } => ApiError::not_found(code, message),
            ConfigError::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            ConfigError::Db(e) => ApiError::internal(e),
        }
    }
}

/// Deserialises a JSON body, answering 422 against the field that fails.
fn parse_body<T: DeserializeOwned>(body: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let prefix = if path == "." { String::new() } else { format!("{path}.") };
        let inner = e.inner().to_string();
        let quoted = |s: &str| s.split('`').nth(1).map(str::to_string);
        let (field, message) = if let Some(f) = inner.strip_prefix("missing field ").and_then(quoted) {
            (format!("{prefix}{f}"), "必填".to_string())
        } else if let Some(f) = inner.strip_prefix("unknown field ").and_then(quoted) {
            // The path already ends at the unknown key.
            (if path == "." { f } else { path }, "不认识的字段".to_string())
        } else if let Some(v) = inner.strip_prefix("unknown variant ").and_then(quoted) {
            // Inside an internally tagged enum (a season rule) the path stops at the rule.
            let field = if path == "." { "body".to_string() } else { path };
            let expected = inner.split_once("expected ").map_or("", |(_, e)| e);
            let expected = expected
                .trim_start_matches("one of ")
                .replace('`', "")
                .replace(" or ", ", ");
            (field, format!("「{v}」不是可选值,可选:{expected}"))
        } else if inner.starts_with("invalid type") {
            let field = if path == "." { "body".to_string() } else { path };
            (field, format!("类型不对:{inner}"))
        } else {
            let field = if path == "." { "body".to_string() } else { path };
            (field, format!("取值无效:{inner}"))
        };
        ApiError::field(&field, message)
    })
}

fn not_found_id(code: &'static str, what: &str, id: &str) -> ApiError {
    ApiError::not_found(code, format!("{what} {id} 不存在"))
}

fn parse_id(code: &'static str, what: &str, id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| not_found_id(code, what, id))
}

// ---------------------------------------------------------------------------------------------
// Goods
// ---------------------------------------------------------------------------------------------

/// All goods (商品), by goods no.
#[utoipa::path(
    operation_id = "listGoods",
    tag = "config",
    responses((status = 200, description = "Every goods", body = [Goods]))
)]
#[get("/config/goods")]
pub async fn list_goods(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(cc::list_goods(&state.pool).await?))
}

/// Adds a goods: XGJ's goods no → ticket type, season label, price.
#[utoipa::path(
    operation_id = "createGoods",
    tag = "config",
    request_body = GoodsCreate,
    responses(
        (status = 201, description = "Created", body = Goods),
        (status = 409, description = "The goods no exists already", body = ErrorBody),
        (status = 422, description = "Invalid field(s), e.g. an unknown ticket type", body = ErrorBody),
    )
)]
#[post("/config/goods")]
pub async fn create_goods(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let input: GoodsCreate = parse_body(body.into_inner())?;
    let row = cc::create_goods(&state.pool, input, &operator(&req)).await?;
    state.config_cache.invalidate();
    Ok(HttpResponse::Created().json(row))
}

/// One goods.
#[utoipa::path(
    operation_id = "getGoods",
    tag = "config",
    params(("goodsNo" = String, Path, description = "XGJ's goods no")),
    responses(
        (status = 200, description = "The goods", body = Goods),
        (status = 404, description = "No such goods", body = ErrorBody),
    )
)]
#[get("/config/goods/{goodsNo}")]
pub async fn get_goods(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    match cc::get_goods(&state.pool, &path).await? {
        Some(g) => Ok(HttpResponse::Ok().json(g)),
        None => Err(ApiError::not_found("GOODS_NOT_FOUND", format!("商品「{path}」不存在"))),
    }
}

/// Changes a goods. Optional fields left out keep their values.
#[utoipa::path(
    operation_id = "updateGoods",
    tag = "config",
    params(("goodsNo" = String, Path, description = "XGJ's goods no")),
    request_body = GoodsUpdate,
    responses(
        (status = 200, description = "Updated", body = Goods),
        (status = 404, description = "No such goods", body = ErrorBody),
        (status = 422, description = "Invalid field(s)", body = ErrorBody),
    )
)]
#[put("/config/goods/{goodsNo}")]
pub async fn update_goods(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let input: GoodsUpdate = parse_body(body.into_inner())?;
    let row = cc::update_goods(&state.pool, &path, input, &operator(&req)).await?;
    state.config_cache.invalidate();
    Ok(HttpResponse::Ok().json(row))
}

/// Deletes a goods. Orders keep the goods snapshot they were taken in with.
#[utoipa::path(
    operation_id = "deleteGoods",
    tag = "config",
    params(("goodsNo" = String, Path, description = "XGJ's goods no")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such goods", body = ErrorBody),
    )
)]
#[delete("/config/goods/{goodsNo}")]
pub async fn delete_goods(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    cc::delete_goods(&state.pool, &path, &operator(&req)).await?;
    state.config_cache.invalidate();
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------------------
// Ticket types
// ---------------------------------------------------------------------------------------------

/// All ticket types (票种), by name.
#[utoipa::path(
    operation_id = "listTicketTypes",
    tag = "config",
    responses((status = 200, description = "Every ticket type", body = [TicketType]))
)]
#[get("/config/ticket-types")]
pub async fn list_ticket_types(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(cc::list_ticket_types(&state.pool).await?))
}

/// Creates a ticket type, or changes its description.
#[utoipa::path(
    operation_id = "putTicketType",
    tag = "config",
    params(("name" = String, Path, description = "The ticket type, e.g. `初级道 3 小时` (percent-encoded)")),
    request_body = TicketTypeInput,
    responses(
        (status = 200, description = "Updated", body = TicketType),
        (status = 201, description = "Created", body = TicketType),
        (status = 409, description = "Deleted meanwhile by someone else", body = ErrorBody),
        (status = 422, description = "Invalid name or description", body = ErrorBody),
    )
)]
#[put("/config/ticket-types/{name}")]
pub async fn put_ticket_type(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let input: TicketTypeInput = parse_body(body.into_inner())?;
    let (row, created) = cc::put_ticket_type(&state.pool, &path, input, &operator(&req)).await?;
    Ok(if created {
        HttpResponse::Created().json(row)
    } else {
        HttpResponse::Ok().json(row)
    })
}

/// Deletes a ticket type no goods uses; its price-table entries go with it.
#[utoipa::path(
    operation_id = "deleteTicketType",
    tag = "config",
    params(("name" = String, Path, description = "The ticket type")),
    responses(
        (status = 204, description = "Deleted, with its prices"),
        (status = 404, description = "No such ticket type", body = ErrorBody),
        (status = 409, description = "Still used by goods (`TICKET_TYPE_IN_USE`)", body = ErrorBody),
    )
)]
#[delete("/config/ticket-types/{name}")]
pub async fn delete_ticket_type(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    cc::delete_ticket_type(&state.pool, &path, &operator(&req)).await?;
    state.config_cache.invalidate();
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------------------
// Season calendar
// ---------------------------------------------------------------------------------------------

/// The season calendar (季节日历): date ranges → 淡季/平季/旺季, and a default.
#[utoipa::path(
    operation_id = "getSeasonCalendar",
    tag = "config",
    responses((status = 200, description = "The calendar", body = SeasonCalendar))
)]
#[get("/config/season-calendar")]
pub async fn get_season_calendar(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(cc::season_calendar(&state.pool).await?))
}

/// Replaces the season calendar. Dated rules must not overlap each other, nor recurring rules
/// each other (a dated rule may overlap a recurring one: it is the exception); errors are keyed
/// like `rules[1]` or `rules[2].to`.
#[utoipa::path(
    operation_id = "putSeasonCalendar",
    tag = "config",
    request_body = SeasonCalendar,
    responses(
        (status = 200, description = "Saved", body = SeasonCalendar),
        (status = 422, description = "Overlapping or invalid rules", body = ErrorBody),
    )
)]
#[put("/config/season-calendar")]
pub async fn put_season_calendar(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let calendar: SeasonCalendar = parse_body(body.into_inner())?;
    let saved = cc::put_season_calendar(&state.pool, &calendar, &operator(&req)).await?;
    state.config_cache.invalidate();
    Ok(HttpResponse::Ok().json(saved))
}

// ---------------------------------------------------------------------------------------------
// Price table
// ---------------------------------------------------------------------------------------------

/// The price table (结算价): ticket type × season → what the agent charges us.
#[utoipa::path(
    operation_id = "listPrices",
    tag = "config",
    responses((status = 200, description = "Every entry, by ticket type then season", body = [PriceEntry]))
)]
#[get("/config/price-table")]
pub async fn list_prices(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(cc::list_prices(&state.pool).await?))
}

/// Sets one settlement amount.
#[utoipa::path(
    operation_id = "putPrice",
    tag = "config",
    params(
        ("ticketType" = String, Path, description = "An existing ticket type"),
        ("season" = String, Path, description = "`low`, `mid` or `high` (or 淡季 / 平季 / 旺季)", pattern = "^(low|mid|high|淡季|平季|旺季)$"),
    ),
    request_body = PriceInput,
    responses(
        (status = 200, description = "Updated", body = PriceEntry),
        (status = 201, description = "Created", body = PriceEntry),
        (status = 409, description = "Deleted meanwhile by someone else", body = ErrorBody),
        (status = 422, description = "Bad amount, season or unknown ticket type", body = ErrorBody),
    )
)]
#[put("/config/price-table/{ticketType}/{season}")]
pub async fn put_price(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let (ticket_type, season) = path.into_inner();
    let season = cc::parse_season(&season)?;
    let input: PriceInput = parse_body(body.into_inner())?;
    let (row, created) = cc::put_price(&state.pool, &ticket_type, season, input, &operator(&req)).await?;
    state.config_cache.invalidate();
    Ok(if created {
        HttpResponse::Created().json(row)
    } else {
        HttpResponse::Ok().json(row)
    })
}

/// Removes one settlement amount.
#[utoipa::path(
    operation_id = "deletePrice",
    tag = "config",
    params(
        ("ticketType" = String, Path, description = "The ticket type"),
        ("season" = String, Path, description = "`low`, `mid` or `high`", pattern = "^(low|mid|high|淡季|平季|旺季)$"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such entry", body = ErrorBody),
        (status = 422, description = "Unknown season", body = ErrorBody),
    )
)]
#[delete("/config/price-table/{ticketType}/{season}")]
pub async fn delete_price(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ticket_type, season) = path.into_inner();
    let season = cc::parse_season(&season)?;
    cc::delete_price(&state.pool, &ticket_type, season, &operator(&req)).await?;
    state.config_cache.invalidate();
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

/// The platform fee rate and the play-date horizon.
#[utoipa::path(
    operation_id = "getSettings",
    tag = "config",
    responses((status = 200, description = "The settings", body = Settings))
)]
#[get("/config/settings")]
pub async fn get_settings(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(cc::get_settings(&state.pool).await?))
}

/// Changes the settings given (all or none).
#[utoipa::path(
    operation_id = "putSettings",
    tag = "config",
    request_body = SettingsInput,
    responses(
        (status = 200, description = "The settings now", body = Settings),
        (status = 422, description = "Fee rate outside [0, 1), horizon outside 1–730", body = ErrorBody),
    )
)]
#[put("/config/settings")]
pub async fn put_settings(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let input: SettingsInput = parse_body(body.into_inner())?;
    let saved = cc::put_settings(&state.pool, input, &operator(&req)).await?;
    state.config_cache.invalidate();
    Ok(HttpResponse::Ok().json(saved))
}

// ---------------------------------------------------------------------------------------------
// Payment QR codes
// ---------------------------------------------------------------------------------------------

/// The multipart form of a QR code upload.
#[derive(Debug, ToSchema)]
pub struct QrUploadForm {
    /// PNG, JPEG or WebP, at most 2 MiB and 4096 × 4096 pixels. The type is decided from the
    /// bytes, never from the file name or its declared type.
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    pub file: Vec<u8>,
    /// 1–100 characters, e.g. `支付宝收款码`.
    pub label: String,
    /// `true`: becomes the active code (the old one is deactivated); `false`: stored inactive.
    /// Left out: active when no code is active yet.
    pub active: Option<bool>,
}

/// All payment QR codes (收款码), the active one first; without their images.
#[utoipa::path(
    operation_id = "listQrCodes",
    tag = "config",
    responses((status = 200, description = "Every QR code", body = [QrCode]))
)]
#[get("/config/qr-codes")]
pub async fn list_qr_codes(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(cc::list_qr_codes(&state.pool).await?))
}

fn multipart_error(e: MultipartError) -> ApiError {
    match e {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible
        | MultipartError::BoundaryMissing => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "请求体必须是 multipart/form-data(字段 file、label、active)",
        ),
        other => ApiError::field("file", format!("上传中断或格式错误:{other}")),
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        format!("图片不能超过 {} MiB", MAX_UPLOAD_BYTES / (1024 * 1024)),
    )
}

/// What is read past the cap before answering 413, so that a client still sending gets the
/// answer rather than a reset connection; beyond it the connection is simply dropped.
const DRAIN_BYTES: usize = 8 * 1024 * 1024;

/// Reads and discards the rest of the body, up to [`DRAIN_BYTES`] in all.
async fn drain(payload: &mut Multipart, mut seen: usize) {
    while let Some(Ok(mut field)) = payload.next().await {
        while let Some(chunk) = field.next().await {
            match chunk {
                Ok(c) => seen += c.len(),
                Err(_) => return,
            }
            if seen > DRAIN_BYTES {
                return;
            }
        }
    }
}

struct Upload {
    file: Vec<u8>,
    label: String,
    active: Option<bool>,
}

/// Reads a short text field (at most 1 KiB).
async fn text_field(field: &mut actix_multipart::Field, name: &str) -> Result<String, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.next().await {
        buf.extend_from_slice(&chunk.map_err(multipart_error)?);
        if buf.len() > 1024 {
            return Err(ApiError::field(name, "内容过长"));
        }
    }
    let text = String::from_utf8(buf).map_err(|_| ApiError::field(name, "必须是 UTF-8 文本"))?;
    xyt_domain::text::check(&text, xyt_domain::text::TextKind::SingleLine).map_err(|bad| {
        let mut e = ApiError::field(name, bad.to_string());
        e.code = "CONTROL_CHARACTER";
        e
    })?;
    Ok(text)
}

async fn read_upload(mut payload: Multipart) -> Result<Upload, ApiError> {
    let mut file: Option<Vec<u8>> = None;
    let mut label: Option<String> = None;
    let mut active: Option<bool> = None;
    let mut errors = BTreeMap::new();
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(multipart_error)?;
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                if file.is_some() {
                    return Err(ApiError::field("file", "一次只能上传一张图片"));
                }
                let mut buf = Vec::new();
                let mut over = 0usize;
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(multipart_error)?;
                    if over > 0 || buf.len() + chunk.len() > MAX_UPLOAD_BYTES {
                        over += chunk.len();
                        if over > DRAIN_BYTES {
                            return Err(too_large());
                        }
                    } else {
                        buf.extend_from_slice(&chunk);
                    }
                }
                if over > 0 {
                    // The multipart stream waits for a field to be dropped before the next.
                    drop(field);
                    drain(&mut payload, over).await;
                    return Err(too_large());
                }
                file = Some(buf);
            }
            "label" => label = Some(text_field(&mut field, "label").await?),
            "active" => {
                let v = text_field(&mut field, "active").await?;
                match v.trim() {
                    "true" | "1" | "on" => active = Some(true),
                    "false" | "0" | "off" => active = Some(false),
                    "" => {}
                    _ => {
                        errors.insert("active".to_string(), "只能是 true 或 false".to_string());
                    }
                }
            }
            other => {
                return Err(ApiError::field(other, "不认识的字段,只接受 file、label、active"));
            }
        }
    }
    match &file {
        None => {
            errors.insert("file".into(), "请选择要上传的图片".into());
        }
        Some(f) if f.is_empty() => {
            errors.insert("file".into(), ImageError::Empty.to_string());
        }
        Some(_) => {}
    }
    if label.as_deref().is_none_or(|l| l.trim().is_empty()) {
        errors.insert("label".into(), "名称不能为空".into());
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(Upload {
        file: file.unwrap_or_default(),
        label: label.unwrap_or_default(),
        active,
    })
}

/// Uploads a payment QR code image. Only PNG, JPEG and WebP are accepted, decided from the bytes
/// (magic numbers and a full decode); the declared type and file name are ignored.
#[utoipa::path(
    operation_id = "uploadQrCode",
    tag = "config",
    request_body(content = inline(QrUploadForm), content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored", body = QrCode),
        (status = 413, description = "Larger than 2 MiB", body = ErrorBody),
        (status = 415, description = "Not multipart/form-data", body = ErrorBody),
        (status = 422, description = "Not an accepted image (`NOT_AN_IMAGE`, `IMAGE_CORRUPT`, \
                                      `IMAGE_DIMENSIONS_TOO_LARGE`) or a missing label", body = ErrorBody),
    )
)]
#[post("/config/qr-codes")]
pub async fn upload_qr_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    let upload = read_upload(payload).await?;
    let file = upload.file;
    // Decoding is CPU work: keep it off the async workers, behind the heavy-work cap.
    let (checked, file) = crate::heavy::run(move || (check_image(&file, &qr_limits()), file))
        .await
        .map_err(ApiError::internal)?;
    let checked = checked.map_err(|e| {
        let mut err = ApiError::field("file", e.to_string());
        err.code = e.code();
        err.message = e.to_string();
        err
    })?;
    let new = NewQrCode {
        label: upload.label,
        content_type: checked.kind.content_type().to_string(),
        image: file,
        active: upload.active,
    };
    let row = cc::insert_qr_code(&state.pool, new, &operator(&req)).await?;
    Ok(HttpResponse::Created().json(row))
}

/// An image's bytes, for the document.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ImageBytes(pub Vec<u8>);

/// Makes this the one active QR code; the previous one is deactivated in the same transaction.
#[utoipa::path(
    operation_id = "activateQrCode",
    tag = "config",
    params(("id" = Uuid, Path, description = "The QR code's id")),
    responses(
        (status = 200, description = "Now active", body = QrCode),
        (status = 404, description = "No such QR code", body = ErrorBody),
    )
)]
#[post("/config/qr-codes/{id}/activate")]
pub async fn activate_qr_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("QR_CODE_NOT_FOUND", "收款码", &path)?;
    Ok(HttpResponse::Ok().json(cc::activate_qr_code(&state.pool, id, &operator(&req)).await?))
}

/// The QR code's image, byte for byte as uploaded, with its stored content type.
#[utoipa::path(
    operation_id = "getQrCodeImage",
    tag = "config",
    params(("id" = Uuid, Path, description = "The QR code's id")),
    responses(
        (status = 200, description = "The image", content(
            (ImageBytes = "image/png"),
            (ImageBytes = "image/jpeg"),
            (ImageBytes = "image/webp"),
        )),
        (status = 404, description = "No such QR code", body = ErrorBody),
    )
)]
#[get("/config/qr-codes/{id}/image")]
pub async fn get_qr_image(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id("QR_CODE_NOT_FOUND", "收款码", &path)?;
    let Some(img) = cc::qr_image(&state.pool, id).await? else {
        return Err(not_found_id("QR_CODE_NOT_FOUND", "收款码", &path));
    };
    Ok(HttpResponse::Ok()
        .content_type(img.content_type)
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "default-src 'none'; sandbox"))
        .insert_header(("Content-Disposition", "inline"))
        // An id's bytes never change.
        .insert_header(("Cache-Control", "private, max-age=86400, immutable"))
        .body(img.image))
}

// ---------------------------------------------------------------------------------------------
// Agent groups
// ---------------------------------------------------------------------------------------------

/// All agent groups (代理群).
#[utoipa::path(
    operation_id = "listAgentGroups",
    tag = "config",
    responses((status = 200, description = "Every agent group", body = [AgentGroup]))
)]
#[get("/config/agent-groups")]
pub async fn list_agent_groups(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(cc::list_agent_groups(&state.pool).await?))
}

/// Adds an agent group.
#[utoipa::path(
    operation_id = "createAgentGroup",
    tag = "config",
    request_body = AgentGroupInput,
    responses(
        (status = 201, description = "Created", body = AgentGroup),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "Invalid name or WeCom target (`TARGET_NOT_ALLOWED`: not a WeCom target)", body = ErrorBody),
    )
)]
#[post("/config/agent-groups")]
pub async fn create_agent_group(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let mut input: AgentGroupInput = parse_body(body.into_inner())?;
    allowed_target(&state, "wecomTarget", &mut input.wecom_target, None)?;
    Ok(HttpResponse::Created().json(cc::create_agent_group(&state.pool, input, &operator(&req)).await?))
}

/// Changes an agent group.
#[utoipa::path(
    operation_id = "updateAgentGroup",
    tag = "config",
    params(("id" = Uuid, Path, description = "The group's id")),
    request_body = AgentGroupInput,
    responses(
        (status = 200, description = "Updated", body = AgentGroup),
        (status = 404, description = "No such group", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "Invalid name or WeCom target (`TARGET_NOT_ALLOWED`: not a WeCom target)", body = ErrorBody),
    )
)]
#[put("/config/agent-groups/{id}")]
pub async fn update_agent_group(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("AGENT_GROUP_NOT_FOUND", "代理群", &path)?;
    let mut input: AgentGroupInput = parse_body(body.into_inner())?;
    let current = cc::get_agent_group(&state.pool, id).await?.map(|g| g.wecom_target);
    allowed_target(&state, "wecomTarget", &mut input.wecom_target, current.as_deref())?;
    Ok(HttpResponse::Ok().json(cc::update_agent_group(&state.pool, id, input, &operator(&req)).await?))
}

/// Deletes an agent group. Orders already pushed keep the target recorded in their events.
#[utoipa::path(
    operation_id = "deleteAgentGroup",
    tag = "config",
    params(("id" = Uuid, Path, description = "The group's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such group", body = ErrorBody),
    )
)]
#[delete("/config/agent-groups/{id}")]
pub async fn delete_agent_group(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("AGENT_GROUP_NOT_FOUND", "代理群", &path)?;
    cc::delete_agent_group(&state.pool, id, &operator(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------------------
// Notification targets
// ---------------------------------------------------------------------------------------------

/// A target as typed, checked against where messages may go (WeCom only). `current` is the
/// stored target on an update: its masked form, sent back unchanged, keeps it.
fn allowed_target(state: &AppState, field: &str, typed: &mut String, current: Option<&str>) -> Result<(), ApiError> {
    if let Some(current) = current {
        if *typed == xyt_domain::target::masked(current) {
            *typed = current.to_string();
            return Ok(());
        }
    }
    state.targets.parse(typed.trim()).map(|_| ()).map_err(|e| {
        let mut err = ApiError::field(field, e.0);
        err.code = "TARGET_NOT_ALLOWED";
        err
    })
}

/// All notification targets (通知目标): where the system's own messages go.
#[utoipa::path(
    operation_id = "listNotificationTargets",
    tag = "config",
    responses((status = 200, description = "Every target", body = [NotificationTarget]))
)]
#[get("/config/notification-targets")]
pub async fn list_notification_targets(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(cc::list_notification_targets(&state.pool).await?))
}

/// Adds a notification target.
#[utoipa::path(
    operation_id = "createNotificationTarget",
    tag = "config",
    request_body = NotificationTargetInput,
    responses(
        (status = 201, description = "Created", body = NotificationTarget),
        (status = 422, description = "Invalid purpose, name or target (`TARGET_NOT_ALLOWED`: not a WeCom target)", body = ErrorBody),
    )
)]
#[post("/config/notification-targets")]
pub async fn create_notification_target(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let mut input: NotificationTargetInput = parse_body(body.into_inner())?;
    allowed_target(&state, "target", &mut input.target, None)?;
    let row = cc::create_notification_target(&state.pool, input, &operator(&req)).await?;
    Ok(HttpResponse::Created().json(row))
}

/// Changes a notification target.
#[utoipa::path(
    operation_id = "updateNotificationTarget",
    tag = "config",
    params(("id" = Uuid, Path, description = "The target's id")),
    request_body = NotificationTargetInput,
    responses(
        (status = 200, description = "Updated", body = NotificationTarget),
        (status = 404, description = "No such target", body = ErrorBody),
        (status = 422, description = "Invalid purpose, name or target (`TARGET_NOT_ALLOWED`: not a WeCom target)", body = ErrorBody),
    )
)]
#[put("/config/notification-targets/{id}")]
pub async fn update_notification_target(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("NOTIFICATION_TARGET_NOT_FOUND", "通知目标", &path)?;
    let mut input: NotificationTargetInput = parse_body(body.into_inner())?;
    let current = cc::get_notification_target(&state.pool, id).await?.map(|t| t.target);
    allowed_target(&state, "target", &mut input.target, current.as_deref())?;
    let row = cc::update_notification_target(&state.pool, id, input, &operator(&req)).await?;
    Ok(HttpResponse::Ok().json(row))
}

/// Deletes a notification target.
#[utoipa::path(
    operation_id = "deleteNotificationTarget",
    tag = "config",
    params(("id" = Uuid, Path, description = "The target's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such target", body = ErrorBody),
    )
)]
#[delete("/config/notification-targets/{id}")]
pub async fn delete_notification_target(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("NOTIFICATION_TARGET_NOT_FOUND", "通知目标", &path)?;
    cc::delete_notification_target(&state.pool, id, &operator(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

pub const HISTORY_MAX_LIMIT: i64 = 200;
pub const HISTORY_DEFAULT_LIMIT: i64 = 50;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only changes of this entity: `goods`, `ticket_type`, `price`, `setting`, `qr_code`,
    /// `agent_group`, `notification_target`.
    pub entity: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigChangePage {
    /// Newest first.
    pub items: Vec<ConfigChange>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The history of config changes (配置变更记录), newest first: who, when, before and after.
#[utoipa::path(
    operation_id = "listConfigChanges",
    tag = "config",
    params(HistoryQuery),
    responses(
        (status = 200, description = "A page of changes", body = ConfigChangePage),
        (status = 422, description = "Invalid filter", body = ErrorBody),
    )
)]
#[get("/config/history")]
pub async fn list_config_changes(
    state: web::Data<AppState>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let mut errors = BTreeMap::new();
    let entity = q.entity.as_deref().map(str::trim).filter(|e| !e.is_empty());
    if let Some(e) = entity {
        if !cc::ENTITIES.contains(&e) {
            errors.insert(
                "entity".to_string(),
                format!("未知类型,可选:{}", cc::ENTITIES.join(", ")),
            );
        }
    }
    let limit = match q.limit.as_deref().map(str::trim) {
        None | Some("") => HISTORY_DEFAULT_LIMIT,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=HISTORY_MAX_LIMIT).contains(&n) => n,
            _ => {
                errors.insert("limit".into(), format!("必须是 1 到 {HISTORY_MAX_LIMIT} 之间的整数"));
                HISTORY_DEFAULT_LIMIT
            }
        },
    };
    let cursor = match q.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match c.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                errors.insert("cursor".into(), "无效的分页游标,请从第一页重新开始".into());
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let items = cc::list_changes(&state.pool, entity, limit, cursor).await?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|c| c.id.to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(ConfigChangePage { items, next_cursor }))
}
