//! The config history: `/api/config/history`.

use super::*;

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
