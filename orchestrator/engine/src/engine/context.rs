//! What expressions can read while a state runs: the context object (`$$`, `$states.context`),
//! the state input and the variables, behind the evaluation interfaces of `lang`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::vars::Vars;
use crate::lang::choice::{Lookup, RuleEvalError};
use crate::lang::intrinsics::Env;
use crate::lang::model::ContextUse;
use crate::lang::path::{Path, PathError, Root};

/// Facts about one execution that the context object exposes.
#[derive(Debug, Clone)]
pub struct ExecutionInfo {
    /// Execution ARN (`$$.Execution.Id`).
    pub arn: String,
    /// Execution name.
    pub name: String,
    /// State machine ARN.
    pub state_machine_arn: String,
    /// State machine name.
    pub state_machine_name: String,
    /// Role the execution runs as.
    pub role_arn: String,
    /// ISO-8601 start time.
    pub start_time: String,
    /// The execution input, shared: the context object and the first state both read it.
    pub input: Arc<Value>,
    /// How often the execution was redriven.
    pub redrive_count: u64,
}

impl ExecutionInfo {
    /// The region named in the execution ARN (`arn:partition:states:REGION:…`).
    pub fn region(&self) -> &str {
        self.arn.split(':').nth(3).unwrap_or("")
    }
}

/// The current time as Step Functions prints it: ISO-8601, milliseconds, `Z`.
pub fn now_iso8601() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The secret that makes task tokens unforgeable: a token is an HMAC under this key of the
/// draws that identify its task, so knowing an execution's ARN and step is not enough to
/// compute it. One per deployment (replicas share it), so a replayed step still hands out the
/// tokens it handed out before.
#[derive(Clone)]
pub struct TokenKey(Arc<[u8; 32]>);

impl TokenKey {
    /// A key from 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        TokenKey(Arc::new(bytes))
    }
}

// The key never reaches a log.
impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

/// Randomness for `States.UUID`, `$random()`, retry jitter and task tokens: SplitMix64 over
/// an atomic counter, so concurrent branches share it without locks and a fixed seed replays
/// a run.
#[derive(Debug)]
pub struct Rng {
    state: AtomicU64,
    /// Signs task tokens; without it (`sluice run`, whose tokens never leave the process)
    /// a token is the raw draws.
    key: Option<TokenKey>,
}

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng {
            state: AtomicU64::new(seed),
            key: None,
        }
    }

    /// A generator starting from `seed` whose task tokens are signed with `key`.
    pub fn keyed(seed: u64, key: TokenKey) -> Self {
        Rng {
            state: AtomicU64::new(seed),
            key: Some(key),
        }
    }

    /// Where the generator stands: [`Rng::keyed`] with it draws what this one would next.
    pub fn position(&self) -> u64 {
        self.state.load(Ordering::Relaxed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniformly distributed float in [0, 1).
    pub fn next_f64(&self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A task token: 128 bits of draws, or with a key their HMAC-SHA256 (256 bits that cannot
    /// be computed without the key). Deterministic in the seed either way.
    pub fn task_token(&self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        match &self.key {
            None => format!("{a:016x}{b:016x}"),
            Some(key) => {
                use hmac::{Hmac, Mac};
                let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key.0.as_slice())
                    .expect("HMAC takes any key length");
                mac.update(&a.to_le_bytes());
                mac.update(&b.to_le_bytes());
                mac.finalize()
                    .into_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            }
        }
    }

    /// The sources of `n`-way concurrent work (Map iterations, Parallel branches): one draw
    /// from this source, then child `i` starts from a seed of its own. Concurrent children
    /// drawing from one shared source would get values in whatever order they happen to
    /// run, so a replayed step would hand its task tokens to different iterations.
    pub fn children(&self) -> ChildSeeds {
        ChildSeeds {
            base: self.next_u64(),
            key: self.key.clone(),
        }
    }
}

/// Seeds of the children of one Map or Parallel state (see [`Rng::children`]).
#[derive(Debug, Clone)]
pub struct ChildSeeds {
    base: u64,
    key: Option<TokenKey>,
}

impl ChildSeeds {
    /// The source of child `index`; it signs tokens with its parent's key.
    pub fn rng(&self, index: usize) -> Rng {
        // The generator's own mixing step, applied to the base and the index.
        let mixer = Rng::new(self.base ^ (index as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93));
        Rng {
            state: AtomicU64::new(mixer.next_u64()),
            key: self.key.clone(),
        }
    }
}

/// The per-state part of the context object.
pub struct StateCtx<'a> {
    pub info: &'a ExecutionInfo,
    pub state: &'a str,
    /// Retries so far, for states that can retry.
    pub retry_count: Option<u64>,
    /// `Map.Item` while evaluating a Map's ItemSelector.
    pub map_item: Option<(usize, &'a Value)>,
    /// `Task.Token` for callback tasks.
    pub task_token: Option<&'a str>,
    full: OnceLock<Value>,
    without_input: OnceLock<Value>,
}

impl<'a> StateCtx<'a> {
    /// Context for a state entered now.
    pub fn new(info: &'a ExecutionInfo, state: &'a str) -> Self {
        StateCtx {
            info,
            state,
            retry_count: None,
            map_item: None,
            task_token: None,
            full: OnceLock::new(),
            without_input: OnceLock::new(),
        }
    }

    /// The context object, built the first time something reads it.
    pub fn value(&self) -> &Value {
        self.full.get_or_init(|| self.build(true))
    }

    /// The context object a path reads. `$$.Execution.Input` is a copy of the whole execution
    /// input, so paths that cannot reach it get a context built without it.
    pub fn for_path(&self, path: &Path) -> &Value {
        const WITHOUT_INPUT: &[&str] = &[
            ".State",
            ".Task",
            ".Map",
            ".Execution.Id",
            ".Execution.Name",
            ".Execution.RoleArn",
            ".Execution.StartTime",
            ".Execution.RedriveCount",
        ];
        let rest = path.text().strip_prefix("$$").unwrap_or("");
        if WITHOUT_INPUT.iter().any(|p| rest.starts_with(p)) {
            self.without_input.get_or_init(|| self.build(false))
        } else {
            self.value()
        }
    }

    /// The context object a JSONata state needs, if any.
    pub fn for_use(&self, usage: ContextUse) -> Option<&Value> {
        match usage {
            ContextUse::None => None,
            ContextUse::WithoutInput => Some(self.without_input.get_or_init(|| self.build(false))),
            ContextUse::Full => Some(self.value()),
        }
    }

    fn build(&self, with_input: bool) -> Value {
        {
            let info = self.info;
            let mut state = Map::new();
            state.insert(
                "EnteredTime".into(),
                // Read when first needed rather than at entry: formatting a timestamp per
                // transition would cost more than most states do; the skew is microseconds.
                Value::String(now_iso8601()),
            );
            state.insert("Name".into(), Value::String(self.state.to_string()));
            if let Some(n) = self.retry_count {
                state.insert("RetryCount".into(), json!(n));
            }
            let mut execution = Map::new();
            execution.insert("Id".into(), json!(info.arn));
            if with_input {
                execution.insert("Input".into(), (*info.input).clone());
            }
            execution.insert("Name".into(), json!(info.name));
            execution.insert("RoleArn".into(), json!(info.role_arn));
            execution.insert("StartTime".into(), json!(info.start_time));
            execution.insert("RedriveCount".into(), json!(info.redrive_count));
            let mut ctx = Map::new();
            ctx.insert("Execution".into(), Value::Object(execution));
            ctx.insert("State".into(), Value::Object(state));
            ctx.insert(
                "StateMachine".into(),
                json!({"Id": info.state_machine_arn, "Name": info.state_machine_name}),
            );
            if let Some(token) = self.task_token {
                ctx.insert("Task".into(), json!({ "Token": token }));
            }
            if let Some((index, value)) = self.map_item {
                ctx.insert(
                    "Map".into(),
                    json!({"Item": {"Index": index, "Value": value}}),
                );
            }
            Value::Object(ctx)
        }
    }
}

/// Resolves paths against the state input, the context object and the variables.
pub struct PathEnv<'a, 'c> {
    pub input: &'a Value,
    pub ctx: &'a StateCtx<'c>,
    pub vars: &'a Vars,
    pub rng: &'a Rng,
}

impl PathEnv<'_, '_> {
    /// The value a path's root names.
    pub fn root_value(&self, path: &Path) -> Result<&Value, PathError> {
        match path.root() {
            Root::Input => Ok(self.input),
            Root::Context => Ok(self.ctx.for_path(path)),
            Root::Variable(name) => self.vars.get(name).ok_or_else(|| PathError::NoMatch {
                path: path.text().to_string(),
                message: format!("The variable ${name} is not defined"),
            }),
        }
    }
}

impl Env for PathEnv<'_, '_> {
    fn resolve(&mut self, path: &Path) -> Result<Value, PathError> {
        path.select(self.root_value(path)?)
    }

    fn random_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }
}

impl Lookup for PathEnv<'_, '_> {
    fn lookup(&mut self, path: &Path) -> Result<Option<Value>, RuleEvalError> {
        let root = match path.root() {
            Root::Variable(name) => match self.vars.get(name) {
                Some(v) => v,
                None => return Err(RuleEvalError::UnknownVariable(name.clone())),
            },
            _ => self
                .root_value(path)
                .map_err(|source| RuleEvalError::Path {
                    path: path.text().to_string(),
                    source,
                })?,
        };
        if path.is_definite() {
            return Ok(path.get(root).cloned());
        }
        match path.select(root) {
            Ok(v) => Ok(Some(v)),
            Err(PathError::NoMatch { .. }) => Ok(None),
            Err(source) => Err(RuleEvalError::Path {
                path: path.text().to_string(),
                source,
            }),
        }
    }
}
