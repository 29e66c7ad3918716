//! A form-encoded request payload (`application/x-www-form-urlencoded`), kept as its raw
//! name/value pairs: a webhook signature (Twilio's) covers every parameter, including the
//! ones the handler does not read. `T` is the schema the spec shows.

use std::marker::PhantomData;

use poem::{Request, RequestBody};
use poem_openapi::impl_apirequest_for_payload;
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;

use crate::http::error::ApiError;
use crate::http::strict_json::read_body;

pub struct FormPairs<T> {
    pub pairs: Vec<(String, String)>,
    _schema: PhantomData<T>,
}

impl<T> FormPairs<T> {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl<T: Type> Payload for FormPairs<T> {
    const CONTENT_TYPE: &'static str = "application/x-www-form-urlencoded";

    fn check_content_type(content_type: &str) -> bool {
        matches!(content_type.parse::<mime::Mime>(), Ok(mime)
            if mime.type_() == "application" && mime.subtype() == "x-www-form-urlencoded")
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type> ParsePayload for FormPairs<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = read_body(body).await?;
        let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes).map_err(|e| {
            ApiError::bad_request(format!("The request body is not a valid form: {e}."))
        })?;
        Ok(Self {
            pairs,
            _schema: PhantomData,
        })
    }
}

impl_apirequest_for_payload!(FormPairs<T>, T: Type);
