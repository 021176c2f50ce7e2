//! Detection of keys that occur twice in one object of the definition text.

use std::collections::HashSet;

use super::helpers::{child, index};
use super::{DUPLICATE_STATE_NAME, Diagnostic, SCHEMA_VALIDATION_FAILED};

/// Reports keys that occur twice in one JSON object of `text` (already known to parse).
pub(super) fn duplicate_keys(text: &str) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = DupScan {
        pointer: String::new(),
        found: &mut found,
    };
    // The text parsed as a Value already, so the scan cannot fail for syntax reasons.
    let _ = serde::de::DeserializeSeed::deserialize(seed, &mut de);
    found
        .into_iter()
        .map(|(parent, key)| {
            let in_states = parent.rsplit('/').next() == Some("States");
            let pointer = child(&parent, &key);
            if in_states {
                Diagnostic {
                    state: Some(key.clone()),
                    code: DUPLICATE_STATE_NAME,
                    message: format!(
                        "State \"{key}\" is defined more than once in this States object; state names must be unique"
                    ),
                    pointer,
                }
            } else {
                Diagnostic {
                    state: None,
                    code: SCHEMA_VALIDATION_FAILED,
                    message: format!(
                        "Field '{key}' appears more than once in the same object; only the last one would be used"
                    ),
                    pointer,
                }
            }
        })
        .collect()
}

/// Walks JSON text recording `(object pointer, key)` for every repeated key.
struct DupScan<'f> {
    pointer: String,
    found: &'f mut Vec<(String, String)>,
}

impl<'de> serde::de::DeserializeSeed<'de> for DupScan<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for DupScan<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            let seed = DupScan {
                pointer: index(&self.pointer, i),
                found: &mut *self.found,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let seed = DupScan {
                pointer: child(&self.pointer, &key),
                found: &mut *self.found,
            };
            map.next_value_seed(seed)?;
            if !seen.insert(key.clone()) {
                self.found.push((self.pointer.clone(), key));
            }
        }
        Ok(())
    }
}
