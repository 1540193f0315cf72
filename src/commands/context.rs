//! `sts context` (CONTRACT §4, §5): saved contexts in the TOML config, their secrets in the OS
//! keyring or, when asked, in a 0600 `credentials.toml`. Returns data; never prints.

use std::path::Path;

use super::{Failure, block_on};
use crate::cli::{Cli, ContextArgs, ContextCommand, ContextSaveArgs};
use crate::commands::context_import;
use crate::config::{self, Config, Context, Storage};
use crate::credentials::{self, KeyringStore};
use crate::error::{Error, Kind, Result};
use crate::output::{self, Printer};
use crate::platform::{self, PlatformKind, Validation};
use crate::settings::{self, Credential, OutputSettings, Settings, Sources};

pub use crate::outcome::{Renamed, Saved};
pub use crate::settings::save::{DEFAULT_NAME, SaveRequest};

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

/// Stores the secret (its keyring item labelled with the context and URL) and the context (made
/// current) under the config lock, crash-safe ([`credentials::transaction::save_context`]: no orphaned
/// secret and no leftover file whenever it is killed, CONTRACT §5); a context that replaced
/// another of the same name has the old secret removed after the write (a warning is returned
/// when that fails).
pub fn save(config_path: &Path, req: &SaveRequest) -> Result<Saved> {
    let saved = credentials::transaction::save_context(
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
    credentials::transaction::delete_context(config_path, name, |_| Ok(()))
        .map(|(_, was_current)| was_current)
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
    crate::guard::check_context_name(new, "the new name")?;
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
    let warning = credentials::open(ctx.storage, config_path)
        .and_then(|store| store.relabel(&ctx.credential_id, &credentials::label(new, &ctx.url)))
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

/// The platform's validation request with these settings.
fn validation(settings: &Settings, printer: &Printer) -> Result<Validation, Failure> {
    block_on(async {
        let client = settings.client(printer)?;
        match platform::validate(settings.platform, &client).await {
            Err(e) if e.status == Some(404) => Err(wrong_platform_hint(settings, e).await.into()),
            other => Ok(other?),
        }
    })
}

/// A 404 of the validation request (CONTRACT §14): the URL asked, and, when another platform's
/// validation path answers on that server, which platform it looks like. Asked only now, with
/// the same credential, to the same server.
async fn wrong_platform_hint(settings: &Settings, e: Error) -> Error {
    let asked = format!(
        "{}/{}",
        settings.api_base(),
        settings.platform.profile().validation_path
    );
    let mut message = format!("{} (asked {asked})", e.message);
    for other in PlatformKind::ALL {
        if other == settings.platform {
            continue;
        }
        let mut probe = settings.clone();
        probe.platform = other;
        probe.output.verbosity = 0;
        let silent = crate::output::Printer::plain(settings.output.format, true);
        let Ok(client) = probe.client(&silent) else {
            continue;
        };
        let answered = match client
            .raw(reqwest::Method::GET, other.profile().validation_path, None)
            .await
        {
            Ok(a) => a
                .error
                .is_none_or(|e| e.status.is_some_and(|s| s != 404 && s < 500)),
            Err(_) => false,
        };
        if answered {
            message += &format!(
                ": this looks like {}: add --platform {}",
                other.display(),
                other.as_str()
            );
            break;
        }
    }
    e.reworded(message)
}

/// `sts context …` (CONTRACT §4).
pub fn run(
    cli: &Cli,
    args: &ContextArgs,
    out: OutputSettings,
    printer: &Printer,
    src: &mut Sources,
) -> Result<(), Failure> {
    let global = &cli.global;
    let (config_path, _) = src.config_path(global)?;
    match &args.command {
        None if settings::save::docs_form_given(global, &args.save) => {
            context_save(cli, &args.save, out, printer, src, &config_path)
        }
        None => {
            // A bare `sts context` prints its help, as the Go CLI.
            let help = crate::cli::command()
                .try_get_matches_from(["sts", "context", "--help"])
                .map_or_else(|e| e.render().to_string(), |_| String::new());
            output::write_stdout(&help)?;
            Ok(())
        }
        Some(ContextCommand::Save(save)) => {
            context_save(cli, save, out, printer, src, &config_path)
        }
        Some(ContextCommand::List(_)) => {
            Ok(printer.contexts(config::load(&config_path)?.as_ref())?)
        }
        Some(ContextCommand::Show) => {
            let config = load_existing(&config_path)?;
            let (name, ctx) = context_in_effect(&config, src.context_name(global))?;
            Ok(printer.context_shown(&name, &ctx)?)
        }
        Some(ContextCommand::Set(a)) => {
            set_current(&config_path, a.name())?;
            Ok(printer.context_set(a.name())?)
        }
        Some(ContextCommand::Delete(a)) => {
            let was_current = delete(&config_path, a.name())?;
            Ok(printer.context_deleted(a.name(), was_current)?)
        }
        Some(ContextCommand::Rename(a)) => {
            let renamed = rename(&config_path, &a.old, &a.new)?;
            Ok(printer.context_renamed(&a.old, a.new.trim(), &renamed)?)
        }
        Some(ContextCommand::Import(a)) => {
            let req = context_import::ImportRequest {
                source: a.source.clone(),
                from: a.from.as_ref().map(std::path::PathBuf::from),
                name: a.name.clone(),
                overwrite: a.overwrite,
                insecure_storage: a.insecure_storage,
            };
            let report = context_import::run(&req, &config_path, src.env)?;
            printer.contexts_imported(&report)?;
            for warning in &report.source_warnings {
                printer.warn(&output::clean(warning));
            }
            Ok(())
        }
        Some(ContextCommand::Validate(a)) if a.all_contexts => {
            super::all_contexts::validate_all(cli, out, printer, src)
        }
        Some(ContextCommand::Validate(a)) => {
            let config = load_existing(&config_path)?;
            let name = a.name().or_else(|| src.context_name(global));
            let (name, ctx) = context_in_effect(&config, name)?;
            // It checks the saved context as saved: a URL or token given now is not used (as
            // under -A), and says so.
            let ignored = super::all_contexts::engine::ignored_inputs(global, src.env);
            if !ignored.is_empty() {
                printer.warn(&format!(
                    "context validate checks context '{name}' with its own URL and saved \
                     credential: {} ignored",
                    ignored.join(", ")
                ));
            }
            let mut warnings = Vec::new();
            let credential = saved_credential(&config_path, &name, &ctx, &mut warnings)?;
            for warning in &warnings {
                printer.warn(warning);
            }
            let timeout = settings::resolve_timeout(global, src)?;
            let settings = Settings::for_context(&ctx, credential, timeout, out)?;
            let info = validation(&settings, printer)?;
            Ok(printer.context_valid(&name, &ctx.url, &info)?)
        }
    }
}

/// `context save`: check the flags and the config file, validate the credential against the
/// server (unless `--skip-validate`), then store the secret and the context.
fn context_save(
    cli: &Cli,
    args: &ContextSaveArgs,
    out: OutputSettings,
    printer: &Printer,
    src: &mut Sources,
    config_path: &Path,
) -> Result<(), Failure> {
    let req = settings::save::save_request(&cli.global, args, src)?;
    // A config file that does not parse, or no keyring, stops the save before any request.
    config::load(config_path)?;
    check_secret_store(&req)?;
    if !req.skip_validate {
        let timeout = settings::resolve_timeout(&cli.global, src)?;
        let settings = Settings::for_context(&req.context, req.credential.clone(), timeout, out)?;
        let info = validation(&settings, printer)?;
        printer.connection_verified(&req.context.url, &info)?;
    }
    let saved = save(config_path, &req)?;
    Ok(printer.context_saved(&req.name, &req.context, &saved)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Auth;
    use crate::secret::Secret;

    /// What `context save --name <name> --insecure-storage` asks for.
    fn request(name: &str, storage: Storage) -> SaveRequest {
        SaveRequest {
            name: name.into(),
            context: Context {
                url: "http://127.0.0.1:1".into(),
                platform: Default::default(),
                api_path: config::DEFAULT_API_PATH.into(),
                auth: Auth::ServiceToken,
                storage,
                skip_ssl: false,
                ca_cert_base64_data: None,
                credential_id: config::new_credential_id(),
                extra: Default::default(),
            },
            credential: Credential::ServiceToken(Secret::new("svctok-x")),
            skip_validate: false,
        }
    }

    #[test]
    fn save_set_and_delete_keep_the_config_and_the_file_store_in_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let a = request("a", Storage::File);
        assert_eq!(save(&path, &a).unwrap(), Saved::default());
        let b = request("b", Storage::File);
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
        let a = request("a", Storage::File);
        save(&path, &a).unwrap();
        let b = request("b", Storage::File);
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
