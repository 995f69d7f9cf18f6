//! The SCIM request log, written in batches off the request path: a request only appends to a
//! buffer, and the first append after a flush schedules the next flush half a second later.
//! Bodies are redacted of secrets and cut short before they are kept.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use directory::Directory;
use directory::provisioning::ScimRequest;
use serde_json::Value;

/// Longest body kept in the log, in characters.
pub const BODY_MAX: usize = 4096;
/// Bodies larger than this are not parsed for the log (a 10,000-member PATCH is 600 KB).
pub const BODY_PARSE_MAX: usize = 64 * 1024;
const FLUSH_AFTER: Duration = Duration::from_millis(500);

/// Requests waiting to be written.
#[derive(Debug, Default)]
pub struct RequestLog {
    pending: Mutex<Vec<ScimRequest>>,
    scheduled: AtomicBool,
}

impl RequestLog {
    /// Queues `entry` and makes sure a flush is coming.
    pub fn push(self: &std::sync::Arc<Self>, directory: &Directory, entry: ScimRequest) {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            let log = self.clone();
            let directory = directory.clone();
            actix_web::rt::spawn(async move {
                actix_web::rt::time::sleep(FLUSH_AFTER).await;
                let _ = actix_web::web::block(move || log.flush(&directory)).await;
            });
        }
    }

    /// Writes what is queued now.
    pub fn flush(&self, directory: &Directory) {
        self.scheduled.store(false, Ordering::Release);
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if let Err(e) = directory.record_scim_requests(&batch) {
            tracing::warn!(error = %e, lost = batch.len(), "could not write the SCIM request log");
        }
    }
}

/// Names whose values never reach the log.
fn secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "token", "credential", "authorization"].iter().any(|s| k.contains(s))
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(o) => {
            for (k, v) in o.iter_mut() {
                if secret(k) && !v.is_null() {
                    *v = Value::String("[redacted]".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The body as the log keeps it: secrets replaced, at most [`BODY_MAX`] characters. A body that
/// is not JSON is not kept, since it cannot be redacted reliably.
pub fn loggable_body(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    if body.len() > BODY_PARSE_MAX {
        return Some(format!("({} bytes; bodies over {} KiB are not kept)", body.len(), BODY_PARSE_MAX / 1024));
    }
    let Ok(mut value) = serde_json::from_slice::<Value>(body) else {
        return Some(format!("({} bytes that are not JSON)", body.len()));
    };
    redact(&mut value);
    let text = value.to_string();
    if text.chars().count() <= BODY_MAX {
        Some(text)
    } else {
        Some(format!("{}… ({} bytes in all)", text.chars().take(BODY_MAX).collect::<String>(), body.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let body = br#"{"userName":"ada","password":"hunter2","x":[{"clientSecret":"s3"}],"emails":[{"value":"a@b"}]}"#;
        let kept = loggable_body(body).unwrap_or_default();
        assert!(!kept.contains("hunter2") && !kept.contains("s3"), "{kept}");
        assert!(kept.contains("ada") && kept.contains("a@b"));
    }

    #[test]
    fn long_and_odd_bodies_are_cut_or_described() {
        let long = format!(r#"{{"displayName":"{}"}}"#, "x".repeat(10_000));
        let kept = loggable_body(long.as_bytes()).unwrap_or_default();
        assert!(kept.chars().count() < BODY_MAX + 40 && kept.ends_with("in all)"));
        assert_eq!(loggable_body(b"password=hunter2").as_deref(), Some("(16 bytes that are not JSON)"));
        assert_eq!(loggable_body(b""), None);
    }
}
