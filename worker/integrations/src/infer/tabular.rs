//! Scoring a table: the rows of a Parquet or CSV reference go through the model a record batch
//! at a time (the feature columns as a `[rows, features]` float tensor), and come out as
//! Parquet with the prediction column added. Memory is bounded by one record batch.

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{
    Array, ArrayRef, Float32Array, Float64Array, Int64Array, StringArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::AsyncArrowWriter;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use object_store::ObjectStoreExt;
use object_store::buffered::BufWriter;
use serde_json::{Value, json};

use super::models::Loaded;
use super::predictions::{describe, writer_properties};
use super::runtime::{Input, Output};
use super::spec::TableWork;
use super::{InferFailure, model_info};
use crate::objects::Buckets;

/// What a model's output becomes in the table.
enum Column {
    /// One number per row (a regression, or a model that outputs a class id).
    Value,
    /// One score per class: the best class (its label, or its index) and its score.
    Classes,
}

/// Score every row of `work.uri` and write the table with its predictions to `work.output`.
pub async fn score(
    work: &TableWork,
    loaded: &Loaded,
    labels: &[String],
    output_index: usize,
    buckets: &Buckets,
    loads: u64,
) -> Result<Value, InferFailure> {
    let ctx = SessionContext::new();
    let mut source = json!({"uri": work.uri});
    if let Some(format) = &work.format {
        source["format"] = json!(format);
    }
    crate::sql::register_input(&ctx, buckets, "input", &source)
        .await
        .map_err(|e| InferFailure::invalid(format!("table.uri: {}", e.cause)))?;
    let df = ctx
        .table("input")
        .await
        .map_err(|e| InferFailure::invalid(format!("table.uri: {e}")))?;
    let columns: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    for (i, feature) in work.features.iter().enumerate() {
        if !columns.contains(feature) {
            return Err(InferFailure::invalid(format!(
                "table.features[{i}]: {} has no column {feature:?} (it has {})",
                work.uri,
                columns.join(", ")
            )));
        }
    }
    if columns.contains(&work.prediction) {
        return Err(InferFailure::invalid(format!(
            "table.prediction: {} already has a column {:?}",
            work.uri, work.prediction
        )));
    }
    let mut stream = df
        .execute_stream()
        .await
        .map_err(|e| InferFailure::failed(format!("reading {}: {e}", work.uri)))?;
    let (store, path) = buckets
        .locate(&work.output)
        .map_err(|e| InferFailure::invalid(format!("output: {e}")))?;
    let mut writer: Option<(AsyncArrowWriter<BufWriter>, SchemaRef)> = None;
    let (mut rows, mut seconds) = (0u64, 0f64);
    while let Some(batch) = stream.next().await {
        let batch =
            batch.map_err(|e| InferFailure::failed(format!("reading {}: {e}", work.uri)))?;
        if batch.num_rows() == 0 {
            continue;
        }
        let features = feature_matrix(&batch, &work.features, rows)?;
        let n = batch.num_rows();
        let model = loaded.model.clone();
        let started = Instant::now();
        let outputs = tokio::task::spawn_blocking(move || {
            model.run(Input::F32 {
                shape: vec![n, features.len() / n],
                data: features,
            })
        })
        .await
        .map_err(|e| InferFailure::failed(format!("the model's thread: {e}")))?
        .map_err(|e| InferFailure::from_runtime("the model", e))?;
        seconds += started.elapsed().as_secs_f64();
        let (kind, column) = prediction_column(&outputs, output_index, n, labels)?;
        let mut fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
        fields.push(Field::new(
            &work.prediction,
            column.0.data_type().clone(),
            false,
        ));
        arrays.push(column.0);
        if let (Column::Classes, Some(scores)) = (kind, column.1) {
            fields.push(Field::new(
                format!("{}_score", work.prediction),
                DataType::Float64,
                false,
            ));
            arrays.push(scores);
        }
        let schema = Arc::new(Schema::new(fields));
        let scored = RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| InferFailure::failed(e.to_string()))?;
        if writer.is_none() {
            let w = AsyncArrowWriter::try_new(
                BufWriter::new(store.clone(), path.clone()),
                schema.clone(),
                Some(writer_properties()),
            )
            .map_err(|e| InferFailure::output(format!("{}: {e}", work.output)))?;
            writer = Some((w, schema));
        }
        if let Some((w, _)) = writer.as_mut() {
            w.write(&scored)
                .await
                .map_err(|e| InferFailure::output(format!("{}: {e}", work.output)))?;
        }
        rows += n as u64;
    }
    let Some((w, schema)) = writer else {
        return Err(InferFailure::invalid(format!(
            "table.uri: {} has no rows",
            work.uri
        )));
    };
    w.close()
        .await
        .map_err(|e| InferFailure::output(format!("{}: {e}", work.output)))?;
    let bytes = store.head(&path).await.ok().map(|m| m.size);
    Ok(json!({
        "uri": work.output,
        "format": "parquet",
        "rows": rows,
        "bytes": bytes,
        "schema": describe(&schema),
        "model": model_info(loaded, loads),
        "seconds": seconds,
        "rowsPerSecond": if seconds > 0.0 { rows as f64 / seconds } else { 0.0 },
    }))
}

/// The feature columns of `batch` as a row-major float matrix. A null or a non-numeric column
/// is an error naming the column and the row.
fn feature_matrix(
    batch: &RecordBatch,
    features: &[String],
    first_row: u64,
) -> Result<Vec<f32>, InferFailure> {
    let n = batch.num_rows();
    let mut matrix = vec![0f32; n * features.len()];
    for (j, name) in features.iter().enumerate() {
        let column = batch.column_by_name(name).ok_or_else(|| {
            InferFailure::invalid(format!("table.features[{j}]: no column {name:?}"))
        })?;
        let floats = cast(column, &DataType::Float32).map_err(|e| {
            InferFailure::invalid(format!(
                "table.features[{j}]: column {name:?} ({}) is not numeric: {e}",
                column.data_type()
            ))
        })?;
        let floats = floats
            .as_any()
            .downcast_ref::<Float32Array>()
            .ok_or_else(|| InferFailure::failed("a cast to float32 gave another type"))?;
        for i in 0..n {
            if floats.is_null(i) {
                return Err(InferFailure::invalid(format!(
                    "table.features[{j}]: column {name:?} is empty (or not a number) at row {}",
                    first_row + i as u64
                )));
            }
            matrix[i * features.len() + j] = floats.value(i);
        }
    }
    Ok(matrix)
}

type Prediction = (ArrayRef, Option<ArrayRef>);

/// The prediction column (and, for class scores, the score column) of `n` rows.
fn prediction_column(
    outputs: &[Output],
    index: usize,
    n: usize,
    labels: &[String],
) -> Result<(Column, Prediction), InferFailure> {
    let output = outputs.get(index).ok_or_else(|| {
        InferFailure::mismatch(format!(
            "postprocess.output: the model has {} outputs; {index} does not exist",
            outputs.len()
        ))
    })?;
    let per_row = output.values.len().checked_div(n).unwrap_or(0);
    if output.shape.first() != Some(&n) || per_row * n != output.values.len() || per_row == 0 {
        return Err(InferFailure::mismatch(format!(
            "the model's output {index} has shape {:?} for {n} rows; sluice-infer expects [{n}] or [{n}, classes]",
            output.shape
        )));
    }
    if per_row == 1 {
        return Ok((
            Column::Value,
            (Arc::new(Float64Array::from(output.values.clone())), None),
        ));
    }
    let mut best = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    for row in output.values.chunks_exact(per_row) {
        let (i, s) = row
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |b, (i, s)| if s > b.1 { (i, s) } else { b },
            );
        best.push(i);
        scores.push(s);
    }
    let column: ArrayRef = if labels.is_empty() {
        Arc::new(Int64Array::from(
            best.iter().map(|&i| i as i64).collect::<Vec<_>>(),
        ))
    } else {
        Arc::new(StringArray::from(
            best.iter()
                .map(|&i| labels.get(i).cloned().unwrap_or_else(|| i.to_string()))
                .collect::<Vec<_>>(),
        ))
    };
    Ok((
        Column::Classes,
        (column, Some(Arc::new(Float64Array::from(scores)))),
    ))
}
