//! A strict JSON request payload. poem-openapi's `Json` turns `{"otp": 123}` into `"123"`,
//! takes `null` for optional fields and does not name a missing field. `StrictJson` reads
//! the body as plain JSON and lets each request type pull its fields through `Fields`,
//! which records `NOT_NULL` / `NOT_BLANK` per field and refuses wrong JSON types.

use poem::{Request, RequestBody};
use poem_openapi::impl_apirequest_for_payload;
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde_json::{Map, Value};

use crate::http::error::{ApiError, FieldError, FieldErrorCode};
use crate::http::unique_keys::UniqueKeys;

/// Request bodies are small; anything larger is refused before it is parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The request body, refused as `BAD_REQUEST` beyond [`MAX_BODY_BYTES`].
pub async fn read_body(body: &mut RequestBody) -> poem::Result<Vec<u8>> {
    let bytes = body
        .take()?
        .into_bytes_limit(MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            ApiError::bad_request(format!(
                "The request body could not be read: {e} (at most {MAX_BODY_BYTES} bytes)."
            ))
        })?;
    Ok(bytes.to_vec())
}

/// A request type that reads itself from a JSON object.
pub trait StrictBody: Type + Sized + Send {
    /// Reads the fields. Return `None` when any field was refused (the refusals are in `fields`).
    fn read(fields: &mut Fields) -> Option<Self>;
}

pub struct StrictJson<T>(pub T);

impl<T: Type> Payload for StrictJson<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        matches!(content_type.parse::<mime::Mime>(), Ok(mime)
            if mime.type_() == "application" && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json")))
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: StrictBody> ParsePayload for StrictJson<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = read_body(body).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("A JSON request body is required.").into());
        }
        let UniqueKeys(value) = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!("The request body is not valid JSON: {e}."))
        })?;
        let Value::Object(object) = value else {
            return Err(ApiError::bad_request("The request body must be a JSON object.").into());
        };
        let mut fields = Fields::new(object, "");
        let parsed = T::read(&mut fields);
        match (parsed, fields.into_error()) {
            (Some(value), None) => Ok(Self(value)),
            (_, Some(error)) => Err(error.into()),
            (None, None) => Err(ApiError::bad_request("The request body is invalid.").into()),
        }
    }
}

impl_apirequest_for_payload!(StrictJson<T>, T: StrictBody);

/// The fields of one JSON object, and what was wrong with them.
pub struct Fields {
    object: Map<String, Value>,
    prefix: String,
    field_errors: Vec<FieldError>,
    problems: Vec<String>,
}

impl Fields {
    fn new(object: Map<String, Value>, prefix: &str) -> Self {
        Self {
            object,
            prefix: prefix.to_owned(),
            field_errors: Vec::new(),
            problems: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn missing(&mut self, name: &str) {
        let field = self.path(name);
        self.field_errors.push(FieldError::new(
            FieldErrorCode::NotNull,
            &field,
            "must not be null",
        ));
    }

    /// Records a refusal of `name` that is neither null nor blank (wrong type, bad format).
    pub fn refuse(&mut self, name: &str, why: impl std::fmt::Display) {
        let field = self.path(name);
        self.problems.push(format!("{field} {why}"));
    }

    /// A required, non-blank string.
    pub fn string(&mut self, name: &str) -> Option<String> {
        match self.object.remove(name) {
            None | Some(Value::Null) => {
                self.missing(name);
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                let field = self.path(name);
                self.field_errors.push(FieldError::new(
                    FieldErrorCode::NotBlank,
                    &field,
                    "must not be blank",
                ));
                None
            }
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.refuse(name, "must be a string.");
                None
            }
        }
    }

    /// An optional string: absent means `None`; `null` and blank are refused like a required
    /// field's (`NOT_NULL`, `NOT_BLANK`), since a field that is sent must mean something.
    pub fn optional_string(&mut self, name: &str) -> Option<Option<String>> {
        if self.object.contains_key(name) {
            self.string(name).map(Some)
        } else {
            Some(None)
        }
    }

    /// A required JSON object, read by `read` with this field's path as prefix.
    pub fn object<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(&mut Fields) -> Option<T>,
    ) -> Option<T> {
        match self.object.remove(name) {
            None | Some(Value::Null) => {
                self.missing(name);
                None
            }
            Some(Value::Object(object)) => {
                let mut inner = Fields::new(object, &format!("{}.", self.path(name)));
                let value = read(&mut inner);
                self.field_errors.append(&mut inner.field_errors);
                self.problems.append(&mut inner.problems);
                value
            }
            Some(_) => {
                self.refuse(name, "must be an object.");
                None
            }
        }
    }

    /// An optional free-form JSON object: absent means empty; `null` is refused.
    pub fn optional_map(&mut self, name: &str) -> Option<Map<String, Value>> {
        match self.object.remove(name) {
            None => Some(Map::new()),
            Some(Value::Object(object)) => Some(object),
            Some(_) => {
                self.refuse(name, "must be an object when present.");
                None
            }
        }
    }

    fn into_error(self) -> Option<ApiError> {
        if self.field_errors.is_empty() && self.problems.is_empty() {
            return None;
        }
        let mut message: Vec<String> = self
            .field_errors
            .iter()
            .map(|e| e.message.clone())
            .collect();
        message.extend(self.problems);
        Some(ApiError::invalid_fields(
            message.join(" "),
            self.field_errors,
        ))
    }
}
