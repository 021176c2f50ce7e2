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
    match reader.input_type {
        Some(InputType::Json) => json_items(body, reader.items_pointer.as_deref()),
        Some(InputType::Jsonl) => body
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| {
                serde_json::from_str(line)
                    .map_err(|e| ReadError(format!("line {} is not valid JSON: {e}", n + 1)))
            })
            .collect(),
        Some(InputType::Csv) => csv_items(body, &reader.csv_header, reader.csv_delimiter),
        Some(other) => Err(ReadError(format!(
            "sluice does not read InputType {} yet",
            match other {
                InputType::Parquet => "PARQUET",
                _ => "MANIFEST",
            }
        ))),
        None => Err(ReadError(
            "ReaderConfig.InputType is required to read an object's content".into(),
        )),
    }
}

fn json_items(body: &str, pointer: Option<&str>) -> Result<Vec<Value>, ReadError> {
    let parsed: Value = serde_json::from_str(body)
        .map_err(|e| ReadError(format!("the object is not valid JSON: {e}")))?;
    let target = match pointer {
        Some(p) => parsed
            .pointer(p)
            .ok_or_else(|| ReadError(format!("ItemsPointer {p:?} selects nothing")))?,
        None => &parsed,
    };
    match target {
        Value::Array(items) => Ok(items.clone()),
        _ => Err(ReadError(
            "Attempting to map over non-iterable node.".to_string(),
        )),
    }
}

/// CSV rows as objects of strings keyed by the header; short rows are padded with "" and
/// fields past the header are dropped, as Step Functions does.
fn csv_items(body: &str, header: &CsvHeader, delimiter: u8) -> Result<Vec<Value>, ReadError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(body.as_bytes());
    let mut records = reader.records();
    let names: Vec<String> = match header {
        CsvHeader::Given(names) => names.clone(),
        CsvHeader::FirstRow => match records.next() {
            Some(row) => row
                .map_err(|e| ReadError(format!("the CSV header cannot be read: {e}")))?
                .iter()
                .map(str::to_string)
                .collect(),
            None => return Ok(Vec::new()),
        },
    };
    let mut seen = std::collections::HashSet::new();
    if !names.iter().all(|n| seen.insert(n.as_str())) {
        return Err(ReadError("CSV headers cannot contain duplicates.".into()));
    }
    let mut items = Vec::new();
    for row in records {
        let row = row.map_err(|e| ReadError(format!("the CSV cannot be read: {e}")))?;
        let mut item = Map::new();
        for (i, name) in names.iter().enumerate() {
            item.insert(name.clone(), json!(row.get(i).unwrap_or("")));
        }
        items.push(Value::Object(item));
    }
    Ok(items)
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
    let max_items = max_items.unwrap_or(u64::MAX).max(1);
    let max_bytes = max_bytes.unwrap_or(MAX_BATCH_BYTES).min(MAX_BATCH_BYTES);
    let mut out = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    let mut bytes = 0u64;
    let mut flush = |current: &mut Vec<Value>| {
        let mut batch = Map::new();
        if let Some(input) = batch_input {
            batch.insert("BatchInput".into(), input.clone());
        }
        batch.insert("Items".into(), Value::Array(std::mem::take(current)));
        out.push(Value::Object(batch));
    };
    for item in items {
        let size = serde_json::to_string(&item).map_or(0, |s| s.len() as u64) + 1;
        if !current.is_empty() && (current.len() as u64 >= max_items || bytes + size > max_bytes) {
            flush(&mut current);
            bytes = 0;
        }
        bytes += size;
        current.push(item);
    }
    if !current.is_empty() {
        flush(&mut current);
    }
    out
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
        match (transformation, r.succeeded, &r.output) {
            (Transformation::None, _, _) | (_, false, _) => out.push(r.full()),
            (Transformation::Flatten, true, Value::Array(items)) => {
                out.extend(items.iter().cloned())
            }
            (_, true, output) => out.push(output.clone()),
        }
    }
    out
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
}
