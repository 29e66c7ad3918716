//! AIP-136 custom methods (`/challenges/{id}:verify`) on poem's router, which reads every `:`
//! in a route as a parameter. Operations are declared on an internal form
//! (`/challenges/{id}/_colon_verify`); requests are rewritten onto it; the internal form
//! itself answers 404; and the published spec shows the colon form.

/// The marker that stands for `:` in internal paths.
pub const MARKER: &str = "/_colon_";

/// Whether a request path names the internal form directly (it must not be routable).
pub fn is_internal_form(path: &str) -> bool {
    path.contains(MARKER)
}

/// A percent-encoded colon (`%3A`), as some clients send it, made a plain colon.
pub fn decode_colons(path: &str) -> String {
    path.replace("%3A", ":").replace("%3a", ":")
}

/// `/a/{id}:verb` → `/a/{id}/_colon_verb`, for a last segment `x:verb` with non-empty `x` and
/// an alphabetic `verb`.
pub fn to_internal(path: &str) -> Option<String> {
    let (head, last) = path.rsplit_once('/')?;
    let (resource, verb) = last.rsplit_once(':')?;
    let routable =
        !resource.is_empty() && !verb.is_empty() && verb.bytes().all(|b| b.is_ascii_alphabetic());
    routable.then(|| format!("{head}/{resource}{MARKER}{verb}"))
}

/// The published form of an internal path template: `/_colon_verb` → `:verb`.
pub fn to_published(template: &str) -> String {
    template.replace(MARKER, ":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colon_form_is_rewritten_onto_the_internal_form() {
        assert_eq!(
            to_internal("/internal/v1/mfa/totp-sms/abc:initiate").as_deref(),
            Some("/internal/v1/mfa/totp-sms/abc/_colon_initiate")
        );
        assert_eq!(
            to_internal(&decode_colons("/x/abc%3Averify")).as_deref(),
            Some("/x/abc/_colon_verify")
        );
    }

    #[test]
    fn paths_without_a_custom_method_are_left_alone() {
        for path in ["/x/abc", "/x/:verify", "/x/abc:", "/x/abc:v1-2", "/a:b/c"] {
            assert_eq!(to_internal(path), None, "{path}");
        }
    }

    #[test]
    fn internal_form_is_recognised_and_published_with_a_colon() {
        assert!(is_internal_form("/x/abc/_colon_verify"));
        assert_eq!(
            to_published("/x/{challengeId}/_colon_verify"),
            "/x/{challengeId}:verify"
        );
    }
}
