"""Secrets found by their structure or their context (rules/packs/secrets.yaml) under the whole
default policy: the span is the value alone, whole private keys and long JWTs are found one-shot
and streamed, placeholders and look-alikes stay quiet. Every value here is a made-up fake."""

from __future__ import annotations

import base64
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firewall import Scanner
from firewall.policy import Policy
from tests.conftest import KEY

RNG = random.Random(20261203)
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
B64URL = B64[:-2] + "-_"


def _random(alphabet: str, n: int) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def _pem(kind: str, prefix: str, length: int = 1600, armour: str = "BEGIN") -> str:
    body = prefix + _random(B64, length - len(prefix))
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----{armour} {kind}PRIVATE KEY-----\n{lines}\n-----END {kind}PRIVATE KEY-----"


def _b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


RSA_PEM = _pem("RSA ", "MIIEpAIBAAKCAQEA")
PKCS8_PEM = _pem("", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ", 1700)
OPENSSH_PEM = _pem("OPENSSH ", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ", 420)
RS256_JWT = ".".join([
    _b64url({"alg": "RS256", "typ": "JWT", "kid": "2024-09-key"}),
    _b64url({"iss": "https://login.acme.io", "sub": "svc-42", "aud": "api", "exp": 1733203600}),
    _random(B64URL, 342),
])


@pytest.fixture(scope="module")
def scanner(policy: Policy) -> Scanner:
    return Scanner(policy, key=KEY)


def secret_findings(scanner: Scanner, text: str) -> list:
    return [f for f in scanner.scan(text).findings if f.label == "SECRET"]


# --- context secrets: every syntax, the value alone ---------------------------------------------

CONTEXT = [
    ('password = "Xk9fQ2mLp7Rt"', "Xk9fQ2mLp7Rt"),
    ("if api_key == 'f0b0947c5eba021711473613ef6c2e0e':", "f0b0947c5eba021711473613ef6c2e0e"),
    ('if (token !== "Zq8w3Lx0Rt5vNb2Kd7Fh") {', "Zq8w3Lx0Rt5vNb2Kd7Fh"),
    ("db_password = `Gq7#mR2pXz9w`", "Gq7#mR2pXz9w"),
    ('var cs = new Conn(Password = @"Pr0d!Db#2024");', "Pr0d!Db#2024"),
    ('password_super_secure = "Gq7#mR2pXz"', "Gq7#mR2pXz"),
    ('apikey_myservice: "k29XfLq0Pz8Rw"', "k29XfLq0Pz8Rw"),
    ("db_pass: mQ4xZ9rT2w", "mQ4xZ9rT2w"),
    ('private_key: "9b8c7d6e5f4a3b2c1d0e9f8a"', "9b8c7d6e5f4a3b2c1d0e9f8a"),
    ("Authorization: Bearer 8f3kQz9LmX2pWv7Rt4YbN6cJ1hD5sGa0", "8f3kQz9LmX2pWv7Rt4YbN6cJ1hD5sGa0"),
    ('-H "Authorization: Basic ZGVwbG95OlQwazNuOXhGQUtF"', "ZGVwbG95OlQwazNuOXhGQUtF"),
    ("curl -u admin:Xk9fQ2mLp7Rt https://api.acme.io/v1/status", "Xk9fQ2mLp7Rt"),
    ("DB_PASSWORD=S3cr3tP@ssw0rd!", "S3cr3tP@ssw0rd!"),  # env
    ("[database]\npassword = Tr0ub4dor3x!", "Tr0ub4dor3x!"),  # INI
    ('[service]\napi_key = "Lq2Wm5Nv9Xc3Bt7H"', "Lq2Wm5Nv9Xc3Bt7H"),  # TOML
    ("database:\n  password: Wint3r-Is-C0ming!", "Wint3r-Is-C0ming!"),  # YAML
    ('{"client_secret": "nCYkWpmcxWZYdJlMP8fjx78V"}', "nCYkWpmcxWZYdJlMP8fjx78V"),  # JSON
    ("Server=tcp:sql.acme.io;User Id=app;Password=Pr0d!Db#24;", "Pr0d!Db#24"),
    ("<password>Sm7pP4ss!2</password>", "Sm7pP4ss!2"),
    ("The password is Wint3r-Is-C0ming!", "Wint3r-Is-C0ming!"),
    ("**Password:** Vb8nT3kLq5Zw", "Vb8nT3kLq5Zw"),  # markdown bold
    ('$env:API_KEY = "Zq8w3Lx0Rt5vNb2Kd7Fh"', "Zq8w3Lx0Rt5vNb2Kd7Fh"),  # PowerShell
    ("STRIPE_KEY=Zq8w3Lx0Rt5vNb2Kd7Fh", "Zq8w3Lx0Rt5vNb2Kd7Fh"),  # any *_KEY
    ("DB_PW=Vb8nT3kLq5Zw", "Vb8nT3kLq5Zw"),
    ("define( 'DB_PASSWORD',   'FalconPrincess197!' );", "FalconPrincess197!"),  # a call's arguments
    ('password = "CorrectHorseBatteryStaple"', "CorrectHorseBatteryStaple"),  # a person's choice
    ("<Password>Sm7pP4ss!2</Password>", "Sm7pP4ss!2"),  # the whole value, up to the tag
    ("password=Xq7mR2pLz9&user=admin&host=db01", "Xq7mR2pLz9"),  # a form body
    ("Das Passwort lautet Vb8nT3kLq5Zw", "Vb8nT3kLq5Zw"),
    ("db.prod.internal:5432:orders:app_rw:Max1983!!", "Max1983!!"),  # .pgpass
    ("CREATE USER 'report'@'%' IDENTIFIED BY 'Velv3t#58';", "Velv3t#58"),
    ('var c = new NetworkCredential("svc-alerts", "5406u6n-h&uS6Uc");', "5406u6n-h&uS6Uc"),
]


@pytest.mark.parametrize(("text", "value"), CONTEXT)
def test_context_secret_is_found_and_only_its_value_is_covered(scanner: Scanner, text: str, value: str) -> None:
    verdict = scanner.scan(text)
    assert value not in verdict.text
    findings = secret_findings(scanner, text)
    assert findings, text
    start = text.index(value)
    assert any(f.start == start and f.end == start + len(value) for f in findings), (text, findings)
    prefix = text[:start]
    assert verdict.text.startswith(prefix)  # key, operator, quotes and scheme stay visible


QUIET_CONTEXT = [
    "password: string", "token = None", 'password = os.environ["DB_PASSWORD"]', "password: ********",
    'api_key: "YOUR_API_KEY_HERE"', "DB_PASSWORD=${DB_PASSWORD}", "  apiKey: process.env.OPENAI_API_KEY!,",
    "max_tokens: 4096", 'token_type: "Bearer"', "password = get_password()", "api_key: str = Field(...)",
    "Authorization: Bearer <token>", "Send it as a Bearer token in the Authorization header.",
    "password_hash = '$2b$12$KIXQJ8fV6mYz3rW1pT9uOe'", "secret: true", "passenger_count: 2024",
    # found by a red team: names, references and settings under secret-named keys
    "token_budget = 200_000", 'token_counter = "cl100k_base"', "credentials: aws-prod-01",
    "api_key_owner: svc-billing-01", "secret: prod/db/credentials-v2", "token_audience: api://7f3c2a1b-acme",
    'password_digest: "$2a$12$KIXQJ8fV6mYz3rW1pT9uOe"', 'password: "%env(DB_PASSWORD)%"',
    '"Password": "@Microsoft.KeyVault(VaultName=kv-prod;SecretName=DbPassword)"', "password: !GetAtt DbSecret.Password",
    "gcloud secrets versions access latest --secret=stripe-api-key --project=billing-prod",
    '"Resource": "arn:aws:secretsmanager:eu-west-1:086424469881:secret:prod/db/credentials-dCUcb0"',
    'data={"username": "alice", "password": "wrong-password"}', "self.passwd = password_mgr",
    "'HTTPPasswordMgrWithPriorAuth', 'AbstractBasicAuthHandler',",
]


@pytest.mark.parametrize("text", QUIET_CONTEXT)
def test_context_without_a_credential_stays_quiet(scanner: Scanner, text: str) -> None:
    assert secret_findings(scanner, text) == []


# --- URL passwords ---------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["p#ss*w^rd!", "Gx%40m9%23Lq2%21", "a@b:c!9Zq", "Xk9fQ2mLp7Rt"])
def test_url_password_with_any_characters_is_the_span_and_the_host_stays(scanner: Scanner, password: str) -> None:
    text = f"DATABASE_URL=postgresql://etl:{password}@db.acme.io:5432/warehouse"
    verdict = scanner.scan(text)
    assert verdict.text == "DATABASE_URL=postgresql://etl:[SECRET:password]@db.acme.io:5432/warehouse"
    assert "EMAIL" not in {f.label for f in verdict.findings}


# --- whole private keys ----------------------------------------------------------------------

@pytest.mark.parametrize("pem", [RSA_PEM, PKCS8_PEM, OPENSSH_PEM], ids=["rsa", "pkcs8", "openssh"])
def test_private_key_block_is_found_whole_and_blocks(scanner: Scanner, pem: str) -> None:
    text = f"Here is the key:\n\n{pem}\n\nKeep it safe."
    findings = [f for f in secret_findings(scanner, text) if f.rule == "private-key-block"]
    start = text.index("-----BEGIN")
    assert [(f.start, f.end) for f in findings] == [(start, start + len(pem))]
    verdict = scanner.scan(text)
    assert verdict.action == "block" and "MII" not in verdict.text and "b3Bl" not in verdict.text


@pytest.mark.parametrize(
    "text",
    [
        RSA_PEM.replace("BEGIN RSA", "BEGIN  RSA"),  # odd spacing in the armour
        RSA_PEM.rsplit("-----END", 1)[0],  # cut before its END line
        RSA_PEM.split("\n", 1)[1].rsplit("\n", 1)[0],  # the body alone
        json.dumps({"private_key": PKCS8_PEM})[1:-1],  # JSON-escaped, as in a service-account file
        RSA_PEM.rsplit("-----END", 1)[0] * 4,  # padded past the rule's width with more base64
    ],
    ids=["two-spaces", "no-end", "body-alone", "json-escaped", "padded"],
)
def test_private_key_in_disguise_blocks(scanner: Scanner, text: str) -> None:
    assert scanner.scan(text).action == "block"


def test_a_how_to_with_an_empty_key_is_not_blocked(scanner: Scanner) -> None:
    text = "A PEM key looks like:\n-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n"
    assert scanner.scan(text).action != "block"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(1, len(RSA_PEM) + 60), max_size=30))
def test_private_key_streamed_in_any_chunks_is_blocked_like_one_shot(scanner: Scanner, cuts: list[int]) -> None:
    text = f"Sure, here it is:\n{RSA_PEM}\nDone."
    stream = scanner.incremental()
    cuts = sorted({c for c in cuts if 0 < c < len(text)})
    out = "".join(stream.feed(text[a:b]) for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True))
    out += stream.finish()
    one_shot = scanner.scan(text)
    assert out == one_shot.text
    assert "MIIEpAIBAAKCAQEA" not in out


# --- JWTs ------------------------------------------------------------------------------------

def test_rs256_jwt_is_found_whole(scanner: Scanner) -> None:
    text = f"curl -H 'Authorization: Bearer {RS256_JWT}' https://api.acme.io"
    verdict = scanner.scan(text)
    assert RS256_JWT[-20:] not in verdict.text and RS256_JWT[:20] not in verdict.text
    assert verdict.text.endswith("' https://api.acme.io")


@pytest.mark.parametrize("width", [20, 64, 76])
def test_line_wrapped_jwt_is_found_whole(scanner: Scanner, width: int) -> None:
    wrapped = "\n".join(RS256_JWT[i : i + width] for i in range(0, len(RS256_JWT), width))
    verdict = scanner.scan(f"Your token:\n{wrapped}\n\nIt expires in an hour.")
    for line in wrapped.split("\n")[:-1]:
        assert line not in verdict.text
    assert verdict.text.endswith("It expires in an hour.")


def test_streamed_long_jwt_equals_one_shot_and_prose_is_not_held_back(scanner: Scanner) -> None:
    prose = "The deploy finished without errors and the dashboards are green again. " * 40
    stream = scanner.incremental()
    released = "".join(stream.feed(prose[i : i + 7]) for i in range(0, len(prose), 7))
    # no long rule's keyword near the end: only the short rules' look-ahead waits
    assert len(prose) - len(released) < 1100
    text = prose + RS256_JWT + " ok"
    stream = scanner.incremental()
    out = "".join(stream.feed(text[i : i + 13]) for i in range(0, len(text), 13)) + stream.finish()
    assert out == scanner.scan(text).text and RS256_JWT[-30:] not in out


# --- hard negatives and placeholders --------------------------------------------------------

QUIET = [
    "550e8400-e29b-41d4-a716-446655440000",
    "commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    '"integrity": "sha512-XRcglhh3p2lHAu4gFg75i5owZ3/uttIZh11iKj+W2fqc4Iu8OvwIHkDSftaw4gURo0WA2fT2oguwTa4HChLwJw=="',
    'requests==2.32.3 --hash=sha256:ec72420df5dfbdce4111f715c96338df3b7cb75f58e478d2449c9720e560de8c',
    "v2.14.1 and 1.0.0-rc.1+build.5",
    base64.b64encode(b"The quick brown fox jumps over the lazy dog, twice over.").decode(),
    "nginx@sha256:d548c5b83fa61d8e3bd86ad42a7ffea9b7c86e3f9d8095c1577d3e1270bb9420",
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "AKIAXXXXXXXXXXXXXXXX",
    "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "SLACK_TOKEN=xoxp-XXXXXXXXXXXX-XXXXXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXX",
    "export OPENAI_API_KEY=${OPENAI_API_KEY}",
    "token: <your token>",
    "api_key = your-api-key-here",
    "password: REDACTED",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6\n-----END PUBLIC KEY-----",
]


@pytest.mark.parametrize("text", QUIET)
def test_hard_negatives_and_placeholders_stay_quiet(scanner: Scanner, text: str) -> None:
    assert secret_findings(scanner, text) == []


def test_a_card_right_after_another_number_is_still_masked(scanner: Scanner) -> None:
    verdict = scanner.scan("id 2024 4111 1111 1111 1111")
    assert "4111 1111 1111 1111" not in verdict.text
    assert verdict.text.startswith("id 2024 ")


# --- vendor families the issue named, and glued prefixes -------------------------------------

def _r(alphabet: str, n: int) -> str:
    return _random(alphabet, n)


ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
HEX = "0123456789abcdef"
UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
FAMILIES = {
    "artifactory": "AKCp" + _r(ALNUM, 69),
    "discord-webhook": f"https://discord.com/api/webhooks/1187{_r('0123456789', 14)}/{_r(ALNUM + '_-', 68)}",
    "mailchimp": _r(HEX, 32) + "-us14",
    "pypi": "pypi-AgEIcHlwaS5vcmc" + _r(ALNUM + "_-", 70),
    "npm": "npm_" + _r(ALNUM, 36),
    "sendgrid": "SG." + _r(ALNUM + "_-", 22) + "." + _r(ALNUM + "_-", 43),
    "square": "sq0atp-" + _r(ALNUM + "_-", 22),
    "telegram": "58" + _r("0123456789", 8) + ":AA" + _r(ALNUM + "_-", 33),
    "twilio": "SK" + _r(HEX, 32),
    "gitlab-deploy": "gldt-" + _r(ALNUM + "_-", 20),
    "gitlab-service-account": "glsoat-" + _r(ALNUM + "_-", 20),
    "gitlab-cicd-job": "glcbt-" + _r(ALNUM + "_-", 20),
    "gitlab-trigger": "glptt-" + _r(HEX, 40),
    "gitlab-agent": "glagent-" + _r(ALNUM + "_-", 50),
    "gitlab-oauth": "gloas-" + _r(ALNUM + "_-", 64),
    "gitlab-runner-registration": "GR1348941" + _r(ALNUM + "_-", 20),
    "aws-abia": "ABIA" + _r(UPPER_DIGITS, 16),
    "aws-acca": "ACCA" + _r(UPPER_DIGITS, 16),
    "aws-a3t": "A3TX" + _r(UPPER_DIGITS, 16),
    "slack-xoxo": f"xoxo-{_r('0123456789', 11)}-{_r('0123456789', 12)}-{_r(ALNUM, 24)}",
}
TWILIO_CONTEXT = {"twilio": "TWILIO_API_KEY_SID={}"}


@pytest.mark.parametrize(("family", "value"), list(FAMILIES.items()), ids=list(FAMILIES))
def test_each_named_family_is_redacted(scanner: Scanner, family: str, value: str) -> None:
    line = TWILIO_CONTEXT.get(family, "token: {}").format(value)
    verdict = scanner.scan(f"Here you go:\n{line}\n")
    assert value not in verdict.text, (family, verdict.text)
    assert any(f.label == "SECRET" for f in verdict.findings)


@pytest.mark.parametrize(
    "value",
    ["xAKIAQ4TZJ7LXW2MRP5VN", "_sk_live_51HxQ2aLmN8pR7tV3wY6zB9cD", "xghp_aK9mQ2vL7pR4tY8wZ1nB5cD3fG6hJ0kS2aEq"],
)
def test_a_glued_character_does_not_hide_a_vendor_token(scanner: Scanner, value: str) -> None:
    verdict = scanner.scan(f"see {value} now")
    assert value[1:] not in verdict.text and verdict.text.startswith(f"see {value[0]}")
