//! Qualytics' users: a page of them (the Admin and the service users), and creating a service
//! user.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde_json::Value;

use super::auth::AdminCaller;
use super::body::{QJson, optional, page_param, string_field};
use super::data::QualyticsState;
use super::error::QError;
use super::options::Qualytics;
use crate::platform::qualytics::wire;
use crate::sandbox::emulator::App;
use crate::sandbox::times::now_ms;

/// Page size of `GET /users` when none is asked for.
const DEFAULT_PAGE_SIZE: i64 = 50;

/// A page of users (`type`, `name`, `role`, `team` filter; `sort=name`, `sort_dir`; `page` from 1
/// and `size`).
pub async fn list_users(
    State(app): State<Arc<App<Qualytics>>>,
    _: AdminCaller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<wire::UserPage>, QError> {
    let Query(query) =
        query.map_err(|e| QError::validation(&["query"], &e.body_text(), "query_invalid"))?;
    let page = page_param(&query, "page", 1)?;
    let size = page_param(&query, "size", DEFAULT_PAGE_SIZE)?;
    let mut users: Vec<wire::User> = app.with_store(|s| {
        let offset = s.clock_offset_ms();
        let mut all = vec![QualyticsState::admin_to_wire(app.started_ms)];
        all.extend(
            s.data
                .qualytics
                .users
                .iter()
                .map(|u| QualyticsState::user_to_wire(u, offset)),
        );
        all
    });
    let text =
        |u: &wire::User, f: fn(&wire::User) -> &Option<String>| f(u).clone().unwrap_or_default();
    if let Some(kind) = query.get("type") {
        users.retain(|u| text(u, |u| &u.user_type).eq_ignore_ascii_case(kind));
    }
    if let Some(role) = query.get("role") {
        users.retain(|u| text(u, |u| &u.role).eq_ignore_ascii_case(role));
    }
    if let Some(name) = query.get("name").map(|n| n.to_lowercase()) {
        users.retain(|u| text(u, |u| &u.name).to_lowercase().contains(&name));
    }
    if let Some(team) = query.get("team") {
        users.retain(|u| {
            u.teams
                .iter()
                .flatten()
                .any(|t| t.eq_ignore_ascii_case(team))
        });
    }
    if query.get("sort").is_some_and(|s| s == "name") {
        users.sort_by_key(|u| text(u, |u| &u.name).to_lowercase());
    }
    if query.get("sort_dir").is_some_and(|d| d == "desc") {
        users.reverse();
    }
    let total = users.len() as i64;
    let skip = usize::try_from((page - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let take = usize::try_from(size).unwrap_or(usize::MAX);
    let items: Vec<wire::User> = users.into_iter().skip(skip).take(take).collect();
    Ok(Json(wire::UserPage {
        items: Some(items),
        total: Some(total),
        page: Some(page),
        size: Some(size),
        ..wire::UserPage::default()
    }))
}

pub async fn create_user(
    State(app): State<Arc<App<Qualytics>>>,
    _: AdminCaller,
    QJson(body): QJson,
) -> Result<Json<wire::User>, QError> {
    let name = string_field(&body, "name")?;
    let role = match body.get("role") {
        Some(Value::String(r)) => r.clone(),
        None | Some(Value::Null) => {
            return Err(QError::validation(
                &["body", "role"],
                "Field required",
                "missing",
            ));
        }
        Some(_) => {
            return Err(QError::validation(
                &["body", "role"],
                "Input should be a valid string",
                "string_type",
            ));
        }
    };
    let teams: Vec<String> = match optional(&body, "teams") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| {
                t.as_str().map(str::to_string).ok_or_else(|| {
                    QError::validation(
                        &["body", "teams"],
                        "Input should be a valid string",
                        "string_type",
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(QError::validation(
                &["body", "teams"],
                "Input should be a valid list",
                "list_type",
            ));
        }
    };
    let created = app
        .change(move |s| {
            let offset = s.clock_offset_ms();
            let now = s.clock(now_ms());
            let user = s.data.qualytics.create_user(&name, &role, &teams, now)?;
            let answer = QualyticsState::user_to_wire(user, offset);
            s.bump();
            Ok::<_, QError>(answer)
        })
        .await??;
    Ok(Json(created))
}
