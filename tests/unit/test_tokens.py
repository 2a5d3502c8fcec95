"""The token file's format and the RPCs that need the write role."""

import pytest

from probe_server.app import SERVICES
from probe_server.tokens import Token, TokenFileError, load_tokens, match, needs_write

SECRET = "0123456789abcdef-secret"


def test_named_tokens_with_roles_and_the_bare_single_token_format(tmp_path):
    path = tmp_path / "tokens"
    path.write_text(f"# who role token\nalice write {SECRET}-a\n\nbob read {SECRET}-b  # a comment\n")
    assert load_tokens(path) == [Token("alice", "write", f"{SECRET}-a"), Token("bob", "read", f"{SECRET}-b")]
    path.write_text("s3cret\n")
    assert load_tokens(path) == [Token("default", "write", "s3cret")]
    assert SECRET not in repr(Token("x", "read", SECRET))


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "holds no token"),
        (f"alice admin {SECRET}\n", "role must be read or write"),
        ("alice write short\nbob read also-short-token-here\n", "shorter than 16"),
        (f"alice write {SECRET}\nalice read {SECRET}-2\n", "appears twice"),
        (f"alice write\nbob read {SECRET}\n", ":1: expected NAME ROLE TOKEN"),
    ],
)
def test_a_bad_token_file_is_refused_naming_the_line(tmp_path, text, message):
    path = tmp_path / "tokens"
    path.write_text(text)
    with pytest.raises(TokenFileError, match=message):
        load_tokens(path)


def test_a_binary_token_file_is_refused_as_not_text(tmp_path):
    path = tmp_path / "tokens"
    path.write_bytes(b"\xff\xfe" + bytes(range(256)))
    with pytest.raises(TokenFileError, match="is not UTF-8 text"):
        load_tokens(path)


def test_the_write_role_guards_exactly_the_calls_that_change_what_is_stored_or_run():
    methods = {m.name for service in SERVICES for m in service.methods}
    assert {m for m in methods if needs_write(m)} == {
        "SubmitJob", "CancelJob", "ResumeJob", "DeleteCheckpoint", "SubmitSweep", "CancelSweep",
        "StartReproduction", "CancelReproduction",
    }  # fmt: skip


def test_a_token_is_matched_only_by_its_exact_bearer_header():
    tokens = [Token("alice", "write", SECRET)]
    assert match(tokens, [("authorization", f"Bearer {SECRET}")]) == tokens[0]
    assert match(tokens, [("authorization", SECRET)]) is None
    assert match(tokens, [("authorization", f"Bearer {SECRET}x")]) is None
    assert match(tokens, None) is None
