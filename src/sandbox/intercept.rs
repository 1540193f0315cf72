//! Middleware in front of everything under the platform's API paths: counts each request, then applies the first
//! queued fault that catches it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;
use super::requests::{is_api_path, request_key, template_path};

pub async fn intercept(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if !is_api_path(app.platform, &path) {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_string();
    app.record_request(request_key(&method, &path));
    let Some(action) = app.take_fault(&method, &path, &template_path(&path)) else {
        return next.run(req).await;
    };
    if let Some(delay) = action.delay {
        tokio::time::sleep(delay).await;
    }
    if action.hang {
        // Never answer: hyper drops this future when the client goes away, or at shutdown.
        std::future::pending::<()>().await;
    }
    match action.response {
        Some(canned) => canned.into_response(),
        None => next.run(req).await,
    }
}
