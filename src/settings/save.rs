//! `context save`'s flags, read from the command line only (CONTRACT §4): the URL, the token, the
//! platform and the TLS options become a [`SaveRequest`] of plain data, checked before any request
//! or write.

use base64::Engine as _;

use super::{Credential, Sources};
use crate::cli::{ContextSaveArgs, GlobalArgs};
use crate::config::{self, Auth, Context, Storage};
use crate::error::{Error, Result};

/// The name `context save` uses when none is given.
pub const DEFAULT_NAME: &str = "default";

/// What `context save` will store, checked before any request or write.
#[derive(Debug)]
pub struct SaveRequest {
    pub name: String,
    pub context: Context,
    pub credential: Credential,
    pub skip_validate: bool,
}

/// Whether the docs' form `sts context --name … --url … --service-token …` was used: any save
/// flag on the command line (never an env var, so `STS_CLI_URL` in CI does not fire it).
pub fn docs_form_given(global: &GlobalArgs, args: &ContextSaveArgs) -> bool {
    args.name.is_some()
        || args.skip_validate
        || args.insecure_storage
        || global.url.is_some()
        || global.api_token.is_some()
        || global.service_token.is_some()
}

/// Checks the flags of `context save`. The URL and the token come from the command line only.
pub fn save_request(
    global: &GlobalArgs,
    args: &ContextSaveArgs,
    src: &mut Sources,
) -> Result<SaveRequest> {
    let name = args.name.as_deref().unwrap_or(DEFAULT_NAME).trim();
    if name.is_empty() {
        return Err(Error::usage("--name must not be empty"));
    }
    crate::guard::check_context_name(name, "--name")?;
    let url = global
        .url
        .clone()
        .ok_or_else(|| Error::usage("context save needs --url URL (the server of the context)"))?;
    super::check_url(&url).map_err(|e| Error::usage(e.message))?;
    if global.k8s_sa_token.is_some() || global.k8s_sa_token_path.is_some() {
        return Err(Error::usage(
            "a Kubernetes service-account token cannot be saved in a context; \
             pass --api-token or --service-token",
        ));
    }
    let credential = match (&global.api_token, &global.service_token) {
        (Some(_), Some(_)) => {
            return Err(Error::usage(
                "give one of --api-token and --service-token, not both",
            ));
        }
        (Some(t), None) => Credential::ApiToken(super::token_value(t.clone(), "--api-token", src)?),
        (None, Some(t)) => {
            Credential::ServiceToken(super::token_value(t.clone(), "--service-token", src)?)
        }
        (None, None) => {
            return Err(Error::usage(
                "context save needs a token: --service-token TOKEN or --api-token TOKEN \
                 (`-` reads it from stdin)",
            ));
        }
    };
    let skip_ssl = global.skip_ssl;
    // A CA file is stored as base64 data; --skip-ssl drops any CA.
    let ca_cert_base64_data = if skip_ssl {
        None
    } else if let Some(path) = &global.ca_cert_path {
        let pem = crate::guard::read_ca_file(path)?;
        crate::guard::check_ca_pem(&pem)?;
        Some(base64::engine::general_purpose::STANDARD.encode(pem))
    } else {
        let data = global.ca_cert_base64_data.clone();
        // Checked even with --skip-validate: a garbage CA would break every later command.
        data.as_deref()
            .map(crate::guard::check_ca_base64)
            .transpose()?;
        data
    };
    // The platform, like the URL and the token, from the command line only.
    let platform = global.platform.unwrap_or_default();
    super::check_credential(platform, &credential)?;
    if platform.profile().base_path.is_some() && global.api_path.is_some() {
        return Err(super::api_path_refused(platform, None));
    }
    let auth = match credential {
        Credential::ApiToken(_) => Auth::ApiToken,
        _ => Auth::ServiceToken,
    };
    Ok(SaveRequest {
        name: name.to_string(),
        context: Context {
            url,
            platform,
            api_path: global
                .api_path
                .clone()
                .unwrap_or_else(|| config::DEFAULT_API_PATH.to_string()),
            auth,
            storage: if args.insecure_storage {
                Storage::File
            } else {
                Storage::Keyring
            },
            skip_ssl,
            ca_cert_base64_data,
            credential_id: config::new_credential_id(),
            extra: Default::default(),
        },
        credential,
        skip_validate: args.skip_validate,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::error::Kind;

    fn global() -> GlobalArgs {
        GlobalArgs {
            url: Some("http://127.0.0.1:1".into()),
            service_token: Some("svctok-x".into()),
            ..GlobalArgs::default()
        }
    }

    fn request(global: &GlobalArgs, args: &ContextSaveArgs, stdin: &str) -> Result<SaveRequest> {
        let env = |_: &str| None;
        let stdin = stdin.to_string();
        let mut read = move || Ok(stdin.clone());
        let mut src = Sources {
            env: &env,
            read_stdin_line: &mut read,
            default_k8s_token_path: Path::new("/nonexistent"),
            default_config_path: Some(Path::new("/nonexistent/config.toml")),
            config_cache: Default::default(),
        };
        save_request(global, args, &mut src)
    }

    #[test]
    fn save_needs_a_url_and_exactly_one_token() {
        let args = ContextSaveArgs::default();
        let r = request(&global(), &args, "").unwrap();
        assert_eq!(r.name, "default");
        assert_eq!(r.context.auth, Auth::ServiceToken);
        assert_eq!(r.context.storage, Storage::Keyring);
        assert_eq!(r.credential.secret().expose(), "svctok-x");

        let mut g = global();
        g.url = None;
        assert_eq!(request(&g, &args, "").unwrap_err().kind, Kind::Usage);
        let mut g = global();
        g.api_token = Some("a".into());
        assert_eq!(request(&g, &args, "").unwrap_err().kind, Kind::Usage);
        let mut g = global();
        g.service_token = None;
        assert_eq!(request(&g, &args, "").unwrap_err().kind, Kind::Usage);
        let mut g = global();
        g.url = Some("ftp://x".into());
        assert_eq!(request(&g, &args, "").unwrap_err().kind, Kind::Usage);
    }

    #[test]
    fn save_reads_a_dash_token_from_stdin_and_stores_a_ca_file_as_base64() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let pem = rcgen::generate_simple_self_signed(vec!["ca.example".into()])
            .unwrap()
            .cert
            .pem();
        std::fs::write(&ca, &pem).unwrap();
        let mut g = global();
        g.service_token = None;
        g.api_token = Some("-".into());
        g.ca_cert_path = Some(ca.display().to_string());
        g.ca_cert_base64_data = Some("ignored".into());
        let r = request(&g, &ContextSaveArgs::default(), "api-secret\n").unwrap();
        assert_eq!(r.context.auth, Auth::ApiToken);
        assert_eq!(r.credential.secret().expose(), "api-secret");
        let stored = base64::engine::general_purpose::STANDARD.encode(&pem);
        assert_eq!(r.context.ca_cert_base64_data, Some(stored));
        g.skip_ssl = true;
        let r = request(&g, &ContextSaveArgs::default(), "api-secret\n").unwrap();
        assert_eq!(r.context.ca_cert_base64_data, None);
        g.skip_ssl = false;
        g.ca_cert_path = Some(dir.path().join("missing.pem").display().to_string());
        let e = request(&g, &ContextSaveArgs::default(), "x\n").unwrap_err();
        assert_eq!(e.kind, Kind::ReadFile);
    }
}
