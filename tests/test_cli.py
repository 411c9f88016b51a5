"""The ``rollout-token`` command, run through its entry points.

Each behaviour runs through the installed console script in a subprocess, and most of them also
in-process through :func:`rollout_middleware.cli.main` (fast, and measured by coverage). Every run
asserts that no client secret in play appears on stdout or stderr. Bad tokens are made with PyJWT
and ``cryptography`` here, independently of :class:`~rollout_middleware.tokens.TokenIssuer`.
"""

from __future__ import annotations

import io
import json
import os
import re
import runpy
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from rollout_middleware.cli import main
from rollout_middleware.tokens import RECOMMENDED_SECRET_BYTES, TokenIssuer
from tests.support import CLIENT_ID, SECRET, b64url_decode, suite_only_dir, verify_token

#: ``inspect`` and ``check`` need PyJWT 2.10; ``nox -s oldest`` pins 2.8, where the CLI says so
#: (tests/test_cli_pyjwt.py) and these are skipped.
pytestmark = pytest.mark.skipif(
    tuple(int(p) for p in jwt.__version__.split(".")[:2]) < (2, 10),
    reason="the CLI's inspect and check need PyJWT 2.10",
)

SCRIPT = Path(sys.executable).with_name("rollout-token")
OTHER_SECRET = "another-secret-" + "y" * 49  # 64 bytes, so PyJWT does not warn
SHORT_SECRET = "short-secret-9"
ALL_SECRETS = (SECRET, OTHER_SECRET, SHORT_SECRET)
ENV = {"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}
# A fixed moment long past, so that expiry messages are exact.
PAST = 1_000_000_000
PAST_TEXT = "2001-09-09 01:46:40 UTC"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run(
    args: Sequence[str],
    *,
    env: Mapping[str, str] = ENV,
    via: str = "script",
    stdin: str = "",
) -> Result:
    """Run ``rollout-token args`` with exactly ``env`` as its Rollout settings."""
    if via == "in-process":
        out, err = io.StringIO(), io.StringIO()
        code = main(list(args), environ=dict(env), stdin=io.StringIO(stdin), stdout=out, stderr=err)
        result = Result(code, out.getvalue(), err.getvalue())
    else:
        argv = [str(SCRIPT)] if via == "script" else [sys.executable, "-m", "rollout_middleware"]
        base = {k: v for k, v in os.environ.items() if not k.startswith("ROLLOUT_")}
        proc = subprocess.run(
            [*argv, *args],
            env={**base, **env},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=suite_only_dir(),
            check=False,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
    for secret in ALL_SECRETS:
        assert secret not in result.out, "a secret was printed on stdout"
        assert secret not in result.err, "a secret was printed on stderr"
    return result


def test_console_script_is_installed() -> None:
    assert SCRIPT.is_file(), f"{SCRIPT} is missing: pip install -e . installs it"


both = pytest.mark.parametrize("via", ["script", "in-process"])
in_process = pytest.mark.parametrize("via", ["in-process"])


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"iss": CLIENT_ID, "sub": "user-1", "iat": now, "exp": now + 900}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def encode(payload: dict[str, Any], key: Any = SECRET, algorithm: str = "HS512") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


# -- mint ------------------------------------------------------------------------------------------


@both
def test_mint_prints_a_token_rollout_accepts(via: str) -> None:
    result = run(["mint", "user-42"], via=via)
    assert result.code == 0, result.err
    token = result.out.strip()
    assert result.out == token + "\n"
    assert verify_token(token)["sub"] == "user-42"


@in_process
def test_mint_json_is_the_endpoint_body(via: str) -> None:
    result = run(["mint", "user-42", "--ttl", "120", "--json"], via=via)
    assert result.code == 0, result.err
    body = result.json()
    assert list(body) == ["token", "expires_at", "expires_in"]
    token_claims = verify_token(body["token"], ttl=120)
    assert body["expires_in"] == 120
    assert body["expires_at"] == token_claims["exp"]


def test_mint_through_python_dash_m() -> None:
    result = run(["mint", "7"], via="module")
    assert result.code == 0, result.err
    assert verify_token(result.out.strip())["sub"] == "7"


@in_process
@pytest.mark.parametrize("ttl", ["0", "3601", "ten", "-5"])
def test_mint_refuses_a_bad_ttl(via: str, ttl: str) -> None:
    result = run(["mint", "u", "--ttl", ttl], via=via)
    assert result.code == 2
    assert result.out == ""
    assert "--ttl" in result.err


@in_process
def test_mint_refuses_a_bad_user_id(via: str) -> None:
    result = run(["mint", "   "], via=via)
    assert result.code == 2
    assert result.out == ""
    assert "rollout-token: error: user id must not be empty" in result.err


@in_process
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ROLLOUT_CLIENT_ID": CLIENT_ID}, "no client secret: set ROLLOUT_CLIENT_SECRET"),
        ({"ROLLOUT_CLIENT_SECRET": SECRET}, "no client id: set ROLLOUT_CLIENT_ID"),
        ({**ENV, "ROLLOUT_CLIENT_SECRET": ""}, "no client secret"),
    ],
)
def test_mint_without_credentials_fails(via: str, env: dict[str, str], message: str) -> None:
    result = run(["mint", "u"], env=env, via=via)
    assert result.code == 2
    assert result.out == ""
    assert message in result.err


@both
def test_client_id_option_and_secret_file(via: str, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(OTHER_SECRET + "\n")  # as `echo "$SECRET" > file` writes it
    # Options go before or after the command; the file wins over the environment.
    for args in (
        ["--client-id", "other-client", "--secret-file", str(secret_file), "mint", "u"],
        ["mint", "u", "--client-id", "other-client", "--secret-file", str(secret_file)],
    ):
        result = run(args, via=via)
        assert result.code == 0, result.err
        verify_token(result.out.strip(), secret=OTHER_SECRET, client_id="other-client")


@both
def test_secret_file_from_stdin(via: str) -> None:
    result = run(
        ["mint", "u", "--secret-file", "-"],
        env={"ROLLOUT_CLIENT_ID": CLIENT_ID},
        via=via,
        stdin=OTHER_SECRET + "\r\n",
    )
    assert result.code == 0, result.err
    verify_token(result.out.strip(), secret=OTHER_SECRET)


@in_process
def test_secret_file_errors(via: str, tmp_path: Path) -> None:
    missing = run(["mint", "u", "--secret-file", str(tmp_path / "nope")], via=via)
    assert missing.code == 2
    assert "cannot read the --secret-file: No such file or directory" in missing.err
    assert str(tmp_path) not in missing.err  # the path could be a mistyped secret
    empty = tmp_path / "empty"
    empty.write_text("\n")
    result = run(["mint", "u", "--secret-file", str(empty)], via=via)
    assert result.code == 2
    assert "the --secret-file is empty" in result.err


@pytest.mark.parametrize(
    ("args", "via"),
    [
        (["mint", "u", "--secret", OTHER_SECRET], "script"),
        (["mint", "u", "--secret", OTHER_SECRET], "in-process"),
        (["mint", "u", f"--secret={OTHER_SECRET}"], "in-process"),
        (["--client-secret", OTHER_SECRET, "mint", "u"], "in-process"),
        (["check", "--secret", OTHER_SECRET], "in-process"),
        # Without allow_abbrev=False, argparse would read this as --secret-file and print the
        # "path" in its error message.
        (["inspect", "x.y.z", "--secret", OTHER_SECRET], "script"),
    ],
)
def test_secret_is_never_taken_from_the_command_line(via: str, args: list[str]) -> None:
    result = run(args, via=via)  # run() asserts OTHER_SECRET is not echoed
    assert result.code == 2
    assert result.out == ""
    assert "never taken from the command line" in result.err
    assert "ROLLOUT_CLIENT_SECRET" in result.err


# -- help, usage -----------------------------------------------------------------------------------


def test_help_reads_well() -> None:
    result = run(["--help"])
    assert result.code == 0
    for text in ("mint", "inspect", "check", "--client-id", "--secret-file", "Exit status"):
        assert text in result.out
    assert result.out.startswith("usage: rollout-token")
    for command in ("mint", "inspect", "check"):
        sub = run([command, "--help"], via="in-process")
        assert sub.code == 0
        assert sub.out.startswith(f"usage: rollout-token {command}")
        assert "--secret-file" in sub.out


def test_module_help_names_itself() -> None:
    result = run(["--help"], via="module")
    assert result.code == 0
    assert result.out.startswith("usage: python -m rollout_middleware")


@in_process
def test_usage_errors_go_to_stderr(via: str) -> None:
    for args in ([], ["frobnicate"], ["mint"], ["inspect"]):
        result = run(args, via=via)
        assert result.code == 2
        assert result.out == ""
        assert "usage: rollout-token" in result.err


def test_python_dash_m_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["rollout_middleware", "--version"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("rollout_middleware", run_name="__main__")
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("python -m rollout_middleware 0.")


def test_version() -> None:
    result = run(["--version"], via="in-process")
    assert result.code == 0
    assert result.out.startswith("rollout-token 0.")


# -- inspect ---------------------------------------------------------------------------------------


def inspect(token: str, *, env: Mapping[str, str] = ENV) -> tuple[Result, Any]:
    """``inspect`` through the console script, and in-process as text and JSON; all must agree.

    Returns the console script's result and the JSON report.
    """
    text = run(["inspect", token], env=env)
    local = run(["inspect", token], env=env, via="in-process")
    as_json = run(["inspect", token, "--json"], env=env, via="in-process")
    assert text.code == local.code == as_json.code
    assert text.err == local.err == as_json.err == ""
    report = as_json.json()
    for problem in report["problems"]:
        # The runs are moments apart: durations may differ by a second.
        line = timeless(f"  - {problem['message']}\n")
        assert line in timeless(text.out)
        assert line in timeless(local.out)
    for note in report["unchecked"]:
        assert f"  ? {note}\n" in text.out
        assert f"  ? {note}\n" in local.out
    return text, report


def timeless(text: str) -> str:
    return re.sub(r"\d+[dhms]( \d+[dhms])*", "<duration>", text)


def codes(report: Any) -> list[str]:
    return [p["code"] for p in report["problems"]]


def test_inspect_valid_token() -> None:
    token = TokenIssuer(CLIENT_ID, SECRET).mint("user-1")
    result, report = inspect(token)
    assert result.code == 0, result.out
    assert report["status"] == "valid"
    assert report["valid"] is True
    assert report["header"] == {"alg": "HS512", "typ": "JWT"}
    assert report["claims"] == json.loads(b64url_decode(token.split(".")[1]))
    assert 880 <= report["expires_in"] <= 900
    assert 'header:    {"alg": "HS512", "typ": "JWT"}' in result.out
    assert '"sub": "user-1"' in result.out
    assert "left)" in result.out
    assert "lifetime:  15m" in result.out
    assert "signature: good (checked with the secret from $ROLLOUT_CLIENT_SECRET)" in result.out
    assert "verdict:   VALID: Rollout would accept this token for sub 'user-1'" in result.out


def test_inspect_wrong_signature() -> None:
    result, report = inspect(encode(claims(), OTHER_SECRET))
    assert result.code == 1
    assert codes(report) == ["signature"]
    assert "INVALID" in result.out
    assert "wrong signature" in result.out
    assert "is the secret right" in result.out


def test_inspect_hs256_token() -> None:
    result, report = inspect(encode(claims(), algorithm="HS256"))
    assert result.code == 1
    assert codes(report) == ["algorithm"]
    assert "not HS512: alg is 'HS256'; Rollout only accepts HS512" in result.out
    # Signed with the right secret, which is worth knowing.
    assert "signature: good" in result.out


def test_inspect_alg_none() -> None:
    result, report = inspect(jwt.encode(claims(), None, algorithm="none"))
    assert result.code == 1
    assert codes(report) == ["algorithm"]
    assert "alg is 'none', an unsigned token" in result.out
    assert "signature: good" not in result.out


def test_inspect_asymmetric_algorithm() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    result, report = inspect(encode(claims(), key, algorithm="ES256"))
    assert result.code == 1
    assert codes(report) == ["algorithm"]
    assert "alg is 'ES256'" in result.out
    assert report["unchecked"] == ["signature: not checked, alg 'ES256' is not an HMAC algorithm"]


def test_inspect_expired_says_since_when() -> None:
    result, report = inspect(encode(claims(iat=PAST - 900, exp=PAST)))
    assert result.code == 1
    assert codes(report) == ["expired"]
    message = report["problems"][0]["message"]
    assert message.startswith("expired ")
    assert message.endswith(f" ago, at {PAST_TEXT}")
    years = (time.time() - PAST) / 86400
    assert f"expired {int(years)}d" in message or f"expired {int(years) + 1}d" in message
    assert f"expires:   {PAST_TEXT} (expired " in result.out


def test_inspect_iat_in_the_future_gives_the_skew() -> None:
    iat = int(time.time()) + 3630
    result, report = inspect(encode(claims(iat=iat, exp=iat + 900)))
    assert result.code == 1
    assert codes(report) == ["iat_future"]
    message = report["problems"][0]["message"]
    # 1h 30s ahead when minted; a slow run shaves seconds off, never the hour.
    assert message.startswith("issued in the future: iat is 1h ")
    assert "ahead of this machine's clock" in message
    assert "from now)" in result.out


def test_inspect_wrong_issuer() -> None:
    result, report = inspect(encode(claims(iss="someone-else")))
    assert result.code == 1
    assert codes(report) == ["issuer"]
    assert f"iss is 'someone-else', but this client id is '{CLIENT_ID}'" in result.out


def test_inspect_missing_claims() -> None:
    result, report = inspect(encode({"iss": CLIENT_ID, "exp": int(time.time()) + 60}))
    assert result.code == 1
    assert codes(report) == ["missing_claim", "missing_claim"]
    assert "missing claim: 'sub'" in result.out
    assert "missing claim: 'iat'" in result.out


def test_inspect_subject_not_a_string() -> None:
    result, report = inspect(encode(claims(sub=42)))
    assert result.code == 1
    assert codes(report) == ["subject"]
    assert "bad subject" in result.out


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"exp": "soon"}, "malformed claim: exp must be a number of seconds, got 'soon'"),
        ({"exp": "1000"}, "malformed claim: exp must be a number of seconds, got '1000'"),
        ({"iat": [1]}, "malformed claim: iat must be a number of seconds, got [1]"),
    ],
)
def test_inspect_time_claim_not_a_number(overrides: dict[str, Any], message: str) -> None:
    result, report = inspect(encode(claims(**overrides)))
    assert result.code == 1
    assert [p["message"] for p in report["problems"]] == [message]
    assert codes(report) == ["malformed"]


def test_inspect_empty_subject_is_missing() -> None:
    _, report = inspect(encode(claims(sub="")))
    assert codes(report) == ["missing_claim"]


def test_inspect_far_away_times() -> None:
    _, report = inspect(encode(claims(iat=-1e20, exp=-1e20 + 900)))
    assert codes(report) == ["expired"]
    assert report["problems"][0]["message"].endswith("ago, at -1e+20 s after 1970")


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "a.b.c",
        "eyJhbGciOiJIUzUxMiJ9.WzEsMl0.c2ln",  # payload is a JSON array
        "",
    ],
)
def test_inspect_malformed(token: str) -> None:
    result, report = inspect(token)
    assert result.code == 1
    assert codes(report) == ["malformed"]
    assert report["header"] is None
    assert "malformed: this is not a JWT that can be decoded" in result.out
    assert "header:" not in result.out


def test_inspect_reports_every_problem_at_once() -> None:
    token = encode(claims(iss="someone-else", iat=PAST - 900, exp=PAST), OTHER_SECRET)
    result, report = inspect(token)
    assert result.code == 1
    assert codes(report) == ["signature", "expired", "issuer"]


def test_inspect_without_a_secret_decodes_and_says_unchecked() -> None:
    token = TokenIssuer(CLIENT_ID, SECRET).mint("user-1")
    result, report = inspect(token, env={"ROLLOUT_CLIENT_ID": CLIENT_ID})
    assert result.code == 3
    assert report["status"] == "unverified"
    assert report["claims"]["sub"] == "user-1"
    assert report["unchecked"] == [
        "signature: not checked, no client secret (set ROLLOUT_CLIENT_SECRET or use --secret-file)"
    ]
    assert "UNVERIFIED" in result.out
    assert "signature: good" not in result.out


def test_inspect_without_a_client_id_leaves_the_issuer_unchecked() -> None:
    token = encode(claims(iss="anyone"))
    result, report = inspect(token, env={"ROLLOUT_CLIENT_SECRET": SECRET})
    assert result.code == 3
    assert codes(report) == []
    assert report["unchecked"] == [
        "issuer: not checked, no client id (set ROLLOUT_CLIENT_ID or use --client-id)"
    ]


def test_inspect_without_a_secret_still_finds_problems() -> None:
    result, report = inspect(encode(claims(exp=PAST, iat=PAST - 9)), env={})
    assert result.code == 1
    assert codes(report) == ["expired"]
    assert len(report["unchecked"]) == 2


@both
def test_inspect_reads_stdin_and_strips_bearer(via: str, tmp_path: Path) -> None:
    token = TokenIssuer(CLIENT_ID, OTHER_SECRET).mint("u")
    secret_file = tmp_path / "secret"
    secret_file.write_text(OTHER_SECRET)
    result = run(
        ["inspect", "-", "--secret-file", str(secret_file)], via=via, stdin=f"Bearer {token}\n"
    )
    assert result.code == 0, result.out
    assert "signature: good (checked with the secret from --secret-file)" in result.out


def test_inspect_through_python_dash_m() -> None:
    result = run(["inspect", encode(claims(), OTHER_SECRET)], via="module")
    assert result.code == 1
    assert "wrong signature" in result.out


def test_minted_token_inspects_as_valid_end_to_end() -> None:
    minted = run(["mint", "alice", "--ttl", "60"])
    result = run(["inspect", minted.out.strip()])
    assert result.code == 0, result.out
    assert "lifetime:  1m" in result.out


# -- check -----------------------------------------------------------------------------------------


@both
def test_check_good_configuration(via: str) -> None:
    result = run(["check"], via=via)
    assert result.code == 0, result.out
    assert f"[ok] client id: '{CLIENT_ID}' (from $ROLLOUT_CLIENT_ID)" in result.out
    assert (
        f"[ok] client secret: set (from $ROLLOUT_CLIENT_SECRET), {len(SECRET)} bytes" in result.out
    )
    assert "[ok] round trip: minted a token for 'rollout-token-check'" in result.out
    assert result.out.rstrip().endswith("configuration OK")


@in_process
def test_check_without_settings_fails(via: str) -> None:
    result = run(["check"], env={}, via=via)
    assert result.code == 1
    assert "[FAIL] client id: not set" in result.out
    assert "[FAIL] client secret: not set" in result.out
    assert "[skip] round trip" in result.out
    assert result.out.rstrip().endswith("configuration FAILED")


@in_process
def test_check_short_secret_warns(via: str) -> None:
    result = run(
        ["check", "--user", "bob"], env={**ENV, "ROLLOUT_CLIENT_SECRET": SHORT_SECRET}, via=via
    )
    assert result.code == 0
    assert (
        f"but only {len(SHORT_SECRET)} bytes; PyJWT recommends at least {RECOMMENDED_SECRET_BYTES}"
        in result.out
    )
    assert "[ok] round trip: minted a token for 'bob'" in result.out


@in_process
def test_check_whitespace_warns(via: str, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(" " + SECRET + "\n")
    result = run(["check", "--client-id", "id ", "--secret-file", str(secret_file)], via=via)
    assert result.code == 0
    assert "[warn] client id: starts or ends with whitespace" in result.out
    assert "[warn] client secret: starts or ends with whitespace" in result.out
    assert "(from --secret-file)" in result.out
    assert "(from --client-id)" in result.out


@in_process
def test_check_fails_when_no_token_can_be_minted(via: str) -> None:
    result = run(["check"], env={**ENV, "ROLLOUT_CLIENT_ID": "   "}, via=via)
    assert result.code == 1
    assert "[FAIL] round trip: cannot mint a token: the Rollout client id is empty" in result.out
