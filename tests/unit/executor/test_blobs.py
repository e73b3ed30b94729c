"""The claim check's blob store: content-addressed, safe against crafted references, and honest about damage."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.blobs import BlobNotFound, LocalBlobStore, blob_ref, holds_markers, marker, open_blob_store, resolve_blobs

KEYS = st.text(max_size=5).filter(lambda key: key != "$blob")
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


def test_stores_the_same_bytes_once_under_their_hash_when_put_twice(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    first, second = store.put(b'"same"'), store.put(b'"same"')
    assert first == second == blob_ref(b'"same"') and store.get(first) == b'"same"'
    assert len([path for path in tmp_path.rglob("*") if path.is_file()]) == 1


@pytest.mark.parametrize("ref", ["sha256:../../etc/passwd", "/etc/passwd", "sha256:" + "A" * 64, "md5:abc", ""])
def test_refuses_a_reference_that_is_not_a_hash_when_reading(tmp_path: Path, ref: str) -> None:
    with pytest.raises(ValueError, match="not a blob reference"):
        LocalBlobStore(tmp_path).get(ref)


def test_says_the_blob_is_damaged_when_its_content_changed(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    ref = store.put(b"[1,2,3]")
    next(path for path in tmp_path.rglob("*") if path.is_file()).write_bytes(b"[6,6,6]")
    with pytest.raises(BlobNotFound, match="damaged"):
        store.get(ref)


def test_says_which_blob_is_missing_when_it_is_not_stored(tmp_path: Path) -> None:
    with pytest.raises(BlobNotFound, match="sha256:0{64} is not in"):
        LocalBlobStore(tmp_path).get("sha256:" + "0" * 64)


def test_refuses_a_location_that_is_no_store_when_configured() -> None:
    with pytest.raises(ValueError, match="ftp:// is not a store"):
        open_blob_store("ftp://host/results")
    with pytest.raises(ValueError, match="name a bucket"):
        open_blob_store("s3:///results")


@given(JSON)
def test_resolving_gives_back_the_value_when_it_was_stored_behind_markers(value: object) -> None:
    stored: dict[str, bytes] = {}

    def put(item: object) -> dict[str, str]:
        data = msgspec.json.encode(item)
        stored[blob_ref(data)] = data
        return marker(blob_ref(data))

    wrapped = {"whole": put(value), "inside": [1, {"deep": put(value)}], "plain": value}
    assert holds_markers(wrapped)
    expected = {"whole": value, "inside": [1, {"deep": value}], "plain": value}
    assert resolve_blobs(wrapped, stored.__getitem__) == expected


def test_leaves_values_alone_when_they_hold_no_markers() -> None:
    value = {"$blob": 3, "list": [{"$blob": "x", "other": 1}]}
    assert not holds_markers(value)
    assert resolve_blobs(value, lambda ref: pytest.fail("nothing to read")) == value
