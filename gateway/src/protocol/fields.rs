//! Reading a client's JSON request, shared by the shape modules: the body as an object, and
//! typed fields whose errors name the field ([`Untranslatable`]).

use serde_json::{Map, Value};

use super::canonical::Untranslatable;

/// A field that cannot be read or translated, and why.
pub(crate) fn bad(field: impl Into<String>, reason: impl Into<String>) -> Untranslatable {
    Untranslatable {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The request body as a JSON object.
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, Untranslatable> {
    match serde_json::from_slice(body).map_err(|e| bad("body", format!("not JSON: {e}")))? {
        Value::Object(obj) => Ok(obj),
        _ => Err(bad("body", "must be a JSON object")),
    }
}

/// A string field.
pub(crate) fn string(v: &Value, path: &str) -> Result<String, Untranslatable> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| bad(path, "must be a string"))
}

/// A number field.
pub(crate) fn number(v: &Value, path: &str) -> Result<f64, Untranslatable> {
    v.as_f64().ok_or_else(|| bad(path, "must be a number"))
}

/// A token count (a whole number that fits 32 bits).
pub(crate) fn uint(v: &Value, path: &str) -> Result<u32, Untranslatable> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| bad(path, "must be a whole number below 2^32"))
}
