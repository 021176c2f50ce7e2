//! State types and the fields each state type and each kind of scope accepts.

/// Which query language a field belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldLang {
    Both,
    JsonPathOnly,
    JsonataOnly,
}

const PASS: u8 = 1;
pub(super) const TASK: u8 = 2;
pub(super) const CHOICE: u8 = 4;
pub(super) const WAIT: u8 = 8;
pub(super) const SUCCEED: u8 = 16;
pub(super) const FAIL: u8 = 32;
pub(super) const PARALLEL: u8 = 64;
pub(super) const MAP: u8 = 128;
const ALL: u8 = 255;
pub(super) const TRANSITIONING: u8 = PASS | TASK | WAIT | PARALLEL | MAP;
const WITH_IO: u8 = ALL & !FAIL;
const WITH_ASSIGN: u8 = PASS | TASK | MAP | PARALLEL | CHOICE | WAIT;
const WITH_RESULT: u8 = PASS | TASK | PARALLEL | MAP;
pub(super) const WITH_ERRORS: u8 = TASK | PARALLEL | MAP;

/// Which fields each state type accepts, and in which query language.
pub(super) const STATE_FIELDS: &[(&str, u8, FieldLang)] = &[
    ("Type", ALL, FieldLang::Both),
    ("Comment", ALL, FieldLang::Both),
    ("QueryLanguage", ALL, FieldLang::Both),
    ("Next", TRANSITIONING, FieldLang::Both),
    ("End", TRANSITIONING, FieldLang::Both),
    ("InputPath", WITH_IO, FieldLang::JsonPathOnly),
    ("OutputPath", WITH_IO, FieldLang::JsonPathOnly),
    ("Output", WITH_IO, FieldLang::JsonataOnly),
    ("Assign", WITH_ASSIGN, FieldLang::Both),
    ("Parameters", WITH_RESULT, FieldLang::JsonPathOnly),
    ("Arguments", TASK | PARALLEL, FieldLang::JsonataOnly),
    ("Result", PASS, FieldLang::JsonPathOnly),
    ("ResultPath", WITH_RESULT, FieldLang::JsonPathOnly),
    ("ResultSelector", WITH_ERRORS, FieldLang::JsonPathOnly),
    ("Retry", WITH_ERRORS, FieldLang::Both),
    ("Catch", WITH_ERRORS, FieldLang::Both),
    ("Resource", TASK, FieldLang::Both),
    ("TimeoutSeconds", TASK, FieldLang::Both),
    ("TimeoutSecondsPath", TASK, FieldLang::JsonPathOnly),
    ("HeartbeatSeconds", TASK, FieldLang::Both),
    ("HeartbeatSecondsPath", TASK, FieldLang::JsonPathOnly),
    ("Credentials", TASK, FieldLang::Both),
    ("Choices", CHOICE, FieldLang::Both),
    ("Default", CHOICE, FieldLang::Both),
    ("Seconds", WAIT, FieldLang::Both),
    ("SecondsPath", WAIT, FieldLang::JsonPathOnly),
    ("Timestamp", WAIT, FieldLang::Both),
    ("TimestampPath", WAIT, FieldLang::JsonPathOnly),
    ("Error", FAIL, FieldLang::Both),
    ("ErrorPath", FAIL, FieldLang::JsonPathOnly),
    ("Cause", FAIL, FieldLang::Both),
    ("CausePath", FAIL, FieldLang::JsonPathOnly),
    ("Branches", PARALLEL, FieldLang::Both),
    ("ItemProcessor", MAP, FieldLang::Both),
    ("Iterator", MAP, FieldLang::Both),
    ("ItemReader", MAP, FieldLang::Both),
    ("ItemBatcher", MAP, FieldLang::Both),
    ("ResultWriter", MAP, FieldLang::Both),
    ("ItemSelector", MAP, FieldLang::Both),
    ("Items", MAP, FieldLang::JsonataOnly),
    ("ItemsPath", MAP, FieldLang::JsonPathOnly),
    ("MaxConcurrency", MAP, FieldLang::Both),
    ("MaxConcurrencyPath", MAP, FieldLang::JsonPathOnly),
    ("ToleratedFailurePercentage", MAP, FieldLang::Both),
    (
        "ToleratedFailurePercentagePath",
        MAP,
        FieldLang::JsonPathOnly,
    ),
    ("ToleratedFailureCount", MAP, FieldLang::Both),
    ("ToleratedFailureCountPath", MAP, FieldLang::JsonPathOnly),
    ("Label", MAP, FieldLang::Both),
];

pub(super) const STATE_TYPES: &[(&str, u8)] = &[
    ("Pass", PASS),
    ("Task", TASK),
    ("Choice", CHOICE),
    ("Wait", WAIT),
    ("Succeed", SUCCEED),
    ("Fail", FAIL),
    ("Parallel", PARALLEL),
    ("Map", MAP),
];

/// Fields allowed at the root of a (sub-)state machine, by kind of scope.
pub(super) const TOP_FIELDS: &[&str] = &[
    "Comment",
    "StartAt",
    "States",
    "Version",
    "TimeoutSeconds",
    "QueryLanguage",
];
pub(super) const BRANCH_FIELDS: &[&str] = &["Comment", "StartAt", "States"];
pub(super) const PROCESSOR_FIELDS: &[&str] = &["Comment", "StartAt", "States", "ProcessorConfig"];
