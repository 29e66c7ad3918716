//! The request id: taken from a sane `X-Request-Id`, generated otherwise. The middleware
//! puts it in the response header, in error bodies and in the request's log span.

pub const HEADER: &str = "x-request-id";
/// The longest request id kept from the caller; a generated one (a UUID) is 36.
pub const MAX_LEN: usize = 128;
/// What a request id is made of, as the spec publishes it.
pub const PATTERN: &str = "^[A-Za-z0-9._:-]{1,128}$";
/// The request id the spec's examples show.
pub const EXAMPLE: &str = "7d0f6c2e-3b1a-4f5e-9c8d-2a6b4e1f0c3d";

/// The request's id, in the request's data for the handlers (the audit trail carries it).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id the middleware gave `request` (empty outside the middleware, as in unit tests).
    pub fn of(request: &poem::Request) -> String {
        request
            .data::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default()
    }
}

/// The caller's id if it is 1 to 128 characters of `[A-Za-z0-9._:-]`, otherwise a new UUID.
pub fn from_header(value: Option<&str>) -> String {
    match value {
        Some(v)
            if (1..=MAX_LEN).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)) =>
        {
            v.to_owned()
        }
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_sane_caller_id_and_replaces_anything_else() {
        assert_eq!(from_header(Some("req-1.a:b_c")), "req-1.a:b_c");
        for bad in [Some(""), Some("a b"), Some("x\u{7f}"), None] {
            let id = from_header(bad);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad:?} -> {id}");
        }
        assert_ne!(from_header(Some(&"a".repeat(129))), "a".repeat(129));
    }
}
