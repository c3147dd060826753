//! Payment QR codes (收款码): multipart uploads, capped while they stream and typed from their
//! bytes, activation, and the image served back.

use actix_multipart::{Multipart, MultipartError};
use futures::StreamExt;

use super::*;
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
