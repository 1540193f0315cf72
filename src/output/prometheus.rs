//! The Prometheus text exposition format 0.0.4 (CONTRACT §13): every credential's expiry, last
//! use, creation and status, and each context's health, from plain records. `# HELP` and `# TYPE`
//! for every family; label values escaped as the format wants (backslash, double quote, newline)
//! and every known secret masked in them, so a server that echoes a credential into a token's
//! name cannot put it in a metric. Written by hand: the `prometheus-client` crate writes
//! OpenMetrics only, which Debian's `promtool` 2.42 rejects. OpenMetrics 1.0 is written too, for
//! a scraper that asks for it in `Accept` (Prometheus does): the same samples, with the counter
//! and info families named without their `_total` and `_info` suffixes, and `# EOF`.

use std::fmt::Write as _;
use std::ops::Range;

use chrono::{DateTime, Utc};

use crate::outcome::ContextResult;
use crate::platform::{Parts, PlatformKind, Status, Token};

/// The `Content-Type` of the text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The `Content-Type` of OpenMetrics 1.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which exposition format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The text format 0.0.4 (the default, and what `-o prometheus` writes).
    Text,
    /// OpenMetrics 1.0, only for a scraper that asks for it.
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }

    /// The format an `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text` with a weight no lower than the text format's (or `*/*`'s
    /// when the text format is not named); else the text format.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let (mut openmetrics, mut text, mut any) = (None::<f32>, None::<f32>, None::<f32>);
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let slot = match media.as_str() {
                "application/openmetrics-text" => &mut openmetrics,
                "text/plain" => &mut text,
                "*/*" | "text/*" => &mut any,
                _ => continue,
            };
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
        match openmetrics {
            Some(q) if q > 0.0 && q >= text.or(any).unwrap_or(0.0) => Format::OpenMetrics,
            _ => Format::Text,
        }
    }
}

/// One credential as the metrics show it (times in epoch milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialRecord {
    pub context: compact_str::CompactString,
    pub platform: PlatformKind,
    /// `service-token` or `ingestion-api-key`.
    pub kind: &'static str,
    pub id: compact_str::CompactString,
    pub name: compact_str::CompactString,
    pub expires: Millis,
    pub last_used: Millis,
    pub created: Millis,
    pub status: Status,
}

/// A moment in epoch milliseconds, or none: eight bytes where an `Option<i64>` takes sixteen
/// (a large list is 100,000 records). None orders first, as `None` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Millis(i64);

impl Millis {
    pub const NONE: Millis = Millis(i64::MIN);

    pub fn get(self) -> Option<i64> {
        (self != Millis::NONE).then_some(self.0)
    }
}

impl From<Option<i64>> for Millis {
    /// `i64::MIN`, millions of years before any token, reads as the one after it.
    fn from(t: Option<i64>) -> Millis {
        t.map_or(Millis::NONE, |t| Millis(t.max(i64::MIN + 1)))
    }
}

impl CredentialRecord {
    /// The record of a listed token of `context`, which keeps the token's id and name.
    pub fn of(
        context: &str,
        platform: PlatformKind,
        kind: &'static str,
        token: &Token,
        now: DateTime<Utc>,
    ) -> CredentialRecord {
        CredentialRecord {
            context: context.into(),
            platform,
            kind,
            status: token.status(now),
            id: token.id.text.clone(),
            name: token.name.clone(),
            expires: token.expires.into(),
            last_used: token.last_used.at().into(),
            created: token.created.into(),
        }
    }
}

/// One context's health: whether its last refresh answered, and when one last did.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextRecord {
    pub context: String,
    pub platform: &'static str,
    pub up: bool,
    /// Epoch milliseconds.
    pub last_success: Option<i64>,
}

impl ContextRecord {
    /// A context's record after a refresh at `now` that answered (`up`) or not.
    pub fn of(context: String, platform: PlatformKind, up: bool, now: DateTime<Utc>) -> Self {
        ContextRecord {
            context,
            platform: platform.as_str(),
            up,
            last_success: up.then(|| now.timestamp_millis()),
        }
    }
}

/// The exporter's own figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshRecord {
    /// How long the last refresh took.
    pub duration_seconds: f64,
    /// Refreshes in which every context answered.
    pub successes: u64,
    /// Refreshes in which at least one context failed.
    pub failures: u64,
}

/// The records of a list over one or more contexts (`-o prometheus`): each answering context's
/// tokens and `up 1`, each failing one `up 0`.
pub fn records_of(
    kind: &'static str,
    results: Vec<ContextResult<Vec<Token>>>,
    now: DateTime<Utc>,
) -> (Vec<CredentialRecord>, Vec<ContextRecord>) {
    let mut credentials = Vec::new();
    let mut contexts = Vec::new();
    for r in results {
        let up = r.result.is_ok();
        if let Ok(tokens) = r.result {
            // Made where the tokens were (a record is smaller than a token: the collect reuses
            // the list's memory), so a large list is not held twice.
            let records: Vec<CredentialRecord> = tokens
                .into_iter()
                .map(|t| CredentialRecord::of(&r.name, r.platform, kind, &t, now))
                .collect();
            if credentials.is_empty() {
                credentials = records;
            } else {
                credentials.extend(records);
            }
        }
        contexts.push(ContextRecord::of(r.name, r.platform, up, now));
    }
    (credentials, contexts)
}

/// The records of one context whose list was made into records as it was decoded.
pub fn records_of_one(
    result: ContextResult<Parts<CredentialRecord>>,
    now: DateTime<Utc>,
) -> (Parts<CredentialRecord>, Vec<ContextRecord>) {
    let up = result.result.is_ok();
    let context = ContextRecord::of(result.name, result.platform, up, now);
    (result.result.unwrap_or_default(), vec![context])
}

/// The exposition: the credential families, the context families and, for the exporter, its
/// refresh families. Series are sorted (context, kind, name, id); a second token with the very
/// same labels is left out, since a scrape with a duplicate series is rejected whole.
pub fn render(
    credentials: &[CredentialRecord],
    contexts: &[ContextRecord],
    refresh: Option<&RefreshRecord>,
) -> String {
    render_as(Format::Text, credentials, contexts, refresh)
}

/// [`render`] in the given format.
pub fn render_as(
    format: Format,
    credentials: &[CredentialRecord],
    contexts: &[ContextRecord],
    refresh: Option<&RefreshRecord>,
) -> String {
    let mut out = String::with_capacity(credentials.len() * 4 * 160 + 1024);
    let _ = render_with(
        format,
        Records([credentials, &[]]),
        contexts,
        refresh,
        &mut out,
        &mut |out, n, lines| {
            lines(0..n, out);
            Ok(())
        },
    );
    out
}

/// The exposition of a list (`-o prometheus`, [`render`]'s text) of the records of `parts`, the
/// second's after the first's, written to `w` as it is made, a block of lines at a time (by two
/// threads for a large list), rather than whole.
pub fn write_rendered(
    w: &mut impl std::io::Write,
    parts: [&[CredentialRecord]; 2],
    contexts: &[ContextRecord],
) -> std::io::Result<()> {
    let mut out = String::new();
    render_with(
        Format::Text,
        Records(parts),
        contexts,
        None,
        &mut out,
        &mut |out, n, lines| {
            w.write_all(out.as_bytes())?;
            out.clear();
            super::stream::write_blocks(w, n, lines)
        },
    )?;
    w.write_all(out.as_bytes())?;
    w.flush()
}

/// Sorts the records by their series' labels (context, kind, name, id), then by what else they
/// hold ([`series_order`]), in place: the exporter's memory, rendered twice.
pub fn sort_records(credentials: &mut [CredentialRecord]) {
    if let Some(mut order) = series_order(Records([credentials, &[]])) {
        crate::scan::permute(credentials, &mut order);
    }
}

/// The order of the records' series: by their labels (context, kind, name, id), then by what
/// else they hold, so that records that compare equal here are the same series (`order[i]` is
/// the record at place `i`). `None` for records already in that order (one context, its names
/// sorted). The records are not moved: a large list's are 120 bytes each.
fn series_order(credentials: Records<'_>) -> Option<Vec<u32>> {
    let text = crate::scan::text_order;
    // From the name on: within a (context, kind) group, all that tells records apart.
    let rest = |a: &CredentialRecord, b: &CredentialRecord| {
        text(&a.name, &b.name)
            .then_with(|| text(&a.id, &b.id))
            .then_with(|| {
                (
                    a.platform.as_str(),
                    a.expires,
                    a.last_used,
                    a.created,
                    a.status.as_str(),
                )
                    .cmp(&(
                        b.platform.as_str(),
                        b.expires,
                        b.last_used,
                        b.created,
                        b.status.as_str(),
                    ))
            })
    };
    // The (context, kind) groups, few, ranked once; each record sorted by its group's rank,
    // then its name, then the rest. In the same pass, while the groups come in order, the
    // places where a record comes before the one before it in its group. A pass over records
    // `from..to`: the groups it finds (the first, when `from` is not 0, the one of the record
    // before: not found here), whether they come in order, and the places.
    let pass = |from: usize, to: usize| {
        let mut groups: Vec<(&str, &str)> = Vec::new();
        if let Some(before) = from.checked_sub(1).map(|i| credentials.get(i)) {
            groups.push((before.context.as_str(), before.kind));
        }
        let mut grouped = true;
        let mut descents: Vec<u32> = Vec::new();
        for i in from..to {
            let c = credentials.get(i);
            let group = (c.context.as_str(), c.kind);
            match groups.last() {
                // The record before it is of its group.
                Some(&last) if last == group => {
                    if grouped && rest(credentials.get(i - 1), c).is_gt() {
                        descents.push(i as u32);
                    }
                }
                last => {
                    grouped &= last.is_none_or(|g| {
                        text(g.0, group.0).then_with(|| text(g.1, group.1)).is_lt()
                    });
                    groups.push(group);
                }
            }
        }
        (groups, grouped, descents)
    };
    // A large list's halves by a thread each (most often all the work there is: the records
    // are in order).
    let n = credentials.len();
    let (mut groups, grouped, descents) =
        if n >= DECIDED_BY_TWO_FROM && crate::scan::two_processors() {
            let ((high_groups, high_grouped, high_descents), (mut groups, grouped, mut descents)) =
                crate::worker::join(|| pass(n / 2, n), || pass(0, n / 2));
            // The high half's first group is the low half's last.
            groups.extend(high_groups.into_iter().skip(1));
            descents.extend(high_descents);
            (groups, grouped && high_grouped, descents)
        } else {
            pass(0, n)
        };
    // Groups in order, each group's records in order: nothing to sort.
    if grouped && descents.is_empty() {
        return None;
    }
    groups.sort_unstable_by(|a, b| text(a.0, b.0).then_with(|| text(a.1, b.1)));
    groups.dedup();
    // Most often one context's list: one group, no rank to look up.
    let ranks: Vec<u32> = match groups.len() {
        1 => Vec::new(),
        _ => credentials
            .iter()
            .map(|c| {
                groups
                    .binary_search_by(|g| text(g.0, &c.context).then_with(|| text(g.1, c.kind)))
                    .unwrap_or(0) as u32
            })
            .collect(),
    };
    let rank = |i: usize| ranks.get(i).copied().unwrap_or(0);
    // Groups in order and most records in order within them (a token made last): the few
    // others put in place, not all sorted.
    let compare = |a: usize, b: usize| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| rest(credentials.get(a), credentials.get(b)))
    };
    if let Some(order) = grouped
        .then(|| crate::scan::nearly_sorted_order(credentials.len(), &compare, &descents))
        .flatten()
    {
        return Some(order);
    }
    Some(crate::scan::sorted_order(
        credentials.len(),
        &rank,
        &|i| credentials.get(i).name.as_bytes(),
        &|a, b| rest(credentials.get(a), credentials.get(b)),
    ))
}

/// Records in two parts, the second's after the first's ([`Parts`]).
#[derive(Clone, Copy)]
struct Records<'a>([&'a [CredentialRecord]; 2]);

impl<'a> Records<'a> {
    fn len(&self) -> usize {
        self.0[0].len() + self.0[1].len()
    }

    /// Record `i`.
    #[inline]
    fn get(&self, i: usize) -> &'a CredentialRecord {
        let [first, second] = self.0;
        match i.checked_sub(first.len()) {
            None => &first[i],
            Some(j) => &second[j],
        }
    }

    fn iter(&self) -> impl Iterator<Item = &'a CredentialRecord> {
        let [first, second] = self.0;
        first.iter().chain(second)
    }
}

/// The records in the order of their series ([`series_order`]): record `i` of it.
struct InOrder<'a> {
    records: Records<'a>,
    order: Option<Vec<u32>>,
}

impl<'a> InOrder<'a> {
    fn of(records: Records<'a>) -> InOrder<'a> {
        InOrder {
            records,
            order: series_order(records),
        }
    }

    fn len(&self) -> usize {
        self.records.len()
    }

    #[inline]
    fn get(&self, i: usize) -> &'a CredentialRecord {
        match &self.order {
            Some(order) => self.records.get(order[i] as usize),
            None => self.records.get(i),
        }
    }
}

/// A family of credential moments: its name, help and type, and the moment of a record.
type TimeFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&CredentialRecord) -> Option<i64>,
);

/// How [`render_with`] has the lines of a credential family made: given what is written so far,
/// the records' count, and what makes the lines of a range of them.
type Emit<'a> = dyn FnMut(&mut String, usize, &(dyn Fn(Range<usize>, &mut String) + Sync)) -> std::io::Result<()>
    + 'a;

/// From how many records [`decide`] is run by two threads, on half of them each.
const DECIDED_BY_TWO_FROM: usize = 16 * 1024;

/// Onto `keep`, whether each record of `range` (sorted) has its series written, and whether
/// its label values go as they are. A series whose labels are those of the one before it is
/// left out. The labels are written into each line as it is made, not kept: two records'
/// labels are compared as text only where masking or escaping could make different values the
/// same.
fn decide(
    credentials: &InOrder<'_>,
    range: Range<usize>,
    masker: &crate::redact::Masker,
    keep: &mut Vec<Labels>,
) {
    // Whether a record's context, platform and kind go as they are: the next record most
    // often has the same ones.
    let shared_of = |c: &CredentialRecord| {
        [c.context.as_str(), c.platform.as_str(), c.kind]
            .iter()
            .all(|v| value_plain(v, masker))
    };
    let plain_of = |c: &CredentialRecord, shared: bool| {
        shared && value_plain(&c.id, masker) && value_plain(&c.name, masker)
    };
    // The record before the first, as this loop would have found it.
    let (mut shared_before, mut plain_before) = match range.start.checked_sub(1) {
        Some(p) => {
            let shared = shared_of(credentials.get(p));
            (shared, plain_of(credentials.get(p), shared))
        }
        None => (false, false),
    };
    let (mut a, mut b) = (String::new(), String::new());
    for i in range {
        let c = credentials.get(i);
        let previous = i.checked_sub(1).map(|p| credentials.get(p));
        let shared = match previous {
            Some(p) if p.context == c.context && p.platform == c.platform && p.kind == c.kind => {
                shared_before
            }
            _ => shared_of(c),
        };
        shared_before = shared;
        let plain = plain_of(c, shared);
        let before = std::mem::replace(&mut plain_before, plain);
        let kept = match previous {
            None => true,
            Some(p) if same_labels(p, c) => false,
            Some(_) if before && plain => true,
            Some(p) => {
                a.clear();
                b.clear();
                push_credential_labels(&mut a, p, masker);
                push_credential_labels(&mut b, c, masker);
                a != b
            }
        };
        keep.push(match (kept, plain) {
            (false, _) => Labels::Dropped,
            (true, true) => Labels::AsTheyAre,
            (true, false) => Labels::Masked,
        });
    }
}

/// Writes the exposition onto `out`, each credential family's lines made by `emit` (which may
/// write `out` out and clear it first).
fn render_with(
    format: Format,
    credentials: Records<'_>,
    contexts: &[ContextRecord],
    refresh: Option<&RefreshRecord>,
    out: &mut String,
    emit: &mut Emit<'_>,
) -> std::io::Result<()> {
    let family = |out: &mut String, name: &str, help: &str, kind: &str| {
        family(out, format, name, help, kind)
    };
    let credentials = InOrder::of(credentials);
    let credentials = &credentials;
    let masker = crate::redact::Masker::now(None);
    // Whether each record's series are written, and whether its label values go as they are:
    // each half of a large list by a thread of its own.
    let n = credentials.len();
    let mut keep: Vec<Labels> = Vec::with_capacity(n);
    if n >= DECIDED_BY_TWO_FROM && crate::scan::two_processors() {
        let registry = crate::redact::Registry::here();
        let mut high = Vec::with_capacity(n - n / 2);
        crate::worker::join(
            || {
                registry.adopt();
                decide(credentials, n / 2..n, &masker, &mut high);
            },
            || decide(credentials, 0..n / 2, &masker, &mut keep),
        );
        keep.extend(high);
    } else {
        decide(credentials, 0..n, &masker, &mut keep);
    }
    let labels = |out: &mut String, i: usize, c: &CredentialRecord| match keep[i] {
        Labels::AsTheyAre => push_plain_labels(out, c),
        _ => push_credential_labels(out, c, &masker),
    };
    let families: [TimeFamily; 3] = [
        (
            "sts_credential_expiration_timestamp_seconds",
            "When the credential expires, in Unix seconds (no sample for one that never expires).",
            "gauge",
            |c| c.expires.get(),
        ),
        (
            "sts_credential_last_used_timestamp_seconds",
            "When the credential was last used, in Unix seconds, where the platform keeps it.",
            "gauge",
            |c| c.last_used.get(),
        ),
        (
            "sts_credential_created_timestamp_seconds",
            "When the credential was created, in Unix seconds, where the platform tells it.",
            "gauge",
            |c| c.created.get(),
        ),
    ];
    for (name, help, kind, pick) in families {
        family(out, name, help, kind);
        emit(out, credentials.len(), &|range, out| {
            for i in range {
                let c = credentials.get(i);
                if let Some(ms) = pick(c).filter(|_| keep[i] != Labels::Dropped) {
                    crate::scan::put_str(out, name);
                    out.push('{');
                    labels(out, i, c);
                    crate::scan::put_str(out, "} ");
                    push_seconds(out, ms);
                    out.push('\n');
                }
            }
        })?;
    }
    family(
        out,
        "sts_credential_info",
        "Every credential, with its status (active, revoked, expired); always 1.",
        "info",
    );
    emit(out, credentials.len(), &|range, out| {
        for i in range {
            let c = credentials.get(i);
            if keep[i] != Labels::Dropped {
                crate::scan::put_str(out, "sts_credential_info{");
                labels(out, i, c);
                crate::scan::put_str(out, ",status=\"");
                crate::scan::put_str(out, c.status.as_str());
                crate::scan::put_str(out, "\"} 1\n");
            }
        }
    })?;

    family(
        out,
        "sts_context_up",
        "1 when the last refresh of the context answered, else 0.",
        "gauge",
    );
    for c in contexts {
        let _ = writeln!(
            out,
            "sts_context_up{{{}}} {}",
            context_labels(c),
            u8::from(c.up)
        );
    }
    family(
        out,
        "sts_context_last_success_timestamp_seconds",
        "When the context last answered, in Unix seconds.",
        "gauge",
    );
    for c in contexts {
        if let Some(ms) = c.last_success {
            let _ = writeln!(
                out,
                "sts_context_last_success_timestamp_seconds{{{}}} {}",
                context_labels(c),
                seconds(ms)
            );
        }
    }

    if let Some(r) = refresh {
        family(
            out,
            "sts_exporter_refresh_duration_seconds",
            "How long the last refresh of every context took.",
            "gauge",
        );
        let _ = writeln!(
            out,
            "sts_exporter_refresh_duration_seconds {}",
            r.duration_seconds
        );
        family(
            out,
            "sts_exporter_refreshes_total",
            "Refreshes done, by result: success (every context answered) or failure.",
            "counter",
        );
        let _ = writeln!(
            out,
            "sts_exporter_refreshes_total{{result=\"success\"}} {}",
            r.successes
        );
        let _ = writeln!(
            out,
            "sts_exporter_refreshes_total{{result=\"failure\"}} {}",
            r.failures
        );
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    Ok(())
}

/// Writes an exposition on stdout as it is: every label value in it was masked and escaped by
/// [`label_value`] (no control character but the line ends), so the sink's second pass over a
/// large text is not needed.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    super::write_raw(crate::redact::Stream::Stdout, text)
}

/// `# HELP` and `# TYPE` of a family. In the text format an info family is a gauge; in
/// OpenMetrics a counter's and an info's family name is the sample name without its suffix.
fn family(out: &mut String, format: Format, name: &str, help: &str, kind: &str) {
    let (name, kind) = match (format, kind) {
        (Format::Text, "info") => (name, "gauge"),
        (Format::Text, _) => (name, kind),
        (Format::OpenMetrics, "counter") => (name.strip_suffix("_total").unwrap_or(name), kind),
        (Format::OpenMetrics, "info") => (name.strip_suffix("_info").unwrap_or(name), kind),
        (Format::OpenMetrics, _) => (name, kind),
    };
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The labels of a credential's series, onto `out`.
fn push_credential_labels(out: &mut String, c: &CredentialRecord, masker: &crate::redact::Masker) {
    for (i, (key, value)) in label_pairs(c).into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push_str("=\"");
        push_label_value(out, &masker.text(value));
        out.push('"');
    }
}

/// A credential record's series: left out (the labels of the one before it), or written with
/// its label values as they are, or masked and escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Labels {
    Dropped,
    AsTheyAre,
    Masked,
}

/// The labels of a credential whose values hold no secret and nothing to escape
/// ([`value_plain`] each): what [`push_credential_labels`] writes, without looking at them again.
fn push_plain_labels(out: &mut String, c: &CredentialRecord) {
    const OPENINGS: [&str; 5] = [
        "context=\"",
        "\",platform=\"",
        "\",kind=\"",
        "\",id=\"",
        "\",name=\"",
    ];
    // Each piece copied inline (`put_str`): most are shorter than a call to copy memory costs.
    for (opening, (_, value)) in OPENINGS.into_iter().zip(label_pairs(c)) {
        crate::scan::put_str(out, opening);
        crate::scan::put_str(out, value);
    }
    out.push('"');
}

fn label_pairs(c: &CredentialRecord) -> [(&'static str, &str); 5] {
    [
        ("context", c.context.as_str()),
        ("platform", c.platform.as_str()),
        ("kind", c.kind),
        ("id", c.id.as_str()),
        ("name", c.name.as_str()),
    ]
}

/// The same label values ([`label_pairs`]), the one most likely to differ compared first.
fn same_labels(a: &CredentialRecord, b: &CredentialRecord) -> bool {
    a.name == b.name
        && a.id == b.id
        && a.context == b.context
        && a.kind == b.kind
        && a.platform == b.platform
}

/// Every label value written as it is (no secret in it, nothing to escape): two such records
/// have the same labels only when they have the same values.
#[cfg(test)]
fn label_plain(c: &CredentialRecord, masker: &crate::redact::Masker) -> bool {
    label_pairs(c).iter().all(|(_, v)| value_plain(v, masker))
}

/// A label value written as it is: no secret in it, nothing to escape.
fn value_plain(value: &str, masker: &crate::redact::Masker) -> bool {
    crate::redact::plain_in_quotes(value)
        && matches!(masker.text(value), std::borrow::Cow::Borrowed(_))
}

fn context_labels(c: &ContextRecord) -> String {
    format!(
        "context=\"{}\",platform=\"{}\"",
        label_value(&c.context),
        label_value(c.platform)
    )
}

/// A label value as the format wants it: known secrets masked, then backslash, double quote and
/// newline escaped; any other control character or bidirectional override is written as the
/// text `\u001b`, never raw.
pub fn label_value(value: &str) -> String {
    let masked = crate::redact::mask(value, None);
    let mut out = String::with_capacity(masked.len());
    push_label_value(&mut out, &masked);
    out
}

/// A masked label value, escaped onto `out`.
fn push_label_value(out: &mut String, masked: &str) {
    if crate::redact::plain_in_quotes(masked) {
        out.push_str(masked);
        return;
    }
    for c in masked.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if crate::redact::needs_escape(c) => {
                let _ = write!(out, "\\\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Epoch milliseconds as Unix seconds (`1767225600`, `1767225600.5`).
fn seconds(ms: i64) -> String {
    let mut out = String::new();
    push_seconds(&mut out, ms);
    out
}

/// Epoch milliseconds as Unix seconds onto `out`: what `ms as f64 / 1000.0` displays, written
/// from the integer (the shortest decimal of that f64 is the millisecond one while it holds
/// fewer digits than an f64 tells apart).
fn push_seconds(out: &mut String, ms: i64) {
    if ms.unsigned_abs() >= 1_000_000_000_000_000 {
        let _ = write!(out, "{}", ms as f64 / 1000.0);
        return;
    }
    if ms < 0 {
        out.push('-');
    }
    let (whole, mut frac) = (ms.unsigned_abs() / 1000, ms.unsigned_abs() % 1000);
    crate::dates::push_digits(out, whole, 1);
    if frac != 0 {
        out.push('.');
        let mut width = 3;
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        crate::dates::push_digits(out, frac, width);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, id: &str) -> CredentialRecord {
        CredentialRecord {
            context: "prod".into(),
            platform: PlatformKind::Stackstate,
            kind: "service-token",
            id: id.into(),
            name: name.into(),
            expires: Some(1_767_225_600_500).into(),
            last_used: Millis::NONE,
            created: Some(1_700_000_000_000).into(),
            status: Status::Active,
        }
    }

    #[test]
    fn a_large_lists_records_are_sorted_as_a_sort_by_their_labels_sorts_them() {
        // Enough records for two threads to look for the ones out of order (16,384), each half
        // a run of its own: in order, one out of order at the seam and elsewhere, a second
        // group from the seam on, and a group that comes back in the second half.
        let n = 20_000;
        let made = |name: &dyn Fn(usize) -> String, context: &dyn Fn(usize) -> &'static str| {
            (0..n)
                .map(|i| {
                    let mut r = record(&name(i), &(i % 7).to_string());
                    r.context = context(i).into();
                    r
                })
                .collect::<Vec<_>>()
        };
        let sorted_name = |i: usize| format!("n{i:06}");
        let cases = [
            made(&sorted_name, &|_| "prod"),
            made(
                &|i| sorted_name(if i == n / 2 { 3 } else { i }),
                &|_| "prod",
            ),
            made(
                &|i| sorted_name(if i == n / 2 + 1 { 0 } else { i }),
                &|_| "prod",
            ),
            made(&sorted_name, &|i| if i < n / 2 { "dev" } else { "prod" }),
            made(&sorted_name, &|i| if i < n / 2 { "prod" } else { "dev" }),
            made(&sorted_name, &|i| match i {
                i if i < n / 4 || i > 3 * n / 4 => "dev",
                _ => "prod",
            }),
        ];
        for (k, records) in cases.into_iter().enumerate() {
            let mut expected = records.clone();
            expected.sort_by(|a, b| {
                (&a.context, a.kind, &a.name, &a.id).cmp(&(&b.context, b.kind, &b.name, &b.id))
            });
            let unmoved = series_order(Records([&records, &[]])).is_none();
            assert_eq!(unmoved, expected == records, "case {k}");
            let mut sorted = records;
            sort_records(&mut sorted);
            assert!(sorted == expected, "case {k}");
        }
    }

    #[test]
    fn a_moment_or_none_orders_and_reads_as_an_option() {
        for t in [None, Some(i64::MIN + 1), Some(-1), Some(0), Some(i64::MAX)] {
            assert_eq!(Millis::from(t).get(), t);
        }
        assert_eq!(Millis::from(Some(i64::MIN)).get(), Some(i64::MIN + 1));
        assert!(Millis::NONE < Millis::from(Some(i64::MIN + 1)));
        assert!(Millis::from(Some(-5)) < Millis::from(Some(3)));
        assert!(std::mem::size_of::<CredentialRecord>() <= 120);
    }

    #[test]
    fn accept_headers_choose_the_format() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                          version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(
            Format::negotiate(Some("text/plain, application/openmetrics-text;q=0.9")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
        let none = Vec::new();
        let om = render_as(
            Format::OpenMetrics,
            &none,
            &[],
            Some(&RefreshRecord::default()),
        );
        assert!(om.ends_with("# EOF\n"));
        assert!(om.contains("# TYPE sts_exporter_refreshes counter\n"));
        assert!(om.contains("# TYPE sts_credential info\n"));
        assert!(om.contains("sts_exporter_refreshes_total{result=\"success\"} 0\n"));
        let text = render(&none, &[], Some(&RefreshRecord::default()));
        assert!(text.contains("# TYPE sts_credential_info gauge\n") && !text.contains("# EOF"));
    }

    #[test]
    fn label_values_are_escaped_and_secrets_masked() {
        crate::redact::register("s3cr3t-value-123");
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(label_value("x\x1b[31m"), "x\\\\u001b[31m");
        assert_eq!(label_value("name s3cr3t-value-123"), "name ***");
    }

    #[test]
    fn every_family_has_help_and_type_and_series_are_sorted_and_unique() {
        let mut creds = vec![record("b", "2"), record("a", "1"), record("a", "1")];
        creds[1].expires = Millis::NONE;
        let contexts = vec![
            ContextRecord {
                context: "prod".into(),
                platform: "stackstate",
                up: true,
                last_success: Some(1_000),
            },
            ContextRecord {
                context: "down".into(),
                platform: "qualytics",
                up: false,
                last_success: None,
            },
        ];
        let text = render(&creds, &contexts, Some(&RefreshRecord::default()));
        for name in [
            "sts_credential_expiration_timestamp_seconds",
            "sts_credential_last_used_timestamp_seconds",
            "sts_credential_created_timestamp_seconds",
            "sts_credential_info",
            "sts_context_up",
            "sts_context_last_success_timestamp_seconds",
            "sts_exporter_refresh_duration_seconds",
            "sts_exporter_refreshes_total",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
        let info: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("sts_credential_info{"))
            .collect();
        assert_eq!(info.len(), 2, "{text}");
        assert!(info[0].contains("name=\"a\"") && info[1].contains("name=\"b\""));
        let expiry: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("sts_credential_expiration_timestamp_seconds{"))
            .collect();
        assert_eq!(
            expiry,
            [
                "sts_credential_expiration_timestamp_seconds{context=\"prod\",platform=\"stackstate\",kind=\"service-token\",id=\"2\",name=\"b\"} 1767225600.5"
            ]
        );
        assert!(text.contains("sts_context_up{context=\"down\",platform=\"qualytics\"} 0\n"));
        assert!(text.contains("sts_context_last_success_timestamp_seconds{context=\"prod\",platform=\"stackstate\"} 1\n"));
        assert!(!text.contains("last_success_timestamp_seconds{context=\"down\""));
        assert!(text.contains("sts_credential_created_timestamp_seconds{context=\"prod\",platform=\"stackstate\",kind=\"service-token\",id=\"1\",name=\"a\"} 1700000000\n"));
    }

    #[test]
    fn labels_are_the_masked_and_escaped_values() {
        crate::redact::register("label-secret-0123456789");
        let masker = crate::redact::Masker::now(None);
        for name in [
            "ci",
            "a\"b\\c\nd\u{1b}\u{202e}é",
            "x label-secret-0123456789",
        ] {
            let c = record(name, "7\"");
            let expected = format!(
                "context=\"{}\",platform=\"{}\",kind=\"{}\",id=\"{}\",name=\"{}\"",
                label_value(&c.context),
                label_value(c.platform.as_str()),
                label_value(c.kind),
                label_value(&c.id),
                label_value(&c.name)
            );
            let mut labels = String::new();
            push_credential_labels(&mut labels, &c, &masker);
            assert_eq!(labels, expected);
        }
    }

    proptest::proptest! {
        /// Labels whose values hold no secret and nothing to escape are written as they are,
        /// the same as masked and escaped; a secret or a quote is never taken as plain.
        #[test]
        fn plain_labels_are_the_masked_and_escaped_labels(
            name in "[a-z \"\\\n\u{1b}é]{0,12}|plain-secret-0123456789",
            id in "[0-9a-f\"]{0,6}",
            context in "[a-z-]{1,8}|pl\"ain",
        ) {
            crate::redact::register("plain-secret-0123456789");
            let masker = crate::redact::Masker::now(None);
            let mut c = record(&name, &id);
            c.context = context.into();
            let mut masked = String::new();
            push_credential_labels(&mut masked, &c, &masker);
            let mut plain = String::new();
            push_plain_labels(&mut plain, &c);
            if label_plain(&c, &masker) {
                proptest::prop_assert_eq!(&masked, &plain);
            } else {
                proptest::prop_assert!(
                    [c.context.as_str(), &c.id, &c.name].iter().any(|v| {
                        !crate::redact::plain_in_quotes(v) || v.contains("plain-secret-0123456789")
                    }),
                    "{masked}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn seconds_are_what_the_f64_displays(
            ms in proptest::prelude::any::<i64>(),
            near in -4_000_000_000_000i64..300_000_000_000_000,
        ) {
            for ms in [ms, near, near / 1000 * 1000, near / 10 * 10] {
                proptest::prop_assert_eq!(seconds(ms), (ms as f64 / 1000.0).to_string());
            }
        }
    }

    proptest::proptest! {
        /// In a list of records whose contexts and kinds follow one another (plain ones, one
        /// with a quote, one holding a secret), each record's labels are written as masking and
        /// escaping make them, whatever the record before it had, in the order of their labels
        /// (given in it, in it but for one record put elsewhere, or not).
        #[test]
        fn every_record_has_its_own_labels_in_a_list(
            rows in proptest::collection::vec(
                (0usize..4, proptest::prelude::any::<bool>(), "[a-c\"]{1,3}", "[0-9]{1,2}"),
                1..30,
            ),
            given in 0u8..3,
            moved in (0usize..30, 0usize..30),
        ) {
            const CONTEXTS: [&str; 4] = ["prod", "pro\"d", "ctx-list-secret-0123456789", "dev"];
            crate::redact::register("ctx-list-secret-0123456789");
            let masker = crate::redact::Masker::now(None);
            let mut creds: Vec<CredentialRecord> = rows
                .iter()
                .map(|(context, key, name, id)| {
                    let mut c = record(name, id);
                    c.context = CONTEXTS[*context].into();
                    if *key {
                        c.kind = "ingestion-api-key";
                    }
                    c
                })
                .collect();
            let by_labels = |a: &CredentialRecord, b: &CredentialRecord| {
                (a.context.as_str(), a.kind, a.name.as_str(), a.id.as_str())
                    .cmp(&(b.context.as_str(), b.kind, b.name.as_str(), b.id.as_str()))
            };
            if given > 0 {
                creds.sort_by(by_labels);
            }
            if given == 2 {
                let n = creds.len();
                let c = creds.remove(moved.0 % n);
                creds.insert(moved.1 % n, c);
            }
            let text = render(&creds, &[], None);
            creds.sort_by(by_labels);
            let mut expected: Vec<String> = Vec::new();
            for c in &creds {
                let mut labels = String::new();
                push_credential_labels(&mut labels, c, &masker);
                let line = format!("sts_credential_info{{{labels},status=\"active\"}} 1");
                if expected.last() != Some(&line) {
                    expected.push(line);
                }
            }
            let info: Vec<&str> =
                text.lines().filter(|l| l.starts_with("sts_credential_info{")).collect();
            proptest::prop_assert_eq!(info, expected);
        }
    }

    #[test]
    fn series_whose_labels_come_out_the_same_are_written_once() {
        crate::redact::register("dup-secret-0123456789");
        // Different values, the same labels once masked: one series.
        let creds = vec![
            record("x dup-secret-0123456789", "1"),
            record("x ***", "1"),
            record("y", "1"),
        ];
        let text = render(&creds, &[], None);
        let info = text
            .lines()
            .filter(|l| l.starts_with("sts_credential_info{"));
        assert_eq!(info.count(), 2, "{text}");
    }

    #[test]
    fn which_series_are_written_is_decided_the_same_from_any_record_on() {
        crate::redact::register("decide-secret-4321");
        // Sorted records: pairs with the very same labels, names with a secret or a quote
        // (masked, escaped), and two contexts.
        let creds: Vec<CredentialRecord> = (0..60)
            .map(|i| {
                let name = match i % 5 {
                    0 => format!("n{}-decide-secret-4321", i / 3),
                    1 => format!("n\"{}", i / 3),
                    _ => format!("n{}", i / 3),
                };
                let mut r = record(&name, &(i / 2).to_string());
                if i >= 40 {
                    r.context = "staging".into();
                }
                r
            })
            .collect();
        // Decided in the order of their series, through it.
        let creds = InOrder::of(Records([&creds, &[]]));
        let masker = crate::redact::Masker::now(None);
        let mut whole = Vec::new();
        decide(&creds, 0..creds.len(), &masker, &mut whole);
        assert!(whole.contains(&Labels::Dropped) && whole.contains(&Labels::Masked));
        assert!(whole.contains(&Labels::AsTheyAre));
        for mid in 0..=creds.len() {
            let mut halves = Vec::new();
            decide(&creds, 0..mid, &masker, &mut halves);
            decide(&creds, mid..creds.len(), &masker, &mut halves);
            assert_eq!(halves, whole, "split at {mid}");
        }
    }

    #[test]
    fn written_as_made_it_is_the_rendered_text() {
        // Enough for two threads to decide which series are written (16,384) and to write
        // them (4,096), names seen twice, some with a secret or a quote in them, and a second
        // context.
        crate::redact::register("prom-secret-4321");
        let creds: Vec<CredentialRecord> = (0..20000)
            .map(|i| {
                let name = match i % 7 {
                    0 => format!("n{}-prom-secret-4321", i % 4000),
                    1 => format!("n\"{}", i % 4000),
                    _ => format!("n{}", 9000 - i % 4000),
                };
                let mut r = record(&name, &(i % 5000).to_string());
                if i % 3 == 0 {
                    r.context = "dev".into();
                }
                r
            })
            .collect();
        let contexts = [ContextRecord {
            context: "prod".into(),
            platform: "stackstate",
            up: true,
            last_success: Some(1_700_000_000_000),
        }];
        let whole = render(&creds, &contexts, None);
        assert!(whole.len() > 128 * 1024);
        assert!(!whole.contains("prom-secret-4321") && whole.contains("n\\\"12"));
        // The records in two parts (as two threads decode a large answer), split anywhere.
        for seam in [0, 1, 6999, 10000, creds.len()] {
            let mut out = Vec::new();
            let (first, second) = creds.split_at(seam);
            write_rendered(&mut out, [first, second], &contexts).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), whole, "split at {seam}");
        }
    }
}
