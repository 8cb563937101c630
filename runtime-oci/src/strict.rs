//! Parsing with no field left behind: `oci-spec`'s types ignore what they do not know, so a
//! document is parsed, written back, and every key of the original that did not come back is
//! refused by name. A field of a newer runtime-spec, or a typo, is an error, never dropped.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::OciError;

/// Parses `text` as a `T` whose JSON path is `at` (`""` for a whole `config.json`,
/// `"process"` for `exec --process`, `"linux.resources"` for `update --resources`).
pub fn parse<T: DeserializeOwned + Serialize>(text: &str, at: &str) -> Result<T, OciError> {
    let raw: Value = serde_json::from_str(text).map_err(|e| OciError::Json {
        field: at.to_string(),
        reason: e.to_string(),
    })?;
    let parsed: T = serde_path_to_error::deserialize(&raw).map_err(|e| {
        let inner = e.path().to_string();
        OciError::Json {
            field: join(at, if inner == "." { "" } else { &inner }),
            reason: e.inner().to_string(),
        }
    })?;
    let back = serde_json::to_value(&parsed).map_err(|e| OciError::Json {
        field: at.to_string(),
        reason: e.to_string(),
    })?;
    unknown_keys(&raw, &back, at)?;
    Ok(parsed)
}

fn join(at: &str, inner: &str) -> String {
    match (at.is_empty(), inner.is_empty()) {
        (true, _) => inner.to_string(),
        (false, true) => at.to_string(),
        (false, false) if inner.starts_with('[') => format!("{at}{inner}"),
        (false, false) => format!("{at}.{inner}"),
    }
}

/// Every key of `raw` (other than a null) must come back in `back`.
fn unknown_keys(raw: &Value, back: &Value, at: &str) -> Result<(), OciError> {
    match (raw, back) {
        (Value::Object(raw), Value::Object(back)) => {
            for (key, value) in raw {
                let here = join(at, key);
                match back.get(key) {
                    Some(again) => unknown_keys(value, again, &here)?,
                    None if value.is_null() => {}
                    None => {
                        return Err(OciError::unsupported(
                            here,
                            "a field berth does not know (a newer runtime-spec, or a typo)",
                        ))
                    }
                }
            }
            Ok(())
        }
        (Value::Array(raw), Value::Array(back)) => {
            for (i, (value, again)) in raw.iter().zip(back).enumerate() {
                unknown_keys(value, again, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Spec;

    #[test]
    fn an_unknown_field_is_named() {
        let err = parse::<Spec>(
            r#"{"ociVersion": "1.0.2", "process": {"cwd": "/", "user": {"uid": 0, "gid": 0},
                "args": ["sh"], "noNewPrivilege": true}}"#,
            "",
        )
        .unwrap_err();
        assert_eq!(err.field(), "process.noNewPrivilege", "{err}");
        assert!(matches!(err, OciError::Unsupported { .. }));
        let err = parse::<Spec>(
            r#"{"ociVersion": "1.0.2", "mounts": [{"destination": "/a"}, {"destination": "/b", "kind": "x"}]}"#,
            "",
        )
        .unwrap_err();
        assert_eq!(err.field(), "mounts[1].kind", "{err}");
    }

    #[test]
    fn a_wrong_type_is_named_by_its_path() {
        let err = parse::<Spec>(r#"{"ociVersion": "1.0.2", "root": {"path": 3}}"#, "").unwrap_err();
        assert_eq!(err.field(), "root.path", "{err}");
        let err = parse::<oci_spec::runtime::LinuxResources>(
            r#"{"memory": {"limit": "lots"}}"#,
            "linux.resources",
        )
        .unwrap_err();
        assert_eq!(err.field(), "linux.resources.memory.limit", "{err}");
        assert!(
            err.to_string()
                .starts_with("config.json: linux.resources.memory.limit: "),
            "{err}"
        );
    }

    #[test]
    fn nulls_and_known_fields_pass() {
        let spec = parse::<Spec>(
            r#"{"ociVersion": "1.0.2", "hostname": null, "annotations": {"a": "b"}}"#,
            "",
        )
        .unwrap();
        assert_eq!(spec.version(), "1.0.2");
    }
}
