//! Image uploads (付款凭证, 代理截图) and serving them back.
//!
//! The order's state is checked first: an upload the order cannot take is refused (409) before a
//! byte of it is decoded. Then the type is decided from the bytes (magic numbers and a full
//! decode), never the name or the header; the size is capped while streaming, and the pixel
//! dimensions and the decoded size (width × height × bytes per pixel) are checked from the header
//! before any decode. Decoding runs on a blocking thread behind the heavy-work cap
//! ([`crate::heavy`]). A refused upload writes nothing: no file, no event, the current image
//! untouched, no OCR run.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use futures::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;
use xyt_domain::order::{OrderCommand, StoredImage};
use xyt_integrations::files::{check_image, is_sha256_hex, CheckedImage, ImageLimits};
use xyt_store::views::OrderDetail;

use super::error::{ApiError, ErrorBody};
use crate::orders_service::{Actor, OrderService};
use crate::state::AppState;

/// A multipart upload with one image in the field `file`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageUpload {
    /// JPEG, PNG or WebP, at most 10 MB and 8000 × 8000 pixels.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// Reads the `file` field under the byte cap (the rest of the stream is not buffered).
/// The `file` field's bytes and the content type its part declared, if any.
pub async fn read_file_field(mut payload: Multipart, max_bytes: usize) -> Result<(Vec<u8>, Option<String>), ApiError> {
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| ApiError::field("file", format!("上传内容无法解析:{e}")))?;
        if field.name() != Some("file") {
            while let Some(chunk) = field.next().await {
                chunk.map_err(|e| ApiError::field("file", format!("上传内容无法解析:{e}")))?;
            }
            continue;
        }
        let declared = field.content_type().map(|m| m.essence_str().to_string());
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| ApiError::field("file", format!("上传中断:{e}")))?;
            if bytes.len() + chunk.len() > max_bytes {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "IMAGE_TOO_LARGE",
                    format!("文件太大,上限为 {} MB,请压缩后重新上传", max_bytes / (1024 * 1024)),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((bytes, declared));
    }
    Err(ApiError::field("file", "请在 file 字段上传图片"))
}

pub fn checked(bytes: &[u8]) -> Result<CheckedImage, ApiError> {
    check_image(bytes, &ImageLimits::default()).map_err(|e| {
        let mut err = ApiError::field("file", e.to_string());
        err.code = e.code();
        err
    })
}

/// [`checked`] off the request workers, behind the heavy-work cap.
pub async fn checked_off_worker(bytes: Vec<u8>) -> Result<(CheckedImage, Vec<u8>), ApiError> {
    crate::heavy::run(move || checked(&bytes).map(|c| (c, bytes)))
        .await
        .map_err(ApiError::internal)?
}

pub fn stored(c: &CheckedImage) -> StoredImage {
    StoredImage {
        file_id: c.sha256.clone(),
        sha256: c.sha256.clone(),
        content_type: c.kind.content_type().into(),
        size: c.size as i64,
        width: c.width,
        height: c.height,
    }
}

/// What an upload may be. A payment proof is forwarded to the agent group as a WeCom robot image,
/// which takes JPEG or PNG of at most 2 MB: refusing anything else here tells the operator now,
/// instead of a push that can never succeed later.
#[derive(Clone, Copy)]
enum Kind {
    PaymentProof,
    Screenshot,
}

const PROOF_MAX_BYTES: usize = 2 * 1024 * 1024;

async fn upload(
    state: &AppState,
    req: &HttpRequest,
    order_no: &str,
    payload: Multipart,
    kind: Kind,
) -> Result<OrderDetail, ApiError> {
    let command = match kind {
        Kind::PaymentProof => OrderCommand::UploadPaymentProof,
        Kind::Screenshot => OrderCommand::UploadScreenshot,
    };
    let max_bytes = match kind {
        Kind::PaymentProof => PROOF_MAX_BYTES,
        Kind::Screenshot => ImageLimits::default().max_bytes,
    };
    let current = state.service.current(order_no).await?;
    // The state first: an image the order cannot take is not decoded (only drained, within the
    // size cap, so the client reads the answer instead of a reset). The placeholder's empty hash
    // matches no stored image, so only the state decides here.
    let placeholder = StoredImage {
        file_id: String::new(),
        sha256: String::new(),
        content_type: String::new(),
        size: 0,
        width: 0,
        height: 0,
    };
    if let Err(e) = OrderService::admits(&current, command(placeholder)) {
        let _ = read_file_field(payload, max_bytes).await;
        return Err(e.into());
    }
    let (bytes, declared) = read_file_field(payload, max_bytes).await?;
    let (image, bytes) = checked_off_worker(bytes).await?;
    if matches!(kind, Kind::PaymentProof) && image.kind == xyt_integrations::files::ImageKind::Webp {
        let mut e = ApiError::field(
            "file",
            "付款凭证会以图片发到代理群,企业微信只接受 JPEG、PNG:请转换后上传",
        );
        e.code = "IMAGE_NOT_SENDABLE";
        return Err(e);
    }
    // The bytes decide the type; a part that declares another image type is a confused client
    // (or a disguise), refused rather than guessed at.
    if let Some(d) = declared.filter(|d| d != "application/octet-stream") {
        if d != image.kind.content_type() {
            let mut e = ApiError::field(
                "file",
                format!(
                    "文件内容是 {},但声明为 {d};请上传与类型一致的图片",
                    image.kind.content_type()
                ),
            );
            e.code = "CONTENT_TYPE_MISMATCH";
            return Err(e);
        }
    }
    // Decide first (pure): a command the order refuses stores nothing.
    OrderService::admits(&current, command(stored(&image)))?;
    state.files.put(&bytes, &image).await.map_err(ApiError::internal)?;
    let actor = Actor::new(super::operator(req));
    let ran = state.service.run_on(current, command(stored(&image)), &actor).await?;
    Ok(state.service.detail(ran.current.order_no().as_str()).await?)
}

/// 上传付款凭证: a new upload supersedes the last. Needs a confirmed payment. JPEG or PNG of at
/// most 2 MB (it goes to the agent group as a WeCom robot image).
#[utoipa::path(
    operation_id = "uploadPaymentProof",
    tag = "fulfilment",
    params(("orderNo" = String, Path)),
    request_body(content = ImageUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Stored; the order now awaits its push", body = OrderDetail),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "No payment confirmed yet, or the wrong state", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody),
        (status = 422, description = "Not an accepted image", body = ErrorBody),
    )
)]
#[post("/orders/{orderNo}/payment/proof")]
pub async fn upload_payment_proof(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(upload(&state, &req, &path, payload, Kind::PaymentProof).await?))
}

/// 上传代理截图: OCR and matching run right after.
#[utoipa::path(
    operation_id = "uploadScreenshot",
    tag = "fulfilment",
    params(("orderNo" = String, Path)),
    request_body(content = ImageUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Stored, read and matched", body = OrderDetail),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "The order is not waiting for a ticket", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody),
        (status = 422, description = "Not an accepted image", body = ErrorBody),
    )
)]
#[post("/orders/{orderNo}/screenshot")]
pub async fn upload_screenshot(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(upload(&state, &req, &path, payload, Kind::Screenshot).await?))
}

/// An uploaded image, served to the admin API only, with a fixed image content type.
#[utoipa::path(
    operation_id = "getFile",
    tag = "fulfilment",
    params(("sha256" = String, Path, description = "The file id")),
    responses(
        (status = 200, description = "The image", content_type = "image/*"),
        (status = 404, description = "No such file", body = ErrorBody),
    )
)]
#[get("/files/{sha256}")]
pub async fn get_file(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::not_found("FILE_NOT_FOUND", "文件不存在");
    if !is_sha256_hex(&path) {
        return Err(not_found());
    }
    let bytes = state
        .files
        .get(&path)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    // Checked when it was stored: the first bytes say the type, no decode needed.
    let kind = xyt_integrations::files::kind_of(&bytes).ok_or_else(not_found)?;
    let ext = kind.content_type().rsplit('/').next().unwrap_or("bin");
    Ok(HttpResponse::Ok()
        .content_type(kind.content_type())
        .insert_header(("X-Content-Type-Options", "nosniff"))
        // Shown inline as an image, never run as a page: even a browser that sniffed it would
        // find no script, plugin or same-origin rights.
        .insert_header((
            "Content-Disposition",
            format!("inline; filename=\"{}.{ext}\"", &path[..16]),
        ))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'",
        ))
        .insert_header(("Cache-Control", "private, max-age=86400, immutable"))
        .body(bytes))
}
