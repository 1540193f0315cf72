//! Middleware in front of everything under the platform's API paths: counts each request, then
//! applies the first queued fault that catches it.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::emulator::{App, Emulator};
use super::requests::{api_base, request_key, template_path};

pub async fn intercept<E: Emulator>(
    State(app): State<Arc<App<E>>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let Some(base) = api_base(E::API_BASES, &path) else {
        return next.run(req).await;
    };
    let method = req.method().as_str().to_string();
    // A route's own template; a path that only a fallback caught matched no route.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .filter(|route| !route.contains("{*"));
    app.record_request(request_key(&method, route, base));
    let template = template_path(&path);
    let Some(action) = app.take_fault(&method, &path, &template) else {
        return next.run(req).await;
    };
    if let Some(delay) = action.delay {
        tokio::time::sleep(delay).await;
    }
    if action.hang_after {
        // The change is made (and written to the state file); the answer is never sent. A
        // refusal changed nothing: it is sent, and the fault waits for the next such request.
        let answer = next.run(req).await;
        if !answer.status().is_success() {
            app.put_back_fault(&method, &template, action);
            return answer;
        }
        drop(answer);
        return std::future::pending::<Response>().await;
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
