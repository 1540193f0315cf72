//! The command line, as clap definitions only (CONTRACT §1–§3). Environment variables are read in
//! `settings`, not here, so that a value from a flag can be told from one from the environment and
//! an empty variable counts as unset.

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCompleter;

/// Manage service tokens and ingestion API keys of a SUSE Observability (StackState) server.
#[derive(Debug, Parser)]
#[command(
    name = "sts",
    version,
    about = "Command-line client for SUSE Observability (StackState)",
    long_about = "Command-line client for SUSE Observability (StackState): manage service tokens and \
                  ingestion API keys.\n\nThe server and the credential come from flags or from \
                  STS_CLI_* environment variables; a token value of `-` is read from standard input.",
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options that work on every command, before or after the sub-command.
#[derive(Debug, Default, Args)]
pub struct GlobalArgs {
    /// Server URL, http:// or https:// [env: STS_CLI_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,

    /// Personal API token, sent as X-API-Token; `-` reads it from stdin (a flag value shows in
    /// shell history: prefer the env var or `-`) [env: STS_CLI_API_TOKEN]
    #[arg(long, global = true, value_name = "TOKEN")]
    pub api_token: Option<String>,

    /// Service token, sent as X-API-Key; `-` reads it from stdin [env: STS_CLI_SERVICE_TOKEN]
    #[arg(long, global = true, value_name = "TOKEN")]
    pub service_token: Option<String>,

    /// Kubernetes service-account token, sent as X-API-ServiceBearer; `-` reads it from stdin
    /// [env: STS_CLI_K8S_SA_TOKEN]
    #[arg(long, global = true, value_name = "TOKEN")]
    pub k8s_sa_token: Option<String>,

    /// File holding the Kubernetes service-account token [env: STS_CLI_K8S_SA_TOKEN_PATH]
    #[arg(long, global = true, value_name = "PATH")]
    pub k8s_sa_token_path: Option<String>,

    /// API base path [default: /api] [env: STS_CLI_API_PATH]
    #[arg(long, global = true, value_name = "PATH")]
    pub api_path: Option<String>,

    /// Use this saved context instead of the current one [env: STS_CLI_CONTEXT]
    #[arg(
        short = 'c',
        long,
        global = true,
        value_name = "NAME",
        add = ArgValueCompleter::new(crate::completion::context_names)
    )]
    pub context: Option<String>,

    /// Platform: stackstate (default), posit-connect or qualytics; a saved context carries its own
    /// [env: STS_CLI_PLATFORM]
    #[arg(long, global = true, value_enum, value_name = "PLATFORM")]
    pub platform: Option<crate::platform::PlatformKind>,

    /// Config file [env: STS_CLI_CONFIG]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<String>,

    /// Do not verify TLS certificates [env: STS_SKIP_SSL]
    #[arg(long, global = true)]
    pub skip_ssl: bool,

    /// Extra trusted CA certificate, a PEM file [env: STS_CA_CERT_PATH]
    #[arg(long, global = true, value_name = "PATH")]
    pub ca_cert_path: Option<String>,

    /// Extra trusted CA certificate, base64 of PEM [env: STS_CA_CERT_BASE64_DATA]
    #[arg(long, global = true, value_name = "DATA")]
    pub ca_cert_base64_data: Option<String>,

    /// Whole-command network deadline, e.g. 30s, 2m [default: 30s] [env: STS_CLI_TIMEOUT]
    #[arg(long, global = true, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Output format
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// No ANSI colour and no emoji symbols [env: NO_COLOR]
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Log to stderr: -v requests and timings, -vv headers and bodies (secrets shown as ***)
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage service tokens for API authentication
    #[command(subcommand)]
    ServiceToken(ServiceTokenCommand),
    /// Manage ingestion API keys used by agents and OpenTelemetry pipelines
    #[command(subcommand)]
    IngestionApiKey(IngestionApiKeyCommand),
    /// Manage the service users that Qualytics service tokens belong to (Qualytics)
    #[command(subcommand)]
    ServiceUser(ServiceUserCommand),
    /// Manage CLI connection contexts for SUSE Observability servers
    #[command(after_help = "Examples:\n  \
        sts context save --name prod --url https://observability.example.com --service-token -\n  \
        sts context --name prod --service-token TOKEN --url https://observability.example.com\n  \
        sts context list")]
    Context(ContextArgs),
    /// Show which credential a command would use, and print it for other tools
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Print the shell completion script of bash, zsh, fish, powershell or elvish
    #[command(
        after_help = "The script asks `sts` for the words to offer, so saved context names \
        complete after --context and `context set --name`.\n\n\
        Examples:\n  \
        source <(sts completion bash)\n  \
        sts completion zsh > \"${fpath[1]}/_sts\"\n  \
        sts completion fish > ~/.config/fish/completions/sts.fish"
    )]
    Completion(CompletionArgs),
}

/// `sts context [save flags]` or `sts context <sub-command>`. The docs' form, `sts context --name
/// N --service-token T --url U`, saves; a bare `sts context` prints its help.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ContextArgs {
    #[command(subcommand)]
    pub command: Option<ContextCommand>,
    #[command(flatten)]
    pub save: ContextSaveArgs,
}

#[derive(Debug, Subcommand)]
pub enum ContextCommand {
    /// Save a context (server URL and credential) and make it current
    #[command(
        after_help = "The URL and the token come from the command line only (a token of \
        `-` is read from stdin), not from STS_CLI_* env vars. The token goes to the OS keyring, \
        or with --insecure-storage to a 0600 credentials.toml beside the config file.\n\n\
        Examples:\n  \
        sts context save --name prod --url https://observability.example.com --service-token -\n  \
        sts context save --url https://observability.example.com --api-token TOKEN --skip-validate"
    )]
    Save(ContextSaveArgs),
    /// List the saved contexts
    #[command(after_help = "Examples:\n  \
        sts context list\n  \
        sts context list --no-headers | cut -d'|' -f1")]
    List(ContextListArgs),
    /// Show the context in effect
    Show,
    /// Make a saved context the current one
    Set(ContextNameArgs),
    /// Delete a saved context and its stored credential
    Delete(ContextNameArgs),
    /// Check that a saved context reaches its server
    Validate(ContextValidateArgs),
    /// Import the contexts of the Go CLI's config, their tokens into the keyring
    #[command(
        after_help = "Reads $XDG_CONFIG_HOME/stackstate-cli/config.yaml, else \
        ~/.config/stackstate-cli/config.yaml (both the `contexts:` format and the older \
        single-context one), never changes it, and skips a context whose name already exists \
        unless --overwrite.\n\n\
        Examples:\n  \
        sts context import\n  \
        sts context import --from ./old-config.yaml --overwrite"
    )]
    Import(ContextImportArgs),
}

/// Flags of `context save` besides the global `--url`, `--api-token`/`--service-token`,
/// `--api-path`, `--skip-ssl` and CA options.
#[derive(Debug, Default, Args)]
pub struct ContextSaveArgs {
    /// Name of the context [default: default]
    #[arg(short = 'n', long, value_name = "NAME")]
    pub name: Option<String>,

    /// Save without checking the server and the token first
    #[arg(long)]
    pub skip_validate: bool,

    /// Keep the token in a 0600 credentials.toml instead of the OS keyring
    #[arg(long)]
    pub insecure_storage: bool,
}

#[derive(Debug, Args)]
pub struct ContextNameArgs {
    /// Name of the context
    #[arg(
        short = 'n',
        long,
        value_name = "NAME",
        add = ArgValueCompleter::new(crate::completion::context_names)
    )]
    pub name: String,
}

#[derive(Debug, Default, Args)]
pub struct ContextImportArgs {
    /// The Go CLI's config file [default: $XDG_CONFIG_HOME/stackstate-cli/config.yaml]
    #[arg(long = "from", value_name = "PATH")]
    pub from: Option<String>,

    /// Replace contexts whose name already exists
    #[arg(long)]
    pub overwrite: bool,

    /// Keep the tokens in a 0600 credentials.toml instead of the OS keyring
    #[arg(long)]
    pub insecure_storage: bool,
}

#[derive(Debug, Args)]
pub struct ContextValidateArgs {
    /// Every saved context at once (--platform narrows)
    #[arg(short = 'A', long, conflicts_with = "name")]
    pub all_contexts: bool,

    /// Name of the context [default: the context in effect]
    #[arg(
        short = 'n',
        long,
        value_name = "NAME",
        add = ArgValueCompleter::new(crate::completion::context_names)
    )]
    pub name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ServiceTokenCommand {
    /// Create a service token and print it once
    #[command(after_help = "Examples:\n  \
        sts service-token create --name my-service-token --roles stackstate-k8s-troubleshooter\n  \
        sts service-token create --name ci --roles stackstate-power-user --expiration 2030-12-31\n  \
        sts service-token create --name ci --roles a,b --roles c --expiration 90d")]
    Create(ServiceTokenCreateArgs),
    /// List service tokens
    List(ListArgs),
    /// Delete service tokens by id
    #[command(after_help = "Examples:\n  \
        sts service-token delete 107484341630693\n  \
        sts service-token delete --id 107484341630693")]
    Delete(DeleteArgs),
    /// Replace a service token by a new one with the same name, roles and subject
    #[command(
        after_help = "Steps: read the old token, create the new one (expiry: --expiration, \
        else the old token's lifetime again from now, else none), print its secret once, store it \
        in the context given by --save-to-context after checking it with /server/info, and only \
        then delete the old token (unless --keep-old). A failed step stops the rotation with the \
        old token still in place.\n\n\
        Examples:\n  \
        sts service-token rotate --id 107484341630693\n  \
        sts service-token rotate --id 107484341630693 --save-to-context ci --expiration 90d"
    )]
    Rotate(ServiceTokenRotateArgs),
    /// Revoke service tokens by id: they stop working but can be restored (Qualytics)
    #[command(after_help = "Examples:\n  \
        sts service-token revoke 21\n  \
        sts service-token revoke 21 22")]
    Revoke(IdArgs),
    /// Restore revoked service tokens by id (Qualytics; an expired one cannot be restored)
    #[command(after_help = "Examples:\n  \
        sts service-token restore 21")]
    Restore(IdArgs),
    /// List the scopes a service token may be given (Posit Connect)
    #[command(after_help = "Examples:\n  \
        sts service-token scopes\n  \
        sts service-token scopes -o json")]
    Scopes,
}

#[derive(Debug, Args)]
pub struct ServiceTokenRotateArgs {
    /// Id of the service token to replace
    #[arg(
        short = 'i',
        long = "id",
        value_name = "ID",
        allow_hyphen_values = true
    )]
    pub id: String,

    /// Expiration of the new token: a date (yyyy-MM-dd, UTC), an RFC 3339 time, or a duration
    /// from now [default: the old token's lifetime, from now]
    #[arg(long, value_name = "DATE")]
    pub expiration: Option<String>,

    /// Store the new token as the credential of this saved context
    #[arg(long, value_name = "NAME")]
    pub save_to_context: Option<String>,

    /// Name of the new token [default: the old name; Qualytics: `<old name> (rotated <date>)`]
    #[arg(short = 'n', long, value_name = "NAME")]
    pub name: Option<String>,

    /// Do not delete the old token (the default on Posit Connect)
    #[arg(long, conflicts_with = "delete_old")]
    pub keep_old: bool,

    /// Delete the old token at once (Posit Connect keeps it by default: install the new key in
    /// its consumer first)
    #[arg(long)]
    pub delete_old: bool,
}

#[derive(Debug, Args)]
pub struct ServiceTokenCreateArgs {
    /// Name of the service token
    #[arg(short = 'n', long, value_name = "NAME")]
    pub name: String,

    /// Roles of the token, comma-separated and repeatable (StackState; required there)
    #[arg(long, value_name = "ROLES", value_delimiter = ',', num_args = 1)]
    pub roles: Vec<String>,

    /// Scopes of the token, comma-separated and repeatable (Posit Connect; required there, see
    /// `sts service-token scopes`)
    #[arg(long, value_name = "SCOPES", value_delimiter = ',', num_args = 1)]
    pub scopes: Vec<String>,

    /// Expiration: a date (yyyy-MM-dd, UTC), an RFC 3339 time, or a duration from now (30d, 1y)
    #[arg(long, value_name = "DATE")]
    pub expiration: Option<String>,

    /// The service user the token belongs to: its id, login or name (Qualytics; required there)
    #[arg(long, value_name = "USER")]
    pub service_user: Option<String>,

    /// The token may call the SCIM endpoints only (Qualytics)
    #[arg(long)]
    pub scim_only: bool,

    /// Subject the token acts as
    #[arg(
        long = "dedicatedSubject",
        alias = "dedicated-subject",
        value_name = "SUBJECT"
    )]
    pub dedicated_subject: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum IngestionApiKeyCommand {
    /// Generate an ingestion API key and print it once
    #[command(after_help = "Examples:\n  \
        sts ingestion-api-key create --name my-ingestion-api-key\n  \
        sts ingestion-api-key create --name otel --description 'OTel collector' --expiration 1y")]
    Create(IngestionApiKeyCreateArgs),
    /// List ingestion API keys
    List(ListArgs),
    /// Delete ingestion API keys by id
    #[command(after_help = "Examples:\n  \
        sts ingestion-api-key delete --id 250558013078953\n  \
        sts ingestion-api-key delete 250558013078953 250558013078954")]
    Delete(DeleteArgs),
    /// Replace an ingestion API key by a new one with the same name and description
    #[command(
        after_help = "The new key's expiry: --expiration, else the old key's lifetime again \
        from now, else none. The old key is deleted only after the new one was created (unless \
        --keep-old).\n\n\
        Examples:\n  \
        sts ingestion-api-key rotate --id 250558013078953\n  \
        sts ingestion-api-key rotate --id 250558013078953 --expiration 1y --keep-old"
    )]
    Rotate(IngestionApiKeyRotateArgs),
    /// Check that an ingestion API key is live (exit 0) or not (exit 3); the key is read from stdin
    #[command(after_help = "Examples:\n  \
        printf '%s\\n' \"$KEY\" | sts ingestion-api-key verify\n  \
        sts ingestion-api-key verify --key - < key.txt")]
    Verify(IngestionApiKeyVerifyArgs),
}

#[derive(Debug, Args)]
pub struct IngestionApiKeyRotateArgs {
    /// Id of the ingestion API key to replace
    #[arg(
        short = 'i',
        long = "id",
        value_name = "ID",
        allow_hyphen_values = true
    )]
    pub id: String,

    /// Expiration of the new key: a date (yyyy-MM-dd, UTC), an RFC 3339 time, or a duration
    /// from now [default: the old key's lifetime, from now]
    #[arg(long, value_name = "DATE")]
    pub expiration: Option<String>,

    /// Do not delete the old key
    #[arg(long)]
    pub keep_old: bool,
}

#[derive(Debug, Default, Args)]
pub struct IngestionApiKeyVerifyArgs {
    /// `-`: read the key from stdin (the default; a key is never taken from the command line)
    #[arg(long, value_name = "-", allow_hyphen_values = true)]
    pub key: Option<String>,
}

#[derive(Debug, Args)]
pub struct IngestionApiKeyCreateArgs {
    /// Name of the key
    #[arg(short = 'n', long, value_name = "NAME")]
    pub name: String,

    /// Description of the key
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,

    /// Expiration: a date (yyyy-MM-dd, UTC), an RFC 3339 time, or a duration from now (30d, 1y)
    #[arg(long, value_name = "DATE")]
    pub expiration: Option<String>,
}

/// Flags of the `list` commands of service tokens and ingestion API keys.
#[derive(Debug, Default, Args)]
pub struct ListArgs {
    /// Only those whose expiry is between now and now + DURATION (e.g. 7d)
    #[arg(long, value_name = "DURATION")]
    pub expiring_within: Option<String>,

    /// Only those whose expiry is before now (with --expiring-within: either matches)
    #[arg(long)]
    pub expired: bool,

    /// Only those last used before now - DURATION, or never (e.g. 30d); StackState keeps no
    /// last-use data, so none of its tokens match
    #[arg(long, value_name = "DURATION")]
    pub unused_for: Option<String>,

    /// Only those with this status (repeatable)
    #[arg(long, value_enum, value_name = "STATUS")]
    pub status: Vec<crate::platform::Status>,

    /// Exit 7 when the filtered list is not empty (and nothing failed), for alerting
    #[arg(long)]
    pub fail_if_any: bool,

    /// Every saved context at once, each with its own URL and saved credential (URL and token
    /// flags and env vars are ignored; --platform narrows)
    #[arg(short = 'A', long, conflicts_with = "personal")]
    pub all_contexts: bool,

    /// The caller's own tokens instead of every service user's (Qualytics)
    #[arg(long)]
    pub personal: bool,

    /// Print the rows without the header line (for awk and cut)
    #[arg(long)]
    pub no_headers: bool,
}

#[derive(Debug, Subcommand)]
pub enum ServiceUserCommand {
    /// List the service users (all pages)
    List(ContextListArgs),
    /// Create a service user
    #[command(after_help = "Examples:\n  \
        sts service-user create --name 'Nightly Loader' --role Member --team Ingestion")]
    Create(ServiceUserCreateArgs),
}

#[derive(Debug, Args)]
pub struct ServiceUserCreateArgs {
    /// Name of the service user (its login is derived from it)
    #[arg(short = 'n', long, value_name = "NAME")]
    pub name: String,

    /// Role: Admin may manage tokens and users, Member may not
    #[arg(long, value_name = "ROLE")]
    pub role: String,

    /// Team to add it to (repeatable; Public is always added)
    #[arg(long = "team", value_name = "TEAM")]
    pub teams: Vec<String>,
}

/// Ids of `revoke` and `restore`: positional and/or `--id`.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// Ids
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,

    /// Id (repeatable)
    #[arg(
        short = 'i',
        long = "id",
        value_name = "ID",
        allow_hyphen_values = true
    )]
    pub id_flags: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// The URL, platform, context and credential a command would use, where each came from, and
    /// whether the server accepts it (never the secret)
    #[command(
        after_help = "Exit 0 when the credential authenticates, else the exit code of the \
        validation request.\n\n\
        Examples:\n  \
        sts auth status\n  \
        sts auth status -A -o json"
    )]
    Status(AuthStatusArgs),
    /// Print the secret a command would send, and nothing else (no request is made)
    #[command(after_help = "Examples:\n  \
        curl -H \"X-API-Key: $(sts auth token)\" \"$STS_CLI_URL/api/server/info\"")]
    Token,
}

#[derive(Debug, Args)]
pub struct AuthStatusArgs {
    /// Every saved context at once (--platform narrows)
    #[arg(short = 'A', long)]
    pub all_contexts: bool,
}

/// Flags of `context list`.
#[derive(Debug, Default, Args)]
pub struct ContextListArgs {
    /// Print the rows without the header line (for awk and cut)
    #[arg(long)]
    pub no_headers: bool,
}

/// `sts completion <shell>`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to print the completion script of
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: CompletionShell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

/// Ids to delete: positional and/or `--id`. Checked as int64 by the command, before any request,
/// so the message can name the flag the way the Go CLI does.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Ids to delete
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,

    /// Id to delete (repeatable)
    #[arg(
        short = 'i',
        long = "id",
        value_name = "ID",
        allow_hyphen_values = true
    )]
    pub id_flags: Vec<String>,

    /// Revoke each token first, then delete it (Qualytics deletes only revoked tokens)
    #[arg(long)]
    pub revoke: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_model_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_parse_after_the_sub_command() {
        let cli = Cli::try_parse_from([
            "sts",
            "service-token",
            "list",
            "--url",
            "http://x",
            "-o",
            "json",
            "-vv",
        ])
        .unwrap();
        assert_eq!(cli.global.url.as_deref(), Some("http://x"));
        assert_eq!(cli.global.output, OutputFormat::Json);
        assert_eq!(cli.global.verbose, 2);
    }

    #[test]
    fn roles_are_comma_separated_and_repeatable() {
        let cli = Cli::try_parse_from([
            "sts",
            "service-token",
            "create",
            "-n",
            "x",
            "--roles",
            "a,b",
            "--roles",
            "c",
            "--dedicated-subject",
            "s",
        ])
        .unwrap();
        let Command::ServiceToken(ServiceTokenCommand::Create(args)) = cli.command else {
            panic!("wrong command");
        };
        assert_eq!(args.roles, ["a", "b", "c"]);
        assert_eq!(args.dedicated_subject.as_deref(), Some("s"));
    }
}
