"""Generate bench/secrets_labelled.jsonl: the labelled set of `python -m bench secrets`.

    python -m bench.make_secrets_set          # rewrites bench/secrets_labelled.jsonl (seeded)

Each record is one assistant answer (a sentence or two around a code or config block, or plain
prose) with zero, one or more credentials:

    {"text": ..., "spans": [{"start", "end", "family", "kind"}], "source": ...}

A span covers the secret VALUE only: not the key name, the quotes, `Bearer`, the user name or the
host of a URL. A PEM / OpenSSH private key is one span from `-----BEGIN` to the end of its
`-----END ... KEY-----` line; a line-wrapped JWT is one span across its line breaks.

Every value is fresh: drawn from `random.Random(SEED)` with the alphabet and length of its
documented format (prefixes, separators, fixed markers such as OpenAI's `T3BlbkFJ`). Formats and
shapes come from public references: the test data of Yelp/detect-secrets (tests/plugins/*_test.py),
Samsung/CredSweeper (tests/samples), protectai/llm-guard and microsoft/presidio, and the vendors'
documentation of their token formats. No value is copied from them. For checksummed formats
(GitHub `gh?_`, npm `npm_`) half of the tokens carry a real CRC32 base62 checksum, half a random
tail (as an older or mistyped token would).

`source` says how the record was built: "positive:<family>" for a record built around one family
(it may carry a second secret of another family and hard-negative distractors), "negative:<kind>"
for a record with no secret at all (about 40 % of the set: ids, hashes, digests, placeholders,
public keys, reads from the environment, prose about tokens).

The set is not tuned to any tool: families are drawn round-robin, contexts at random.
"""

from __future__ import annotations

import base64
import json
import random
import string
import zlib
from urllib.parse import quote
from collections.abc import Callable
from pathlib import Path

SEED = 20240611
OUT = Path(__file__).resolve().parent / "secrets_labelled.jsonl"
N_RECORDS = 360
NEGATIVE_SHARE = 0.4

UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
DIGITS = string.digits
ALNUM = UPPER + LOWER + DIGITS
HEX = "0123456789abcdef"
B32 = UPPER + "234567"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# ---------------------------------------------------------------------------------------------
# Building a text with spans
# ---------------------------------------------------------------------------------------------


class Doc:
    """Text assembled piece by piece; `secret()` records the span of the value it appends."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[dict[str, object]] = []

    def add(self, text: str) -> Doc:
        self.parts.append(text)
        self.length += len(text)
        return self

    def secret(self, value: str, family: str, kind: str) -> Doc:
        self.spans.append({"start": self.length, "end": self.length + len(value), "family": family, "kind": kind})
        return self.add(value)

    def put(self, piece: Piece) -> Doc:
        for item in piece:
            if isinstance(item, str):
                self.add(item)
            else:
                self.secret(*item)
        return self

    @property
    def text(self) -> str:
        return "".join(self.parts)


Piece = list[str | tuple[str, str, str]]
"""Plain strings and (value, family, kind) secrets, in order."""


def rs(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def b62(number: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
    return digits.rjust(6, "0")


def checksummed(rng: random.Random, prefix: str) -> str:
    """prefix + 30 random base62 characters + 6-character tail: a real CRC32 base62 checksum half
    of the time, random otherwise."""
    body = rs(rng, ALNUM, 30)
    tail = b62(zlib.crc32(body.encode())) if rng.random() < 0.5 else rs(rng, ALNUM, 6)
    return prefix + body + tail


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def uuid(rng: random.Random) -> str:
    h = rs(rng, HEX, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{rng.choice('89ab')}{h[17:20]}-{h[20:]}"


# ---------------------------------------------------------------------------------------------
# Where a value goes: the syntaxes an answer writes a key=value in
# ---------------------------------------------------------------------------------------------


def place(rng: random.Random, key: str, secret: tuple[str, str, str], style: str | None = None) -> tuple[str, Piece]:
    """One line (or a few) assigning `secret` to `key` in a random syntax; returns (lang, piece)."""
    style = style or rng.choice(["env", "export", "yaml", "json", "python", "js", "toml", "ini", "go", "docker"])
    lower = key.lower()
    if style == "env":
        return "bash", [f"{key}=", secret]
    if style == "export":
        q = rng.choice(['"', "'", ""])
        return "bash", [f"export {key}={q}", secret, q]
    if style == "yaml":
        q = rng.choice(['"', ""])
        return "yaml", ["env:\n  ", f"{lower}: {q}", secret, q]
    if style == "json":
        return "json", ["{\n  ", f'"{lower}": "', secret, '"\n}']
    if style == "python":
        return "python", [f'{lower} = "', secret, '"']
    if style == "js":
        return "javascript", [f"const {_camel(lower)} = '", secret, "';"]
    if style == "toml":
        return "toml", ["[credentials]\n", f'{lower} = "', secret, '"']
    if style == "ini":
        return "ini", ["[default]\n", f"{lower} = ", secret]
    if style == "go":
        return "go", [f'{_camel(lower)} := "', secret, '"']
    return "dockerfile", [f"ENV {key}=", secret]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)


OPENERS = [
    "Sure, here's a working configuration.", "Here is the snippet you asked for.",
    "Below is the updated config with your credentials filled in.",
    "This should fix the authentication error you're seeing.", "Here's the full example.",
    "I've put the values from your message into the file:", "Try this version:",
    "Good catch. The client needs the key passed explicitly:", "Here's how the final file looks:",
    "You can reproduce the call with the following:", "Here's the cleaned-up version of your script.",
]
CLOSERS = [
    "Restart the service after saving the file.", "Let me know if the request still fails.",
    "Remember to keep this file out of version control.", "After that the 401 errors should stop.",
    "Run it again and the connection should succeed.", "You may want to rotate this key afterwards.",
    "", "", "That's all the client needs.", "The rest of the settings can stay at their defaults.",
]


def answer(rng: random.Random, lang: str, body: Doc | Piece, opener: str | None = None, closer: str | None = None) -> Doc:
    doc = Doc()
    doc.add((opener or rng.choice(OPENERS)) + "\n\n")
    if lang != "prose":
        doc.add(f"```{lang}\n")
    if isinstance(body, Doc):
        _merge(doc, body)
    else:
        doc.put(body)
    if lang != "prose":
        doc.add("\n```\n")
    end = closer if closer is not None else rng.choice(CLOSERS)
    if end:
        doc.add("\n" + end)
    return doc


def _merge(doc: Doc, other: Doc) -> None:
    for span in other.spans:
        doc.spans.append({**span, "start": span["start"] + doc.length, "end": span["end"] + doc.length})
    doc.add(other.text)


# ---------------------------------------------------------------------------------------------
# Secret makers, per family: each returns (key name, value, kind)
# ---------------------------------------------------------------------------------------------

Maker = Callable[[random.Random], tuple[str, str, str]]


def aws_key_id(r: random.Random) -> tuple[str, str, str]:
    prefix = r.choice(["AKIA", "AKIA", "AKIA", "ASIA", "ABIA", "ACCA", "A3T" + r.choice(UPPER + DIGITS)])
    return "AWS_ACCESS_KEY_ID", prefix + rs(r, B32, 20 - len(prefix)), "aws_access_key_id"


def aws_secret(r: random.Random) -> tuple[str, str, str]:
    return "AWS_SECRET_ACCESS_KEY", rs(r, B64, 40), "aws_secret_access_key"


def gcp_api_key(r: random.Random) -> tuple[str, str, str]:
    return "GOOGLE_API_KEY", "AIza" + rs(r, B64URL, 35), "gcp_api_key"


def gcp_oauth_secret(r: random.Random) -> tuple[str, str, str]:
    return "GOOGLE_CLIENT_SECRET", "GOCSPX-" + rs(r, B64URL, 28), "gcp_oauth_client_secret"


def azure_storage(r: random.Random) -> tuple[str, str, str]:
    return "AZURE_STORAGE_KEY", rs(r, B64, 86) + "==", "azure_storage_key"


def azure_client_secret(r: random.Random) -> tuple[str, str, str]:
    return "AZURE_CLIENT_SECRET", rs(r, ALNUM, 3) + "8Q~" + rs(r, ALNUM + "_~.-", 34), "azure_ad_client_secret"


def alibaba(r: random.Random) -> tuple[str, str, str]:
    if r.random() < 0.5:
        return "ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5t" + rs(r, ALNUM, 18), "alibaba_access_key_id"
    return "ALIBABA_CLOUD_ACCESS_KEY_SECRET", rs(r, ALNUM, 30), "alibaba_access_key_secret"


def digitalocean(r: random.Random) -> tuple[str, str, str]:
    return "DIGITALOCEAN_TOKEN", r.choice(["dop_v1_", "doo_v1_", "dor_v1_"]) + rs(r, HEX, 64), "digitalocean_token"


def github(r: random.Random) -> tuple[str, str, str]:
    if r.random() < 0.3:
        return "GITHUB_TOKEN", "github_pat_" + rs(r, ALNUM, 22) + "_" + rs(r, ALNUM, 59), "github_fine_grained_pat"
    prefix = r.choice(["ghp_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_"])
    return "GITHUB_TOKEN", checksummed(r, prefix), "github_" + prefix[:3]


def gitlab(r: random.Random) -> tuple[str, str, str]:
    kind = r.choice(["glpat", "gldt", "glrt", "glsoat", "glcbt", "glptt", "glagent", "gloas", "GR1348941", "glpat"])
    body = {
        "glpat": lambda: "glpat-" + rs(r, B64URL, 20),
        "gldt": lambda: "gldt-" + rs(r, B64URL, 20),
        "glrt": lambda: "glrt-" + rs(r, B64URL, 20),
        "glsoat": lambda: "glsoat-" + rs(r, B64URL, 20),
        "glcbt": lambda: "glcbt-" + rs(r, HEX, 2) + "_" + rs(r, B64URL, 20),
        "glptt": lambda: "glptt-" + rs(r, HEX, 40),
        "glagent": lambda: "glagent-" + rs(r, B64URL, 50),
        "gloas": lambda: "gloas-" + rs(r, HEX, 64),
        "GR1348941": lambda: "GR1348941" + rs(r, B64URL, 20),
    }[kind]()
    key = {"glrt": "RUNNER_TOKEN", "GR1348941": "REGISTRATION_TOKEN", "glagent": "AGENT_TOKEN"}.get(kind, "GITLAB_TOKEN")
    return key, body, "gitlab_" + kind.lower()


def slack(r: random.Random) -> tuple[str, str, str]:
    kind = r.choice(["xoxb", "xoxp", "xoxo", "xapp", "xoxe"])
    if kind == "xoxb":
        v = f"xoxb-{rs(r, DIGITS, 12)}-{rs(r, DIGITS, 13)}-{rs(r, ALNUM, 24)}"
    elif kind == "xoxp":
        v = f"xoxp-{rs(r, DIGITS, 12)}-{rs(r, DIGITS, 12)}-{rs(r, DIGITS, 13)}-{rs(r, HEX, 32)}"
    elif kind == "xoxo":
        v = f"xoxo-{rs(r, DIGITS, 11)}-{rs(r, DIGITS, 12)}-{rs(r, ALNUM, 24)}"
    elif kind == "xapp":
        v = f"xapp-1-A{rs(r, UPPER + DIGITS, 10)}-{rs(r, DIGITS, 13)}-{rs(r, HEX, 64)}"
    else:
        v = f"xoxe.xoxp-1-{rs(r, ALNUM, 150)}"
    return "SLACK_TOKEN" if kind != "xapp" else "SLACK_APP_TOKEN", v, "slack_" + kind


def discord(r: random.Random) -> tuple[str, str, str]:
    v = r.choice("MNO") + rs(r, ALNUM, 23) + "." + rs(r, B64URL, 6) + "." + rs(r, B64URL, 38)
    return "DISCORD_BOT_TOKEN", v, "discord_bot_token"


def telegram(r: random.Random) -> tuple[str, str, str]:
    return "TELEGRAM_BOT_TOKEN", f"{r.randint(10**8, 10**10 - 1)}:AA{rs(r, B64URL, 33)}", "telegram_bot_token"


def stripe(r: random.Random) -> tuple[str, str, str]:
    kind = r.choice(["sk_live", "sk_live", "rk_live", "sk_test", "whsec"])
    if kind == "whsec":
        return "STRIPE_WEBHOOK_SECRET", "whsec_" + rs(r, ALNUM, 32), "stripe_webhook_secret"
    n = r.choice([24, 99])
    return "STRIPE_SECRET_KEY", f"{kind}_" + ("51" + rs(r, ALNUM, n - 2) if n == 99 else rs(r, ALNUM, n)), "stripe_" + kind


def square(r: random.Random) -> tuple[str, str, str]:
    kind = r.choice(["sq0atp", "sq0csp", "EAAA"])
    if kind == "sq0atp":
        return "SQUARE_ACCESS_TOKEN", "sq0atp-" + rs(r, B64URL, 22), "square_access_token"
    if kind == "sq0csp":
        return "SQUARE_APPLICATION_SECRET", "sq0csp-" + rs(r, B64URL, 43), "square_oauth_secret"
    return "SQUARE_ACCESS_TOKEN", "EAAA" + rs(r, B64URL, 60), "square_access_token"


def paypal(r: random.Random) -> tuple[str, str, str]:
    if r.random() < 0.5:
        return "BRAINTREE_ACCESS_TOKEN", f"access_token$production${rs(r, LOWER + DIGITS, 16)}${rs(r, HEX, 32)}", "braintree_access_token"
    return "PAYPAL_CLIENT_SECRET", "E" + rs(r, B64URL, 79), "paypal_client_secret"


def sendgrid(r: random.Random) -> tuple[str, str, str]:
    return "SENDGRID_API_KEY", "SG." + rs(r, B64URL, 22) + "." + rs(r, B64URL, 43), "sendgrid_api_key"


def mailchimp(r: random.Random) -> tuple[str, str, str]:
    return "MAILCHIMP_API_KEY", rs(r, HEX, 32) + f"-us{r.randint(1, 21)}", "mailchimp_api_key"


def mailgun(r: random.Random) -> tuple[str, str, str]:
    if r.random() < 0.5:
        return "MAILGUN_API_KEY", "key-" + rs(r, HEX, 32), "mailgun_api_key"
    return "MAILGUN_API_KEY", f"{rs(r, HEX, 32)}-{rs(r, HEX, 8)}-{rs(r, HEX, 8)}", "mailgun_api_key"


def twilio(r: random.Random) -> tuple[str, str, str]:
    if r.random() < 0.5:
        return "TWILIO_API_KEY_SECRET", rs(r, ALNUM, 32), "twilio_api_secret"
    return "TWILIO_AUTH_TOKEN", rs(r, HEX, 32), "twilio_auth_token"


def twilio_sk(r: random.Random) -> tuple[str, str, str]:
    return "TWILIO_API_KEY", "SK" + rs(r, HEX, 32), "twilio_api_key_sid"


def datadog(r: random.Random) -> tuple[str, str, str]:
    if r.random() < 0.5:
        return "DD_API_KEY", rs(r, HEX, 32), "datadog_api_key"
    return "DD_APP_KEY", rs(r, HEX, 40), "datadog_app_key"


def newrelic(r: random.Random) -> tuple[str, str, str]:
    kind = r.choice(["NRAK", "NRII", "license"])
    if kind == "NRAK":
        return "NEW_RELIC_API_KEY", "NRAK-" + rs(r, UPPER + DIGITS, 27), "newrelic_user_key"
    if kind == "NRII":
        return "NEW_RELIC_INSERT_KEY", "NRII-" + rs(r, B64URL, 32), "newrelic_insert_key"
    return "NEW_RELIC_LICENSE_KEY", rs(r, HEX, 36) + "NRAL", "newrelic_license_key"


def sentry(r: random.Random) -> tuple[str, str, str]:
    if r.random() < 0.5:
        return "SENTRY_AUTH_TOKEN", "sntryu_" + rs(r, HEX, 64), "sentry_user_token"
    payload = json.dumps({"iat": r.randint(1_700_000_000, 1_800_000_000), "url": "https://sentry.io", "region_url": "https://us.sentry.io",
                          "org": r.choice(["acme", "fabrikam", "contoso-labs"])}, separators=(",", ":"))
    tok = "sntrys_" + b64url(payload.encode()) + "_" + rs(r, B64URL, 43)
    return "SENTRY_AUTH_TOKEN", tok, "sentry_org_token"


def grafana(r: random.Random) -> tuple[str, str, str]:
    if r.random() < 0.5:
        return "GRAFANA_SA_TOKEN", "glsa_" + rs(r, ALNUM, 32) + "_" + rs(r, HEX, 8), "grafana_service_account_token"
    payload = json.dumps({"o": str(r.randint(10**5, 10**6)), "n": "stack-token", "k": rs(r, ALNUM, 24),
                          "m": {"r": "prod-us-east-0"}}, separators=(",", ":"))
    return "GRAFANA_CLOUD_TOKEN", "glc_" + base64.b64encode(payload.encode()).decode(), "grafana_cloud_token"


def openai(r: random.Random) -> tuple[str, str, str]:
    kind = r.choice(["proj", "proj", "legacy", "svcacct"])
    if kind == "legacy":
        return "OPENAI_API_KEY", "sk-" + rs(r, ALNUM, 20) + "T3BlbkFJ" + rs(r, ALNUM, 20), "openai_legacy"
    prefix = "sk-proj-" if kind == "proj" else "sk-svcacct-"
    return "OPENAI_API_KEY", prefix + rs(r, B64URL, 74) + "T3BlbkFJ" + rs(r, B64URL, 74), "openai_" + kind


def anthropic(r: random.Random) -> tuple[str, str, str]:
    prefix = "sk-ant-api03-" if r.random() < 0.8 else "sk-ant-admin01-"
    return "ANTHROPIC_API_KEY", prefix + rs(r, B64URL, 93) + "AA", "anthropic_" + prefix[7:-1]


def huggingface(r: random.Random) -> tuple[str, str, str]:
    return "HF_TOKEN", "hf_" + rs(r, UPPER + LOWER, 34), "huggingface_token"


def groq(r: random.Random) -> tuple[str, str, str]:
    return "GROQ_API_KEY", "gsk_" + rs(r, ALNUM, 52), "groq_api_key"


def replicate(r: random.Random) -> tuple[str, str, str]:
    return "REPLICATE_API_TOKEN", "r8_" + rs(r, ALNUM, 37), "replicate_api_token"


def npm(r: random.Random) -> tuple[str, str, str]:
    return "NPM_TOKEN", checksummed(r, "npm_"), "npm_token"


def pypi(r: random.Random) -> tuple[str, str, str]:
    return "PYPI_TOKEN", "pypi-AgEIcHlwaS5vcmc" + rs(r, B64URL, r.choice([130, 160, 190])), "pypi_token"


def rubygems(r: random.Random) -> tuple[str, str, str]:
    return "GEM_HOST_API_KEY", "rubygems_" + rs(r, HEX, 48), "rubygems_api_key"


def nuget(r: random.Random) -> tuple[str, str, str]:
    return "NUGET_API_KEY", "oy2" + rs(r, LOWER + DIGITS, 43), "nuget_api_key"


def artifactory(r: random.Random) -> tuple[str, str, str]:
    if r.random() < 0.6:
        return "ARTIFACTORY_API_KEY", "AKCp8" + rs(r, ALNUM, 68), "artifactory_api_key"
    return "ARTIFACTORY_PASSWORD", "AP" + r.choice("23456789ABCDEF") + rs(r, ALNUM, 8), "artifactory_password"


def okta(r: random.Random) -> tuple[str, str, str]:
    return "OKTA_API_TOKEN", "00" + rs(r, B64URL, 40), "okta_api_token"


def auth0(r: random.Random) -> tuple[str, str, str]:
    return "AUTH0_CLIENT_SECRET", rs(r, B64URL, 64), "auth0_client_secret"


def keycloak(r: random.Random) -> tuple[str, str, str]:
    return "KEYCLOAK_CLIENT_SECRET", rs(r, ALNUM, 32), "keycloak_client_secret"


def vault(r: random.Random) -> tuple[str, str, str]:
    kind = r.choice(["hvs", "hvs", "hvb", "legacy"])
    if kind == "hvs":
        return "VAULT_TOKEN", "hvs.CAESI" + rs(r, B64URL, 86), "vault_service_token"
    if kind == "hvb":
        return "VAULT_TOKEN", "hvb.AAAAAQ" + rs(r, B64URL, 128), "vault_batch_token"
    return "VAULT_TOKEN", "s." + rs(r, ALNUM, 24), "vault_legacy_token"


def doppler(r: random.Random) -> tuple[str, str, str]:
    kind = r.choice(["st", "pt", "sa", "ct"])
    if kind == "st":
        return "DOPPLER_TOKEN", f"dp.st.{r.choice(['prd', 'dev', 'stg'])}." + rs(r, ALNUM, 40), "doppler_service_token"
    return "DOPPLER_TOKEN", f"dp.{kind}." + rs(r, ALNUM, 43), f"doppler_{kind}_token"


def onepassword(r: random.Random) -> tuple[str, str, str]:
    payload = json.dumps({"signInAddress": "my.1password.com", "userAuth": {"method": "SRPg-4096", "alg": "PBES2g-HS256",
                          "iterations": 650000, "salt": rs(r, B64URL, 22)}, "email": rs(r, LOWER, 26) + "@1passwordserviceaccounts.com",
                          "srpX": rs(r, HEX, 64), "muk": {"alg": "A256GCM", "ext": True, "k": rs(r, B64URL, 43),
                          "key_ops": ["encrypt", "decrypt"], "kty": "oct", "kid": "mp"}}, separators=(",", ":"))
    return "OP_SERVICE_ACCOUNT_TOKEN", "ops_" + b64url(payload.encode()), "1password_service_account"


def terraform(r: random.Random) -> tuple[str, str, str]:
    return "TF_TOKEN_app_terraform_io", rs(r, ALNUM, 14) + ".atlasv1." + rs(r, ALNUM, 67), "terraform_cloud_token"


def pulumi(r: random.Random) -> tuple[str, str, str]:
    return "PULUMI_ACCESS_TOKEN", "pul-" + rs(r, HEX, 40), "pulumi_access_token"


def docker(r: random.Random) -> tuple[str, str, str]:
    prefix = "dckr_pat_" if r.random() < 0.8 else "dckr_oat_"
    return "DOCKERHUB_TOKEN", prefix + rs(r, B64URL, 27), "docker_" + prefix[5:8]


def heroku(r: random.Random) -> tuple[str, str, str]:
    return "HEROKU_API_KEY", "HRKU-AA" + rs(r, B64URL, 58), "heroku_api_key"


def cloudflare(r: random.Random) -> tuple[str, str, str]:
    return "CLOUDFLARE_API_TOKEN", rs(r, B64URL, 40), "cloudflare_api_token"


VENDOR_MAKERS: dict[str, list[Maker]] = {
    "cloud": [aws_key_id, aws_secret, gcp_api_key, gcp_oauth_secret, azure_storage, azure_client_secret, alibaba, digitalocean],
    "vcs_ci": [github, github, gitlab, gitlab],
    "chat": [slack, discord, telegram],
    "payments": [stripe, stripe, square, paypal],
    "email_sms": [sendgrid, mailchimp, mailgun, twilio, twilio_sk],
    "observability": [datadog, newrelic, sentry, grafana],
    "ai": [openai, anthropic, huggingface, groq, replicate],
    "registries": [npm, pypi, rubygems, nuget, artifactory],
    "identity": [okta, auth0, keycloak],
    "secret_managers": [vault, doppler, onepassword],
    "infra": [terraform, pulumi, docker, heroku, cloudflare],
}


# ---------------------------------------------------------------------------------------------
# Family record builders (one positive record each)
# ---------------------------------------------------------------------------------------------


def vendor_record(r: random.Random, family: str) -> Doc:
    key, value, kind = r.choice(VENDOR_MAKERS[family])(r)
    sec = (value, family, kind)
    shape = r.random()
    if shape < 0.55:
        lang, piece = place(r, key, sec)
        extra = _distractor_line(r, lang)
        if extra and r.random() < 0.5:
            piece = [*piece, "\n", extra]
        return answer(r, lang, piece)
    if shape < 0.7:  # inline in prose, in backticks
        q = r.choice(["`", "`", "", '"'])
        return answer(r, "prose", [
            f"Your {key.replace('_', ' ').lower()} is {q}", sec,
            f"{q}. Paste it into the settings page and save; the integration picks it up within a minute.",
        ], opener=r.choice(["Found it.", "Here's what you need.", "From the dashboard output you shared:"]), closer="")
    if shape < 0.85:  # SDK call
        lang, piece = r.choice([
            ("python", ["client = Client(\n    api_key=\"", sec, "\",\n    timeout=30,\n)"]),
            ("javascript", ["const client = new Client({ apiKey: \"", sec, "\", retries: 3 });"]),
            ("bash", ["curl -s https://api.example.net/v1/status \\\n  -H \"Authorization: Bearer ", sec, "\""]),
            ("python", ["headers = {\"Authorization\": f\"Bearer {'", sec, "'}\"}\nresp = requests.get(url, headers=headers, timeout=10)"]),
        ])
        return answer(r, lang, piece)
    # two related values, e.g. a key id and its secret, or a vendor key next to a context secret
    key2, value2, kind2 = r.choice(VENDOR_MAKERS[family])(r)
    lang, p1 = place(r, key, sec, style="env")
    _, p2 = place(r, key2, (value2, family, kind2), style="env")
    return answer(r, "bash", [*p1, "\n", *p2, "\nLOG_LEVEL=info"], opener="Here's the `.env` for local development:")


def _distractor_line(r: random.Random, lang: str) -> str | None:
    if lang in ("bash", "dockerfile"):
        return r.choice([f"REQUEST_ID={uuid(r)}", f"GIT_SHA={rs(r, HEX, 40)}", "TIMEOUT_SECONDS=30", None])
    if lang == "yaml":
        return r.choice([f"  image: ghcr.io/acme/api@sha256:{rs(r, HEX, 64)}", "  replicas: 3", None])
    if lang == "python":
        return r.choice([f'TENANT_ID = "{uuid(r)}"', "RETRIES = 3", None])
    return None


# --- generic context secrets ---------------------------------------------------------------

WORDS = ["maple", "orbit", "canyon", "velvet", "harbor", "falcon", "ember", "quartz", "tundra", "cobalt",
         "saffron", "glacier", "lantern", "meadow", "nimbus", "pepper", "raven", "summit", "willow", "zephyr"]


def password_value(r: random.Random) -> str:
    style = r.random()
    if style < 0.35:
        return rs(r, ALNUM + "!@#$%^&*", r.randint(12, 24))
    if style < 0.7:
        return r.choice(WORDS).capitalize() + r.choice("!#*^@$") + str(r.randint(10, 9999)) + r.choice(WORDS) + r.choice(["", "!", "#", "?"])
    return rs(r, ALNUM, r.randint(24, 48))


CONTEXT_KEYS = ["password", "passwd", "db_pass", "db_password", "api_key", "apikey_myservice", "secret_key",
                "client_secret", "password_super_secure", "auth_token", "access_token", "private_key", "smtp_password",
                "admin_pwd", "secret", "app_secret", "signing_key", "encryption_key"]


def context_record(r: random.Random) -> Doc:
    key = r.choice(CONTEXT_KEYS)
    value = password_value(r)
    sec = (value, "context", "context_" + key.split("_")[0])
    variant = r.choice(["assign", "compare", "backtick", "csharp", "yaml", "json", "toml", "ini", "env", "props",
                        "php", "ruby", "kwargs", "xml"])
    if variant == "assign":
        return answer(r, "python", [f'{key} = "', sec, '"\nconn = connect(host="db.internal", user="app", ', f"{key.split('_')[0]}={key})"])
    if variant == "compare":
        return answer(r, "python", [f"def check(request):\n    if request.headers.get('X-Api-Key') == \"", sec,
                                    "\":\n        return True\n    return False"],
                      opener="The check you wrote compares against a hard-coded value:",
                      closer="Better to load the expected value from your secret store.")
    if variant == "backtick":
        return answer(r, "prose", [f"Set `{key}` to `", sec, "` in the admin panel, then click **Save**."], closer="")
    if variant == "csharp":
        name = "".join(w.capitalize() for w in key.split("_"))
        return answer(r, "csharp", [f"private const string {name} = @\"", sec, "\";\nvar creds = new NetworkCredential(\"svc_app\", ", f"{name});"])
    if variant == "yaml":
        return answer(r, "yaml", ["database:\n  host: db.internal\n  user: app\n  ", f"{key}: ", sec, "\n  pool: 10"])
    if variant == "json":
        return answer(r, "json", ['{\n  "host": "smtp.example.org",\n  "port": 587,\n  ', f'"{key}": "', sec, '"\n}'])
    if variant == "toml":
        return answer(r, "toml", ["[server]\nport = 8080\n\n[auth]\n", f'{key} = "', sec, '"'])
    if variant == "ini":
        return answer(r, "ini", ["[mysql]\nhost = 10.0.3.12\nuser = reporting\n", f"{key} = ", sec])
    if variant == "env":
        return answer(r, "bash", [f"{key.upper()}=", sec, "\nPORT=8080"])
    if variant == "props":
        return answer(r, "properties", [f"spring.datasource.username=app\nspring.datasource.{key.replace('_', '-')}=", sec])
    if variant == "php":
        return answer(r, "php", [f"$config['{key}'] = '", sec, "';"])
    if variant == "ruby":
        return answer(r, "ruby", [f"config.{key} = \"", sec, "\""])
    if variant == "kwargs":
        return answer(r, "python", ["smtp.login(\"alerts@example.org\", password=\"", sec, "\")"])
    return answer(r, "xml", ["<connection>\n  <user>svc_report</user>\n  <password>", sec, "</password>\n</connection>"])


# --- headers and command lines -------------------------------------------------------------


def header_record(r: random.Random) -> Doc:
    variant = r.choice(["bearer", "basic", "curl_u", "apikey_header", "bearer_py", "wget", "mysql_cli", "ssws"])
    fam = "auth_header"
    if variant in ("bearer", "bearer_py"):
        tok = rs(r, B64URL, r.choice([32, 40, 64]))
        sec = (tok, fam, "bearer_token")
        if variant == "bearer":
            return answer(r, "bash", ["curl -X POST https://api.internal.example/v2/jobs \\\n  -H \"Content-Type: application/json\" \\\n  -H \"Authorization: Bearer ", sec, "\" \\\n  -d '{\"name\": \"nightly\"}'"])
        return answer(r, "http", ["GET /v1/reports HTTP/1.1\nHost: reports.example.com\nAuthorization: Bearer ", sec, "\nAccept: application/json"])
    if variant == "basic":
        user = r.choice(["admin", "deploy", "ci-bot", "grafana"])
        cred = base64.b64encode(f"{user}:{password_value(r)}".encode()).decode()
        return answer(r, "http", ["POST /api/import HTTP/1.1\nHost: 10.0.0.14:8080\nAuthorization: Basic ", (cred, fam, "basic_auth"), "\nContent-Length: 512"])
    if variant == "curl_u":
        pw = password_value(r).replace("'", "")
        return answer(r, "bash", ["curl -u admin:", (pw, fam, "curl_user_password"), " -X GET https://jenkins.example.com/api/json"])
    if variant == "apikey_header":
        tok = rs(r, ALNUM, 40)
        return answer(r, "bash", ["curl https://api.example.io/v1/items -H 'X-API-Key: ", (tok, fam, "api_key_header"), "'"])
    if variant == "wget":
        pw = password_value(r).replace("'", "").replace("&", "")
        return answer(r, "bash", ["wget --user=backup --password='", (pw, fam, "cli_password"), "' https://files.example.com/dump.tar.gz"])
    if variant == "mysql_cli":
        pw = rs(r, ALNUM, 16)
        return answer(r, "bash", ["mysql -h db.internal -u root -p", (pw, fam, "cli_password"), " orders < schema.sql"])
    tok = "00" + rs(r, B64URL, 40)
    return answer(r, "bash", ["curl -H \"Authorization: SSWS ", (tok, "identity", "okta_api_token"), "\" https://acme.okta.com/api/v1/users"])


# --- database connection strings ----------------------------------------------------------


def db_password(r: random.Random) -> str:
    base = r.choice(WORDS).capitalize() + rs(r, ALNUM, r.randint(3, 8))
    specials = r.sample(["#", "*", "^", "!", "@", "%40", "%23", "%21", "$", "&"], k=r.randint(1, 3))
    chars = list(base)
    for s in specials:
        chars.insert(r.randint(1, len(chars)), s)
    return "".join(chars)


def database_record(r: random.Random) -> Doc:
    fam = "database"
    variant = r.choice(["postgres", "mongodb", "mysql", "redis", "amqp", "jdbc", "adonet", "dburl_env", "sqlalchemy"])
    pw = db_password(r)
    # In a URL, '@' / '#' / '/' would break the authority: URL forms use %-escapes for them
    url_pw = pw.replace("@", "%40").replace("#", "%23").replace("/", "%2F").replace("&", "%26")
    if variant == "postgres":
        return answer(r, "bash", ["DATABASE_URL=postgresql://app_user:", (url_pw, fam, "postgres_url_password"), "@db.prod.internal:5432/orders?sslmode=require"])
    if variant == "mongodb":
        return answer(r, "python", ['client = MongoClient("mongodb+srv://analytics:', (url_pw, fam, "mongodb_url_password"), '@cluster0.x7kqa.mongodb.net/?retryWrites=true&w=majority")'])
    if variant == "mysql":
        return answer(r, "yaml", ["services:\n  api:\n    environment:\n      DB_DSN: mysql://root:", (url_pw, fam, "mysql_url_password"), "@mysql:3306/shop"])
    if variant == "redis":
        return answer(r, "python", ['r = redis.from_url("redis://:', (url_pw, fam, "redis_url_password"), '@cache.internal:6379/0")'])
    if variant == "amqp":
        return answer(r, "bash", ["CELERY_BROKER_URL=amqp://worker:", (url_pw, fam, "amqp_url_password"), "@rabbitmq:5672/prod"])
    if variant == "jdbc":
        clean = pw.replace(";", "")
        return answer(r, "properties", ["db.url=jdbc:sqlserver://sql01.corp.local:1433;databaseName=Billing;user=sa;password=", (clean, fam, "jdbc_password"), ";encrypt=true"])
    if variant == "adonet":
        clean = pw.replace(";", "").replace('"', "")
        return answer(r, "json", ['{\n  "ConnectionStrings": {\n    "Default": "Server=tcp:sql-prod.database.windows.net,1433;Database=crm;User ID=crmadmin;Password=', (clean, fam, "adonet_password"), ';Encrypt=True;"\n  }\n}'])
    if variant == "dburl_env":
        return answer(r, "bash", ["export SQLALCHEMY_DATABASE_URI='postgresql+psycopg://etl:", (url_pw, fam, "postgres_url_password"), "@10.1.4.20/warehouse'"])
    return answer(r, "python", ['engine = create_engine(\n    "mysql+pymysql://report:', (url_pw, fam, "mysql_url_password"), '@reporting-db:3306/metrics",\n    pool_pre_ping=True,\n)'])


def url_record(r: random.Random) -> Doc:
    fam = "url_creds"
    pw = password_value(r)
    url_pw = quote(pw, safe="!*$&^")  # percent-escapes @ # % and the like, as a URL needs
    variant = r.choice(["git", "proxy", "pip", "ftp", "https_api", "npmrc"])
    if variant == "git":
        return answer(r, "bash", ["git clone https://deploy-bot:", (url_pw, fam, "url_password"), "@git.example.com/platform/infra.git"])
    if variant == "proxy":
        return answer(r, "bash", ["export HTTPS_PROXY=http://jdoe:", (url_pw, fam, "url_password"), "@proxy.corp.example:3128"])
    if variant == "pip":
        tok = rs(r, B64URL, 32)
        return answer(r, "ini", ["[global]\nindex-url = https://__token__:", (tok, fam, "url_password"), "@pypi.internal.example/simple/"])
    if variant == "ftp":
        return answer(r, "python", ['ftp_url = "ftp://uploader:', (url_pw, fam, "url_password"), '@ftp.partner.example/incoming/"'])
    if variant == "https_api":
        return answer(r, "javascript", ["const res = await fetch('https://admin:", (url_pw, fam, "url_password"), "@es.internal.example:9200/_cluster/health');"])
    tok = rs(r, B64, 40) + "="
    return answer(r, "ini", ["registry=https://npm.internal.example/\n//npm.internal.example/:_auth=", (tok, fam, "npmrc_auth")])


# --- private keys --------------------------------------------------------------------------

PEM_KINDS = [
    ("RSA PRIVATE KEY", "MIIEowIBAAKCAQEA", 1588, "rsa_pkcs1"),
    ("RSA PRIVATE KEY", "MIIJKAIBAAKCAgEA", 3136, "rsa_pkcs1_4096"),
    ("PRIVATE KEY", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", 1620, "pkcs8"),
    ("EC PRIVATE KEY", "MHcCAQEEI", 224, "ec"),
    ("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQAAACA", 400, "openssh_ed25519"),
    ("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABlwAAAAdzc2gtcnNhAAAAAwEAAQAAAYEA", 2600, "openssh_rsa"),
    ("ENCRYPTED PRIVATE KEY", "MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI", 1760, "pkcs8_encrypted"),
    ("DSA PRIVATE KEY", "MIIBuwIBAAKBgQD", 880, "dsa"),
    ("PGP PRIVATE KEY BLOCK", "lQOYBGX", 1300, "pgp"),
]


def pem_block(r: random.Random, sep: str = "\n") -> tuple[str, str]:
    label, head, size, kind = r.choice(PEM_KINDS)
    body = head + rs(r, B64, size - len(head))
    width = 70 if "OPENSSH" in label else 64
    lines = [body[i : i + width] for i in range(0, len(body), width)]
    if "PGP" in label:
        lines = ["", *lines, "=" + rs(r, B64, 4)]
    block = f"-----BEGIN {label}-----{sep}" + sep.join(lines) + f"{sep}-----END {label}-----"
    return block, kind


def private_key_record(r: random.Random) -> Doc:
    fam = "private_key"
    variant = r.choice(["pem", "pem", "pem", "json", "yaml", "python", "kv"])
    if variant == "json":
        block, kind = pem_block(r, sep="\\n")
        return answer(r, "json", ['{\n  "type": "service_account",\n  "project_id": "billing-prod-4471",\n  "private_key_id": "',
                                  rs(r, HEX, 40), '",\n  "private_key": "', (block, fam, kind + "_json"),
                                  '\\n",\n  "client_email": "exporter@billing-prod-4471.iam.gserviceaccount.com"\n}'],
                      opener="Here is the service-account file, reformatted:")
    block, kind = pem_block(r)
    if variant == "yaml":
        indented = block.replace("\n", "\n    ")
        return answer(r, "yaml", ["tls:\n  key: |\n    ", (indented, fam, kind)])
    if variant == "python":
        return answer(r, "python", ['PRIVATE_KEY = """', (block, fam, kind), '\n"""\nkey = serialization.load_pem_private_key(PRIVATE_KEY.encode(), password=None)'])
    if variant == "kv":
        return answer(r, "bash", ["cat > ~/.ssh/id_deploy <<'EOF'\n", (block, fam, kind), "\nEOF\nchmod 600 ~/.ssh/id_deploy"])
    return answer(r, "text", [(block, fam, kind)], opener=r.choice(["Here's the key file you generated:", "The contents of `server.key`:", "This is the deploy key:"]))


# --- JWTs -----------------------------------------------------------------------------------


def jwt(r: random.Random, alg: str) -> str:
    header = b64url(json.dumps({"alg": alg, "typ": "JWT", **({"kid": rs(r, B64URL, 16)} if alg != "HS256" else {})}, separators=(",", ":")).encode())
    claims = {"sub": str(r.randint(10**6, 10**9)), "iss": r.choice(["https://auth.example.com/", "https://login.acme.io"]),
              "aud": r.choice(["api", "billing-service", "https://api.example.com"]), "iat": r.randint(1_700_000_000, 1_750_000_000),
              "exp": r.randint(1_750_000_000, 1_800_000_000), "scope": r.choice(["read:orders write:orders", "openid profile email", "admin"])}
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = rs(r, B64URL, {"HS256": 43, "RS256": 342, "ES256": 86}[alg])
    return f"{header}.{payload}.{sig}"


def jwt_record(r: random.Random) -> Doc:
    fam = "jwt"
    alg = r.choice(["HS256", "RS256", "RS256", "ES256"])
    tok = jwt(r, alg)
    variant = r.choice(["bearer", "cookie", "json", "wrapped", "env", "prose"])
    if variant == "bearer":
        return answer(r, "bash", ["curl https://api.example.com/v1/me -H \"Authorization: Bearer ", (tok, fam, "jwt_" + alg.lower()), "\""])
    if variant == "cookie":
        return answer(r, "http", ["GET /dashboard HTTP/1.1\nHost: app.example.com\nCookie: theme=dark; session=", (tok, fam, "jwt_" + alg.lower())])
    if variant == "json":
        return answer(r, "json", ['{\n  "access_token": "', (tok, fam, "jwt_" + alg.lower()), '",\n  "token_type": "Bearer",\n  "expires_in": 3600\n}'],
                      opener="The token endpoint returned:")
    if variant == "wrapped":
        wrapped = "\n".join(tok[i : i + 76] for i in range(0, len(tok), 76))
        return answer(r, "text", [(wrapped, fam, "jwt_wrapped")], opener="Here's the token from the log (the terminal wrapped it):")
    if variant == "env":
        return answer(r, "bash", ["API_JWT=", (tok, fam, "jwt_" + alg.lower())])
    return answer(r, "prose", ["Decode it at your end to check the claims; the token you pasted was `", (tok, fam, "jwt_" + alg.lower()),
                               "`, and its `exp` is still in the future, so the 401 comes from the audience check."], closer="")


# --- webhooks --------------------------------------------------------------------------------


def webhook_record(r: random.Random) -> Doc:
    fam = "chat"
    variant = r.choice(["slack", "discord", "teams"])
    if variant == "slack":
        path = f"T{rs(r, UPPER + DIGITS, 10)}/B{rs(r, UPPER + DIGITS, 10)}/{rs(r, ALNUM, 24)}"
        return answer(r, "python", ['requests.post("https://hooks.slack.com/services/', (path, fam, "slack_webhook"), '", json={"text": msg})'])
    if variant == "discord":
        tail = rs(r, B64URL, 68)
        return answer(r, "bash", [f"DISCORD_WEBHOOK_URL=https://discord.com/api/webhooks/{rs(r, DIGITS, 19)}/", (tail, fam, "discord_webhook")])
    path = f"{uuid(r)}@{uuid(r)}/IncomingWebhook/{rs(r, HEX, 32)}/{uuid(r)}"
    return answer(r, "yaml", ["alerting:\n  teams_url: https://contoso.webhook.office.com/webhookb2/", (path, fam, "teams_webhook")])


# ---------------------------------------------------------------------------------------------
# Hard negatives
# ---------------------------------------------------------------------------------------------


def neg_lines(r: random.Random) -> list[tuple[str, str, str]]:
    """(kind, lang, text) candidates; a record picks one language and a few lines of it."""
    sha = rs(r, HEX, 40)
    return [
        ("uuid", "yaml", f"tenant_id: {uuid(r)}\nsubscription_id: {uuid(r)}"),
        ("uuid", "python", f'REQUEST_ID = "{uuid(r)}"'),
        ("git_sha", "bash", f"git checkout {sha}\ngit cherry-pick {rs(r, HEX, 40)}"),
        ("git_sha", "text", f"commit {sha}\nAuthor: Dana Ortiz <dana@example.com>\n\n    Fix token refresh race"),
        ("lock_hash", "text", f"requests==2.32.3 \\\n    --hash=sha256:{rs(r, HEX, 64)} \\\n    --hash=sha256:{rs(r, HEX, 64)}"),
        ("lock_hash", "toml", f'[[package]]\nname = "urllib3"\nversion = "2.2.2"\nfiles = [\n    {{file = "urllib3-2.2.2-py3-none-any.whl", hash = "sha256:{rs(r, HEX, 64)}"}},\n]'),
        ("npm_integrity", "json", f'"node_modules/lodash": {{\n  "version": "4.17.21",\n  "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz",\n  "integrity": "sha512-{rs(r, B64, 86)}=="\n}}'),
        ("docker_digest", "yaml", f"image: registry.example.com/api@sha256:{rs(r, HEX, 64)}"),
        ("sha512", "bash", f"echo '{rs(r, HEX, 128)}  release.tar.gz' | sha512sum -c"),
        ("version", "text", "Python 3.12.4\nnode v20.15.1\nopenssl 3.0.13 30 Jan 2024\nkubectl v1.30.2"),
        ("base64_text", "bash", f"echo '{base64.b64encode(r.choice(['Hello from the staging cluster', 'The quick brown fox jumps over the lazy dog', 'retry after thirty seconds please']).encode()).decode()}' | base64 -d"),
        ("base64_text", "yaml", f"data:\n  greeting.txt: {base64.b64encode(b'Welcome to the internal wiki. Read the onboarding page first.').decode()}"),
        ("placeholder", "bash", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("placeholder", "bash", "export GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("placeholder", "bash", "SLACK_BOT_TOKEN=xoxb-XXXXXXXXXXXX-XXXXXXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXX"),
        ("placeholder", "yaml", "openai:\n  api_key: ${OPENAI_API_KEY}"),
        ("placeholder", "python", 'client = OpenAI(api_key="<your token>")'),
        ("placeholder", "json", '{\n  "apiKey": "your-api-key-here",\n  "region": "us-east-1"\n}'),
        ("placeholder", "yaml", "smtp:\n  user: alerts@example.org\n  password: REDACTED"),
        ("placeholder", "ini", "[database]\npassword = ********"),
        ("placeholder", "bash", "STRIPE_SECRET_KEY=sk_live_...\nSTRIPE_WEBHOOK_SECRET=whsec_..."),
        ("placeholder", "javascript", "const apiKey = 'YOUR_API_KEY';"),
        ("placeholder", "yaml", "auth:\n  token: {{ .Values.apiToken }}"),
        ("type_decl", "typescript", "interface LoginRequest {\n  username: string;\n  password: string;\n  token?: string;\n}"),
        ("none_value", "python", "token = None\npassword = None\napi_key: str | None = None"),
        ("env_read", "python", 'api_key = os.environ["OPENAI_API_KEY"]\ndb_password = os.getenv("DB_PASSWORD")'),
        ("env_read", "javascript", "const secret = process.env.JWT_SECRET;\nconst token = process.env.GITHUB_TOKEN ?? '';"),
        ("env_read", "yaml", "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-credentials\n        key: password"),
        ("env_read", "bash", 'export VAULT_TOKEN="$(vault login -token-only -method=oidc)"\naws_secret=$(aws secretsmanager get-secret-value --secret-id prod/api --query SecretString --output text)'),
        ("public_key", "text", f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{rs(r, B64, 43)} dana@laptop"),
        ("public_key", "text", f"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ{rs(r, B64, 510)} deploy@ci"),
        ("public_key", "text", "-----BEGIN PUBLIC KEY-----\n" + "\n".join(rs(r, B64, 64) for _ in range(5)) + "\n" + rs(r, B64, 24) + "\n-----END PUBLIC KEY-----"),
        ("certificate", "text", "-----BEGIN CERTIFICATE-----\nMIID" + "\n".join(rs(r, B64, 64) for _ in range(14)) + "\n-----END CERTIFICATE-----"),
        ("arn", "json", f'{{\n  "Effect": "Allow",\n  "Principal": {{"AWS": "arn:aws:iam::{rs(r, DIGITS, 12)}:role/ci-deployer"}},\n  "Action": "sts:AssumeRole"\n}}'),
        ("config_names", "python", 'PASSWORD_MIN_LENGTH = 12\nAPI_KEY_HEADER = "X-API-Key"\nTOKEN_TTL_SECONDS = 3600\nsecret_name = "prod/db/password"'),
        ("html_form", "html", '<label for="password">Password</label>\n<input type="password" id="password" name="password" autocomplete="current-password">'),
        ("publishable_key", "javascript", f"const stripe = Stripe('pk_live_{rs(r, ALNUM, 24)}');"),
        ("hex_color", "css", ".banner {\n  color: #1f2937;\n  background: #f9fafb;\n  border-color: #d1d5db;\n}"),
        ("tokenizer", "python", 'tokenizer = AutoTokenizer.from_pretrained("meta-llama/Llama-3.1-8B")\nmax_tokens = 512'),
        ("webpack_hash", "text", f"dist/assets/index-{rs(r, B64URL, 8)}.js   142.31 kB\ndist/assets/vendor-{rs(r, B64URL, 8)}.js   512.07 kB"),
        ("etag", "http", f'HTTP/1.1 200 OK\nETag: "{rs(r, HEX, 32)}"\nx-amz-request-id: {rs(r, UPPER + DIGITS, 16)}'),
        ("password_prompt", "bash", "read -s -p 'Password: ' DB_PASSWORD\npsql \"host=db user=app password=$DB_PASSWORD\""),
        ("k8s_uid", "yaml", f"metadata:\n  name: api-7d9f\n  uid: {uuid(r)}\n  resourceVersion: \"{r.randint(10**6, 10**8)}\""),
    ]


NEG_PROSE = [
    "To rotate a GitHub personal access token, open Settings > Developer settings > Personal access tokens, "
    "generate a new one with the same scopes, update the CI secret, then revoke the old token.",
    "An AWS access key ID starts with AKIA for long-term keys or ASIA for temporary STS credentials; the secret "
    "access key is only shown once, when you create it, so store it in your secret manager right away.",
    "Never paste your OpenAI API key into client-side code. Keep it on the server, read it from an environment "
    "variable, and give each service its own key so you can revoke one without breaking the others.",
    "Slack bot tokens begin with xoxb- and user tokens with xoxp-. If a token leaks, revoke it from the app's "
    "OAuth & Permissions page; Slack also revokes tokens it finds in public repositories.",
    "A JWT has three base64url parts separated by dots: header, payload and signature. The payload is only "
    "encoded, not encrypted, so don't put passwords or other secrets in the claims.",
    "For the database password, use a random string of at least 24 characters and let the application read it "
    "from a mounted secret file rather than from the command line, where it shows up in `ps` output.",
    "Your Stripe publishable key (pk_live_...) is safe to ship in the browser; the secret key (sk_live_...) and "
    "the webhook signing secret must stay on the server.",
]


def negative_record(r: random.Random) -> tuple[Doc, str]:
    if r.random() < 0.15:
        text = r.choice(NEG_PROSE)
        doc = Doc().add(r.choice(["Good question. ", "Short answer: ", "", "Here's the background. "]) + text)
        return doc, "negative:prose"
    lines = neg_lines(r)
    first = r.choice(lines)
    same = [line for line in lines if line[1] == first[1] and line is not first]
    chosen = [first, *r.sample(same, k=min(len(same), r.randint(0, 2)))]
    body = "\n\n".join(text for _, _, text in chosen) if first[1] == "text" else "\n".join(text for _, _, text in chosen)
    opener = r.choice([
        "Here's the relevant part of the config.", "This is what the file should look like:", "Here you go:",
        "The output you'll see looks like this:", "Use this as a template and fill in your own values:",
        "I've kept the secrets out of the file; they come from the environment:",
    ])
    return answer(r, first[1], [body], opener=opener), "negative:" + first[0]


# ---------------------------------------------------------------------------------------------

FAMILIES: dict[str, Callable[[random.Random], Doc]] = {
    **{family: (lambda r, f=family: vendor_record(r, f)) for family in VENDOR_MAKERS},
    "context": context_record,
    "auth_header": header_record,
    "database": database_record,
    "url_creds": url_record,
    "private_key": private_key_record,
    "jwt": jwt_record,
}
FAMILIES["chat"] = lambda r: webhook_record(r) if r.random() < 0.35 else vendor_record(r, "chat")


def build(seed: int = SEED, n: int = N_RECORDS) -> list[dict[str, object]]:
    r = random.Random(seed)
    n_neg = round(n * NEGATIVE_SHARE)
    kinds = ["neg"] * n_neg + ["pos"] * (n - n_neg)
    r.shuffle(kinds)
    families = list(FAMILIES)
    records, turn = [], 0
    for kind in kinds:
        if kind == "neg":
            doc, source = negative_record(r)
        else:
            family = families[turn % len(families)]
            turn += 1
            doc = FAMILIES[family](r)
            source = "positive:" + family
            if r.random() < 0.2:  # a second secret of another family, or a hard negative, after it
                other = FAMILIES[r.choice(families)](r) if r.random() < 0.5 else negative_record(r)[0]
                doc.add("\n\nAnd for the other service:\n\n")
                _merge(doc, other)
        text = doc.text
        for span in doc.spans:
            assert 0 <= span["start"] < span["end"] <= len(text)
            value = text[span["start"] : span["end"]]
            assert value == value.strip(), (source, value)
        records.append({"text": text, "spans": doc.spans, "source": source})
    return records


def main() -> None:
    records = build()
    with OUT.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    spans = [s for rec in records for s in rec["spans"]]
    negatives = sum(not rec["spans"] for rec in records)
    print(f"{OUT.name}: {len(records)} records, {negatives} negative-only, {len(spans)} gold spans")


if __name__ == "__main__":
    main()
