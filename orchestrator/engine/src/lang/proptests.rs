//! Property tests over the language layer: arbitrary text and documents never panic, and the
//! path operations agree with each other.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::intrinsics::{Env, Intrinsic};
use super::jsonata::Expression;
use super::path::{Path, PathError};
use super::payload::PayloadTemplate;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e9f64..1e9).prop_map(|f| json!(f)),
        "[a-z$.\\[\\]{}%' ]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-zA-Z.$]{1,6}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

struct Doc<'a>(&'a Value);

impl Env for Doc<'_> {
    fn resolve(&mut self, path: &Path) -> Result<Value, PathError> {
        path.select(self.0)
    }
    fn random_u64(&mut self) -> u64 {
        4
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn path_parser_never_panics(text in "\\$[\\PC]{0,40}", doc in json_value()) {
        if let Ok(p) = Path::parse(&text) {
            let _ = p.select(&doc);
            let mut target = doc.clone();
            let _ = p.assign(&mut target, json!(1));
        }
    }

    #[test]
    fn intrinsic_parser_never_panics(text in "States\\.[A-Za-z]{0,14}\\([\\PC]{0,40}", doc in json_value()) {
        if let Ok(call) = Intrinsic::parse(&text) {
            let _ = call.eval(&mut Doc(&doc));
        }
    }

    #[test]
    fn jsonata_compiler_never_panics(text in "[\\PC]{0,40}") {
        let _ = Expression::compile(&text);
    }

    #[test]
    fn validator_never_panics(doc in json_value()) {
        let _ = super::checker::validate(&doc);
        let _ = super::model::StateMachine::compile(&doc);
        let wrapped = json!({"StartAt": "A", "States": {"A": doc}});
        let _ = super::checker::validate(&wrapped);
        let _ = super::model::StateMachine::compile(&wrapped);
    }

    /// `assign` then `get` at the same definite path gives the value back.
    #[test]
    fn assign_then_get_round_trips(keys in prop::collection::vec("[a-z]{1,5}", 1..5), value in json_value()) {
        let text = format!("$.{}", keys.join("."));
        let path = Path::parse(&text).expect("dotted identifiers form a path");
        prop_assert!(path.is_definite());
        let mut doc = json!({});
        path.assign(&mut doc, value.clone()).expect("objects all the way down accept an assignment");
        prop_assert_eq!(path.get(&doc), Some(&value));
        prop_assert_eq!(path.select(&doc).expect("the path now matches"), value);
    }

    /// A template without `.$` keys evaluates to itself.
    #[test]
    fn literal_templates_are_identity(value in json_value()) {
        let has_dynamic = value.to_string().contains(".$\"");
        prop_assume!(!has_dynamic);
        let t = PayloadTemplate::compile(&value).expect("literal template");
        let null = Value::Null;
        prop_assert_eq!(t.evaluate(&mut Doc(&null)).expect("literal evaluates"), value);
    }
}
