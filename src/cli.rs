//! The command line, as clap definitions only (CONTRACT §1–§3). Environment variables are read in
//! `settings`, not here, so that a value from a flag can be told from one from the environment and
//! an empty variable counts as unset.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::env_vars as ev;

/// Manage the service tokens and ingestion API keys of the platforms in the registry.
#[derive(Debug, Parser)]
#[command(
    name = "sts",
    version,
    about = crate::platform::about(),
    long_about = format!(
        "{}, and ingestion API keys: create, list, rotate and delete them.\n\nThe server and the credential come from flags or from STS_CLI_* environment variables; a \
         token value of `-` is read from standard input.\n\nA command that sts does not have \
         (topology, monitor, stackpack, settings) runs the Go CLI, {} or else {} on PATH, with the \
         server and credential of the context in effect.",
        crate::platform::about(),
        ev::STS_CLI_GO_BINARY,
        ev::GO_BINARY_ON_PATH
    ),
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The command line as `sts` parses it and shows its help: [`Cli`]'s model, with what a
/// sub-command's help leaves out left out ([`finish`]).
pub fn command() -> clap::Command {
    finish(<Cli as clap::CommandFactory>::command())
}

/// `cmd` (the derive model, maybe with a version added) built, options a command takes but does
/// not use hidden, and in each sub-command's help only the global options it needs under a
/// heading that points to `sts --help` for the others (CONTRACT §14).
pub fn finish(cmd: clap::Command) -> clap::Command {
    let mut cmd = hide_unused(cmd);
    cmd.build();
    let globals: Vec<String> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| a.get_id().to_string())
        .collect();
    // In place (`mut_args`, `mut_subcommands`): the built command indexes its arguments.
    cmd.mut_subcommands(|sub| trim_globals(sub, &globals))
}

/// The heading of the global options a sub-command's help shows.
pub const SUB_GLOBAL_HEADING: &str = "Global options (all of them: sts --help)";

/// The global options every sub-command's help shows.
const SUB_GLOBALS: [&str; 3] = ["context", "output", "verbose"];

/// The global options `context save` (and `sts context --name …`) uses as its own.
const SAVE_GLOBALS: [&str; 8] = [
    "url",
    "api_token",
    "service_token",
    "api_path",
    "platform",
    "skip_ssl",
    "ca_cert_path",
    "ca_cert_base64_data",
];

/// Options a command takes only because it shares its flags with another command (the ingestion
/// keys' `list` and `delete` share the service tokens'): hidden from its help and completion.
const UNUSED: [(&str, &str, &[&str]); 2] = [
    ("ingestion-api-key", "list", &["personal", "unused_for"]),
    ("ingestion-api-key", "delete", &["revoke"]),
];

pub fn hide_unused(cmd: clap::Command) -> clap::Command {
    UNUSED.iter().fold(cmd, |cmd, (group, sub, ids)| {
        cmd.mut_subcommand(group, |g| {
            g.mut_subcommand(sub, |c| {
                ids.iter().fold(c, |c, id| c.mut_arg(id, |a| a.hide(true)))
            })
        })
    })
}

/// A built sub-command (and its own) with the global options it does not need hidden, the
/// others under [`SUB_GLOBAL_HEADING`].
fn trim_globals(cmd: clap::Command, globals: &[String]) -> clap::Command {
    // `context` saves too (`sts context --name N --url U …`); `save` is `context save`.
    let keep: &[&str] = if matches!(cmd.get_name(), "context" | "save") {
        &SAVE_GLOBALS
    } else {
        &[]
    };
    cmd.mut_args(|a| {
        let id = a.get_id().as_str();
        if !globals.iter().any(|g| g == id) {
            a
        } else if SUB_GLOBALS.contains(&id) || keep.contains(&id) {
            a.help_heading(SUB_GLOBAL_HEADING)
        } else {
            a.hide(true)
        }
    })
    .mut_subcommands(|sub| trim_globals(sub, globals))
}

/// The help of an option that an environment variable can give too: `<text> [env: NAME]`. The
/// name comes from [`crate::env_vars`], so the help and the code cannot drift.
fn env_help(text: &str, var: &str) -> String {
    format!("{text} [env: {var}]")
}

/// The help of a server, credential or TLS option: `context save` reads it from the command line
/// only (flags, or `-` for stdin), never from the environment, so the help says so.
fn save_cli_only_help(text: &str, var: &str) -> String {
    format!("{text} [env: {var}] (`context save` takes it from the command line only)")
}

/// Options that work on every command, before or after the sub-command. Listed in each
/// command's help under their own heading, after the command's own options.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    // Server URL.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help = save_cli_only_help("Server URL, http:// or https://", ev::STS_CLI_URL)
    )]
    pub url: Option<String>,

    // Personal API token.
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        help = save_cli_only_help(
            &format!(
                "Personal API token or API key, sent as {}; `-` reads it from stdin (a flag value \
                 shows in shell history: prefer the env var or `-`)",
                crate::platform::credential_help(crate::platform::CredentialKind::ApiToken)
            ),
            ev::STS_CLI_API_TOKEN
        )
    )]
    pub api_token: Option<String>,

    // Service token.
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        help = save_cli_only_help(
            &format!(
                "Service token, sent as {}; `-` reads it from stdin",
                crate::platform::credential_help(crate::platform::CredentialKind::ServiceToken)
            ),
            ev::STS_CLI_SERVICE_TOKEN
        )
    )]
    pub service_token: Option<String>,

    // Kubernetes service-account token.
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        help = env_help(
            &format!(
                "Kubernetes service-account token, sent as {}; `-` reads it from stdin (never \
                 saved in a context)",
                crate::platform::credential_help(crate::platform::CredentialKind::K8sSaToken)
            ),
            ev::STS_CLI_K8S_SA_TOKEN
        )
    )]
    pub k8s_sa_token: Option<String>,

    // A file with the Kubernetes service-account token.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        help = env_help(
            "File holding the Kubernetes service-account token",
            ev::STS_CLI_K8S_SA_TOKEN_PATH
        )
    )]
    pub k8s_sa_token_path: Option<String>,

    // API base path.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        help = save_cli_only_help("API base path [default: /api]", ev::STS_CLI_API_PATH)
    )]
    pub api_path: Option<String>,

    // The saved context to use.
    #[arg(
        short = 'c',
        long,
        global = true,
        value_name = "NAME",
        action = clap::ArgAction::Append,
        help = env_help(
            "Use this saved context instead of the current one (`exporter`: repeatable, the \
             contexts to export)",
            ev::STS_CLI_CONTEXT
        )
    )]
    pub context: Option<String>,
    /// Every `-c NAME` given (only `exporter` takes more than one); filled by the parser's
    /// caller from the matches.
    #[arg(skip)]
    pub contexts: Vec<String>,

    // Platform.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "PLATFORM",
        help = save_cli_only_help(
            &format!(
                "Platform: {}; a saved context carries its own",
                crate::platform::names_help()
            ),
            ev::STS_CLI_PLATFORM
        )
    )]
    pub platform: Option<crate::platform::kind::PlatformKind>,

    // Config file.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        help = env_help("Config file", ev::STS_CLI_CONFIG)
    )]
    pub config: Option<String>,

    // No TLS verification.
    #[arg(
        long,
        global = true,
        help = save_cli_only_help("Do not verify TLS certificates", ev::STS_SKIP_SSL)
    )]
    pub skip_ssl: bool,

    // Extra CA, a file.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        help = save_cli_only_help(
            "Extra trusted CA certificate, a PEM file",
            ev::STS_CA_CERT_PATH
        )
    )]
    pub ca_cert_path: Option<String>,

    // Extra CA, base64.
    #[arg(
        long,
        global = true,
        value_name = "DATA",
        help = save_cli_only_help(
            "Extra trusted CA certificate, base64 of PEM",
            ev::STS_CA_CERT_BASE64_DATA
        )
    )]
    pub ca_cert_base64_data: Option<String>,

    // Network deadline.
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        help = env_help(
            "Whole-command network deadline, e.g. 30s, 2m [default: 30s]",
            ev::STS_CLI_TIMEOUT
        )
    )]
    pub timeout: Option<String>,

    /// Output format (jsonl: one JSON object per line, the same keys on every platform)
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    // No colour.
    #[arg(
        long,
        global = true,
        help = format!(
            "No ANSI colour and no emoji symbols [env: {}] (when non-empty; also {}=dumb)",
            ev::NO_COLOR,
            ev::TERM
        )
    )]
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
    // The Prometheus text format: `service-token list` and `ingestion-api-key list` only (§13).
    Prometheus,
    // One JSON object per line, the same keys on every platform (CONTRACT §14).
    Jsonl,
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
    /// Manage saved contexts: a server's URL, platform and credential
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
    /// Serve every saved context's credentials as Prometheus metrics
    #[command(
        after_help = "Prints `sts exporter listening on http://<addr>/metrics` once listening; \
        refreshes every context at start and then every --refresh in the background, and answers \
        each scrape from the last refresh. A context that fails keeps its last series with \
        sts_context_up 0. GET /healthz answers 200 once the first refresh is done. SIGTERM or \
        SIGINT stops it.\n\n\
        Examples:\n  \
        sts exporter\n  \
        sts exporter --listen 127.0.0.1:0 --refresh 1m -c prod -c staging"
    )]
    Exporter(ExporterArgs),
    /// One request to the platform's API with the credential in effect; the answer's body on
    /// stdout as it came
    #[command(
        after_help = "PATH is below the platform's API base on the URL in effect, as \
        every command sends it (the same credential, TLS settings and timeout); a full URL is \
        refused. An HTTP error is exit 3 (401: 4), its body still on stdout.\n\n\
        Examples:\n  \
        sts api /server/info\n  \
        sts api -X POST /security/tokens --input token.json\n  \
        sts api /v1/user -c connect"
    )]
    Api(ApiArgs),
    /// Keep the credentials of renewals.toml alive: create, renew, deliver, verify and retire
    #[command(
        after_help = "Each entry's current token is the one the journal last recorded, else \
        the one live token of that name. A missing or vanished one is created; one expiring within \
        renew-before (a third of lifetime by default), expired, revoked or left unfinished is \
        rotated with its delivery; retirements that came due are done; the rest is `ok`. Each \
        context's saved credential is used (token flags and env vars are ignored). Never prints \
        a secret.\n\n\
        Examples:\n  \
        sts renew\n  \
        sts renew --dry-run\n  \
        sts renew --file /etc/sts/renewals.toml --only otel-collector --force\n  \
        sts renew --status\n  \
        sts renew --forget 250558013078953"
    )]
    Renew(RenewArgs),
}

/// `sts renew` (CONTRACT §12).
#[derive(Debug, Args)]
pub struct RenewArgs {
    /// The renewals file [default: renewals.toml beside the config]
    #[arg(long, value_name = "PATH", help = env_help("The renewals file [default: renewals.toml beside the config]", ev::STS_CLI_RENEWALS))]
    pub file: Option<std::path::PathBuf>,

    /// Say what would be done; change nothing (only the list requests are made)
    #[arg(long)]
    pub dry_run: bool,

    /// Renew the named (or every) credential even when it is not due
    #[arg(long)]
    pub force: bool,

    /// Only the entries of this name (repeatable)
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,

    /// Show what the journal holds (pending retirements, unfinished rotations, stray ids);
    /// change nothing
    #[arg(long, conflicts_with_all = ["dry_run", "force", "forget"])]
    pub status: bool,

    /// Drop this id from the journal without touching the server (repeatable)
    #[arg(long, value_name = "ID")]
    pub forget: Vec<String>,

    /// The rotation journal [default: journal.toml beside the config]
    #[arg(long, value_name = "PATH", help = env_help("The rotation journal [default: journal.toml beside the config]", ev::STS_CLI_JOURNAL))]
    pub journal: Option<std::path::PathBuf>,
}

/// `sts exporter`.
#[derive(Debug, Args)]
pub struct ExporterArgs {
    /// Address to listen on; port 0 picks a free one
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9879")]
    pub listen: String,
    /// How often every context is refreshed, e.g. 5m, 30s
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub refresh: String,
}

#[derive(Debug, Args)]
pub struct ApiArgs {
    /// The path below the API base, e.g. /server/info
    #[arg(value_name = "PATH")]
    pub path: String,

    /// HTTP method [default: GET, or POST with --input]
    #[arg(short = 'X', long, value_name = "METHOD")]
    pub method: Option<String>,

    /// The request body from a file, or - for stdin (sent as application/json)
    #[arg(long, value_name = "FILE")]
    pub input: Option<String>,

    /// An extra request header 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
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
    #[command(
        visible_alias = "use",
        after_help = "Examples:\n  \
        sts context set prod\n  \
        sts context use prod\n  \
        sts context set --name prod"
    )]
    Set(ContextNameArgs),
    /// Delete a saved context and its stored credential
    #[command(
        after_help = "The current context may be deleted too; then no context is \
        current until `sts context set NAME` or the next `context save`.\n\n\
        Examples:\n  \
        sts context delete staging\n  \
        sts context delete --name staging"
    )]
    Delete(ContextNameArgs),
    /// Rename a saved context; its credential stays, and the current context follows
    #[command(after_help = "Examples:\n  \
        sts context rename default prod")]
    Rename(ContextRenameArgs),
    /// Check that a saved context reaches its server
    #[command(after_help = "Examples:\n  \
        sts context validate\n  \
        sts context validate prod\n  \
        sts context validate --name prod -o json")]
    Validate(ContextValidateArgs),
    /// Import another CLI's saved credentials as contexts, their tokens into the keyring
    #[command(after_help = format!(
        "Sources and where they are read by default:\n{}\n\
        The source file is never changed; a context whose name already exists is skipped unless \
        --overwrite, so a second run changes nothing. The source still holds the tokens in plain \
        text afterwards: a warning says so, and names the file's mode when others may read it.\n\n\
        Examples:\n  \
        sts context import\n  \
        sts context import --from ./old-config.yaml --overwrite{}\n  \
        sts context import {} -o json",
        crate::platform::import_sources_help(),
        crate::platform::import_examples(),
        crate::platform::import_source_names().last().copied().unwrap_or_default(),
    ))]
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

/// The context a command acts on: `NAME` or `--name NAME` (the Go CLI's form), one of them.
#[derive(Debug, Args)]
pub struct ContextNameArgs {
    /// Name of the context
    #[arg(
        value_name = "NAME",
        required_unless_present = "name_flag",
        conflicts_with = "name_flag"
    )]
    pub name: Option<String>,

    /// Name of the context (the same as NAME)
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub name_flag: Option<String>,
}

impl ContextNameArgs {
    /// The name, from whichever form was given (clap requires one).
    pub fn name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.name_flag.as_deref())
            .unwrap_or_default()
    }
}

/// `context rename OLD NEW`.
#[derive(Debug, Args)]
pub struct ContextRenameArgs {
    /// The context's name now
    #[arg(value_name = "OLD")]
    pub old: String,

    /// Its new name (must not exist yet)
    #[arg(value_name = "NEW")]
    pub new: String,
}

#[derive(Debug, Default, Args)]
pub struct ContextImportArgs {
    /// Whose saved credentials to import
    #[arg(
        value_parser = clap::builder::PossibleValuesParser::new(crate::platform::import_source_names()),
        default_value = crate::platform::import_source_names()[0]
    )]
    pub source: String,

    /// The source's file [default: where that CLI keeps it, see below]
    #[arg(long = "from", value_name = "PATH")]
    pub from: Option<String>,

    /// Name of the imported context (qualytics only: the other sources name each context after
    /// its entry) [default: qualytics]
    #[arg(short = 'n', long, value_name = "NAME")]
    pub name: Option<String>,

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
    #[arg(short = 'A', long, conflicts_with_all = ["name", "name_flag"])]
    pub all_contexts: bool,

    /// Name of the context [default: the context in effect]
    #[arg(value_name = "NAME", conflicts_with = "name_flag")]
    pub name: Option<String>,

    /// Name of the context (the same as NAME)
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub name_flag: Option<String>,
}

impl ContextValidateArgs {
    /// The name given in either form, if any.
    pub fn name(&self) -> Option<String> {
        self.name.clone().or_else(|| self.name_flag.clone())
    }
}

#[derive(Debug, Subcommand)]
pub enum ServiceTokenCommand {
    /// Create a service token and print it once
    #[command(after_help = format!("Examples:\n{}", crate::platform::create_examples()))]
    Create(ServiceTokenCreateArgs),
    /// List service tokens
    List(ListArgs),
    /// Show one service token: the list's columns as FIELD | VALUE rows
    #[command(after_help = "Examples:\n  \
        sts service-token get 107484341630693\n  \
        sts service-token get 107484341630693 -o json")]
    Get(GetArgs),
    /// Delete service tokens by id
    #[command(after_help = "Examples:\n  \
        sts service-token delete 107484341630693\n  \
        sts service-token delete --id 107484341630693")]
    Delete(DeleteArgs),
    /// Replace a service token by a new one with the same name, roles and subject
    #[command(
        after_help = "Steps: read the old token, create the new one (expiry: --expiration, \
        else the old token's lifetime again from now, else none), print its secret once, deliver \
        it (--deliver-file, --deliver-command), check it with the platform itself and \
        --verify-command, store it in the context given by --save-to-context, and only then \
        retire the old token (unless --keep-old; later with --overlap). A failed step stops the \
        rotation with the old token still in place; a failed delivery or verification puts the \
        file's previous content back (exit 12 for a failed command).\n\n\
        Examples:\n  \
        sts service-token rotate 107484341630693\n  \
        sts service-token rotate 107484341630693 --save-to-context ci --expiration 90d\n  \
        sts service-token rotate 107484341630693 --deliver-file /etc/agent/token --overlap 1h\n  \
        sts service-token rotate --id 107484341630693 --keep-old"
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
        value_name = "ID",
        required_unless_present = "id_flag",
        conflicts_with = "id_flag"
    )]
    pub id: Option<String>,

    /// Id of the service token to replace (the same as ID)
    #[arg(
        short = 'i',
        long = "id",
        value_name = "ID",
        allow_hyphen_values = true
    )]
    pub id_flag: Option<String>,

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

    /// Do not retire the old token (the default on Posit Connect unless the new one was
    /// delivered and verified)
    #[arg(long, conflicts_with = "delete_old")]
    pub keep_old: bool,

    /// Delete the old token at once (Posit Connect keeps it by default: install the new key in
    /// its consumer first)
    #[arg(long)]
    pub delete_old: bool,

    #[command(flatten)]
    pub deliver: DeliverArgs,
}

/// Where a rotated secret goes and how it is checked before the old one retires (CONTRACT §12).
#[derive(Debug, Default, Args)]
pub struct DeliverArgs {
    /// Write the new secret to this file: atomically, exactly the secret (no newline); a new
    /// file is 0600, an existing one keeps its mode and owner
    #[arg(long, value_name = "PATH")]
    pub deliver_file: Option<std::path::PathBuf>,

    /// Run this command (`sh -c`) with the new secret on its standard input and STS_CONTEXT,
    /// STS_PLATFORM, STS_KIND, STS_TOKEN_ID, STS_OLD_TOKEN_ID, STS_TOKEN_NAME, STS_TOKEN_EXPIRES
    /// set; exit 0 = delivered, else exit 12
    #[arg(long, value_name = "CMD")]
    pub deliver_command: Option<String>,

    /// How long each delivery or verify command may run before it is stopped (exit 12)
    #[arg(long, value_name = "DURATION", default_value = "2m")]
    pub deliver_timeout: String,

    /// Run this command (the same variables, no input) once the platform accepted the new
    /// secret; exit 0 = the consumer works with it, else exit 12
    #[arg(long, value_name = "CMD")]
    pub verify_command: Option<String>,

    /// Keep the old one live this much longer, counted from the new one's creation time as the
    /// server reports it
    #[arg(long, value_name = "DURATION", conflicts_with = "keep_old")]
    pub overlap: Option<String>,

    /// The rotation journal: every step written down before it is taken, so that an interrupted
    /// rotation is taken up by the next run [default: journal.toml beside the config]
    #[arg(long, value_name = "PATH", help = env_help("The rotation journal: every step written down before it is taken, so that an interrupted rotation is taken up by the next run [default: journal.toml beside the config]", ev::STS_CLI_JOURNAL))]
    pub journal: Option<std::path::PathBuf>,
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
    /// Show one ingestion API key: the list's columns as FIELD | VALUE rows
    #[command(after_help = "Examples:\n  \
        sts ingestion-api-key get 250558013078953")]
    Get(GetArgs),
    /// Delete ingestion API keys by id
    #[command(after_help = "Examples:\n  \
        sts ingestion-api-key delete --id 250558013078953\n  \
        sts ingestion-api-key delete 250558013078953 250558013078954")]
    Delete(DeleteArgs),
    /// Replace an ingestion API key by a new one with the same name and description
    #[command(
        after_help = "The new key's expiry: --expiration, else the old key's lifetime again \
        from now, else none. The old key is deleted only after the new one was created, \
        delivered (--deliver-file, --deliver-command) and accepted by the server (unless \
        --keep-old; later with --overlap).\n\n\
        Examples:\n  \
        sts ingestion-api-key rotate 250558013078953\n  \
        sts ingestion-api-key rotate 250558013078953 --deliver-file /etc/otelcol/ingestion-key\n  \
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
        value_name = "ID",
        required_unless_present = "id_flag",
        conflicts_with = "id_flag"
    )]
    pub id: Option<String>,

    /// Id of the ingestion API key to replace (the same as ID)
    #[arg(
        short = 'i',
        long = "id",
        value_name = "ID",
        allow_hyphen_values = true
    )]
    pub id_flag: Option<String>,

    /// Expiration of the new key: a date (yyyy-MM-dd, UTC), an RFC 3339 time, or a duration
    /// from now [default: the old key's lifetime, from now]
    #[arg(long, value_name = "DATE")]
    pub expiration: Option<String>,

    /// Do not delete the old key
    #[arg(long, conflicts_with = "delete_old")]
    pub keep_old: bool,

    /// Delete the old key once the new one is delivered and verified (the default)
    #[arg(long)]
    pub delete_old: bool,

    #[command(flatten)]
    pub deliver: DeliverArgs,
}

impl ServiceTokenRotateArgs {
    /// The id, from whichever form was given (clap requires one).
    pub fn id(&self) -> &str {
        self.id
            .as_deref()
            .or(self.id_flag.as_deref())
            .unwrap_or_default()
    }
}

impl IngestionApiKeyRotateArgs {
    /// The id, from whichever form was given (clap requires one).
    pub fn id(&self) -> &str {
        self.id
            .as_deref()
            .or(self.id_flag.as_deref())
            .unwrap_or_default()
    }
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
    pub status: Vec<crate::platform::interface::Status>,

    /// Exit 7 when the filtered list is not empty (and nothing failed), for alerting
    #[arg(long)]
    pub fail_if_any: bool,

    /// Only the one(s) with exactly this name
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

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

/// Ids of `delete`, `revoke` and `restore`: positional and/or `--id`. Checked by the platform
/// before any request (an int64, or a Posit Connect guid), so the message can name the flag the
/// way the Go CLI does.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// Ids (see `list`)
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

    /// A token that does not exist (404, or no token of --name) is no error: exit 0, a note on
    /// stderr
    #[arg(long)]
    pub ignore_not_found: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Id (see `list`)
    #[arg(value_name = "ID", allow_hyphen_values = true)]
    pub id: String,
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

/// Flags of `delete`: the ids, and whether to revoke first.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub ids: IdArgs,

    /// Delete the one token of this name (several of that name: exit 3, naming their ids)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["ids", "id_flags"])]
    pub name: Option<String>,

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
    fn global_options_name_their_env_vars_from_the_constants() {
        let cmd = Cli::command();
        let help = |id: &str| {
            cmd.get_arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default()
        };
        for (id, var) in [
            ("url", ev::STS_CLI_URL),
            ("api_token", ev::STS_CLI_API_TOKEN),
            ("service_token", ev::STS_CLI_SERVICE_TOKEN),
            ("k8s_sa_token", ev::STS_CLI_K8S_SA_TOKEN),
            ("k8s_sa_token_path", ev::STS_CLI_K8S_SA_TOKEN_PATH),
            ("api_path", ev::STS_CLI_API_PATH),
            ("context", ev::STS_CLI_CONTEXT),
            ("config", ev::STS_CLI_CONFIG),
            ("skip_ssl", ev::STS_SKIP_SSL),
            ("ca_cert_path", ev::STS_CA_CERT_PATH),
            ("ca_cert_base64_data", ev::STS_CA_CERT_BASE64_DATA),
            ("timeout", ev::STS_CLI_TIMEOUT),
            ("no_color", ev::NO_COLOR),
        ] {
            assert!(
                help(id).contains(&format!("[env: {var}")),
                "{id}: {}",
                help(id)
            );
        }
        for id in ["url", "api_token", "service_token", "api_path", "skip_ssl"] {
            assert!(
                help(id).contains("`context save` takes it from the command line only"),
                "{id}: {}",
                help(id)
            );
        }
        let global = cmd
            .get_arguments()
            .filter(|a| a.is_global_set())
            .all(|a| a.get_help_heading() == Some("Global options"));
        assert!(
            global,
            "every global option is under the Global options heading"
        );
    }

    #[test]
    fn positional_and_flag_forms_give_the_same_name_and_id() {
        let name = |args: &[&str]| {
            let cli = Cli::try_parse_from(args).unwrap();
            match cli.command {
                Command::Context(ContextArgs {
                    command: Some(ContextCommand::Set(a) | ContextCommand::Delete(a)),
                    ..
                }) => a.name().to_string(),
                _ => panic!("wrong command"),
            }
        };
        assert_eq!(name(&["sts", "context", "set", "prod"]), "prod");
        assert_eq!(name(&["sts", "context", "use", "prod"]), "prod");
        assert_eq!(name(&["sts", "context", "set", "-n", "prod"]), "prod");
        assert_eq!(
            name(&["sts", "context", "delete", "--name", "prod"]),
            "prod"
        );
        assert!(Cli::try_parse_from(["sts", "context", "set"]).is_err());
        assert!(Cli::try_parse_from(["sts", "context", "set", "a", "-n", "b"]).is_err());
        let id = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            Command::ServiceToken(ServiceTokenCommand::Rotate(a)) => a.id().to_string(),
            _ => panic!("wrong command"),
        };
        assert_eq!(id(&["sts", "service-token", "rotate", "12"]), "12");
        assert_eq!(id(&["sts", "service-token", "rotate", "--id", "12"]), "12");
        assert!(Cli::try_parse_from(["sts", "service-token", "rotate"]).is_err());
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
