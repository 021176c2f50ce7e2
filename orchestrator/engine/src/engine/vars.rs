//! Workflow variables (`Assign`) and their scopes: a Parallel branch or Map iteration reads the
//! variables of the scope around it and keeps its own assignments to itself.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

/// The variables visible at one point of an execution.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    local: HashMap<String, Value>,
    parent: Option<Arc<Vars>>,
}

impl Vars {
    /// A fresh scope nested in `parent` (a branch or an iteration).
    pub fn child_of(parent: Arc<Vars>) -> Vars {
        Vars {
            local: HashMap::new(),
            parent: Some(parent),
        }
    }

    /// Look a variable up, innermost scope first.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let mut scope = self;
        loop {
            if let Some(v) = scope.local.get(name) {
                return Some(v);
            }
            scope = scope.parent.as_deref()?;
        }
    }

    /// Assign in this scope.
    pub fn set(&mut self, name: String, value: Value) {
        self.local.insert(name, value);
    }

    /// The variables of this scope and its parents as one JSON object (inner scopes win), for
    /// checkpoints.
    pub fn to_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        let mut scopes = Vec::new();
        let mut scope = Some(self);
        while let Some(s) = scope {
            scopes.push(s);
            scope = s.parent.as_deref();
        }
        for s in scopes.into_iter().rev() {
            for (k, v) in &s.local {
                out.insert(k.clone(), v.clone());
            }
        }
        Value::Object(out)
    }

    /// A top-level scope holding the variables of a checkpoint (a JSON object; anything else
    /// yields no variables).
    pub fn from_json(value: Value) -> Vars {
        let local = match value {
            Value::Object(map) => map.into_iter().collect(),
            _ => HashMap::new(),
        };
        Vars {
            local,
            parent: None,
        }
    }

    /// True when no variable is visible at all (lets evaluation skip work).
    pub fn is_empty(&self) -> bool {
        self.local.is_empty() && self.parent.as_ref().is_none_or(|p| p.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inner_scopes_read_outer_and_keep_their_own() {
        let mut outer = Vars::default();
        outer.set("x".into(), json!(1));
        let shared = Arc::new(outer);
        let mut inner = Vars::child_of(shared.clone());
        assert_eq!(inner.get("x"), Some(&json!(1)));
        inner.set("x".into(), json!(2));
        inner.set("y".into(), json!(3));
        assert_eq!(inner.get("x"), Some(&json!(2)));
        assert_eq!(shared.get("y"), None);
        assert_eq!(shared.get("x"), Some(&json!(1)));
    }
}
