//! Order views: the list (filters, keyset pagination), the detail and the event log.

use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xyt_domain::order::OrderStatus;
use xyt_store::views::{self, Cursor, ListFilter, OrderDetail, OrderEventEntry, OrderListItem};

use super::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListOrdersQuery {
    /// Only orders in this status.
    #[param(value_type = Option<OrderStatus>)]
    pub status: Option<String>,
    /// Order no, external (XGJ) order no, or the last 4 digits of the buyer's phone.
    pub keyword: Option<String>,
    /// Created at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub created_from: Option<String>,
    /// Created before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub created_to: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPage {
    pub items: Vec<OrderListItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderEventList {
    pub order_no: String,
    /// Newest first.
    pub items: Vec<OrderEventEntry>,
}

impl ListOrdersQuery {
    fn into_filter(self) -> Result<ListFilter, ApiError> {
        let mut p = super::params::Params::default();
        let status = match self.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => {
                let st = OrderStatus::parse(s);
                if st.is_none() {
                    let all: Vec<_> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
                    p.error("status", format!("未知状态,可选:{}", all.join(", ")));
                }
                st
            }
        };
        let limit = p.limit(&self.limit);
        let created_from = p.time("createdFrom", &self.created_from);
        let created_to = p.time("createdTo", &self.created_to);
        let cursor = p.cursor(&self.cursor, Cursor::decode);
        let keyword = self.keyword.map(|k| k.trim().to_string()).filter(|k| !k.is_empty());
        if keyword.as_ref().is_some_and(|k| k.chars().count() > 64) {
            p.error("keyword", "关键字最长 64 个字符");
        }
        p.finish()?;
        Ok(ListFilter {
            status,
            keyword,
            created_from,
            created_to,
            limit,
            cursor,
        })
    }
}

/// List orders, newest first.
#[utoipa::path(
    operation_id = "listOrders",
    tag = "orders",
    params(ListOrdersQuery),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
        (status = 422, description = "Invalid filter", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    )
)]
#[get("/orders")]
pub async fn list_orders(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    query: web::Query<ListOrdersQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = query.into_inner().into_filter()?;
    let (items, next) = views::list_orders(&state.pool, &filter).await?;
    Ok(super::etag::json(
        &req,
        &OrderPage {
            items,
            next_cursor: next.map(|c| c.encode()),
        },
    ))
}

/// One quick filter of the order list: a status and how many orders are in it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCount {
    pub status: OrderStatus,
    /// 待人工审核, 待代付, ...
    pub label: String,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderCounts {
    /// Every status, in pipeline order, zero counts included.
    pub items: Vec<StatusCount>,
    pub total: i64,
}

/// Orders per status (the list's quick filters: 待人工审核 N, 待代付 N, ...), under the same
/// keyword and creation-time filters as the list; `status`, `limit` and `cursor` are checked
/// like the list's (a malformed one is refused) and then ignored.
#[utoipa::path(
    operation_id = "countOrdersByStatus",
    tag = "orders",
    params(ListOrdersQuery),
    responses(
        (status = 200, description = "Counts per status", body = OrderCounts),
        (status = 422, description = "Invalid filter", body = ErrorBody),
    )
)]
#[get("/orders/counts")]
pub async fn count_orders(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    query: web::Query<ListOrdersQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut filter = query.into_inner().into_filter()?;
    filter.status = None;
    filter.cursor = None;
    let counts = views::count_orders_by_status(&state.pool, &filter).await?;
    let items: Vec<StatusCount> = OrderStatus::ALL
        .iter()
        .map(|s| StatusCount {
            status: *s,
            label: s.label().into(),
            count: counts.get(s.as_str()).copied().unwrap_or(0),
        })
        .collect();
    let total = items.iter().map(|c| c.count).sum();
    Ok(super::etag::json(&req, &OrderCounts { items, total }))
}

/// One order's detail (订单详情).
#[utoipa::path(
    operation_id = "getOrder",
    tag = "orders",
    params(("orderNo" = String, Path, description = "Our order number, `XY…`")),
    responses(
        (status = 200, description = "The order", body = OrderDetail),
        (status = 404, description = "No such order", body = ErrorBody),
    )
)]
#[get("/orders/{orderNo}")]
pub async fn get_order(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let detail = state.service.detail(&path).await?;
    super::personal::answer(&state, &req, &detail.order_no, "detail", &detail).await
}

/// One order's event log (事件流), newest first.
#[utoipa::path(
    operation_id = "getOrderEvents",
    tag = "orders",
    params(("orderNo" = String, Path, description = "Our order number, `XY…`")),
    responses(
        (status = 200, description = "The events", body = OrderEventList),
        (status = 404, description = "No such order", body = ErrorBody),
    )
)]
#[get("/orders/{orderNo}/events")]
pub async fn get_order_events(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let detail = state.service.detail(&path).await?;
    let items = views::order_events(&state.pool, &detail.order_no)
        .await
        .map_err(ApiError::internal)?;
    let list = OrderEventList {
        order_no: detail.order_no,
        items,
    };
    super::personal::answer(&state, &req, &list.order_no, "events", &list).await
}

/// 人工审核 decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewRequest {
    /// `approve` or `reject`.
    #[schema(example = "approve")]
    pub decision: String,
    /// Required to reject (the reason shown on the order); optional to approve.
    pub note: Option<String>,
}

/// Approve or reject an order waiting for manual review.
#[utoipa::path(
    operation_id = "reviewOrder",
    tag = "orders",
    params(("orderNo" = String, Path, description = "Our order number, `XY…`")),
    request_body = ReviewRequest,
    responses(
        (status = 200, description = "Reviewed; the order as it now stands", body = OrderDetail),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "The order is not waiting for review, or changed meanwhile", body = ErrorBody),
        (status = 422, description = "Invalid decision or missing reason", body = ErrorBody),
    )
)]
#[post("/orders/{orderNo}/review")]
pub async fn review_order(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    path: web::Path<String>,
    body: web::Json<ReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    use xyt_domain::order::{OrderCommand, ReviewDecision};
    let decision = match super::params::decision_with_note(&body.decision, body.note.clone(), "approve")? {
        (true, note) => ReviewDecision::Approve { note },
        (false, reason) => ReviewDecision::Reject { reason },
    };
    let actor = crate::orders_service::Actor::new(super::operator(&req));
    let detail = state
        .service
        .command(&path, OrderCommand::Review(decision), &actor)
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}
