//! `sts service-token …` and `sts ingestion-api-key …` (CONTRACT §2, §3, §9): each command's
//! input checked before any request, then run against the platform's [`TokenKind`].

use chrono::Utc;

use super::{Failure, block_on};
use crate::cli::{Cli, DeliverArgs, IngestionApiKeyCommand, ListArgs, ServiceTokenCommand};
use crate::commands::deliver::Delivery;
use crate::commands::list_filter::ListFilter;
use crate::commands::rotate::{self, ContextTarget, RotateRequest};
use crate::error::Error;
use crate::output::{Done, Printer};
use crate::platform::common;
use crate::platform::{CreateInput, Listed, Nouns, OldTokenFate, PlatformKind, TokenId, TokenKind};
use crate::settings::{self, OutputSettings, SavedContext, Sources};

/// The refusal of an ingestion-key command on a platform that has none.
pub fn no_ingestion_keys(platform: PlatformKind, saved: Option<SavedContext>) -> Error {
    let having: Vec<&str> = PlatformKind::ALL
        .iter()
        .filter(|k| k.profile().ingestion_keys)
        .map(|k| k.display())
        .collect();
    Error::usage(format!(
        "ingestion API keys exist only on {}; this command is for {}{}",
        having.join(" and "),
        platform.display(),
        saved
            .map(|s| format!(" (context '{}' is {})", s.name, s.context.platform))
            .unwrap_or_default()
    ))
}

/// A token or key command, its input checked before any request.
pub enum Job<K: TokenKind> {
    Create(K::Request),
    List {
        filter: ListFilter,
        personal: bool,
    },
    Get(TokenId),
    Delete {
        targets: Targets,
        revoke: bool,
        ignore_not_found: bool,
    },
    Revoke(Vec<TokenId>, bool),
    Restore(Vec<TokenId>, bool),
    Rotate(Box<RotateRequest>),
    Scopes,
    Verify(crate::secret::Secret),
}

pub fn list_filter(a: &ListArgs) -> Result<ListFilter, Error> {
    let mut filter = ListFilter::new(
        a.expiring_within.as_deref(),
        a.expired,
        a.unused_for.as_deref(),
        &a.status,
        a.fail_if_any,
    )?;
    filter.name = a.name.clone();
    Ok(filter)
}

/// What a delete, revoke or restore is asked to act on.
pub enum Targets {
    Ids(Vec<TokenId>),
    /// The one token of this name (`delete --name`).
    Name(String),
}

fn targets<K: TokenKind>(a: &crate::cli::IdArgs, name: Option<&str>) -> Result<Targets, Error> {
    match name {
        Some(n) => Ok(Targets::Name(n.to_string())),
        None => Ok(Targets::Ids(rotate::parse_ids::<K>(&a.ids, &a.id_flags)?)),
    }
}

/// The old one's fate: `--keep-old`, `--delete-old`, else the platform's default (`true`).
fn fate<K: TokenKind>(keep_old: bool, delete_old: bool) -> (OldTokenFate, bool) {
    if keep_old {
        (OldTokenFate::Keep, false)
    } else if delete_old {
        (OldTokenFate::Delete, false)
    } else {
        (K::DEFAULT_FATE, true)
    }
}

#[allow(clippy::too_many_arguments)]
fn rotate_request<K: TokenKind>(
    cli: &Cli,
    id: &str,
    expiration: Option<&str>,
    save_to_context: Option<&str>,
    (fate, fate_is_default): (OldTokenFate, bool),
    deliver: &DeliverArgs,
    out: OutputSettings,
    src: &Sources,
) -> Result<RotateRequest, Failure> {
    let old_id = K::parse_id(id, "-i, --id")?;
    common::expiration_millis(expiration, Utc::now())?;
    let duration = |flag: &str, v: &str| {
        crate::dates::parse_duration(v)
            .map_err(|e| Error::usage(format!("invalid argument \"{v}\" for \"{flag}\": {e}")))
    };
    let delivery = Delivery {
        file: deliver.deliver_file.clone(),
        command: deliver.deliver_command.clone(),
        verify_command: deliver.verify_command.clone(),
        timeout: duration("--deliver-timeout", &deliver.deliver_timeout)?,
    };
    delivery.check()?;
    let overlap = match &deliver.overlap {
        Some(v) => Some(duration("--overlap", v)?),
        None => None,
    };
    let target = match save_to_context {
        Some(name) => Some(ContextTarget::resolve::<K>(
            &src.config_path(&cli.global)?.0,
            name,
            settings::resolve_timeout(&cli.global, src)?,
            out,
        )?),
        None => None,
    };
    Ok(RotateRequest {
        old_id,
        expiration: expiration.map(str::to_string),
        name: None,
        target,
        fate,
        fate_is_default,
        overlap,
        delivery,
        context_name: src.context_name(&cli.global).unwrap_or_default(),
        journal: Some(crate::journal::Journal::resolve(
            deliver.journal.as_deref(),
            (src.env)(crate::env_vars::STS_CLI_JOURNAL),
            &src.config_path(&cli.global)?.0,
        )),
        lock_timeout: settings::resolve_timeout(&cli.global, src)?,
    })
}

pub fn service_token_job<K: TokenKind>(
    cli: &Cli,
    cmd: &ServiceTokenCommand,
    out: OutputSettings,
    src: &Sources,
) -> Result<Job<K>, Failure> {
    let now = Utc::now();
    Ok(match cmd {
        ServiceTokenCommand::Create(a) => {
            let input = CreateInput {
                name: a.name.clone(),
                roles: a.roles.clone(),
                scopes: a.scopes.clone(),
                expiration: a.expiration.clone(),
                dedicated_subject: a.dedicated_subject.clone(),
                service_user: a.service_user.clone(),
                scim_only: a.scim_only,
                ..Default::default()
            };
            Job::Create(K::create_request(&input, now)?)
        }
        ServiceTokenCommand::List(a) => {
            if a.personal {
                K::check_personal()?;
            }
            Job::List {
                filter: list_filter(a)?,
                personal: a.personal,
            }
        }
        ServiceTokenCommand::Delete(a) => {
            if a.revoke {
                K::check_revoke()?;
            }
            Job::Delete {
                targets: targets::<K>(&a.ids, a.name.as_deref())?,
                revoke: a.revoke,
                ignore_not_found: a.ids.ignore_not_found,
            }
        }
        ServiceTokenCommand::Get(a) => Job::Get(K::parse_id(&a.id, "ID")?),
        ServiceTokenCommand::Revoke(a) => {
            K::check_revoke()?;
            Job::Revoke(
                rotate::parse_ids::<K>(&a.ids, &a.id_flags)?,
                a.ignore_not_found,
            )
        }
        ServiceTokenCommand::Restore(a) => {
            K::check_revoke()?;
            Job::Restore(
                rotate::parse_ids::<K>(&a.ids, &a.id_flags)?,
                a.ignore_not_found,
            )
        }
        ServiceTokenCommand::Rotate(a) => {
            let mut req = rotate_request::<K>(
                cli,
                a.id(),
                a.expiration.as_deref(),
                a.save_to_context.as_deref(),
                fate::<K>(a.keep_old, a.delete_old),
                &a.deliver,
                out,
                src,
            )?;
            req.name = a.name.clone();
            Job::Rotate(Box::new(req))
        }
        ServiceTokenCommand::Scopes => {
            K::check_scopes()?;
            Job::Scopes
        }
    })
}

pub fn ingestion_api_key_job<K: TokenKind>(
    cli: &Cli,
    cmd: &IngestionApiKeyCommand,
    out: OutputSettings,
    src: &mut Sources,
) -> Result<Job<K>, Failure> {
    let now = Utc::now();
    Ok(match cmd {
        IngestionApiKeyCommand::Create(a) => {
            let input = CreateInput {
                name: a.name.clone(),
                description: a.description.clone(),
                expiration: a.expiration.clone(),
                ..Default::default()
            };
            Job::Create(K::create_request(&input, now)?)
        }
        IngestionApiKeyCommand::List(a) => {
            if a.personal {
                K::check_personal()?;
            }
            Job::List {
                filter: list_filter(a)?,
                personal: false,
            }
        }
        IngestionApiKeyCommand::Delete(a) => {
            if a.revoke {
                K::check_revoke()?;
            }
            Job::Delete {
                targets: targets::<K>(&a.ids, a.name.as_deref())?,
                revoke: false,
                ignore_not_found: a.ids.ignore_not_found,
            }
        }
        IngestionApiKeyCommand::Get(a) => Job::Get(K::parse_id(&a.id, "ID")?),
        IngestionApiKeyCommand::Rotate(a) => Job::Rotate(Box::new(rotate_request::<K>(
            cli,
            a.id(),
            a.expiration.as_deref(),
            None,
            fate::<K>(a.keep_old, a.delete_old),
            &a.deliver,
            out,
            src,
        )?)),
        IngestionApiKeyCommand::Verify(a) => {
            let g = &cli.global;
            if [&g.api_token, &g.service_token, &g.k8s_sa_token]
                .iter()
                .any(|t| t.as_deref() == Some("-"))
            {
                return Err(Error::usage(
                    "verify reads the key from stdin, so the token cannot come from stdin too: \
                     pass it in an env var (STS_CLI_SERVICE_TOKEN, STS_CLI_API_TOKEN)",
                )
                .into());
            }
            K::check_verify()?;
            Job::Verify(common::verify_key(a.key.as_deref(), src.read_stdin_line)?)
        }
    })
}

/// Runs a token or key command of kind `K` with the resolved settings.
pub fn run<K: TokenKind>(
    cli: &Cli,
    job: Job<K>,
    out: OutputSettings,
    printer: &Printer,
    src: &mut Sources,
) -> Result<(), Failure> {
    let (settings, provenance) = settings::resolve_with_sources(&cli.global, out, src)?;
    let printer = &printer.clone().in_context(provenance.context.clone());
    if settings.platform != K::PLATFORM {
        return Err(Error::usage(format!(
            "this command was checked for {} but the settings name {}: set --platform",
            K::PLATFORM,
            settings.platform
        ))
        .into());
    }
    if let Job::Rotate(req) = &job
        && let Some(target) = &req.target
    {
        target.check_server(&settings.url)?;
    }
    for warning in &settings.warnings {
        printer.warn(warning);
    }
    block_on(async {
        let client = settings.client(printer)?;
        match job {
            Job::Create(req) => {
                let (name, expiration) = create_name_and_expiration(cli);
                if let Some(w) = short_expiry_warning(expiration, Utc::now()) {
                    printer.warn(&w);
                }
                let created = K::create(&client, &req)
                    .await
                    .map_err(|e| may_have_been_created(e, &K::NOUNS, name))?;
                printer.created::<K>(&created)?;
            }
            Job::List { filter, personal } => {
                if printer.is_prometheus() {
                    return super::metrics::print_one::<K>(
                        printer,
                        &settings,
                        &provenance,
                        &client,
                        personal,
                        &filter,
                    )
                    .await;
                }
                let mut tokens = if personal {
                    K::list_personal(&client).await.map(Listed::from)
                } else {
                    K::list_rows(&client).await
                }?;
                let now = Utc::now();
                if let Some(w) = filter.last_use_warning([K::PLATFORM]) {
                    printer.warn(&w);
                }
                filter.apply_listed(&mut tokens, now);
                let rows = tokens.len();
                printer.tokens::<K>(tokens, now)?;
                filter.check(rows, &K::NOUNS)?;
            }
            Job::Rotate(req) => {
                let (report, failure) = rotate::rotate::<K>(&client, printer, &req).await;
                printer.rotated::<K>(&report)?;
                if let Some(e) = failure {
                    return Err(e.into());
                }
            }
            Job::Get(id) => {
                let tokens = K::list(&client).await?;
                let Some(token) = tokens.into_iter().find(|t| t.id == id) else {
                    return Err(
                        not_found(format!("no {} with id {}", K::NOUNS.one, id.text)).into(),
                    );
                };
                printer.token::<K>(token, Utc::now())?;
            }
            Job::Delete {
                targets,
                revoke,
                ignore_not_found,
            } => {
                let ids = match targets {
                    Targets::Ids(ids) => ids,
                    Targets::Name(name) => match id_of_name::<K>(&client, &name).await? {
                        Some(id) => vec![id],
                        None if ignore_not_found => {
                            printer.warn(&format!(
                                "no {} named '{name}': nothing to delete",
                                K::NOUNS.one
                            ));
                            if printer.is_json() {
                                printer.done_json(Done::Deleted, &K::NOUNS, &[], false)?;
                            }
                            return Ok(());
                        }
                        None => {
                            return Err(
                                not_found(format!("no {} named '{name}'", K::NOUNS.one)).into()
                            );
                        }
                    },
                };
                let client = &client;
                each_id(
                    printer,
                    Done::Deleted,
                    &K::NOUNS,
                    &ids,
                    ignore_not_found,
                    |id| async move {
                        if revoke {
                            K::revoke(client, &id).await?;
                        }
                        K::delete(client, &id).await
                    },
                )
                .await?;
            }
            Job::Revoke(ids, ignore) => {
                let client = &client;
                each_id(
                    printer,
                    Done::Revoked,
                    &K::NOUNS,
                    &ids,
                    ignore,
                    |id| async move { K::revoke(client, &id).await },
                )
                .await?;
            }
            Job::Restore(ids, ignore) => {
                let client = &client;
                each_id(
                    printer,
                    Done::Restored,
                    &K::NOUNS,
                    &ids,
                    ignore,
                    |id| async move { K::restore(client, &id).await },
                )
                .await?;
            }
            Job::Scopes => {
                let scopes = K::scopes(&client).await?;
                printer.scopes(&scopes)?;
            }
            Job::Verify(key) => {
                K::verify(&client, &key).await?;
                printer.ingestion_api_key_valid()?;
            }
        }
        Ok(())
    })
}

/// Deletes (revokes, restores) each id in turn. One id: its error is the command's. Several:
/// every id is tried, each failure reported on stderr, and the exit code is that of the first
/// failure.
async fn each_id<F, Fut>(
    printer: &Printer,
    done: Done,
    nouns: &Nouns,
    ids: &[TokenId],
    ignore_not_found: bool,
    delete: F,
) -> Result<(), Failure>
where
    F: Fn(TokenId) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let several = ids.len() > 1;
    let mut deleted = Vec::new();
    let mut first_failure = None;
    for id in ids {
        match delete(id.clone()).await {
            Ok(()) => {
                deleted.push(id.clone());
                if !printer.is_json() {
                    printer.done_line(done, nouns, id)?;
                }
            }
            Err(e) if ignore_not_found && e.status == Some(404) => {
                printer.warn(&format!(
                    "{} {} not found: nothing to {}",
                    nouns.one,
                    id.text,
                    done.verb()
                ));
            }
            Err(e) => {
                let e = e.reworded(format!("cannot {} {}: {}", done.verb(), id.text, e.message));
                if !several {
                    return Err(e.into());
                }
                printer.error(&e);
                first_failure.get_or_insert(e.exit_code());
            }
        }
    }
    if printer.is_json() {
        printer.done_json(done, nouns, &deleted, several)?;
    }
    match first_failure {
        Some(code) => Err(Failure::Reported(code)),
        None => Ok(()),
    }
}

/// The id of the one token named `name`; `None` when there is none; exit 3 naming the ids when
/// there are several.
async fn id_of_name<K: TokenKind>(
    client: &crate::http::client::Client,
    name: &str,
) -> Result<Option<TokenId>, Error> {
    let mut found: Vec<TokenId> = K::list(client)
        .await?
        .into_iter()
        .filter(|t| t.name == name)
        .map(|t| t.id)
        .collect();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(Error::usage(format!(
            "{} {}s are named '{name}' (ids {}): delete by id",
            found.len(),
            K::NOUNS.one,
            found
                .iter()
                .map(|i| i.text.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A token that is not there, as the server's 404 would say it (exit 3).
fn not_found(message: String) -> Error {
    Error {
        status: Some(404),
        ..Error::usage(message)
    }
}

/// The `--name` and `--expiration` of a create.
fn create_name_and_expiration(cli: &Cli) -> (&str, Option<&str>) {
    match &cli.command {
        crate::cli::Command::ServiceToken(ServiceTokenCommand::Create(a)) => {
            (&a.name, a.expiration.as_deref())
        }
        crate::cli::Command::IngestionApiKey(IngestionApiKeyCommand::Create(a)) => {
            (&a.name, a.expiration.as_deref())
        }
        _ => ("", None),
    }
}

/// A warning when `--expiration` is less than an hour from now (CONTRACT §14).
pub fn short_expiry_warning(
    expiration: Option<&str>,
    now: chrono::DateTime<Utc>,
) -> Option<String> {
    let at = common::expiration_millis(expiration, now).ok()??;
    let left_min = (at - now.timestamp_millis()) / 60_000;
    (left_min < 60).then(|| {
        format!(
            "--expiration {} is less than an hour from now: the new token stops working in \
             {left_min} min (use days, e.g. 30d)",
            expiration.unwrap_or_default()
        )
    })
}

/// A create that got no answer in time may still have been made on the server: say so, and how
/// to look, before a retry makes a second one.
fn may_have_been_created(e: Error, nouns: &Nouns, name: &str) -> Error {
    if e.kind != crate::error::Kind::Connect || !e.message.starts_with("no answer to") {
        return e;
    }
    let message = format!(
        "{}; the {} may have been created all the same: look with `{} list --name '{name}'` \
         before creating it again",
        e.message, nouns.one, nouns.command
    );
    e.reworded(message)
}
