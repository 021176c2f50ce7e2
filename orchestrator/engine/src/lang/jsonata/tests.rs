//! Tests of JSONata compilation, evaluation, templates and the AWS extensions.

use super::*;
use serde_json::json;
use std::cell::Cell;

fn no_variables(_: &str) -> Option<Value> {
    None
}

fn states_with_input(input: Value) -> Value {
    json!({"input": input, "context": {"Execution": {"Id": "arn:exec"}}})
}

/// Evaluates `text` with `$states` = `states` and the given workflow variables.
fn run(text: &str, states: Value, vars: &[(&str, Value)]) -> Result<Option<Value>, JsonataError> {
    let lookup = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    let mut counter = 0_u64;
    let mut random = || {
        counter += 1;
        counter
    };
    let mut ctx = EvalContext {
        states: &states,
        variables: &lookup,
        random_u64: &mut random,
    };
    Expression::compile(text)?.evaluate(&mut ctx)
}

fn value_of(text: &str, input: Value) -> Value {
    match run(text, states_with_input(input), &[]) {
        Ok(Some(v)) => v,
        other => panic!("{text}: expected a value, got {other:?}"),
    }
}

fn template_of(
    template: Value,
    input: Value,
    vars: &[(&str, Value)],
) -> Result<Value, JsonataError> {
    let states = states_with_input(input);
    let lookup = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    let mut random = || 7_u64;
    let mut ctx = EvalContext {
        states: &states,
        variables: &lookup,
        random_u64: &mut random,
    };
    Template::compile(&template)?.evaluate(&mut ctx)
}

#[test]
fn delimiters_must_be_exact() {
    assert!(is_expression("{% $x %}"));
    assert!(is_expression("{%10%}"));
    assert!(!is_expression(" {% states.input %} "));
    assert!(!is_expression("{% 10 %"));
    assert!(!is_expression("{%}"));
    assert!(!is_expression("$states.input"));
}

// Corpus: outputdecl/test_output::test_base_cases[BASE_DIRECT_EXPR] and friends.
#[test]
fn integral_results_are_json_integers() {
    let out = run(
        "$sum($states.input.input_values) + $var_constant_1",
        states_with_input(json!({"input_values": [1, 2, 3]})),
        &[("var_constant_1", json!(1))],
    );
    assert_eq!(out, Ok(Some(json!(7))));
    assert_eq!(
        out.ok().flatten().map(|v| v.to_string()),
        Some("7".to_owned())
    );
    assert_eq!(value_of("0.1 + 0.2", json!({})), json!(0.30000000000000004));
    assert_eq!(value_of("$number(\"2\")", json!({})), json!(2));
    assert_eq!(value_of("1e300 * 10", json!({})), json!(1e301));
    assert_eq!(value_of("-0", json!({})).to_string(), "0");
}

// Corpus: assign/test_assign_reference_variables::test_undefined_reference[*].
#[test]
fn undefined_in_a_template_is_an_error_naming_the_field() {
    let err = template_of(json!({"result": "{% $doesNotExist %}"}), json!({}), &[])
        .expect_err("an undefined field fails");
    assert!(matches!(err, JsonataError::Undefined { .. }));
    assert_eq!(
        err.cause("Output"),
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
    );
    let err = template_of(json!("{% $doesNotExist %}"), json!({}), &[])
        .expect_err("an undefined root fails");
    assert_eq!(
        err.cause("Arguments"),
        "The JSONata expression '$doesNotExist' specified for the field 'Arguments' returned nothing (undefined)."
    );
    let err = template_of(json!({"a": [1, {"b": "{% $nope %}"}]}), json!({}), &[])
        .expect_err("a nested undefined fails");
    assert_eq!(err.location(), "a/1/b");
    assert_eq!(run("$doesNotExist", json!({}), &[]), Ok(None));
}

// Corpus: intrinsic_functions/test_math_operations_jsonata::test_math_random_seeded.
#[test]
fn unknown_functions_fail_with_the_jsonata_js_message() {
    let err = template_of(
        json!({"FunctionResult": "{% $randomSeeded($states.input.FunctionInput.fst) %}"}),
        json!({"FunctionInput": "fst"}),
        &[],
    )
    .expect_err("no such function");
    assert_eq!(
        err.cause("Output"),
        "The JSONata expression '$randomSeeded($states.input.FunctionInput.fst)' specified for the field 'Output/FunctionResult' threw an error during evaluation. T1006: Attempted to invoke a non-function"
    );
    // AWS removes `$eval`.
    let err = run("$eval('1 + 1')", json!({}), &[]).expect_err("$eval is not available");
    assert!(err.to_string().contains("T1006"), "{err}");
}

// Corpus: outputdecl/test_output::test_base_cases[BASE_LITERALS], arguments BASE_LAMBDA_LITERALS.
#[test]
fn strings_that_are_not_exactly_delimited_stay_literal() {
    let literal = json!({
        "constant_null": null, "constant_int": 0, "constant_float": 0.1, "constant_bool": true,
        "constant_not_jsonata": " {% states.input %} ",
        "constant_varpath_states": "$states.input",
        "constant_jp_input.$": "$",
        "constant_if": "States.Format('Format:{}', 101)",
        "constant_lst": [null, 0, 0.1, true, [], {"constant": 0}, " {% states.input %} ", "$no.such.var.path"],
        "constant_obj_empty": {}
    });
    let template = Template::compile(&literal).expect("literals compile");
    assert!(template.is_constant());
    assert_eq!(template_of(literal.clone(), json!({}), &[]), Ok(literal));
}

// Corpus: outputdecl/test_output::test_base_output_any_non_dict[LIST_RICH].
#[test]
fn expressions_nest_anywhere_in_a_template() {
    let template = json!([null, 0, 0.1, true, "string", [], "$nosuchvar", "$.no.such.path",
        "{% $states.input %}", {"key": "{% true %}"}]);
    let input = json!({"input_value": "stringliteral"});
    assert_eq!(
        template_of(template, input.clone(), &[]),
        Ok(
            json!([null, 0, 0.1, true, "string", [], "$nosuchvar", "$.no.such.path",
            input, {"key": true}])
        )
    );
}

// Corpus: outputdecl/test_output::test_base_lambda[BASE_LAMBDA] (with the Lambda result inlined).
#[test]
fn states_result_and_variables_are_visible() {
    let result = json!({"ja_expr": 7, "ja_var_access": "string literal"});
    let states = json!({"input": {"input_values": [1, 2, 3]}, "context": {}, "result": result});
    let lookup = |name: &str| (name == "var_input_value").then(|| json!("string literal"));
    let mut random = || 0_u64;
    let mut ctx = EvalContext {
        states: &states,
        variables: &lookup,
        random_u64: &mut random,
    };
    let template = Template::compile(&json!({
        "ja_var_access": "{% $var_input_value %}",
        "ja_states_result": "{% $states.result %}",
        "ja_states_result_access": "{% $states.result.ja_expr %}"
    }))
    .expect("compiles");
    assert_eq!(
        template.evaluate(&mut ctx),
        Ok(
            json!({"ja_var_access": "string literal", "ja_states_result": result,
            "ja_states_result_access": 7})
        )
    );
}

// Corpus: evaluate_jsonata/test_base_evaluate_expressions::test_base_jsonata_regular_expressions[*].
#[test]
fn regular_expressions() {
    assert_eq!(
        value_of(r#"$contains("hello$world", /^hello\$/)"#, json!({})),
        json!(true)
    );
    assert_eq!(
        value_of(r#"$contains("hello$world", /^hello\ /)"#, json!({})),
        json!(false)
    );
    assert_eq!(
        value_of(r"$contains('hello$world', /^hello\$/)", json!({})),
        json!(true)
    );
}

// Corpus: evaluate_jsonata/test_base_evaluate_expressions (Map Items, MaxConcurrency, merge).
#[test]
fn assorted_corpus_expressions() {
    assert_eq!(value_of("$variable := 1", json!({})), json!(1));
    assert_eq!(
        value_of(
            "$merge([$states.input.part1, $states.input.part2])",
            json!({"part1": {"hello": "world"}, "part2": {"foo": "bar"}})
        ),
        json!({"hello": "world", "foo": "bar"})
    );
    assert_eq!(value_of("[]", json!({})), json!([]));
    assert_eq!(value_of("[0]", json!({})), json!([0]));
    assert_eq!(value_of("[1, 'two', 3]", json!({})), json!([1, "two", 3]));
    assert_eq!(value_of("{'foo': 'bar'}", json!({})), json!({"foo": "bar"}));
    assert_eq!(value_of("null", json!({})), json!(null));
    assert_eq!(
        value_of("$states.input.type = 'Public'", json!({"type": "Public"})),
        json!(true)
    );
    assert_eq!(
        value_of(
            "$not($states.input.result.done)",
            json!({"result": {"done": true}})
        ),
        json!(false)
    );
    assert_eq!(
        value_of(
            "$exists($states.input.moreData) ? $states.input.moreData : {}",
            json!({})
        ),
        json!({})
    );
    assert_eq!(
        value_of("789.0123456789012", json!({})),
        json!(789.0123456789012)
    );
}

// Corpus: scenarios/test_base_scenarios::test_escape_sequence_parsing[*].
#[test]
fn quotes_inside_expressions() {
    let out = run("$var = '\"'", json!({}), &[("var", json!("\""))]);
    assert_eq!(out, Ok(Some(json!(true))));
    assert_eq!(value_of("$states.input = '\"'", json!("\"")), json!(true));
}

// Corpus: scenarios/test_base_scenarios::test_map_state_item_selector[MAP_STATE_ITEM_SELECTOR_JSONATA].
#[test]
fn context_object_through_states() {
    let states = json!({"input": {}, "context": {"Map": {"Item": {"Value": "Item1", "Index": 0}}}});
    let out = run(
        "$states.context.Map.Item.Value",
        states,
        &[("ItemsVar", json!(["Item1", "Item2"]))],
    );
    assert_eq!(out, Ok(Some(json!("Item1"))));
}

// Corpus: states_variables/test_error_output (Catch Output with $states.errorOutput).
#[test]
fn error_output() {
    let error = json!({"Error": "Exception", "Cause": "boom"});
    let states = json!({"input": {"inputData": "dummy"}, "context": {}, "errorOutput": error});
    let template =
        json!({"stateInput": "{% $states.input %}", "stateError": "{% $states.errorOutput %}"});
    let lookup = no_variables;
    let mut random = || 0_u64;
    let mut ctx = EvalContext {
        states: &states,
        variables: &lookup,
        random_u64: &mut random,
    };
    let out = Template::compile(&template).and_then(|t| t.evaluate(&mut ctx));
    assert_eq!(
        out,
        Ok(json!({"stateInput": {"inputData": "dummy"}, "stateError": error}))
    );
}

// Corpus: intrinsic_functions/test_array_jsonata::test_array_partition#*.
#[test]
fn partition_matches_aws() {
    let cases = [
        (json!([0]), 1, json!([[0]])),
        (json!([0]), 2, json!([[0]])),
        (json!([0]), 4, json!([[0]])),
        (json!([0]), 5, json!([[0]])),
        (json!([0, 1]), 1, json!([[0], [1]])),
        (json!([0, 1]), 2, json!([[0, 1]])),
        (json!([0, 1]), 5, json!([[0, 1]])),
        (json!([0, 1, 2]), 1, json!([[0], [1], [2]])),
        (json!([0, 1, 2]), 3, json!([[0, 1, 2]])),
        (json!([0, 1, 2]), 5, json!([[0, 1, 2]])),
        (json!([0, 1, 2, 3]), 2, json!([[0, 1], [2, 3]])),
        (json!([0, 1, 2, 3]), 3, json!([[0, 1, 2], [3]])),
        (json!([0, 1, 2, 3]), 5, json!([[0, 1, 2, 3]])),
    ];
    for (array, size, expected) in cases {
        let input = json!({"FunctionInput": {"fst": array, "snd": size}});
        assert_eq!(
            value_of(
                "$partition($states.input.FunctionInput.fst, $states.input.FunctionInput.snd)",
                input
            ),
            expected
        );
    }
    assert_eq!(
        value_of("$partition([1,2,3,4,5,6,7,8,9], 3)", json!({})),
        json!([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    );
    assert!(run("$partition([1], 0)", json!({}), &[]).is_err());
    assert!(run("$partition([1], 1.5)", json!({}), &[]).is_err());
    assert!(run("$partition([1], 'a')", json!({}), &[]).is_err());
}

// Corpus: intrinsic_functions/test_array_jsonata::test_array_range#* (and #2 from the AWS recording).
#[test]
fn range_matches_aws() {
    let cases = [
        ((0, 9, 3), json!([0, 3, 6, 9])),
        ((0, 10, 3), json!([0, 3, 6, 9])),
        ((1, 9, 9), json!(1)),
        ((1, 9, 2), json!([1, 3, 5, 7, 9])),
    ];
    for ((fst, snd, trd), expected) in cases {
        let input = json!({"FunctionInput": {"fst": fst, "snd": snd, "trd": trd}});
        assert_eq!(
            value_of(
                "$range($states.input.FunctionInput.fst, $states.input.FunctionInput.snd, $states.input.FunctionInput.trd)",
                input
            ),
            expected
        );
    }
    assert_eq!(
        value_of("$range(0, 10, 2)", json!({})),
        json!([0, 2, 4, 6, 8, 10])
    );
    assert_eq!(value_of("$range(10, 0, -5)", json!({})), json!([10, 5, 0]));
    assert_eq!(value_of("$range(1, 3)", json!({})), json!([1, 2, 3]));
    assert!(run("$range(0, 1, 0)", json!({}), &[]).is_err());
    assert!(run("$range(0, 1e12, 1)", json!({}), &[]).is_err());
}

// Corpus: intrinsic_functions/test_json_manipulation_jsonata::test_parse#*.
#[test]
fn parse_matches_aws() {
    let cases = [
        ("-0", json!(0)),
        ("1", json!(1)),
        ("1.1", json!(1.1)),
        ("true", json!(true)),
        ("\"HelloWorld\"", json!("HelloWorld")),
        ("[1, 2, \"HelloWorld\"]", json!([1, 2, "HelloWorld"])),
        (
            "{\"Arg1\": 1, \"Arg2\": []}",
            json!({"Arg1": 1, "Arg2": []}),
        ),
    ];
    for (text, expected) in cases {
        let out = value_of(
            "$parse($states.input.FunctionInput)",
            json!({"FunctionInput": text}),
        );
        assert_eq!(out, expected, "{text}");
    }
    assert!(run("$parse('{bad')", json!({}), &[]).is_err());
}

#[test]
fn hash_algorithms() {
    let cases = [
        ("MD5", "5d41402abc4b2a76b9719d911017c592"),
        ("SHA-1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
        (
            "SHA-256",
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        ),
    ];
    for (algorithm, digest) in cases {
        assert_eq!(
            value_of(&format!("$hash('hello', '{algorithm}')"), json!({})),
            json!(digest)
        );
    }
    for (algorithm, len) in [("SHA-384", 96), ("SHA-512", 128)] {
        let out = value_of(&format!("$hash('hello', '{algorithm}')"), json!({}));
        assert_eq!(out.as_str().map(str::len), Some(len));
    }
    assert!(run("$hash('hello', 'SHA-999')", json!({}), &[]).is_err());
    assert!(run("$hash(1, 'MD5')", json!({}), &[]).is_err());
}

#[test]
fn random_and_uuid_come_from_the_injected_source() {
    let a = value_of("[$random(), $random(), $uuid()]", json!({}));
    let b = value_of("[$random(), $random(), $uuid()]", json!({}));
    assert_eq!(a, b, "the same injected randomness gives the same values");
    let items = a.as_array().cloned().unwrap_or_default();
    assert_ne!(items[0], items[1]);
    for r in &items[..2] {
        let r = r.as_f64().unwrap_or(-1.0);
        assert!((0.0..1.0).contains(&r), "{r}");
    }
    let id = items[2].as_str().unwrap_or_default();
    let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(
        value_of("$random(42)", json!({})),
        value_of("$random(42)", json!({}))
    );
    // java.util.Random(42).nextDouble()
    assert_eq!(
        value_of("$random(42)", json!({})),
        json!(0.7275636800328681)
    );

    let calls = Cell::new(0);
    let states = json!({"input": {}});
    let lookup = no_variables;
    let mut random = || {
        calls.set(calls.get() + 1);
        0_u64
    };
    let mut ctx = EvalContext {
        states: &states,
        variables: &lookup,
        random_u64: &mut random,
    };
    let _ = Expression::compile("1 + 1").map(|e| e.evaluate(&mut ctx));
    assert_eq!(
        calls.get(),
        0,
        "no randomness drawn for an expression without $random/$uuid"
    );
}

#[test]
fn unsupported_results() {
    let err = run("function($x){$x}", json!({}), &[]).expect_err("a function is not JSON");
    assert_eq!(
        err.cause("Output"),
        "The JSONata expression 'function($x){$x}' specified for the field 'Output' returned an unsupported result type."
    );
    assert!(run("1/0", json!({}), &[]).is_err());
    // Deeper than any JSON AWS accepts: refused, not a stack overflow.
    let deep = "$reduce([1..3000], function($acc, $v){ {'a': $acc} }, {})";
    let outcome = run(deep, json!({}), &[]);
    assert!(
        matches!(outcome, Err(JsonataError::UnsupportedResult { .. })),
        "{outcome:?}"
    );
}

#[test]
fn syntax_errors() {
    for text in [
        "420.",
        "$sum($states.input.items.numbers",
        "",
        "{%%}",
        "}",
        "$not(",
        "[1,2",
        "'abc",
    ] {
        let err = Expression::compile(text).expect_err(text);
        assert!(
            matches!(err, JsonataError::Syntax { .. }),
            "{text}: {err:?}"
        );
    }
    let err = Template::compile(&json!({"top-level": {"array": [{"child-1": "{% 420. %}"}]}}))
        .expect_err("bad nested expression");
    assert_eq!(err.location(), "top-level/array/0/child-1");
    assert_eq!(err.expression(), "420.");
    // From asl-validator valid-jsonata-syntax-path-expression and invalid-jsonata-path-fields.
    for text in [
        "$states.input.data.items",
        "1+2",
        "$not(null in $each($states.input.data.address, function($v) { $length($v) > 0 ? $v : null }))",
    ] {
        assert!(Expression::compile(text).is_ok(), "{text}");
    }
}

#[test]
fn source_is_the_trimmed_inner_text() {
    let e = Expression::compile("{%  $states.input.x \n%}").expect("compiles");
    assert_eq!(e.source(), "$states.input.x");
}

#[test]
fn variable_names_are_the_free_variables() {
    let e = Expression::compile(
        "($local := $a + $b; $map($states.input, function($v, $i) { $v & $c & $local & $i }) ~> $string; $sum($list); $f := $string; $d)",
    )
    .expect("compiles");
    assert_eq!(e.variable_names(), ["a", "b", "c", "d", "list", "states"]);
    let e = Expression::compile("$x.y@$item#$pos[$item > $limit].{'k': $item, 'p': $pos}")
        .expect("compiles");
    assert_eq!(e.variable_names(), ["limit", "x"]);
}

#[test]
fn only_referenced_states_fields_and_variables_are_converted() {
    let e = Expression::compile("$states.input.a & $states.result[0] & $v").expect("compiles");
    let whole = || StatesUse::Whole;
    let fields = |pairs: Vec<(&str, StatesUse)>| {
        StatesUse::Fields(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    assert_eq!(
        e.refs.states,
        Some(fields(vec![
            ("input", fields(vec![("a", whole())])),
            ("result", whole())
        ]))
    );
    assert!(e.may_read_states_field("result"));
    assert!(!e.may_read_states_field("context"));
    let whole = Expression::compile("$lookup($states, 'input')").expect("compiles");
    assert_eq!(whole.refs.states, Some(StatesUse::Whole));
    assert!(whole.may_read_states_field("context"));

    // Ask for variables: only `v` (and not `states`) goes to the lookup.
    let asked = RefCell::new(Vec::new());
    let lookup = |name: &str| {
        asked.borrow_mut().push(name.to_owned());
        Some(json!("!"))
    };
    let states = json!({"input": {"a": "x"}, "result": ["y"], "context": {"big": [1, 2, 3]}});
    let mut random = || 0_u64;
    let mut ctx = EvalContext {
        states: &states,
        variables: &lookup,
        random_u64: &mut random,
    };
    assert_eq!(e.evaluate(&mut ctx), Ok(Some(json!("xy!"))));
    assert_eq!(*asked.borrow(), ["v"]);

    // Only `input.a` and `result` were converted; whole use still sees everything.
    let picked = e.refs.states.as_ref().map(|used| used.pick(&states, 0));
    assert_eq!(
        picked.and_then(Result::ok).map(|v| Value::from(&v)),
        Some(json!({"input": {"a": "x"}, "result": ["y"]}))
    );
    let climbing = Expression::compile("$states.input.a.%.b").expect("compiles");
    assert_eq!(climbing.refs.states, Some(StatesUse::Whole));
    let mut ctx = EvalContext {
        states: &states,
        variables: &lookup,
        random_u64: &mut random,
    };
    let keys = Expression::compile("$keys($states)").and_then(|e| e.evaluate(&mut ctx));
    assert_eq!(keys, Ok(Some(json!(["input", "result", "context"]))));
}

#[test]
fn local_bindings_shadow_workflow_variables() {
    let out = run("($x := $x + 1; $x)", json!({}), &[("x", json!(1))]);
    assert_eq!(out, Ok(Some(json!(2))));
}

#[test]
fn templates_keep_key_order_and_evaluate_repeatedly() {
    let template =
        Template::compile(&json!({"z": "{% 1 %}", "a": 2, "m": "{% $states.input.n * 2 %}"}))
            .expect("compiles");
    assert!(!template.is_constant());
    assert_eq!(template.expressions().len(), 2);
    for n in 0..3 {
        let out = template_of(
            json!({"z": "{% 1 %}", "a": 2, "m": "{% $states.input.n * 2 %}"}),
            json!({"n": n}),
            &[],
        )
        .expect("evaluates");
        let keys: Vec<&String> = out
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["z", "a", "m"]);
        assert_eq!(out["m"], json!(n * 2));
    }
}

#[test]
fn compiled_expressions_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expression>();
    assert_send_sync::<Template>();
    assert_send_sync::<JsonataError>();
    let e = std::sync::Arc::new(Expression::compile("$states.input * 2").expect("compiles"));
    let handles: Vec<_> = (0..4)
        .map(|n| {
            let e = std::sync::Arc::clone(&e);
            std::thread::spawn(move || {
                let states = json!({"input": n});
                let lookup = no_variables;
                let mut random = || 0_u64;
                let mut ctx = EvalContext {
                    states: &states,
                    variables: &lookup,
                    random_u64: &mut random,
                };
                e.evaluate(&mut ctx)
            })
        })
        .collect();
    for (n, handle) in handles.into_iter().enumerate() {
        assert_eq!(handle.join().ok(), Some(Ok(Some(json!(n * 2)))));
    }
}

/// Runs `f` on a thread with the stack tokio gives its workers.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .expect("spawn a thread")
        .join()
        .expect("the thread did not overflow or panic")
}

#[test]
fn deep_nesting_is_rejected_not_overflowed() {
    let outcome = on_small_stack(|| {
        let mut results = Vec::new();
        for n in [10, 900, 1_001, 100_000] {
            for (open, close) in [
                ("(", ")"),
                ("[", "]"),
                ("{'a':", "}"),
                ("$f(", ")"),
                ("-", ""),
            ] {
                let text = format!("{}1{}", open.repeat(n), close.repeat(n));
                let compiled = Expression::compile(&text);
                let evaluated = compiled.as_ref().ok().map(|e| {
                    let states = json!({});
                    let lookup = no_variables;
                    let mut random = || 0_u64;
                    let mut ctx = EvalContext {
                        states: &states,
                        variables: &lookup,
                        random_u64: &mut random,
                    };
                    e.evaluate(&mut ctx).is_ok()
                });
                results.push((n, open, compiled.is_ok(), evaluated));
            }
        }
        results
    });
    for (n, open, compiled, evaluated) in outcome {
        if n > 1_000 {
            assert!(!compiled, "{n} × {open} should be rejected");
        } else if (n == 10 && open != "$f(") || open == "(" {
            // jsonata-core's own limit counts some constructs twice, so only shallow nesting
            // and plain parentheses are sure to be accepted below 1,000 levels.
            assert_eq!(evaluated, Some(true), "{n} × {open} should evaluate");
        }
    }
}

#[test]
fn junk_never_panics() {
    let fragments = [
        "$",
        "$$",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "'",
        "\"",
        "`",
        "/",
        "\\",
        "%",
        "@",
        "#",
        "^",
        "~>",
        ":=",
        "?",
        ":",
        ";",
        ",",
        ".",
        "..",
        "*",
        "**",
        "function",
        "$states",
        "1e999",
        "0x",
        "|",
        "&",
        "!=",
        "<",
        ">",
        "in",
        "and",
        "or",
        "$sort",
        "$map",
        "$reduce",
        "$match",
        "$replace",
        "/[/",
        "$string",
        "?:",
        "??",
        "-",
        "+",
        "$partition",
        "$range",
        "$hash",
        "$parse",
        "$uuid",
    ];
    // A fixed LCG keeps the junk reproducible.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as usize
    };
    on_small_stack(move || {
        for _ in 0..3_000 {
            let len = next() % 12;
            let text: String = (0..len)
                .map(|_| fragments[next() % fragments.len()])
                .collect::<Vec<_>>()
                .join(" ");
            if let Ok(e) = Expression::compile(&text) {
                let states = json!({"input": {"a": [1, 2, {"b": "c"}]}, "context": {}});
                let lookup = |_: &str| Some(json!([1, "x", null]));
                let mut random = || 3_u64;
                let mut ctx = EvalContext {
                    states: &states,
                    variables: &lookup,
                    random_u64: &mut random,
                };
                let _ = e.evaluate(&mut ctx);
            }
        }
    });
}
