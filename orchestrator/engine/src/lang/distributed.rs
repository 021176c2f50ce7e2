//! The Distributed Map's data plane, as pure language: the `ItemReader`, `ItemBatcher` and
//! `ResultWriter` specs, turning what a reader fetched into items, grouping items into batches,
//! and shaping results for a writer. Fetching and storing happen in the engine, through the
//! task handlers of the reader's and writer's `Resource`s.

use serde_json::{Map, Value, json};

use super::model::{Arguments, Field};

/// How a reader's object is parsed (`ReaderConfig.InputType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    Csv,
    Json,
    Jsonl,
    Parquet,
    Manifest,
}

impl InputType {
    /// From `ReaderConfig.InputType`.
    pub fn parse(s: &str) -> Option<InputType> {
        Some(match s {
            "CSV" => InputType::Csv,
            "JSON" => InputType::Json,
            "JSONL" => InputType::Jsonl,
            "PARQUET" => InputType::Parquet,
            "MANIFEST" => InputType::Manifest,
            _ => return None,
        })
    }
}

/// Where a CSV file's column names come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvHeader {
    FirstRow,
    Given(Vec<String>),
}

/// A Distributed Map's `ItemReader`.
#[derive(Debug)]
pub struct ItemReader {
    /// `arn:…:states:::s3:getObject` or `…:s3:listObjectsV2`.
    pub resource: String,
    /// `Parameters` (JSONPath) or `Arguments` (JSONata).
    pub arguments: Option<Arguments>,
    pub input_type: Option<InputType>,
    /// `Transformation: LOAD_AND_FLATTEN`: list objects, then read each one's records.
    pub load_and_flatten: bool,
    pub csv_header: CsvHeader,
    pub csv_delimiter: u8,
    /// `MaxItems` / `MaxItemsPath`.
    pub max_items: Option<Field>,
    /// `ItemsPointer`: a JSON Pointer to the array inside a JSON file.
    pub items_pointer: Option<String>,
}

impl ItemReader {
    /// Does the reader list objects (rather than read one)?
    pub fn lists(&self) -> bool {
        self.resource.ends_with(":s3:listObjectsV2")
    }

    /// The getObject resource in the reader's partition (for `LOAD_AND_FLATTEN`).
    pub fn get_object_resource(&self) -> String {
        match self.resource.rsplit_once(":s3:") {
            Some((head, _)) => format!("{head}:s3:getObject"),
            None => self.resource.clone(),
        }
    }
}

/// A Distributed Map's `ItemBatcher`.
#[derive(Debug)]
pub struct ItemBatcher {
    pub max_items: Option<Field>,
    pub max_bytes: Option<Field>,
    pub batch_input: Option<Arguments>,
}

/// `WriterConfig.Transformation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transformation {
    /// Full per-iteration records.
    None,
    /// Each iteration's output.
    Compact,
    /// Like `Compact`, with array outputs spliced into one array.
    Flatten,
}

/// `WriterConfig.OutputType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputType {
    Json,
    Jsonl,
}

/// A Distributed Map's `ResultWriter`.
#[derive(Debug)]
pub struct ResultWriter {
    /// `arn:…:states:::s3:putObject`; absent when only `WriterConfig` reshapes the output.
    pub resource: Option<String>,
    pub arguments: Option<Arguments>,
    pub transformation: Transformation,
    pub output_type: OutputType,
}

/// Why a reader's object could not be turned into items (cause of `States.ItemReaderFailed`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReadError(pub String);

/// The items in one object's text, parsed as `reader` says.
pub fn parse_items(body: &str, reader: &ItemReader) -> Result<Vec<Value>, ReadError> {
    BodyItems::new(body.to_string(), reader)?.collect()
}

/// The items of one object's text, parsed one at a time as they are pulled: a JSONL or CSV
/// object of a million records costs its text plus the items in flight, not a million
/// parsed values. (A JSON document is one value, so it is parsed whole.)
pub struct BodyItems {
    source: Source,
}

enum Source {
    Jsonl {
        body: String,
        at: usize,
        line: usize,
    },
    Csv {
        rows: csv::StringRecordsIntoIter<std::io::Cursor<Vec<u8>>>,
        names: Vec<String>,
    },
    Values(std::vec::IntoIter<Value>),
    Done,
}

impl BodyItems {
    /// Prepares to read `body`; a header or document error is reported here.
    pub fn new(body: String, reader: &ItemReader) -> Result<BodyItems, ReadError> {
        BodyItems::chunk(body, reader, &reader.csv_header, 0)
    }

    /// One chunk of a larger object: `header` is the CSV header already read from an
    /// earlier chunk (or the reader's own), `lines_before` the lines before this chunk (for
    /// messages).
    pub fn chunk(
        body: String,
        reader: &ItemReader,
        header: &CsvHeader,
        lines_before: usize,
    ) -> Result<BodyItems, ReadError> {
        BodyItems::of_type(body, reader.input_type, reader, header, lines_before)
    }

    /// One chunk read as `input_type` (a manifest's data files are CSV or Parquet whatever
    /// the reader's own type).
    pub fn of_type(
        body: String,
        input_type: Option<InputType>,
        reader: &ItemReader,
        header: &CsvHeader,
        lines_before: usize,
    ) -> Result<BodyItems, ReadError> {
        let source = match input_type {
            Some(InputType::Json) => {
                Source::Values(json_items(&body, reader.items_pointer.as_deref())?.into_iter())
            }
            // A Parquet object reaches the engine as JSON lines (the S3 integration decodes it).
            Some(InputType::Jsonl | InputType::Parquet) => Source::Jsonl {
                body,
                at: 0,
                line: lines_before,
            },
            Some(InputType::Csv) => csv_source(body, header, reader.csv_delimiter)?,
            Some(InputType::Manifest) => {
                return Err(ReadError(
                    "a manifest is read with inventory_manifest, not as items".into(),
                ));
            }
            None => {
                return Err(ReadError(
                    "ReaderConfig.InputType is required to read an object's content".into(),
                ));
            }
        };
        Ok(BodyItems { source })
    }
}

impl BodyItems {
    /// The CSV column names in use, once the header is read.
    pub fn csv_names(&self) -> Option<&[String]> {
        match &self.source {
            Source::Csv { names, .. } => Some(names),
            _ => None,
        }
    }
}

/// An S3 Inventory `manifest.json`: where its data files are and how to read them.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// The bucket holding the data files (from `destinationBucket`).
    pub bucket: String,
    /// `CSV` (gzip-compressed, no header) or `Parquet` data files.
    pub format: InputType,
    /// Column names, from `fileSchema` (CSV only).
    pub columns: Vec<String>,
    /// Data file keys, in the manifest's order.
    pub files: Vec<String>,
}

/// Reads an S3 Inventory manifest (`sourceBucket`, `destinationBucket`, `fileFormat`,
/// `fileSchema`, `files[].key`), as Step Functions' MANIFEST reader takes it.
pub fn inventory_manifest(text: &str) -> Result<Inventory, ReadError> {
    let manifest: Value = serde_json::from_str(text)
        .map_err(|e| ReadError(format!("the manifest is not valid JSON: {e}")))?;
    let field = |name: &str| {
        manifest.get(name).and_then(Value::as_str).ok_or_else(|| {
            ReadError(format!(
                "the manifest has no {name}; sluice reads S3 Inventory manifests (manifest.json)"
            ))
        })
    };
    let destination = field("destinationBucket")?;
    // The destination is written as a bucket ARN (arn:aws:s3:::name).
    let bucket = destination
        .rsplit_once(":::")
        .map_or(destination, |(_, name)| name)
        .to_string();
    let (format, columns) = match field("fileFormat")? {
        "CSV" => {
            let columns: Vec<String> = field("fileSchema")?
                .split(',')
                .map(|c| c.trim().to_string())
                .collect();
            (InputType::Csv, columns)
        }
        "Parquet" => (InputType::Parquet, Vec::new()),
        other => {
            return Err(ReadError(format!(
                "the manifest's fileFormat {other:?} is not read (CSV or Parquet)"
            )));
        }
    };
    let files = manifest
        .get("files")
        .and_then(Value::as_array)
        .ok_or_else(|| ReadError("the manifest has no files array".into()))?
        .iter()
        .map(|f| {
            f.get("key")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ReadError("a manifest file entry has no key".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Inventory {
        bucket,
        format,
        columns,
        files,
    })
}

/// Can the input type be read a byte range at a time (records are lines)?
pub fn reads_in_chunks(input_type: Option<InputType>) -> bool {
    matches!(input_type, Some(InputType::Jsonl | InputType::Csv))
}

/// Bytes of `text` that hold whole records: up to the last newline, which for CSV must be
/// outside quotes (a quoted field may hold newlines).
pub fn complete_records(text: &str, csv: bool) -> usize {
    if !csv {
        return text.rfind('\n').map_or(0, |i| i + 1);
    }
    let mut quoted = false;
    let mut end = 0;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => end = i + 1,
            _ => {}
        }
    }
    end
}

/// S3's `ContentRange` (`bytes FIRST-LAST/SIZE`) as (first, last, size).
pub fn content_range(text: &str) -> Option<(u64, u64, u64)> {
    let (range, size) = text.strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    Some((first.parse().ok()?, last.parse().ok()?, size.parse().ok()?))
}

impl Iterator for BodyItems {
    type Item = Result<Value, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = match &mut self.source {
            Source::Jsonl { body, at, line } => loop {
                if *at >= body.len() {
                    return None;
                }
                let rest = &body[*at..];
                let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
                let text = rest[..end].trim();
                *at += end;
                *line += 1;
                if text.is_empty() {
                    continue;
                }
                break serde_json::from_str(text)
                    .map_err(|e| ReadError(format!("line {line} is not valid JSON: {e}")));
            },
            Source::Csv { rows, names } => {
                let row = rows.next()?;
                row.map_err(|e| ReadError(format!("the CSV cannot be read: {e}")))
                    .map(|row| {
                        let mut item = Map::new();
                        for (i, name) in names.iter().enumerate() {
                            item.insert(name.clone(), json!(row.get(i).unwrap_or("")));
                        }
                        Value::Object(item)
                    })
            }
            Source::Values(values) => Ok(values.next()?),
            Source::Done => return None,
        };
        if item.is_err() {
            // A broken record ends the object: nothing after it is trusted.
            self.source = Source::Done;
        }
        Some(item)
    }
}

fn json_items(body: &str, pointer: Option<&str>) -> Result<Vec<Value>, ReadError> {
    let mut parsed: Value = serde_json::from_str(body)
        .map_err(|e| ReadError(format!("the object is not valid JSON: {e}")))?;
    let target = match pointer {
        Some(p) => parsed
            .pointer_mut(p)
            .ok_or_else(|| ReadError(format!("ItemsPointer {p:?} selects nothing")))?,
        None => &mut parsed,
    };
    match target {
        Value::Array(items) => Ok(std::mem::take(items)),
        _ => Err(ReadError(
            "Attempting to map over non-iterable node.".to_string(),
        )),
    }
}

/// CSV rows as objects of strings keyed by the header; short rows are padded with "" and
/// fields past the header are dropped, as Step Functions does.
fn csv_source(body: String, header: &CsvHeader, delimiter: u8) -> Result<Source, ReadError> {
    let reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(std::io::Cursor::new(body.into_bytes()));
    let mut rows = reader.into_records();
    let names: Vec<String> = match header {
        CsvHeader::Given(names) => names.clone(),
        CsvHeader::FirstRow => match rows.next() {
            Some(row) => row
                .map_err(|e| ReadError(format!("the CSV header cannot be read: {e}")))?
                .iter()
                .map(str::to_string)
                .collect(),
            None => return Ok(Source::Done),
        },
    };
    let mut seen = std::collections::HashSet::new();
    if !names.iter().all(|n| seen.insert(n.as_str())) {
        return Err(ReadError("CSV headers cannot contain duplicates.".into()));
    }
    Ok(Source::Csv { rows, names })
}

/// AWS's ceiling on one batch's input, also the default when only an item count is given.
pub const MAX_BATCH_BYTES: u64 = 256 * 1024;

/// Group selected items into child inputs `{"BatchInput"?, "Items": [...]}`: at most
/// `max_items` per batch and at most `max_bytes` of item JSON (an item larger than that goes
/// alone in its batch). Order is kept.
pub fn batches(
    items: Vec<Value>,
    max_items: Option<u64>,
    max_bytes: Option<u64>,
    batch_input: Option<&Value>,
) -> Vec<Value> {
    let mut batcher = Batcher::new(max_items, max_bytes, batch_input.cloned());
    let mut out: Vec<Value> = items.into_iter().filter_map(|i| batcher.push(i)).collect();
    out.extend(batcher.finish());
    out
}

/// [`batches`] one item at a time: `push` returns a batch when the item does not fit the one
/// being filled, `finish` the last one.
pub struct Batcher {
    max_items: u64,
    max_bytes: u64,
    batch_input: Option<Value>,
    current: Vec<Value>,
    bytes: u64,
}

impl Batcher {
    /// A batcher with the ItemBatcher's limits (AWS's byte ceiling applies regardless).
    pub fn new(max_items: Option<u64>, max_bytes: Option<u64>, batch_input: Option<Value>) -> Self {
        Batcher {
            max_items: max_items.unwrap_or(u64::MAX).max(1),
            max_bytes: max_bytes.unwrap_or(MAX_BATCH_BYTES).min(MAX_BATCH_BYTES),
            batch_input,
            current: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds one selected item; returns the batch it closed, if any.
    pub fn push(&mut self, item: Value) -> Option<Value> {
        let size = serde_json::to_string(&item).map_or(0, |s| s.len() as u64) + 1;
        let full = !self.current.is_empty()
            && (self.current.len() as u64 >= self.max_items || self.bytes + size > self.max_bytes);
        let closed = full.then(|| self.take());
        self.bytes += size;
        self.current.push(item);
        closed
    }

    /// The last, partly filled batch.
    pub fn finish(&mut self) -> Option<Value> {
        (!self.current.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> Value {
        self.bytes = 0;
        let mut batch = Map::new();
        if let Some(input) = &self.batch_input {
            batch.insert("BatchInput".into(), input.clone());
        }
        batch.insert(
            "Items".into(),
            Value::Array(std::mem::take(&mut self.current)),
        );
        Value::Object(batch)
    }
}

/// One iteration's outcome, as a result writer records it.
#[derive(Debug, Clone)]
pub struct IterationRecord {
    /// The child's input.
    pub input: Value,
    /// Its output, or the `{"Error", "Cause"}` of its failure.
    pub output: Value,
    pub succeeded: bool,
    /// The iteration's (synthetic) execution name and ARN.
    pub name: String,
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub start_date: String,
    pub stop_date: String,
}

impl IterationRecord {
    /// The full record (`Transformation: NONE`); failures always take this shape.
    pub fn full(&self) -> Value {
        let text = |v: &Value| serde_json::to_string(v).unwrap_or_default();
        let mut m = Map::new();
        m.insert("ExecutionArn".into(), json!(self.execution_arn));
        m.insert("Input".into(), json!(text(&self.input)));
        m.insert("InputDetails".into(), json!({"Included": true}));
        m.insert("Name".into(), json!(self.name));
        if self.succeeded {
            m.insert("Output".into(), json!(text(&self.output)));
            m.insert("OutputDetails".into(), json!({"Included": true}));
        } else {
            for field in ["Error", "Cause"] {
                if let Some(v) = self.output.get(field) {
                    m.insert(field.into(), v.clone());
                }
            }
        }
        m.insert("StartDate".into(), json!(self.start_date));
        m.insert("StateMachineArn".into(), json!(self.state_machine_arn));
        m.insert(
            "Status".into(),
            json!(if self.succeeded {
                "SUCCEEDED"
            } else {
                "FAILED"
            }),
        );
        m.insert("StopDate".into(), json!(self.stop_date));
        Value::Object(m)
    }
}

/// The records of `iterations` shaped by `transformation`.
pub fn shape_results(records: &[IterationRecord], transformation: Transformation) -> Vec<Value> {
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        shape_record(r, transformation, &mut out);
    }
    out
}

/// One record shaped by `transformation` (FLATTEN may give several values).
pub fn shape_record(
    record: &IterationRecord,
    transformation: Transformation,
    out: &mut Vec<Value>,
) {
    match (transformation, record.succeeded, &record.output) {
        (Transformation::None, _, _) | (_, false, _) => out.push(record.full()),
        (Transformation::Flatten, true, Value::Array(items)) => out.extend(items.iter().cloned()),
        (_, true, output) => out.push(output.clone()),
    }
}

/// Result files filled as iterations finish: one open file per status, kept as its text,
/// closed when it passes `split_bytes` (AWS splits at 5 GB) and at the end. What is closed is
/// handed to the caller to store, so results never pile up in memory.
pub struct ResultFiles {
    transformation: Transformation,
    output_type: OutputType,
    split_bytes: usize,
    /// The text of the open file per status (SUCCEEDED, FAILED), without its closing `]`.
    open: [String; 2],
    written: [usize; 2],
    /// Children and items in the open file per status.
    held: [(usize, usize); 2],
    shaped: Vec<Value>,
}

/// A closed result file: its status (`SUCCEEDED` / `FAILED`), sequence number and text.
#[derive(Debug, PartialEq)]
pub struct ResultFile {
    pub status: &'static str,
    pub index: usize,
    pub body: String,
    /// Children whose results it holds, and their items (a child may be a batch).
    pub children: usize,
    pub items: usize,
}

impl ResultFiles {
    /// Files in the writer's shape, each closed once it holds about `split_bytes` of JSON.
    pub fn new(
        transformation: Transformation,
        output_type: OutputType,
        split_bytes: usize,
    ) -> Self {
        ResultFiles {
            transformation,
            output_type,
            split_bytes: split_bytes.max(1),
            open: [String::new(), String::new()],
            written: [0, 0],
            held: [(0, 0); 2],
            shaped: Vec::new(),
        }
    }

    /// Adds one finished child holding `items` items; returns the file it filled, if any.
    pub fn push(&mut self, record: &IterationRecord, items: usize) -> Option<ResultFile> {
        let slot = usize::from(!record.succeeded);
        self.held[slot].0 += 1;
        self.held[slot].1 += items;
        let transformation = if record.succeeded {
            self.transformation
        } else {
            Transformation::None
        };
        shape_record(record, transformation, &mut self.shaped);
        let text = &mut self.open[slot];
        for value in self.shaped.drain(..) {
            match self.output_type {
                OutputType::Json => text.push(if text.is_empty() { '[' } else { ',' }),
                OutputType::Jsonl => {}
            }
            text.push_str(&serde_json::to_string(&value).unwrap_or_default());
            if self.output_type == OutputType::Jsonl {
                text.push('\n');
            }
        }
        (text.len() >= self.split_bytes).then(|| self.close(slot))
    }

    /// Closes the files still open.
    pub fn finish(&mut self) -> Vec<ResultFile> {
        let mut closed = Vec::new();
        for slot in 0..2 {
            if !self.open[slot].is_empty() {
                closed.push(self.close(slot));
            }
        }
        closed
    }

    fn close(&mut self, slot: usize) -> ResultFile {
        let mut body = std::mem::take(&mut self.open[slot]);
        if self.output_type == OutputType::Json {
            body.push(']');
        }
        let index = self.written[slot];
        self.written[slot] += 1;
        let (children, items) = std::mem::take(&mut self.held[slot]);
        ResultFile {
            status: ["SUCCEEDED", "FAILED"][slot],
            index,
            body,
            children,
            items,
        }
    }
}

/// A results file's text in the writer's output type.
pub fn render(values: &[Value], output_type: OutputType) -> String {
    match output_type {
        OutputType::Json => serde_json::to_string(values).unwrap_or_default(),
        OutputType::Jsonl => {
            let mut s = String::new();
            for v in values {
                s.push_str(&serde_json::to_string(v).unwrap_or_default());
                s.push('\n');
            }
            s
        }
    }
}

/// The ItemProcessor of the Distributed Map labelled `label` (its `Label`, else its state
/// name) in a definition, anywhere in it: the definition its Map Run's children run, as
/// `DescribeStateMachineForExecution` of a child shows it.
pub fn processor_definition<'a>(definition: &'a Value, label: &str) -> Option<&'a Value> {
    let states = definition.get("States")?.as_object()?;
    for (name, state) in states {
        let processor = state.get("ItemProcessor").or_else(|| state.get("Iterator"));
        if let Some(processor) = processor {
            let distributed = processor
                .get("ProcessorConfig")
                .and_then(|c| c.get("Mode"))
                .and_then(Value::as_str)
                == Some("DISTRIBUTED");
            let own = state.get("Label").and_then(Value::as_str).unwrap_or(name);
            if distributed && own == label {
                return Some(processor);
            }
            if let Some(found) = processor_definition(processor, label) {
                return Some(found);
            }
        }
        for branch in state
            .get("Branches")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(found) = processor_definition(branch, label) {
                return Some(found);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(input_type: InputType) -> ItemReader {
        ItemReader {
            resource: "arn:aws:states:::s3:getObject".into(),
            arguments: None,
            input_type: Some(input_type),
            load_and_flatten: false,
            csv_header: CsvHeader::FirstRow,
            csv_delimiter: b',',
            max_items: None,
            items_pointer: None,
        }
    }

    #[test]
    fn csv_rows_become_objects_of_strings() {
        let body = "id,name,score\n1,\"Smith, J\",3.5\n2,Lee\n3,Kim,1,extra\n";
        let items = parse_items(body, &reader(InputType::Csv)).expect("parses");
        assert_eq!(
            items,
            vec![
                json!({"id": "1", "name": "Smith, J", "score": "3.5"}),
                json!({"id": "2", "name": "Lee", "score": ""}),
                json!({"id": "3", "name": "Kim", "score": "1"}),
            ]
        );
        let mut given = reader(InputType::Csv);
        given.csv_header = CsvHeader::Given(vec!["a".into(), "b".into()]);
        given.csv_delimiter = b'|';
        assert_eq!(
            parse_items("x|y\n", &given).expect("parses"),
            vec![json!({"a": "x", "b": "y"})]
        );
        let dup = parse_items("a,a\n1,2\n", &reader(InputType::Csv)).expect_err("duplicates");
        assert!(dup.0.contains("duplicates"));
    }

    #[test]
    fn json_and_jsonl_items() {
        let mut r = reader(InputType::Json);
        assert_eq!(
            parse_items("[1, {\"a\": 2}]", &r).expect("array"),
            vec![json!(1), json!({"a": 2})]
        );
        assert!(parse_items("{\"a\": 1}", &r).is_err());
        r.items_pointer = Some("/a/b".into());
        assert_eq!(
            parse_items("{\"a\": {\"b\": [true]}}", &r).expect("pointer"),
            vec![json!(true)]
        );
        let lines = parse_items("{\"n\":1}\n\n{\"n\":2}\n", &reader(InputType::Jsonl));
        assert_eq!(
            lines.expect("lines"),
            vec![json!({"n": 1}), json!({"n": 2})]
        );
        assert!(parse_items("{\"n\":1}\nnope\n", &reader(InputType::Jsonl)).is_err());
    }

    #[test]
    fn batches_respect_count_and_bytes() {
        let items: Vec<Value> = (0..1130).map(|i| json!(i)).collect();
        let out = batches(items, Some(100), None, Some(&json!({"k": 1})));
        assert_eq!(out.len(), 12);
        assert_eq!(out[11]["Items"].as_array().map(Vec::len), Some(30));
        assert_eq!(out[0]["BatchInput"], json!({"k": 1}));
        // "xxxxxxxxxx" is 12 bytes of JSON, plus one for the separator.
        let items: Vec<Value> = (0..5).map(|_| json!("xxxxxxxxxx")).collect();
        let out = batches(items, None, Some(26), None);
        assert_eq!(out.len(), 3);
        assert!(out[0].get("BatchInput").is_none());
    }

    #[test]
    fn writer_transformations() {
        let record = |output: Value, succeeded: bool| IterationRecord {
            input: json!({"i": 1}),
            output,
            succeeded,
            name: "n".into(),
            execution_arn: "arn".into(),
            state_machine_arn: "sm".into(),
            start_date: "s".into(),
            stop_date: "e".into(),
        };
        let records = vec![
            record(json!([1, 2]), true),
            record(json!({"Error": "E", "Cause": "c"}), false),
        ];
        let compact = shape_results(&records, Transformation::Compact);
        assert_eq!(compact[0], json!([1, 2]));
        assert_eq!(compact[1]["Status"], "FAILED");
        assert_eq!(compact[1]["Error"], "E");
        let flat = shape_results(&records, Transformation::Flatten);
        assert_eq!(flat.len(), 3);
        let full = shape_results(&records, Transformation::None);
        assert_eq!(full[0]["Output"], "[1,2]");
        assert_eq!(full[0]["Input"], "{\"i\":1}");
        assert_eq!(render(&flat[..2], OutputType::Jsonl), "1\n2\n");
    }

    /// Items come out one at a time; a broken record ends the object with its line number.
    #[test]
    fn body_items_stream_and_stop_at_a_broken_record() {
        let body = "{\"n\":1}\n\n{\"n\":2}\nnope\n{\"n\":3}\n".to_string();
        let mut items = BodyItems::new(body, &reader(InputType::Jsonl)).expect("opens");
        assert_eq!(items.next().map(Result::ok), Some(Some(json!({"n": 1}))));
        assert_eq!(items.next().map(Result::ok), Some(Some(json!({"n": 2}))));
        let broken = items
            .next()
            .expect("an error")
            .expect_err("line 4 is broken");
        assert!(broken.0.contains("line 4"), "{broken}");
        assert!(items.next().is_none());
        let csv = BodyItems::new("a,b\n1,2\n3,4\n".into(), &reader(InputType::Csv));
        let rows: Vec<Value> = csv.expect("opens").map(|r| r.expect("row")).collect();
        assert_eq!(
            rows,
            vec![json!({"a": "1", "b": "2"}), json!({"a": "3", "b": "4"})]
        );
    }

    /// A streamed batcher gives the same batches as the whole-list one.
    #[test]
    fn streamed_batches_match() {
        let items: Vec<Value> = (0..257).map(|i| json!({"i": i})).collect();
        let whole = batches(items.clone(), Some(10), Some(100), None);
        let mut batcher = Batcher::new(Some(10), Some(100), None);
        let mut streamed: Vec<Value> = items.into_iter().filter_map(|i| batcher.push(i)).collect();
        streamed.extend(batcher.finish());
        assert_eq!(whole, streamed);
        assert!(batcher.finish().is_none());
    }

    /// Result files close at the split size, per status, and the rest close at the end.
    #[test]
    fn result_files_split_as_they_fill() {
        let record = |i: u64, succeeded: bool| IterationRecord {
            input: json!(i),
            output: if succeeded {
                json!({"n": i})
            } else {
                json!({"Error": "E"})
            },
            succeeded,
            name: format!("n{i}"),
            execution_arn: "arn".into(),
            state_machine_arn: "sm".into(),
            start_date: "s".into(),
            stop_date: "e".into(),
        };
        let mut files = ResultFiles::new(Transformation::Compact, OutputType::Jsonl, 20);
        let mut closed = Vec::new();
        for i in 0..7 {
            closed.extend(files.push(&record(i, i != 3), 1));
        }
        // Each compact success is 8 bytes with its newline, so a file closes every 3; the one
        // full failure record is past the limit alone.
        let order: Vec<(&str, usize)> = closed.iter().map(|f| (f.status, f.index)).collect();
        assert_eq!(order, [("SUCCEEDED", 0), ("FAILED", 0), ("SUCCEEDED", 1)]);
        assert_eq!(closed[0].body, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
        assert!(closed[1].body.contains("\"Error\":\"E\""));
        let counts: Vec<(usize, usize)> = closed.iter().map(|f| (f.children, f.items)).collect();
        assert_eq!(counts, [(3, 3), (1, 1), (3, 3)]);
        let mut more = ResultFiles::new(Transformation::Compact, OutputType::Json, 1 << 20);
        assert!(more.push(&record(9, true), 1).is_none());
        let rest = more.finish();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].body, "[{\"n\":9}]");
        assert!(more.finish().is_empty());
        assert!(files.finish().is_empty());
    }

    /// Chunk boundaries fall after whole records, never inside a quoted CSV field.
    #[test]
    fn records_are_cut_whole() {
        assert_eq!(complete_records("{\"a\":1}\n{\"a\"", false), 8);
        assert_eq!(complete_records("no newline", false), 0);
        let csv = "a,b\n1,\"x\ny\"\n2,\"z";
        assert_eq!(&csv[..complete_records(csv, true)], "a,b\n1,\"x\ny\"\n");
        assert_eq!(content_range("bytes 0-99/1000"), Some((0, 99, 1000)));
        assert_eq!(content_range("bytes */0"), None);
    }

    /// An S3 Inventory manifest gives its data files, their format and the CSV columns.
    #[test]
    fn inventory_manifests() {
        let text = r#"{"sourceBucket": "photos", "destinationBucket": "arn:aws:s3:::inventory",
            "version": "2016-11-30", "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size",
            "files": [{"key": "photos/all/data/a.csv.gz", "size": 10, "MD5checksum": "x"}]}"#;
        let inventory = inventory_manifest(text).expect("a manifest");
        assert_eq!(inventory.bucket, "inventory");
        assert_eq!(inventory.format, InputType::Csv);
        assert_eq!(inventory.columns, ["Bucket", "Key", "Size"]);
        assert_eq!(inventory.files, ["photos/all/data/a.csv.gz"]);
        let orc = text.replace("\"CSV\"", "\"ORC\"");
        assert!(inventory_manifest(&orc).expect_err("ORC").0.contains("ORC"));
        assert!(inventory_manifest("{}").is_err());
    }

    #[test]
    fn a_map_runs_processor_is_found_by_label_or_name() {
        let def = json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "Fan", "States": {
                "Fan": {"Type": "Map", "Label": "files", "End": true, "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED"},
                    "StartAt": "Inner", "States": {"Inner": {"Type": "Map", "End": true,
                        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"},
                            "StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}}}}}}}]}}});
        let files = processor_definition(&def, "files").expect("by label");
        assert_eq!(files["StartAt"], "Inner");
        let inner = processor_definition(&def, "Inner").expect("by state name");
        assert_eq!(inner["StartAt"], "X");
        assert!(
            processor_definition(&def, "Fan").is_none(),
            "a Label replaces the name"
        );
    }
}
