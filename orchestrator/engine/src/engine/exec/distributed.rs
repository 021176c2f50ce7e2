//! The Distributed Map's I/O: reading items through the ItemReader's resource, batching them,
//! and exporting results through the ResultWriter's resource. The calls go to the same task
//! handlers as Task states (an S3 handler serves `arn:aws:states:::s3:…`), so a run with
//! mocks, a local directory or real S3 differs only in the handler registered.

use super::*;
use std::collections::VecDeque;

use crate::lang::distributed::{
    self, BodyItems, CsvHeader, InputType, ItemReader, ResultFile, ResultFiles, ResultWriter,
};

/// Keys listed per listObjectsV2 call (S3's maximum page).
const PAGE: u64 = 1000;

/// An ItemReader being read: what is fetched and not yet handed out.
pub(super) struct ItemSource<'r> {
    reader: &'r ItemReader,
    /// The reader's evaluated parameters (with the listing's continuation token).
    params: Value,
    max_items: usize,
    produced: usize,
    /// The one object of a getObject reader was fetched.
    fetched: bool,
    /// The listing has no further page.
    listed_all: bool,
    /// Listed objects not yet handed out (or read, for LOAD_AND_FLATTEN).
    objects: VecDeque<Value>,
    /// The object being read, a chunk at a time.
    object: Option<ObjectRead>,
    /// Objects to read after it (a manifest's data files).
    queue: VecDeque<ObjectRead>,
    /// Items of the chunk being handed out, with the object's key for messages.
    body: Option<(Option<String>, BodyItems)>,
}

/// One object being read through getObject, in byte ranges when its records are lines.
struct ObjectRead {
    resource: String,
    params: Value,
    /// The key, for messages (None for the reader's single object).
    key: Option<String>,
    /// The next byte to ask for.
    offset: u64,
    /// Every byte has been fetched.
    done: bool,
    /// The end of the last chunk that was not a whole record yet.
    carry: String,
    /// The CSV header once read (later chunks have none).
    names: Option<Vec<String>>,
    lines: usize,
    /// How its records are read: the reader's type, or a manifest data file's.
    input_type: Option<InputType>,
    /// The CSV header before one is read: the reader's, or a manifest's `fileSchema`.
    header: CsvHeader,
    /// Asks the S3 integration to decode the object first: `PARQUET` a row group at a time,
    /// `GZIP` whole.
    decode: Option<&'static str>,
}

impl ObjectRead {
    fn new(resource: String, params: Value, key: Option<String>, reader: &ItemReader) -> Self {
        ObjectRead {
            resource,
            params,
            key,
            offset: 0,
            done: false,
            carry: String::new(),
            names: None,
            lines: 0,
            input_type: reader.input_type,
            header: reader.csv_header.clone(),
            decode: (reader.input_type == Some(InputType::Parquet)).then_some("PARQUET"),
        }
    }
}

/// A ResultWriter exporting to a resource: files are stored as they fill.
pub(super) struct ResultSink {
    resource: String,
    bucket: String,
    dir: String,
    extension: &'static str,
    pub(super) files: ResultFiles,
    /// Stored files per status (SUCCEEDED, FAILED) for the manifest.
    listed: [Vec<Value>; 2],
    map_run_arn: String,
    /// Children and items whose results are stored (`resultsWritten`).
    pub(super) written: (usize, usize),
}

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
                self.jsonata(state, "Arguments", template, states.unwrap_or(&empty), vars)
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

    /// Opens `reader` for pulling items with [`Runner::next_item`]: evaluates its parameters
    /// and `MaxItems`, fetches nothing yet.
    pub(super) fn open_reader<'r>(
        &self,
        state: &State,
        reader: &'r ItemReader,
        input: &Value,
        states: Option<&Value>,
        vars: &Vars,
    ) -> Result<ItemSource<'r>, Failure> {
        let mut params = match &reader.arguments {
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
        if reader.lists()
            && let Some(p) = params.as_object_mut()
        {
            p.insert("MaxKeys".into(), json!(PAGE));
        }
        Ok(ItemSource {
            reader,
            params,
            max_items,
            produced: 0,
            fetched: false,
            listed_all: false,
            objects: VecDeque::new(),
            object: None,
            queue: VecDeque::new(),
            body: None,
        })
    }

    /// The reader's next item, fetching the next page or object when the last is used up;
    /// `None` after the last item (or `MaxItems`). Memory holds one page of keys and one
    /// object's text, never all items.
    pub(super) async fn next_item(
        &self,
        state: &State,
        source: &mut ItemSource<'_>,
    ) -> Option<Result<Value, Failure>> {
        let failed = |cause: String| Failure::new(errors::ITEM_READER_FAILED, cause);
        if source.produced >= source.max_items {
            return None;
        }
        loop {
            if let Some((key, body)) = &mut source.body {
                match body.next() {
                    Some(Ok(item)) => {
                        source.produced += 1;
                        return Some(Ok(item));
                    }
                    Some(Err(e)) => {
                        let cause = match key {
                            Some(key) => format!("{key}: {e}"),
                            None => e.0,
                        };
                        return Some(Err(failed(cause)));
                    }
                    None => source.body = None,
                }
            }
            let reader = source.reader;
            if let Some(object) = &mut source.object {
                if object.done {
                    source.object = None;
                } else {
                    match self.read_chunk(state, reader, object).await {
                        Ok(items) => source.body = Some((object.key.clone(), items)),
                        Err(f) => return Some(Err(f)),
                    }
                    continue;
                }
            }
            if let Some(next) = source.queue.pop_front() {
                source.object = Some(next);
                continue;
            }
            if !reader.lists() {
                if source.fetched {
                    return None;
                }
                source.fetched = true;
                if reader.input_type == Some(InputType::Manifest) {
                    match self.read_manifest(state, reader, &source.params).await {
                        Ok(files) => source.queue = files,
                        Err(f) => return Some(Err(f)),
                    }
                    continue;
                }
                source.object = Some(ObjectRead::new(
                    reader.resource.clone(),
                    source.params.clone(),
                    None,
                    reader,
                ));
                continue;
            }
            if let Some(object) = source.objects.pop_front() {
                if !reader.load_and_flatten {
                    source.produced += 1;
                    return Some(Ok(object));
                }
                let key = object.get("Key").cloned().unwrap_or(Value::Null);
                let get = json!({"Bucket": source.params.get("Bucket"), "Key": key});
                source.object = Some(ObjectRead::new(
                    reader.get_object_resource(),
                    get,
                    Some(key.to_string()),
                    reader,
                ));
                continue;
            }
            if source.listed_all {
                return None;
            }
            let page = match self
                .call(
                    state,
                    &reader.resource,
                    source.params.clone(),
                    errors::ITEM_READER_FAILED,
                )
                .await
            {
                Ok(page) => page,
                Err(f) => return Some(Err(f)),
            };
            let Value::Object(mut page) = page else {
                return Some(Err(failed("listObjectsV2 returned no object".into())));
            };
            if let Some(Value::Array(contents)) = page.remove("Contents") {
                source.objects.extend(contents);
            }
            match page.remove("NextContinuationToken") {
                Some(token) if page.get("IsTruncated") == Some(&json!(true)) => {
                    if let Some(p) = source.params.as_object_mut() {
                        p.insert("ContinuationToken".into(), token);
                    }
                }
                _ => source.listed_all = true,
            }
        }
    }

    /// The items of the object's next chunk. JSONL and CSV objects are fetched a byte range
    /// at a time and cut after their last whole record (the rest waits for the next chunk);
    /// a JSON document, or a handler that ignores `Range`, gives the whole object at once.
    async fn read_chunk(
        &self,
        state: &State,
        reader: &ItemReader,
        object: &mut ObjectRead,
    ) -> Result<BodyItems, Failure> {
        let failed = |cause: String| {
            let cause = match &object.key {
                Some(key) => format!("{key}: {cause}"),
                None => cause,
            };
            Failure::new(errors::ITEM_READER_FAILED, cause)
        };
        let chunked = distributed::reads_in_chunks(object.input_type) && object.decode.is_none();
        // A Parquet object is read a row group at a time (`offset` counts row groups).
        let by_row_group = object.decode == Some("PARQUET");
        let mut params = object.params.clone();
        if let (Some(decode), Some(p)) = (object.decode, params.as_object_mut()) {
            p.insert(sluice_task::ITEM_READER_DECODE.into(), json!(decode));
            if by_row_group {
                p.insert(
                    sluice_task::ITEM_READER_ROW_GROUP.into(),
                    json!(object.offset),
                );
            }
        }
        if chunked && let Some(p) = params.as_object_mut() {
            let last = object.offset + self.limits.read_chunk_bytes.max(1) - 1;
            p.insert(
                "Range".into(),
                json!(format!("bytes={}-{last}", object.offset)),
            );
        }
        let fetched = self
            .call(state, &object.resource, params, errors::ITEM_READER_FAILED)
            .await?;
        let Value::Object(mut fetched) = fetched else {
            return Err(failed("getObject returned no object".into()));
        };
        let body = match fetched.remove("Body") {
            Some(Value::String(body)) => body,
            _ => String::new(),
        };
        let range = fetched
            .get("ContentRange")
            .and_then(Value::as_str)
            .and_then(distributed::content_range);
        let row_groups = fetched
            .get(sluice_task::ITEM_READER_ROW_GROUPS)
            .and_then(Value::as_u64);
        match (range, row_groups) {
            (Some((_, last, size)), _) if chunked => {
                object.offset = last + 1;
                object.done = object.offset >= size;
            }
            // A handler that decodes the whole object says nothing of row groups.
            (_, Some(groups)) if by_row_group => {
                object.offset += 1;
                object.done = object.offset >= groups;
            }
            _ => object.done = true,
        }
        let mut text = std::mem::take(&mut object.carry);
        text.push_str(&body);
        drop(body);
        if !object.done {
            let whole =
                distributed::complete_records(&text, object.input_type == Some(InputType::Csv));
            object.carry = text.split_off(whole);
        }
        let header = match &object.names {
            Some(names) => CsvHeader::Given(names.clone()),
            None => object.header.clone(),
        };
        let lines_before = object.lines;
        object.lines += text.matches('\n').count();
        let items = BodyItems::of_type(text, object.input_type, reader, &header, lines_before)
            .map_err(|e| failed(e.0))?;
        if object.names.is_none() {
            object.names = items.csv_names().map(<[String]>::to_vec);
        }
        Ok(items)
    }

    /// Reads an S3 Inventory manifest and returns its data files to read in turn: gzip CSV
    /// with the manifest's `fileSchema` as header, or Parquet.
    async fn read_manifest(
        &self,
        state: &State,
        reader: &ItemReader,
        params: &Value,
    ) -> Result<VecDeque<ObjectRead>, Failure> {
        let failed = |cause: String| Failure::new(errors::ITEM_READER_FAILED, cause);
        let fetched = self
            .call(
                state,
                &reader.resource,
                params.clone(),
                errors::ITEM_READER_FAILED,
            )
            .await?;
        let text = fetched.get("Body").and_then(Value::as_str).unwrap_or("");
        let inventory = distributed::inventory_manifest(text).map_err(|e| failed(e.0))?;
        let (input_type, decode) = match inventory.format {
            InputType::Parquet => (InputType::Parquet, "PARQUET"),
            _ => (InputType::Csv, "GZIP"),
        };
        Ok(inventory
            .files
            .iter()
            .map(|key| {
                let mut object = ObjectRead::new(
                    reader.get_object_resource(),
                    json!({"Bucket": inventory.bucket, "Key": key}),
                    Some(key.clone()),
                    reader,
                );
                object.input_type = Some(input_type);
                object.header = CsvHeader::Given(inventory.columns.clone());
                object.decode = Some(decode);
                object
            })
            .collect())
    }

    /// The ResultWriter's destination, when it exports to a resource: evaluated once, before
    /// the first iteration, so a bad Bucket fails before any work is done.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn open_writer(
        &self,
        state: &State,
        spec: &MapSpec,
        writer: &ResultWriter,
        run_id: &str,
        input: &Value,
        states: Option<&Value>,
        vars: &Vars,
    ) -> Result<Option<ResultSink>, Failure> {
        let Some(resource) = &writer.resource else {
            return Ok(None);
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
            })?
            .to_string();
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
        Ok(Some(ResultSink {
            resource: resource.clone(),
            bucket,
            dir,
            extension: match writer.output_type {
                distributed::OutputType::Json => "json",
                distributed::OutputType::Jsonl => "jsonl",
            },
            files: ResultFiles::new(
                writer.transformation,
                writer.output_type,
                self.limits.result_file_bytes,
            ),
            listed: [Vec::new(), Vec::new()],
            written: (0, 0),
            map_run_arn: self.map_run_arn(state, spec, run_id),
        }))
    }

    /// Stores one closed result file under the sink's directory.
    pub(super) async fn store_result_file(
        &self,
        state: &State,
        sink: &mut ResultSink,
        file: ResultFile,
    ) -> Result<(), Failure> {
        let key = format!(
            "{}/{}_{}.{}",
            sink.dir, file.status, file.index, sink.extension
        );
        let size = file.body.len();
        self.call(
            state,
            &sink.resource,
            json!({"Bucket": sink.bucket, "Key": key, "Body": file.body}),
            errors::RESULT_WRITER_FAILED,
        )
        .await?;
        let slot = usize::from(file.status != "SUCCEEDED");
        sink.listed[slot].push(json!({"Key": key, "Size": size}));
        sink.written.0 += file.children;
        sink.written.1 += file.items;
        Ok(())
    }

    /// Closes the open result files and writes `manifest.json`; the Map state's result.
    pub(super) async fn finish_results(
        &self,
        state: &State,
        sink: &mut ResultSink,
    ) -> Result<Value, Failure> {
        for file in sink.files.finish() {
            self.store_result_file(state, sink, file).await?;
        }
        let [succeeded, failed] = std::mem::take(&mut sink.listed);
        // The manifest lists its statuses alphabetically, as AWS writes it.
        let mut files = Map::new();
        files.insert("FAILED".into(), Value::Array(failed));
        files.insert("PENDING".into(), json!([]));
        files.insert("SUCCEEDED".into(), Value::Array(succeeded));
        let manifest_key = format!("{}/manifest.json", sink.dir);
        let manifest = json!({
            "DestinationBucket": sink.bucket,
            "MapRunArn": sink.map_run_arn,
            "ResultFiles": files,
        });
        self.call(
            state,
            &sink.resource,
            json!({"Bucket": sink.bucket, "Key": manifest_key, "Body": manifest.to_string()}),
            errors::RESULT_WRITER_FAILED,
        )
        .await?;
        Ok(json!({
            "MapRunArn": sink.map_run_arn,
            "ResultWriterDetails": {"Bucket": sink.bucket, "Key": manifest_key},
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
