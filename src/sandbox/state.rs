//! What the sandbox keeps, whatever the platform: the platform's data (`D`, defined in the
//! platform's folder), the clock's offset, and a generation counter. Serializes to (and loads
//! from) the `--state` file, whose top-level keys are the platform's own plus `clockOffsetMs`.
//!
//! The clock (`POST /_sandbox/clock`): every stored time is kept on the sandbox's own clock, the
//! real one plus `clock_offset_ms`; answers show stored times minus the offset. Advancing the
//! clock grows the offset, so everything kept moves into the past while the real clock runs on.
//!
//! Keys of a state file that another platform wrote are kept as they are and written back, so
//! one file can serve each platform in turn without losing the others' data.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The whole state of one sandbox.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Store<D> {
    /// The platform's own data.
    #[serde(flatten)]
    pub data: D,
    /// How far the sandbox's clock is ahead of the real one (milliseconds).
    #[serde(default, skip_serializing_if = "is_zero")]
    clock_offset_ms: i64,
    /// What the file holds for other platforms, kept as it was.
    #[serde(flatten)]
    others: Map<String, Value>,
    /// Bumped on every change, so the newest snapshot wins when writes race.
    #[serde(skip)]
    generation: u64,
}

impl<D: Serialize + DeserializeOwned> Store<D> {
    /// Loads a store from the text of a state file.
    pub fn from_json(text: &str) -> Result<Store<D>, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The text of a state file holding this store.
    pub fn to_json(&self) -> String {
        // Structs of strings and integers, and JSON values, always serialize.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl<D> Store<D> {
    /// How many changes this store has seen since it was loaded.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Marks the store as changed, so the state file is written.
    pub fn bump(&mut self) {
        self.generation += 1;
    }

    /// How far the sandbox's clock is ahead of the real one (milliseconds).
    pub fn clock_offset_ms(&self) -> i64 {
        self.clock_offset_ms
    }

    /// `real_now` (milliseconds since the epoch) on the sandbox's clock.
    pub fn clock(&self, real_now: i64) -> i64 {
        real_now.saturating_add(self.clock_offset_ms)
    }

    /// Ages everything kept by `ms` milliseconds.
    pub fn advance_clock(&mut self, ms: i64) {
        self.clock_offset_ms = self.clock_offset_ms.saturating_add(ms);
        self.generation += 1;
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Mine {
        #[serde(default)]
        my_rows: Vec<i64>,
    }

    #[test]
    fn keeps_the_clock_and_other_platforms_data() {
        let text = r#"{"myRows": [1, 2], "clockOffsetMs": 7200000, "theirs": {"a": [1]}}"#;
        let mut store = Store::<Mine>::from_json(text).unwrap();
        assert_eq!(store.data.my_rows, [1, 2]);
        assert_eq!(store.clock_offset_ms(), 7_200_000);
        assert_eq!(store.clock(1), 7_200_001);
        store.advance_clock(1000);
        assert_eq!(store.generation(), 1);
        let back: Value = serde_json::from_str(&store.to_json()).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"myRows": [1, 2], "clockOffsetMs": 7201000, "theirs": {"a": [1]}})
        );
        assert!(!Store::<Mine>::default().to_json().contains("clock"));
        assert!(Store::<Mine>::from_json(r#"{"myRows": 42}"#).is_err());
        assert!(Store::<Mine>::from_json("{not json").is_err());
    }
}
