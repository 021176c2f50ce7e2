//! Where `s3://` buckets live: the S3 API (AWS, or a local S3-compatible server named by
//! `AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL`), or, when `SLUICE_S3_DIR` is set, a local directory
//! with one subdirectory per bucket. The second lets `sluice run` execute a pipeline written for
//! S3 on a machine with no S3 at all, the files standing in for the objects.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use url::Url;

/// A bucket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("bucket name {0:?} is empty or contains '/'")]
    BadName(String),
    #[error("SLUICE_S3_DIR bucket {bucket:?}: {message}")]
    Local { bucket: String, message: String },
    #[error("S3 bucket {bucket:?}: {message}")]
    S3 { bucket: String, message: String },
    #[error("{url:?} is not an s3:// or file:// URL or a local path: {message}")]
    BadUrl { url: String, message: String },
}

/// How `s3://` buckets are reached.
#[derive(Debug, Clone, Default)]
pub struct Buckets {
    /// The directory standing in for S3 (`SLUICE_S3_DIR`), one subdirectory per bucket.
    pub local_root: Option<PathBuf>,
    /// The S3 endpoint override for local servers (moto, MinIO, s3s), if any.
    pub endpoint: Option<String>,
    /// Stores already opened, by bucket: each S3 store holds an HTTP client and its pooled
    /// connections, which a task reading thousands of objects must not rebuild per object.
    opened: Arc<Mutex<HashMap<String, Arc<dyn ObjectStore>>>>,
}

impl Buckets {
    /// Buckets in a local directory (`local_root`) or on S3, at `endpoint` when given.
    pub fn new(local_root: Option<PathBuf>, endpoint: Option<String>) -> Buckets {
        Buckets {
            local_root,
            endpoint,
            opened: Arc::default(),
        }
    }

    /// Buckets as subdirectories of `root`.
    pub fn local(root: impl Into<PathBuf>) -> Buckets {
        Buckets::new(Some(root.into()), None)
    }

    /// The object store holding `bucket`. Credentials come from the usual AWS environment and
    /// are never logged.
    pub fn open(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, BucketError> {
        if bucket.is_empty() || bucket.contains('/') || bucket == "." || bucket == ".." {
            return Err(BucketError::BadName(bucket.to_string()));
        }
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = opened.get(bucket) {
            return Ok(store.clone());
        }
        let store = self.open_new(bucket)?;
        opened.insert(bucket.to_string(), store.clone());
        Ok(store)
    }

    fn open_new(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, BucketError> {
        if let Some(root) = &self.local_root {
            let dir = root.join(bucket);
            let local = |message: String| BucketError::Local {
                bucket: bucket.to_string(),
                message,
            };
            std::fs::create_dir_all(&dir).map_err(|e| local(format!("{}: {e}", dir.display())))?;
            let store = LocalFileSystem::new_with_prefix(&dir).map_err(|e| local(e.to_string()))?;
            return Ok(Arc::new(store.with_automatic_cleanup(true)));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = &self.endpoint {
            // Local S3 servers speak plain HTTP and path-style requests.
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let store = builder.build().map_err(|e| BucketError::S3 {
            bucket: bucket.to_string(),
            message: e.to_string(),
        })?;
        Ok(Arc::new(store))
    }

    /// The store and key of one object or prefix named by an `s3://` URL, a `file://` URL or a
    /// local path (relative paths are taken from the current directory).
    pub fn locate(&self, url: &str) -> Result<(Arc<dyn ObjectStore>, Path), BucketError> {
        let bad = |message: String| BucketError::BadUrl {
            url: url.to_string(),
            message,
        };
        let file = |path: &std::path::Path| -> Result<(Arc<dyn ObjectStore>, Path), BucketError> {
            let absolute = lexical(&std::path::absolute(path).map_err(|e| bad(e.to_string()))?);
            let key = Path::from_absolute_path(&absolute).map_err(|e| bad(e.to_string()))?;
            Ok((Arc::new(LocalFileSystem::new()), key))
        };
        if !url.contains("://") {
            if url.is_empty() {
                return Err(bad("it is empty".into()));
            }
            return file(std::path::Path::new(url));
        }
        let parsed = Url::parse(url).map_err(|e| bad(e.to_string()))?;
        match parsed.scheme() {
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .ok_or_else(|| bad("it names no bucket".into()))?;
                let key = Path::from_url_path(parsed.path()).map_err(|e| bad(e.to_string()))?;
                Ok((self.open(bucket)?, key))
            }
            "file" => {
                let path = parsed
                    .to_file_path()
                    .map_err(|()| bad("it is not a local file path".into()))?;
                file(&path)
            }
            other => Err(bad(format!("the scheme {other}:// is not supported"))),
        }
    }
}

/// `path` with `.` and `..` resolved by name, as a shell does (object-store paths refuse them).
fn lexical(path: &std::path::Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_resolves_each_form() {
        let root = std::env::temp_dir().join(format!("sluice-locate-{}", std::process::id()));
        let buckets = Buckets::local(&root);
        let (_, key) = buckets.locate("s3://photos/a/b.png").expect("s3");
        assert_eq!(key.as_ref(), "a/b.png");
        let (_, key) = buckets.locate("file:///tmp/m.onnx").expect("file");
        assert_eq!(key.as_ref(), "tmp/m.onnx");
        let (_, key) = buckets.locate("/tmp/x/../m.onnx").expect("path");
        assert_eq!(key.as_ref(), "tmp/m.onnx");
        for bad in ["", "http://example.com/m.onnx", "s3:///key"] {
            assert!(buckets.locate(bad).is_err(), "{bad:?} was accepted");
        }
        let _ = std::fs::remove_dir_all(root);
    }
}
