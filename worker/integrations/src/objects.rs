//! Where `s3://` buckets live: the S3 API (AWS, or a local S3-compatible server named by
//! `AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL`), or, when `SLUICE_S3_DIR` is set, a local directory
//! with one subdirectory per bucket. The second lets `sluice run` execute a pipeline written for
//! S3 on a machine with no S3 at all, the files standing in for the objects.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;

/// A bucket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("bucket name {0:?} is empty or contains '/'")]
    BadName(String),
    #[error("SLUICE_S3_DIR bucket {bucket:?}: {message}")]
    Local { bucket: String, message: String },
    #[error("S3 bucket {bucket:?}: {message}")]
    S3 { bucket: String, message: String },
}

/// How `s3://` buckets are reached.
#[derive(Debug, Clone, Default)]
pub struct Buckets {
    /// The directory standing in for S3 (`SLUICE_S3_DIR`), one subdirectory per bucket.
    pub local_root: Option<PathBuf>,
    /// The S3 endpoint override for local servers (moto, MinIO, s3s), if any.
    pub endpoint: Option<String>,
}

impl Buckets {
    /// Buckets as subdirectories of `root`.
    pub fn local(root: impl Into<PathBuf>) -> Buckets {
        Buckets {
            local_root: Some(root.into()),
            endpoint: None,
        }
    }

    /// The object store holding `bucket`. Credentials come from the usual AWS environment and
    /// are never logged.
    pub fn open(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, BucketError> {
        if bucket.is_empty() || bucket.contains('/') || bucket == "." || bucket == ".." {
            return Err(BucketError::BadName(bucket.to_string()));
        }
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
}
