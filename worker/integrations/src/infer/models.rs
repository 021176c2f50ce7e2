//! The models a worker has loaded: each is read and planned once and shared by every task that
//! uses it, keyed by its URL, its ETag (a replaced model is loaded again) and the input the
//! task declares. The cache is bounded; the least recently used model is dropped first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::InferFailure;
use super::runtime::{Backend, InputDecl, Model};
use crate::objects::Buckets;

/// Models larger than this are refused before they are read.
const MAX_MODEL_BYTES: u64 = 4 << 30;

/// A model ready to run, with what identifies it.
pub struct Loaded {
    pub model: Arc<dyn Model>,
    /// `sha256:<hex>` of the model file: the same model gives the same id wherever it is.
    pub id: String,
    /// The runtime that runs it.
    pub runtime: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    url: String,
    etag: String,
    input: InputDecl,
}

struct Entry {
    key: Key,
    model: Arc<OnceCell<Arc<Loaded>>>,
}

/// The bounded cache of loaded models.
pub struct ModelCache {
    backend: Arc<dyn Backend>,
    capacity: usize,
    /// Least recently used first.
    entries: Mutex<Vec<Entry>>,
    loads: AtomicU64,
}

impl ModelCache {
    /// A cache holding up to `capacity` models, loaded by `backend`.
    pub fn new(backend: Arc<dyn Backend>, capacity: usize) -> ModelCache {
        ModelCache {
            backend,
            capacity: capacity.max(1),
            entries: Mutex::new(Vec::new()),
            loads: AtomicU64::new(0),
        }
    }

    /// How many times a model was read and planned by this process.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// The model at `url`, planned for `input`: from the cache when its ETag is unchanged,
    /// else read and loaded once however many tasks ask for it at the same time.
    pub async fn get(
        &self,
        buckets: &Buckets,
        url: &str,
        input: &InputDecl,
    ) -> Result<Arc<Loaded>, InferFailure> {
        let (store, path) = buckets
            .locate(url)
            .map_err(|e| InferFailure::invalid(format!("model: {e}")))?;
        let meta = store
            .head(&path)
            .await
            .map_err(|e| InferFailure::model_load(format!("model {url}: {e}")))?;
        if meta.size > MAX_MODEL_BYTES {
            return Err(InferFailure::model_load(format!(
                "model {url} is {} bytes; the most sluice-infer loads is {MAX_MODEL_BYTES}",
                meta.size
            )));
        }
        let key = Key {
            url: url.to_string(),
            etag: meta
                .e_tag
                .clone()
                .unwrap_or_else(|| format!("{}-{}", meta.last_modified, meta.size)),
            input: input.clone(),
        };
        let cell = self.entry(&key);
        let loaded = cell
            .get_or_try_init(|| async {
                let started = std::time::Instant::now();
                let bytes = store
                    .get(&path)
                    .await
                    .map_err(|e| InferFailure::model_load(format!("model {url}: {e}")))?
                    .bytes()
                    .await
                    .map_err(|e| InferFailure::model_load(format!("model {url}: {e}")))?;
                let backend = self.backend.clone();
                let input = input.clone();
                let model_url = url.to_string();
                // Parsing and planning take a CPU for a while: off the async threads.
                let loaded = tokio::task::spawn_blocking(move || {
                    let id = format!("sha256:{:x}", Sha256::digest(&bytes));
                    let model = backend
                        .load(&bytes, &input)
                        .map_err(|e| InferFailure::from_runtime(&model_url, e))?;
                    Ok::<_, InferFailure>(Loaded {
                        model,
                        id,
                        runtime: backend.name(),
                    })
                })
                .await
                .map_err(|e| InferFailure::model_load(format!("loading the model: {e}")))??;
                let loads = self.loads.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::info!(
                    model = url,
                    id = %loaded.id,
                    runtime = loaded.runtime,
                    seconds = started.elapsed().as_secs_f64(),
                    loads,
                    "model loaded"
                );
                Ok::<_, InferFailure>(Arc::new(loaded))
            })
            .await;
        match loaded {
            Ok(loaded) => Ok(loaded.clone()),
            Err(e) => {
                // A failed load is not cached: the next task tries again (the object may have
                // been fixed).
                self.forget(&key, &cell);
                Err(e)
            }
        }
    }

    fn entry(&self, key: &Key) -> Arc<OnceCell<Arc<Loaded>>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = entries.iter().position(|e| &e.key == key) {
            let entry = entries.remove(at);
            let cell = entry.model.clone();
            entries.push(entry);
            return cell;
        }
        // Older versions of the same model are dead weight once a new one is asked for.
        entries.retain(|e| e.key.url != key.url || e.key.input != key.input);
        while entries.len() >= self.capacity {
            entries.remove(0);
        }
        let cell = Arc::new(OnceCell::new());
        entries.push(Entry {
            key: key.clone(),
            model: cell.clone(),
        });
        cell
    }

    fn forget(&self, key: &Key, cell: &Arc<OnceCell<Arc<Loaded>>>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|e| !(e.key == *key && Arc::ptr_eq(&e.model, cell)));
    }
}
