//! Amazon S3 calls as Step Functions makes them: the Distributed Map's reader and writer
//! resources (`arn:aws:states:::s3:listObjectsV2`, `…:s3:getObject`, `…:s3:putObject`) and the
//! same three actions as AWS SDK integrations (`arn:aws:states:::aws-sdk:s3:…`), over the buckets
//! [`crate::objects`] resolves.
//!
//! Inputs and outputs use the S3 API's PascalCase names (`Bucket`, `Key`, `Prefix`,
//! `ContinuationToken`, `Contents`, `NextContinuationToken`, …).

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::{Map, Value, json};

use sluice_task::{Pattern, Resource, Target};

use crate::objects::Buckets;

/// A failed S3 call: the Step Functions error name (`S3.<Code>`) and a cause.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct S3Failure {
    pub error: String,
    pub cause: String,
}

impl S3Failure {
    fn new(code: &str, cause: impl Into<String>) -> Self {
        S3Failure {
            error: format!("S3.{code}"),
            cause: cause.into(),
        }
    }
}

/// Which caller's result shape to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A Distributed Map `ItemReader`: each listed object is an item
    /// `{"Etag", "Key", "LastModified" (epoch seconds), "Size", "StorageClass"}`.
    ItemReader,
    /// An AWS SDK integration (`aws-sdk:s3:…`): the S3 API's response, timestamps as ISO 8601.
    Sdk,
}

/// The S3 actions sluice serves, by `Resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ListObjectsV2(Shape),
    GetObject(Shape),
    PutObject(Shape),
    /// `aws-sdk:s3:headObject`, `getObjectAttributes`, `copyObject`, `deleteObject`,
    /// `deleteObjects`: the object calls definitions make beside reading and writing.
    HeadObject,
    GetObjectAttributes,
    CopyObject,
    DeleteObject,
    DeleteObjects,
}

impl Action {
    /// The action a Task/ItemReader/ResultWriter `Resource` names, in any partition.
    pub fn of(resource: &Resource) -> Option<Action> {
        let (shape, name) = match &resource.target {
            Target::Service {
                service,
                action,
                pattern: Pattern::RequestResponse,
            } if service == "s3" => (Shape::ItemReader, action.as_str()),
            Target::AwsSdk {
                service,
                action,
                pattern: Pattern::RequestResponse,
            } if service == "s3" => (Shape::Sdk, action.as_str()),
            _ => return None,
        };
        match name {
            "listObjectsV2" => Some(Action::ListObjectsV2(shape)),
            "getObject" => Some(Action::GetObject(shape)),
            "putObject" => Some(Action::PutObject(shape)),
            _ if shape == Shape::ItemReader => None,
            "headObject" => Some(Action::HeadObject),
            "getObjectAttributes" => Some(Action::GetObjectAttributes),
            "copyObject" => Some(Action::CopyObject),
            "deleteObject" => Some(Action::DeleteObject),
            "deleteObjects" => Some(Action::DeleteObjects),
            _ => None,
        }
    }

    /// Run the action with the state's parameters.
    pub async fn run(self, buckets: &Buckets, params: &Value) -> Result<Value, S3Failure> {
        match self {
            Action::ListObjectsV2(shape) => list_objects_v2(buckets, params, shape).await,
            Action::GetObject(shape) => get_object(buckets, params, shape).await,
            Action::PutObject(_) => put_object(buckets, params).await,
            Action::HeadObject => head_object(buckets, params, false).await,
            Action::GetObjectAttributes => head_object(buckets, params, true).await,
            Action::CopyObject => copy_object(buckets, params).await,
            Action::DeleteObject => delete_objects(buckets, params, false).await,
            Action::DeleteObjects => delete_objects(buckets, params, true).await,
        }
    }
}

fn field<'a>(params: &'a Value, name: &str) -> Result<&'a str, S3Failure> {
    params.get(name).and_then(Value::as_str).ok_or_else(|| {
        S3Failure::new(
            "InvalidRequest",
            format!("the parameter {name} is missing or not a string"),
        )
    })
}

fn optional<'a>(params: &'a Value, name: &str) -> Option<&'a str> {
    params.get(name).and_then(Value::as_str)
}

fn open(buckets: &Buckets, bucket: &str) -> Result<Arc<dyn ObjectStore>, S3Failure> {
    buckets
        .open(bucket)
        .map_err(|e| S3Failure::new("InvalidBucketName", e.to_string()))
}

/// Map an object_store error to S3's error codes.
fn failed(bucket: &str, key: &str, e: object_store::Error) -> S3Failure {
    match e {
        object_store::Error::NotFound { .. } => S3Failure::new(
            "NoSuchKey",
            format!("The specified key does not exist. (Bucket: {bucket}, Key: {key})"),
        ),
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            S3Failure::new("AccessDenied", format!("Access Denied (Bucket: {bucket})"))
        }
        other => {
            let text = other.to_string();
            if text.contains("NoSuchBucket") {
                S3Failure::new(
                    "NoSuchBucket",
                    format!("The specified bucket does not exist (Bucket: {bucket})"),
                )
            } else {
                S3Failure::new("S3Exception", text)
            }
        }
    }
}

/// ETags as S3 sends them, in double quotes (a local directory's tags come without).
fn quoted(etag: Option<&str>) -> String {
    match etag {
        Some(t) if t.starts_with('"') => t.to_string(),
        Some(t) => format!("\"{t}\""),
        None => String::new(),
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A listed object as the caller expects it.
fn listed(meta: &ObjectMeta, shape: Shape) -> Value {
    let etag = quoted(meta.e_tag.as_deref());
    match shape {
        Shape::ItemReader => json!({
            "Etag": etag,
            "Key": meta.location.as_ref(),
            "LastModified": meta.last_modified.timestamp(),
            "Size": meta.size,
            // object_store does not report storage classes; objects are read as STANDARD.
            "StorageClass": "STANDARD",
        }),
        Shape::Sdk => json!({
            "ETag": etag,
            "Key": meta.location.as_ref(),
            "LastModified": iso(meta.last_modified),
            "Size": meta.size,
            "StorageClass": "STANDARD",
        }),
    }
}

/// ListObjectsV2: keys under `Prefix` in lexicographic order, `MaxKeys` (≤ 1000) per page,
/// continuing after `ContinuationToken` or `StartAfter`.
async fn list_objects_v2(
    buckets: &Buckets,
    params: &Value,
    shape: Shape,
) -> Result<Value, S3Failure> {
    let bucket = field(params, "Bucket")?;
    if params.get("Delimiter").is_some() {
        return Err(S3Failure::new(
            "InvalidRequest",
            "sluice's listObjectsV2 does not support Delimiter yet",
        ));
    }
    let prefix = optional(params, "Prefix").unwrap_or("");
    let max_keys = params
        .get("MaxKeys")
        .and_then(Value::as_u64)
        .unwrap_or(1000)
        .min(1000) as usize;
    let after = optional(params, "ContinuationToken").or_else(|| optional(params, "StartAfter"));
    let store = open(buckets, bucket)?;
    // object_store lists whole path segments while S3 matches raw string prefixes: list the
    // prefix's directory and keep the keys that start with it.
    let dir = prefix.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let dir_path = (!dir.is_empty()).then(|| Path::from(dir));
    let stream = match after {
        Some(offset) => store.list_with_offset(dir_path.as_ref(), &Path::from(offset)),
        None => store.list(dir_path.as_ref()),
    };
    let mut found: Vec<ObjectMeta> = stream
        .try_filter(|m| futures::future::ready(m.location.as_ref().starts_with(prefix)))
        .try_collect()
        .await
        .map_err(|e| failed(bucket, prefix, e))?;
    // Local directories list in no particular order; S3 lists in key order.
    found.sort_by(|a, b| a.location.as_ref().cmp(b.location.as_ref()));
    let truncated = found.len() > max_keys;
    found.truncate(max_keys);
    let mut out = Map::new();
    out.insert(
        "Contents".into(),
        found.iter().map(|m| listed(m, shape)).collect(),
    );
    out.insert("IsTruncated".into(), json!(truncated));
    out.insert("KeyCount".into(), json!(found.len()));
    out.insert("MaxKeys".into(), json!(max_keys));
    out.insert("Name".into(), json!(bucket));
    out.insert("Prefix".into(), json!(prefix));
    if let Some(token) = optional(params, "ContinuationToken") {
        out.insert("ContinuationToken".into(), json!(token));
    }
    if truncated && let Some(last) = found.last() {
        out.insert(
            "NextContinuationToken".into(),
            json!(last.location.as_ref()),
        );
    }
    Ok(Value::Object(out))
}

/// GetObject: the object's bytes as a UTF-8 `Body`, with its metadata. With `Range`
/// (`bytes=FIRST-LAST`, as S3 takes it) only those bytes, less any character cut in two at
/// the end, so a reader can go through an object of any size a chunk at a time:
/// `ContentRange` (`bytes FIRST-LAST/SIZE`) says which bytes the Body holds.
async fn get_object(buckets: &Buckets, params: &Value, shape: Shape) -> Result<Value, S3Failure> {
    let bucket = field(params, "Bucket")?;
    let key = field(params, "Key")?;
    let store = open(buckets, bucket)?;
    let path = Path::from(key);
    // A Distributed Map's reader may ask for the object decoded: Parquet rows as JSON lines
    // (the engine has no Parquet reader), or a gzip-compressed file's text (S3 Inventory
    // writes its CSV data files so).
    let decode = match shape {
        Shape::ItemReader => params
            .get(sluice_task::ITEM_READER_DECODE)
            .and_then(Value::as_str),
        Shape::Sdk => None,
    };
    if decode == Some("PARQUET")
        && let Some(group) = params
            .get(sluice_task::ITEM_READER_ROW_GROUP)
            .and_then(Value::as_u64)
    {
        return parquet_row_group(store, path, bucket, key, group).await;
    }
    let range = match params.get("Range") {
        None => None,
        Some(v) => Some(byte_range(v).ok_or_else(|| {
            S3Failure::new(
                "InvalidRange",
                format!("Range must be \"bytes=FIRST-LAST\", not {v}"),
            )
        })?),
    };
    let got = match store
        .get_opts(
            &path,
            object_store::GetOptions::new().with_range(range.clone()),
        )
        .await
    {
        Ok(got) => got,
        // A range cannot start at the end of an empty object; its answer is simply empty.
        Err(e) if range.is_some() => {
            let meta = store
                .head(&path)
                .await
                .map_err(|_| failed(bucket, key, e))?;
            if meta.size > 0 {
                return Err(S3Failure::new(
                    "InvalidRange",
                    format!(
                        "The requested range is not satisfiable (object size {})",
                        meta.size
                    ),
                ));
            }
            return Ok(json!({"Body": "", "ContentLength": 0, "ContentRange": "bytes */0"}));
        }
        Err(e) => return Err(failed(bucket, key, e)),
    };
    let meta = got.meta.clone();
    let returned = got.range.clone();
    if let Some(decode) = decode {
        let bytes = got.bytes().await.map_err(|e| failed(bucket, key, e))?;
        let body = match decode {
            "PARQUET" => parquet_rows(bytes).map_err(|e| format!("a readable Parquet file: {e}")),
            "GZIP" => gunzip(&bytes).map_err(|e| format!("gzip-compressed text: {e}")),
            other => Err(format!(
                "something sluice decodes ({other:?} is not PARQUET or GZIP)"
            )),
        }
        .map_err(|what| {
            S3Failure::new(
                "InvalidObjectState",
                format!("s3://{bucket}/{key} is not {what}"),
            )
        })?;
        return Ok(json!({
            "Body": body,
            "ContentLength": meta.size,
            "ETag": quoted(meta.e_tag.as_deref()),
            "LastModified": json!(meta.last_modified.timestamp()),
        }));
    }
    let mut bytes = got
        .bytes()
        .await
        .map_err(|e| failed(bucket, key, e))?
        .to_vec();
    let not_text = || {
        S3Failure::new(
            "InvalidObjectState",
            format!("s3://{bucket}/{key} is not UTF-8 text"),
        )
    };
    if let Err(e) = std::str::from_utf8(&bytes) {
        // Only a character cut by the range's end is forgiven.
        if range.is_none() || e.error_len().is_some() {
            return Err(not_text());
        }
        bytes.truncate(e.valid_up_to());
    }
    let length = bytes.len();
    let body = String::from_utf8(bytes).map_err(|_| not_text())?;
    let last_modified = match shape {
        Shape::ItemReader => json!(meta.last_modified.timestamp()),
        Shape::Sdk => json!(iso(meta.last_modified)),
    };
    let mut out = json!({
        "Body": body,
        "ContentLength": if range.is_some() { length as u64 } else { meta.size },
        "ETag": quoted(meta.e_tag.as_deref()),
        "LastModified": last_modified,
    });
    if range.is_some() {
        let last = (returned.start + length as u64).saturating_sub(1);
        out["ContentRange"] = json!(format!("bytes {}-{last}/{}", returned.start, meta.size));
    }
    Ok(out)
}

/// A gzip-compressed object's text.
fn gunzip(bytes: &[u8]) -> Result<String, std::io::Error> {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut text)?;
    Ok(text)
}

/// A Parquet object read with ranged GETs. parquet's own object_store reader is deprecated
/// in favour of implementing `AsyncFileReader`, which takes this little.
struct RangedParquet {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

impl datafusion::parquet::arrow::async_reader::AsyncFileReader for RangedParquet {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> futures::future::BoxFuture<'_, datafusion::parquet::errors::Result<bytes::Bytes>> {
        use futures::FutureExt;
        use object_store::ObjectStoreExt;
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(|e| datafusion::parquet::errors::ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions>,
    ) -> futures::future::BoxFuture<
        'a,
        datafusion::parquet::errors::Result<
            Arc<datafusion::parquet::file::metadata::ParquetMetaData>,
        >,
    > {
        use futures::FutureExt;
        async move {
            let size = self.size;
            let metadata = datafusion::parquet::file::metadata::ParquetMetaDataReader::new()
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// One row group of a Parquet object as JSON lines, and how many row groups it has. Only the
/// footer and that group's column chunks are fetched (ranged reads), so memory is bounded by
/// the row group, not the object.
async fn parquet_row_group(
    store: Arc<dyn ObjectStore>,
    path: Path,
    bucket: &str,
    key: &str,
    group: u64,
) -> Result<Value, S3Failure> {
    use datafusion::arrow::json::LineDelimitedWriter;
    use datafusion::parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
    use futures::StreamExt;
    let meta = store
        .head(&path)
        .await
        .map_err(|e| failed(bucket, key, e))?;
    let unreadable = |e: &dyn std::fmt::Display| {
        S3Failure::new(
            "InvalidObjectState",
            format!("s3://{bucket}/{key} is not a readable Parquet file: {e}"),
        )
    };
    let reader = RangedParquet {
        store,
        path,
        size: meta.size,
    };
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| unreadable(&e))?;
    let groups = builder.metadata().num_row_groups();
    let mut out = Vec::new();
    if let Some(group) = usize::try_from(group).ok().filter(|g| *g < groups) {
        let mut batches = builder
            .with_row_groups(vec![group])
            .build()
            .map_err(|e| unreadable(&e))?;
        let mut writer = LineDelimitedWriter::new(&mut out);
        while let Some(batch) = batches.next().await {
            let batch = batch.map_err(|e| unreadable(&e))?;
            writer.write(&batch).map_err(|e| unreadable(&e))?;
        }
        writer.finish().map_err(|e| unreadable(&e))?;
    }
    let body = String::from_utf8(out).map_err(|e| unreadable(&e))?;
    Ok(json!({
        "Body": body,
        "ContentLength": meta.size,
        "ETag": quoted(meta.e_tag.as_deref()),
        "LastModified": json!(meta.last_modified.timestamp()),
        (sluice_task::ITEM_READER_ROW_GROUPS): groups,
    }))
}

/// A Parquet file's rows as JSON lines, one object per row keyed by column name.
fn parquet_rows<R>(bytes: R) -> Result<String, Box<dyn std::error::Error>>
where
    R: datafusion::parquet::file::reader::ChunkReader + 'static,
{
    use datafusion::arrow::json::LineDelimitedWriter;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let rows = ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()?;
    let mut out = Vec::new();
    {
        let mut writer = LineDelimitedWriter::new(&mut out);
        for batch in rows {
            writer.write(&batch?)?;
        }
        writer.finish()?;
    }
    Ok(String::from_utf8(out)?)
}

/// `bytes=FIRST-LAST` as the half-open range object_store takes.
fn byte_range(v: &Value) -> Option<std::ops::Range<u64>> {
    let (first, last) = v.as_str()?.strip_prefix("bytes=")?.split_once('-')?;
    let (first, last): (u64, u64) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    (first <= last).then(|| first..last.saturating_add(1))
}

/// PutObject: `Body` (text as is, any other JSON value serialized) stored at `Bucket`/`Key`.
async fn put_object(buckets: &Buckets, params: &Value) -> Result<Value, S3Failure> {
    let bucket = field(params, "Bucket")?;
    let key = field(params, "Key")?;
    let body = match params.get("Body") {
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(other) => serde_json::to_vec(other).unwrap_or_default(),
        None => Vec::new(),
    };
    let store = open(buckets, bucket)?;
    let put = store
        .put(&Path::from(key), PutPayload::from(body))
        .await
        .map_err(|e| failed(bucket, key, e))?;
    Ok(json!({"ETag": quoted(put.e_tag.as_deref())}))
}

/// HeadObject, or GetObjectAttributes (`attributes`): the object's metadata.
async fn head_object(
    buckets: &Buckets,
    params: &Value,
    attributes: bool,
) -> Result<Value, S3Failure> {
    let bucket = field(params, "Bucket")?;
    let key = field(params, "Key")?;
    let meta = open(buckets, bucket)?
        .head(&Path::from(key))
        .await
        .map_err(|e| failed(bucket, key, e))?;
    let etag = quoted(meta.e_tag.as_deref());
    let mut out = if attributes {
        // GetObjectAttributes gives the ETag without its quotes.
        json!({
            "ETag": etag.trim_matches('"'),
            "LastModified": iso(meta.last_modified),
            "ObjectSize": meta.size,
            "StorageClass": "STANDARD",
        })
    } else {
        json!({
            "AcceptRanges": "bytes",
            "ContentLength": meta.size,
            "ETag": etag,
            "LastModified": iso(meta.last_modified),
            "Metadata": {},
        })
    };
    if let Some(v) = &meta.version {
        out["VersionId"] = json!(v);
    }
    Ok(out)
}

/// CopyObject: `CopySource` is `bucket/key` (URL-encoded, as S3 takes it).
async fn copy_object(buckets: &Buckets, params: &Value) -> Result<Value, S3Failure> {
    let bucket = field(params, "Bucket")?;
    let key = field(params, "Key")?;
    let source = field(params, "CopySource")?;
    let source = url::form_urlencoded::parse(format!("s={source}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let (from_bucket, from_key) = source
        .trim_start_matches('/')
        .split_once('/')
        .ok_or_else(|| S3Failure::new("InvalidRequest", "CopySource must be bucket/key"))?;
    let target = open(buckets, bucket)?;
    if from_bucket == bucket {
        target
            .copy(&Path::from(from_key), &Path::from(key))
            .await
            .map_err(|e| failed(from_bucket, from_key, e))?;
    } else {
        let bytes = open(buckets, from_bucket)?
            .get(&Path::from(from_key))
            .await
            .map_err(|e| failed(from_bucket, from_key, e))?
            .bytes()
            .await
            .map_err(|e| failed(from_bucket, from_key, e))?;
        target
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .map_err(|e| failed(bucket, key, e))?;
    }
    let meta = target
        .head(&Path::from(key))
        .await
        .map_err(|e| failed(bucket, key, e))?;
    Ok(json!({"CopyObjectResult": {
        "ETag": quoted(meta.e_tag.as_deref()),
        "LastModified": iso(meta.last_modified),
    }}))
}

/// DeleteObject (`Key`), or DeleteObjects (`Delete.Objects[].Key`). Deleting a key that is
/// not there succeeds, as on S3.
async fn delete_objects(buckets: &Buckets, params: &Value, many: bool) -> Result<Value, S3Failure> {
    let bucket = field(params, "Bucket")?;
    let keys: Vec<String> = if many {
        params
            .pointer("/Delete/Objects")
            .and_then(Value::as_array)
            .ok_or_else(|| S3Failure::new("InvalidRequest", "Delete.Objects must be an array"))?
            .iter()
            .map(|o| field(o, "Key").map(str::to_string))
            .collect::<Result<_, _>>()?
    } else {
        vec![field(params, "Key")?.to_string()]
    };
    let store = open(buckets, bucket)?;
    let mut deleted = Vec::new();
    for key in &keys {
        match store.delete(&Path::from(key.as_str())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => deleted.push(json!({"Key": key})),
            Err(e) => return Err(failed(bucket, key, e)),
        }
    }
    Ok(if many {
        json!({"Deleted": deleted})
    } else {
        json!({})
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_name_actions_in_any_partition() {
        assert_eq!(
            Action::of(&Resource::parse("arn:aws:states:::s3:listObjectsV2")),
            Some(Action::ListObjectsV2(Shape::ItemReader))
        );
        assert_eq!(
            Action::of(&Resource::parse("arn:aws-cn:states:::aws-sdk:s3:getObject")),
            Some(Action::GetObject(Shape::Sdk))
        );
        assert_eq!(
            Action::of(&Resource::parse("arn:aws:states:::s3:deleteObject")),
            None
        );
        assert_eq!(
            Action::of(&Resource::parse("arn:aws:states:::aws-sdk:s3:headObject")),
            Some(Action::HeadObject)
        );
        assert_eq!(
            Action::of(&Resource::parse("arn:aws:states:::lambda:invoke")),
            None
        );
    }

    #[tokio::test]
    async fn local_buckets_list_in_pages_and_round_trip_objects() {
        let root = std::env::temp_dir().join(format!("sluice-s3-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let buckets = Buckets::local(&root);
        let put =
            Action::of(&Resource::parse("arn:aws:states:::aws-sdk:s3:putObject")).expect("known");
        for key in [
            "in/b.csv",
            "in/a.csv",
            "in/c.csv",
            "inbox/x.csv",
            "out/z.csv",
        ] {
            put.run(
                &buckets,
                &json!({"Bucket": "data", "Key": key, "Body": key}),
            )
            .await
            .expect("put");
        }
        let list = Action::ListObjectsV2(Shape::ItemReader);
        let page = list
            .run(
                &buckets,
                &json!({"Bucket": "data", "Prefix": "in/", "MaxKeys": 2}),
            )
            .await
            .expect("first page");
        let keys = |page: &Value| -> Vec<String> {
            page["Contents"]
                .as_array()
                .expect("contents")
                .iter()
                .map(|o| o["Key"].as_str().expect("key").to_string())
                .collect()
        };
        assert_eq!(keys(&page), ["in/a.csv", "in/b.csv"]);
        assert_eq!(page["IsTruncated"], true);
        assert_eq!(page["Contents"][0]["Size"], 8);
        assert!(page["Contents"][0]["LastModified"].is_i64());
        let token = page["NextContinuationToken"].clone();
        let page = list
            .run(
                &buckets,
                &json!({"Bucket": "data", "Prefix": "in/", "MaxKeys": 2, "ContinuationToken": token}),
            )
            .await
            .expect("second page");
        assert_eq!(keys(&page), ["in/c.csv"]);
        assert_eq!(page["IsTruncated"], false);
        // A raw string prefix, as S3 matches it, not a directory.
        let page = list
            .run(&buckets, &json!({"Bucket": "data", "Prefix": "in"}))
            .await
            .expect("listing");
        assert_eq!(keys(&page).len(), 4);
        let got = Action::GetObject(Shape::Sdk)
            .run(&buckets, &json!({"Bucket": "data", "Key": "out/z.csv"}))
            .await
            .expect("get");
        assert_eq!(got["Body"], "out/z.csv");
        let missing = Action::GetObject(Shape::Sdk)
            .run(&buckets, &json!({"Bucket": "data", "Key": "nope"}))
            .await
            .expect_err("missing key");
        assert_eq!(missing.error, "S3.NoSuchKey");
        let _ = std::fs::remove_dir_all(&root);
    }

    /// `Range` returns those bytes with `ContentRange`, less a character cut at the end; an
    /// empty object answers empty; a range past the end is InvalidRange.
    #[tokio::test]
    async fn ranged_gets_cut_no_character() {
        let root = std::env::temp_dir().join(format!("sluice-s3-range-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let buckets = Buckets::local(&root);
        let put =
            Action::of(&Resource::parse("arn:aws:states:::aws-sdk:s3:putObject")).expect("known");
        for (key, body) in [("t", "abcé!"), ("empty", "")] {
            put.run(&buckets, &json!({"Bucket": "b", "Key": key, "Body": body}))
                .await
                .expect("put");
        }
        let get = Action::GetObject(Shape::ItemReader);
        let got = |range: &'static str, key: &'static str| {
            let buckets = &buckets;
            async move {
                get.run(buckets, &json!({"Bucket": "b", "Key": key, "Range": range}))
                    .await
            }
        };
        // "é" is bytes 3 and 4: a range ending at 3 stops before it.
        let first = got("bytes=0-3", "t").await.expect("range");
        assert_eq!(first["Body"], "abc");
        assert_eq!(first["ContentRange"], "bytes 0-2/6");
        let rest = got("bytes=3-99", "t").await.expect("rest");
        assert_eq!(rest["Body"], "é!");
        assert_eq!(rest["ContentRange"], "bytes 3-5/6");
        let empty = got("bytes=0-99", "empty").await.expect("empty");
        assert_eq!(empty["Body"], "");
        assert!(got("bytes=6-9", "t").await.is_err());
        assert!(got("lines=1-2", "t").await.is_err());
        let _ = std::fs::remove_dir_all(&root);
    }

    /// A Parquet object's rows come back as JSON lines when the ItemReader asks for them.
    #[tokio::test]
    async fn parquet_rows_for_the_item_reader() {
        use datafusion::arrow::array::{Int64Array, StringArray};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::arrow::record_batch::RecordBatch;
        use datafusion::parquet::arrow::ArrowWriter;
        let root = std::env::temp_dir().join(format!("sluice-s3-parquet-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("b")).expect("bucket");
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("é"), None])),
            ],
        )
        .expect("batch");
        let file = std::fs::File::create(root.join("b/rows.parquet")).expect("file");
        let mut writer = ArrowWriter::try_new(file, schema, None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
        let buckets = Buckets::local(&root);
        let get = Action::GetObject(Shape::ItemReader);
        let params = json!({"Bucket": "b", "Key": "rows.parquet", "SluiceDecode": "PARQUET"});
        let got = get.run(&buckets, &params).await.expect("decoded");
        let lines: Vec<Value> = got["Body"]
            .as_str()
            .expect("text")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(lines, vec![json!({"id": 1, "name": "é"}), json!({"id": 2})]);
        std::fs::write(root.join("b/bad.parquet"), "not parquet").expect("bad file");
        let bad = json!({"Bucket": "b", "Key": "bad.parquet", "SluiceDecode": "PARQUET"});
        let err = get.run(&buckets, &bad).await.expect_err("not Parquet");
        assert!(
            format!("{err:?}").contains("not a readable Parquet file"),
            "{err:?}"
        );
        // A gzip-compressed CSV file, as S3 Inventory writes its data files.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"\"photos\",\"a.jpg\",\"5\"\n").expect("gzip");
        std::fs::write(root.join("b/inv.csv.gz"), gz.finish().expect("gzip")).expect("file");
        let params = json!({"Bucket": "b", "Key": "inv.csv.gz", "SluiceDecode": "GZIP"});
        let got = get.run(&buckets, &params).await.expect("gunzipped");
        assert_eq!(got["Body"], "\"photos\",\"a.jpg\",\"5\"\n");
        let _ = std::fs::remove_dir_all(&root);
    }

    /// A Parquet object is decoded one row group at a time on request, with the count of its
    /// row groups; past the last there are no rows.
    #[tokio::test]
    async fn parquet_row_groups_one_at_a_time() {
        use datafusion::arrow::array::Int64Array;
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::arrow::record_batch::RecordBatch;
        use datafusion::parquet::arrow::ArrowWriter;
        use datafusion::parquet::file::properties::WriterProperties;
        let root = std::env::temp_dir().join(format!("sluice-s3-groups-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("b")).expect("bucket");
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from((0..10).collect::<Vec<i64>>()))],
        )
        .expect("batch");
        let file = std::fs::File::create(root.join("b/groups.parquet")).expect("file");
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(3))
            .build();
        let mut writer = ArrowWriter::try_new(file, schema, Some(props)).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
        let buckets = Buckets::local(&root);
        let get = Action::GetObject(Shape::ItemReader);
        let mut seen = Vec::new();
        for group in 0..5 {
            let params = json!({"Bucket": "b", "Key": "groups.parquet",
                "SluiceDecode": "PARQUET", "SluiceRowGroup": group});
            let got = get.run(&buckets, &params).await.expect("a row group");
            assert_eq!(got["SluiceRowGroups"], 4);
            let rows: Vec<i64> = got["Body"]
                .as_str()
                .expect("text")
                .lines()
                .map(|l| {
                    serde_json::from_str::<Value>(l).expect("a JSON line")["n"]
                        .as_i64()
                        .expect("n")
                })
                .collect();
            if group == 4 {
                assert!(rows.is_empty(), "past the last row group: {rows:?}");
            } else {
                assert!(
                    !rows.is_empty() && rows.len() <= 3,
                    "group {group}: {rows:?}"
                );
            }
            seen.extend(rows);
        }
        assert_eq!(seen, (0..10).collect::<Vec<i64>>());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[tokio::test]
    async fn head_copy_and_delete_objects() {
        let root = std::env::temp_dir().join(format!("sluice-s3-objects-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let buckets = Buckets::local(&root);
        let call = |action: &str, params: Value| {
            let buckets = buckets.clone();
            let action = Action::of(&Resource::parse(&format!(
                "arn:aws:states:::aws-sdk:s3:{action}"
            )))
            .expect("known");
            async move { action.run(&buckets, &params).await }
        };
        call(
            "putObject",
            json!({"Bucket": "b", "Key": "in/a.txt", "Body": "hello"}),
        )
        .await
        .expect("put");
        let head = call("headObject", json!({"Bucket": "b", "Key": "in/a.txt"}))
            .await
            .expect("head");
        assert_eq!(head["ContentLength"], 5);
        let attrs = call(
            "getObjectAttributes",
            json!({"Bucket": "b", "Key": "in/a.txt", "ObjectAttributes": ["ObjectSize"]}),
        )
        .await
        .expect("attributes");
        assert_eq!(attrs["ObjectSize"], 5);
        let copied = call(
            "copyObject",
            json!({"Bucket": "c", "Key": "out/a.txt", "CopySource": "b/in/a.txt"}),
        )
        .await
        .expect("copy");
        assert!(copied["CopyObjectResult"]["ETag"].is_string());
        call(
            "copyObject",
            json!({"Bucket": "b", "Key": "in/a2.txt", "CopySource": "/b/in%2Fa.txt"}),
        )
        .await
        .expect("copy within a bucket");
        let deleted = call("deleteObjects", json!({"Bucket": "b", "Delete": {"Objects": [{"Key": "in/a.txt"}, {"Key": "in/missing"}]}}))
            .await
            .expect("delete");
        assert_eq!(deleted["Deleted"].as_array().map(Vec::len), Some(2));
        let gone = call("headObject", json!({"Bucket": "b", "Key": "in/a.txt"})).await;
        assert_eq!(gone.expect_err("deleted").error, "S3.NoSuchKey");
        call("deleteObject", json!({"Bucket": "c", "Key": "out/a.txt"}))
            .await
            .expect("delete one");
        let _ = std::fs::remove_dir_all(&root);
    }
}
