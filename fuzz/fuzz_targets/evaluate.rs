//! Any bytes as an expression plus a JSON document: JSONPath, intrinsic functions and JSONata
//! must parse-or-reject and evaluate-or-fail, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use sluice_engine::lang::intrinsics::{Env, Intrinsic};
use sluice_engine::lang::jsonata::{EvalContext, Expression};
use sluice_engine::lang::path::{Path, PathError};

struct Doc<'a>(&'a Value, u64);

impl Env for Doc<'_> {
    fn resolve(&mut self, path: &Path) -> Result<Value, PathError> {
        path.select(self.0)
    }
    fn random_u64(&mut self) -> u64 {
        self.1 = self.1.wrapping_mul(6364136223846793005).wrapping_add(1);
        self.1
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // "expression\ninput-json": the document defaults to a small fixed one.
    let (expr, doc) = text.split_once('\n').unwrap_or((text, ""));
    let doc: Value = serde_json::from_str(doc).unwrap_or_else(|_| json!({"a": [1, 2, {"b": "c"}], "n": 3}));
    if let Ok(path) = Path::parse(expr) {
        let _ = path.select(&doc);
        let _ = path.get(&doc);
        let mut target = doc.clone();
        let _ = path.assign(&mut target, json!(1));
    }
    if let Ok(call) = Intrinsic::parse(expr) {
        let _ = call.eval(&mut Doc(&doc, 1));
    }
    if let Ok(e) = Expression::compile(expr) {
        let states = json!({"input": doc, "context": {}});
        let lookup = |_: &str| None;
        let mut seed = 1u64;
        let mut random = || {
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            seed
        };
        let mut ctx = EvalContext { states: &states, variables: &lookup, random_u64: &mut random };
        let _ = e.evaluate(&mut ctx);
    }
});
