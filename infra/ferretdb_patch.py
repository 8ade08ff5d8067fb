"""Source changes applied to FerretDB v1.24.2 before `go build` (see `infra.ferretdb.install`).

FerretDB v1 is no longer maintained, so the fixes live here as text replacements on the downloaded module
(nothing of FerretDB is committed). Each replacement must find its original snippet exactly once, otherwise
the build stops with an InfraError naming the file: a different upstream text must be looked at, not
patched blindly.

1. The `_id` index is never used (internal/backends/sqlite/metadata/metadata.go).
   Every collection table gets an index on `_ferretdb_sjson->"_id"` (registry.go builds index columns as
   `DefaultColumn->"field"`), but every `_id` lookup, update and delete queries
   `IDColumn = DefaultColumn + "->'$._id'"`. Both expressions return the same value, yet SQLite only uses an
   expression index for the same expression, so each `{_id: x}` lookup scans the whole table (~114 ms for
   50,000 documents). Fix: `IDColumn` becomes the index's own expression, ``DefaultColumn + `->"_id"` ``.

2. Bulk updates can hang a database for good (internal/handler/msg_update.go).
   `updateDocument` loops over the statements of one `update` command and does `defer closer.Close()` inside
   the loop, so every statement's query iterator, and the pool connection it holds, stays open until the
   whole command ends. A command with more matching statements than the pool has connections (100 on
   SQLite), e.g. a `bulk_write` of 500 upserts, waits for a connection that never comes back.
   Fix: no defer; the statement's matching documents are read and the closer is closed before
   `common.UpdateDocument(...)` runs on them (nothing between creating and closing the closer can return).
   Closing before the update, not after, matters too: with the query's read transaction still open when the
   update commits, SQLite cannot reset its write-ahead log, so each commit of a bulk update retried an
   automatic checkpoint over a WAL that kept growing (measured: `walCheckpoint` 31% of FerretDB's CPU and
   most of its syscalls; ~0.6-0.75 ms a statement, growing with the collection).

3. `{_id: {$in: [...]}}` is not pushed down (internal/backends/sqlite/collection.go).
   `Query` and `Explain` push down only a filter that is exactly `{_id: <string or ObjectId>}`; an `$in` list
   of ids scans the table. Fix: when the filter is exactly `{_id: {$in: [...]}}` and every element (1 to
   `maxIDInPushdown`) is a string or an ObjectId, the query gets `WHERE <IDColumn> IN (?, ...)` with the same
   value encoding as the equality push-down. It is safe because the handler applies the whole filter again
   to the rows a backend returns (push-down may only narrow the rows read); any other shape (another
   operator next to `$in`, a regex or number element, an empty or huge list) keeps the upstream behaviour.

4. `{_id: {$gte: lo, $lt: hi}}` is not pushed down either (same file): a prefix range on `_id` — how a
   collection keyed `<owner>|<item>` lists one owner's items, an `_id`-index range scan on MongoDB — scanned
   every row. Fix: when lo and hi are plain printable ASCII (no quote, backslash, `<`, `>`, `&`) with a common
   prefix, the query reads the rows whose indexed `_id` text starts with that prefix (`>= '"prefix'` and
   `< '"prefix' || U+10FFFF` on the index's own expression): a superset of the range, filtered exactly by the
   handler as in 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .procs import InfraError

# Part of the binary's name: change it whenever REPLACEMENTS change, so a cached binary is rebuilt.
PATCH_ID = "dsp2"


@dataclass(frozen=True)
class Replacement:
    path: str  # relative to the module root
    old: str
    new: str
    why: str


def _go(text: str) -> str:
    """Go source written here with 4 spaces per level: turn each leading 4 spaces back into a tab."""
    lines = []
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        lines.append("\t" * (indent // 4) + " " * (indent % 4) + stripped)
    return "\n".join(lines)


METADATA_GO = "internal/backends/sqlite/metadata/metadata.go"
MSG_UPDATE_GO = "internal/handler/msg_update.go"
COLLECTION_GO = "internal/backends/sqlite/collection.go"

REPLACEMENTS: tuple[Replacement, ...] = (
    Replacement(
        METADATA_GO,
        old=_go("""    IDColumn = DefaultColumn + "->'$._id'\""""),
        new=_go("""    // dsp-mesh patch: the expression of the _id index (see registry.go), so SQLite uses that index.
    IDColumn = DefaultColumn + `->"_id"`"""),
        why="bug 1: `_id` lookups must use the same expression as the `_id` index",
    ),
    Replacement(
        MSG_UPDATE_GO,
        old=_go("""        closer := iterator.NewMultiCloser()
        defer closer.Close()
"""),
        new=_go("""        // dsp-mesh patch: not deferred (that held a pool connection per statement until the command
        // ended, so more statements than pool connections hung); closed after UpdateDocument below.
        closer := iterator.NewMultiCloser()
"""),
        why="bug 2: no per-statement defer inside the statements loop",
    ),
    Replacement(
        MSG_UPDATE_GO,
        old=_go("""        result, err := common.UpdateDocument(ctx, c, "update", iter, &u)
        if err != nil {"""),
        new=_go("""        // dsp-mesh patch: read the matching documents, then release this statement's iterator (its
        // pool connection and its read transaction) before updating them — on success and error alike. A read
        // transaction still open when the update commits keeps SQLite from resetting its WAL, so every later
        // commit retried a checkpoint over an ever longer WAL (most of an update's time, see the docstring).
        docs, err := iterator.ConsumeValues(iter)
        closer.Close()

        if err != nil {
            return 0, 0, nil, lazyerrors.Error(err)
        }

        matching := iterator.Values(iterator.ForSlice(docs))
        result, err := common.UpdateDocument(ctx, c, "update", matching, &u)
        matching.Close()

        if err != nil {"""),
        why="bug 2: each statement's iterator read and closed before its update",
    ),
    Replacement(
        COLLECTION_GO,
        old=_go("""        switch v.(type) {
        case string, types.ObjectID:
            whereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)
            args = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
        }"""),
        new=_go("""        switch v := v.(type) {
        case string, types.ObjectID:
            whereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)
            args = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
        case *types.Document:
            // dsp-mesh patch: {_id: {$in: [<string or ObjectId>, ...]}} is pushed down too.
            whereClause, args = prepareIDInClause(v)
        }"""),
        why="push-down 3: `Query` handles `{_id: {$in: [...]}}`",
    ),
    Replacement(
        COLLECTION_GO,
        old=_go("""        switch v.(type) {
        case string, types.ObjectID:
            filterPushdown = true
            whereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)
            args = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
        }"""),
        new=_go("""        switch v := v.(type) {
        case string, types.ObjectID:
            filterPushdown = true
            whereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)
            args = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
        case *types.Document:
            // dsp-mesh patch: as in Query.
            whereClause, args = prepareIDInClause(v)
            filterPushdown = whereClause != ""
        }"""),
        why="push-down 3: `Explain` reports what `Query` does",
    ),
    Replacement(
        COLLECTION_GO,
        old=_go("""// check interfaces
var (
    _ backends.Collection = (*collection)(nil)
)"""),
        new=_go("""// maxIDInPushdown bounds the SQL parameters of an `_id` `$in` push-down (dsp-mesh patch).
const maxIDInPushdown = 10000

// prepareIDInClause returns the WHERE clause and arguments for the `_id` condition cond when it is exactly
// {$in: [...]} with 1 to maxIDInPushdown elements that are all strings or ObjectIDs; otherwise "" and nil
// (no push-down). Added by the dsp-mesh patch; values are encoded as for the `{_id: value}` push-down, and
// the handler filters the returned documents with the whole filter anyway.
func prepareIDInClause(cond *types.Document) (string, []any) {
    if cond.Len() == 2 {
        return prepareIDRangeClause(cond)
    }

    if cond.Len() != 1 {
        return "", nil
    }

    in, err := cond.Get("$in")
    if err != nil {
        return "", nil
    }

    arr, ok := in.(*types.Array)
    if !ok || arr.Len() == 0 || arr.Len() > maxIDInPushdown {
        return "", nil
    }

    placeholders := make([]string, arr.Len())
    args := make([]any, arr.Len())

    for i := 0; i < arr.Len(); i++ {
        v := must.NotFail(arr.Get(i))

        switch v.(type) {
        case string, types.ObjectID:
            // pushed down
        default:
            return "", nil
        }

        placeholders[i] = "?"
        args[i] = string(must.NotFail(sjson.MarshalSingleValue(v)))
    }

    return fmt.Sprintf(` WHERE %s IN (%s)`, metadata.IDColumn, strings.Join(placeholders, ", ")), args
}

// prepareIDRangeClause returns the WHERE clause and arguments for the `_id` condition {$gte: lo, $lt: hi} when
// lo and hi are strings of printable ASCII other than quote, backslash, `<`, `>` and `&` sharing a non-empty prefix:
// the rows whose `_id` starts with that prefix (dsp-mesh patch). That is a superset of the range — every string
// in [lo, hi) starts with the common prefix of lo and hi, and such characters are their own JSON encoding in
// the text the `_id` index holds — and the handler filters the returned documents exactly.
func prepareIDRangeClause(cond *types.Document) (string, []any) {
    lo, errLo := cond.Get("$gte")
    hi, errHi := cond.Get("$lt")
    if errLo != nil || errHi != nil {
        return "", nil
    }

    l, okLo := lo.(string)
    h, okHi := hi.(string)
    if !okLo || !okHi {
        return "", nil
    }

    for _, s := range []string{l, h} {
        for i := 0; i < len(s); i++ {
            if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == 0x5c || c == '<' || c == '>' || c == '&' {
                return "", nil
            }
        }
    }

    n := 0
    for n < len(l) && n < len(h) && l[n] == h[n] {
        n++
    }

    if n == 0 {
        return "", nil
    }

    prefix := `"` + l[:n]

    return fmt.Sprintf(` WHERE %s >= ? AND %s < ?`, metadata.IDColumn, metadata.IDColumn),
        []any{prefix, prefix + "\U0010FFFF"}
}

// check interfaces
var (
    _ backends.Collection = (*collection)(nil)
)"""),
        why="push-down 3 and 4: the helpers building `WHERE <IDColumn> IN (...)` and the prefix range",
    ),
)


def patch_text(text: str, replacements: tuple[Replacement, ...] | list[Replacement], name: str) -> str:
    """Apply replacements (all for the file `name`) in order; each original must occur exactly once."""
    for r in replacements:
        count = text.count(r.old)
        if count != 1:
            first = r.old.strip().splitlines()[0].strip() if r.old.strip() else r.old
            raise InfraError(
                f"FerretDB patch ({r.why}): expected the original snippet exactly once in {name}, found it "
                f"{count} times (snippet starts {first!r}); the upstream source differs, update infra/ferretdb_patch.py"
            )
        text = text.replace(r.old, r.new)
    return text


def apply(src: Path, replacements: tuple[Replacement, ...] | list[Replacement] = REPLACEMENTS) -> list[str]:
    """Patch the module tree at src in place. All files are checked before any is written; returns their paths."""
    by_file: dict[str, list[Replacement]] = {}
    for r in replacements:
        by_file.setdefault(r.path, []).append(r)
    patched: dict[Path, str] = {}
    for rel, group in by_file.items():
        path = src / rel
        if not path.is_file():
            raise InfraError(f"FerretDB patch: {path} does not exist; the upstream source differs")
        patched[path] = patch_text(path.read_text(encoding="utf-8"), group, str(path))
    for path, text in patched.items():
        path.write_text(text, encoding="utf-8")
    return list(by_file)
