//! How request bytes reach an upstream and its answer comes back.
//!
//! Without a proxy, a lean hyper client (keep-alive pool, TLS through rustls with the webpki
//! roots) sends each request. reqwest's per-request layers (redirect policy, retries, a URL
//! parsed again for the request and for the response) cost about a sixth of a proxied request's
//! CPU, and the gateway needs none of them: it never follows redirects, retries by its own
//! rules and builds every URL itself. When an HTTP proxy is configured (explicitly, or through
//! `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` and `NO_PROXY`), reqwest sends instead, because it
//! implements the proxy rules users expect. Either way the body's chunks that are already on
//! their way are merged ([`Coalesce`]).

use super::coalesce::Coalesce;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const USER_AGENT: &str = concat!("switchyard/", env!("CARGO_PKG_VERSION"));

/// Environment variables through which a user routes traffic via a proxy (either case).
const PROXY_VARS: [&str; 3] = ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"];

pub struct Transport {
    kind: Kind,
    /// For a base URL with `user:password@`: reqwest turns those into Basic auth, as users of
    /// such self-hosted endpoints expect. Built on first use (rare).
    with_credentials: std::sync::OnceLock<reqwest::Client>,
}

// One per gateway, built at start: its size does not matter, an indirection per call would.
#[allow(clippy::large_enum_variant)]
enum Kind {
    Direct(Client<HttpsConnector<HttpConnector>, Full<Bytes>>),
    Proxied(reqwest::Client),
}

/// An upstream's answer: status and headers now, the body as it arrives.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: BodyStream,
}

pub type BodyStream = BoxStream<'static, Result<Bytes, TransportError>>;

/// A failure to send or to read an answer. Its text never names the URL: a provider's `?key=`
/// must reach neither the client nor the logs.
#[derive(Debug, Clone)]
pub struct TransportError {
    pub message: String,
    /// The connection could not be made in time.
    pub timeout: bool,
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransportError {}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot set up TLS for upstream calls: {0}")]
    Tls(String),
    #[error("upstream proxy {0:?} is not a usable proxy URL: {1}")]
    Proxy(String, String),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

impl Transport {
    /// `proxy`: one proxy for every upstream call. Without it, the proxy environment variables
    /// decide; with none of those set, requests go straight to the provider.
    pub fn new(proxy: Option<&str>) -> Result<Self, BuildError> {
        let env_proxy = PROXY_VARS.iter().any(|v| {
            [v.to_string(), v.to_ascii_lowercase()]
                .iter()
                .any(|name| std::env::var_os(name).is_some_and(|s| !s.is_empty()))
        });
        if proxy.is_some() || env_proxy {
            return Self::proxied(proxy);
        }
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        // A pooled connection whose path died silently (sleep, a VPN or Wi-Fi change, a NAT
        // that forgot it) must be found out, not reused until a timeout (reqwest's defaults).
        http.set_keepalive(Some(Duration::from_secs(15)));
        http.set_keepalive_interval(Some(Duration::from_secs(15)));
        http.set_keepalive_retries(Some(3));
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        http.set_tcp_user_timeout(Some(Duration::from_secs(30)));
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| BuildError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        // Say which protocol we speak, as browsers and reqwest do; some servers insist.
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let https = HttpsConnector::from((http, tls));
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(https);
        Ok(Self {
            kind: Kind::Direct(client),
            with_credentials: Default::default(),
        })
    }

    fn proxied(proxy: Option<&str>) -> Result<Self, BuildError> {
        let mut b = reqwest_builder();
        if let Some(p) = proxy {
            let p = reqwest::Proxy::all(p)
                .map_err(|e| {
                    BuildError::Proxy(super::upstream::redact_url(p).into_owned(), e.to_string())
                })?
                .no_proxy(reqwest::NoProxy::from_env());
            b = b.proxy(p);
        }
        Ok(Self {
            kind: Kind::Proxied(b.build()?),
            with_credentials: Default::default(),
        })
    }

    /// Whether calls go through a proxy (for the log line at start).
    pub fn is_proxied(&self) -> bool {
        matches!(self.kind, Kind::Proxied(_))
    }

    /// POSTs `body` to `url` with `headers` (the caller's headers win over the defaults).
    pub async fn post(
        &self,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Answer, TransportError> {
        match &self.kind {
            Kind::Proxied(client) => via_reqwest(client, url, headers, body).await,
            Kind::Direct(_) if super::upstream::has_credentials(url) => {
                via_reqwest(self.credentials_client()?, url, headers, body).await
            }
            Kind::Direct(client) => direct(client, url, headers, body).await,
        }
    }

    fn credentials_client(&self) -> Result<&reqwest::Client, TransportError> {
        if let Some(c) = self.with_credentials.get() {
            return Ok(c);
        }
        let c = reqwest_builder().no_proxy().build()?;
        Ok(self.with_credentials.get_or_init(|| c))
    }
}

async fn direct(
    client: &Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    url: &str,
    mut headers: HeaderMap,
    body: Bytes,
) -> Result<Answer, TransportError> {
    let uri: Uri = url
        .parse()
        .map_err(|e: axum::http::uri::InvalidUri| TransportError {
            message: format!("the provider's URL is not valid: {e}"),
            timeout: false,
        })?;
    if !headers.contains_key(header::USER_AGENT) {
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    }
    if !headers.contains_key(header::ACCEPT) {
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    }
    let mut req = axum::http::Request::new(Full::new(body));
    *req.method_mut() = axum::http::Method::POST;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    let resp = client.request(req).await.map_err(|e| sending(&e))?;
    let (parts, incoming) = resp.into_parts();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body: Coalesce::new(incoming.into_data_stream().map_err(|e| TransportError {
            message: super::upstream::chain(&e),
            timeout: false,
        }))
        .boxed(),
    })
}

/// reqwest's error without the URL it names (which may carry `?key=`).
impl From<reqwest::Error> for TransportError {
    fn from(e: reqwest::Error) -> Self {
        Self {
            timeout: e.is_timeout(),
            message: super::upstream::chain(&e.without_url()),
        }
    }
}

fn reqwest_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
}

async fn via_reqwest(
    client: &reqwest::Client,
    url: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Answer, TransportError> {
    let resp = client.post(url).headers(headers).body(body).send().await?;
    let status = resp.status();
    let headers = resp.headers().clone();
    Ok(Answer {
        status,
        headers,
        body: Coalesce::new(resp.bytes_stream().map_err(TransportError::from)).boxed(),
    })
}

/// "error sending request: client error (Connect): tcp connect error: Connection refused", and
/// whether the cause was the connect timeout.
fn sending(e: &hyper_util::client::legacy::Error) -> TransportError {
    let mut timeout = false;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            timeout |= io.kind() == std::io::ErrorKind::TimedOut;
        }
        cur = c.source();
    }
    TransportError {
        message: format!("error sending request: {}", super::upstream::chain(e)),
        timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_is_described_without_the_url() {
        let t = Transport::new(None).unwrap();
        // Port 9 (discard) is closed on loopback in any test environment we run.
        let e = match t
            .post(
                "http://127.0.0.1:9/v1/x?key=secret",
                HeaderMap::new(),
                Bytes::new(),
            )
            .await
        {
            Err(e) => e,
            Ok(_) => panic!("nothing listens on port 9"),
        };
        assert!(e.message.contains("error sending request"), "{}", e.message);
        assert!(
            e.message.to_lowercase().contains("refused"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("secret"));
        assert!(!e.timeout);
    }

    #[tokio::test]
    async fn an_https_url_is_spoken_to_in_tls() {
        // A server that answers plain HTTP where TLS was expected: the client must have sent a
        // TLS hello (so the TLS stack is set up) and must say what went wrong.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut hello = [0u8; 5];
            sock.read_exact(&mut hello).await.unwrap();
            sock.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                .await
                .unwrap();
            hello
        });
        let t = Transport::new(None).unwrap();
        let e = t
            .post(
                &format!("https://{addr}/v1"),
                HeaderMap::new(),
                Bytes::new(),
            )
            .await
            .err()
            .expect("not TLS");
        // 0x16: a TLS handshake record.
        assert_eq!(server.await.unwrap()[0], 0x16);
        assert!(e.message.contains("error sending request"), "{}", e.message);
    }

    #[tokio::test]
    async fn a_broken_url_is_an_error_not_a_panic() {
        let t = Transport::new(None).unwrap();
        let e = t
            .post("not a url", HeaderMap::new(), Bytes::new())
            .await
            .err()
            .expect("refused");
        assert!(e.message.contains("not valid"), "{}", e.message);
    }
}
