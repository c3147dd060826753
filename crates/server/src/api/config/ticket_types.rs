//! Ticket types (票种): `/api/config/ticket-types`.

use super::*;

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
