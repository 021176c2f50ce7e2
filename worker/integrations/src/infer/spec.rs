//! The `sluice-infer` task input, parsed and checked before any object is read. Every problem
//! names the field it is in (`preprocess.mean`, `items[3]`, …). No I/O here.

use serde_json::{Map, Value};

use super::InferFailure;

/// One `sluice-infer` task: a model, then either a batch of images or a table to score.
#[derive(Debug, Clone, PartialEq)]
pub struct InferSpec {
    /// Where the ONNX model is (`s3://`, `file://` or a path).
    pub model: String,
    pub work: Work,
    pub post: Postprocess,
}

/// What the task runs the model over.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    Images(ImageWork),
    Table(TableWork),
}

/// A batch of images, one prediction row each.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageWork {
    /// The objects, as URLs, in the batch's order.
    pub items: Vec<String>,
    pub pre: Preprocess,
    /// The prefix the batch's Parquet file is written under.
    pub output: String,
    pub item_errors: ItemErrors,
}

/// A table whose rows the model scores.
#[derive(Debug, Clone, PartialEq)]
pub struct TableWork {
    /// The table (Parquet or CSV; a file or a prefix).
    pub uri: String,
    /// `parquet` or `csv`; from the URI's extension when absent.
    pub format: Option<String>,
    /// The feature columns, in the model's input order.
    pub features: Vec<String>,
    /// The name of the column the prediction is written to.
    pub prediction: String,
    /// Where the scored table (Parquet) is written.
    pub output: String,
}

/// What happens to a batch when some of its items fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemErrors {
    /// The task succeeds; the failed items are listed in its result and the Parquet file.
    Report,
    /// The task fails with `Sluice.ItemsFailed` after writing the predictions of the others,
    /// so the Map counts the batch toward its tolerated failures.
    Fail,
}

/// How an image is turned into the model's input tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    pub width: u32,
    pub height: u32,
    pub resize: Resize,
    pub filter: Filter,
    pub channels: Channels,
    /// Each 0–255 sample is multiplied by this first (`1/255` by default).
    pub scale: f32,
    /// Subtracted per channel after scaling, in `channels` order.
    pub mean: Vec<f32>,
    /// Divided per channel after the mean.
    pub std: Vec<f32>,
    pub layout: Layout,
    pub dtype: Dtype,
}

/// How the image is brought to `width`×`height`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resize {
    /// Resize so the shorter side is this long (keeping the aspect ratio), then crop the
    /// centre (ImageNet-style evaluation).
    ShorterSide(u32),
    /// Resize to exactly `width`×`height`, distorting the aspect ratio.
    Stretch,
    /// Crop the largest centred region of the target aspect ratio, then resize it.
    CenterCrop,
}

/// The resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Nearest,
    Bilinear,
    CatmullRom,
    Lanczos3,
}

/// The channel order the model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    Rgb,
    Bgr,
    Gray,
}

impl Channels {
    /// How many channels the input tensor has.
    pub fn count(self) -> usize {
        match self {
            Channels::Rgb | Channels::Bgr => 3,
            Channels::Gray => 1,
        }
    }
}

/// Where the channel axis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Nchw,
    Nhwc,
}

/// The input tensor's element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// Scaled and normalised floats.
    F32,
    /// The raw 0–255 samples (models that normalise inside the graph).
    U8,
}

impl Preprocess {
    /// The input tensor's shape for a batch of `n`.
    pub fn shape(&self, n: usize) -> Vec<usize> {
        let (c, h, w) = (
            self.channels.count(),
            self.height as usize,
            self.width as usize,
        );
        match self.layout {
            Layout::Nchw => vec![n, c, h, w],
            Layout::Nhwc => vec![n, h, w, c],
        }
    }
}

/// How the model's output becomes a prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Postprocess {
    /// Apply softmax to the output (for models that return logits).
    pub softmax: bool,
    /// How many of the best classes to keep in `top_k`.
    pub top_k: usize,
    pub labels: Labels,
    /// Which output of the model holds the scores (by position).
    pub output: usize,
}

/// Where class names come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// The class index, as text.
    Indices,
    /// Given in the task.
    List(Vec<String>),
    /// A text file, one label per line (or comma-separated on one line).
    File(String),
    /// An ONNX metadata entry of the model, comma- or newline-separated.
    Metadata(String),
}

type Fields<'a> = &'a Map<String, Value>;

fn invalid(field: &str, problem: impl std::fmt::Display) -> InferFailure {
    InferFailure::invalid(format!("{field}: {problem}"))
}

fn string(obj: Fields, field: &str, path: &str) -> Result<Option<String>, InferFailure> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(invalid(path, "must be a non-empty string")),
    }
}

fn required(obj: Fields, field: &str, path: &str) -> Result<String, InferFailure> {
    string(obj, field, path)?.ok_or_else(|| invalid(path, "is required"))
}

fn uint(obj: Fields, field: &str, path: &str, max: u64) -> Result<Option<u64>, InferFailure> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 && n <= max => Ok(Some(n)),
            _ => Err(invalid(path, format!("must be an integer from 1 to {max}"))),
        },
    }
}

fn floats(obj: Fields, field: &str, path: &str) -> Result<Option<Vec<f32>>, InferFailure> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(values)) => values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f as f32)
                    .ok_or_else(|| invalid(&format!("{path}[{i}]"), "must be a number"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(invalid(path, "must be an array of numbers")),
    }
}

/// One of `choices`, compared case-insensitively.
fn choice<T: Copy>(
    obj: Fields,
    field: &str,
    path: &str,
    choices: &[(&str, T)],
    default: T,
) -> Result<T, InferFailure> {
    let Some(text) = string(obj, field, path)? else {
        return Ok(default);
    };
    choices
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&text))
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            invalid(path, format!("{text:?} is not one of {}", names.join(", ")))
        })
}

fn object<'a>(input: Fields<'a>, field: &str) -> Result<Option<Fields<'a>>, InferFailure> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(invalid(field, "must be an object")),
    }
}

/// Only the fields a part knows: a misspelt option is an error, not silently ignored.
fn known(obj: Fields, path: &str, fields: &[&str]) -> Result<(), InferFailure> {
    match obj.keys().find(|k| !fields.contains(&k.as_str())) {
        Some(k) => Err(invalid(
            &format!("{path}{k}"),
            format!("is not a known field (known: {})", fields.join(", ")),
        )),
        None => Ok(()),
    }
}

impl InferSpec {
    /// Parse and check a task input.
    pub fn parse(input: &Value) -> Result<InferSpec, InferFailure> {
        let input = input
            .as_object()
            .ok_or_else(|| InferFailure::invalid("the sluice-infer input must be an object"))?;
        // `BatchInput` and the Map's other fields may travel along; only ours are checked.
        let model = required(input, "model", "model")?;
        let post = Postprocess::parse(object(input, "postprocess")?)?;
        let work = match (
            input.get("items").or(input.get("Items")),
            input.get("table"),
        ) {
            (Some(_), Some(_)) => {
                return Err(InferFailure::invalid(
                    "give either \"items\" (images) or \"table\" (rows), not both",
                ));
            }
            (None, None) => {
                return Err(InferFailure::invalid(
                    "items: is required (the images of the batch), or give \"table\"",
                ));
            }
            (Some(items), None) => Work::Images(ImageWork::parse(input, items)?),
            (None, Some(_)) => {
                let table = object(input, "table")?.unwrap_or(input);
                Work::Table(TableWork::parse(input, table)?)
            }
        };
        Ok(InferSpec { model, work, post })
    }
}

impl ImageWork {
    fn parse(input: Fields, items: &Value) -> Result<ImageWork, InferFailure> {
        let field = if input.contains_key("items") {
            "items"
        } else {
            "Items"
        };
        let items = items
            .as_array()
            .ok_or_else(|| invalid(field, "must be an array of objects or URLs"))?;
        if items.is_empty() {
            return Err(invalid(field, "is empty"));
        }
        let bucket = string(input, "bucket", "bucket")?;
        if bucket.as_deref().is_some_and(|b| b.contains('/')) {
            return Err(invalid("bucket", "must be a bucket name, without '/'"));
        }
        let items = items
            .iter()
            .enumerate()
            .map(|(i, item)| item_url(item, bucket.as_deref(), &format!("{field}[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let pre = match object(input, "preprocess")? {
            Some(p) => Preprocess::parse(p)?,
            None => return Err(invalid("preprocess", "is required for images")),
        };
        let output = required(input, "output", "output")?;
        let item_errors = choice(
            input,
            "itemErrors",
            "itemErrors",
            &[("report", ItemErrors::Report), ("fail", ItemErrors::Fail)],
            ItemErrors::Report,
        )?;
        Ok(ImageWork {
            items,
            pre,
            output,
            item_errors,
        })
    }
}

/// An item as an object URL: a URL or path string, `{"Bucket", "Key"}`, or `{"Key"}` (as a
/// Distributed Map's S3 listing gives it) in the task's `bucket`.
fn item_url(item: &Value, bucket: Option<&str>, path: &str) -> Result<String, InferFailure> {
    match item {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Object(o) => {
            let key = o
                .get("Key")
                .and_then(Value::as_str)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| invalid(path, "names no \"Key\""))?;
            let bucket = match o.get("Bucket").and_then(Value::as_str) {
                Some(b) => b,
                None => bucket.ok_or_else(|| {
                    invalid(
                        path,
                        "has a \"Key\" but no \"Bucket\", and the task gives no \"bucket\"",
                    )
                })?,
            };
            Ok(format!("s3://{bucket}/{key}"))
        }
        _ => Err(invalid(
            path,
            "must be an object URL or {\"Bucket\", \"Key\"}",
        )),
    }
}

impl Preprocess {
    /// The defaults of an ImageNet-style classifier: resize the shorter side to 256/224 of the
    /// input, centre crop, RGB, `/255`, no mean or std, NCHW, float32.
    fn parse(p: Fields) -> Result<Preprocess, InferFailure> {
        known(
            p,
            "preprocess.",
            &[
                "width",
                "height",
                "size",
                "resize",
                "resizeShorterSide",
                "filter",
                "channels",
                "scale",
                "mean",
                "std",
                "layout",
                "dtype",
            ],
        )?;
        const MAX_SIDE: u64 = 8192;
        let size = uint(p, "size", "preprocess.size", MAX_SIDE)?;
        let width = uint(p, "width", "preprocess.width", MAX_SIDE)?
            .or(size)
            .ok_or_else(|| invalid("preprocess.width", "is required (or \"size\")"))?
            as u32;
        let height = uint(p, "height", "preprocess.height", MAX_SIDE)?
            .or(size)
            .ok_or_else(|| invalid("preprocess.height", "is required (or \"size\")"))?
            as u32;
        let shorter = uint(
            p,
            "resizeShorterSide",
            "preprocess.resizeShorterSide",
            MAX_SIDE,
        )?;
        #[derive(Clone, Copy)]
        enum Mode {
            Shorter,
            Stretch,
            Crop,
        }
        let mode = choice(
            p,
            "resize",
            "preprocess.resize",
            &[
                ("shorter-side", Mode::Shorter),
                ("stretch", Mode::Stretch),
                ("center-crop", Mode::Crop),
            ],
            Mode::Shorter,
        )?;
        let resize = match mode {
            Mode::Shorter => {
                let side = shorter.unwrap_or((u64::from(width.max(height)) * 256).div_ceil(224));
                if side < u64::from(width.max(height)) {
                    return Err(invalid(
                        "preprocess.resizeShorterSide",
                        format!("{side} is smaller than the input ({width}×{height})"),
                    ));
                }
                Resize::ShorterSide(side as u32)
            }
            Mode::Stretch | Mode::Crop if shorter.is_some() => {
                return Err(invalid(
                    "preprocess.resizeShorterSide",
                    "applies only to \"resize\": \"shorter-side\"",
                ));
            }
            Mode::Stretch => Resize::Stretch,
            Mode::Crop => Resize::CenterCrop,
        };
        let filter = choice(
            p,
            "filter",
            "preprocess.filter",
            &[
                ("bilinear", Filter::Bilinear),
                ("nearest", Filter::Nearest),
                ("catmull-rom", Filter::CatmullRom),
                ("bicubic", Filter::CatmullRom),
                ("lanczos3", Filter::Lanczos3),
            ],
            Filter::Bilinear,
        )?;
        let channels = choice(
            p,
            "channels",
            "preprocess.channels",
            &[
                ("rgb", Channels::Rgb),
                ("bgr", Channels::Bgr),
                ("gray", Channels::Gray),
            ],
            Channels::Rgb,
        )?;
        let scale = match p.get("scale") {
            None | Some(Value::Null) => 1.0 / 255.0,
            Some(v) => v
                .as_f64()
                .filter(|f| f.is_finite() && *f != 0.0)
                .ok_or_else(|| invalid("preprocess.scale", "must be a non-zero number"))?
                as f32,
        };
        let n = channels.count();
        let per_channel = |field: &str, default: f32| -> Result<Vec<f32>, InferFailure> {
            let path = format!("preprocess.{field}");
            match floats(p, field, &path)? {
                None => Ok(vec![default; n]),
                Some(v) if v.len() == n => Ok(v),
                Some(v) => Err(invalid(
                    &path,
                    format!("has {} values; {n} channels need {n}", v.len()),
                )),
            }
        };
        let mean = per_channel("mean", 0.0)?;
        let std = per_channel("std", 1.0)?;
        if let Some(i) = std.iter().position(|s| *s == 0.0) {
            return Err(invalid(&format!("preprocess.std[{i}]"), "must not be 0"));
        }
        let layout = choice(
            p,
            "layout",
            "preprocess.layout",
            &[("nchw", Layout::Nchw), ("nhwc", Layout::Nhwc)],
            Layout::Nchw,
        )?;
        let dtype = choice(
            p,
            "dtype",
            "preprocess.dtype",
            &[("float32", Dtype::F32), ("uint8", Dtype::U8)],
            Dtype::F32,
        )?;
        Ok(Preprocess {
            width,
            height,
            resize,
            filter,
            channels,
            scale,
            mean,
            std,
            layout,
            dtype,
        })
    }
}

impl Postprocess {
    fn parse(p: Option<Fields>) -> Result<Postprocess, InferFailure> {
        let empty = Map::new();
        let p = p.unwrap_or(&empty);
        known(p, "postprocess.", &["softmax", "topK", "labels", "output"])?;
        let softmax = match p.get("softmax") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(invalid("postprocess.softmax", "must be true or false")),
        };
        let top_k = uint(p, "topK", "postprocess.topK", 1000)?.unwrap_or(5) as usize;
        let output =
            match p.get("output") {
                None | Some(Value::Null) => 0,
                Some(v) => v.as_u64().filter(|n| *n < 64).ok_or_else(|| {
                    invalid("postprocess.output", "must be an output index (0, 1, …)")
                })? as usize,
            };
        let labels = match p.get("labels") {
            None | Some(Value::Null) => Labels::Indices,
            Some(Value::String(url)) if !url.is_empty() => Labels::File(url.clone()),
            Some(Value::Array(list)) => Labels::List(
                list.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        v.as_str().map(str::to_string).ok_or_else(|| {
                            invalid(&format!("postprocess.labels[{i}]"), "must be a string")
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Some(Value::Object(o)) => match o.get("metadata").and_then(Value::as_str) {
                Some(key) if o.len() == 1 && !key.is_empty() => Labels::Metadata(key.to_string()),
                _ => {
                    return Err(invalid(
                        "postprocess.labels",
                        "an object must be {\"metadata\": \"<ONNX metadata key>\"}",
                    ));
                }
            },
            Some(_) => {
                return Err(invalid(
                    "postprocess.labels",
                    "must be a labels file URL, a list, or {\"metadata\": key}",
                ));
            }
        };
        Ok(Postprocess {
            softmax,
            top_k,
            labels,
            output,
        })
    }
}

impl TableWork {
    fn parse(input: Fields, table: Fields) -> Result<TableWork, InferFailure> {
        let uri = required(table, "uri", "table.uri")?;
        let format = string(table, "format", "table.format")?;
        if let Some(f) = &format
            && !["parquet", "csv"].contains(&f.to_ascii_lowercase().as_str())
        {
            return Err(invalid(
                "table.format",
                format!("{f:?} is not parquet or csv"),
            ));
        }
        let features = match table.get("features") {
            Some(Value::Array(cols)) if !cols.is_empty() => cols
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    c.as_str()
                        .filter(|c| !c.is_empty())
                        .map(str::to_string)
                        .ok_or_else(|| {
                            invalid(&format!("table.features[{i}]"), "must be a column name")
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => {
                return Err(invalid(
                    "table.features",
                    "is required: the feature columns, in the model's input order",
                ));
            }
        };
        let prediction =
            string(table, "prediction", "table.prediction")?.unwrap_or_else(|| "prediction".into());
        if features.contains(&prediction) {
            return Err(invalid(
                "table.prediction",
                format!("{prediction:?} is also a feature column"),
            ));
        }
        let output = required(input, "output", "output")?;
        Ok(TableWork {
            uri,
            format,
            features,
            prediction,
            output,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn images(pre: Value) -> Value {
        json!({"model": "s3://m/model.onnx", "items": [{"Key": "a.png"}, "s3://p/b.jpg"],
               "bucket": "photos", "preprocess": pre, "output": "s3://out/predictions/"})
    }

    #[test]
    fn an_image_batch_with_defaults() {
        let spec = InferSpec::parse(&images(json!({"size": 224}))).expect("valid");
        let Work::Images(work) = &spec.work else {
            panic!("not images")
        };
        assert_eq!(work.items, ["s3://photos/a.png", "s3://p/b.jpg"]);
        assert_eq!(work.pre.resize, Resize::ShorterSide(256));
        assert_eq!(work.pre.shape(1), [1, 3, 224, 224]);
        assert_eq!(work.item_errors, ItemErrors::Report);
        assert_eq!(spec.post.top_k, 5);
        assert_eq!(spec.post.labels, Labels::Indices);
    }

    #[test]
    fn problems_name_their_field() {
        let cases = [
            (
                json!({"size": 224, "mean": [0.5, 0.5]}),
                "preprocess.mean: has 2 values",
            ),
            (
                json!({"size": 224, "std": [1, 0, 1]}),
                "preprocess.std[1]: must not be 0",
            ),
            (
                json!({"size": 224, "layout": "chw"}),
                "preprocess.layout: \"chw\" is not one of",
            ),
            (json!({"size": 0}), "preprocess.size: must be an integer"),
            (json!({"width": 224}), "preprocess.height: is required"),
            (
                json!({"size": 224, "colour": "rgb"}),
                "preprocess.colour: is not a known field",
            ),
            (
                json!({"size": 224, "resizeShorterSide": 100}),
                "preprocess.resizeShorterSide: 100 is smaller",
            ),
        ];
        for (pre, expected) in cases {
            let err = InferSpec::parse(&images(pre)).expect_err("invalid");
            assert!(
                err.cause.contains(expected),
                "{} lacks {expected:?}",
                err.cause
            );
            assert_eq!(err.error, "Sluice.InvalidInput");
        }
        let mut input = images(json!({"size": 224}));
        input["items"][0] = json!({"Key": ""});
        let err = InferSpec::parse(&input).expect_err("invalid");
        assert!(err.cause.starts_with("items[0]:"), "{}", err.cause);
        input["items"][0] = json!({"Key": "x"});
        input.as_object_mut().expect("object").remove("bucket");
        let err = InferSpec::parse(&input).expect_err("invalid");
        assert!(err.cause.contains("no \"Bucket\""), "{}", err.cause);
        input["postprocess"] = json!({"labels": {"meta": "x"}});
        let err = InferSpec::parse(&input).expect_err("invalid");
        assert!(
            err.cause.starts_with("postprocess.labels:"),
            "{}",
            err.cause
        );
    }

    #[test]
    fn a_table_to_score() {
        let spec = InferSpec::parse(&json!({
            "model": "m.onnx", "table": {"uri": "s3://b/rows.csv", "features": ["a", "b"]},
            "output": "s3://b/scored.parquet"}))
        .expect("valid");
        let Work::Table(table) = spec.work else {
            panic!("not a table")
        };
        assert_eq!(table.prediction, "prediction");
        assert_eq!(table.features, ["a", "b"]);
        let err = InferSpec::parse(&json!({"model": "m.onnx", "table": {"uri": "x.csv"},
            "output": "o.parquet"}))
        .expect_err("no features");
        assert!(err.cause.starts_with("table.features:"), "{}", err.cause);
    }
}
