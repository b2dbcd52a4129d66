//! Errors the gateway itself produces, rendered as OpenAI error JSON
//! (`{"error":{"message","type","param","code"}}`), the shape OpenAI clients and our dashboard read,
//! or in the client's own protocol on the model APIs.
//!
//! A leaf of the crate: every layer may return an `ApiError`; domain errors of the layers below
//! (routing's `PlanError`) become one here, so the status policy lives in one place.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("request body is larger than the limit of {limit} bytes"),
        )
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    /// The OpenAI `type` for a status.
    pub fn kind(&self) -> &'static str {
        match self.status.as_u16() {
            403 => "permission_error",
            429 => "rate_limit_exceeded",
            s if s >= 500 => "server_error",
            _ => "invalid_request_error",
        }
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {
            "message": self.message,
            "type": self.kind(),
            "param": null,
            "code": self.code,
        }})
    }
}

impl ApiError {
    /// The error in the client's own protocol (docs/api-surface.md §8).
    pub fn render(&self, client: crate::formats::Format) -> Response {
        use crate::formats::Format;
        let body = match client {
            Format::Chat | Format::Responses | Format::Kiro => self.body(),
            Format::Gemini => serde_json::json!({"error": {
                "code": self.status.as_u16(),
                "message": self.message,
                "status": crate::formats::gemini::status_name(self.status.as_u16()),
            }}),
            Format::Messages => serde_json::json!({"type": "error", "error": {
                "type": crate::formats::messages::error_type(self.status.as_u16()),
                "message": self.message,
            }}),
        };
        (self.status, Json(body)).into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl From<crate::routing::plan::PlanError> for ApiError {
    fn from(e: crate::routing::plan::PlanError) -> Self {
        use crate::routing::plan::PlanErrorKind;
        let status = match e.kind {
            PlanErrorKind::NotFound => StatusCode::NOT_FOUND,
            PlanErrorKind::Invalid => StatusCode::BAD_REQUEST,
            PlanErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.code, e.message)
    }
}

/// How long a client may take to send a request body once its headers arrived (a client that
/// sends half a body and stalls must not hold its connection and buffer forever).
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Reads a request body up to `limit` bytes within [`BODY_READ_TIMEOUT`]; larger bodies get a
/// 413, a stalled one a 408, in the client's format.
pub async fn read_body(body: axum::body::Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, limit));
    let Ok(read) = read.await else {
        return Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request body did not arrive within {} s",
                BODY_READ_TIMEOUT.as_secs()
            ),
        ));
    };
    read.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::too_large(limit)
        } else {
            ApiError::bad_request(
                "invalid_request",
                format!("could not read the request body: {e}"),
            )
        }
    })
}
