//! Reading a definition from text: JSON or YAML, chosen by file extension or by content.

use serde_json::Value;

/// Why a definition could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The text is not valid JSON.
    #[error("{origin}: not valid JSON: {source}")]
    Json {
        origin: String,
        #[source]
        source: serde_json::Error,
    },
    /// The text is not valid YAML.
    #[error("{origin}: not valid YAML: {source}")]
    Yaml {
        origin: String,
        #[source]
        source: serde_yaml::Error,
    },
    /// YAML that has no JSON equivalent (e.g. non-string keys, NaN).
    #[error("{origin}: YAML value has no JSON form: {message}")]
    NotJson { origin: String, message: String },
}

/// The syntax a definition is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Json,
    Yaml,
}

impl Syntax {
    /// Guess from a file name: `.yaml`/`.yml` are YAML, everything else is decided by content.
    pub fn from_name(name: &str) -> Option<Syntax> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Some(Syntax::Yaml)
        } else if lower.ends_with(".json") {
            Some(Syntax::Json)
        } else {
            None
        }
    }

    /// Guess from content: JSON documents start with `{`, `[` or `"` after whitespace.
    pub fn sniff(text: &str) -> Syntax {
        match text.trim_start().chars().next() {
            Some('{') | Some('[') | Some('"') | None => Syntax::Json,
            _ => Syntax::Yaml,
        }
    }
}

/// Parse a definition (or an input document). `origin` names the source in error messages.
pub fn parse_document(text: &str, origin: &str) -> Result<Value, LoadError> {
    let syntax = Syntax::from_name(origin).unwrap_or_else(|| Syntax::sniff(text));
    match syntax {
        Syntax::Json => parse_json(text, origin),
        Syntax::Yaml => {
            // YAML is a superset of JSON: a `.yaml` file that holds JSON still parses.
            let yaml: serde_yaml::Value =
                serde_yaml::from_str(text).map_err(|source| LoadError::Yaml {
                    origin: origin.to_string(),
                    source,
                })?;
            serde_json::to_value(yaml).map_err(|e| LoadError::NotJson {
                origin: origin.to_string(),
                message: e.to_string(),
            })
        }
    }
}

/// Parse JSON without serde_json's recursion limit failing silently into a stack overflow:
/// serde_json stops at 128 levels, which is the guard we rely on for hostile input.
pub fn parse_json(text: &str, origin: &str) -> Result<Value, LoadError> {
    serde_json::from_str(text).map_err(|source| LoadError::Json {
        origin: origin.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_yaml() {
        let j = parse_document(r#"{"StartAt":"A"}"#, "x.asl.json").expect("json");
        assert_eq!(j["StartAt"], "A");
        let y =
            parse_document("StartAt: A\nStates:\n  A:\n    Type: Pass\n", "x.yaml").expect("yaml");
        assert_eq!(y["States"]["A"]["Type"], "Pass");
        let sniffed = parse_document("StartAt: A\n", "-").expect("sniffed yaml");
        assert_eq!(sniffed["StartAt"], "A");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(parse_document(&deep, "deep.json").is_err());
        let deep_yaml = "[".repeat(100_000);
        assert!(parse_document(&deep_yaml, "deep.yaml").is_err());
    }
}
