//! Tests of JSONPath parsing, selection and assignment.

use super::*;
use serde_json::json;

fn p(text: &str) -> Path {
    Path::parse(text).expect("test path parses")
}

fn sel(text: &str, doc: &Value) -> Result<Value, PathError> {
    p(text).select(doc)
}

fn store() -> Value {
    json!({
        "store": {
            "book": [
                {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
                {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99},
                {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick", "isbn": "0-553", "price": 8.99},
                {"category": "fiction", "author": "J. R. R. Tolkien", "title": "LOTR", "isbn": "0-395", "price": 22.99}
            ],
            "bicycle": {"color": "red", "price": 19.95}
        },
        "expensive": 10
    })
}

#[test]
fn roots() {
    assert_eq!(p("$").root(), &Root::Input);
    assert!(p("$").is_root());
    assert_eq!(p("$$").root(), &Root::Context);
    assert_eq!(p("$$.Execution.Id").root(), &Root::Context);
    assert_eq!(p("$var").root(), &Root::Variable("var".into()));
    assert!(p("$var").is_root());
    assert_eq!(p("$x.a[0]").root(), &Root::Variable("x".into()));
    assert_eq!(p("$my_var2").root(), &Root::Variable("my_var2".into()));
    assert_eq!(p("$.a").text(), "$.a");
}

#[test]
fn invalid_paths_from_validation_corpus() {
    for bad in [
        ".guid",
        "..guid",
        "()",
        "$...",
        "bug$.library.movies",
        "not a path",
        "ipsum",
        "",
        "$.",
        "$..",
        "$[",
        "$['a'",
        "$[?(@.a]",
        "$.a b",
        "$[:]",
        "$$$",
        "$.a.length().b",
        "$[1,]",
        "$.foo()",
    ] {
        assert!(Path::parse(bad).is_err(), "{bad:?} should not parse");
    }
}

#[test]
fn definiteness() {
    for d in [
        "$",
        "$.a",
        "$['a']",
        "$[\"a\"]",
        "$.a[0]",
        "$.books[-2]",
        "$$.Map.Item.Value",
        "$v.a[1].b",
    ] {
        assert!(p(d).is_definite(), "{d} is definite");
    }
    for i in [
        "$[*]",
        "$.*",
        "$..a",
        "$[0,1]",
        "$['a','b']",
        "$[1:]",
        "$[?(@.a)]",
        "$.a.length()",
    ] {
        assert!(!p(i).is_definite(), "{i} is indefinite");
    }
}

#[test]
fn get_borrows() {
    let doc = json!({"a": {"b": [1, 2, {"c": true}]}});
    let path = p("$.a.b[2].c");
    let got = path.get(&doc).expect("present");
    assert!(std::ptr::eq(got, &doc["a"]["b"][2]["c"]));
    assert_eq!(p("$.a.b[-1].c").get(&doc), Some(&json!(true)));
    assert_eq!(p("$.a.x").get(&doc), None);
    assert_eq!(p("$.a.b[9]").get(&doc), None);
    assert_eq!(p("$.a.b[-9]").get(&doc), None);
    assert_eq!(p("$.a.b[*]").get(&doc), None);
    assert_eq!(p("$").get(&doc), Some(&doc));
}

#[test]
fn corpus_array_access() {
    let items: Vec<Value> = (0..=10).map(|i| json!({"item_key": i})).collect();
    let doc = json!({ "items": items });
    assert_eq!(sel("$.items[10]", &doc), Ok(json!({"item_key": 10})));
    let empty = json!({});
    for path in [
        "$.item.items[*]",
        "$.item.items[1:5].itemValue",
        "$.item.items[1:5]",
        "$.item.items[1:]",
        "$.items[1:].itemValue",
        "$.items[1:]",
        "$.items[:1].itemValue",
        "$[*]",
    ] {
        assert_eq!(sel(path, &empty), Ok(json!([])), "{path}");
    }
}

#[test]
fn corpus_error_messages() {
    let doc = json!({"int-literal": 0});
    let err = sel("$.NoSuchOutputPath", &doc).expect_err("missing");
    assert_eq!(
        err.to_string(),
        "No results for path: $['NoSuchOutputPath']"
    );
    assert!(matches!(err, PathError::NoMatch { .. }));
    let err = sel("$.no.such.result.path", &json!({})).expect_err("missing");
    assert_eq!(err.to_string(), "Missing property in path $['no']");
    let err = sel("$.a[3]", &json!({"a": [1]})).expect_err("out of bounds");
    assert_eq!(err.to_string(), "No results for path: $['a'][3]");
    let err = sel("$.a.b", &json!({"a": 5})).expect_err("not an object");
    assert!(err.to_string().starts_with(
        "Expected to find an object with property ['b'] in path $['a'] but found 'java.lang.Integer'"
    ));
}

#[test]
fn corpus_escape_sequence_bracket_name() {
    // ESCAPE_SEQUENCES_JSONPATH: the backslash is kept verbatim in the key.
    let doc = json!({"Test\\\"\"Name\"": "Value\"\\"});
    assert_eq!(sel("$['Test\\\"\"Name\"']", &doc), Ok(json!("Value\"\\")));
}

#[test]
fn names_and_indexes() {
    let doc = json!({"a-b": 1, "a b": 2, "x": [10, 20, 30, 40, 50]});
    assert_eq!(sel("$.a-b", &doc), Ok(json!(1)));
    assert_eq!(sel("$['a b']", &doc), Ok(json!(2)));
    assert_eq!(sel("$[\"a b\"]", &doc), Ok(json!(2)));
    assert_eq!(sel("$.['a b']", &doc), Ok(json!(2)));
    assert_eq!(sel("$.x[-1]", &doc), Ok(json!(50)));
    assert_eq!(sel("$.x[0,2,9]", &doc), Ok(json!([10, 30])));
    assert_eq!(sel("$.x[ 1 ]", &doc), Ok(json!(20)));
    // Jayway merges a trailing name union into one object.
    assert_eq!(
        sel("$['a-b','zz','a b']", &doc),
        Ok(json!({"a-b": 1, "a b": 2}))
    );
}

#[test]
fn slices_follow_jayway() {
    let doc = json!([0, 1, 2, 3, 4]);
    assert_eq!(sel("$[1:3]", &doc), Ok(json!([1, 2])));
    assert_eq!(sel("$[:2]", &doc), Ok(json!([0, 1])));
    assert_eq!(sel("$[-2:]", &doc), Ok(json!([3, 4])));
    assert_eq!(sel("$[:-2]", &doc), Ok(json!([0, 1, 2])));
    assert_eq!(sel("$[3:99]", &doc), Ok(json!([3, 4])));
    assert_eq!(sel("$[-2:1]", &doc), Ok(json!([3, 4, 0])));
    // Jayway ignores a step.
    assert_eq!(sel("$[0:4:2]", &doc), Ok(json!([0, 1, 2, 3])));
    assert_eq!(sel("$[4:1]", &doc), Ok(json!([])));
}

#[test]
fn wildcards_and_descent() {
    let doc = store();
    assert_eq!(
        sel("$.store.book[*].author", &doc),
        Ok(json!([
            "Nigel Rees",
            "Evelyn Waugh",
            "Herman Melville",
            "J. R. R. Tolkien"
        ]))
    );
    assert_eq!(
        sel("$..price", &doc),
        Ok(json!([8.95, 12.99, 8.99, 22.99, 19.95]))
    );
    assert_eq!(
        sel("$.store.*", &doc).map(|v| v.as_array().map(Vec::len)),
        Ok(Some(2))
    );
    assert_eq!(sel("$..book[2].title", &doc), Ok(json!(["Moby Dick"])));
    assert_eq!(sel("$..book[-1:].title", &doc), Ok(json!(["LOTR"])));
    assert_eq!(sel("$.store.bicycle.*", &doc), Ok(json!(["red", 19.95])));
    let nested = json!({"a": {"a": {"a": 1}}});
    assert_eq!(
        sel("$..a", &nested),
        Ok(json!([{"a": {"a": 1}}, {"a": 1}, 1]))
    );
}

#[test]
fn filters() {
    let doc = store();
    assert_eq!(
        sel("$.store.book[?(@.isbn)].title", &doc),
        Ok(json!(["Moby Dick", "LOTR"]))
    );
    assert_eq!(
        sel("$.store.book[?(@.price < 10)].title", &doc),
        Ok(json!(["Sayings", "Moby Dick"]))
    );
    assert_eq!(
        sel("$.store.book[?(@.price <= $.expensive)].title", &doc),
        Ok(json!(["Sayings", "Moby Dick"]))
    );
    assert_eq!(
        sel(
            "$..book[?(@.category == 'fiction' && @.price > 20)].title",
            &doc
        ),
        Ok(json!(["LOTR"]))
    );
    assert_eq!(
        sel(
            "$..book[?(@.price > 20 || @.category == \"reference\")].title",
            &doc
        ),
        Ok(json!(["Sayings", "LOTR"]))
    );
    assert_eq!(
        sel("$..book[?(!@.isbn)].title", &doc),
        Ok(json!(["Sayings", "Sword"]))
    );
    assert_eq!(
        sel("$..book[?(@.author =~ /.*REES/i)].title", &doc),
        Ok(json!(["Sayings"]))
    );
    assert_eq!(
        sel("$..book[?(@.author =~ /Rees/)].title", &doc),
        Ok(json!([])),
        "Java matches() anchors the whole input"
    );
    assert_eq!(
        sel("$..book[?(@.title in ['LOTR', 'Sword'])].price", &doc),
        Ok(json!([12.99, 22.99]))
    );
    assert_eq!(
        sel("$..book[?(@.category nin ['fiction'])].price", &doc),
        Ok(json!([8.95]))
    );
    assert_eq!(
        sel("$..book[?(@.category != 'fiction')].price", &doc),
        Ok(json!([8.95]))
    );
    assert_eq!(
        sel("$..book[?((@.price > 9) && !(@.price > 20))].title", &doc),
        Ok(json!(["Sword"]))
    );
    let nums = json!([{"v": 1}, {"v": 1.0}, {"v": "1"}, {"v": true}, {"v": null}, {}]);
    assert_eq!(sel("$[?(@.v == 1)].v", &nums), Ok(json!([1, 1.0, "1"])));
    assert_eq!(sel("$[?(@.v == null)]", &nums), Ok(json!([{"v": null}])));
    assert_eq!(sel("$[?(@.v == true)]", &nums), Ok(json!([{"v": true}])));
    assert_eq!(
        sel("$[?(@.v)]", &nums).map(|v| v.as_array().map(Vec::len)),
        Ok(Some(5))
    );
    let tags = json!([{"t": [1, 2]}, {"t": []}, {"t": "ab"}]);
    assert_eq!(
        sel("$[?(@.t size 2)]", &tags),
        Ok(json!([{"t": [1, 2]}, {"t": "ab"}]))
    );
    assert_eq!(sel("$[?(@.t empty true)]", &tags), Ok(json!([{"t": []}])));
    assert_eq!(
        sel("$[?(@.t contains 2)]", &tags),
        Ok(json!([{"t": [1, 2]}]))
    );
    assert_eq!(
        sel("$[?(@.t anyof [2, 9])]", &tags),
        Ok(json!([{"t": [1, 2]}]))
    );
    assert_eq!(
        sel("$[?(@.t subsetof [1, 2, 3])]", &tags),
        Ok(json!([{"t": [1, 2]}, {"t": []}]))
    );
    assert_eq!(
        sel("$[?(@.t.length() == 2)]", &tags),
        Ok(json!([{"t": [1, 2]}]))
    );
    // A filter on an object tests the object itself.
    assert_eq!(
        sel("$.a[?(@.b == 1)]", &json!({"a": {"b": 1}})),
        Ok(json!([{"b": 1}]))
    );
}

#[test]
fn functions() {
    let doc = json!({"n": [1, 2, 3, 4], "o": {"x": 1, "y": 2}, "s": "abc"});
    assert_eq!(sel("$.n.length()", &doc), Ok(json!(4)));
    assert_eq!(sel("$.o.length()", &doc), Ok(json!(2)));
    assert_eq!(sel("$.s.length()", &doc), Ok(Value::Null));
    assert_eq!(sel("$.n.sum()", &doc), Ok(json!(10.0)));
    assert_eq!(sel("$.n.min()", &doc), Ok(json!(1.0)));
    assert_eq!(sel("$.n.max()", &doc), Ok(json!(4.0)));
    assert_eq!(sel("$.n.avg()", &doc), Ok(json!(2.5)));
    assert_eq!(sel("$.o.keys()", &doc), Ok(json!(["x", "y"])));
    assert_eq!(sel("$.n.first()", &doc), Ok(json!(1)));
    assert_eq!(sel("$.n.last()", &doc), Ok(json!(4)));
    assert_eq!(sel("$.n.index(-2)", &doc), Ok(json!(3)));
    assert!(sel("$.o.sum()", &doc).is_err());
    assert_eq!(
        sel("$.n.stddev()", &json!({"n": [2, 4, 4, 4, 5, 5, 7, 9]})),
        Ok(json!(2.0))
    );
}

#[test]
fn assign_result_path() {
    let mut doc = json!({"a": 1});
    p("$.b.c").assign(&mut doc, json!(2)).expect("assignable");
    assert_eq!(doc, json!({"a": 1, "b": {"c": 2}}));
    p("$.a").assign(&mut doc, json!("x")).expect("assignable");
    assert_eq!(doc, json!({"a": "x", "b": {"c": 2}}));
    p("$").assign(&mut doc, json!([1])).expect("root");
    assert_eq!(doc, json!([1]));
    p("$[0]")
        .assign(&mut doc, json!(5))
        .expect("existing index");
    assert_eq!(doc, json!([5]));

    let mut doc = json!({"a": "str"});
    let err = p("$.a.b.c")
        .assign(&mut doc, json!(1))
        .expect_err("not an object");
    assert!(err.to_string().contains("$.a.b.c"), "{err}");
    assert_eq!(
        doc,
        json!({"a": "str"}),
        "failed assignment leaves target untouched"
    );
    let mut doc = json!({"a": {}});
    assert!(p("$.a[0]").assign(&mut doc, json!(1)).is_err());
    assert!(p("$.a[*]").assign(&mut doc, json!(1)).is_err());
    let mut doc = json!("scalar");
    assert!(p("$.x").assign(&mut doc, json!(1)).is_err());
}

#[test]
fn context_and_variable_documents() {
    let ctx = json!({"Execution": {"Id": "arn"}, "Map": {"Item": {"Value": {"innerJobs": [1]}}}});
    assert_eq!(sel("$$.Execution.Id", &ctx), Ok(json!("arn")));
    assert_eq!(sel("$$.Map.Item.Value.innerJobs", &ctx), Ok(json!([1])));
    assert_eq!(sel("$var.x", &json!({"x": 3})), Ok(json!(3)));
}

#[test]
fn java_number_formatting() {
    assert_eq!(java_double(1.1), "1.1");
    assert_eq!(java_double(2.0), "2.0");
    assert_eq!(java_double(1e7), "1.0E7");
    assert_eq!(java_double(1.5e-4), "1.5E-4");
    assert_eq!(java_double(-0.001), "-0.001");
    assert_eq!(java_double(12345678.9), "1.23456789E7");
    assert_eq!(
        to_compact_json(&json!({"a": [1, 2.5, "x\"\u{1}"]})),
        "{\"a\":[1,2.5,\"x\\\"\\u0001\"]}"
    );
}

/// Runs `f` on a thread with a deliberately small stack to prove the depth limits leave headroom.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(f)
        .expect("spawn test thread")
        .join()
        .expect("no overflow or panic");
}

#[test]
fn deep_nesting_is_rejected_not_overflowed() {
    on_small_stack(|| {
        let parens = |n: usize| format!("$[?({}@.a{})]", "(".repeat(n), ")".repeat(n));
        assert!(Path::parse(&parens(MAX_DEPTH - 2)).is_ok());
        assert!(Path::parse(&parens(MAX_DEPTH + 1)).is_err());
        assert!(Path::parse(&parens(10_000)).is_err());
        let nots = |n: usize| format!("$[?({}@.a)]", "!".repeat(n));
        assert!(Path::parse(&nots(MAX_DEPTH - 2)).is_ok());
        assert!(Path::parse(&nots(10_000)).is_err());
        let lists = |n: usize| format!("$[?(@.a in {}1{})]", "[".repeat(n), "]".repeat(n));
        assert!(Path::parse(&lists(MAX_DEPTH - 2)).is_ok());
        assert!(Path::parse(&lists(10_000)).is_err());
        let filters = |n: usize| format!("$.x{}{}", "[?(@.y".repeat(n), ")]".repeat(n));
        let deepest_ok = (1..MAX_DEPTH)
            .take_while(|n| Path::parse(&filters(*n)).is_ok())
            .last();
        assert!(deepest_ok.is_some_and(|n| n >= 8), "{deepest_ok:?}");
        assert!(Path::parse(&filters(5_000)).is_err());
    });
}

#[test]
fn deep_documents_are_walked_without_recursion() {
    let mut doc = json!({"k": 1});
    for _ in 0..50_000 {
        // Not `json!`: it serializes its argument recursively.
        let mut map = Map::new();
        map.insert("a".into(), doc);
        doc = Value::Object(map);
    }
    assert_eq!(sel("$..k", &doc), Ok(json!([1])));
    assert_eq!(sel("$..[?(@.k == 1)].k", &doc), Ok(json!([1])));
    let listed = json!({"a": [{"k": 1}, {"k": 2, "b": [{"k": 1}]}]});
    assert_eq!(
        sel("$..[?(@.k == 1)]", &listed),
        Ok(json!([{"k": 1}, {"k": 1}]))
    );
    // Drop iteratively: serde_json's recursive Drop would overflow on this depth.
    let mut stack = vec![doc];
    while let Some(v) = stack.pop() {
        if let Value::Object(map) = v {
            stack.extend(map.into_iter().map(|(_, v)| v));
        }
    }
}

#[test]
fn junk_never_panics() {
    let alphabet: Vec<char> = "$@.[]()'\"?*,:-0123456789abc =!<>~&|/\\{}\u{e9}\u{1F600}\n"
        .chars()
        .collect();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let doc = store();
    for _ in 0..20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 24) as usize;
        let mut s = String::from(if seed.is_multiple_of(3) { "" } else { "$" });
        let mut x = seed;
        for _ in 0..len {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            s.push(alphabet[(x >> 33) as usize % alphabet.len()]);
        }
        if let Ok(path) = Path::parse(&s) {
            let _ = path.select(&doc);
            let _ = path.get(&doc);
            let mut target = doc.clone();
            let _ = path.assign(&mut target, json!(1));
        }
    }
    for bytes in [&[0xffu8, 0xfe][..], b"$\xc3", b"$['\xe2\x82"] {
        let s = String::from_utf8_lossy(bytes);
        let _ = Path::parse(&s);
    }
}

/// Whitespace around a path is ignored, as Jayway trims a path before compiling it; the text
/// as written is kept for messages.
#[test]
fn whitespace_around_a_path_is_ignored() {
    let doc = json!({"a": {"b": 1}});
    assert_eq!(sel("$.a.b ", &doc), Ok(json!(1)));
    assert_eq!(sel(" $.a.b\t", &doc), Ok(json!(1)));
    assert_eq!(p("$.a.b ").text(), "$.a.b ");
    // Blanks inside a dotted name are still an error.
    assert!(Path::parse("$.a b").is_err());
}

/// A bare word on a filter's right-hand side parses (AWS creates such definitions) but the path
/// fails every time it is evaluated, with the word named, instead of matching nothing silently.
#[test]
fn bare_word_filter_operand_fails_when_evaluated() {
    let doc = json!({"Labels": [{"Name": "Receipt"}]});
    let path = p("$.Labels[?(@.Name==Receipt)]");
    let error = path
        .select(&doc)
        .expect_err("a bare word cannot be evaluated");
    assert!(
        matches!(&error, PathError::Syntax { message, .. } if message.contains("'Receipt'")),
        "{error}"
    );
    assert_eq!(path.get(&doc), None);
    // The quoted form is the working one.
    assert_eq!(
        sel("$.Labels[?(@.Name=='Receipt')]", &doc),
        Ok(json!([{"Name": "Receipt"}]))
    );
    // Keywords are still values, and a missing operand is still a syntax error.
    assert!(sel("$.Labels[?(@.Name==null)]", &doc).is_ok());
    assert!(Path::parse("$.Labels[?(@.Name==)]").is_err());
}

/// Number literals in filters take BigDecimal's forms, as Jayway reads them.
#[test]
fn filter_numbers_may_start_or_end_with_a_point() {
    let doc = json!({"E": [{"Score": 0.9}, {"Score": 0.5}, {"Score": -0.7}]});
    assert_eq!(
        sel("$.E[?(@.Score > .85)]", &doc),
        Ok(json!([{"Score": 0.9}]))
    );
    assert_eq!(
        sel("$.E[?(@.Score < -.5)]", &doc),
        Ok(json!([{"Score": -0.7}]))
    );
    assert_eq!(sel("$.E[?(@.Score >= 1.)]", &doc), Ok(json!([])));
    assert!(Path::parse("$.E[?(@.Score > .)]").is_err());
    assert!(Path::parse("$.E[?(@.Score > 1..2)]").is_err());
}

/// A path ending in one '.' loads (AWS creates such definitions) and fails when evaluated;
/// '$.' and '..' at the end stay syntax errors.
#[test]
fn trailing_dot_fails_when_evaluated() {
    let doc = json!({"flag": {"Payload": true}});
    let path = p("$.flag.Payload.");
    let error = path.select(&doc).expect_err("not evaluable");
    assert!(error.to_string().contains("must not end with"), "{error}");
    assert_eq!(path.text(), "$.flag.Payload.");
    assert!(Path::parse("$.").is_err());
    assert!(Path::parse("$.a..").is_err());
}
