//! The request id: taken from a sane `X-Request-Id`, generated otherwise, and visible to
//! everything that runs for the request (error bodies, log spans) through a task-local.

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static CURRENT: String;
}

/// The caller's id if it is 1 to 128 characters of `[A-Za-z0-9._:-]`, otherwise a new UUID.
pub fn from_header(value: Option<&str>) -> String {
    match value {
        Some(v)
            if (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)) =>
        {
            v.to_owned()
        }
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

/// Runs `fut` with `id` as the current request id.
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    CURRENT.scope(id, fut).await
}

/// The current request's id (empty outside a request).
pub fn current() -> String {
    CURRENT.try_with(Clone::clone).unwrap_or_default()
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

    #[tokio::test]
    async fn current_is_visible_inside_the_scope_only() {
        assert_eq!(current(), "");
        assert_eq!(scope("r-1".into(), async { current() }).await, "r-1");
    }
}
