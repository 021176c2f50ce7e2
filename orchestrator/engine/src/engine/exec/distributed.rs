//! The Distributed Map's I/O: reading items through the ItemReader's resource, batching them,
//! and exporting results through the ResultWriter's resource. The calls go to the same task
//! handlers as Task states (an S3 handler serves `arn:aws:states:::s3:…`), so a run with
//! mocks, a local directory or real S3 differs only in the handler registered.

use super::*;
use crate::lang::distributed::{
    self, ItemBatcher, ItemReader, IterationRecord, ResultWriter, Transformation,
};

/// Keys listed per listObjectsV2 call (S3's maximum page).
const PAGE: u64 = 1000;

impl Runner<'_> {
    /// A payload in the state's language, evaluated against the Map state's input.
    pub(super) fn arguments(
        &self,
        state: &State,
        args: &Arguments,
        input: &Value,
        states: Option<&Value>,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        match args {
            Arguments::JsonPath(template) => {
                let ctx = self.ctx(state);
                self.payload(state, template, input, &ctx, vars)
            }
            Arguments::Jsonata(template) => {
                let empty = json!({});
                self.jsonata(state, template, states.unwrap_or(&empty), vars)
            }
        }
    }

    /// One call to a reader's or writer's resource; a failure becomes `error` with the
    /// handler's error in the cause.
    async fn call(
        &self,
        state: &State,
        resource: &str,
        input: Value,
        error: &str,
    ) -> Result<Value, Failure> {
        let request = TaskRequest {
            resource: crate::engine::task::Resource::parse(resource),
            input,
            state_name: state.name.clone(),
            attempt: 0,
            task_token: None,
            execution_arn: self.info.arn.clone(),
            heartbeat_seconds: None,
            timeout_seconds: None,
            credentials: None,
            progress: None,
            resume_key: None,
        };
        self.tasks.dispatch(request).await.map_err(|f| {
            Failure::new(
                error,
                format!(
                    "{}: {}",
                    f.error,
                    f.cause.unwrap_or_else(|| "(no cause)".into())
                ),
            )
        })
    }

    /// All items the ItemReader yields, at most `MaxItems` of them.
    pub(super) async fn read_items(
        &self,
        state: &State,
        reader: &ItemReader,
        input: &Value,
        states: Option<&Value>,
        vars: &Vars,
    ) -> Result<Vec<Value>, Failure> {
        let params = match &reader.arguments {
            Some(args) => self.arguments(state, args, input, states, vars)?,
            None => json!({}),
        };
        let [max_items] = self.counts(
            state,
            [(reader.max_items.as_ref(), "MaxItems")],
            input,
            states,
            vars,
        )?;
        let max_items = max_items
            .filter(|&n| n > 0)
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let failed = |cause: String| Failure::new(errors::ITEM_READER_FAILED, cause);
        let mut items = Vec::new();
        if !reader.lists() {
            let object = self
                .call(state, &reader.resource, params, errors::ITEM_READER_FAILED)
                .await?;
            let body = object.get("Body").and_then(Value::as_str).unwrap_or("");
            items = distributed::parse_items(body, reader).map_err(|e| failed(e.0))?;
            items.truncate(max_items);
            return Ok(items);
        }
        let mut page_params = params;
        if let Some(p) = page_params.as_object_mut() {
            p.insert("MaxKeys".into(), json!(PAGE));
        }
        while items.len() < max_items {
            let page = self
                .call(
                    state,
                    &reader.resource,
                    page_params.clone(),
                    errors::ITEM_READER_FAILED,
                )
                .await?;
            let contents = page.get("Contents").and_then(Value::as_array);
            for object in contents.into_iter().flatten() {
                if items.len() >= max_items {
                    break;
                }
                if !reader.load_and_flatten {
                    items.push(object.clone());
                    continue;
                }
                let key = object.get("Key").cloned().unwrap_or(Value::Null);
                let get = json!({"Bucket": page_params.get("Bucket"), "Key": key});
                let loaded = self
                    .call(
                        state,
                        &reader.get_object_resource(),
                        get,
                        errors::ITEM_READER_FAILED,
                    )
                    .await?;
                let body = loaded.get("Body").and_then(Value::as_str).unwrap_or("");
                let records = distributed::parse_items(body, reader)
                    .map_err(|e| failed(format!("{key}: {}", e.0)))?;
                let room = max_items - items.len();
                items.extend(records.into_iter().take(room));
            }
            match page.get("NextContinuationToken") {
                Some(token) if page.get("IsTruncated") == Some(&json!(true)) => {
                    if let Some(p) = page_params.as_object_mut() {
                        p.insert("ContinuationToken".into(), token.clone());
                    }
                }
                _ => break,
            }
        }
        Ok(items)
    }

    /// The child inputs of a batched Map: every item through the ItemSelector, then grouped.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn batch_items(
        &self,
        state: &State,
        spec: &MapSpec,
        batcher: &ItemBatcher,
        items: &[Value],
        input: &Value,
        states: Option<&Value>,
        vars: &Vars,
    ) -> Result<Vec<Value>, Failure> {
        let [max_items, max_bytes] = self.counts(
            state,
            [
                (batcher.max_items.as_ref(), "MaxItemsPerBatch"),
                (batcher.max_bytes.as_ref(), "MaxInputBytesPerBatch"),
            ],
            input,
            states,
            vars,
        )?;
        let batch_input = match &batcher.batch_input {
            Some(args) => Some(self.arguments(state, args, input, states, vars)?),
            None => None,
        };
        let selector_input = states.map(states_input).unwrap_or(input);
        let selected = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                self.item_input(
                    state,
                    spec,
                    selector_input,
                    states,
                    index,
                    item.clone(),
                    vars,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(distributed::batches(
            selected,
            max_items,
            max_bytes,
            batch_input.as_ref(),
        ))
    }

    /// The Map state's result under a ResultWriter: the reshaped outputs, or, when exporting,
    /// `{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}` after writing the result
    /// files and their manifest.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn write_results(
        &self,
        state: &State,
        spec: &MapSpec,
        writer: &ResultWriter,
        records: &[IterationRecord],
        run_id: &str,
        input: &Value,
        states: Option<&Value>,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        let Some(resource) = &writer.resource else {
            return Ok(Value::Array(distributed::shape_results(
                records,
                writer.transformation,
            )));
        };
        let params = match &writer.arguments {
            Some(args) => self.arguments(state, args, input, states, vars)?,
            None => json!({}),
        };
        let bucket = params
            .get("Bucket")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Failure::new(
                    errors::RESULT_WRITER_FAILED,
                    "the ResultWriter's parameters need a Bucket",
                )
            })?;
        let prefix = params
            .get("Prefix")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim_end_matches('/');
        let dir = if prefix.is_empty() {
            run_id.to_string()
        } else {
            format!("{prefix}/{run_id}")
        };
        let extension = match writer.output_type {
            distributed::OutputType::Json => "json",
            distributed::OutputType::Jsonl => "jsonl",
        };
        // The manifest lists its statuses alphabetically, as AWS writes it.
        let mut files = Map::new();
        files.insert("FAILED".into(), json!([]));
        files.insert("PENDING".into(), json!([]));
        files.insert("SUCCEEDED".into(), json!([]));
        for (status, succeeded) in [("SUCCEEDED", true), ("FAILED", false)] {
            let chosen: Vec<IterationRecord> = records
                .iter()
                .filter(|r| r.succeeded == succeeded)
                .cloned()
                .collect();
            let mut listed = Vec::new();
            if !chosen.is_empty() {
                let transformation = if succeeded {
                    writer.transformation
                } else {
                    Transformation::None
                };
                let body = distributed::render(
                    &distributed::shape_results(&chosen, transformation),
                    writer.output_type,
                );
                let key = format!("{dir}/{status}_0.{extension}");
                let size = body.len();
                self.call(
                    state,
                    resource,
                    json!({"Bucket": bucket, "Key": key, "Body": body}),
                    errors::RESULT_WRITER_FAILED,
                )
                .await?;
                listed.push(json!({"Key": key, "Size": size}));
            }
            files.insert(status.into(), Value::Array(listed));
        }
        let map_run_arn = self.map_run_arn(state, spec, run_id);
        let manifest_key = format!("{dir}/manifest.json");
        let manifest = json!({
            "DestinationBucket": bucket,
            "MapRunArn": map_run_arn,
            "ResultFiles": files,
        });
        self.call(
            state,
            resource,
            json!({"Bucket": bucket, "Key": manifest_key, "Body": manifest.to_string()}),
            errors::RESULT_WRITER_FAILED,
        )
        .await?;
        Ok(json!({
            "MapRunArn": map_run_arn,
            "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key},
        }))
    }

    /// `arn:…:mapRun:<machine>/<label>:<run id>`.
    pub(super) fn map_run_arn(&self, state: &State, spec: &MapSpec, run_id: &str) -> String {
        let head = self
            .info
            .state_machine_arn
            .split(":stateMachine:")
            .next()
            .unwrap_or("");
        let label = spec.label.as_deref().unwrap_or(&state.name);
        format!(
            "{head}:mapRun:{}/{label}:{run_id}",
            self.info.state_machine_name
        )
    }

    /// A run id from the execution's seeded generator (a replayed step gets the same one).
    pub(super) fn run_id(&self) -> String {
        let (a, b) = (self.rng.next_u64(), self.rng.next_u64());
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            0x4000 | (a & 0x0fff),
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}
