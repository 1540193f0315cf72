//! The interface every platform implements (CONTRACT §9): the row and column types a list
//! shows, what a create is asked, and [`TokenKind`], one implementation per kind of credential a
//! platform manages. Commands, the rotation, the output and the all-contexts runs are written once
//! against these. The registry that names the platforms is `platform/mod.rs`.

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde_json::Value;
use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::http::client::Client;
use crate::platform::import::VendorImport;
use crate::platform::kind::{PlatformKind, Profile};
use crate::platform::row_json::{Parts, RowJson, Spans};

/// An id as the user types it and as JSON shows it (a number on StackState and Qualytics, a
/// string guid on Posit Connect).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenId {
    pub text: CompactString,
    shape: IdShape,
}

/// How an id reads in JSON; its text is [`TokenId::text`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum IdShape {
    Int(i64),
    Str,
    Missing,
}

impl TokenId {
    pub fn int(id: i64) -> TokenId {
        TokenId {
            text: compact_str::ToCompactString::to_compact_string(&id),
            shape: IdShape::Int(id),
        }
    }

    /// The integer id `id` whose decimal form is `text` (read from an answer: its digits as
    /// they stand), as [`TokenId::int`] makes it without writing the digits again.
    pub fn decimal(id: i64, text: &str) -> TokenId {
        debug_assert_eq!(text, id.to_string());
        TokenId {
            text: text.into(),
            shape: IdShape::Int(id),
        }
    }

    /// Whether the id is an integer: its text is then digits (and perhaps a minus), nothing a
    /// JSON string escapes.
    pub fn is_int(&self) -> bool {
        matches!(self.shape, IdShape::Int(_))
    }

    /// Makes this id [`TokenId::missing`] in place (a row made into again keeps its text's room).
    pub fn set_missing(&mut self) {
        self.text.clear();
        self.shape = IdShape::Missing;
    }

    /// Makes this id [`TokenId::decimal`] in place.
    pub fn set_decimal(&mut self, id: i64, text: &str) {
        debug_assert_eq!(text, id.to_string());
        self.text.clear();
        self.text.push_str(text);
        self.shape = IdShape::Int(id);
    }

    /// The id of an object the server sent without one (`-` in a table, `null` in JSON).
    pub fn missing() -> TokenId {
        TokenId {
            text: CompactString::default(),
            shape: IdShape::Missing,
        }
    }

    pub fn string(id: impl Into<CompactString>) -> TokenId {
        TokenId {
            text: id.into(),
            shape: IdShape::Str,
        }
    }

    /// The id as JSON shows it: a number, a string, or `null` when the server sent none.
    pub fn json(&self) -> Value {
        match self.shape {
            IdShape::Int(i) => Value::from(i),
            IdShape::Str => Value::from(self.text.as_str()),
            IdShape::Missing => Value::Null,
        }
    }
}

/// When a token was last used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastUsed {
    /// The platform keeps no such data (StackState).
    Unknown,
    Never,
    /// Epoch milliseconds.
    At(i64),
}

impl LastUsed {
    /// When, if the platform told a moment.
    pub fn at(self) -> Option<i64> {
        match self {
            LastUsed::At(t) => Some(t),
            LastUsed::Unknown | LastUsed::Never => None,
        }
    }
}

/// `STATUS` (CONTRACT §9): `expired` wins over `revoked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Status {
    Active,
    Revoked,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
        }
    }
}

/// One table cell, as the platform knows it; `output` decides how it reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// An id or a guid: never wrapped.
    Id(Option<String>),
    Text(Option<String>),
    /// The token's own name ([`Token::name`]), kept once.
    Name,
    /// The token's own id ([`Token::id`]), kept once: `-` (JSON `null`) when it has none.
    TokenId,
    /// `[a b]`.
    List(Items),
    /// An expiry in epoch milliseconds: `yyyy-MM-dd`, past ones `(expired)`.
    Expiration(Option<i64>),
    /// A moment in epoch milliseconds: `yyyy-MM-dd`.
    Date(Option<i64>),
    LastUsed(LastUsed),
    Status,
}

/// A cell's list (a token's roles or scopes), most often of one short item: kept in the cell,
/// with no allocation of its own.
pub type Items = smallvec::SmallVec<[CompactString; 1]>;

/// A token's own cells, at most two on every platform: kept in the row, not allocated apart
/// (a list holds thousands of rows).
pub type Cells = smallvec::SmallVec<[Cell; 2]>;

/// A token or key as a list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub id: TokenId,
    pub name: CompactString,
    /// Epoch milliseconds.
    pub expires: Option<i64>,
    pub last_used: LastUsed,
    /// When it was created (epoch milliseconds), where the platform tells it.
    pub created: Option<i64>,
    /// The platform says it is switched off (Qualytics `active: false`).
    pub revoked: bool,
    /// The platform's own cells, shown by the columns of [`Source::Cell`]; the other columns
    /// show the fields above, kept once.
    pub cells: Cells,
    /// The server's object, with any secret field taken out (`-o json`), made when first read.
    pub json: RowJson,
}

impl Token {
    /// The cell of a column: from the token's fields, or the platform's cell (`None` when the
    /// token has no such cell, as a row made from a create's answer).
    pub fn cell(&self, source: Source) -> Option<std::borrow::Cow<'_, Cell>> {
        use std::borrow::Cow::{Borrowed, Owned};
        Some(match source {
            Source::Id => Owned(Cell::TokenId),
            Source::Name => Owned(Cell::Name),
            Source::Expiration => Owned(Cell::Expiration(self.expires)),
            Source::Created => Owned(Cell::Date(self.created)),
            Source::LastUsed => Owned(Cell::LastUsed(self.last_used)),
            Source::Status => Owned(Cell::Status),
            Source::Cell(i) => Borrowed(self.cells.get(i)?),
        })
    }

    /// The cells of a row of `columns`, each with its column, up to the first the token has
    /// not (a row made from a create's answer shows its leading columns only).
    pub fn cells_of<'a>(
        &'a self,
        columns: &'a [Column],
    ) -> impl Iterator<Item = (&'a Column, std::borrow::Cow<'a, Cell>)> {
        columns
            .iter()
            .map_while(|c| Some((c, self.cell(c.source)?)))
    }

    pub fn status(&self, now: DateTime<Utc>) -> Status {
        match self.expires {
            Some(e) if e <= now.timestamp_millis() => Status::Expired,
            _ if self.revoked => Status::Revoked,
            _ => Status::Active,
        }
    }
}

/// A list as the `list` command writes it ([`TokenKind::list_rows`]): its rows decoded, or kept
/// as their text in the answer and decoded again as they are read (issue 24: 100,000 tokens then
/// cost their answer and eight bytes a row, not 256 bytes a row decoded and kept).
///
/// Its rows are sorted by name.
pub struct Listed(Repr);

enum Repr {
    Tokens(Vec<Token>),
    Spans(Spans<Token>),
}

impl From<Vec<Token>> for Listed {
    fn from(tokens: Vec<Token>) -> Listed {
        Listed(Repr::Tokens(tokens))
    }
}

impl From<Spans<Token>> for Listed {
    fn from(spans: Spans<Token>) -> Listed {
        Listed(Repr::Spans(spans))
    }
}

impl Listed {
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Tokens(t) => t.len(),
            Repr::Spans(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i` (`None` past the end, or for a kept row that no longer decodes: not expected,
    /// each decoded once when listed).
    pub fn get(&self, i: usize) -> Option<Cow<'_, Token>> {
        match &self.0 {
            Repr::Tokens(t) => t.get(i).map(Cow::Borrowed),
            Repr::Spans(s) => s.get(i).map(Cow::Owned),
        }
    }

    /// What `f` makes of row `i` for its cells (`None` past the end, or for a kept row that no
    /// longer decodes): [`Listed::get`]'s row, but a kept row's server object left out (`null`);
    /// a table and a `jsonl` line read no more. A kept row is made into one row of this
    /// thread's, reused row after row, rather than made anew and moved to `f` (about a quarter
    /// of making a large list's row). `f` must not ask for another row this way.
    pub fn with_cells_of<T>(&self, i: usize, f: impl FnOnce(&Token) -> T) -> Option<T> {
        match &self.0 {
            Repr::Tokens(t) => t.get(i).map(f),
            Repr::Spans(s) => ROW.with_borrow_mut(|row| s.cells_into(i, row).then(|| f(row))),
        }
    }

    /// Appends the server's object of row `i` to `out` (`-o json`), as
    /// [`RowJson::write`] appends its object (a kept row's not made); `None` past the end.
    pub fn write_json(
        &self,
        i: usize,
        out: &mut Vec<u8>,
        masker: &crate::redact::Masker,
        pretty: bool,
        level: usize,
    ) -> Option<std::io::Result<()>> {
        match &self.0 {
            Repr::Tokens(t) => Some(t.get(i)?.json.write(out, masker, pretty, level)),
            Repr::Spans(s) => s.write_json(i, out, masker, pretty, level),
        }
    }

    /// Has `masker` search the answer a kept list's rows are written from
    /// ([`crate::redact::Masker::none_in`]), now rather than when the first row is written.
    pub fn search_answer(&self, masker: &crate::redact::Masker) {
        if let Repr::Spans(s) = &self.0 {
            s.search_answer(masker);
        }
    }

    /// The rows in order.
    pub fn iter(&self) -> impl Iterator<Item = Cow<'_, Token>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Keeps the rows `keep` says, in their order.
    pub fn retain(&mut self, keep: impl FnMut(&Token) -> bool) {
        match &mut self.0 {
            Repr::Tokens(t) => t.retain(keep),
            Repr::Spans(s) => s.retain(keep),
        }
    }
}

thread_local! {
    /// The row [`Listed::with_cells_of`] makes each kept row into, on this thread: its object
    /// always `null`.
    static ROW: std::cell::RefCell<Token> = std::cell::RefCell::new(Token {
        id: TokenId::missing(),
        name: CompactString::default(),
        expires: None,
        last_used: LastUsed::Unknown,
        created: None,
        revoked: false,
        cells: Cells::new(),
        json: RowJson::from(Value::Null),
    });
}

/// A column of a list: its header, whether its cells may wrap, and where they come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub header: &'static str,
    pub wraps: bool,
    pub source: Source,
}

/// Where a column's cells come from: a field every token has, or the platform's own cell
/// `Cell(i)` of [`Token::cells`]. A row holds only what the platform alone knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Id,
    Name,
    Expiration,
    Created,
    LastUsed,
    Status,
    Cell(usize),
}

pub const fn col(header: &'static str, source: Source) -> Column {
    Column {
        header,
        wraps: true,
        source,
    }
}

pub const fn fixed(header: &'static str, source: Source) -> Column {
    Column {
        header,
        wraps: false,
        source,
    }
}

/// A created token or key: its secret (printed once) and the server's answer.
#[derive(Debug, Clone)]
pub struct Created {
    pub secret: String,
    /// The new id when the answer tells it (StackState's does not).
    pub id: Option<TokenId>,
    /// The server's object, secret included (`-o json` of a create).
    pub json: Value,
}

/// What `create` was asked, from whichever flags the command line gave; each kind takes what it
/// knows and refuses what it does not.
#[derive(Debug, Clone, Default)]
pub struct CreateInput {
    pub name: String,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    pub expiration: Option<String>,
    pub dedicated_subject: Option<String>,
    pub description: Option<String>,
    pub service_user: Option<String>,
    pub scim_only: bool,
}

/// What a rotation does with the old token once the new one exists (and is stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OldTokenFate {
    Delete,
    Keep,
    Revoke,
}

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub old_id: TokenId,
    /// The new one, with its secret, once created.
    pub created: Option<Created>,
    pub new_id: Option<TokenId>,
    /// The context that now holds the new secret.
    pub saved_to_context: Option<String>,
    /// What was asked for the old one, and whether it happened.
    pub fate: OldTokenFate,
    pub fate_done: bool,
    /// Things that did not stop the rotation but should be said (stderr).
    pub warnings: Vec<String>,
    /// Where the new secret went (CONTRACT §12): `file`, `command`, in that order.
    pub delivered: Vec<&'static str>,
    /// The delivery file, once written.
    pub delivered_file: Option<String>,
    /// Whether the new secret was checked (by the platform or the verify command).
    pub verified: bool,
    /// When the old one retires (`--overlap`), epoch milliseconds.
    pub old_retires_at: Option<i64>,
}

impl Rotation {
    /// A rotation of `old_id` with no step taken yet.
    pub fn new(old_id: TokenId, fate: OldTokenFate) -> Rotation {
        Rotation {
            old_id,
            created: None,
            new_id: None,
            saved_to_context: None,
            fate,
            fate_done: false,
            warnings: Vec::new(),
            delivered: Vec::new(),
            delivered_file: None,
            verified: false,
            old_retires_at: None,
        }
    }
}

/// The names a kind goes by in messages and JSON.
#[derive(Debug)]
pub struct Nouns {
    /// `service token`, `ingestion API key`.
    pub one: &'static str,
    /// `service-token`: the JSON key of a created one and of `rotate`.
    pub json_one: &'static str,
    /// `service-tokens`.
    pub json_list: &'static str,
    /// `deleted-service-token`.
    pub json_deleted: &'static str,
    /// `No service tokens found.`
    pub empty: &'static str,
    /// `Service token created: `.
    pub created: &'static str,
    /// `Service token deleted: `.
    pub deleted: &'static str,
    /// `sts service-token` / `sts ingestion-api-key`.
    pub command: &'static str,
}

/// The names of service tokens, the same on every platform (the Go CLI's).
pub const SERVICE_TOKENS: Nouns = Nouns {
    one: "service token",
    json_one: "service-token",
    json_list: "service-tokens",
    json_deleted: "deleted-service-token",
    empty: "No service tokens found.",
    created: "Service token created: ",
    deleted: "Service token deleted: ",
    command: "sts service-token",
};

/// The names of ingestion API keys.
pub const INGESTION_KEYS: Nouns = Nouns {
    one: "ingestion API key",
    json_one: "ingestion-api-key",
    json_list: "ingestion-api-keys",
    json_deleted: "deleted-ingestion-api-key",
    empty: "No ingestion api keys found.",
    created: "Ingestion API Key generated: ",
    deleted: "Ingestion Api Key deleted: ",
    command: "sts ingestion-api-key",
};

/// One kind of credential a platform manages (StackState's service tokens and its ingestion API
/// keys; Posit Connect's and Qualytics' service tokens).
#[allow(async_fn_in_trait)]
pub trait TokenKind {
    const PLATFORM: PlatformKind;
    const NOUNS: Nouns;
    /// The list's columns, after which `Token::cells` come in the same order.
    const COLUMNS: &'static [Column];
    /// What a rotation does with the old one unless told otherwise.
    const DEFAULT_FATE: OldTokenFate;
    /// Whether a rotated secret can be checked and stored in a context (`--save-to-context`).
    const ROTATED_CAN_BE_SAVED: Option<&'static str> = None;
    /// Whether a create says the new id on stderr (Posit Connect, Qualytics).
    const SAYS_NEW_ID: bool = false;
    /// What a rotation does with the old one once the new one was delivered and verified, unless
    /// told otherwise (CONTRACT §12).
    const DELIVERED_FATE: OldTokenFate = Self::DEFAULT_FATE;

    /// The body of a create.
    type Request;

    /// An id as the user typed it, checked before any request.
    fn parse_id(text: &str, flag: &str) -> Result<TokenId>;

    /// The create request, its input checked before any request.
    fn create_request(input: &CreateInput, now: DateTime<Utc>) -> Result<Self::Request>;

    async fn create(client: &Client, request: &Self::Request) -> Result<Created>;

    /// The created one as a list row, from the create's answer (`-o jsonl`, CONTRACT §14); the
    /// secret is not in it.
    fn created_row(created: &Created) -> Token {
        let mut json = created.json.clone();
        if let Some(o) = json.as_object_mut() {
            o.retain(|_, v| v.as_str() != Some(created.secret.as_str()));
        }
        Token {
            id: created.id.clone().unwrap_or_else(TokenId::missing),
            name: json
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            expires: None,
            last_used: LastUsed::Never,
            created: None,
            revoked: false,
            cells: Cells::new(),
            json: json.into(),
        }
    }

    /// Every one there is, sorted by name.
    async fn list(client: &Client) -> Result<Vec<Token>>;

    /// Every one there is, sorted by name, as the `list` command writes them once: a kind whose
    /// rows decode from their text in the answer keeps them so, and they are decoded again as
    /// they are written (issue 24).
    async fn list_rows(client: &Client) -> Result<Listed> {
        Self::list(client).await.map(Into::into)
    }

    /// Every one there is, in no given order, each made into what `f` makes of it as it is
    /// decoded, and left out where that is `None`: a list made into something smaller than its
    /// rows (the records of `-o prometheus`) is never held as rows. What `f` is given may lack
    /// its server object (`json` null) and its platform's cells: a record is made of the row's
    /// fields. It is lent the row, which may be made again into the next one.
    async fn list_map<R: Send>(
        client: &Client,
        f: impl Fn(&Token) -> Option<R> + Sync,
    ) -> Result<Parts<R>> {
        let mut made = Vec::new();
        for row in Self::list(client).await? {
            made.extend(f(&row));
        }
        Ok(made.into())
    }

    async fn delete(client: &Client, id: &TokenId) -> Result<()>;

    /// The create request of a rotation: the old one's attributes, and its lifetime again from
    /// now unless `expiration` is given.
    fn rotation_request(
        old: &Token,
        expiration: Option<&str>,
        name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self::Request>;

    /// Whether the kind has `scopes` (Posit Connect), checked before any request.
    fn check_scopes() -> Result<()> {
        Err(unsupported(
            Self::PLATFORM,
            "service-token scopes",
            "scopes are Posit Connect's only",
        ))
    }

    /// The scopes a token may be given: `(name, description, the server's object)`.
    async fn scopes(_client: &Client) -> Result<Vec<(String, String, Value)>> {
        Err(Self::check_scopes()
            .err()
            .unwrap_or_else(|| Error::usage("no scopes")))
    }

    /// Whether the kind can be revoked and restored (Qualytics), checked before any request.
    fn check_revoke() -> Result<()> {
        Err(unsupported(
            Self::PLATFORM,
            "revoke and restore",
            "there is no revoke: delete instead",
        ))
    }

    /// Switches one off without deleting it.
    async fn revoke(_client: &Client, _id: &TokenId) -> Result<()> {
        Self::check_revoke()
    }

    /// Switches a revoked one on again.
    async fn restore(_client: &Client, _id: &TokenId) -> Result<()> {
        Self::check_revoke()
    }

    /// Whether the kind has a list of the caller's own tokens (`list --personal`).
    fn check_personal() -> Result<()> {
        Err(unsupported(
            Self::PLATFORM,
            "list --personal",
            "personal tokens are Qualytics' only",
        ))
    }

    /// The caller's own tokens.
    async fn list_personal(_client: &Client) -> Result<Vec<Token>> {
        Self::check_personal().map(|_| Vec::new())
    }

    /// Whether a secret of this kind can be checked by the platform (`ingestion-api-key verify`).
    fn check_verify() -> Result<()> {
        Err(unsupported(
            Self::PLATFORM,
            "verify",
            "only ingestion API keys can be checked",
        ))
    }

    /// Asks the platform whether `secret` is a valid one of this kind.
    async fn verify(_client: &Client, _secret: &crate::secret::Secret) -> Result<()> {
        Self::check_verify()
    }

    /// Checks a new secret of this kind with the platform itself, the way its consumer will use
    /// it (CONTRACT §12). `client` is the command's own (its settings, its credential);
    /// [`Client::with_credential`] makes one that sends `created.secret`. `Ok(true)`: it
    /// authenticated; `Ok(false)`: the platform offers no way to check this one.
    async fn verify_new(_client: &Client, _created: &Created) -> Result<bool> {
        Ok(false)
    }

    /// The exact name a create request sends (the rotation journal records it, CONTRACT §12).
    fn request_name(_request: &Self::Request) -> String {
        String::new()
    }

    /// The request again with ` n` after its name, for a create the server refused with 409
    /// because the name is taken (Qualytics); `None`: a 409 is final.
    fn renamed(_request: &Self::Request, _n: u32) -> Option<Self::Request> {
        None
    }

    /// Whether `name` is one of the names the tokens of a credential called `base` go by
    /// (Qualytics adds ` (rotated …)`).
    fn name_matches(base: &str, name: &str) -> bool {
        base == name
    }

    /// When the server says a token was created and when it expires (epoch milliseconds), from
    /// a create's answer or a list entry: a rotation's `--overlap` counts from the first, its
    /// commands get the second.
    fn created_times(_json: &Value) -> (Option<i64>, Option<i64>) {
        (None, None)
    }
}

/// What a platform's validation request answered (CONTRACT §9: `context save`, `validate`).
#[derive(Debug, Clone)]
pub struct Validation {
    /// `Platform version: 6.0.0`, `Posit Connect, user alice`, `Qualytics, token expires …`.
    pub summary: String,
    /// The answer, for `server-info` in JSON.
    pub json: Value,
    /// Said on stderr, not an error (a Posit user that is no administrator).
    pub warnings: Vec<String>,
}

/// The usage error for a command a platform does not have.
pub fn unsupported(platform: PlatformKind, what: &str, instead: &str) -> Error {
    Error::usage(format!("{what} on {}: {instead}", platform.display()))
}

/// A platform: everything `sts` knows of it, behind one interface. One implementation per
/// folder under `src/platform/`; the registry (`platform/mod.rs`) names each once.
#[allow(async_fn_in_trait)]
pub trait Platform {
    /// What is fixed about it without a request.
    const PROFILE: Profile;
    /// Its service tokens.
    type ServiceTokens: TokenKind;
    /// Its ingestion API keys, where it has them ([`Profile::ingestion_keys`]); else a kind that
    /// refuses every verb.
    type IngestionKeys: TokenKind;
    /// The vendor CLI whose saved credentials `sts context import` reads for it.
    const IMPORT: VendorImport;

    /// The validation request with the client's credential (`context save`, `validate`).
    async fn validate(client: &Client) -> Result<Validation>;

    /// The service users that tokens belong to, as the server sends them
    /// ([`Profile::service_users`]).
    async fn service_users(_client: &Client) -> Result<Vec<Value>> {
        Err(no_service_users(Self::PROFILE.kind))
    }

    /// Creates a service user.
    async fn create_service_user(
        _client: &Client,
        _name: &str,
        _role: &str,
        _teams: &[String],
    ) -> Result<Value> {
        Err(no_service_users(Self::PROFILE.kind))
    }
}

fn no_service_users(platform: PlatformKind) -> Error {
    unsupported(platform, "service users", "this platform has none")
}

/// The kind of a credential a platform does not have: every verb refuses before any request.
pub struct Absent<P>(std::marker::PhantomData<P>);

impl<P: Platform> Absent<P> {
    fn refuse() -> Error {
        unsupported(
            P::PROFILE.kind,
            "this command",
            "the platform has no such credential",
        )
    }
}

impl<P: Platform> TokenKind for Absent<P> {
    const PLATFORM: PlatformKind = P::PROFILE.kind;
    const NOUNS: Nouns = SERVICE_TOKENS;
    const COLUMNS: &'static [Column] = &[];
    const DEFAULT_FATE: OldTokenFate = OldTokenFate::Keep;
    type Request = ();

    fn parse_id(_text: &str, _flag: &str) -> Result<TokenId> {
        Err(Self::refuse())
    }

    fn create_request(_input: &CreateInput, _now: DateTime<Utc>) -> Result<()> {
        Err(Self::refuse())
    }

    async fn create(_client: &Client, _request: &()) -> Result<Created> {
        Err(Self::refuse())
    }

    async fn list(_client: &Client) -> Result<Vec<Token>> {
        Err(Self::refuse())
    }

    async fn delete(_client: &Client, _id: &TokenId) -> Result<()> {
        Err(Self::refuse())
    }

    fn rotation_request(
        _old: &Token,
        _expiration: Option<&str>,
        _name: Option<&str>,
        _now: DateTime<Utc>,
    ) -> Result<()> {
        Err(Self::refuse())
    }
}
