//! The inference runtime behind a small trait, so a GPU backend (ONNX Runtime with CUDA, say)
//! can sit beside the default one. The default is tract: pure Rust, so `sluice` needs no
//! native library and downloads nothing.

use std::sync::Arc;

use tract_onnx::prelude::*;

/// The input a task feeds the model: a shape with an optional variable batch axis, and a type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InputDecl {
    /// The dimensions; `None` is the batch axis, whose size each call gives.
    pub shape: Vec<Option<usize>>,
    pub dtype: InputType,
}

/// The input tensor's element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputType {
    F32,
    U8,
}

/// A tensor handed to the model.
#[derive(Debug, Clone)]
pub enum Input {
    F32 { shape: Vec<usize>, data: Vec<f32> },
    U8 { shape: Vec<usize>, data: Vec<u8> },
}

/// One model output, as numbers (class scores, a regression value, a class id).
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
}

/// Why a model cannot be used or did not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuntimeError {
    /// The bytes are not a model this runtime can load.
    #[error("{0}")]
    Load(String),
    /// The model's declared input differs from what the task declares.
    #[error("{0}")]
    Mismatch(String),
    /// The model failed on an input.
    #[error("{0}")]
    Run(String),
}

/// An inference runtime.
pub trait Backend: Send + Sync {
    /// The runtime's name, reported with each prediction.
    fn name(&self) -> &'static str;
    /// Load and plan a model for inputs as `input` declares.
    fn load(&self, model: &[u8], input: &InputDecl) -> Result<Arc<dyn Model>, RuntimeError>;
}

/// A loaded model, shared by every task of a worker; `run` takes `&self`.
pub trait Model: Send + Sync {
    /// An ONNX metadata entry (`metadata_props`), if the model has it.
    fn metadata(&self, key: &str) -> Option<String>;
    /// Run the model on one input tensor.
    fn run(&self, input: Input) -> Result<Vec<Output>, RuntimeError>;
}

/// tract, the default runtime.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tract;

struct TractModel {
    plan: Arc<TypedRunnableModel>,
    metadata: Vec<(String, String)>,
}

fn describe(shape: &[Option<usize>]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| d.map_or_else(|| "N".to_string(), |d| d.to_string()))
        .collect();
    format!("[{}]", dims.join(", "))
}

impl Backend for Tract {
    fn name(&self) -> &'static str {
        "tract-onnx 0.23.9"
    }

    fn load(&self, bytes: &[u8], input: &InputDecl) -> Result<Arc<dyn Model>, RuntimeError> {
        let load = |e: TractError| RuntimeError::Load(format!("{e:#}"));
        // Exporters such as Paddle2ONNX write symbolic shapes into value_info that contradict a
        // fixed batch; the shapes are inferred again from the input anyway.
        let mut model = tract_onnx::onnx()
            .with_ignore_value_info(true)
            .model_for_read(&mut &bytes[..])
            .map_err(load)?;
        let inputs = model.input_outlets().map_err(load)?.len();
        if inputs != 1 {
            return Err(RuntimeError::Mismatch(format!(
                "the model has {inputs} inputs; sluice-infer feeds exactly one"
            )));
        }
        check_declared(model.input_fact(0).map_err(load)?, input)?;
        let batch = model.symbols.sym("N");
        let dims: TVec<TDim> = input
            .shape
            .iter()
            .map(|d| d.map_or_else(|| batch.to_dim(), |d| d.to_dim()))
            .collect();
        let dt = match input.dtype {
            InputType::F32 => f32::datum_type(),
            InputType::U8 => u8::datum_type(),
        };
        model
            .set_input_fact(0, InferenceFact::dt_shape(dt, dims))
            .map_err(load)?;
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| {
                RuntimeError::Mismatch(format!(
                    "the model does not accept an input of {} {:?}: {e:#}",
                    describe(&input.shape),
                    input.dtype
                ))
            })?;
        let metadata = plan
            .model()
            .properties
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix("onnx.metadata_props.")?;
                let value = v
                    .try_as_plain_ram()
                    .ok()?
                    .to_scalar::<String>()
                    .ok()?
                    .clone();
                Some((key.to_string(), value))
            })
            .collect();
        Ok(Arc::new(TractModel { plan, metadata }))
    }
}

/// Compare the model's own declaration of its input (where it has one) with the task's.
fn check_declared(fact: &InferenceFact, input: &InputDecl) -> Result<(), RuntimeError> {
    use tract_onnx::tract_hir::infer::Factoid;
    if let Some(dt) = fact.datum_type.concretize() {
        let expected = match input.dtype {
            InputType::F32 => f32::datum_type(),
            InputType::U8 => u8::datum_type(),
        };
        if dt != expected {
            return Err(RuntimeError::Mismatch(format!(
                "the model's input is {dt:?}; the task feeds {:?} (preprocess.dtype)",
                input.dtype
            )));
        }
    }
    let Some(dims) = fact.shape.concretize() else {
        return Ok(());
    };
    let model: Vec<Option<usize>> = dims
        .iter()
        .map(|d| d.as_i64().and_then(|d| usize::try_from(d).ok()))
        .collect();
    let same_rank = model.len() == input.shape.len();
    let agrees = same_rank
        && model
            .iter()
            .zip(&input.shape)
            .all(|(m, t)| m.is_none() || t.is_none() || m == t);
    if !agrees {
        return Err(RuntimeError::Mismatch(format!(
            "the model's input is {}; the task feeds {}",
            describe(&model),
            describe(&input.shape)
        )));
    }
    Ok(())
}

impl Model for TractModel {
    fn metadata(&self, key: &str) -> Option<String> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn run(&self, input: Input) -> Result<Vec<Output>, RuntimeError> {
        let run = |e: TractError| RuntimeError::Run(format!("{e:#}"));
        let tensor = match &input {
            Input::F32 { shape, data } => Tensor::from_shape(shape, data),
            Input::U8 { shape, data } => Tensor::from_shape(shape, data),
        }
        .map_err(run)?;
        let outputs = self.plan.run(tvec![tensor.into()]).map_err(run)?;
        outputs
            .iter()
            .map(|out| {
                let values = out.cast_to::<f64>().map_err(|e| {
                    RuntimeError::Run(format!(
                        "an output of type {:?} is not numeric: {e:#}",
                        out.datum_type()
                    ))
                })?;
                let view = values.to_plain_array_view::<f64>().map_err(run)?;
                Ok(Output {
                    shape: out.shape().to_vec(),
                    values: view.iter().copied().collect(),
                })
            })
            .collect()
    }
}
