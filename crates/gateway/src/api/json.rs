//! The one way a management handler reads a JSON body: at most [`MANAGEMENT_BODY_LIMIT`] bytes
//! (a bad client cannot make us buffer more), and a 400 in our error shape that says what was
//! wrong with it, instead of axum's plain-text rejection.

use crate::error::{read_body, ApiError};
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// Management bodies are small; this keeps a bad client from making us buffer a lot.
pub const MANAGEMENT_BODY_LIMIT: usize = 256 * 1024;

/// A JSON request body, read within the management limit.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(req.into_body(), MANAGEMENT_BODY_LIMIT).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// Parses a body; an empty one reads as `{}` so that all-optional bodies may be left out.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid_request", format!("invalid JSON body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Opt {
        name: Option<String>,
    }

    #[test]
    fn an_empty_body_is_an_empty_object() {
        assert_eq!(parse::<Opt>(b"").unwrap(), Opt::default());
    }

    #[test]
    fn a_bad_field_is_named() {
        let e = parse::<Opt>(br#"{"nme":"x"}"#).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("unknown field `nme`"), "{}", e.message);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_a_413() {
        let big = vec![b' '; MANAGEMENT_BODY_LIMIT + 1];
        let req = Request::new(axum::body::Body::from(big));
        let r = <JsonBody<Opt> as FromRequest<()>>::from_request(req, &()).await;
        assert_eq!(r.err().map(|e| e.status.as_u16()), Some(413));
    }
}
