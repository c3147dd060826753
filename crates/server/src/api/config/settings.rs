//! The season calendar and the single settings (fee rate, play-date horizon).

use super::*;

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
