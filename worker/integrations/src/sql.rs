//! The `sluice-sql` handler: DataFusion SQL over named inputs in object storage (local paths,
//! `file://`, `s3://`; Parquet, CSV, JSON/NDJSON; files or prefixes), with the result written
//! to an output URL and returned as a reference, so data never travels through the
//! orchestrator.
//!
//! Task input:
//! ```json
//! {"query": "SELECT region, sum(amount) AS total FROM sales GROUP BY region",
//!  "inputs": {"sales": "file:///data/sales/"},            // a file, a prefix or a glob
//!  // or {"uri": "s3://b/sales/", "format": "csv", "partitions": ["region"]} for hive-style
//!  // `region=…/` directories (the partition columns are strings)
//!  "output": "file:///data/report.parquet",              // optional; .parquet, .csv or .json
//!  "inline": 100}                                          // optional: also return ≤ N rows
//! ```
//! Result: `{"uri", "format", "rows", "bytes", "schema": [{"name", "type"}], "inline"?: [...]}`.

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::json::ArrayWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionContext};
use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::{Map, Value, json};
use url::Url;

use crate::objects::Buckets;

/// A failed SQL task: an error name and a cause, as SendTaskFailure takes them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct SqlFailure {
    pub error: &'static str,
    pub cause: String,
}

fn invalid(cause: impl Into<String>) -> SqlFailure {
    SqlFailure {
        error: "Sluice.InvalidInput",
        cause: cause.into(),
    }
}

fn query_failed(e: impl std::fmt::Display) -> SqlFailure {
    SqlFailure {
        error: "Sluice.SqlFailed",
        cause: e.to_string(),
    }
}

/// Data formats the handler reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Parquet,
    Csv,
    Json,
}

impl Format {
    fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "parquet" => Some(Format::Parquet),
            "csv" => Some(Format::Csv),
            "json" | "ndjson" | "jsonl" => Some(Format::Json),
            _ => None,
        }
    }

    /// From a file name's extension (a prefix has none: Parquet is assumed).
    fn of(uri: &str) -> Format {
        let name = uri.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some(ext) => Format::parse(ext).unwrap_or(Format::Parquet),
            None => Format::Parquet,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// A local path or URL as a URL DataFusion resolves (`file://` for local paths).
fn normalise(uri: &str) -> Result<String, SqlFailure> {
    if uri.contains("://") {
        Url::parse(uri).map_err(|e| invalid(format!("{uri:?} is not a URL: {e}")))?;
        return Ok(uri.to_string());
    }
    let path = std::path::absolute(uri).map_err(|e| invalid(format!("{uri:?}: {e}")))?;
    let mut url = Url::from_file_path(&path)
        .map_err(|()| invalid(format!("{uri:?} is not a usable path")))?
        .to_string();
    if uri.ends_with('/') && !url.ends_with('/') {
        url.push('/');
    }
    Ok(url)
}

/// Register the bucket of an `s3://` URL (see [`Buckets`]: S3 with credentials from the usual
/// environment, or a local directory standing in for it).
fn register_store(ctx: &SessionContext, buckets: &Buckets, uri: &str) -> Result<(), SqlFailure> {
    let url = Url::parse(uri).map_err(|e| invalid(format!("{uri:?}: {e}")))?;
    if url.scheme() != "s3" {
        return Ok(());
    }
    let bucket = url
        .host_str()
        .ok_or_else(|| invalid(format!("{uri:?} names no bucket")))?;
    let store = buckets.open(bucket).map_err(query_failed)?;
    let base = Url::parse(&format!("s3://{bucket}")).map_err(query_failed)?;
    ctx.register_object_store(&base, store);
    Ok(())
}

/// Does the URL's path hold glob characters (`*`, `?`, `[`)?
fn is_glob(url: &str) -> bool {
    Url::parse(url).is_ok_and(|u| u.path().contains(['*', '?', '[']))
}

/// The files a glob URL matches, as URLs, in key order: the store is listed under the part of
/// the path before the first glob character. DataFusion itself expands globs only in local
/// paths; this serves `s3://` the same way.
async fn expand_glob(buckets: &Buckets, url: &str) -> Result<Vec<String>, SqlFailure> {
    use futures::TryStreamExt;
    let parsed = Url::parse(url).map_err(|e| invalid(format!("{url:?}: {e}")))?;
    let pattern_text = Path::from_url_path(parsed.path())
        .map_err(|e| invalid(format!("{url:?}: {e}")))?
        .to_string();
    let (store, base): (Arc<dyn ObjectStore>, String) = match parsed.scheme() {
        "s3" => {
            let bucket = parsed
                .host_str()
                .ok_or_else(|| invalid(format!("{url:?} names no bucket")))?;
            (
                buckets.open(bucket).map_err(query_failed)?,
                format!("s3://{bucket}/"),
            )
        }
        "file" => (
            Arc::new(object_store::local::LocalFileSystem::new()),
            "file:///".to_string(),
        ),
        other => {
            return Err(invalid(format!(
                "globs are not supported for {other}:// URLs"
            )));
        }
    };
    let pattern = glob::Pattern::new(&pattern_text)
        .map_err(|e| invalid(format!("{url:?} is not a valid glob: {e}")))?;
    let literal = &pattern_text[..pattern_text.find(['*', '?', '[']).unwrap_or(0)];
    let dir = literal.rsplit_once('/').map_or("", |(d, _)| d);
    let options = glob::MatchOptions {
        require_literal_separator: true,
        ..Default::default()
    };
    let mut files: Vec<String> = store
        .list((!dir.is_empty()).then(|| Path::from(dir)).as_ref())
        .try_filter_map(|meta| {
            let key = meta.location.as_ref().to_string();
            futures::future::ready(Ok(pattern.matches_with(&key, options).then_some(key)))
        })
        .try_collect()
        .await
        .map_err(|e| query_failed(format!("listing {url}: {e}")))?;
    if files.is_empty() {
        return Err(query_failed(format!("no file matches {url}")));
    }
    files.sort();
    Ok(files
        .into_iter()
        .map(|key| format!("{base}{key}"))
        .collect())
}

/// Hive-style partition columns (`region=north/…`), read as strings.
fn partition_columns(
    input: &str,
    v: Option<&Value>,
) -> Result<Vec<(String, DataType)>, SqlFailure> {
    let Some(v) = v else { return Ok(Vec::new()) };
    v.as_array()
        .and_then(|cols| {
            cols.iter()
                .map(|c| c.as_str().map(|c| (c.to_string(), DataType::Utf8)))
                .collect()
        })
        .ok_or_else(|| {
            invalid(format!(
                "input {input:?}: \"partitions\" must be an array of column names"
            ))
        })
}

/// Register one named input: a URI, or `{"uri", "format", "partitions"}`.
pub(crate) async fn register_input(
    ctx: &SessionContext,
    buckets: &Buckets,
    name: &str,
    spec: &Value,
) -> Result<(), SqlFailure> {
    let (uri, format, partitions) = match spec {
        Value::String(u) => (u.clone(), None, Vec::new()),
        Value::Object(o) => (
            o.get("uri")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("input {name:?} needs a \"uri\"")))?
                .to_string(),
            o.get("format").and_then(Value::as_str).map(str::to_string),
            partition_columns(name, o.get("partitions"))?,
        ),
        _ => {
            return Err(invalid(format!(
                "input {name:?} must be a URI or {{\"uri\", \"format\", \"partitions\"}}"
            )));
        }
    };
    let url = normalise(&uri)?;
    register_store(ctx, buckets, &url)?;
    let format = match format {
        Some(f) => Format::parse(&f).ok_or_else(|| invalid(format!("unknown format {f:?}")))?,
        None => Format::of(&url),
    };
    if is_glob(&url) {
        if !partitions.is_empty() {
            return Err(invalid(format!(
                "input {name:?}: partitions need a prefix, not a glob"
            )));
        }
        let files = expand_glob(buckets, &url).await?;
        let df = match format {
            Format::Parquet => ctx.read_parquet(files, ParquetReadOptions::default()).await,
            Format::Csv => ctx.read_csv(files, CsvReadOptions::new()).await,
            Format::Json => ctx.read_json(files, JsonReadOptions::default()).await,
        }
        .map_err(|e| query_failed(format!("input {name:?} ({url}): {e}")))?;
        ctx.register_table(name, df.into_view())
            .map_err(query_failed)?;
        return Ok(());
    }
    let done = match format {
        Format::Parquet => {
            let options = ParquetReadOptions::default().table_partition_cols(partitions);
            ctx.register_parquet(name, &url, options).await
        }
        Format::Csv => {
            let options = CsvReadOptions::new().table_partition_cols(partitions);
            ctx.register_csv(name, &url, options).await
        }
        Format::Json => {
            let options = JsonReadOptions::default().table_partition_cols(partitions);
            ctx.register_json(name, &url, options).await
        }
    };
    done.map_err(|e| query_failed(format!("input {name:?} ({url}): {e}")))
}

/// Run one SQL task over `buckets`.
pub async fn run(input: &Value, buckets: &Buckets) -> Result<Value, SqlFailure> {
    let query = input
        .get("query")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("sluice-sql needs a \"query\" string"))?;
    let ctx = SessionContext::new();
    let inputs = input
        .get("inputs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (name, spec) in &inputs {
        register_input(&ctx, buckets, name, spec).await?;
    }
    let df = ctx.sql(query).await.map_err(query_failed)?;
    let schema: Vec<Value> = df
        .schema()
        .fields()
        .iter()
        .map(|f| json!({"name": f.name(), "type": f.data_type().to_string()}))
        .collect();
    let mut out = Map::new();
    if let Some(limit) = input.get("inline").and_then(Value::as_u64) {
        let rows = df
            .clone()
            .limit(0, Some(limit as usize))
            .map_err(query_failed)?
            .collect()
            .await
            .map_err(query_failed)?;
        out.insert("inline".into(), batches_to_json(&rows)?);
    }
    match input.get("output").and_then(Value::as_str) {
        Some(target) => {
            let url = normalise(target)?;
            register_store(&ctx, buckets, &url)?;
            let format = Format::of(&url);
            let options = DataFrameWriteOptions::new().with_single_file_output(true);
            let written = match format {
                Format::Parquet => df.write_parquet(&url, options, None).await,
                Format::Csv => df.write_csv(&url, options, None).await,
                Format::Json => df.write_json(&url, options, None).await,
            }
            .map_err(query_failed)?;
            let rows = count(&written);
            out.insert("uri".into(), json!(url));
            out.insert("format".into(), json!(format.name()));
            out.insert("rows".into(), json!(rows));
            out.insert("bytes".into(), json!(size_of(buckets, &url).await));
        }
        None if out.contains_key("inline") => {}
        None => {
            let rows = df.count().await.map_err(query_failed)?;
            out.insert("rows".into(), json!(rows));
        }
    }
    out.insert("schema".into(), Value::Array(schema));
    Ok(Value::Object(out))
}

/// Rows written, from the `count` column DataFusion's writers return.
fn count(batches: &[RecordBatch]) -> u64 {
    use datafusion::arrow::array::{Array, UInt64Array};
    batches
        .iter()
        .filter_map(|b| b.column(0).as_any().downcast_ref::<UInt64Array>())
        .map(|a| (0..a.len()).map(|i| a.value(i)).sum::<u64>())
        .sum()
}

/// Size of the written object, for the reference (`None` when it cannot be read back).
async fn size_of(buckets: &Buckets, url: &str) -> Option<u64> {
    let url = Url::parse(url).ok()?;
    if url.scheme() == "s3" {
        let store = buckets.open(url.host_str()?).ok()?;
        let key = url.path().trim_start_matches('/');
        return store.head(&Path::from(key)).await.ok().map(|m| m.size);
    }
    let path = url.to_file_path().ok()?;
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn batches_to_json(batches: &[RecordBatch]) -> Result<Value, SqlFailure> {
    let mut buf = Vec::new();
    {
        let mut writer = ArrayWriter::new(&mut buf);
        let refs: Vec<&RecordBatch> = batches.iter().collect();
        writer.write_batches(&refs).map_err(query_failed)?;
        writer.finish().map_err(query_failed)?;
    }
    if buf.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    serde_json::from_slice(&buf).map_err(query_failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn csv_to_parquet_with_a_reference() {
        let dir = std::env::temp_dir().join(format!("sluice-sql-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(
            dir.join("sales.csv"),
            "region,amount\nnorth,10\nsouth,5\nnorth,7\n",
        )
        .expect("write csv");
        let input = json!({
            "query": "SELECT region, sum(amount) AS total FROM sales GROUP BY region ORDER BY region",
            "inputs": {"sales": dir.join("sales.csv").display().to_string()},
            "output": dir.join("report.parquet").display().to_string(),
            "inline": 10,
        });
        let out = run(&input, &Buckets::default()).await.expect("query runs");
        assert_eq!(out["rows"], 2);
        assert_eq!(out["format"], "parquet");
        assert!(out["bytes"].as_u64().is_some_and(|b| b > 0));
        assert_eq!(
            out["inline"],
            json!([{"region": "north", "total": 17}, {"region": "south", "total": 5}])
        );
        // The reference is readable by the next step.
        let next = json!({
            "query": "SELECT count(*) AS n FROM report",
            "inputs": {"report": out["uri"]},
            "inline": 1,
        });
        assert_eq!(
            run(&next, &Buckets::default())
                .await
                .expect("reads the reference")["inline"],
            json!([{"n": 2}])
        );
        let bad = run(&json!({"query": "SELEC nonsense"}), &Buckets::default())
            .await
            .expect_err("bad SQL");
        assert_eq!(bad.error, "Sluice.SqlFailed");
    }

    #[tokio::test]
    async fn globs_and_partitioned_prefixes() {
        let dir = std::env::temp_dir().join(format!("sluice-sql-parts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (region, file, rows) in [
            ("north", "part-1.csv", "amount\n10\n7\n"),
            ("south", "part-2.csv", "amount\n5\n"),
        ] {
            let d = dir.join(format!("sales/region={region}"));
            std::fs::create_dir_all(&d).expect("partition dir");
            std::fs::write(d.join(file), rows).expect("write csv");
        }
        std::fs::write(dir.join("sales/region=north/notes.txt"), "ignored").expect("write");
        let sales = format!("{}/", dir.join("sales").display());
        let input = json!({
            "query": "SELECT region, sum(amount) AS total FROM sales GROUP BY region ORDER BY region",
            "inputs": {"sales": {"uri": sales, "format": "csv", "partitions": ["region"]}},
            "inline": 10,
        });
        let out = run(&input, &Buckets::default())
            .await
            .expect("partitioned query");
        assert_eq!(
            out["inline"],
            json!([{"region": "north", "total": 17}, {"region": "south", "total": 5}])
        );
        // A glob picks files across the partitions.
        let glob = format!("{}/sales/region=*/part-*.csv", dir.display());
        let input = json!({
            "query": "SELECT count(*) AS n FROM sales",
            "inputs": {"sales": glob},
            "inline": 1,
        });
        assert_eq!(
            run(&input, &Buckets::default()).await.expect("glob")["inline"],
            json!([{"n": 3}])
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
