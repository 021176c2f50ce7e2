//! Optional request authentication: AWS Signature Version 4, the scheme every AWS client
//! already signs with. Off by default (any signature is accepted, as local tools expect);
//! with credentials configured, a request must be signed with one of them.

use axum::http::{HeaderMap, Method, Uri};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::ApiError;

/// How far a request's `X-Amz-Date` may be from the server's clock, either way: AWS's window.
/// A captured request cannot be replayed after it.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 15 * 60;

/// An access key the server accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
}

// The secret never reaches a log: Debug shows the key id only.
impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl std::str::FromStr for AccessKey {
    type Err = String;

    /// `ACCESS_KEY_ID:SECRET`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (id, secret) = s
            .split_once(':')
            .ok_or("an access key is written ACCESS_KEY_ID:SECRET_ACCESS_KEY")?;
        if id.is_empty() || secret.is_empty() {
            return Err("access key id and secret must not be empty".into());
        }
        Ok(AccessKey {
            id: id.to_string(),
            secret: secret.to_string(),
        })
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn denied(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
struct Authorization<'a> {
    key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256")?.trim();
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed_headers = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let mut scope = credential?.split('/');
    Some(Authorization {
        key_id: scope.next()?,
        date: scope.next()?,
        region: scope.next()?,
        service: scope.next()?,
        signed_headers: signed_headers?,
        signature: signature?,
    })
}

/// `X-Amz-Date` (`20260102T030405Z`) as Unix seconds.
fn parse_amz_date(text: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

fn format_amz_date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default()
}

/// Equal, in time that depends only on the lengths (a timing probe learns no prefix).
/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    constant_time_eq(a.as_bytes(), b.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Check a request's SigV4 signature against the configured keys, at server time `now`
/// (Unix seconds). The body is hashed here and must match what the client signed; a request
/// dated more than [`MAX_CLOCK_SKEW_SECONDS`] away from `now` is refused.
pub fn verify(
    keys: &[AccessKey],
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), ApiError> {
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            denied(
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            )
        })?;
    let auth = parse_authorization(header).ok_or_else(|| {
        denied(
            "IncompleteSignature",
            "Authorization header is not AWS4-HMAC-SHA256",
        )
    })?;
    let key = keys.iter().find(|k| k.id == auth.key_id).ok_or_else(|| {
        denied(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    })?;
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| denied("IncompleteSignature", "x-amz-date header is missing"))?;
    let signed_at = parse_amz_date(amz_date).ok_or_else(|| {
        denied(
            "IncompleteSignature",
            format!("x-amz-date must be written YYYYMMDD'T'HHMMSS'Z', not '{amz_date}'"),
        )
    })?;
    if (now - signed_at).abs() > MAX_CLOCK_SKEW_SECONDS {
        // AWS's wording, which clients show to the user.
        let message = if signed_at < now {
            format!(
                "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
                format_amz_date(now - MAX_CLOCK_SKEW_SECONDS),
                format_amz_date(now)
            )
        } else {
            format!(
                "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
                format_amz_date(now + MAX_CLOCK_SKEW_SECONDS),
                format_amz_date(now)
            )
        };
        return Err(denied("InvalidSignatureException", message));
    }
    if !amz_date.starts_with(auth.date) {
        return Err(denied(
            "InvalidSignatureException",
            format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
                auth.date,
                amz_date.get(..8).unwrap_or(amz_date)
            ),
        ));
    }
    let mut canonical_headers = String::new();
    for name in auth.signed_headers.split(';') {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    // The signature covers the hash of the body this server received, never the hash the
    // client claims: otherwise a signed request's body could be replaced.
    let payload_hash = hex(&Sha256::digest(body));
    if let Some(claimed) = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        && !constant_time_eq(claimed.as_bytes(), payload_hash.as_bytes())
    {
        return Err(denied(
            "InvalidSignatureException",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ));
    }
    let mut query: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|q| !q.is_empty())
        .collect();
    query.sort_unstable();
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.as_str(),
        uri.path(),
        query.join("&"),
        canonical_headers,
        auth.signed_headers,
        payload_hash
    );
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac(
        format!("AWS4{}", key.secret).as_bytes(),
        auth.date.as_bytes(),
    );
    let k_region = hmac(&k_date, auth.region.as_bytes());
    let k_service = hmac(&k_region, auth.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let expected = hex(&hmac(&k_signing, string_to_sign.as_bytes()));
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(())
    } else {
        Err(denied(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        ))
    }
}
