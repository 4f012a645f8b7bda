//! The connection to Firestore (opened on first use, shared by the state
//! store and the upstream source), every call bounded by the configured
//! timeout, and the translation of Firestore errors into [`PortError`]s.
//!
//! Only the crate's fluent API is used. Authentication is the crate's own
//! Google auth (google-cloud-auth): Application Default Credentials cover a
//! service-account key or the `external_account` file of GitHub's workload
//! identity in GOOGLE_APPLICATION_CREDENTIALS, and the metadata server on
//! Google Cloud. Against the emulator no credentials are looked up at all.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use firestore::errors::FirestoreError;
use firestore::gcloud_sdk::google::firestore::v1::Document;
use firestore::gcloud_sdk::google::firestore::v1::Value as FsValue;
use firestore::gcloud_sdk::google_cloud_auth::credentials::{
    CacheableResource, Credentials, CredentialsProvider, EntityTag,
};
use firestore::gcloud_sdk::google_cloud_auth::errors::CredentialsError;
use firestore::gcloud_sdk::tonic::codegen::http::{Extensions, HeaderValue, header::AUTHORIZATION};
// tonic's re-export of tokio-stream, to read the batch answer without another dependency.
use firestore::gcloud_sdk::tonic::codegen::tokio_stream::StreamExt;
use firestore::gcloud_sdk::{GCP_DEFAULT_SCOPES, GoogleAuthHeaders, GoogleEnvironment, HeaderMap, prost_types};
use firestore::{FirestoreDb, FirestoreDbOptions, FirestoreWritePrecondition};
use tokio::sync::OnceCell;

use super::config::{DATABASE_VAR, DocRef, FirestoreConfig, PROJECT_VARS, TIMEOUT_VAR};
use crate::ports::PortError;

const PRODUCTION_URL: &str = "https://firestore.googleapis.com";

/// What a write must find (Firestore preconditions, by the document's
/// update time as the compare-and-set token).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    /// The document must not exist.
    Absent,
    /// The document must still have this update time.
    UpdatedAt(prost_types::Timestamp),
    /// No condition (heartbeats).
    Anything,
}

/// A Firestore connection, cheap to clone.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    config: FirestoreConfig,
    db: OnceCell<FirestoreDb>,
}

impl Connection {
    /// Does no IO: the connection is opened by the first call.
    pub fn new(config: FirestoreConfig) -> Self {
        Connection { inner: Arc::new(Inner { config, db: OnceCell::new() }) }
    }

    pub fn config(&self) -> &FirestoreConfig {
        &self.inner.config
    }

    fn timeout(&self) -> Duration {
        self.inner.config.timeout
    }

    /// Reads a document; `None` when it does not exist.
    ///
    /// A batch read of one id rather than a single get: the batch answers
    /// a missing document with an explicit "missing", while a single get
    /// answers NOT_FOUND for a missing document and a missing database
    /// alike. A wrong project or database must never look like an empty
    /// state (the cycle would start from scratch).
    pub async fn get(&self, doc: &DocRef) -> Result<Option<Document>, PortError> {
        let what = format!("reading {doc}");
        let fail = |e: FirestoreError| match e {
            FirestoreError::DataNotFoundError(err) => PortError::Definitive(format!(
                "{what}: {} (check {}/{} and {DATABASE_VAR})",
                err.data_detail_message, PROJECT_VARS[0], PROJECT_VARS[1]
            )),
            other => classify(&what, other, &self.inner.config),
        };
        self.bounded(&what, async {
            let db = self.db().await?;
            let mut answers = db
                .fluent()
                .select()
                .by_id_in(&doc.collection)
                .batch_with_errors([doc.document.as_str()])
                .await
                .map_err(fail)?;
            let mut answer = None;
            while let Some(item) = answers.next().await {
                answer = Some(item.map_err(fail)?.1);
            }
            answer.ok_or_else(|| PortError::Retryable(format!("{what}: Firestore ended the read without an answer")))
        })
        .await
    }

    /// Replaces the whole document (no merge, like the reference's `set`)
    /// if `expect` holds; returns the stored document with its new update time.
    pub async fn put(
        &self,
        doc: &DocRef,
        fields: std::collections::HashMap<String, FsValue>,
        expect: Expect,
    ) -> Result<Document, PortError> {
        let what = format!("writing {doc}");
        self.bounded(&what, async {
            let db = self.db().await?;
            let document = Document {
                name: format!("{}/{}/{}", db.get_documents_path(), doc.collection, doc.document),
                fields,
                create_time: None,
                update_time: None,
            };
            let update = db.fluent().update().in_col(&doc.collection);
            let update = match precondition(expect)? {
                Some(p) => update.precondition(p),
                None => update,
            };
            update.document(document).execute().await.map_err(|e| classify(&what, e, &self.inner.config))
        })
        .await
    }

    /// Deletes the document if `expect` holds.
    pub async fn delete(&self, doc: &DocRef, expect: Expect) -> Result<(), PortError> {
        let what = format!("deleting {doc}");
        self.bounded(&what, async {
            let db = self.db().await?;
            let delete = db.fluent().delete().from(doc.collection.as_str());
            let delete = match precondition(expect)? {
                Some(p) => delete.precondition(p),
                None => delete,
            };
            delete.document_id(&doc.document).execute().await.map_err(|e| classify(&what, e, &self.inner.config))
        })
        .await
    }

    /// Runs `call` under the timeout: the request timeout inside the crate
    /// covers the RPC, this covers connecting and fetching a token too.
    async fn bounded<T>(&self, what: &str, call: impl Future<Output = Result<T, PortError>>) -> Result<T, PortError> {
        match tokio::time::timeout(self.timeout(), call).await {
            Ok(result) => result,
            Err(_) => Err(PortError::Retryable(format!(
                "{what}: Firestore did not answer within {:?} ({}; {TIMEOUT_VAR} sets the limit)",
                self.timeout(),
                self.endpoint()
            ))),
        }
    }

    fn endpoint(&self) -> String {
        match &self.inner.config.emulator_host {
            Some(host) => format!("emulator at {host}, FIRESTORE_EMULATOR_HOST"),
            None => format!("project {}", self.inner.config.project_id.as_deref().unwrap_or("?")),
        }
    }

    async fn db(&self) -> Result<&FirestoreDb, PortError> {
        self.inner.db.get_or_try_init(|| connect(&self.inner.config)).await
    }
}

fn precondition(expect: Expect) -> Result<Option<FirestoreWritePrecondition>, PortError> {
    Ok(match expect {
        Expect::Absent => Some(FirestoreWritePrecondition::Exists(false)),
        // Never drop the condition: an unusable token refuses the write.
        Expect::UpdatedAt(ts) => Some(FirestoreWritePrecondition::UpdateTime(
            firestore::timestamp_utils::from_timestamp(ts)
                .map_err(|e| PortError::Definitive(format!("unusable update time {ts:?}: {e}")))?,
        )),
        Expect::Anything => None,
    })
}

async fn connect(config: &FirestoreConfig) -> Result<FirestoreDb, PortError> {
    let mut options = FirestoreDbOptions::new(project_id(config).await?);
    options.database_id = config.database_id.clone();
    // Retries belong to the shell (saves back off; loads abort the cycle):
    // retrying a conditional write inside the client could turn our own
    // applied write into a false conflict.
    options.max_retries = 0;
    options.request_timeout = Some(config.timeout);
    let connected = match &config.emulator_host {
        Some(host) => {
            let url = if host.contains("://") { host.clone() } else { format!("http://{host}") };
            options.firebase_api_url = Some(url);
            FirestoreDb::with_options_auth(options, Credentials::from(EmulatorOwner::default())).await
        }
        None => {
            // Pinned explicitly, so a stray FIRESTORE_EMULATOR_HOST in the
            // process cannot redirect credentials meant for production.
            options.firebase_api_url = Some(PRODUCTION_URL.to_string());
            let auth = GoogleAuthHeaders::from_adc_with_scopes(GCP_DEFAULT_SCOPES.clone()).await.map_err(|e| {
                PortError::Auth(format!(
                    "no usable Google credentials ({e}); set GOOGLE_APPLICATION_CREDENTIALS to a service-account \
                     key or workload-identity file, or run on Google Cloud"
                ))
            })?;
            FirestoreDb::with_options_auth(options, auth).await
        }
    };
    connected.map_err(|e| classify("connecting to Firestore", e, config))
}

async fn project_id(config: &FirestoreConfig) -> Result<String, PortError> {
    if let Some(p) = &config.project_id {
        return Ok(p.clone());
    }
    // Only reached with Firestore configured and no project given: on Google
    // Cloud the metadata server knows it.
    GoogleEnvironment::detect_google_project_id().await.ok_or_else(|| {
        PortError::Auth(format!(
            "no Google Cloud project id: set {} (or {}), or use a credentials file with project_id",
            PROJECT_VARS[0], PROJECT_VARS[1]
        ))
    })
}

/// The emulator's conventional stub token, so that it treats us as an
/// administrator and nothing looks for real credentials.
#[derive(Debug, Default)]
struct EmulatorOwner {
    tag: EntityTag,
}

impl CredentialsProvider for EmulatorOwner {
    async fn headers(&self, extensions: Extensions) -> Result<CacheableResource<HeaderMap>, CredentialsError> {
        if extensions.get::<EntityTag>() == Some(&self.tag) {
            return Ok(CacheableResource::NotModified);
        }
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer owner"));
        Ok(CacheableResource::New { entity_tag: self.tag.clone(), data: headers })
    }

    async fn universe_domain(&self) -> Option<String> {
        None
    }
}

/// Firestore's answer, in the terms the shell acts on: a lost
/// compare-and-set is a conflict, a dead or slow endpoint is retryable,
/// refused credentials are auth, a malformed request is definitive.
pub fn classify(what: &str, e: FirestoreError, config: &FirestoreConfig) -> PortError {
    let hint = match &config.emulator_host {
        Some(host) => format!(" (emulator at {host}, FIRESTORE_EMULATOR_HOST)"),
        None => format!(
            " (project {}, database {})",
            config.project_id.as_deref().unwrap_or("from the metadata server"),
            config.database_id
        ),
    };
    match e {
        FirestoreError::DataConflictError(err) => PortError::Conflict(format!("{what}: {}", err.details)),
        FirestoreError::DataNotFoundError(err) => PortError::Conflict(format!("{what}: {}", err.data_detail_message)),
        FirestoreError::DatabaseError(err) => {
            let msg = format!("{what}: {}{hint}", err.details);
            match err.public.code.as_str() {
                "FailedPrecondition" => PortError::Conflict(msg),
                "PermissionDenied" | "Unauthenticated" => PortError::Auth(format!(
                    "{msg}; check the credentials (GOOGLE_APPLICATION_CREDENTIALS) and their Firestore role"
                )),
                "InvalidArgument" | "OutOfRange" | "Unimplemented" => PortError::Definitive(msg),
                // Token failures surface as an Unknown status; anything else
                // unknown is treated as transient so a save is retried.
                _ if err.details.to_ascii_lowercase().contains("credential") => PortError::Auth(msg),
                _ => PortError::Retryable(msg),
            }
        }
        FirestoreError::SystemError(err) => {
            let msg = format!("{what}: {}{hint}", err.message);
            if err.public.code.contains("Credentials") || err.public.code.contains("Crypto") {
                PortError::Auth(msg)
            } else {
                PortError::Retryable(msg)
            }
        }
        FirestoreError::NetworkError(err) => PortError::Retryable(format!("{what}: {}{hint}", err.message)),
        other => PortError::Definitive(format!("{what}: {other}")),
    }
}
