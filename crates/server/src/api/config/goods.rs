//! Goods (商品): `/api/config/goods`.

use super::*;

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
