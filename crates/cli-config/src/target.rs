//! What we point a tool at, and how we recognise our own values again (detection is content-based).

use serde::{Deserialize, Serialize};

/// The placeholder written when client-key enforcement is off: tools refuse an empty key.
pub const MANAGED_TOKEN: &str = "SWITCHYARD_MANAGED";

/// Every Switchyard client key starts with this; detection relies on it.
pub const TOKEN_PREFIX: &str = "sy-";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The gateway's origin without a path, e.g. `http://127.0.0.1:20128`. Tools that need `/v1`
    /// get it appended by their module.
    pub base_url: String,
    /// A `sy-…` client key for this tool, or [`MANAGED_TOKEN`].
    pub token: String,
    /// A model/combo alias to select in the tool (e.g. `switchyard`); `None` leaves the tool's own
    /// model choice alone.
    pub model: Option<String>,
}

impl Target {
    /// The origin without a trailing slash (`http://127.0.0.1:20128/` → `…:20128`).
    pub(crate) fn origin(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    /// The OpenAI-style base URL for tools that append `/chat/completions` or `/responses`.
    pub(crate) fn v1(&self) -> String {
        let origin = self.origin();
        if origin.ends_with("/v1") {
            origin.to_string()
        } else {
            format!("{origin}/v1")
        }
    }
}

pub(crate) fn is_our_token(token: &str) -> bool {
    token.starts_with(TOKEN_PREFIX) || token == MANAGED_TOKEN
}

/// `host:port` of a URL, with loopback spellings folded together (`localhost` = `127.0.0.1`) and
/// the scheme's default port filled in. `None` when it is not an http(s) URL.
pub(crate) fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host.to_string(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port,
    };
    let host = host.to_ascii_lowercase();
    let host = match host.as_str() {
        "localhost" | "::1" | "127.0.0.1" => "127.0.0.1".to_string(),
        _ => host,
    };
    Some((host, port))
}

/// How `status` decides whether a base URL is ours.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect<'a> {
    /// Any loopback URL counts (the port may have been changed since).
    AnyLoopback,
    /// Exactly this gateway's host and port.
    Exactly(&'a str),
}

impl Expect<'_> {
    pub(crate) fn matches(self, url: &str) -> bool {
        let Some(found) = host_port(url) else {
            return false;
        };
        match self {
            Expect::AnyLoopback => found.0 == "127.0.0.1",
            Expect::Exactly(ours) => host_port(ours).is_some_and(|o| o == found),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_folds_loopback_and_default_ports() {
        assert_eq!(
            host_port("http://localhost:20128/v1"),
            Some(("127.0.0.1".into(), 20128))
        );
        assert_eq!(
            host_port("http://[::1]:20128"),
            Some(("127.0.0.1".into(), 20128))
        );
        assert_eq!(
            host_port("https://api.anthropic.com"),
            Some(("api.anthropic.com".into(), 443))
        );
        assert_eq!(host_port("not a url"), None);
        assert!(Expect::Exactly("http://127.0.0.1:20128").matches("http://localhost:20128/v1"));
        assert!(!Expect::Exactly("http://127.0.0.1:20128").matches("http://127.0.0.1:15721"));
        assert!(Expect::AnyLoopback.matches("http://127.0.0.1:15721"));
        assert!(!Expect::AnyLoopback.matches("https://proxy.example.com"));
    }

    #[test]
    fn v1_is_appended_once() {
        let t = |u: &str| Target {
            base_url: u.into(),
            token: "sy-x".into(),
            model: None,
        };
        assert_eq!(
            t("http://127.0.0.1:20128/").v1(),
            "http://127.0.0.1:20128/v1"
        );
        assert_eq!(
            t("http://127.0.0.1:20128/v1").v1(),
            "http://127.0.0.1:20128/v1"
        );
    }
}
