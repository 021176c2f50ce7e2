//! The `sluice-infer` handler: batch inference with an ONNX model from object storage, over
//! the images of a Distributed Map batch or the rows of a table. The model is loaded once per
//! worker and shared (`models`), images are decoded and preprocessed as the task says
//! (`preprocess`), the runtime sits behind a trait (`runtime`; tract by default), and each
//! batch's predictions become one Parquet file (`predictions`) that `sluice-sql` can query.
//!
//! Task input (images):
//! ```json
//! {"model": "s3://models/classifier.onnx",
//!  "items": [{"Key": "photos/a.jpg"}, "s3://b/c.png"],    // the ItemBatcher's Items
//!  "bucket": "b",                                          // for items that give only a Key
//!  "preprocess": {"size": 224, "resize": "shorter-side", "resizeShorterSide": 256,
//!                 "filter": "bilinear", "channels": "rgb", "scale": 0.00392156862745098,
//!                 "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
//!                 "layout": "nchw", "dtype": "float32"},
//!  "postprocess": {"softmax": false, "topK": 5, "labels": "s3://models/labels.txt"},
//!  "output": "s3://b/predictions/",
//!  "itemErrors": "report"}                                 // or "fail"
//! ```
//! Result: `{"uri", "format": "parquet", "rows", "bytes", "schema", "items", "succeeded",
//! "failed", "failures": [{"key", "error", "cause"}], "model": {"uri", "id", "runtime",
//! "loads"}, "seconds", "imagesPerSecond"}`.
//!
//! A table instead of images: `{"model", "table": {"uri", "format"?, "features": [...],
//! "prediction"?}, "output": "….parquet"}`.

use serde_json::Value;

use crate::objects::Buckets;

pub mod spec;

#[cfg(feature = "inference")]
mod images;
#[cfg(feature = "inference")]
pub mod models;
#[cfg(feature = "inference")]
pub mod predictions;
#[cfg(feature = "inference")]
pub mod preprocess;
#[cfg(feature = "inference")]
pub mod runtime;
#[cfg(feature = "inference")]
mod tabular;
#[cfg(all(test, feature = "inference"))]
mod tests;

/// A failed inference task: an error name and a cause, as SendTaskFailure takes them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct InferFailure {
    pub error: &'static str,
    pub cause: String,
}

impl InferFailure {
    fn new(error: &'static str, cause: impl Into<String>) -> Self {
        InferFailure {
            error,
            cause: cause.into(),
        }
    }

    /// The task input is wrong (the cause names the field).
    pub fn invalid(cause: impl Into<String>) -> Self {
        Self::new("Sluice.InvalidInput", cause)
    }

    /// The model could not be read or parsed.
    pub fn model_load(cause: impl Into<String>) -> Self {
        Self::new("Sluice.ModelLoadFailed", cause)
    }

    /// The model does not match what the task declares (input shape or type, outputs, labels).
    pub fn mismatch(cause: impl Into<String>) -> Self {
        Self::new("Sluice.ModelMismatch", cause)
    }

    /// Reading the data or running the model failed.
    pub fn failed(cause: impl Into<String>) -> Self {
        Self::new("Sluice.InferenceFailed", cause)
    }

    /// The predictions could not be written.
    pub fn output(cause: impl Into<String>) -> Self {
        Self::new("Sluice.OutputFailed", cause)
    }

    #[cfg(feature = "inference")]
    fn from_runtime(what: &str, e: runtime::RuntimeError) -> Self {
        match e {
            runtime::RuntimeError::Load(m) => Self::model_load(format!("{what}: {m}")),
            runtime::RuntimeError::Mismatch(m) => Self::mismatch(format!("{what}: {m}")),
            runtime::RuntimeError::Run(m) => Self::failed(format!("{what}: {m}")),
        }
    }
}

/// The inference of one process: its model cache.
pub struct Inference {
    #[cfg(feature = "inference")]
    models: models::ModelCache,
}

impl Default for Inference {
    fn default() -> Self {
        Self::new()
    }
}

/// How many models a worker keeps loaded.
pub const MODEL_CACHE_SIZE: usize = 4;

impl Inference {
    /// Inference with the default runtime (tract) and a cache of [`MODEL_CACHE_SIZE`] models.
    pub fn new() -> Self {
        Inference {
            #[cfg(feature = "inference")]
            models: models::ModelCache::new(std::sync::Arc::new(runtime::Tract), MODEL_CACHE_SIZE),
        }
    }

    /// How many times this process loaded a model.
    pub fn model_loads(&self) -> u64 {
        #[cfg(feature = "inference")]
        return self.models.loads();
        #[cfg(not(feature = "inference"))]
        return 0;
    }

    /// Run one `sluice-infer` task.
    #[cfg(feature = "inference")]
    pub async fn run(&self, input: &Value, buckets: &Buckets) -> Result<Value, InferFailure> {
        use runtime::{InputDecl, InputType};
        use spec::{Dtype, InferSpec, Work};
        let spec = InferSpec::parse(input)?;
        match &spec.work {
            Work::Images(work) => {
                let decl = InputDecl {
                    shape: work.pre.shape(1).into_iter().map(Some).collect(),
                    dtype: match work.pre.dtype {
                        Dtype::F32 => InputType::F32,
                        Dtype::U8 => InputType::U8,
                    },
                };
                let loaded = self.models.get(buckets, &spec.model, &decl).await?;
                let labels = images::labels(&spec.post.labels, &loaded, buckets).await?;
                images::run(&spec, work, &loaded, &labels, buckets, &self.models).await
            }
            Work::Table(work) => {
                let decl = InputDecl {
                    shape: vec![None, Some(work.features.len())],
                    dtype: InputType::F32,
                };
                let loaded = self.models.get(buckets, &spec.model, &decl).await?;
                let labels = match &spec.post.labels {
                    spec::Labels::Indices => Vec::new(),
                    other => images::labels(other, &loaded, buckets).await?,
                };
                tabular::score(
                    work,
                    &loaded,
                    &labels,
                    spec.post.output,
                    buckets,
                    self.models.loads(),
                )
                .await
            }
        }
    }

    /// Without the `inference` feature, every task fails with a clear error.
    #[cfg(not(feature = "inference"))]
    pub async fn run(&self, _input: &Value, _buckets: &Buckets) -> Result<Value, InferFailure> {
        Err(InferFailure::new(
            "Sluice.InferenceUnavailable",
            "this sluice was built without the `inference` feature; rebuild with default features",
        ))
    }
}

/// The `model` part of a result.
#[cfg(feature = "inference")]
fn model_info(loaded: &models::Loaded, loads: u64) -> Value {
    serde_json::json!({"id": loaded.id, "runtime": loaded.runtime, "loads": loads})
}
