"""infra/ferretdb_patch.py: applies to source shaped like FerretDB v1.24.2, refuses anything else."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from infra import ferretdb, ferretdb_patch
from infra.ferretdb_patch import REPLACEMENTS, Replacement, apply, patch_text
from infra.procs import InfraError

# Excerpts of the upstream files, with the surrounding lines of v1.24.2 (Go indents with tabs).
METADATA = """const (
\t// DefaultColumn is a column name for all fields.
\tDefaultColumn = backends.ReservedPrefix + "sjson"

\t// IDColumn is a SQLite path expression for _id field.
\tIDColumn = DefaultColumn + "->'$._id'"

\t// RecordIDColumn is a name for RecordID column to store capped collection record id.
\tRecordIDColumn = backends.ReservedPrefix + "record_id"
)
"""

MSG_UPDATE = """\tfor _, u := range params.Updates {
\t\tres, err := c.Query(ctx, &qp)
\t\tif err != nil {
\t\t\treturn 0, 0, nil, lazyerrors.Error(err)
\t\t}

\t\tcloser := iterator.NewMultiCloser()
\t\tdefer closer.Close()

\t\tcloser.Add(res.Iter)

\t\titer := common.FilterIterator(res.Iter, closer, u.Filter)

\t\tif !u.Multi {
\t\t\titer = common.LimitIterator(iter, closer, 1)
\t\t}

\t\tresult, err := common.UpdateDocument(ctx, c, "update", iter, &u)
\t\tif err != nil {
\t\t\treturn 0, 0, nil, lazyerrors.Error(err)
\t\t}
\t}
"""

COLLECTION = """func (c *collection) Query(ctx context.Context, params *backends.QueryParams) (*QueryResult, error) {
\tif params.Filter.Len() == 1 {
\t\tv, _ := params.Filter.Get("_id")
\t\tswitch v.(type) {
\t\tcase string, types.ObjectID:
\t\t\twhereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)
\t\t\targs = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
\t\t}
\t}
}

func (c *collection) Explain(ctx context.Context, params *backends.ExplainParams) (*ExplainResult, error) {
\tif params.Filter.Len() == 1 {
\t\tv, _ := params.Filter.Get("_id")
\t\tswitch v.(type) {
\t\tcase string, types.ObjectID:
\t\t\tfilterPushdown = true
\t\t\twhereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)
\t\t\targs = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
\t\t}
\t}
}

// check interfaces
var (
\t_ backends.Collection = (*collection)(nil)
)
"""

FILES = {ferretdb_patch.METADATA_GO: METADATA, ferretdb_patch.MSG_UPDATE_GO: MSG_UPDATE,
         ferretdb_patch.COLLECTION_GO: COLLECTION}


def module_tree(root: Path, files: dict[str, str] = FILES) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_every_replacement_targets_a_known_file() -> None:
    assert {r.path for r in REPLACEMENTS} == set(FILES)
    assert all(r.why and r.old != r.new for r in REPLACEMENTS)


def test_the_patch_applies_to_the_upstream_shapes(tmp_path: Path) -> None:
    root = module_tree(tmp_path)
    assert sorted(apply(root)) == sorted(FILES)
    metadata = (root / ferretdb_patch.METADATA_GO).read_text()
    assert '\tIDColumn = DefaultColumn + `->"_id"`\n' in metadata and "'$._id'" not in metadata

    update = (root / ferretdb_patch.MSG_UPDATE_GO).read_text()
    assert "defer closer.Close()" not in update
    # each statement's matches are read and its iterator closed before UpdateDocument (so no read transaction is
    # open when the update commits), on the error path too; the slice handed on is closed after it
    assert update.count("closer.Close()") == 1 and update.count("matching.Close()") == 1
    assert (update.index("docs, err := iterator.ConsumeValues(iter)") < update.index("closer.Close()")
            < update.index('common.UpdateDocument(ctx, c, "update", matching, &u)') < update.index("matching.Close()"))

    collection = (root / ferretdb_patch.COLLECTION_GO).read_text()
    assert collection.count("switch v := v.(type) {") == 2
    assert collection.count("whereClause, args = prepareIDInClause(v)") == 2
    assert "filterPushdown = whereClause != \"\"" in collection
    assert collection.count("func prepareIDInClause(") == 1 and collection.count("func prepareIDRangeClause(") == 1
    assert collection.rstrip().endswith("_ backends.Collection = (*collection)(nil)\n)")


def test_a_second_application_is_refused(tmp_path: Path) -> None:
    root = module_tree(tmp_path)
    apply(root)
    with pytest.raises(InfraError, match="found it 0 times"):
        apply(root)


@pytest.mark.parametrize("rel", sorted(FILES))
def test_a_missing_snippet_is_refused_and_nothing_is_written(tmp_path: Path, rel: str) -> None:
    first = next(r for r in REPLACEMENTS if r.path == rel)
    half = len(first.old) // 2
    changed = first.old[:half] + "X" + first.old[half:]  # upstream text that differs a little
    root = module_tree(tmp_path, {**FILES, rel: FILES[rel].replace(first.old, changed)})
    before = {p: (root / p).read_text() for p in FILES}
    with pytest.raises(InfraError, match=rf"exactly once in .*{rel}, found it 0 times"):
        apply(root)
    assert {p: (root / p).read_text() for p in FILES} == before


@pytest.mark.parametrize("rel", sorted(FILES))
def test_a_doubled_snippet_is_refused(tmp_path: Path, rel: str) -> None:
    first = next(r for r in REPLACEMENTS if r.path == rel)
    root = module_tree(tmp_path, {**FILES, rel: FILES[rel] + "\n" + first.old + "\n"})
    with pytest.raises(InfraError, match=rf"exactly once in .*{rel}, found it 2 times"):
        apply(root)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    root = module_tree(tmp_path, {k: v for k, v in FILES.items() if k != ferretdb_patch.MSG_UPDATE_GO})
    with pytest.raises(InfraError, match=r"msg_update\.go does not exist"):
        apply(root)


def test_patch_text_names_the_file_and_the_reason() -> None:
    r = Replacement("x.go", old="a := 1", new="a := 2", why="a reason")
    assert patch_text("b\na := 1\n", [r], "x.go") == "b\na := 2\n"
    with pytest.raises(InfraError, match=r"\(a reason\).*exactly once in x\.go, found it 0 times"):
        patch_text("b\n", [r], "x.go")


def test_the_binary_name_carries_the_patch() -> None:
    assert ferretdb.FERRETDB_BUILD == f"ferretdb-{ferretdb.FERRETDB_VERSION}-{ferretdb_patch.PATCH_ID}"
    assert ferretdb.FERRETDB_BUILD != f"ferretdb-{ferretdb.FERRETDB_VERSION}"


def test_the_patch_matches_the_real_module_when_it_is_in_the_go_cache(tmp_path: Path) -> None:
    """The excerpts above are shaped by hand; this checks the real v1.24.2 sources when they are at hand."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain: the module cache cannot be located")
    cache = subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True, check=False).stdout.strip()
    module = Path(cache) / "github.com" / "!ferret!d!b" / f"!ferret!d!b@{ferretdb.FERRETDB_VERSION}"
    if not module.is_dir():
        pytest.skip(f"FerretDB {ferretdb.FERRETDB_VERSION} is not in the Go module cache ({module})")
    copy = module_tree(tmp_path, {rel: (module / rel).read_text() for rel in FILES})
    assert sorted(apply(copy)) == sorted(FILES)
