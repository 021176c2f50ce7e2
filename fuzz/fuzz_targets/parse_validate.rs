//! Any bytes as a definition: loading, validation and compilation must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_engine::lang::{checker, load, model::StateMachine};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for origin in ["fuzz.json", "fuzz.yaml"] {
        if let Ok(definition) = load::parse_document(text, origin) {
            let problems = checker::validate(&definition);
            let compiled = StateMachine::compile(&definition);
            // A definition the validator accepts must compile, or be reported as unsupported.
            if problems.is_empty()
                && let Err(e) = &compiled
            {
                assert!(e.unsupported, "valid but not compilable: {e:?}");
            }
        }
    }
});
