//! `user:password@` in a base URL (self-hosted endpoints behind basic auth): found, taken out
//! (it is kept in the keychain, never in SQLite, logs or messages) and put back for the request.
//! A leaf: storage shows base URLs without it, the request path puts it back.

/// Where `user:password@` sits in `scheme://user:password@host/…`, if it does.
pub fn span(url: &str) -> Option<std::ops::Range<usize>> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority.rfind('@').map(|at| start..start + at + 1)
}

/// A URL without its `user:password@`, and that part (without the `@`) if it had one.
pub fn split(url: &str) -> (String, Option<String>) {
    match span(url) {
        Some(s) => (
            format!("{}{}", &url[..s.start], &url[s.end..]),
            Some(url[s.start..s.end - 1].to_string()),
        ),
        None => (url.to_string(), None),
    }
}

/// `url` with `user:password` put back in front of its host.
pub fn with(url: &str, credentials: &str) -> String {
    match url.find("://") {
        Some(i) => format!("{}{credentials}@{}", &url[..i + 3], &url[i + 3..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_out_of_a_url_and_go_back_in() {
        let (url, c) = split("http://user:p%40ss@host:8/v1");
        assert_eq!(
            (url.as_str(), c.as_deref()),
            ("http://host:8/v1", Some("user:p%40ss"))
        );
        assert_eq!(with(&url, "user:p%40ss"), "http://user:p%40ss@host:8/v1");
        assert_eq!(
            split("https://h/v1?a=b@c"),
            ("https://h/v1?a=b@c".into(), None)
        );
    }
}
