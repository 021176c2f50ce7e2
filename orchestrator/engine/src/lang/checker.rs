//! Wires the real expression parsers into the validator, and offers the one-call entry points
//! that `sluice validate` and the API use.

use serde_json::Value;

use super::intrinsics::Intrinsic;
use super::jsonata::Expression;
use super::path::Path;
use super::validate::{Diagnostic, ExpressionChecker};

/// Checks embedded expressions with sluice's own parsers.
pub struct Parsers;

impl ExpressionChecker for Parsers {
    fn check_path(&self, text: &str) -> Result<(), String> {
        Path::parse(text).map(|_| ()).map_err(|e| e.to_string())
    }

    fn check_reference_path(&self, text: &str) -> Result<(), String> {
        let path = Path::parse(text).map_err(|e| e.to_string())?;
        if path.is_definite() {
            Ok(())
        } else {
            Err(format!(
                "{text:?} is not a reference path: it may select several nodes (wildcards, filters, slices and unions are not allowed here)"
            ))
        }
    }

    fn check_intrinsic(&self, text: &str) -> Result<(), String> {
        Intrinsic::parse(text)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn check_jsonata(&self, text: &str) -> Result<(), String> {
        Expression::compile(text)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Every problem of a parsed definition, each with its location.
pub fn validate(definition: &Value) -> Vec<Diagnostic> {
    super::validate::validate(definition, &Parsers)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::validate;

    /// Forms AWS creates and deployed definitions use, checked with the real parsers.
    #[test]
    fn forms_aws_accepts_are_valid() {
        let jsonata = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Output": "{%$states.input%}", "Next": "B"},
            "B": {"Type": "Pass", "Output": {"x": "{% $states.input.x%}"}, "End": true}}});
        assert_eq!(validate(&jsonata), vec![]);
        let paths = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {
            "receipt.$": "$.Labels[?(@.Name==Receipt)]",
            "big.$": "$.nums[?(@ > 5)]",
            "first.$": "$$.Execution.Input.list[0]",
            "name.$": "$$.Execution.Name ",
            "id.$": "States.Format('{}-{}', $.a, $$.Execution.Name)"}, "End": true}}});
        assert_eq!(validate(&paths), vec![]);
    }

    /// What the delimiters hold must still be JSONata.
    #[test]
    fn broken_jsonata_without_spaces_is_reported() {
        let def = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Output": "{%(1 +%}", "End": true}}});
        let found = validate(&def);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].pointer, "/States/A/Output");
    }
}
