//! JSON ⇄ native Firestore values. Documents are stored as Firestore maps,
//! arrays, numbers, strings and booleans (never as a JSON string) so that a
//! document the reference wrote loads unchanged and the reference can read
//! ours.
//!
//! Integers stay integers and floats stay doubles, so a round trip is exact.
//! Decimal amounts are already JSON strings in our documents and travel as
//! Firestore strings. Map keys are returned sorted: Firestore keeps no key
//! order, and a fixed order keeps runs (and reports) reproducible.

use std::collections::HashMap;

use firestore::gcloud_sdk::google::firestore::v1::{ArrayValue, MapValue, Value as FsValue, value::ValueType};
use serde_json::{Map, Number, Value};

/// The fields of a document from a JSON object; anything else is refused
/// (a Firestore document is always a map at the top).
pub fn document_fields(doc: &Value) -> Result<HashMap<String, FsValue>, String> {
    match doc {
        Value::Object(map) => map_fields(map, ""),
        other => Err(format!("a state document must be a JSON object, not {}", crate::domain::json_kind(other))),
    }
}

/// A JSON object from a document's fields.
pub fn fields_to_json(fields: &HashMap<String, FsValue>) -> Value {
    let mut keys: Vec<&String> = fields.keys().collect();
    keys.sort();
    Value::Object(keys.into_iter().map(|k| (k.clone(), to_json(&fields[k]))).collect())
}

fn map_fields(map: &Map<String, Value>, path: &str) -> Result<HashMap<String, FsValue>, String> {
    map.iter()
        .map(|(key, value)| {
            let here = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            if key.is_empty() {
                return Err(format!("{}: Firestore does not allow an empty field name", display(path)));
            }
            // Firestore reserves `__name__`-style field names.
            if key.len() >= 4 && key.starts_with("__") && key.ends_with("__") {
                return Err(format!("{here}: Firestore reserves field names of the form __name__"));
            }
            Ok((key.clone(), to_firestore(value, &here, false)?))
        })
        .collect()
}

fn to_firestore(value: &Value, path: &str, in_array: bool) -> Result<FsValue, String> {
    let value_type = match value {
        Value::Null => ValueType::NullValue(0),
        Value::Bool(b) => ValueType::BooleanValue(*b),
        Value::Number(n) => number(n, path)?,
        Value::String(s) => ValueType::StringValue(s.clone()),
        Value::Array(items) => {
            if in_array {
                // Firestore refuses an array directly inside an array.
                return Err(format!("{}: Firestore cannot store an array directly inside an array", display(path)));
            }
            let values = items
                .iter()
                .enumerate()
                .map(|(i, item)| to_firestore(item, &format!("{path}[{i}]"), true))
                .collect::<Result<_, _>>()?;
            ValueType::ArrayValue(ArrayValue { values })
        }
        Value::Object(map) => ValueType::MapValue(MapValue { fields: map_fields(map, path)? }),
    };
    Ok(FsValue { value_type: Some(value_type) })
}

fn number(n: &Number, path: &str) -> Result<ValueType, String> {
    if let Some(i) = n.as_i64() {
        Ok(ValueType::IntegerValue(i))
    } else if n.is_u64() {
        // Storing it as a double would silently change the number.
        Err(format!("{}: {n} does not fit Firestore's 64-bit signed integer", display(path)))
    } else {
        n.as_f64()
            .map(ValueType::DoubleValue)
            .ok_or_else(|| format!("{}: {n} is not representable as a Firestore number", display(path)))
    }
}

/// Reading is total: every Firestore type has a JSON rendering, because a
/// document we did not write (the reference's, an operator's edit) must
/// still load. Types we never write become their natural text forms.
pub fn to_json(value: &FsValue) -> Value {
    match &value.value_type {
        None | Some(ValueType::NullValue(_)) => Value::Null,
        Some(ValueType::BooleanValue(b)) => Value::Bool(*b),
        Some(ValueType::IntegerValue(i)) => Value::from(*i),
        // JSON has no NaN or infinity; the state reader treats null as 0.
        Some(ValueType::DoubleValue(f)) => Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null),
        Some(ValueType::StringValue(s)) => Value::String(s.clone()),
        Some(ValueType::TimestampValue(ts)) => Value::String(timestamp_text(ts)),
        Some(ValueType::BytesValue(bytes)) => Value::String(hex::encode(bytes)),
        Some(ValueType::ReferenceValue(path)) => Value::String(path.clone()),
        Some(ValueType::GeoPointValue(p)) => serde_json::json!({"latitude": p.latitude, "longitude": p.longitude}),
        Some(ValueType::ArrayValue(array)) => Value::Array(array.values.iter().map(to_json).collect()),
        Some(ValueType::MapValue(map)) => fields_to_json(&map.fields),
        // Query-only value kinds (field references, functions, pipelines)
        // never appear in a stored document.
        Some(_) => Value::Null,
    }
}

/// RFC 3339 in UTC, as the reference's Python client would print it.
pub fn timestamp_text(ts: &firestore::gcloud_sdk::prost_types::Timestamp) -> String {
    firestore::timestamp_utils::from_timestamp(*ts)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{}.{:09}", ts.seconds, ts.nanos))
}

fn display(path: &str) -> &str {
    if path.is_empty() { "the document" } else { path }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn round_trip(v: &Value) -> Value {
        fields_to_json(&document_fields(v).unwrap())
    }

    #[test]
    fn nested_values_round_trip_exactly() {
        let doc = json!({
            "int": 3, "neg": -7, "big": i64::MAX, "float": 1.0, "frac": 0.1, "tiny": 1e-12,
            "bool": true, "null": null, "decimal": "0.00012345",
            "list": [1, 2.5, "x", {"inner": [true, null]}, null],
            "map": {"a": {"b": {"c": []}}, "empty": {}},
        });
        let back = round_trip(&doc);
        assert_eq!(back, doc);
        // Ints and floats keep their kind: 1.0 is not 1.
        assert_eq!(back["float"].to_string(), "1.0");
        assert_eq!(back["int"].to_string(), "3");
    }

    #[test]
    fn keys_come_back_sorted() {
        let back = round_trip(&json!({"b": 1, "a": {"z": 1, "y": 2}}));
        assert_eq!(serde_json::to_string(&back).unwrap(), r#"{"a":{"y":2,"z":1},"b":1}"#);
    }

    #[test]
    fn what_firestore_cannot_store_is_refused_with_its_path() {
        let err = |v: Value| document_fields(&v).unwrap_err();
        assert!(err(json!({"a": {"b": [[1]]}})).starts_with("a.b[0]: "), "{}", err(json!({"a": {"b": [[1]]}})));
        assert!(err(json!({"a": {"": 1}})).contains("empty field name"));
        assert!(err(json!({"__name__": 1})).contains("reserves"));
        assert!(err(json!({"n": u64::MAX})).starts_with("n: "));
        assert!(err(json!([1])).contains("JSON object"));
    }

    #[test]
    fn foreign_types_read_as_text() {
        let ts = FsValue {
            value_type: Some(ValueType::TimestampValue(firestore::gcloud_sdk::prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            })),
        };
        assert_eq!(to_json(&ts), json!("2023-11-14T22:13:20Z"));
        assert_eq!(to_json(&FsValue { value_type: Some(ValueType::DoubleValue(f64::NAN)) }), Value::Null);
        assert_eq!(to_json(&FsValue { value_type: Some(ValueType::BytesValue(vec![1, 255])) }), json!("01ff"));
    }
}
