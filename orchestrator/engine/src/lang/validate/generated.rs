//! Property tests with generated definitions: every generated valid definition (all state
//! types, both query languages, nested Parallel and Map) validates cleanly with the real
//! parsers, and a mutation that breaks exactly one rule is reported once, at its JSON pointer.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::lang::checker::validate;

/// The shape of one generated state; `variant` picks among the valid forms of its fields.
#[derive(Debug, Clone)]
enum Spec {
    Pass(u8),
    Task(u8),
    Wait(u8),
    Choice(u8),
    Parallel(u8, Vec<Vec<Spec>>),
    Map(u8, Vec<Spec>),
}

/// A terminal state closes every block, so the chain always ends.
#[derive(Debug, Clone, Copy)]
enum Last {
    Pass(u8),
    Task(u8),
    Succeed(u8),
    Fail(u8),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Lang {
    JsonPath,
    Jsonata,
}

fn spec() -> impl Strategy<Value = Spec> {
    let leaf = prop_oneof![
        any::<u8>().prop_map(Spec::Pass),
        any::<u8>().prop_map(Spec::Task),
        any::<u8>().prop_map(Spec::Wait),
        any::<u8>().prop_map(Spec::Choice),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        let block = prop::collection::vec(inner, 0..3);
        prop_oneof![
            (any::<u8>(), prop::collection::vec(block.clone(), 1..3))
                .prop_map(|(v, b)| Spec::Parallel(v, b)),
            (any::<u8>(), block).prop_map(|(v, b)| Spec::Map(v, b)),
        ]
    })
}

fn last() -> impl Strategy<Value = Last> {
    prop_oneof![
        any::<u8>().prop_map(Last::Pass),
        any::<u8>().prop_map(Last::Task),
        any::<u8>().prop_map(Last::Succeed),
        any::<u8>().prop_map(Last::Fail),
    ]
}

/// A whole machine: top-level query language, its states, and per-state opt-ins to JSONata.
fn machine() -> impl Strategy<Value = (bool, Vec<Spec>, Last)> {
    (any::<bool>(), prop::collection::vec(spec(), 0..5), last())
}

/// Builds state-machine JSON from specs. Names carry their block's prefix so they are unique
/// across the whole machine, as AWS requires.
struct Builder {
    /// Every state's pointer with its effective query language and type.
    states: Vec<(String, Lang, &'static str)>,
}

impl Builder {
    fn block(
        &mut self,
        prefix: &str,
        pointer: &str,
        lang: Lang,
        specs: &[Spec],
        last: Last,
    ) -> Value {
        let names: Vec<String> = (0..=specs.len()).map(|i| format!("{prefix}S{i}")).collect();
        let mut states = Map::new();
        for (i, spec) in specs.iter().enumerate() {
            let here = format!("{pointer}/States/{}", names[i]);
            let state = self.state(&names[i], &here, lang, spec, &names[i + 1]);
            states.insert(names[i].clone(), state);
        }
        let name = &names[specs.len()];
        let here = format!("{pointer}/States/{name}");
        states.insert(name.clone(), self.terminal(&here, lang, last));
        json!({"StartAt": names[0], "States": states})
    }

    fn state(&mut self, name: &str, here: &str, lang: Lang, spec: &Spec, next: &str) -> Value {
        let jp = lang == Lang::JsonPath;
        let (kind, mut state) = match spec {
            Spec::Pass(v) => ("Pass", pass(*v, jp)),
            Spec::Task(v) => ("Task", task(*v, jp, Some(next))),
            Spec::Wait(v) => ("Wait", wait(*v, jp)),
            Spec::Choice(v) => ("Choice", choice(*v, jp, next)),
            Spec::Parallel(v, branches) => {
                let built = branches
                    .iter()
                    .enumerate()
                    .map(|(b, specs)| {
                        let at = format!("{here}/Branches/{b}");
                        self.block(&format!("{name}B{b}"), &at, lang, specs, Last::Pass(*v))
                    })
                    .collect::<Vec<_>>();
                let mut s = json!({"Type": "Parallel", "Branches": built});
                if *v % 2 == 0 {
                    s["Retry"] = json!([{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}]);
                }
                if jp {
                    s["ResultPath"] = json!("$.parallel");
                } else {
                    s["Output"] = json!("{% $states.result %}");
                }
                ("Parallel", s)
            }
            Spec::Map(v, specs) => {
                let at = format!("{here}/ItemProcessor");
                let processor = self.block(&format!("{name}I"), &at, lang, specs, Last::Pass(*v));
                ("Map", map(*v, jp, processor))
            }
        };
        if kind != "Choice" {
            state["Next"] = json!(next);
        }
        self.states.push((here.to_string(), lang, kind));
        state
    }

    fn terminal(&mut self, here: &str, lang: Lang, last: Last) -> Value {
        let jp = lang == Lang::JsonPath;
        let (kind, mut state) = match last {
            Last::Pass(v) => ("Pass", pass(v, jp)),
            Last::Task(v) => ("Task", task(v, jp, None)),
            Last::Succeed(v) => {
                let mut s = json!({"Type": "Succeed"});
                if v % 2 == 1 {
                    s[if jp { "OutputPath" } else { "Output" }] =
                        json!(if jp { "$.a" } else { "{% $states.input %}" });
                }
                return self.record(here, lang, "Succeed", s);
            }
            Last::Fail(v) => {
                let s = match (v % 3, jp) {
                    (0, _) => json!({"Type": "Fail"}),
                    (1, _) => json!({"Type": "Fail", "Error": "Failed", "Cause": "generated"}),
                    (_, true) => json!({"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}),
                    (_, false) => json!({"Type": "Fail", "Error": "{% $states.input.e %}",
                        "Cause": "{%$string($states.input.c)%}"}),
                };
                return self.record(here, lang, "Fail", s);
            }
        };
        state["End"] = json!(true);
        self.record(here, lang, kind, state)
    }

    fn record(&mut self, here: &str, lang: Lang, kind: &'static str, state: Value) -> Value {
        self.states.push((here.to_string(), lang, kind));
        state
    }
}

fn pass(v: u8, jp: bool) -> Value {
    match (v % 5, jp) {
        (0, _) => json!({"Type": "Pass"}),
        (1, true) => json!({"Type": "Pass", "Result": {"a": 1}, "ResultPath": "$.r"}),
        (2, true) => json!({"Type": "Pass", "Parameters": {"x.$": "$.a", "y": [1, {"z": null}],
            "f.$": "States.Format('{}-{}', $.b, $$.Execution.Name)", "id.$": "$$.Execution.Id",
            "big.$": "$.nums[?(@ > 5)]"}, "OutputPath": "$.x"}),
        (3, true) => json!({"Type": "Pass", "InputPath": "$.items[0]", "ResultPath": null}),
        (_, true) => json!({"Type": "Pass", "Assign": {"v": 1, "w.$": "$.a"}}),
        (1, false) => json!({"Type": "Pass", "Output": "{% $states.input.a %}"}),
        (2, false) => json!({"Type": "Pass", "Output": {"x": "{%$states.input%}", "n": 1}}),
        (3, false) => json!({"Type": "Pass", "Assign": {"v": "{% $states.input.a %}"}}),
        (_, false) => json!({"Type": "Pass", "QueryLanguage": "JSONata", "Output": 3}),
    }
}

fn task(v: u8, jp: bool, catch_to: Option<&str>) -> Value {
    let mut s = match (v % 3, jp) {
        (0, true) => json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "Payload.$": "$"},
            "ResultSelector": {"p.$": "$.Payload"}, "ResultPath": "$.out"}),
        (1, true) => json!({"Type": "Task",
            "Resource": "arn:aws:states:us-east-1:123456789012:activity:work",
            "TimeoutSeconds": 30, "HeartbeatSeconds": 10}),
        (_, true) => json!({"Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": "b", "Key.$": "$.key"}, "TimeoutSecondsPath": "$.t"}),
        (0, false) => json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Arguments": {"FunctionName": "f", "Payload": "{% $states.input %}"},
            "Output": "{% $states.result.Payload %}"}),
        (1, false) => json!({"Type": "Task",
            "Resource": "arn:aws:states:us-east-1:123456789012:activity:work",
            "TimeoutSeconds": "{% 30 %}"}),
        (_, false) => json!({"Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "Assign": {"seen": "{% $states.result %}"}}),
    };
    if v.is_multiple_of(2) {
        s["Retry"] = json!([{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1,
            "MaxAttempts": 2, "BackoffRate": 2.0}]);
    }
    if let Some(next) = catch_to.filter(|_| v % 4 < 2) {
        let mut catcher = json!({"ErrorEquals": ["States.ALL"], "Next": next});
        if jp {
            catcher["ResultPath"] = json!("$.error");
        } else {
            catcher["Output"] = json!("{% $states.errorOutput %}");
        }
        s["Catch"] = json!([catcher]);
    }
    s
}

fn wait(v: u8, jp: bool) -> Value {
    match (v % 4, jp) {
        (0, _) => json!({"Type": "Wait", "Seconds": 1}),
        (1, _) => json!({"Type": "Wait", "Timestamp": "2026-01-01T00:00:00Z"}),
        (2, true) => json!({"Type": "Wait", "SecondsPath": "$.s"}),
        (_, true) => json!({"Type": "Wait", "TimestampPath": "$.ts"}),
        (2, false) => json!({"Type": "Wait", "Seconds": "{% $states.input.s %}"}),
        (_, false) => json!({"Type": "Wait", "Timestamp": "{%$states.input.ts%}"}),
    }
}

fn choice(v: u8, jp: bool, next: &str) -> Value {
    let choices = match (v % 3, jp) {
        (0, true) => json!([{"Variable": "$.a", "NumericGreaterThan": 1, "Next": next}]),
        (1, true) => json!([{"And": [{"Variable": "$.a", "IsPresent": true},
            {"Not": {"Variable": "$.b", "StringEquals": "x"}}], "Next": next}]),
        (_, true) => json!([{"Variable": "$.a", "StringMatches": "log-*.txt", "Next": next},
            {"Variable": "$.c", "TimestampLessThanEqualsPath": "$.d", "Next": next}]),
        (_, false) => json!([{"Condition": "{% $states.input.a > 1 %}", "Next": next}]),
    };
    json!({"Type": "Choice", "Choices": choices, "Default": next})
}

fn map(v: u8, jp: bool, mut processor: Value) -> Value {
    let distributed = v.is_multiple_of(3);
    processor["ProcessorConfig"] = if distributed {
        json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
    } else {
        json!({"Mode": "INLINE"})
    };
    let mut s = json!({"Type": "Map", "ItemProcessor": processor, "MaxConcurrency": 2});
    if distributed {
        let arguments = if jp { "Parameters" } else { "Arguments" };
        s["ItemReader"] = json!({"Resource": "arn:aws:states:::s3:listObjectsV2",
            arguments: {"Bucket": "b", "Prefix": "p"}});
        s["ToleratedFailurePercentage"] = json!(5);
        s["Label"] = json!("generated");
    } else if jp {
        s["ItemsPath"] = json!("$.items");
    } else {
        s["Items"] = json!("{% $states.input.items %}");
    }
    if jp {
        s["ItemSelector"] = json!({"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"});
        s["ResultPath"] = json!("$.mapped");
    } else {
        s["ItemSelector"] = json!({"v": "{% $states.context.Map.Item.Value %}"});
    }
    s
}

fn build(jsonata: bool, specs: &[Spec], last: Last) -> (Value, Vec<(String, Lang, &'static str)>) {
    let lang = if jsonata {
        Lang::Jsonata
    } else {
        Lang::JsonPath
    };
    let mut builder = Builder { states: Vec::new() };
    let mut def = builder.block("", "", lang, specs, last);
    if jsonata {
        def["QueryLanguage"] = json!("JSONata");
    }
    (def, builder.states)
}

/// Looks up the value at a JSON pointer for mutation.
fn at<'v>(def: &'v mut Value, pointer: &str) -> &'v mut Value {
    def.pointer_mut(pointer).expect("generated pointers exist")
}

/// Breaks exactly one rule in the state at `pointer`; returns the pointer the problem must be
/// reported at.
fn mutate(state: &mut Value, pointer: &str, lang: Lang, kind: &str, pick: u8) -> String {
    let fields = state.as_object_mut().expect("states are objects");
    match pick % 6 {
        // Source: ASL spec, "Fields that are not defined by the spec are not allowed".
        0 => {
            fields.insert("Bogus".into(), json!(1));
            format!("{pointer}/Bogus")
        }
        // Source: ASL spec, Comment is a string.
        1 => {
            fields.insert("Comment".into(), json!(5));
            format!("{pointer}/Comment")
        }
        // JSONPath states take paths; JSONata states refuse the JSONPath fields (AWS).
        2 if lang == Lang::JsonPath && kind != "Fail" => {
            fields.insert("InputPath".into(), json!("$.a["));
            format!("{pointer}/InputPath")
        }
        2 => {
            fields.insert("OutputPath".into(), json!("$"));
            format!("{pointer}/OutputPath")
        }
        // Source: ASL spec, TimeoutSeconds is a positive integer.
        3 if kind == "Task" => {
            fields.remove("TimeoutSecondsPath");
            fields.insert("TimeoutSeconds".into(), json!(0));
            format!("{pointer}/TimeoutSeconds")
        }
        // Source: ASL spec, a Retrier's ErrorEquals is a non-empty array.
        4 if matches!(kind, "Task" | "Parallel" | "Map") => {
            fields.insert("Retry".into(), json!([{"ErrorEquals": []}]));
            format!("{pointer}/Retry/0/ErrorEquals")
        }
        // Source: ASL spec, Wait's Seconds is a non-negative integer.
        5 if kind == "Wait" => {
            for f in ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"] {
                fields.remove(f);
            }
            fields.insert("Seconds".into(), json!(-1));
            format!("{pointer}/Seconds")
        }
        _ => {
            fields.insert("Comment".into(), json!(["not", "a", "string"]));
            format!("{pointer}/Comment")
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_definitions_are_valid((jsonata, specs, last) in machine()) {
        let (def, _) = build(jsonata, &specs, last);
        let found = validate(&def);
        prop_assert!(found.is_empty(), "{found:#?}\n{def:#}");
    }

    #[test]
    fn one_broken_rule_is_one_problem_at_its_pointer(
        (jsonata, specs, last) in machine(),
        which in any::<prop::sample::Index>(),
        pick in any::<u8>(),
    ) {
        let (mut def, states) = build(jsonata, &specs, last);
        let (pointer, lang, kind) = states[which.index(states.len())].clone();
        let expected = mutate(at(&mut def, &pointer), &pointer, lang, kind, pick);
        let found = validate(&def);
        prop_assert_eq!(found.len(), 1, "{:#?}\n{:#}", found, def);
        prop_assert_eq!(&found[0].pointer, &expected, "{:#?}", found);
    }
}
