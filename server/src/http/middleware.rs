//! The one middleware in front of every route: request id, colon rewrite, a log span, and
//! the contract's error body for every error, poem's own included (unknown route, 405 with
//! `Allow`, bad JSON, wrong content type, missing token). It is the one place that stamps the
//! request id into error bodies and the one place that logs a request's outcome: one line
//! per request, with the cause of an error when there is one.

use std::sync::Arc;

use poem::http::{HeaderValue, StatusCode, Uri, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tracing::Instrument;

use poem_openapi::types::ToJSON;

use crate::http::error::{ApiError, ErrorReport};
use crate::http::routes_table::RoutesTable;
use crate::http::{custom_methods, request_id};
use crate::telemetry::metric;

pub struct Contract {
    pub routes: Arc<RoutesTable>,
}

impl<E: Endpoint> Middleware<E> for Contract {
    type Output = ContractEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ContractEndpoint {
            inner,
            routes: self.routes.clone(),
        }
    }
}

pub struct ContractEndpoint<E> {
    inner: E,
    routes: Arc<RoutesTable>,
}

impl<E: Endpoint> Endpoint for ContractEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let id = request_id::from_header(
            req.headers()
                .get(request_id::HEADER)
                .and_then(|v| v.to_str().ok()),
        );
        req.extensions_mut()
            .insert(request_id::RequestId(id.clone()));
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let decoded = custom_methods::decode_colons(&path);
        let operation = self
            .routes
            .operation_id(method.as_str(), &decoded)
            .unwrap_or("other")
            .to_owned();
        let span = crate::telemetry::server_span(&req, &id, self.routes.template(&decoded));
        let started = std::time::Instant::now();
        let mut response = async {
            let result = if custom_methods::is_internal_form(&path) {
                Err(poem::error::NotFoundError.into())
            } else {
                if self.routes.is_custom_method(&decoded)
                    && let Some(internal) = custom_methods::to_internal(&decoded)
                {
                    rewrite_path(&mut req, &internal);
                }
                self.inner.call(req).await.map(IntoResponse::into_response)
            };
            let response = match result {
                Ok(response) => response,
                Err(error) => self.error_response(error, &method, &path),
            };
            finish(response, &id, &method, &path)
        }
        .instrument(span.clone())
        .await;
        crate::telemetry::finish_server_span(&span, response.status().as_u16());
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(request_id::HEADER, value);
        }
        let status = response.status().as_u16().to_string();
        metrics::counter!(metric::HTTP_REQUESTS, "operation" => operation.clone(), "status" => status)
            .increment(1);
        metrics::histogram!(metric::HTTP_DURATION, "operation" => operation)
            .record(started.elapsed().as_secs_f64());
        Ok(response)
    }
}

/// Stamps the request id into an error body and logs the request's outcome, once, with its
/// method and path (the span's name has the route, not the ids in the path).
fn finish(mut response: Response, id: &str, method: &poem::http::Method, path: &str) -> Response {
    let status = response.status().as_u16();
    let Some(ErrorReport { mut body, cause }) = response.extensions_mut().remove::<ErrorReport>()
    else {
        tracing::info!(status, %method, path, "request finished");
        return response;
    };
    body.request_id = id.to_owned();
    if let Ok(json) = serde_json::to_vec(&body.to_json()) {
        response.set_body(json);
    }
    let code = body.code.to_json();
    let code = code.as_ref().and_then(|c| c.as_str()).unwrap_or_default();
    let cause = cause.map(|c| format!("{c:#}"));
    let cause = cause.as_deref().unwrap_or("-");
    match status {
        503 => {
            tracing::warn!(status, %code, %cause, %method, path, "request failed: a dependency is unavailable")
        }
        500.. => tracing::error!(status, %code, %cause, %method, path, "request failed"),
        _ => tracing::info!(status, %code, %cause, %method, path, "request refused"),
    }
    response
}

fn rewrite_path(req: &mut Request, internal: &str) {
    let path_and_query = match req.uri().query() {
        Some(query) => format!("{internal}?{query}"),
        None => internal.to_owned(),
    };
    if let Ok(uri) = path_and_query.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
}

impl<E> ContractEndpoint<E> {
    fn error_response(
        &self,
        error: poem::Error,
        method: &poem::http::Method,
        path: &str,
    ) -> Response {
        use poem::error::{MethodNotAllowedError, NotFoundError};
        use poem_openapi::error::{
            AuthorizationError, ContentTypeError, ParseParamError, ParseRequestPayloadError,
        };

        if error.is::<NotFoundError>() {
            return ApiError::for_status(StatusCode::NOT_FOUND, format!("No resource at {path}."))
                .into_response();
        }
        if error.is::<MethodNotAllowedError>() {
            let allowed = self.routes.allowed_methods(path);
            let mut response = ApiError::for_status(
                StatusCode::BAD_REQUEST,
                format!(
                    "Method {method} is not allowed here; allowed: {}.",
                    allowed.join(", ")
                ),
            )
            .into_response();
            response.set_status(StatusCode::METHOD_NOT_ALLOWED);
            if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            return response;
        }
        if error.is::<AuthorizationError>() {
            return ApiError::token_required().into_response();
        }
        if let Some(e) = error.downcast_ref::<ContentTypeError>() {
            let message = match e {
                ContentTypeError::ExpectContentType => {
                    "Content-Type application/json is required.".to_owned()
                }
                ContentTypeError::NotSupported { content_type } => {
                    format!("Content-Type {content_type} is not supported; use application/json.")
                }
            };
            return ApiError::bad_request(message).into_response();
        }
        if error.is::<ParseRequestPayloadError>() || error.is::<ParseParamError>() {
            return ApiError::bad_request(error.to_string()).into_response();
        }
        let status = error.status();
        let detail = error.to_string();
        let response = error.into_response();
        if response.extensions().get::<ErrorReport>().is_some() {
            return response;
        }
        let reason = status.canonical_reason().unwrap_or("Error");
        ApiError::for_status(status, format!("{reason}."))
            .with_cause(anyhow::anyhow!("{detail}"))
            .into_response()
    }
}
