"""``rollout-token``: mint, inspect and check Rollout auth tokens from a shell."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, cast

import jwt

from . import __version__
from .errors import ConfigurationError, RolloutError
from .tokens import (
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    DEFAULT_TTL,
    MAX_TTL,
    MIN_TTL,
    RECOMMENDED_SECRET_BYTES,
    TokenIssuer,
)

if TYPE_CHECKING:
    from jwt.types import Options

__all__ = [
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_UNVERIFIED",
    "EXIT_USAGE",
    "REQUIRED_CLAIMS",
    "Diagnosis",
    "Problem",
    "diagnose",
    "main",
]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_UNVERIFIED = 3

#: The claims Rollout's guide puts in every token, all of which Rollout relies on.
REQUIRED_CLAIMS = ("iss", "sub", "iat", "exp")
ALGORITHM = "HS512"
_HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
# PyJWT 2.10+ warns when an HMAC key is shorter than the digest.
_KEY_LENGTH_WARNING: type[Warning] | None = getattr(jwt, "InsecureKeyLengthWarning", None)
CHECK_USER_ID = "rollout-token-check"


@dataclass(frozen=True)
class Problem:
    """One reason Rollout would refuse a token: a stable ``code`` and a sentence for people."""

    code: str
    message: str


@dataclass
class Diagnosis:
    """What :func:`diagnose` found out about a token."""

    header: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    signature_checked: bool = False

    @property
    def valid(self) -> bool:
        """No problem found and nothing left unchecked: Rollout would accept the token."""
        return not self.problems and not self.unchecked

    def add(self, code: str, message: str) -> None:
        self.problems.append(Problem(code, message))


def _duration(seconds: float) -> str:
    """``3725`` -> ``'1h 2m 5s'``."""
    left = round(abs(seconds))
    counts = (left // 86400, left // 3600 % 24, left // 60 % 60, left % 60)
    return " ".join(f"{n}{unit}" for n, unit in zip(counts, "dhms", strict=True) if n) or "0s"


def _number(value: object) -> float | None:
    """A JSON claim as seconds, or ``None`` if it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _timestamp(seconds: float) -> str | None:
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return None


def _when(seconds: float) -> str:
    return _timestamp(seconds) or f"{seconds:g} s after 1970"


def _options(*, signature: bool = False, claim: str | None = None) -> Options:
    """PyJWT options that check the signature, or one claim, and nothing else."""
    checks = {
        f"verify_{name}": name == claim
        for name in ("aud", "exp", "iat", "iss", "jti", "nbf", "sub")
    }
    return cast("Options", {"verify_signature": signature, "require": [], **checks})


def diagnose(
    token: str,
    *,
    client_id: str | None,
    secret: str | bytes | None,
    now: Callable[[], float] = time.time,
) -> Diagnosis:
    """Check ``token`` the way Rollout does and report every reason it would be refused."""
    result = Diagnosis()
    try:
        decoded = jwt.decode_complete(token, options=_options())
    except jwt.DecodeError as exc:
        result.add("malformed", f"malformed: this is not a JWT that can be decoded ({exc})")
        return result
    header: dict[str, Any] = decoded["header"]
    claims: dict[str, Any] = decoded["payload"]
    result.header, result.claims = header, claims

    alg = header.get("alg")
    unsigned = isinstance(alg, str) and alg.lower() == "none"
    if alg != ALGORITHM:
        shown = "'none', an unsigned token" if unsigned else "missing" if alg is None else repr(alg)
        result.add(
            "algorithm", f"not {ALGORITHM}: alg is {shown}; Rollout only accepts {ALGORITHM}"
        )

    if secret is None:
        result.unchecked.append(
            f"signature: not checked, no client secret (set {CLIENT_SECRET_ENV} or use --secret-file)"
        )
    elif alg in _HMAC_ALGORITHMS:
        # An HS256 token signed with the right secret still tells that the secret is right.
        try:
            with warnings.catch_warnings():
                if _KEY_LENGTH_WARNING is not None:
                    warnings.simplefilter("ignore", _KEY_LENGTH_WARNING)
                jwt.decode(token, secret, algorithms=[alg], options=_options(signature=True))
        except jwt.InvalidSignatureError:
            result.add(
                "signature",
                "wrong signature: the token was not signed with this client secret "
                "(is the secret right, and for this client id?)",
            )
        except jwt.InvalidTokenError as exc:
            result.add("malformed", f"malformed: PyJWT cannot verify it ({exc})")
        else:
            result.signature_checked = True
    elif not unsigned:  # "none" has no signature
        result.unchecked.append(f"signature: not checked, alg {alg!r} is not an HMAC algorithm")

    missing = [name for name in REQUIRED_CLAIMS if claims.get(name) in (None, "")]
    for name in missing:
        result.add(
            "missing_claim",
            f"missing claim: {name!r} (Rollout's tokens carry {', '.join(REQUIRED_CLAIMS)})",
        )

    untimed = [n for n in ("exp", "iat") if n not in missing and _number(claims[n]) is None]
    for name in untimed:
        result.add(
            "malformed",
            f"malformed claim: {name} must be a number of seconds, got {claims[name]!r}",
        )

    # One PyJWT check per claim, so that each failure is reported on its own.
    current = now()
    for name in ("exp", "iat", "sub", "iss"):
        if name in missing or name in untimed:
            continue
        if name == "iss" and client_id is None:
            result.unchecked.append(
                f"issuer: not checked, no client id (set {CLIENT_ID_ENV} or use --client-id)"
            )
            continue
        try:
            jwt.decode(token, options=_options(claim=name), issuer=client_id)
        except jwt.ExpiredSignatureError:
            exp = float(claims["exp"])
            result.add("expired", f"expired {_duration(current - exp)} ago, at {_when(exp)}")
        except jwt.ImmatureSignatureError:
            iat = float(claims["iat"])
            result.add(
                "iat_future",
                f"issued in the future: iat is {_duration(iat - current)} ahead of this machine's "
                f"clock ({_when(iat)}); the minting server's clock is off by at least that much",
            )
        except jwt.InvalidIssuerError:
            result.add(
                "issuer",
                f"wrong issuer: iss is {claims['iss']!r}, but this client id is {client_id!r}",
            )
        except jwt.InvalidTokenError as exc:
            if name == "sub":
                result.add("subject", f"bad subject: {exc}")
            else:
                result.add("malformed", f"malformed claim: {exc}")
    return result


@dataclass(frozen=True)
class _Credentials:
    client_id: str | None
    client_id_source: str
    secret: str | bytes | None = field(repr=False)
    secret_source: str


def _read_secret_file(path: str, stdin: TextIO) -> bytes:
    try:
        if path == "-":
            data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
        else:
            data = Path(path).read_bytes()
    except OSError as exc:
        # Only the reason: the path is not echoed, in case a secret was passed as one by mistake.
        raise ConfigurationError(f"cannot read the --secret-file: {exc.strerror or exc}") from None
    # `echo "$SECRET" > file` adds one line break; that is not part of the secret.
    if data.endswith(b"\n"):
        data = data[:-2] if data.endswith(b"\r\n") else data[:-1]
    if not data:
        raise ConfigurationError("the --secret-file is empty")
    return data


def _credentials(
    args: argparse.Namespace, environ: Mapping[str, str], stdin: TextIO
) -> _Credentials:
    """Each setting from its option, else from its environment variable when that is not empty."""
    client_id, id_source = args.client_id, "--client-id"
    if client_id is None:
        client_id, id_source = environ.get(CLIENT_ID_ENV) or None, f"${CLIENT_ID_ENV}"
    secret: str | bytes | None
    if args.secret_file is None:
        secret, secret_source = environ.get(CLIENT_SECRET_ENV) or None, f"${CLIENT_SECRET_ENV}"
    else:
        secret, secret_source = _read_secret_file(args.secret_file, stdin), "--secret-file"
    return _Credentials(client_id, id_source, secret, secret_source)


def _cmd_mint(args: argparse.Namespace, creds: _Credentials, stdin: TextIO) -> int:
    if creds.client_id is None:
        raise ConfigurationError(f"no client id: set {CLIENT_ID_ENV} or pass --client-id")
    if creds.secret is None:
        raise ConfigurationError(
            f"no client secret: set {CLIENT_SECRET_ENV} or pass --secret-file PATH"
        )
    issued = TokenIssuer(creds.client_id, creds.secret, ttl=args.ttl).issue(args.user_id)
    body = {"token": issued.token, "expires_at": issued.expires_at, "expires_in": issued.expires_in}
    print(json.dumps(body) if args.json else issued.token)
    return EXIT_OK


def _cmd_inspect(args: argparse.Namespace, creds: _Credentials, stdin: TextIO) -> int:
    token = (stdin.read() if args.token == "-" else args.token).strip()
    if token[:7].lower() == "bearer ":  # pasted from an Authorization header
        token = token[7:].strip()
    started = time.time()
    found = diagnose(token, client_id=creds.client_id, secret=creds.secret, now=lambda: started)
    claims = found.claims or {}
    exp, iat = _number(claims.get("exp")), _number(claims.get("iat"))
    status = "valid" if found.valid else "invalid" if found.problems else "unverified"
    code = {"valid": EXIT_OK, "invalid": EXIT_INVALID, "unverified": EXIT_UNVERIFIED}[status]

    if args.json:
        report = {
            "status": status,
            "valid": found.valid,
            "header": found.header,
            "claims": found.claims,
            "expires_in": None if exp is None else int(exp - started),
            "problems": [asdict(problem) for problem in found.problems],
            "unchecked": found.unchecked,
        }
        print(json.dumps(report, indent=2))
        return code

    if found.claims is not None:  # and so the header
        print(f"header:    {json.dumps(found.header)}")
        print(f"claims:    {json.dumps(found.claims)}")
    if iat is not None and (issued := _timestamp(iat)):
        when = "ago" if iat <= started else "from now"
        print(f"issued:    {issued} ({_duration(started - iat)} {when})")
    if exp is not None and (expires := _timestamp(exp)):
        left = exp - started
        span = f"{_duration(left)} left" if left > 0 else f"expired {_duration(left)} ago"
        print(f"expires:   {expires} ({span})")
        if iat is not None:
            print(f"lifetime:  {_duration(exp - iat)}")
    if found.signature_checked:
        print(f"signature: good (checked with the secret from {creds.secret_source})")
    if found.valid:
        print(f"verdict:   VALID: Rollout would accept this token for sub {claims['sub']!r}")
    elif found.problems:
        print("verdict:   INVALID: Rollout would refuse this token:")
    else:
        print("verdict:   UNVERIFIED: no problem found, but not everything could be checked:")
    for problem in found.problems:
        print(f"  - {problem.message}")
    for note in found.unchecked:
        print(f"  ? {note}")
    return code


def _cmd_check(args: argparse.Namespace, creds: _Credentials, stdin: TextIO) -> int:
    marks = []

    def line(mark: str, text: str) -> None:
        marks.append(mark)
        print(f"[{mark}] {text}")

    slip = "starts or ends with whitespace (a copy-and-paste slip?)"
    if creds.client_id is None:
        line(
            "FAIL", f"client id: not set ({CLIENT_ID_ENV} is missing or empty; or pass --client-id)"
        )
    else:
        line("ok", f"client id: {creds.client_id!r} (from {creds.client_id_source})")
        if creds.client_id != creds.client_id.strip():
            line("warn", f"client id: {slip}")

    if creds.secret is None:
        line(
            "FAIL",
            f"client secret: not set ({CLIENT_SECRET_ENV} is missing or empty; or pass --secret-file)",
        )
    else:
        raw = creds.secret.encode() if isinstance(creds.secret, str) else creds.secret
        source, size = creds.secret_source, f"{len(raw)} bytes"
        if len(raw) >= RECOMMENDED_SECRET_BYTES:
            line(
                "ok",
                f"client secret: set (from {source}), {size}, at least the "
                f"{RECOMMENDED_SECRET_BYTES} bytes PyJWT recommends for {ALGORITHM}",
            )
        else:
            line(
                "warn",
                f"client secret: set (from {source}), but only {size}; PyJWT recommends at least "
                f"{RECOMMENDED_SECRET_BYTES} for {ALGORITHM}. Rollout chooses the secret, so tokens "
                "are still signed with it; check you copied all of it",
            )
        if raw != raw.strip():
            line("warn", f"client secret: {slip}")

    if creds.client_id is None or creds.secret is None:
        line("skip", "round trip: needs both the client id and the client secret")
    else:
        try:
            token = TokenIssuer(creds.client_id, creds.secret).mint(args.user)
        except RolloutError as exc:
            line("FAIL", f"round trip: cannot mint a token: {exc}")
        else:
            found = diagnose(token, client_id=creds.client_id, secret=creds.secret)
            if found.valid:
                line(
                    "ok",
                    f"round trip: minted a token for {args.user!r}, and PyJWT verified it "
                    f"({ALGORITHM} signature, iss, sub, iat, exp)",
                )
            else:
                reasons = "; ".join(p.message for p in found.problems) or "; ".join(found.unchecked)
                line("FAIL", f"round trip: the minted token does not verify: {reasons}")

    print("configuration FAILED" if "FAIL" in marks else "configuration OK")
    return EXIT_INVALID if "FAIL" in marks else EXIT_OK


#: Each prints to sys.stdout (main redirects it) and returns the exit status.
_COMMANDS = {"mint": _cmd_mint, "inspect": _cmd_inspect, "check": _cmd_check}


class _RefuseSecret(argparse.Action):
    """``--secret VALUE``: refused, without echoing the value."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object, **__: object) -> NoReturn:
        parser.error(
            "the client secret is never taken from the command line (it would stay in your shell "
            f"history and in the process list); set {CLIENT_SECRET_ENV} or use --secret-file PATH"
        )


def _ttl(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {text!r}") from None
    if not MIN_TTL <= value <= MAX_TTL:
        raise argparse.ArgumentTypeError(
            f"must be from {MIN_TTL} to {MAX_TTL} seconds, got {value}"
        )
    return value


def _common_options(default: object) -> argparse.ArgumentParser:
    """The credential options, accepted before or after the command."""
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False, argument_default=default)
    group = common.add_argument_group("credentials")
    group.add_argument(
        "--client-id", metavar="ID", help=f"the Rollout client id (default: ${CLIENT_ID_ENV})"
    )
    group.add_argument(
        "--secret-file",
        metavar="PATH",
        help=f"read the client secret from PATH, '-' for standard input; one trailing line break is "
        f"ignored (default: ${CLIENT_SECRET_ENV}). The secret itself is never accepted on the command line.",
    )
    for refused in ("--secret", "--client-secret"):
        group.add_argument(refused, action=_RefuseSecret, nargs="?", help=argparse.SUPPRESS)
    return common


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The ``rollout-token`` argument parser."""
    parser = argparse.ArgumentParser(
        prog=prog or "rollout-token",
        description="Mint, inspect and check Rollout auth tokens (HS512 JWTs: iss=client id, "
        "sub=user id, iat, exp).",
        epilog=f"Credentials come from ${CLIENT_ID_ENV} and ${CLIENT_SECRET_ENV}, or --client-id and "
        "--secret-file. Exit status: 0 success, 1 invalid token or failed check, 2 usage or "
        "configuration error, 3 token not fully checked (no secret or client id).",
        parents=[_common_options(None)],
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    command = functools.partial(
        commands.add_parser, parents=[_common_options(argparse.SUPPRESS)], allow_abbrev=False
    )

    mint = command(
        "mint",
        help="print a new token for a user",
        description="Mint a token for USER_ID and print it, ready for "
        'curl -H "Authorization: Bearer $(rollout-token mint USER_ID)".',
    )
    mint.add_argument("user_id", metavar="USER_ID", help="the user id, the token's sub claim")
    mint.add_argument(
        "--ttl",
        type=_ttl,
        default=DEFAULT_TTL,
        metavar="N",
        help=f"lifetime in seconds, {MIN_TTL} to {MAX_TTL} (default: {DEFAULT_TTL})",
    )
    mint.add_argument(
        "--json",
        action="store_true",
        help='print {"token", "expires_at", "expires_in"}, as the token endpoint answers',
    )

    inspect = command(
        "inspect",
        help="decode a token and tell why Rollout would refuse it",
        description="Print the token's header, claims and time left, and every reason Rollout would "
        "refuse it: malformed, not HS512 (alg none included), wrong signature, expired, iat in the "
        "future, iss not this client id, missing claims. Without a client secret the token is "
        "still decoded, and the signature is reported as not checked (exit status 3). "
        "Exit status: 0 valid, 1 invalid, 3 not fully checked.",
    )
    inspect.add_argument(
        "token",
        metavar="TOKEN",
        help="the token; '-' reads it from standard input; a leading 'Bearer ' is ignored",
    )
    inspect.add_argument("--json", action="store_true", help="print the findings as JSON")

    check = command(
        "check",
        help="validate the configuration without printing the secret",
        description="Check that the client id and secret are set, compare the secret's length with "
        f"PyJWT's {RECOMMENDED_SECRET_BYTES}-byte recommendation for HS512, and mint a token and "
        "verify it. The secret is never printed. Exit status: 0 sound, 1 a check failed.",
    )
    check.add_argument(
        "--user",
        default=CHECK_USER_ID,
        metavar="USER_ID",
        help=f"the user id of the round-trip token (default: {CHECK_USER_ID})",
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str | None = None,
    environ: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run ``rollout-token`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    environ = os.environ if environ is None else environ
    stdin, stderr = stdin or sys.stdin, stderr or sys.stderr
    parser = build_parser(prog)
    with contextlib.redirect_stdout(stdout or sys.stdout):
        try:
            with contextlib.redirect_stderr(stderr):
                args = parser.parse_args(argv)
            found = tuple(int(part) for part in jwt.__version__.split(".")[:2])
            if args.command != "mint" and found < (2, 10):  # verify_sub is new in 2.10
                raise ConfigurationError(
                    f"{args.command} needs PyJWT 2.10 or newer, and this environment has "
                    f"{jwt.__version__}: pip install 'PyJWT>=2.10' (minting and serving tokens work "
                    "with 2.8)"
                )
            return _COMMANDS[args.command](args, _credentials(args, environ, stdin), stdin)
        except SystemExit as exc:  # --help, --version and usage errors
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        except RolloutError as exc:
            print(f"{parser.prog}: error: {exc}", file=stderr)
            return EXIT_USAGE
