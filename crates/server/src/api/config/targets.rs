//! Notification targets (通知目标): `/api/config/notification-targets`.

use super::*;

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
