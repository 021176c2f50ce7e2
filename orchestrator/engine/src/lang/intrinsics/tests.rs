//! Tests of intrinsic parsing and evaluation, largely from recorded AWS behaviour.

use super::functions::{JavaRandom, render_java};
use super::*;
use serde_json::{Map, json};

/// Resolves `$...` against `input`, `$$...` against `context`, `$name` against `vars`.
struct TestEnv {
    input: Value,
    context: Value,
    vars: Map<String, Value>,
    counter: u64,
}

impl TestEnv {
    fn new(input: Value) -> Self {
        TestEnv {
            input,
            context: json!({
                "Execution": {"Name": "exec-name"},
                "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:my-sm-name", "Name": "my-sm-name"}
            }),
            vars: Map::new(),
            counter: 0,
        }
    }
}

impl Env for TestEnv {
    fn resolve(&mut self, path: &Path) -> Result<Value, PathError> {
        match path.root() {
            super::super::path::Root::Input => path.select(&self.input),
            super::super::path::Root::Context => path.select(&self.context),
            super::super::path::Root::Variable(name) => {
                let value = self.vars.get(name).cloned().unwrap_or(Value::Null);
                path.select(&value)
            }
        }
    }

    fn random_u64(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.counter
    }
}

fn run(text: &str, input: Value) -> Result<Value, IntrinsicError> {
    let call = Intrinsic::parse(text).expect("test call parses");
    call.eval(&mut TestEnv::new(input))
}

fn fi(text: &str, fst: Value, snd: Value) -> Result<Value, IntrinsicError> {
    run(text, json!({"FunctionInput": {"fst": fst, "snd": snd}}))
}

const FORMAT_1: &str = "States.Format('Formatting argument {}.', $.FunctionInput)";
const FORMAT_2: &str = "States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)";

#[test]
fn looks_like_call() {
    assert!(Intrinsic::looks_like_call("States.Format('x')"));
    assert!(Intrinsic::looks_like_call("States.UUID()"));
    assert!(!Intrinsic::looks_like_call("States.Format ('x')"));
    assert!(!Intrinsic::looks_like_call("$.States"));
    assert!(!Intrinsic::looks_like_call("States.('x')"));
    assert!(!Intrinsic::looks_like_call(" States.Format('x')"));
}

#[test]
fn corpus_format() {
    let f1 = |v: Value| run(FORMAT_1, json!({ "FunctionInput": v }));
    assert_eq!(f1(json!("")), Ok(json!("Formatting argument .")));
    assert_eq!(f1(json!(1)), Ok(json!("Formatting argument 1.")));
    assert_eq!(
        f1(json!("{\"Arg1\": 1, \"Arg2\": []}")),
        Ok(json!("Formatting argument {\"Arg1\": 1, \"Arg2\": []}."))
    );
    let f2 = |v: Value| fi(FORMAT_2, v.clone(), v);
    assert_eq!(
        f2(json!(" ")),
        Ok(json!("Formatting arguments fst=  and snd= ."))
    );
    assert_eq!(
        f2(json!("HelloWorld")),
        Ok(json!(
            "Formatting arguments fst=HelloWorld and snd=HelloWorld."
        ))
    );
    assert_eq!(
        f2(Value::Null),
        Ok(json!("Formatting arguments fst=null and snd=null."))
    );
    assert_eq!(
        f2(json!(1)),
        Ok(json!("Formatting arguments fst=1 and snd=1."))
    );
    assert_eq!(
        f2(json!({"Arg1": 1, "Arg2": []})),
        Ok(json!(
            "Formatting arguments fst={Arg1=1, Arg2=[]} and snd={Arg1=1, Arg2=[]}."
        ))
    );
    assert_eq!(
        f2(json!(1.1)),
        Ok(json!("Formatting arguments fst=1.1 and snd=1.1."))
    );
    assert_eq!(
        f2(json!(true)),
        Ok(json!("Formatting arguments fst=true and snd=true."))
    );
    assert_eq!(
        f2(json!(["a", [1, 2.5], {"k": null}])),
        Ok(json!(
            "Formatting arguments fst=[a, [1, 2.5], {k=null}] and snd=[a, [1, 2.5], {k=null}]."
        ))
    );
}

#[test]
fn corpus_format_context_and_fail_state() {
    let out = run(
        "States.Format('Formatting arguments fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)",
        json!({"FunctionInput": null}),
    );
    assert_eq!(
        out,
        Ok(json!(
            "Formatting arguments fst=exec-name and snd={Id=arn:aws:states:us-east-1:111111111111:stateMachine:my-sm-name, Name=my-sm-name}."
        ))
    );
    let input = json!({"Error": "error string", "Cause": "cause string"});
    assert_eq!(
        run("States.Format('{}', $.Error)", input.clone()),
        Ok(json!("error string"))
    );
    assert_eq!(
        run(
            "States.Format('This is a custom error message for {}, caused by {}.', $.Error, $.Cause)",
            input
        ),
        Ok(json!(
            "This is a custom error message for error string, caused by cause string."
        ))
    );
}

#[test]
fn format_escapes_and_errors() {
    assert_eq!(
        run(r"States.Format('a \{\} b {} \' \\ c', 5)", json!({})),
        Ok(json!(r"a {} b 5 ' \ c"))
    );
    assert_eq!(
        run("States.Format('Format:{}', 101)", json!({})),
        Ok(json!("Format:101"))
    );
    assert_eq!(
        run("States.Format('no holes')", json!({})),
        Ok(json!("no holes"))
    );
    assert!(matches!(
        run("States.Format('{} {}', 1)", json!({})),
        Err(IntrinsicError::Runtime { .. })
    ));
    assert!(run("States.Format('{}', 1, 2)", json!({})).is_err());
    assert!(run("States.Format($.n, 1)", json!({"n": 5})).is_err());
    assert_eq!(
        run(
            "States.Format($.t, $.name)",
            json!({"t": "Hello, my name is {}.", "name": "Arnav"})
        ),
        Ok(json!("Hello, my name is Arnav."))
    );
}

#[test]
fn corpus_array() {
    assert_eq!(run("States.Array()", json!({})), Ok(json!([])));
    let a2 = "States.Array($.FunctionInput.fst, $.FunctionInput.snd)";
    assert_eq!(fi(a2, json!(" "), json!(" ")), Ok(json!([" ", " "])));
    let s = json!("{\"Arg1\": 1, \"Arg2\": []}");
    assert_eq!(fi(a2, s.clone(), s.clone()), Ok(json!([s.clone(), s])));
    assert_eq!(
        run(
            "States.Array('a', 'b', 'c', 1, -2.5, true, null)",
            json!({})
        ),
        Ok(json!(["a", "b", "c", 1, -2.5, true, null]))
    );
}

#[test]
fn corpus_array_contains() {
    let c = "States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)";
    assert_eq!(fi(c, json!([]), Value::Null), Ok(json!(false)));
    assert_eq!(fi(c, json!([]), json!([])), Ok(json!(false)));
    assert_eq!(fi(c, json!([]), json!(1)), Ok(json!(false)));
    assert_eq!(fi(c, json!([[1, 2, 3], 2]), Value::Null), Ok(json!(false)));
    assert_eq!(
        fi(c, json!([[1, 2, 3], 2]), json!([1, 2, 3])),
        Ok(json!(true))
    );
    assert_eq!(
        fi(c, json!([{"1": 2, "2": []}]), json!([])),
        Ok(json!(false))
    );
    assert_eq!(
        fi(c, json!([{"1": 2, "2": []}]), json!({"1": 2, "2": []})),
        Ok(json!(true))
    );
    assert_eq!(fi(c, json!([true, false]), json!(true)), Ok(json!(true)));
    assert_eq!(fi(c, json!([true, false]), json!(false)), Ok(json!(true)));
    assert_eq!(
        run(
            "States.ArrayContains($.a, 5)",
            json!({"a": [1, 2, 3, 4, 5, 6]})
        ),
        Ok(json!(true))
    );
}

#[test]
fn corpus_array_get_item_length_unique() {
    assert_eq!(
        fi(
            "States.ArrayGetItem($.FunctionInput.fst, $.FunctionInput.snd)",
            json!([1, 2, 3, 4, 5, 6, 7, 8, 9]),
            json!(5)
        ),
        Ok(json!(6))
    );
    assert!(run("States.ArrayGetItem($.a, 3)", json!({"a": [1]})).is_err());
    assert!(run("States.ArrayGetItem($.a, -1)", json!({"a": [1]})).is_err());
    let mixed = json!([null, null, true, true, false, false, 1, 1, 1.1, 0, 0, "HelloWorld", "HelloWorld", [], [], [null], [null], {"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1, "b": 1}]);
    assert_eq!(
        run(
            "States.ArrayLength($.FunctionInput)",
            json!({ "FunctionInput": mixed.clone() })
        ),
        Ok(json!(20))
    );
    assert_eq!(
        run(
            "States.ArrayUnique($.FunctionInput)",
            json!({ "FunctionInput": mixed })
        ),
        Ok(
            json!([null, true, false, 1, 1.1, 0, "HelloWorld", [], [null], {"a": 1, "b": 2}, {"a": 1, "b": 1}])
        )
    );
    assert_eq!(
        run("States.ArrayUnique($.d)", json!({"d": [1, 2, 2, 3, 3, 4]})),
        Ok(json!([1, 2, 3, 4]))
    );
    assert_eq!(
        run("States.ArrayLength($.a)", json!({"a": [1, 2, 3, 4, 5, 6]})),
        Ok(json!(6))
    );
    assert!(matches!(
        run("States.ArrayLength($.a)", json!({"a": "x"})),
        Err(IntrinsicError::ArgumentType { .. })
    ));
}

#[test]
fn corpus_array_partition() {
    let p = "States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)";
    for (array, size, expected) in [
        (json!([]), 1, json!([])),
        (json!([]), 3, json!([])),
        (json!([]), 4, json!([])),
        (json!([0]), 3, json!([[0]])),
        (json!([0]), 4, json!([[0]])),
        (json!([0]), 5, json!([[0]])),
        (json!([0, 1]), 3, json!([[0, 1]])),
        (json!([0, 1]), 4, json!([[0, 1]])),
        (json!([0, 1, 2]), 1, json!([[0], [1], [2]])),
        (json!([0, 1, 2]), 3, json!([[0, 1, 2]])),
        (json!([0, 1, 2]), 4, json!([[0, 1, 2]])),
        (json!([0, 1, 2, 3]), 1, json!([[0], [1], [2], [3]])),
        (json!([0, 1, 2, 3]), 2, json!([[0, 1], [2, 3]])),
        (json!([0, 1, 2, 3]), 4, json!([[0, 1, 2, 3]])),
    ] {
        assert_eq!(
            fi(p, array.clone(), json!(size)),
            Ok(expected),
            "{array} / {size}"
        );
    }
    assert_eq!(
        run(
            "States.ArrayPartition($.a, 2)",
            json!({"a": [1, 2, 3, 4, 5, 6]})
        ),
        Ok(json!([[1, 2], [3, 4], [5, 6]]))
    );
    assert!(run("States.ArrayPartition($.a, 0)", json!({"a": [1]})).is_err());
    assert!(run("States.ArrayPartition($.a, -1)", json!({"a": [1]})).is_err());
    assert!(run("States.ArrayPartition($.a, 1.5)", json!({"a": [1]})).is_err());
}

#[test]
fn corpus_array_range() {
    let r = "States.ArrayRange($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)";
    let rr =
        |a: i64, b: i64, c: i64| run(r, json!({"FunctionInput": {"fst": a, "snd": b, "trd": c}}));
    assert_eq!(rr(0, 10, 3), Ok(json!([0, 3, 6, 9])));
    assert_eq!(rr(1, 9, 2), Ok(json!([1, 3, 5, 7, 9])));
    assert_eq!(rr(0, 9, 3), Ok(json!([0, 3, 6, 9])));
    assert_eq!(rr(1, 9, 9), Ok(json!([1])));
    assert_eq!(rr(5, 1, -2), Ok(json!([5, 3, 1])));
    assert_eq!(rr(5, 5, 1), Ok(json!([5])));
    assert_eq!(rr(5, 1, 1), Ok(json!([])));
    assert_eq!(
        run("States.ArrayRange(0, 3, 1)", json!({})),
        Ok(json!([0, 1, 2, 3]))
    );
    assert_eq!(
        run("States.ArrayRange(1, 10, 2)", json!({})),
        Ok(json!([1, 3, 5, 7, 9]))
    );
    assert_eq!(
        run("States.ArrayRange(1, 1000, 1)", json!({})).map(|v| v.as_array().map(Vec::len)),
        Ok(Some(1000))
    );
    assert!(
        run("States.ArrayRange(0, 1000, 1)", json!({})).is_err(),
        "1001 items"
    );
    assert!(run("States.ArrayRange(0, 10, 0)", json!({})).is_err());
    assert!(run("States.ArrayRange(0, 10.5, 1)", json!({})).is_err());
    assert!(run("States.ArrayRange('0', 10, 1)", json!({})).is_err());
    assert!(
        run(
            "States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)",
            json!({})
        )
        .is_err()
    );
}

#[test]
fn corpus_base64() {
    let e = |s: &str| {
        run(
            "States.Base64Encode($.FunctionInput)",
            json!({ "FunctionInput": s }),
        )
    };
    assert_eq!(e(""), Ok(json!("")));
    assert_eq!(e("Data to encode"), Ok(json!("RGF0YSB0byBlbmNvZGU=")));
    assert_eq!(e("Hello World"), Ok(json!("SGVsbG8gV29ybGQ=")));
    let d = |s: &str| {
        run(
            "States.Base64Decode($.FunctionInput)",
            json!({ "FunctionInput": s }),
        )
    };
    assert_eq!(d("SGVsbG8gV29ybGQ="), Ok(json!("Hello World")));
    assert_eq!(d("RGF0YSB0byBlbmNvZGU="), Ok(json!("Data to encode")));
    assert_eq!(
        d("SGVsbG8gV29ybGQ"),
        Ok(json!("Hello World")),
        "padding is optional"
    );
    assert_eq!(d(""), Ok(json!("")));
    assert!(d("not base64!").is_err());
    assert!(e(&"a".repeat(10_001)).is_err());
    assert!(e(&"a".repeat(10_000)).is_ok());
    assert!(d(&"A".repeat(10_004)).is_err());
    assert!(run("States.Base64Encode($.n)", json!({"n": 1})).is_err());
}

#[test]
fn corpus_hash() {
    let h = |alg: &str| {
        fi(
            "States.Hash($.FunctionInput.fst, $.FunctionInput.snd)",
            json!("input data"),
            json!(alg),
        )
    };
    assert_eq!(h("MD5"), Ok(json!("812f45842bc6d66ee14572ce20db8e86")));
    assert_eq!(
        h("SHA-1"),
        Ok(json!("aaff4a450a104cd177d28d18d74485e8cae074b7"))
    );
    assert_eq!(
        h("SHA-256"),
        Ok(json!(
            "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"
        ))
    );
    assert_eq!(
        h("SHA-384"),
        Ok(json!(
            "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562"
        ))
    );
    assert_eq!(
        h("SHA-512"),
        Ok(json!(
            "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4"
        ))
    );
    assert_eq!(
        run(
            "States.Hash($.s, 'SHA-256')",
            json!({"s": "Hash this string"})
        ),
        Ok(json!(
            "1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e"
        ))
    );
    assert!(h("sha-256").is_err());
    assert!(h("SHA-224").is_err());
    assert!(
        run(
            "States.Hash($.s, 'MD5')",
            json!({ "s": "x".repeat(10_001) })
        )
        .is_err()
    );
}

#[test]
fn corpus_json_to_string() {
    let j = |v: Value| {
        run(
            "States.JsonToString($.FunctionInput)",
            json!({ "FunctionInput": v }),
        )
    };
    assert_eq!(j(Value::Null), Ok(json!("null")));
    assert_eq!(j(json!(1)), Ok(json!("1")));
    assert_eq!(j(json!(1.1)), Ok(json!("1.1")));
    assert_eq!(j(json!(true)), Ok(json!("true")));
    assert_eq!(j(json!("HelloWorld")), Ok(json!("\"HelloWorld\"")));
    assert_eq!(
        j(json!([1, 2, "HelloWorld"])),
        Ok(json!("[1,2,\"HelloWorld\"]"))
    );
    assert_eq!(
        j(json!({"Arg1": 1, "Arg2": []})),
        Ok(json!("{\"Arg1\":1,\"Arg2\":[]}"))
    );
    assert_eq!(
        j(json!({"test": "object"})),
        Ok(json!("{\"test\":\"object\"}"))
    );
}

#[test]
fn corpus_string_to_json() {
    let s = |v: &str| {
        run(
            "States.StringToJson($.FunctionInput)",
            json!({ "FunctionInput": v }),
        )
    };
    assert_eq!(s(" "), Ok(Value::Null));
    assert_eq!(s(""), Ok(Value::Null));
    assert_eq!(s("-0"), Ok(json!(0)));
    assert_eq!(s("true"), Ok(json!(true)));
    assert_eq!(s("\"HelloWorld\""), Ok(json!("HelloWorld")));
    assert_eq!(s("[1, 2, \"HelloWorld\"]"), Ok(json!([1, 2, "HelloWorld"])));
    assert_eq!(
        s("{\"Arg1\": 1, \"Arg2\": []}"),
        Ok(json!({"Arg1": 1, "Arg2": []}))
    );
    assert_eq!(s("{\"key\":\"value\"}"), Ok(json!({"key": "value"})));
    assert!(matches!(
        s("HelloWorld"),
        Err(IntrinsicError::Runtime { .. })
    ));
    assert!(s("{\"a\":").is_err());
    assert!(run("States.StringToJson($.n)", json!({"n": 1})).is_err());
}

#[test]
fn corpus_json_merge() {
    let input = json!({"json1": {"a": 1, "b": 2}, "json2": {"c": 3, "d": 4}});
    assert_eq!(
        run("States.JsonMerge($.json1, $.json2, false)", input.clone()),
        Ok(json!({"a": 1, "b": 2, "c": 3, "d": 4}))
    );
    let shallow = json!({"x": {"a": {"k": 1}, "b": 1}, "y": {"a": {"j": 2}, "c": 3}});
    let merged = run("States.JsonMerge($.x, $.y, false)", shallow).expect("merges");
    assert_eq!(merged, json!({"a": {"j": 2}, "b": 1, "c": 3}));
    let keys: Vec<&String> = merged
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["a", "b", "c"], "existing keys keep their position");
    assert!(run("States.JsonMerge($.json1, $.json2, true)", input.clone()).is_err());
    assert!(run("States.JsonMerge($.json1, $.json2, 'false')", input.clone()).is_err());
    assert!(run("States.JsonMerge($.json1, 1, false)", input).is_err());
}

#[test]
fn corpus_math_add() {
    let add = |a: Value, b: Value| {
        fi(
            "States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)",
            a,
            b,
        )
    };
    for (a, b, expected) in [
        (json!(-9), json!(3), -6),
        (json!(1.49), json!(1.50), 3),
        (json!(1.5), json!(1.51), 4),
        (json!(-1.49), json!(-1.5), -2),
        (json!(-1.5), json!(-1.51), -3),
        (json!(1.49), json!(0), 1),
        (json!(1.49), json!(-1.49), 0),
        (json!(1.5), json!(0), 2),
        (json!(1.51), json!(0), 2),
        (json!(-1.49), json!(0), -1),
        (json!(-1.5), json!(0), -1),
        (json!(-1.51), json!(0), -2),
        (json!(0.5), json!(0), 1),
        (json!(2.5), json!(0), 3),
        (json!(3.5), json!(0), 4),
        (json!(-0.5), json!(0.5), 1),
        (json!(-0.5), json!(0), 0),
        (json!(-2.5), json!(0), -2),
        (json!(-3.5), json!(0), -3),
    ] {
        assert_eq!(add(a.clone(), b.clone()), Ok(json!(expected)), "{a} + {b}");
    }
    assert_eq!(
        run("States.MathAdd($.v, -1)", json!({"v": 1})),
        Ok(json!(0))
    );
    let mut env = TestEnv::new(json!({}));
    for (name, v) in [("y", 9), ("x", 44), ("z", 6), ("b", 0)] {
        env.vars.insert(name.into(), json!(v));
    }
    let sum = Intrinsic::parse("States.MathAdd(States.MathAdd(States.MathAdd($y, $x), $z), $b)")
        .expect("parses");
    assert_eq!(sum.eval(&mut env), Ok(json!(59)));
    assert!(add(json!("1"), json!(1)).is_err());
    assert!(add(json!(3_000_000_000_i64), json!(1)).is_err());
}

#[test]
fn corpus_math_random() {
    let r = |a: Value, b: Value| {
        fi(
            "States.MathRandom($.FunctionInput.fst, $.FunctionInput.snd)",
            a,
            b,
        )
    };
    for (a, b, lo, hi) in [
        (json!(12.5), json!(44.51), 13, 45),
        (json!(9999), json!(99999), 9999, 99999),
        (json!(-99999), json!(-9999), -99999, -9999),
    ] {
        for _ in 0..20 {
            let v = r(a.clone(), b.clone())
                .expect("random")
                .as_i64()
                .expect("integer");
            assert!((lo..hi).contains(&v), "{v} in [{lo}, {hi})");
        }
    }
    let seeded = run(
        "States.MathRandom($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)",
        json!({"FunctionInput": {"fst": 0, "snd": 999, "trd": 3}}),
    );
    let again = run("States.MathRandom(0, 999, 3)", json!({}));
    assert_eq!(seeded, again, "a seed gives a stable result");
    let v = seeded.expect("seeded").as_i64().expect("integer");
    assert!((0..999).contains(&v));
    assert!(r(json!(5), json!(5)).is_err());
    assert!(r(json!("a"), json!(5)).is_err());
}

#[test]
fn java_random_matches_reference_values() {
    // Well-known values: new Random(42).nextInt() and new Random(0).nextInt().
    assert_eq!(JavaRandom::new(42).next(32), -1_170_105_035);
    assert_eq!(JavaRandom::new(0).next(32), -1_155_484_576);
    // nextInt(bound) derives from next(31): 1562431130 for seed 42.
    assert_eq!(JavaRandom::new(42).next_int(100), 1_562_431_130 % 100);
    assert_eq!(
        JavaRandom::new(42).next_int(16),
        ((16_i64 * 1_562_431_130) >> 31) as i32
    );
}

#[test]
fn corpus_string_split() {
    let s = |a: &str, b: &str| {
        fi(
            "States.StringSplit($.FunctionInput.fst, $.FunctionInput.snd)",
            json!(a),
            json!(b),
        )
    };
    assert_eq!(s(" , ", ","), Ok(json!([" ", " "])));
    assert_eq!(s(", , ,", ","), Ok(json!([" ", " "])));
    assert_eq!(s("1,2,3,4,5", ","), Ok(json!(["1", "2", "3", "4", "5"])));
    assert_eq!(
        s("This.is+a,test=string", ".+,="),
        Ok(json!(["This", "is", "a", "test", "string"]))
    );
    assert_eq!(s("", ","), Ok(json!([])));
    assert_eq!(s("abc", ""), Ok(json!(["abc"])));
    assert_eq!(
        run("States.StringSplit('Hello\nWorld', '\n')", json!({})),
        Ok(json!(["Hello", "World"]))
    );
    assert_eq!(
        run(
            "States.StringSplit($.csv, ',')",
            json!({"csv": "a,b,c,d,e"})
        ),
        Ok(json!(["a", "b", "c", "d", "e"]))
    );
}

#[test]
fn uuid_is_v4_and_deterministic() {
    let a = run("States.UUID()", json!({})).expect("uuid");
    let b = run("States.UUID()", json!({})).expect("uuid");
    assert_eq!(a, b, "same injected randomness, same uuid");
    let text = a.as_str().expect("string");
    let parsed = uuid::Uuid::parse_str(text).expect("valid uuid");
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(text, text.to_lowercase());
    assert_eq!(text.len(), 36);
}

#[test]
fn corpus_nested_calls() {
    let call = Intrinsic::parse(
        "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
    )
    .expect("parses");
    assert_eq!(call.paths().len(), 2);
    assert_eq!(call.eval(&mut TestEnv::new(json!({}))), Ok(json!("name")));
    let docs = Intrinsic::parse(
        "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))",
    )
    .expect("parses");
    let input = json!({"ImageRecipe": {"Arn": "arn:aws:imagebuilder:us-east-1:1:image-recipe/my.recipe.v/1.0.0"}});
    assert_eq!(docs.eval(&mut TestEnv::new(input)), Ok(json!("1.0")));
}

#[test]
fn variables_and_paths() {
    let mut env = TestEnv::new(json!({}));
    env.vars.insert("name".into(), json!("John"));
    env.vars.insert("obj".into(), json!({"x": [1, 2]}));
    let call = Intrinsic::parse("States.Format('Hello {}, {}', $name, $obj.x[1])").expect("parses");
    assert_eq!(call.eval(&mut env), Ok(json!("Hello John, 2")));
    let paths: Vec<&str> = call.paths().iter().map(|p| p.text()).collect();
    assert_eq!(paths, ["$name", "$obj.x[1]"]);
    let call = Intrinsic::parse("States.Array($, $.a[?(@.b, 1)], $.c['x,)'])");
    assert!(call.is_err(), "invalid filter inside a path argument");
    let call = Intrinsic::parse("States.Array($.c['x,)'], $.a[0].length())").expect("parses");
    assert_eq!(
        call.eval(&mut TestEnv::new(json!({"c": {"x,)": 1}, "a": [[1, 2]]}))),
        Ok(json!([1, 2]))
    );
    let missing = Intrinsic::parse("States.Array($.nope)").expect("parses");
    let err = missing
        .eval(&mut TestEnv::new(json!({})))
        .expect_err("missing path");
    assert!(matches!(
        err,
        IntrinsicError::Path(PathError::NoMatch { .. })
    ));
}

#[test]
fn parse_errors() {
    for (text, what) in [
        ("States.Nope()", "unknown"),
        ("States.MathAdd(1)", "arity"),
        ("States.UUID(1)", "arity"),
        ("States.JsonMerge($.a, $.b)", "arity"),
        ("States.Format()", "arity"),
        ("States.MathRandom(1, 2, 3, 4)", "arity"),
        ("States.Format('x'", "syntax"),
        ("States.Format('x) ", "syntax"),
        ("States.Format('x') extra", "syntax"),
        ("States.Format(x)", "syntax"),
        ("States.Format(, 'x')", "syntax"),
        ("States.Format('x',)", "syntax"),
        ("States.Array(1 2)", "syntax"),
        ("States.Array(--1)", "syntax"),
        ("States.Array($.a b)", "syntax"),
        ("States.Array(truex)", "syntax"),
        ("$.a", "syntax"),
        ("", "syntax"),
        ("States.Format('\\", "syntax"),
    ] {
        let err = Intrinsic::parse(text).expect_err(text);
        let ok = match what {
            "unknown" => matches!(err, IntrinsicError::UnknownFunction { .. }),
            "arity" => matches!(err, IntrinsicError::Arity { .. }),
            _ => matches!(err, IntrinsicError::Syntax { .. }),
        };
        assert!(ok, "{text}: {err:?}");
    }
    assert!(Intrinsic::parse("  States.Array( 1 ,\t'a' , $ )  ").is_ok());
    assert_eq!(
        Intrinsic::parse("States.Array(1.5e3, -0, 10)")
            .expect("parses")
            .eval(&mut TestEnv::new(json!({}))),
        Ok(json!([1500.0, 0, 10]))
    );
}

#[test]
fn nesting_limit() {
    let handle = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(|| {
            let nested = |n: usize| format!("{}1{}", "States.Array(".repeat(n), ")".repeat(n));
            let ok = Intrinsic::parse(&nested(MAX_NESTING)).expect("at the limit");
            let mut value = ok.eval(&mut TestEnv::new(json!({}))).expect("evaluates");
            let mut depth = 0;
            while let Value::Array(mut items) = value {
                depth += 1;
                value = items.pop().unwrap_or(Value::Null);
            }
            assert_eq!(depth, MAX_NESTING);
            assert!(matches!(
                Intrinsic::parse(&nested(MAX_NESTING + 1)),
                Err(IntrinsicError::Syntax { .. })
            ));
            assert!(Intrinsic::parse(&nested(100_000)).is_err());
        })
        .expect("spawn test thread");
    handle.join().expect("no overflow or panic");

    // Deep values are rendered without recursion (built by hand: `json!` recurses).
    let mut deep = json!(1);
    for _ in 0..100_000 {
        deep = Value::Array(vec![deep]);
    }
    let mut out = String::new();
    render_java(&deep, &mut out);
    assert_eq!(out.len(), 200_001);
    let mut stack = vec![deep];
    while let Some(v) = stack.pop() {
        if let Value::Array(items) = v {
            stack.extend(items);
        }
    }
}

#[test]
fn junk_never_panics() {
    let alphabet: Vec<char> =
        "States.FormatArayUUIDHsh()'\\{},$@.[]?0123456789- truefalsn\u{e9}\u{1F600}"
            .chars()
            .collect();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 40) as usize;
        let mut s = String::from(if i % 2 == 0 { "States." } else { "" });
        let mut x = seed;
        for _ in 0..len {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            s.push(alphabet[(x >> 33) as usize % alphabet.len()]);
        }
        let _ = Intrinsic::looks_like_call(&s);
        if let Ok(call) = Intrinsic::parse(&s) {
            let _ = call.paths();
            let _ = call.eval(&mut TestEnv::new(json!({"a": [1, "x"], "b": {"c": 2}})));
        }
    }
    let _ = Intrinsic::parse(&String::from_utf8_lossy(b"States.Format('\xff\xfe')"));
}
