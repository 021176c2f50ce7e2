//! Histories the console has read lately, kept folded so that a running execution's page,
//! polled every second, reads only the events written since its last poll. Histories are
//! append-only, so a fold plus the events after its last one is the fold of the whole; any
//! replica's events are in the store, so the cache is safe per replica.

use std::collections::HashMap;
use std::sync::Mutex;

use super::status::HistoryReader;

/// Histories kept at once; past it, the one used longest ago goes.
const CAPACITY: usize = 32;

/// One execution's history folded up to an event.
#[derive(Clone)]
pub struct Folded {
    pub reader: HistoryReader,
    /// The last event read; 0 for none.
    pub last_event: i64,
    /// How many events were read.
    pub read: usize,
}

/// An execution is known by its ARN and its start time, so a name used again after its state
/// machine was deleted and made anew is another history.
type Key = (String, u64);

/// The folded histories, each with when it was last used.
#[derive(Default)]
pub struct Histories {
    folded: Mutex<HashMap<Key, (Folded, u64)>>,
    uses: std::sync::atomic::AtomicU64,
}

impl Histories {
    /// The fold of `arn`'s history as last read, if kept.
    pub fn get(&self, arn: &str, start: f64) -> Option<Folded> {
        let tick = self.tick();
        let mut folded = self.folded.lock().unwrap_or_else(|e| e.into_inner());
        let (f, used) = folded.get_mut(&(arn.to_string(), start.to_bits()))?;
        *used = tick;
        Some(f.clone())
    }

    /// Keep the fold of `arn`'s history.
    pub fn put(&self, arn: &str, start: f64, f: Folded) {
        let tick = self.tick();
        let mut folded = self.folded.lock().unwrap_or_else(|e| e.into_inner());
        let key = (arn.to_string(), start.to_bits());
        if folded.len() >= CAPACITY
            && !folded.contains_key(&key)
            && let Some(oldest) = folded
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
        {
            folded.remove(&oldest);
        }
        // A fold never goes back: a slower request must not replace a newer one.
        if folded
            .get(&key)
            .is_some_and(|(kept, _)| kept.last_event > f.last_event)
        {
            return;
        }
        folded.insert(key, (f, tick));
    }

    fn tick(&self) -> u64 {
        self.uses.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(last_event: i64) -> Folded {
        Folded {
            reader: HistoryReader::default(),
            last_event,
            read: last_event as usize,
        }
    }

    #[test]
    fn the_history_used_longest_ago_goes_first() {
        let h = Histories::default();
        for i in 0..CAPACITY {
            h.put(&format!("arn:{i}"), 1.0, folded(1));
        }
        assert!(h.get("arn:0", 1.0).is_some());
        h.put("arn:new", 1.0, folded(1));
        assert!(h.get("arn:0", 1.0).is_some(), "used lately, kept");
        assert!(h.get("arn:1", 1.0).is_none(), "used longest ago, gone");
        assert!(h.get("arn:new", 1.0).is_some());
    }

    #[test]
    fn a_fold_never_goes_back_and_a_new_start_is_another_history() {
        let h = Histories::default();
        h.put("arn:a", 1.0, folded(10));
        h.put("arn:a", 1.0, folded(5));
        assert_eq!(h.get("arn:a", 1.0).map(|f| f.last_event), Some(10));
        assert!(h.get("arn:a", 2.0).is_none());
    }
}
