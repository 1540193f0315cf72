//! The server's object of a list row (`-o json`), made only when something reads it (issue 24:
//! a row costs memory in proportion to what it holds). A platform that decodes its rows into
//! typed structs keeps the struct and makes the JSON value from it on demand; a text table never
//! makes it, and `-o json` makes each row's value while writing it and drops it after.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

type Make = Arc<dyn Fn() -> Value + Send + Sync>;

/// A JSON value, given or made on first use.
#[derive(Clone)]
pub struct RowJson(Inner);

#[derive(Clone)]
enum Inner {
    Given(Value),
    Lazy { make: Make, made: OnceLock<Value> },
}

impl RowJson {
    /// The value of `source`, serialised when first read.
    pub fn of<T: serde::Serialize + Send + Sync + 'static>(source: T) -> RowJson {
        RowJson(Inner::Lazy {
            make: Arc::new(move || serde_json::to_value(&source).unwrap_or(Value::Null)),
            made: OnceLock::new(),
        })
    }

    /// The value for one use, not kept when it had to be made (a large list written row by row).
    pub fn transient(&self) -> Cow<'_, Value> {
        match &self.0 {
            Inner::Given(v) => Cow::Borrowed(v),
            Inner::Lazy { make, made } => match made.get() {
                Some(v) => Cow::Borrowed(v),
                None => Cow::Owned(make()),
            },
        }
    }
}

impl From<Value> for RowJson {
    fn from(v: Value) -> RowJson {
        RowJson(Inner::Given(v))
    }
}

impl Deref for RowJson {
    type Target = Value;

    fn deref(&self) -> &Value {
        match &self.0 {
            Inner::Given(v) => v,
            Inner::Lazy { make, made } => made.get_or_init(|| make()),
        }
    }
}

impl fmt::Debug for RowJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.transient(), f)
    }
}

impl PartialEq for RowJson {
    fn eq(&self, other: &RowJson) -> bool {
        *self.transient() == *other.transient()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_on_demand_and_equal_to_the_given_value() {
        let lazy = RowJson::of(serde_json::json!({"b": 1, "a": [2]}));
        assert_eq!(*lazy.transient(), serde_json::json!({"a": [2], "b": 1}));
        assert_eq!(lazy, RowJson::from(serde_json::json!({"a": [2], "b": 1})));
        assert_eq!(lazy["a"][0], 2);
        assert_eq!(lazy.clone().get("b"), Some(&Value::from(1)));
    }
}
