//! `sts context` (CONTRACT §4, §5): saved contexts in the TOML config, their secrets in the OS
//! keyring or, when asked, in a 0600 `credentials.toml`. Returns data; never prints.

use std::path::Path;

use base64::Engine as _;

use crate::cli::{ContextSaveArgs, GlobalArgs};
use crate::config::{self, Auth, Config, Context, Storage};
use crate::credentials::{self, KeyringStore};
use crate::error::{Error, Kind, Result};
use crate::settings::{self, Credential, Sources, secret_store};

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
    let url = global
        .url
        .clone()
        .ok_or_else(|| Error::usage("context save needs --url URL (the server of the context)"))?;
    settings::check_url(&url).map_err(|e| Error::usage(e.message))?;
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
        (Some(t), None) => {
            Credential::ApiToken(settings::token_value(t.clone(), "--api-token", src)?)
        }
        (None, Some(t)) => {
            Credential::ServiceToken(settings::token_value(t.clone(), "--service-token", src)?)
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
    settings::check_credential(platform, &credential)?;
    if platform != crate::platform::PlatformKind::Stackstate && global.api_path.is_some() {
        return Err(Error::usage(format!(
            "--api-path is StackState's only: {} has a fixed API base",
            platform.display()
        )));
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

/// Checks, before any request, that the secret of `context save` can be stored: for the
/// keyring, that its store initialises (exit 6 when there is no keyring, naming the ways out). A
/// locked collection shows only when the secret is written, after validation.
pub fn check_secret_store(req: &SaveRequest) -> Result<()> {
    match req.context.storage {
        Storage::Keyring => KeyringStore::from_env()?
            .check_available()
            .map_err(credentials::KeyringError::into_write_error),
        Storage::File => Ok(()),
    }
}

/// What `context save` did besides saving.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Saved {
    /// A warning to print: the replaced context's old credential stayed behind.
    pub warning: Option<String>,
    /// The context that was current before, when it was another one: the save switched away
    /// from it (`Current context set to <name>` on stderr).
    pub switched_from: Option<String>,
}

/// Stores the secret (its keyring item labelled with the context and URL) and the context (made
/// current) under the config lock, crash-safe ([`credentials::save_context`]: no orphaned
/// secret and no leftover file whenever it is killed, CONTRACT §5); a context that replaced
/// another of the same name has the old secret removed after the write (a warning is returned
/// when that fails).
pub fn save(config_path: &Path, req: &SaveRequest) -> Result<Saved> {
    let saved = credentials::save_context(
        config_path,
        &req.name,
        &req.context,
        req.credential.secret(),
    )?;
    Ok(Saved {
        warning: saved.warning,
        switched_from: saved.previous_current.filter(|b| *b != req.name),
    })
}

/// The config file, which must exist for `show` and `validate` (exit 1 otherwise).
pub fn load_existing(config_path: &Path) -> Result<Config> {
    config::load(config_path)?.ok_or_else(|| settings::missing_config(config_path))
}

/// The context `show` and `validate` act on: the given name, else `--context` /
/// `STS_CLI_CONTEXT`, else the current one.
pub fn context_in_effect(config: &Config, name: Option<String>) -> Result<(String, Context)> {
    match name {
        Some(name) => Ok((name.clone(), config.context(&name)?.clone())),
        None => match config.current()? {
            Some((name, ctx)) => Ok((name.to_string(), ctx.clone())),
            None => Err(Error::new(
                Kind::NotFound,
                "no current context: pick one with `sts context set NAME`",
            )),
        },
    }
}

/// `context set`: makes `name` current.
pub fn set_current(config_path: &Path, name: &str) -> Result<()> {
    config::update(config_path, |config| {
        config.context(name)?;
        config.current_context = Some(name.to_string());
        Ok(())
    })
}

/// `context delete`: removes the context, then its secret. The current context may be deleted
/// too: then no context is current, and `true` is returned so the caller can say so.
pub fn delete(config_path: &Path, name: &str) -> Result<bool> {
    // Crash-safe: the credential is noted in the config before it is removed (CONTRACT §5).
    credentials::delete_context(config_path, name, |_| Ok(())).map(|(_, was_current)| was_current)
}

/// What `context rename` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Renamed {
    /// Whether the renamed context was the current one (and still is, by its new name).
    pub was_current: bool,
    /// A warning to print: the keyring item kept its old label.
    pub warning: Option<String>,
}

/// `context rename OLD NEW`: the context gets the new name and keeps its credential (the secret
/// is keyed by `credential-id`, not by name); the current context follows. A NEW that exists is
/// a usage error (exit 3), an OLD that does not is exit 8. The keyring item is relabelled where
/// the store allows; when that fails the rename stands and a warning says so.
pub fn rename(config_path: &Path, old: &str, new: &str) -> Result<Renamed> {
    let new = new.trim();
    if new.is_empty() {
        return Err(Error::usage("the new name must not be empty"));
    }
    let (ctx, was_current) = config::update(config_path, |config| {
        config.context(old)?;
        if old == new {
            return Err(Error::usage(format!(
                "context '{old}' already has that name"
            )));
        }
        if config.contexts.contains_key(new) {
            return Err(Error::usage(format!(
                "context '{new}' already exists: delete it first, or pick another name"
            )));
        }
        let ctx = config
            .contexts
            .remove(old)
            .ok_or_else(|| config::context_not_found(old))?;
        config.contexts.insert(new.to_string(), ctx.clone());
        let was_current = config.current_context.as_deref() == Some(old);
        if was_current {
            config.current_context = Some(new.to_string());
        }
        Ok((ctx, was_current))
    })?;
    let warning = secret_store(ctx.storage, config_path)
        .and_then(|store| {
            store
                .as_dyn()
                .relabel(&ctx.credential_id, &credentials::label(new, &ctx.url))
        })
        .err()
        .map(|e| {
            format!(
                "the keyring item of '{new}' keeps its old label: {}",
                e.message
            )
        });
    Ok(Renamed {
        was_current,
        warning,
    })
}

/// The credential a saved context holds, for `context validate`.
pub fn saved_credential(
    config_path: &Path,
    name: &str,
    ctx: &Context,
    warnings: &mut Vec<String>,
) -> Result<Credential> {
    settings::SavedContext {
        name: name.to_string(),
        context: ctx.clone(),
        config_path: config_path.to_path_buf(),
    }
    .credential(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn save_set_and_delete_keep_the_config_and_the_file_store_in_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let args = ContextSaveArgs {
            name: Some("a".into()),
            insecure_storage: true,
            ..Default::default()
        };
        let a = request(&global(), &args, "").unwrap();
        assert_eq!(save(&path, &a).unwrap(), Saved::default());
        let b = request(
            &global(),
            &ContextSaveArgs {
                name: Some("b".into()),
                ..args
            },
            "",
        )
        .unwrap();
        assert_eq!(save(&path, &b).unwrap().switched_from.as_deref(), Some("a"));
        assert_eq!(
            save(&path, &b).unwrap().switched_from,
            None,
            "b was current already"
        );
        let config = config::load(&path).unwrap().unwrap();
        assert_eq!(config.current_context.as_deref(), Some("b"));
        assert!(!std::fs::read_to_string(&path).unwrap().contains("svctok-x"));

        assert_eq!(delete(&path, "zz").unwrap_err().kind, Kind::NotFound);
        set_current(&path, "a").unwrap();
        assert!(!delete(&path, "b").unwrap(), "b was not current");
        let store = crate::credentials::FileStore::beside(&path);
        use crate::credentials::SecretStore;
        assert!(store.get(&b.context.credential_id).unwrap().is_none());
        assert!(store.get(&a.context.credential_id).unwrap().is_some());
        assert_eq!(set_current(&path, "b").unwrap_err().kind, Kind::NotFound);

        // The current context may go; then none is current.
        assert!(delete(&path, "a").unwrap(), "a was current");
        let config = config::load(&path).unwrap().unwrap();
        assert_eq!(config.current_context, None);
        assert!(config.contexts.is_empty());
        assert!(store.get(&a.context.credential_id).unwrap().is_none());
    }

    #[test]
    fn rename_keeps_the_secret_and_the_current_context_follows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let args = |name: &str| ContextSaveArgs {
            name: Some(name.into()),
            insecure_storage: true,
            ..Default::default()
        };
        let a = request(&global(), &args("a"), "").unwrap();
        save(&path, &a).unwrap();
        let b = request(&global(), &args("b"), "").unwrap();
        save(&path, &b).unwrap();

        let renamed = rename(&path, "b", "prod").unwrap();
        assert_eq!(
            renamed,
            Renamed {
                was_current: true,
                warning: None
            }
        );
        let config = config::load(&path).unwrap().unwrap();
        assert_eq!(config.current_context.as_deref(), Some("prod"));
        assert!(!config.contexts.contains_key("b"));
        assert_eq!(
            config.contexts["prod"].credential_id, b.context.credential_id,
            "the secret stays where it is"
        );
        assert!(!rename(&path, "a", "x").unwrap().was_current);
        assert_eq!(rename(&path, "x", "prod").unwrap_err().kind, Kind::Usage);
        assert_eq!(rename(&path, "x", " ").unwrap_err().kind, Kind::Usage);
        assert_eq!(
            rename(&path, "missing", "y").unwrap_err().kind,
            Kind::NotFound
        );
        let config = config::load(&path).unwrap().unwrap();
        assert_eq!(
            config.contexts.keys().collect::<Vec<_>>(),
            ["prod", "x"],
            "a refused rename changes nothing"
        );
    }
}
