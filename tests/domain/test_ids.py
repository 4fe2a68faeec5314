"""Public ids: the documented shape, unique, and never mistaken for a command-line option."""

from __future__ import annotations

from tidings.domain.ids import looks_like_uid, new_uid, new_uids


def test_ids_have_the_documented_shape_and_do_not_repeat() -> None:
    made = new_uids(20_000) + [new_uid() for _ in range(1_000)]
    assert all(looks_like_uid(uid) for uid in made)
    assert len(set(made)) == len(made)


def test_no_id_starts_with_a_dash() -> None:
    # One base64 character in 64 is "-": 20,000 ids would hold about 300 such starts.
    made = new_uids(20_000)
    assert not [uid for uid in made if uid.startswith("-")]
    assert any(uid.startswith("_") for uid in made)  # the replacement keeps the alphabet
