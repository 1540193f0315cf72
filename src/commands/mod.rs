//! What each command means: check its input, call the API, return data. Never prints.

pub mod context;
pub mod context_import;
pub mod expiry_filter;
pub mod ingestion_api_key;
pub mod rotate;
pub mod service_token;

use chrono::{DateTime, Utc};

use crate::cli::DeleteArgs;
use crate::dates::parse_expiration;
use crate::error::{Error, Result};

/// The ids of a delete, positional ones first, each an int64; checked before any request.
pub fn parse_ids(args: &DeleteArgs) -> Result<Vec<i64>> {
    let positional = args.ids.iter().map(|v| (v, "ID"));
    let flagged = args.id_flags.iter().map(|v| (v, "-i, --id"));
    let ids = positional
        .chain(flagged)
        .map(|(value, name)| {
            value.trim().parse::<i64>().map_err(|e| {
                Error::usage(format!(
                    "invalid argument \"{value}\" for \"{name}\": {e} (an id is a whole number, see `list`)"
                ))
            })
        })
        .collect::<Result<Vec<i64>>>()?;
    if ids.is_empty() {
        return Err(Error::usage(
            "no id given: `delete ID…` or `delete --id ID` (ids are shown by `list`)",
        ));
    }
    Ok(ids)
}

/// The `--id` of a rotation, an int64; checked before any request.
pub fn parse_id(value: &str) -> Result<i64> {
    value.trim().parse::<i64>().map_err(|e| {
        Error::usage(format!(
            "invalid argument \"{value}\" for \"-i, --id\": {e} (an id is a whole number, see `list`)"
        ))
    })
}

/// An optional `--expiration` as epoch milliseconds.
pub fn expiration_millis(value: Option<&str>, now: DateTime<Utc>) -> Result<Option<i64>> {
    value
        .map(|v| parse_expiration(v, now).map_err(|e| Error::usage(format!("--expiration: {e}"))))
        .transpose()
}

/// `--name` must say something.
pub fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::usage("--name must not be empty"));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(ids: &[&str], flags: &[&str]) -> DeleteArgs {
        DeleteArgs {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            id_flags: flags.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn ids_are_int64_from_both_forms() {
        assert_eq!(
            parse_ids(&args(&["1", "2"], &["3"])).unwrap(),
            vec![1, 2, 3]
        );
        let e = parse_ids(&args(&[], &["foo"])).unwrap_err();
        assert!(
            e.message
                .starts_with("invalid argument \"foo\" for \"-i, --id\""),
            "{}",
            e.message
        );
        assert_eq!(e.exit_code(), 3);
        assert!(parse_ids(&args(&["99999999999999999999"], &[])).is_err());
        assert!(parse_ids(&args(&[], &[])).is_err());
        assert_eq!(parse_ids(&args(&["-5"], &[])).unwrap(), vec![-5]);
    }
}
