//! `sts ingestion-api-key` (CONTRACT §3).

use chrono::{DateTime, Utc};

use super::{check_name, expiration_millis};
use crate::api::client::Client;
use crate::api::models::{
    AuthorizeIngestionApiKeyRequest, GenerateIngestionApiKeyRequest,
    GeneratedIngestionApiKeyResponse, IngestionApiKey,
};
use crate::cli::IngestionApiKeyCreateArgs;
use crate::error::{Error, Result};
use crate::secret::Secret;

const PATH: &str = "security/ingestion/api_keys";

/// The body of `create`, checked before any request. An empty description is not sent.
pub fn create_request(
    args: &IngestionApiKeyCreateArgs,
    now: DateTime<Utc>,
) -> Result<GenerateIngestionApiKeyRequest> {
    Ok(GenerateIngestionApiKeyRequest {
        name: check_name(&args.name)?,
        description: args.description.clone().filter(|d| !d.is_empty()),
        expiration: expiration_millis(args.expiration.as_deref(), now)?,
    })
}

pub async fn create(
    client: &Client,
    request: &GenerateIngestionApiKeyRequest,
) -> Result<GeneratedIngestionApiKeyResponse> {
    let created: GeneratedIngestionApiKeyResponse = client.post(PATH, request).await?;
    // A 200 without the secret would print an empty one and exit 0: a CI script would store it.
    if created.api_key.trim().is_empty() {
        return Err(Error::usage(
            "the server's answer to POST /security/ingestion/api_keys holds no apiKey; a key \
             whose secret is unknown may have been made: find it with `sts ingestion-api-key list`",
        ));
    }
    Ok(created)
}

/// All ingestion API keys, sorted by name (stable).
pub async fn list(client: &Client) -> Result<Vec<IngestionApiKey>> {
    let mut keys: Vec<IngestionApiKey> = client.get(PATH).await?;
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(keys)
}

pub async fn delete(client: &Client, id: i64) -> Result<()> {
    client.delete(&format!("{PATH}/{id}")).await
}

/// `verify`: `POST /security/ingestion/authorize`. A live key is `Ok`; a key the server refuses
/// (403) is an error with exit 3 saying so.
pub async fn verify(client: &Client, key: &Secret) -> Result<()> {
    let body = AuthorizeIngestionApiKeyRequest {
        api_key: key.expose().to_string(),
    };
    match client
        .post_no_content("security/ingestion/authorize", &body)
        .await
    {
        Err(e) if e.status == Some(403) => Err(Error::usage(format!(
            "the ingestion API key is not valid (unknown, deleted or expired): {}",
            e.message
        ))
        .with_status(403)),
        other => other,
    }
}

/// The key of `verify`: from stdin, with no flag or with `--key -`; never from the command line.
pub fn verify_key(
    flag: Option<&str>,
    read_stdin_line: &mut dyn FnMut() -> std::io::Result<String>,
) -> Result<Secret> {
    if flag.is_some_and(|v| v != "-") {
        return Err(Error::usage(
            "--key takes only `-`: the key is read from stdin, so it stays out of shell history \
             and `ps` (e.g. `printf '%s\\n' \"$KEY\" | sts ingestion-api-key verify`)",
        ));
    }
    let line = read_stdin_line()
        .map_err(|e| Error::usage(format!("cannot read the key from stdin: {e}")))?;
    let key = line.trim();
    if key.is_empty() {
        return Err(Error::usage(
            "no key on stdin: pipe the ingestion API key into `sts ingestion-api-key verify`",
        ));
    }
    Ok(Secret::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_sends_expiration_and_skips_empty_description() {
        let now = DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let args = IngestionApiKeyCreateArgs {
            name: "k".into(),
            description: Some(String::new()),
            expiration: Some("2030-05-22".into()),
        };
        let r = create_request(&args, now).unwrap();
        assert_eq!(r.description, None);
        assert_eq!(r.expiration, Some(1_905_638_400_000));
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"name": "k", "expiration": 1_905_638_400_000i64})
        );
    }
}
