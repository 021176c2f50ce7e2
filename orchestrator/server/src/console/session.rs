//! Who is using the console, and proof that a form was posted from it.
//!
//! With `--auth` (access keys configured) the console asks for the same access key id and
//! secret the API accepts and keeps the person signed in with a cookie:
//! `<key id>.<expiry>.<HMAC-SHA256 of both under the key's secret>`. Nothing is stored
//! server-side, so any replica sharing the keys accepts it, and removing a key from the
//! server's configuration ends its sessions. The cookie is `HttpOnly` and `SameSite=Strict`.
//!
//! Every POST carries a CSRF token derived from the session (or, without auth, from a key
//! the replicas share through the store), and a request whose `Origin` or `Sec-Fetch-Site`
//! says it came from another site is refused before the token is even looked at.

use axum::http::{HeaderMap, header};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::api::auth::{AccessKey, same_secret};

/// Name of the session cookie.
pub const COOKIE: &str = "sluice_session";
/// How long a sign-in lasts.
pub const LIFETIME_SECONDS: i64 = 12 * 3600;

/// The signed-in person (or the open console when auth is off).
#[derive(Debug, Clone)]
pub struct Session {
    /// The access key id signed in with; `None` when auth is off.
    pub key_id: Option<String>,
    /// The token every form of this session posts back.
    pub csrf: String,
}

fn mac(key: &[u8], parts: &[&str]) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p.as_bytes());
        m.update(b"\n");
    }
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The cookie value for a sign-in with `key` until `expires` (Unix seconds).
pub fn issue(key: &AccessKey, expires: i64) -> String {
    let expires = expires.to_string();
    let sig = mac(
        key.secret.as_bytes(),
        &["sluice-console-session", &key.id, &expires],
    );
    format!("{}.{expires}.{sig}", key.id)
}

/// The key a cookie value was signed with, if it is genuine and unexpired at `now`.
pub fn verify<'a>(keys: &'a [AccessKey], value: &str, now: i64) -> Option<&'a AccessKey> {
    let mut parts = value.rsplitn(3, '.');
    let sig = parts.next()?;
    let expires = parts.next()?;
    let id = parts.next()?;
    if expires.parse::<i64>().ok()? <= now {
        return None;
    }
    let key = keys.iter().find(|k| k.id == id)?;
    let expected = mac(
        key.secret.as_bytes(),
        &["sluice-console-session", id, expires],
    );
    same_secret(&expected, sig).then_some(key)
}

/// The CSRF token of a session: bound to its cookie (auth on) or to the shared key (auth off).
pub fn csrf_token(secret: &[u8], session_cookie: Option<&str>) -> String {
    mac(
        secret,
        &["sluice-console-csrf", session_cookie.unwrap_or("-")],
    )
}

/// The session cookie's value in a request, if any.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// Whether a request says it came from another site (a forged cross-site POST).
pub fn cross_site(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return true;
    }
    if let Some(origin) = text("origin") {
        let host = text("host").unwrap_or("");
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or(origin);
        return origin == "null" || origin_host != host;
    }
    false
}

/// A `next=` target that stays on this site: a path, never `//host` or a URL.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, secret: &str) -> AccessKey {
        AccessKey {
            id: id.into(),
            secret: secret.into(),
        }
    }

    #[test]
    fn a_session_holds_until_it_expires_and_only_under_its_key() {
        let keys = [key("AKIDONE", "s3cret"), key("AKID.TWO", "other")];
        let value = issue(&keys[0], 1000);
        assert_eq!(
            verify(&keys, &value, 999).map(|k| &k.id[..]),
            Some("AKIDONE")
        );
        assert!(verify(&keys, &value, 1000).is_none(), "expired");
        // A key id with a dot still parses (the signature and expiry are split from the end).
        let dotted = issue(&keys[1], 1000);
        assert_eq!(
            verify(&keys, &dotted, 5).map(|k| &k.id[..]),
            Some("AKID.TWO")
        );
        // Tampering with any part fails.
        assert!(verify(&keys, &value.replace(".1000.", ".9999."), 5).is_none());
        assert!(verify(&keys, &value.replace("AKIDONE", "AKID.TWO"), 5).is_none());
        assert!(verify(&keys, "garbage", 5).is_none());
        // A key removed from the server ends its sessions.
        assert!(verify(&keys[1..], &value, 5).is_none());
    }

    #[test]
    fn cross_site_requests_are_recognised() {
        let mut h = HeaderMap::new();
        h.insert("host", "localhost:8080".parse().expect("a header value"));
        assert!(!cross_site(&h), "a client that sends neither header");
        h.insert(
            "origin",
            "http://localhost:8080".parse().expect("a header value"),
        );
        assert!(!cross_site(&h));
        h.insert(
            "origin",
            "http://evil.example".parse().expect("a header value"),
        );
        assert!(cross_site(&h));
        h.insert(
            "origin",
            "http://localhost:8080".parse().expect("a header value"),
        );
        h.insert(
            "sec-fetch-site",
            "cross-site".parse().expect("a header value"),
        );
        assert!(cross_site(&h));
    }

    #[test]
    fn next_never_leaves_the_site() {
        assert_eq!(
            safe_next(Some("/console/executions?x=1")),
            "/console/executions?x=1"
        );
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; sluice_session=abc.1.ff; b=2"
                .parse()
                .expect("a header value"),
        );
        assert_eq!(cookie(&h), Some("abc.1.ff"));
    }
}
