//! The config centre API (`/api/config/...`): goods, ticket types, the season calendar, the price
//! table, settings, payment QR codes, agent groups, notification targets, and the history of
//! every change (who, when, before, after).
//!
//! Handlers are thin: they parse the request, name the actor (`admin:<operator>`) and call
//! [`xyt_store::config_centre`], which validates, writes and records the change in one
//! transaction. JSON bodies are read as values and then deserialised with the failing field's
//! path, so even a wrong type answers 422 against the field that has it. QR code uploads are
//! multipart, capped while they stream, and typed from their bytes ([`crate::images`]).

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use xyt_domain::pricing::SeasonCalendar;
use xyt_store::config_centre::{
    self as cc, AgentGroup, AgentGroupInput, ConfigChange, ConfigError, Goods, GoodsCreate, GoodsUpdate, NewQrCode,
    NotificationTarget, NotificationTargetInput, PriceEntry, PriceInput, QrCode, Settings, SettingsInput, TicketType,
    TicketTypeInput,
};

use super::error::{ApiError, ErrorBody};
use super::operator;
use crate::state::AppState;

pub mod agent_groups;
pub mod goods;
pub mod history;
pub mod payment_qr;
pub mod price_table;
pub mod settings;
pub mod targets;
pub mod ticket_types;

/// Registers the config centre's routes inside the admin scope.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(goods::list_goods)
        .service(goods::create_goods)
        .service(goods::get_goods)
        .service(goods::update_goods)
        .service(goods::delete_goods)
        .service(ticket_types::list_ticket_types)
        .service(ticket_types::put_ticket_type)
        .service(ticket_types::delete_ticket_type)
        .service(settings::get_season_calendar)
        .service(settings::put_season_calendar)
        .service(price_table::list_prices)
        .service(price_table::put_price)
        .service(price_table::delete_price)
        .service(settings::get_settings)
        .service(settings::put_settings)
        .service(payment_qr::list_qr_codes)
        .service(payment_qr::upload_qr_code)
        .service(payment_qr::activate_qr_code)
        .service(payment_qr::get_qr_image)
        .service(agent_groups::list_agent_groups)
        .service(agent_groups::create_agent_group)
        .service(agent_groups::update_agent_group)
        .service(agent_groups::delete_agent_group)
        .service(targets::list_notification_targets)
        .service(targets::create_notification_target)
        .service(targets::update_notification_target)
        .service(targets::delete_notification_target)
        .service(history::list_config_changes);
}

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Invalid(fields) => ApiError::validation(fields),
            ConfigError::NotFound { code, message } => ApiError::not_found(code, message),
            ConfigError::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            ConfigError::Db(e) => ApiError::internal(e),
        }
    }
}

/// Deserialises a JSON body, answering 422 against the field that fails.
fn parse_body<T: DeserializeOwned>(body: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let prefix = if path == "." { String::new() } else { format!("{path}.") };
        let inner = e.inner().to_string();
        let quoted = |s: &str| s.split('`').nth(1).map(str::to_string);
        let (field, message) = if let Some(f) = inner.strip_prefix("missing field ").and_then(quoted) {
            (format!("{prefix}{f}"), "必填".to_string())
        } else if let Some(f) = inner.strip_prefix("unknown field ").and_then(quoted) {
            // The path already ends at the unknown key.
            (if path == "." { f } else { path }, "不认识的字段".to_string())
        } else if let Some(v) = inner.strip_prefix("unknown variant ").and_then(quoted) {
            // Inside an internally tagged enum (a season rule) the path stops at the rule.
            let field = if path == "." { "body".to_string() } else { path };
            let expected = inner.split_once("expected ").map_or("", |(_, e)| e);
            let expected = expected
                .trim_start_matches("one of ")
                .replace('`', "")
                .replace(" or ", ", ");
            (field, format!("「{v}」不是可选值,可选:{expected}"))
        } else if inner.starts_with("invalid type") {
            let field = if path == "." { "body".to_string() } else { path };
            (field, format!("类型不对:{inner}"))
        } else {
            let field = if path == "." { "body".to_string() } else { path };
            (field, format!("取值无效:{inner}"))
        };
        ApiError::field(&field, message)
    })
}

fn not_found_id(code: &'static str, what: &str, id: &str) -> ApiError {
    ApiError::not_found(code, format!("{what} {id} 不存在"))
}

fn parse_id(code: &'static str, what: &str, id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| not_found_id(code, what, id))
}

/// A target as typed, checked against where messages may go (WeCom only). `current` is the
/// stored target on an update: its masked form, sent back unchanged, keeps it.
fn allowed_target(state: &AppState, field: &str, typed: &mut String, current: Option<&str>) -> Result<(), ApiError> {
    if let Some(current) = current {
        if *typed == xyt_domain::target::masked(current) {
            *typed = current.to_string();
            return Ok(());
        }
    }
    state.targets.parse(typed.trim()).map(|_| ()).map_err(|e| {
        let mut err = ApiError::field(field, e.0);
        err.code = "TARGET_NOT_ALLOWED";
        err
    })
}
