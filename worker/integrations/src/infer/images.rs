//! One batch of images through a model: the objects are fetched a few at a time while one
//! blocking thread decodes, preprocesses and runs each (batch size 1, the fastest for CNNs on
//! a CPU), so memory holds a handful of images whatever the batch size. The batch's rows go
//! to one Parquet file named after its items, so a retried batch overwrites its own file.

use std::time::Instant;

use fast_image_resize::Resizer;
use futures::StreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::models::{Loaded, ModelCache};
use super::predictions::{Row, describe, parquet, rank, schema, split_labels};
use super::preprocess::{Pixels, tensor};
use super::runtime::{Input, Output};
use super::spec::{ImageWork, InferSpec, ItemErrors, Labels};
use super::{InferFailure, model_info};
use crate::objects::Buckets;

/// Objects fetched ahead of the model.
const PREFETCH: usize = 4;
/// Images larger than this fail their item unread.
const MAX_IMAGE_BYTES: u64 = 256 << 20;

/// The class names the task asks for.
pub async fn labels(
    labels: &Labels,
    loaded: &Loaded,
    buckets: &Buckets,
) -> Result<Vec<String>, InferFailure> {
    match labels {
        Labels::Indices => Ok(Vec::new()),
        Labels::List(list) => Ok(list.clone()),
        Labels::Metadata(key) => loaded
            .model
            .metadata(key)
            .map(|text| split_labels(&text))
            .ok_or_else(|| {
                InferFailure::mismatch(format!(
                    "postprocess.labels: the model has no metadata entry {key:?}"
                ))
            }),
        Labels::File(url) => {
            let (store, path) = buckets
                .locate(url)
                .map_err(|e| InferFailure::invalid(format!("postprocess.labels: {e}")))?;
            let unreadable = |e: object_store::Error| {
                InferFailure::invalid(format!("postprocess.labels: {url}: {e}"))
            };
            let bytes = store
                .get(&path)
                .await
                .map_err(unreadable)?
                .bytes()
                .await
                .map_err(unreadable)?;
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                InferFailure::invalid(format!("postprocess.labels: {url} is not UTF-8 text"))
            })?;
            Ok(split_labels(&text))
        }
    }
}

/// An item's key as the predictions list it: the object key of an `s3://` URL, else as given.
fn key_of(url: &str) -> String {
    url.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .map_or_else(|| url.to_string(), |(_, key)| key.to_string())
}

async fn fetch(buckets: &Buckets, url: &str) -> Result<bytes::Bytes, String> {
    let (store, path) = buckets.locate(url).map_err(|e| e.to_string())?;
    let object = store.get(&path).await.map_err(|e| e.to_string())?;
    if object.meta.size > MAX_IMAGE_BYTES {
        return Err(format!(
            "{url} is {} bytes; images may be at most {MAX_IMAGE_BYTES}",
            object.meta.size
        ));
    }
    object.bytes().await.map_err(|e| e.to_string())
}

/// Run the batch and write its predictions.
pub async fn run(
    spec: &InferSpec,
    work: &ImageWork,
    loaded: &Loaded,
    labels: &[String],
    buckets: &Buckets,
    models: &ModelCache,
) -> Result<Value, InferFailure> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, Result<bytes::Bytes, String>)>(1);
    let model = loaded.model.clone();
    let pre = work.pre.clone();
    let post = spec.post.clone();
    let labels_owned = labels.to_vec();
    let compute = tokio::task::spawn_blocking(move || {
        let mut resizer = Resizer::new();
        let mut rows = Vec::new();
        let mut seconds = 0f64;
        while let Some((url, fetched)) = rx.blocking_recv() {
            let started = Instant::now();
            let key = key_of(&url);
            let outcome = fetched
                .map_err(|e| format!("Sluice.ObjectUnreadable: {e}"))
                .and_then(|bytes| {
                    tensor(&bytes, &pre, &mut resizer)
                        .map_err(|e| format!("Sluice.ImageUndecodable: {url}: {}", e.0.trim_end()))
                })
                .map(|pixels| {
                    let shape = pre.shape(1);
                    match pixels {
                        Pixels::F32(data) => Input::F32 { shape, data },
                        Pixels::U8(data) => Input::U8 { shape, data },
                    }
                });
            let row = match outcome {
                Err(error) => Row {
                    key,
                    top: Vec::new(),
                    duration_ms: 0.0,
                    error: Some(error),
                },
                Ok(input) => {
                    let outputs = model
                        .run(input)
                        .map_err(|e| InferFailure::from_runtime("the model", e))?;
                    let scores = class_scores(&outputs, post.output, labels_owned.len())?;
                    let elapsed = started.elapsed().as_secs_f64();
                    seconds += elapsed;
                    Row {
                        key,
                        top: rank(scores, &post, &labels_owned),
                        duration_ms: elapsed * 1000.0,
                        error: None,
                    }
                }
            };
            rows.push(row);
        }
        Ok::<_, InferFailure>((rows, seconds))
    });
    let mut fetches = futures::stream::iter(work.items.iter().cloned())
        .map(|url| async move {
            let fetched = fetch(buckets, &url).await;
            (url, fetched)
        })
        .buffered(PREFETCH);
    while let Some(item) = fetches.next().await {
        if tx.send(item).await.is_err() {
            // The model failed on an earlier item; its error is below.
            break;
        }
    }
    drop(tx);
    let (rows, seconds) = compute
        .await
        .map_err(|e| InferFailure::failed(format!("the model's thread: {e}")))??;

    let bytes = parquet(&rows, &loaded.id).map_err(InferFailure::output)?;
    let size = bytes.len();
    let name = batch_name(&loaded.id, &work.items);
    let (store, prefix) = buckets
        .locate(&work.output)
        .map_err(|e| InferFailure::invalid(format!("output: {e}")))?;
    let path = Path::from(format!("{}/{name}", prefix.as_ref().trim_end_matches('/')));
    let path = if prefix.as_ref().is_empty() {
        Path::from(name.as_str())
    } else {
        path
    };
    store
        .put(&path, bytes.into())
        .await
        .map_err(|e| InferFailure::output(format!("{}: {e}", work.output)))?;
    let uri = format!("{}/{name}", work.output.trim_end_matches('/'));

    let failures: Vec<Value> = rows
        .iter()
        .filter_map(|r| {
            let error = r.error.as_ref()?;
            let (name, cause) = error.split_once(": ").unwrap_or((error, ""));
            Some(json!({"key": r.key, "error": name, "cause": cause}))
        })
        .collect();
    let succeeded = rows.len() - failures.len();
    let result = json!({
        "uri": uri,
        "format": "parquet",
        "rows": rows.len(),
        "bytes": size,
        "schema": describe(&schema()),
        "items": rows.len(),
        "succeeded": succeeded,
        "failed": failures.len(),
        "failures": failures,
        "model": model_info(loaded, models.loads()),
        "seconds": seconds,
        "imagesPerSecond": if seconds > 0.0 { succeeded as f64 / seconds } else { 0.0 },
    });
    if work.item_errors == ItemErrors::Fail && !failures.is_empty() {
        return Err(InferFailure::new(
            "Sluice.ItemsFailed",
            serde_json::to_string(&result).unwrap_or_default(),
        ));
    }
    Ok(result)
}

/// The scores of the one image of a batch-of-one output.
fn class_scores(outputs: &[Output], index: usize, labels: usize) -> Result<&[f64], InferFailure> {
    let output = outputs.get(index).ok_or_else(|| {
        InferFailure::mismatch(format!(
            "postprocess.output: the model has {} outputs; {index} does not exist",
            outputs.len()
        ))
    })?;
    let classes = output.values.len();
    if output.shape.first().is_some_and(|&n| n != 1) || classes == 0 {
        return Err(InferFailure::mismatch(format!(
            "the model's output {index} has shape {:?}; sluice-infer expects class scores [1, classes]",
            output.shape
        )));
    }
    if labels > 0 && labels != classes {
        return Err(InferFailure::mismatch(format!(
            "postprocess.labels: {labels} labels for a model with {classes} classes"
        )));
    }
    Ok(&output.values)
}

/// `predictions-<hash>.parquet`, the hash of the model and the batch's items.
fn batch_name(model_id: &str, items: &[String]) -> String {
    let mut hash = Sha256::new();
    hash.update(model_id.as_bytes());
    for item in items {
        hash.update([0]);
        hash.update(item.as_bytes());
    }
    let digest = format!("{:x}", hash.finalize());
    format!("predictions-{}.parquet", &digest[..20])
}
