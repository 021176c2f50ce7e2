//! Model outputs to predictions (softmax, top-k, labels), and a batch's predictions to the rows
//! of one Parquet file.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Builder, ListBuilder, StringBuilder, StructBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use super::spec::Postprocess;

/// One image's prediction, or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: String,
    /// The best class and its score, then the next best (`top_k` in all).
    pub top: Vec<(String, f64)>,
    pub duration_ms: f64,
    /// `Sluice.<Name>: cause` of a failed item.
    pub error: Option<String>,
}

/// Class scores to the best `post.top_k` (label, score) pairs, best first.
pub fn rank(scores: &[f64], post: &Postprocess, labels: &[String]) -> Vec<(String, f64)> {
    let mut scores = scores.to_vec();
    if post.softmax {
        softmax(&mut scores);
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Highest first; a NaN sorts last and ties keep class order.
    order.sort_by(|&a, &b| {
        scores[b]
            .partial_cmp(&scores[a])
            .unwrap_or_else(|| scores[a].is_nan().cmp(&scores[b].is_nan()))
    });
    order
        .into_iter()
        .take(post.top_k)
        .map(|i| {
            let label = labels.get(i).cloned().unwrap_or_else(|| i.to_string());
            (label, scores[i])
        })
        .collect()
}

fn softmax(v: &mut [f64]) {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in v.iter_mut() {
        *x /= sum;
    }
}

/// Labels from a labels file or a metadata entry: one per line, or comma-separated on one line.
pub fn split_labels(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let parts: Vec<&str> = if lines.len() == 1 {
        lines[0].split(',').collect()
    } else {
        lines
    };
    parts.into_iter().map(|l| l.trim().to_string()).collect()
}

fn top_k_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(top_k_fields()),
        true,
    )))
}

fn top_k_fields() -> Fields {
    Fields::from(vec![
        Field::new("label", DataType::Utf8, false),
        Field::new("score", DataType::Float64, false),
    ])
}

/// The columns of a predictions file.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("label", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
        Field::new("top_k", top_k_type(), false),
        Field::new("model_id", DataType::Utf8, false),
        Field::new("duration_ms", DataType::Float64, false),
        Field::new("error", DataType::Utf8, true),
    ]))
}

/// The rows of one batch as a Parquet file.
pub fn parquet(rows: &[Row], model_id: &str) -> Result<Vec<u8>, String> {
    let mut key = StringBuilder::new();
    let mut label = StringBuilder::new();
    let mut score = Float64Builder::new();
    let mut top_k = ListBuilder::new(StructBuilder::from_fields(top_k_fields(), 0)).with_field(
        Arc::new(Field::new("item", DataType::Struct(top_k_fields()), true)),
    );
    let mut model = StringBuilder::new();
    let mut duration = Float64Builder::new();
    let mut error = StringBuilder::new();
    for row in rows {
        key.append_value(&row.key);
        label.append_option(row.top.first().map(|(l, _)| l));
        score.append_option(row.top.first().map(|(_, s)| *s));
        let entries = top_k.values();
        for (l, s) in &row.top {
            entries
                .field_builder::<StringBuilder>(0)
                .ok_or("top_k label builder")?
                .append_value(l);
            entries
                .field_builder::<Float64Builder>(1)
                .ok_or("top_k score builder")?
                .append_value(*s);
            entries.append(true);
        }
        top_k.append(true);
        model.append_value(model_id);
        duration.append_value(row.duration_ms);
        error.append_option(row.error.as_deref());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(key.finish()),
        Arc::new(label.finish()),
        Arc::new(score.finish()),
        Arc::new(top_k.finish()),
        Arc::new(model.finish()),
        Arc::new(duration.finish()),
        Arc::new(error.finish()),
    ];
    let batch = RecordBatch::try_new(schema(), columns).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema(), Some(writer_properties()))
        .map_err(|e| e.to_string())?;
    writer.write(&batch).map_err(|e| e.to_string())?;
    writer.close().map_err(|e| e.to_string())?;
    Ok(out)
}

/// zstd, as the SQL task writes by default.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build()
}

/// The schema as a reference lists it: `[{"name", "type"}]`.
pub fn describe(schema: &Schema) -> serde_json::Value {
    schema
        .fields()
        .iter()
        .map(|f| serde_json::json!({"name": f.name(), "type": f.data_type().to_string()}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::spec::Labels;

    fn post(softmax: bool, top_k: usize) -> Postprocess {
        Postprocess {
            softmax,
            top_k,
            labels: Labels::Indices,
            output: 0,
        }
    }

    #[test]
    fn ranking_with_and_without_softmax() {
        let labels = split_labels("0,90,180,270\n");
        assert_eq!(labels, ["0", "90", "180", "270"]);
        let top = rank(&[0.1, 0.6, 0.2, 0.1], &post(false, 2), &labels);
        assert_eq!(top, [("90".into(), 0.6), ("180".into(), 0.2)]);
        let top = rank(&[f64::NAN, 1.0, 3.0], &post(false, 3), &[]);
        assert_eq!((top[0].0.as_str(), top[2].0.as_str()), ("2", "0"));
        let top = rank(&[2.0, 1.0], &post(true, 2), &[]);
        let sum: f64 = top.iter().map(|(_, s)| s).sum();
        assert!((sum - 1.0).abs() < 1e-12 && top[0].1 > 0.7, "{top:?}");
        assert_eq!(split_labels("cat\ndog\n\n"), ["cat", "dog"]);
    }

    #[test]
    fn rows_to_parquet_and_back() {
        use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let rows = vec![
            Row {
                key: "a.png".into(),
                top: vec![("cat".into(), 0.9), ("dog".into(), 0.1)],
                duration_ms: 12.5,
                error: None,
            },
            Row {
                key: "b.png".into(),
                top: vec![],
                duration_ms: 0.1,
                error: Some("Sluice.ImageUndecodable: bad".into()),
            },
        ];
        let bytes = parquet(&rows, "sha256:00").expect("written");
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .expect("parquet")
            .build()
            .expect("reader");
        let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().expect("batches");
        assert_eq!(batches[0].num_rows(), 2);
        assert_eq!(batches[0].schema(), schema());
        assert_eq!(batches[0].column(1).null_count(), 1);
    }
}
