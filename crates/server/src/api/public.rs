//! The buyer's form behind the card link (`/f/{token}` → `/api/public/forms/{token}`).
//!
//! No sign-in: the unguessable token is the credential. An unknown token answers the same 404
//! whatever exists, and every client address is rate-limited, so the endpoint cannot be used to
//! probe for orders. Lists and answers here show the buyer's data masked.

use std::net::IpAddr;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;
use xyt_domain::buyer::{validate, CertificateType, FormInput};
use xyt_domain::order::{Order, OrderCommand, OrderStatus};
use xyt_store::orders::Current;
use xyt_store::views;

use super::error::{ApiError, ErrorBody};
use crate::orders_service::{Actor, ServiceError};
use crate::state::AppState;

fn limit(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    // The peer address, not X-Forwarded-For: a header the client controls cannot buy it a new budget.
    let ip = req.peer_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
    state.public_limiter.check(ip).map_err(|wait| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("请求过于频繁,请 {wait} 秒后再试"),
        )
    })
}

fn today_in_shanghai() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmittedForm {
    /// Masked.
    pub name: String,
    pub phone_country_code: String,
    /// Masked.
    pub phone: String,
    pub certificate_type: CertificateType,
    pub certificate_type_label: String,
    /// Masked.
    pub certificate_no: String,
    pub play_date: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateTypeOption {
    pub value: CertificateType,
    pub label: String,
    /// Gender and birthday must be given for this type.
    pub requires_gender_and_birthday: bool,
}

/// What the buyer's page shows.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicForm {
    pub goods_name: Option<String>,
    pub ticket_type: Option<String>,
    #[schema(value_type = Option<String>, example = "3.20")]
    pub paid_amount: Option<rust_decimal::Decimal>,
    /// The order's state in the buyer's words.
    pub state_text: String,
    /// What was submitted, masked; absent before the first submission.
    pub submitted: Option<SubmittedForm>,
    /// Whether the form can still be changed (until the order is pushed to the agent).
    pub editable: bool,
    pub play_date_min: NaiveDate,
    pub play_date_max: NaiveDate,
    pub certificate_types: Vec<CertificateTypeOption>,
}

fn buyer_words(o: &Order) -> &'static str {
    match o.status {
        Some(OrderStatus::AwaitingUserForm) if o.form.is_some() => "资料已提交,正在核对",
        Some(OrderStatus::AwaitingUserForm) | None => "请填写出票资料",
        Some(OrderStatus::PendingManualReview) => "资料已提交,客服正在核对订单",
        Some(OrderStatus::AwaitingPayment) | Some(OrderStatus::AwaitingPush) => "资料已确认,正在为您安排出票",
        Some(OrderStatus::AwaitingTicket) | Some(OrderStatus::PendingMatchReview) => "正在出票,请耐心等待",
        Some(OrderStatus::AwaitingUserNotification) | Some(OrderStatus::Completed) => "已出票",
        Some(OrderStatus::Cancelled) => "订单已取消,如有疑问请联系客服",
    }
}

async fn order_for(state: &AppState, token: &str) -> Result<Current, ApiError> {
    let not_found = || ApiError::not_found("FORM_NOT_FOUND", "链接无效或已失效,请从闲鱼订单里重新打开");
    // Tokens are 24 URL-safe characters; anything else is not worth a query.
    if !(16..=64).contains(&token.len())
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(not_found());
    }
    let no = views::order_no_for_form_token(&state.pool, token)
        .await?
        .ok_or_else(not_found)?;
    state.service.current(&no).await.map_err(|e| match e {
        ServiceError::NotFound(_) => not_found(),
        other => other.into(),
    })
}

async fn public_view(state: &AppState, o: &Order) -> Result<PublicForm, ApiError> {
    let horizon = state.config_cache.play_date_horizon_days().await?;
    let today = today_in_shanghai();
    Ok(PublicForm {
        goods_name: o.goods.as_ref().map(|g| g.goods_name.clone()),
        ticket_type: o.ticket_type.clone(),
        paid_amount: o.paid_amount,
        state_text: buyer_words(o).into(),
        submitted: o.form.as_ref().map(|f| SubmittedForm {
            name: f.name.masked(),
            phone_country_code: f.phone_country_code.clone(),
            phone: f.phone.masked(),
            certificate_type: f.certificate_type,
            certificate_type_label: f.certificate_type.label().into(),
            certificate_no: f.certificate_no.masked(),
            play_date: f.play_date,
        }),
        editable: o.form_editable().is_ok(),
        play_date_min: today,
        play_date_max: today + chrono::Days::new(horizon.max(0) as u64),
        certificate_types: CertificateType::ALL
            .iter()
            .map(|t| CertificateTypeOption {
                value: *t,
                label: t.label().into(),
                requires_gender_and_birthday: t.requires_gender_and_birthday(),
            })
            .collect(),
    })
}

/// The buyer's form: what they bought, the order's state, what they submitted (masked).
#[utoipa::path(
    operation_id = "getPublicForm",
    tag = "public",
    params(("token" = String, Path, description = "The token of the card link `/f/{token}`")),
    responses(
        (status = 200, description = "The form", body = PublicForm),
        (status = 404, description = "Unknown or mistyped link", body = ErrorBody),
        (status = 429, description = "Too many requests from this address", body = ErrorBody),
    )
)]
#[get("/forms/{token}")]
pub async fn get_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    limit(&state, &req)?;
    let current = order_for(&state, &token).await?;
    Ok(HttpResponse::Ok().json(public_view(&state, current.order()).await?))
}

/// Submits (or corrects) the buyer's form; the price check runs right after.
#[utoipa::path(
    operation_id = "submitPublicForm",
    tag = "public",
    params(("token" = String, Path, description = "The token of the card link `/f/{token}`")),
    request_body = FormInput,
    responses(
        (status = 200, description = "Accepted; the form as it now stands", body = PublicForm),
        (status = 404, description = "Unknown or mistyped link", body = ErrorBody),
        (status = 409, description = "The order can no longer be changed", body = ErrorBody),
        (status = 422, description = "Invalid fields, nothing stored", body = ErrorBody),
        (status = 429, description = "Too many requests from this address", body = ErrorBody),
    )
)]
#[post("/forms/{token}")]
pub async fn submit_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    input: web::Json<FormInput>,
) -> Result<HttpResponse, ApiError> {
    limit(&state, &req)?;
    let current = order_for(&state, &token).await?;
    // A locked form is refused before its fields are looked at.
    current.order().form_editable()?;
    let horizon = state.config_cache.play_date_horizon_days().await?;
    let form = validate(&input, today_in_shanghai(), horizon).map_err(ApiError::validation)?;
    // The price check runs with the command; if it cannot, the sweep runs it within seconds
    // (the form is safe).
    let ran = state
        .service
        .run_on(current, OrderCommand::SubmitUserForm { form }, &Actor::new("public"))
        .await?;
    Ok(HttpResponse::Ok().json(public_view(&state, ran.order()).await?))
}

pub fn scope() -> utoipa_actix_web::scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    utoipa_actix_web::scope::scope("/api/public")
        .service(get_form)
        .service(submit_form)
}
