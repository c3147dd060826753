//! Agent groups (代理群): `/api/config/agent-groups`.

use super::*;

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
