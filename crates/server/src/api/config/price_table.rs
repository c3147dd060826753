//! The price table (结算价): `/api/config/price-table`.

use super::*;

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
