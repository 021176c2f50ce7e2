//! The functions AWS adds to JSONata: `$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`.

use std::cell::RefCell;
use std::rc::Rc;

use jsonata_core::evaluator::{Evaluator, EvaluatorError};
use jsonata_core::value::JValue;
use md5::Md5;
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::convert::to_jvalue;
use super::references::References;

/// Most items `$range` builds; the same ceiling JSONata puts on its own `..` operator.
const MAX_RANGE_ITEMS: f64 = 1e7;

/// Registers the Step Functions functions this expression mentions (and only those: each
/// registration allocates, and most expressions use none).
pub(super) fn register_extensions(
    evaluator: &mut Evaluator,
    refs: &References,
    rng: Option<Rc<RefCell<StdRng>>>,
) -> Result<(), EvaluatorError> {
    if refs.mentions("partition") {
        evaluator.register_fn("partition", partition)?;
    }
    if refs.mentions("range") {
        evaluator.register_fn("range", range)?;
    }
    if refs.mentions("hash") {
        evaluator.register_fn("hash", hash)?;
    }
    if refs.mentions("parse") {
        evaluator.register_fn("parse", parse)?;
    }
    if refs.mentions("eval") {
        // AWS leaves `$eval` out of its JSONata; calling it fails like any unknown function.
        evaluator.register_fn_override("eval", |_: &[JValue]| {
            Err(EvaluatorError::TypeError(
                "T1006: Attempted to invoke a non-function".to_owned(),
            ))
        })?;
    }
    if let Some(rng) = rng {
        let for_random = Rc::clone(&rng);
        evaluator
            .register_fn_override("random", move |args: &[JValue]| random(args, &for_random))?;
        evaluator.register_fn("uuid", move |args: &[JValue]| uuid(args, &rng))?;
    }
    Ok(())
}

fn arg(args: &[JValue], index: usize) -> JValue {
    args.get(index).cloned().unwrap_or(JValue::Undefined)
}

fn signature_error(function: &str, position: usize) -> EvaluatorError {
    EvaluatorError::TypeError(format!(
        "T0410: Argument {position} of function \"{function}\" does not match function signature"
    ))
}

fn arity_error(function: &str) -> EvaluatorError {
    EvaluatorError::TypeError(format!(
        "T0410: Function \"{function}\" was called with the wrong number of arguments"
    ))
}

fn evaluation_error(message: String) -> EvaluatorError {
    EvaluatorError::EvaluationError(message)
}

/// `$partition(array, size)`: consecutive chunks of `size` items, the last one possibly shorter.
fn partition(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    if args.len() != 2 {
        return Err(arity_error("partition"));
    }
    let items = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::Undefined),
        JValue::Array(items) => items.to_vec(),
        // JSONata's array parameters accept a single value as a one-item array.
        other if !other.is_function() => vec![other],
        _ => return Err(signature_error("partition", 1)),
    };
    let size = match arg(args, 1) {
        JValue::Number(n) if n.fract() == 0.0 && n >= 1.0 => n,
        JValue::Number(_) => {
            return Err(evaluation_error(
                "The size argument of $partition must be a positive integer".to_owned(),
            ));
        }
        _ => return Err(signature_error("partition", 2)),
    };
    if items.is_empty() {
        return Err(evaluation_error(
            "The array argument of $partition must not be empty".to_owned(),
        ));
    }
    // `size` is a positive integer; anything past the item count means one chunk.
    let size = if size >= items.len() as f64 {
        items.len()
    } else {
        size as usize
    };
    Ok(JValue::array(
        items
            .chunks(size)
            .map(|chunk| JValue::array(chunk.to_vec()))
            .collect(),
    ))
}

/// `$range(start, end[, step])`: `start`, `start + step`, … up to and including `end`.
fn range(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    if !(2..=3).contains(&args.len()) {
        return Err(arity_error("range"));
    }
    let number = |index: usize| match arg(args, index) {
        JValue::Number(n) => Ok(Some(n)),
        JValue::Undefined => Ok(None),
        _ => Err(signature_error("range", index + 1)),
    };
    let (Some(start), Some(end)) = (number(0)?, number(1)?) else {
        return Ok(JValue::Undefined);
    };
    let step = number(2)?.unwrap_or(1.0);
    if step == 0.0 {
        return Err(evaluation_error(
            "The step argument of $range must not be zero".to_owned(),
        ));
    }
    let span = ((end - start) / step).floor();
    if span >= MAX_RANGE_ITEMS {
        return Err(evaluation_error(format!(
            "$range would produce more than {MAX_RANGE_ITEMS} items"
        )));
    }
    // A negative span (end before start for this step's direction) gives no items.
    let count = if span < 0.0 { 0 } else { span as usize + 1 };
    let items = (0..count)
        .map(|i| JValue::Number(start + step * i as f64))
        .collect();
    // A sequence, not an array: AWS returns a one-item range as the bare number
    // (`$range(1, 9, 9)` is `1`), as JSONata does for sequences.
    Ok(JValue::sequence(items))
}

/// `$hash(value, algorithm)`: the lowercase hex digest of a string.
fn hash(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    if args.len() != 2 {
        return Err(arity_error("hash"));
    }
    let data = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::Undefined),
        JValue::String(s) => s,
        _ => return Err(signature_error("hash", 1)),
    };
    let JValue::String(algorithm) = arg(args, 1) else {
        return Err(signature_error("hash", 2));
    };
    let bytes = data.as_bytes();
    let digest = match algorithm.as_ref() {
        "MD5" => Md5::digest(bytes).to_vec(),
        "SHA-1" => Sha1::digest(bytes).to_vec(),
        "SHA-256" => Sha256::digest(bytes).to_vec(),
        "SHA-384" => Sha384::digest(bytes).to_vec(),
        "SHA-512" => Sha512::digest(bytes).to_vec(),
        other => {
            return Err(evaluation_error(format!(
                "The hash algorithm '{other}' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
            )));
        }
    };
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    Ok(JValue::string(hex))
}

/// `$parse(jsonString)`: the JSON value a string holds.
fn parse(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    if args.len() != 1 {
        return Err(arity_error("parse"));
    }
    let text = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::Undefined),
        JValue::String(s) => s,
        _ => return Err(signature_error("parse", 1)),
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        evaluation_error(format!(
            "The argument of $parse is not a valid JSON string: {e}"
        ))
    })?;
    to_jvalue(&value, 0).map_err(evaluation_error)
}

/// `$random([seed])`: a number in [0, 1).
fn random(args: &[JValue], rng: &RefCell<StdRng>) -> Result<JValue, EvaluatorError> {
    match args {
        [] | [JValue::Undefined] => Ok(JValue::Number(unit_interval(rng.borrow_mut().random()))),
        [JValue::Number(seed)] if seed.fract() == 0.0 && seed.is_finite() => {
            // The seed is integral; values past i64 saturate, which still gives a fixed number.
            Ok(JValue::Number(seeded_random(*seed as i64)))
        }
        [_] => Err(signature_error("random", 1)),
        _ => Err(arity_error("random")),
    }
}

/// The first `nextDouble()` of `java.util.Random` seeded with `seed`.
///
/// AWS documents only that a seed makes `$random` repeatable. Its service runs on the JVM, so
/// the JDK generator is the likeliest match for the exact numbers, and it is as good a fixed
/// function as any otherwise.
fn seeded_random(seed: i64) -> f64 {
    const MULTIPLIER: i64 = 0x5_DEEC_E66D;
    const MASK: i64 = (1 << 48) - 1;
    let mut state = (seed ^ MULTIPLIER) & MASK;
    let mut next = |bits: u32| {
        state = state.wrapping_mul(MULTIPLIER).wrapping_add(0xB) & MASK;
        state >> (48 - bits)
    };
    let high = next(26);
    let low = next(27);
    ((high << 27) + low) as f64 / (1_u64 << 53) as f64
}

/// A uniform double in [0, 1) from 53 random bits.
fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1_u64 << 53) as f64
}

/// `$uuid()`: a random version 4 UUID.
fn uuid(args: &[JValue], rng: &RefCell<StdRng>) -> Result<JValue, EvaluatorError> {
    if !args.is_empty() {
        return Err(arity_error("uuid"));
    }
    let bytes: [u8; 16] = rng.borrow_mut().random();
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    Ok(JValue::string(id.hyphenated().to_string()))
}
