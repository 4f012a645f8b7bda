//! A state store held in memory: replay's store and a test double.

use std::sync::Mutex;

use serde_json::Value;

use crate::ports::{PortError, StateStore};

#[derive(Default)]
pub struct MemoryStore {
    doc: Mutex<Option<Value>>,
    writes: Mutex<Vec<Value>>,
}

impl MemoryStore {
    /// A store whose document is `doc` (`None` or JSON null: missing).
    pub fn new(doc: Option<Value>) -> Self {
        MemoryStore { doc: Mutex::new(doc.filter(|d| !d.is_null())), writes: Mutex::new(Vec::new()) }
    }

    /// Every document saved, in order.
    pub fn writes(&self) -> Vec<Value> {
        self.writes.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

impl StateStore for MemoryStore {
    async fn load(&self) -> Result<Option<Value>, PortError> {
        Ok(self.doc.lock().map_err(|_| PortError::Retryable("store lock poisoned".into()))?.clone())
    }

    async fn save(&self, doc: &Value) -> Result<(), PortError> {
        *self.doc.lock().map_err(|_| PortError::Retryable("store lock poisoned".into()))? = Some(doc.clone());
        self.writes.lock().map_err(|_| PortError::Retryable("store lock poisoned".into()))?.push(doc.clone());
        Ok(())
    }
}
