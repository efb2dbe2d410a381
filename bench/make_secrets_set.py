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

After those 360 records come two more families, from their own random stream (so the records
before them do not change), shuffled among themselves:

- "in_the_wild" (source "positive:in_the_wild/<template>"; N_WILD records, 1-3 credentials each):
  credentials where real answers put them: markdown tables, log lines and stack traces, Kubernetes
  Secrets (stringData; data as base64, the span being the base64 value), docker run / compose,
  terraform.tfvars, .pgpass, .netrc, .git-credentials, ~/.aws/credentials, wp-config.php, Spring,
  Django and Rails settings, Jupyter output, token responses, PowerShell, Go / Java / C# / Rust / JS
  constants, SQL (IDENTIFIED BY, PASSWORD '...'), redis-cli / mongosh, SMTP and Wi-Fi / VPN files,
  prose ("the admin password is ..."), a key wrapped across two lines, tokens in URLs, base64 basic
  auth. Passwords are the kind people choose (Winter2024!, Tr0ub4dor&3); vendor tokens keep their
  formats. The kind names the syntax (pgpass, k8s_secret_data, ...).
- "hard_negative" (source "negative:hard_negative/<kind>"; N_HARD_NEGATIVE records, no span):
  answers about credentials that hold none: reads from the environment, CI and template references,
  vault paths and secret ARNs, placeholders in many styles, sops / ansible-vault ciphertext,
  policy prose, OAuth / JWT explanations, password hashes, public keys and fingerprints, ids,
  digests, lock-file hashes, masked values, non-secret config keys, test fixtures with fake values.
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
    for record in build_extra(seed):
        text = record["text"]
        for span in record["spans"]:
            assert 0 <= span["start"] < span["end"] <= len(text)
            value = text[span["start"] : span["end"]]
            assert value == value.strip(), (record["source"], value)
        records.append(record)
    return records


# ---------------------------------------------------------------------------------------------
# Family "in_the_wild": credentials in the places and syntaxes real answers put them
# ---------------------------------------------------------------------------------------------
#
# Appended after the 360 records above, from their own random stream (so the records above are
# unchanged). Every span has family "in_the_wild"; its kind names the syntax (pgpass, netrc,
# k8s_secret_data, ...). A record carries one to three credentials.

WILD = "in_the_wild"
N_WILD = 100
N_HARD_NEGATIVE = 150

SEASONS = ["Winter", "Spring", "Summer", "Autumn", "Fall"]
HUMAN_WORDS = ["dragon", "sunshine", "monkey", "football", "shadow", "phoenix", "tiger", "rocket", "galaxy",
               "panther", "troubador", "butterfly", "princess", "starlight", "thunder", "bulldog", "coffee"]
NAMES = ["Bella", "Max", "Charlie", "Luna", "Oscar", "Milo", "Daisy", "Rocky", "Nala", "Teddy"]
LEET = {"a": "4", "e": "3", "o": "0", "i": "1", "s": "5"}
PW_SAFE = ALNUM + "!@#%^&*-_.+?"


def human_password(r: random.Random) -> str:
    """A password a person chose: Winter2024!, Tr0ub4dor&3, Bella1987!, CorrectHorse42#, ..."""
    style = r.randrange(7)
    if style == 0:
        return r.choice(SEASONS) + str(r.randint(2019, 2025)) + r.choice("!#@?*")
    if style == 1:
        word = r.choice(HUMAN_WORDS + WORDS)
        leet = "".join(LEET.get(c, c) if r.random() < 0.6 else c for c in word)
        return leet.capitalize() + r.choice("&!#%*") + str(r.randint(1, 99))
    if style == 2:
        return r.choice(NAMES) + str(r.randint(1970, 2012)) + r.choice(["!", "", "#", "!!"])
    if style == 3:
        return r.choice(WORDS).capitalize() + r.choice(HUMAN_WORDS).capitalize() + str(r.randint(10, 999)) + r.choice("!#$%")
    if style == 4:
        return r.choice(["Acme", "Contoso", "Globex", "Initech", "Umbrella"]) + r.choice(["@", "#", "_"]) + str(r.randint(2019, 2025)) + r.choice(["!", "", "$"])
    if style == 5:
        return "-".join(r.sample(WORDS + HUMAN_WORDS, 3)) + "-" + str(r.randint(1, 99))
    return rs(r, ALNUM, 1) + rs(r, PW_SAFE, r.randint(13, 21))


def plain_password(r: random.Random) -> str:
    """A password with no shell, quote or URL metacharacters (for unquoted syntaxes)."""
    pw = human_password(r)
    return "".join(c for c in pw if c.isalnum() or c in "-_.") or rs(r, ALNUM, 12)


def token(r: random.Random, n: int = 40, alphabet: str = ALNUM) -> str:
    return rs(r, alphabet, n)


def vendor_value(r: random.Random, maker: Maker) -> str:
    return maker(r)[1]


def w(value: str, kind: str) -> tuple[str, str, str]:
    return (value, WILD, kind)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


W_OPENERS = [
    "Here's what that looks like in practice.", "Based on the files you pasted, this is the setup:",
    "OK, I've filled in the values from your earlier message.", "This is the exact output from the run you shared:",
    "Putting it all together:", "Here's a version that works with your environment.",
    "The problem is in this part of the file:", "That matches what I see in your logs:",
    "Sure, here is the complete file.", "I reproduced it locally with these settings:",
    "Here's the snippet with the real values so you can copy it as is:", "Your config should end up like this:",
    "This is the part of the output that matters:", "Got it, here's the corrected version.",
]
W_CLOSERS = [
    "After you save it, reload the service.", "That should get you past the authentication step.",
    "If it still fails, check the clock skew on the host.", "Make sure the file is only readable by your user (chmod 600).",
    "Let me know what the next error says.", "", "", "The remaining lines are unchanged.",
    "Once it connects, consider moving the value to a secret store.", "You only need to do this once per machine.",
]


def wa(r: random.Random, lang: str, body: Piece, opener: str | None = None, closer: str | None = None) -> Doc:
    return answer(r, lang, body, opener=opener or r.choice(W_OPENERS), closer=closer if closer is not None else r.choice(W_CLOSERS))


def w_md_table(r: random.Random) -> Doc:
    variant = r.randrange(3)
    if variant == 0:
        pw1, pw2 = human_password(r), human_password(r)
        body: Piece = ["| Service | Username | Password |\n|---|---|---|\n",
                       f"| Grafana | admin | ", w(pw1, "markdown_table"), " |\n",
                       f"| Jenkins | {r.choice(['ci', 'build', 'jenkins'])} | ", w(pw2, "markdown_table"), " |\n",
                       "| Kibana | elastic | (SSO, no password) |"]
        return answer(r, "prose", body, opener="Here are the logins for the staging tools, as a table:", closer="\nChange them after the demo.")
    if variant == 1:
        name, sk, _ = stripe(r)
        body = [f"| Name | Value |\n|------|-------|\n| `{name}` | `", w(sk, "markdown_table"),
                "` |\n| `STRIPE_API_VERSION` | `2024-06-20` |\n| `LOG_LEVEL` | `info` |"]
        return answer(r, "prose", body, opener="These are the environment variables for the payments worker:", closer="")
    host = f"db-{r.choice(['prod', 'replica', 'analytics'])}-0{r.randint(1, 4)}.internal"
    pw = human_password(r)
    body = [f"| Setting | Value |\n|:--|:--|\n| Host | {host} |\n| Port | 5432 |\n| Database | orders |\n| User | app_rw |\n| Password | ",
            w(pw, "markdown_table"), " |\n| SSL | require |"]
    return answer(r, "prose", body, opener="Connection details for the reporting database:", closer="\nUse these in DBeaver under *New connection > PostgreSQL*.")


def w_log_url(r: random.Random) -> Doc:
    variant = r.randrange(4)
    if variant == 0:
        key = rs(r, HEX, 32)
        city = r.choice(["Berlin", "Lisbon", "Osaka", "Denver"])
        body: Piece = ["Traceback (most recent call last):\n  File \"weather.py\", line 18, in <module>\n    resp.raise_for_status()\n",
                       "requests.exceptions.HTTPError: 401 Client Error: Unauthorized for url: ",
                       f"https://api.openweathermap.org/data/2.5/weather?q={city}&units=metric&appid=", w(key, "log_url_query")]
        return wa(r, "text", body, opener="The 401 comes from the weather API itself:", closer="A new key takes up to two hours to activate, which explains the 401.")
    if variant == 1:
        key = vendor_value(r, gcp_api_key)
        body = ["requests.exceptions.HTTPError: 403 Client Error: Forbidden for url: https://maps.googleapis.com/maps/api/geocode/json?address=10+Downing+St&key=",
                w(key, "log_url_query")]
        return wa(r, "text", body, opener="Your log shows the request the client made:", closer="A 403 here usually means the key is restricted to other referrers.")
    if variant == 2:
        tok = token(r, 40, B64URL)
        ip = f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        body = [f'{ip} - - [14/Mar/2024:09:{r.randint(10, 59)}:{r.randint(10, 59)} +0000] "GET /api/v1/export?format=csv&access_token=',
                w(tok, "access_log_query"), ' HTTP/1.1" 200 51234 "-" "python-requests/2.31.0"']
        return wa(r, "text", body, opener="Here's the matching line from the nginx access log:", closer="The export did succeed; the client is simply retrying.")
    tok = vendor_value(r, slack)
    body = ["2024-05-02T11:04:19.882Z WARN  [notifier] retrying POST https://slack.com/api/chat.postMessage?token=", w(tok, "log_url_query"),
            "&channel=C04QK2M7ZJT (attempt 3/5): rate_limited"]
    return wa(r, "text", body, opener="The warnings in the notifier log look like this:")


def w_debug_header(r: random.Random) -> Doc:
    variant = r.randrange(3)
    if variant == 0:
        tok = vendor_value(r, github)
        body: Piece = ["send: b'GET /user/repos?per_page=100 HTTP/1.1\\r\\nHost: api.github.com\\r\\nUser-Agent: python-requests/2.31.0\\r\\n",
                       "Authorization: token ", w(tok, "http_debug_header"), "\\r\\nAccept: application/vnd.github+json\\r\\n\\r\\n'\nreply: 'HTTP/1.1 403 Forbidden\\r\\n'"]
        return wa(r, "text", body, opener="With `http.client.HTTPConnection.debuglevel = 1` the request is printed:")
    if variant == 1:
        tok = vendor_value(r, openai)
        body = [f"2024-06-0{r.randint(1, 9)} 14:22:{r.randint(10, 59)},{r.randint(100, 999)} DEBUG httpx - Request headers: ",
                "{'host': 'api.openai.com', 'accept': 'application/json', 'authorization': 'Bearer ", w(tok, "debug_log_header"),
                "', 'content-type': 'application/json'}"]
        return wa(r, "text", body, opener="Here's the debug line right before the timeout:")
    tok = token(r, 48, B64URL)
    body = ["*   Trying 52.18.0.4:443...\n* Connected to api.partner.example (52.18.0.4) port 443\n> POST /v2/orders HTTP/2\n> Host: api.partner.example\n",
            "> authorization: Bearer ", w(tok, "curl_verbose_header"), "\n> content-type: application/json\n>\n< HTTP/2 422"]
    return wa(r, "text", body, opener="The `curl -v` output shows the request is authenticated fine; it's the body that's rejected:")


def w_stack_trace(r: random.Random) -> Doc:
    variant = r.randrange(3)
    pw = plain_password(r)
    if variant == 0:
        body: Piece = [f"2024-04-11 08:15:02.113  INFO 1 --- [main] com.zaxxer.hikari.HikariDataSource : HikariPool-1 - Starting...\n",
                       "2024-04-11 08:15:02.361 ERROR 1 --- [main] com.zaxxer.hikari.pool.HikariPool : HikariPool-1 - Exception during pool initialization.\n",
                       "org.postgresql.util.PSQLException: FATAL: password authentication failed for user \"billing\"\n",
                       "  jdbcUrl=jdbc:postgresql://pg-main:5432/billing?user=billing&password=", w(pw, "stack_trace_jdbc"), "&ssl=true\n",
                       "\tat org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication(ConnectionFactoryImpl.java:693)"]
        return wa(r, "text", body, opener="The relevant part of your stack trace:", closer="The password in the URL doesn't match the one in the database; reset one of them.")
    if variant == 1:
        key = token(r, 32, HEX)
        body = ["Traceback (most recent call last):\n  File \"/app/sync.py\", line 42, in <module>\n",
                "    client = Client(api_key=\"", w(key, "traceback_source_line"), "\", region=\"eu\")\n",
                "  File \"/app/.venv/lib/python3.11/site-packages/partner/client.py\", line 77, in __init__\n    raise AuthError(\"invalid key\")\npartner.errors.AuthError: invalid key"]
        return wa(r, "text", body, opener="Python prints the failing source line, so the traceback includes your key:")
    url_pw = quote(human_password(r), safe="!*$^")
    body = ["MongoServerError: bad auth : authentication failed\n    at Connection.onMessage (node_modules/mongodb/lib/cmap/connection.js:231:30)\n",
            "  connectionString: 'mongodb+srv://admin:", w(url_pw, "node_error_object"), "@cluster0.ab1cd.mongodb.net/shop',\n  code: 8000,\n  codeName: 'AtlasError'"]
    return wa(r, "text", body, opener="Node logs the whole error object, including the connection string:")


def w_k8s_stringdata(r: random.Random) -> Doc:
    pw = human_password(r)
    key = vendor_value(r, r.choice([sendgrid, stripe, openai]))
    body: Piece = [f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {r.choice(['app-secrets', 'backend-env', 'api-credentials'])}\n  namespace: {r.choice(['prod', 'default', 'payments'])}\ntype: Opaque\nstringData:\n",
                   "  DB_USER: app\n  DB_PASSWORD: \"", w(pw, "k8s_secret_stringdata"), "\"\n  API_KEY: ", w(key, "k8s_secret_stringdata")]
    return wa(r, "yaml", body, opener="With `stringData` you can write the values in plain text and Kubernetes encodes them for you:")


def w_k8s_data(r: random.Random) -> Doc:
    pw = human_password(r)
    user = r.choice(["postgres", "admin", "app", "rabbit"])
    body: Piece = [f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {user}-credentials\ntype: Opaque\ndata:\n  username: {b64(user)}\n  password: ",
                   w(b64(pw), "k8s_secret_data")]
    if r.random() < 0.4:
        body += ["\n  api-token: ", w(b64(token(r, 32, ALNUM)), "k8s_secret_data")]
    return wa(r, "yaml", body, opener=r.choice(["Here's the Secret manifest, values base64-encoded as `data` requires:",
                                                 "I encoded the values with `echo -n ... | base64` for you:"]))


def w_k8s_dockerconfig(r: random.Random) -> Doc:
    user = r.choice(["ci-bot", "deploy", "acme"])
    pat = vendor_value(r, docker)
    cfg = json.dumps({"auths": {"https://index.docker.io/v1/": {"username": user, "password": pat, "auth": b64(f"{user}:{pat}")}}})
    body: Piece = ["apiVersion: v1\nkind: Secret\nmetadata:\n  name: regcred\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: ",
                   w(b64(cfg), "k8s_dockerconfigjson")]
    return wa(r, "yaml", body, opener="This is the pull secret generated from your Docker Hub login:")


def w_kubectl_literal(r: random.Random) -> Doc:
    pw = human_password(r).replace("'", "")
    body: Piece = ["kubectl create secret generic db-credentials \\\n  --from-literal=username=app \\\n  --from-literal=password='", w(pw, "kubectl_from_literal"), "' \\\n  -n prod"]
    return wa(r, "bash", body, opener="Create the secret directly from the command line:")


def w_docker_run(r: random.Random) -> Doc:
    variant = r.randrange(3)
    if variant == 0:
        pw = plain_password(r)
        body: Piece = ["docker run -d --name pg \\\n  -e POSTGRES_USER=app \\\n  -e POSTGRES_PASSWORD=", w(pw, "docker_run_env"), " \\\n  -p 5432:5432 postgres:16"]
    elif variant == 1:
        pw = human_password(r).replace("'", "")
        body = ["docker run -d --name mysql -e MYSQL_ROOT_PASSWORD='", w(pw, "docker_run_env"), "' -e MYSQL_DATABASE=shop -p 3306:3306 mysql:8.4"]
    else:
        tok = vendor_value(r, docker)
        body = ["echo building...\ndocker login -u acmeci -p ", w(tok, "docker_login_cli"), "\ndocker push acmeci/api:1.4.2"]
    return wa(r, "bash", body, opener=r.choice(["Start the container like this:", "Here's the command from your CI script:", "Run this on the host:"]))


def w_compose(r: random.Random) -> Doc:
    pw1, pw2 = plain_password(r), plain_password(r)
    if r.random() < 0.5:
        body: Piece = ["services:\n  db:\n    image: mariadb:11\n    environment:\n      - MARIADB_ROOT_PASSWORD=", w(pw1, "compose_env_list"),
                       "\n      - MARIADB_DATABASE=wordpress\n  wordpress:\n    image: wordpress:6\n    environment:\n      - WORDPRESS_DB_PASSWORD=", w(pw2, "compose_env_list")]
    else:
        body = ["services:\n  rabbitmq:\n    image: rabbitmq:3-management\n    environment:\n      RABBITMQ_DEFAULT_USER: admin\n      RABBITMQ_DEFAULT_PASS: ", w(pw1, "compose_env_map"),
                "\n    ports:\n      - \"15672:15672\""]
    return wa(r, "yaml", body, opener="Here's the compose file:")


def w_tfvars(r: random.Random) -> Doc:
    if r.random() < 0.5:
        pw = human_password(r)
        cf = vendor_value(r, cloudflare)
        body: Piece = ['region          = "eu-west-1"\ninstance_type   = "t3.medium"\ndb_password     = "', w(pw, "terraform_tfvars"),
                       '"\ncloudflare_token = "', w(cf, "terraform_tfvars"), '"']
        return wa(r, "hcl", body, opener="Your `terraform.tfvars` would contain:")
    tok = vendor_value(r, github)
    body = ['provider "github" {\n  owner = "acme-platform"\n  token = "', w(tok, "terraform_provider"), '"\n}']
    return wa(r, "hcl", body, opener="The provider block with the token inline:")


def w_pgpass(r: random.Random) -> Doc:
    pw1 = "".join(c for c in human_password(r) if c not in ":\\")
    body: Piece = [f"db.prod.internal:5432:orders:app_rw:", w(pw1, "pgpass")]
    if r.random() < 0.5:
        pw2 = "".join(c for c in human_password(r) if c not in ":\\")
        body += ["\n*:5432:*:postgres:", w(pw2, "pgpass")]
    return wa(r, "text", body, opener="Put this in `~/.pgpass` (mode 0600) and psql won't prompt any more:")


def w_netrc(r: random.Random) -> Doc:
    variant = r.randrange(2)
    if variant == 0:
        tok = vendor_value(r, heroku)
        body: Piece = ["machine api.heroku.com\n  login dana@example.com\n  password ", w(tok, "netrc"),
                       "\nmachine git.heroku.com\n  login dana@example.com\n  password ", w(tok, "netrc")]
        return wa(r, "text", body, opener="`heroku login` wrote these lines to your `~/.netrc`:")
    pw = plain_password(r)
    body = ["machine ftp.partner.example login uploader password ", w(pw, "netrc")]
    return wa(r, "text", body, opener="A one-line `~/.netrc` entry is enough for curl with `-n`:")


def w_git_credentials(r: random.Random) -> Doc:
    if r.random() < 0.5:
        tok = vendor_value(r, github)
        body: Piece = ["https://dana-ortiz:", w(tok, "git_credentials"), "@github.com"]
    else:
        tok = "glpat-" + rs(r, B64URL, 20)
        body = ["https://oauth2:", w(tok, "git_credentials"), "@gitlab.example.com"]
    return wa(r, "text", body, opener="The credential helper stored this in `~/.git-credentials`:")


def w_aws_ini(r: random.Random) -> Doc:
    kid, sec = vendor_value(r, aws_key_id), vendor_value(r, aws_secret)
    body: Piece = ["[default]\nregion = us-east-1\n\n[prod]\naws_access_key_id = ", w(kid, "aws_credentials_ini"),
                   "\naws_secret_access_key = ", w(sec, "aws_credentials_ini")]
    if r.random() < 0.3:
        body += ["\naws_session_token = ", w("IQoJb3JpZ2luX2VjE" + rs(r, B64, 300), "aws_credentials_ini")]
    return wa(r, "ini", body, opener="Your `~/.aws/credentials` should look like this:")


def w_wp_config(r: random.Random) -> Doc:
    pw = human_password(r).replace("'", "")
    body: Piece = ["define( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', 'wp_user' );\ndefine( 'DB_PASSWORD', '", w(pw, "wp_config_define"),
                   "' );\ndefine( 'DB_HOST', 'localhost' );"]
    if r.random() < 0.5:
        salt = rs(r, ALNUM + "!@#%^&*()-_[]{}<>~+=,.;:/?|", 64)
        body += ["\ndefine( 'AUTH_KEY',         '", w(salt, "wp_config_define"), "' );"]
    return wa(r, "php", body, opener="Here's the top of your `wp-config.php`:")


def w_spring(r: random.Random) -> Doc:
    pw = human_password(r)
    if r.random() < 0.5:
        body: Piece = ["spring.datasource.url=jdbc:mysql://mysql:3306/inventory\nspring.datasource.username=inventory\nspring.datasource.password=",
                       w(pw, "spring_properties")]
        if r.random() < 0.5:
            body += ["\nspring.mail.host=smtp.sendgrid.net\nspring.mail.username=apikey\nspring.mail.password=", w(vendor_value(r, sendgrid), "spring_properties")]
        return wa(r, "properties", body, opener="In `application.properties`:")
    body = ["spring:\n  datasource:\n    url: jdbc:postgresql://pg:5432/catalog\n    username: catalog\n    password: ", w(pw, "spring_yaml"),
            "\n  jpa:\n    hibernate:\n      ddl-auto: validate"]
    return wa(r, "yaml", body, opener="The equivalent `application.yml`:")


def w_django(r: random.Random) -> Doc:
    key = "django-insecure-" + rs(r, LOWER + DIGITS + "!@#%^&*(-_=+)", 50) if r.random() < 0.5 else rs(r, LOWER + DIGITS + "!@#%^&*(-_=+)", 50)
    pw = human_password(r).replace("'", "")
    body: Piece = ["SECRET_KEY = '", w(key, "django_settings"), "'\n\nDEBUG = False\n\nDATABASES = {\n    'default': {\n        'ENGINE': 'django.db.backends.postgresql',\n",
                   "        'NAME': 'shop',\n        'USER': 'shop',\n        'PASSWORD': '", w(pw, "django_settings"), "',\n        'HOST': 'db',\n    }\n}"]
    return wa(r, "python", body, opener="Here's your `settings.py` with the production values:")


def w_rails(r: random.Random) -> Doc:
    variant = r.randrange(2)
    if variant == 0:
        body: Piece = ["$ cat config/master.key\n", w(rs(r, HEX, 32), "rails_master_key")]
        return wa(r, "text", body, opener="The key Rails generated:", closer="Set it as RAILS_MASTER_KEY on the server.")
    body = ["production:\n  secret_key_base: ", w(rs(r, HEX, 128), "rails_secrets_yml"), "\n  database:\n    password: ", w(human_password(r), "rails_secrets_yml")]
    return wa(r, "yaml", body, opener="Your old `config/secrets.yml`:")


def w_jupyter(r: random.Random) -> Doc:
    variant = r.randrange(2)
    if variant == 0:
        key = vendor_value(r, r.choice([openai, anthropic, huggingface]))
        body: Piece = ["In [3]: import os\n\nIn [4]: os.environ[\"API_KEY\"]\nOut[4]: '", w(key, "jupyter_output"), "'"]
        return wa(r, "text", body, opener="The variable is set in the kernel, see the cell output:")
    pw = human_password(r).replace("'", "")
    body = ["In [7]: creds = load_config(\"prod\")\n\nIn [8]: creds\nOut[8]: {'host': 'warehouse.internal', 'user': 'analyst', 'password': '", w(pw, "jupyter_output"), "', 'port': 5439}"]
    return wa(r, "text", body, opener="So the config loads correctly:")


def w_api_response(r: random.Random) -> Doc:
    variant = r.randrange(3)
    if variant == 0:
        at = "ya29.a0" + rs(r, B64URL, 160)
        rt = "1//0" + rs(r, B64URL, 99)
        body: Piece = ['{\n  "access_token": "', w(at, "json_api_response"), '",\n  "expires_in": 3599,\n  "refresh_token": "', w(rt, "json_api_response"),
                       '",\n  "scope": "https://www.googleapis.com/auth/drive.readonly",\n  "token_type": "Bearer"\n}']
        return wa(r, "json", body, opener="Google's token endpoint returned:")
    if variant == 1:
        at, rt = rs(r, ALNUM, 40), rs(r, ALNUM, 48)
        body = ['{"token_type":"bearer","access_token":"', w(at, "json_api_response"), '","refresh_token":"', w(rt, "json_api_response"), '","expires_in":7200,"created_at":1714560000}']
        return wa(r, "json", body, opener="The response body from `/oauth/token`:")
    sec = "sk_" + rs(r, LOWER + DIGITS, 40)
    body = ['{\n  "id": "key_', rs(r, ALNUM, 14), '",\n  "name": "ci-deploy",\n  "secret": "', w(sec, "json_api_response"), '",\n  "created": "2024-03-09T10:14:00Z"\n}']
    return wa(r, "json", body, opener="The API returns the new key once, at creation:")


def w_oauth_dict(r: random.Random) -> Doc:
    if r.random() < 0.5:
        cid = f"{rs(r, DIGITS, 12)}-{rs(r, LOWER + DIGITS, 32)}.apps.googleusercontent.com"
        sec = vendor_value(r, gcp_oauth_secret)
        body: Piece = ['CLIENT_CONFIG = {\n    "web": {\n        "client_id": "', cid, '",\n        "client_secret": "', w(sec, "python_dict"),
                       '",\n        "auth_uri": "https://accounts.google.com/o/oauth2/auth",\n        "token_uri": "https://oauth2.googleapis.com/token",\n    }\n}']
    else:
        sec = rs(r, HEX, 40)
        body = ["oauth.register(\n    name=\"github\",\n    client_id=\"Iv1.", rs(r, HEX, 16), "\",\n    client_secret=\"", w(sec, "python_kwargs"), "\",\n    client_kwargs={\"scope\": \"read:user\"},\n)"]
    return wa(r, "python", body, opener="Here's the OAuth client configuration:")


def w_powershell(r: random.Random) -> Doc:
    variant = r.randrange(3)
    pw = human_password(r).replace('"', "").replace("$", "").replace("`", "")
    if variant == 0:
        body: Piece = ['$password = ConvertTo-SecureString "', w(pw, "powershell_securestring"), '" -AsPlainText -Force\n',
                       '$cred = New-Object System.Management.Automation.PSCredential ("CORP\\svc_backup", $password)\nInvoke-Command -ComputerName fs01 -Credential $cred -ScriptBlock { Get-Volume }']
    elif variant == 1:
        tok = vendor_value(r, github)
        body = ['$env:GITHUB_TOKEN = "', w(tok, "powershell_env"), '"\ngh repo list acme --limit 50']
    else:
        body = ["[Environment]::SetEnvironmentVariable(\"SMTP_PASSWORD\", \"", w(pw, "powershell_setenv"), "\", \"Machine\")"]
    return wa(r, "powershell", body, opener="In PowerShell:")


def w_code_consts(r: random.Random) -> Doc:
    variant = r.randrange(7)
    if variant == 0:
        key = vendor_value(r, r.choice([sendgrid, mailgun, twilio]))
        return wa(r, "go", ["package notify\n\nconst apiKey = \"", w(key, "go_const"), "\"\n\nfunc New() *Client { return &Client{key: apiKey} }"])
    if variant == 1:
        pw = plain_password(r)
        return wa(r, "go", ["db, err := sql.Open(\"postgres\", \"host=pg.internal port=5432 user=ledger password=", w(pw, "go_libpq_dsn"),
                            " dbname=ledger sslmode=disable\")\nif err != nil {\n\tlog.Fatal(err)\n}"])
    if variant == 2:
        sec = token(r, 32, ALNUM)
        return wa(r, "java", ["public final class PaymentConfig {\n    private static final String MERCHANT_ID = \"M-20431\";\n    private static final String API_SECRET = \"",
                              w(sec, "java_constant"), "\";\n}"])
    if variant == 3:
        pw = human_password(r).replace('"', "")
        return wa(r, "java", ["Connection conn = DriverManager.getConnection(\n    \"jdbc:oracle:thin:@erp-db:1521/ERP\", \"erp_app\", \"", w(pw, "java_getconnection_arg"), "\");"])
    if variant == 4:
        pw = human_password(r).replace('"', "")
        return wa(r, "csharp", ["var smtp = new SmtpClient(\"smtp.office365.com\", 587)\n{\n    EnableSsl = true,\n    Credentials = new NetworkCredential(\"alerts@contoso.com\", \"",
                                w(pw, "csharp_networkcredential"), "\")\n};"])
    if variant == 5:
        tok = vendor_value(r, r.choice([github, replicate, groq]))
        return wa(r, "rust", ["const API_TOKEN: &str = \"", w(tok, "rust_const"), "\";\n\nlet resp = client.get(url).bearer_auth(API_TOKEN).send().await?;"])
    pw = human_password(r).replace("'", "")
    return wa(r, "javascript", ["const transporter = nodemailer.createTransport({\n  host: 'smtp.mailgun.org',\n  port: 587,\n  auth: { user: 'postmaster@mg.example.com', pass: '",
                                w(pw, "js_object_literal"), "' },\n});"])


def w_sql(r: random.Random) -> Doc:
    variant = r.randrange(4)
    pw = human_password(r).replace("'", "")
    if variant == 0:
        body: Piece = ["CREATE USER 'report'@'%' IDENTIFIED BY '", w(pw, "sql_identified_by"), "';\nGRANT SELECT ON shop.* TO 'report'@'%';"]
    elif variant == 1:
        body = ["ALTER ROLE app_rw WITH LOGIN PASSWORD '", w(pw, "sql_role_password"), "' VALID UNTIL '2025-12-31';"]
    elif variant == 2:
        body = ["CREATE LOGIN etl_loader WITH PASSWORD = '", w(pw, "sql_create_login"), "', CHECK_POLICY = ON;\nCREATE USER etl_loader FOR LOGIN etl_loader;"]
    else:
        pw2 = human_password(r).replace("'", "")
        body = ["CREATE ROLE analyst LOGIN PASSWORD '", w(pw, "sql_role_password"), "';\nCREATE ROLE etl LOGIN PASSWORD '", w(pw2, "sql_role_password"), "';"]
    return wa(r, "sql", body, opener="Run this as the admin user:")


def w_redis_mongo(r: random.Random) -> Doc:
    variant = r.randrange(4)
    pw = plain_password(r)
    if variant == 0:
        return wa(r, "bash", ["redis-cli -h cache.internal -p 6379 -a ", w(pw, "redis_cli_a"), " --no-auth-warning INFO memory"])
    if variant == 1:
        return wa(r, "text", ["127.0.0.1:6379> AUTH default ", w(pw, "redis_auth_command"), "\nOK\n127.0.0.1:6379> KEYS session:*"])
    if variant == 2:
        url_pw = quote(human_password(r), safe="!*$^")
        return wa(r, "bash", ['mongosh "mongodb://admin:', w(url_pw, "mongosh_uri"), '@10.0.2.15:27017/?authSource=admin"'])
    return wa(r, "bash", ["mongosh --host mongo01 --username root --password '", w(human_password(r).replace("'", ""), "mongosh_password_flag"), "' --authenticationDatabase admin"])


def w_smtp(r: random.Random) -> Doc:
    variant = r.randrange(3)
    if variant == 0:
        app_pw = " ".join(rs(r, LOWER, 4) for _ in range(4))
        return wa(r, "text", ["[smtp.gmail.com]:587 reports.acme@gmail.com:", w(app_pw, "postfix_sasl_passwd")],
                  opener="Your `/etc/postfix/sasl_passwd`, with the Gmail app password:", closer="Then run `postmap /etc/postfix/sasl_passwd`.")
    if variant == 1:
        pw = human_password(r).replace("'", "")
        return wa(r, "python", ["EMAIL_BACKEND = 'django.core.mail.backends.smtp.EmailBackend'\nEMAIL_HOST = 'smtp.zoho.eu'\nEMAIL_PORT = 587\nEMAIL_HOST_USER = 'noreply@example.eu'\nEMAIL_HOST_PASSWORD = '",
                                   w(pw, "django_email_settings"), "'\nEMAIL_USE_TLS = True"])
    pw = plain_password(r)
    return wa(r, "text", ["account default\nhost smtp.fastmail.com\nport 465\ntls on\nuser me@fastmail.com\npassword ", w(pw, "msmtprc"), "\nfrom me@fastmail.com"],
              opener="A working `~/.msmtprc`:")


def w_network(r: random.Random) -> Doc:
    variant = r.randrange(5)
    pw = human_password(r).replace('"', "")
    if variant == 0:
        return wa(r, "text", ['network={\n    ssid="Office-5G"\n    psk="', w(pw, "wpa_supplicant_psk"), '"\n    key_mgmt=WPA-PSK\n}'], opener="Add this block to `/etc/wpa_supplicant/wpa_supplicant.conf`:")
    if variant == 1:
        return wa(r, "ini", ["[wifi]\nssid=Guest\nmode=infrastructure\n\n[wifi-security]\nkey-mgmt=wpa-psk\npsk=", w(pw, "networkmanager_psk")],
                  opener="The NetworkManager connection file:")
    if variant == 2:
        psk = rs(r, ALNUM, 32)
        return wa(r, "text", ["# /etc/ipsec.secrets\n203.0.113.10 198.51.100.7 : PSK \"", w(psk, "ipsec_psk"), "\""], opener="For the site-to-site tunnel, both ends need the same PSK:")
    if variant == 3:
        priv = rs(r, B64, 42) + r.choice("AEIMQUYcgkosw048") + "="
        pub = rs(r, B64, 42) + "E="
        return wa(r, "ini", ["[Interface]\nAddress = 10.8.0.2/24\nPrivateKey = ", w(priv, "wireguard_private_key"), "\nDNS = 1.1.1.1\n\n[Peer]\nPublicKey = ", pub,
                             "\nEndpoint = vpn.example.net:51820\nAllowedIPs = 0.0.0.0/0"], opener="Here's the client config for WireGuard:")
    pw2 = plain_password(r)
    return wa(r, "text", ["hostname edge-rtr-01\nusername admin privilege 15 secret 0 ", w(pw2, "cisco_plaintext_secret"), "\nenable password ", w(plain_password(r), "cisco_enable_password"),
                          "\nline vty 0 4\n login local"], opener="The router config after your change:")


def w_prose(r: random.Random) -> Doc:
    variant = r.randrange(6)
    pw = human_password(r)
    if variant == 0:
        return answer(r, "prose", ["I checked the handover notes: the admin password is ", w(pw, "prose_password"), " and the username is `admin`."], opener="Found it.", closer="")
    if variant == 1:
        key = vendor_value(r, r.choice([openai, stripe, sendgrid]))
        return answer(r, "prose", ["Use this key: ", w(key, "prose_key"), "\nIt's scoped to the staging project only."], opener="No problem.", closer="")
    if variant == 2:
        return answer(r, "prose", ["The Wi-Fi in meeting room B is called Acme-Guest and the password is ", w(pw, "prose_password"), " (case-sensitive)."], opener="Sure.", closer="")
    if variant == 3:
        return answer(r, "prose", ["I reset the account for you. Log in as jmiller with the temporary password ", w(pw, "prose_password"),
                                   "; you'll be asked to choose a new one on first login."], opener="Done.", closer="")
    if variant == 4:
        return answer(r, "prose", ["The root password on the new VPS is \"", w(pw, "prose_password"), "\", and SSH runs on port 2222."], opener="From the provider's welcome email:", closer="")
    tok = vendor_value(r, r.choice([github, gitlab, npm]))
    return answer(r, "prose", ["Paste ", w(tok, "prose_key"), " into the token field of the integration and press Connect."], opener="Almost there.", closer="")


def w_split(r: random.Random) -> Doc:
    tok = vendor_value(r, r.choice([openai, anthropic, slack, sendgrid]))
    cut = r.randint(len(tok) // 3, 2 * len(tok) // 3)
    wrapped = tok[:cut] + "\n" + tok[cut:]
    return answer(r, "prose", ["Your key, exactly as it appears in the email (it was wrapped across two lines, so join them without a space): ", w(wrapped, "prose_wrapped"),
                               "\nThat should fix the 'invalid key' message."], opener="I see the problem.", closer="")


def w_url_token(r: random.Random) -> Doc:
    variant = r.randrange(3)
    if variant == 0:
        tok = vendor_value(r, telegram)
        return wa(r, "bash", ["curl -s \"https://api.telegram.org/bot", w(tok, "url_path_token"), "/sendMessage?chat_id=-100123456789&text=deploy+done\""])
    if variant == 1:
        tok = rs(r, ALNUM, 32)
        return wa(r, "javascript", ["const ws = new WebSocket(`wss://stream.marketdata.example/v2/quotes?symbols=AAPL,MSFT&apikey=", w(tok, "url_query_apikey"), "`);"])
    key = vendor_value(r, gcp_api_key)
    return wa(r, "html", ['<script async src="https://maps.googleapis.com/maps/api/js?key=', w(key, "url_query_apikey"), '&callback=initMap"></script>'])


def w_basic_b64(r: random.Random) -> Doc:
    variant = r.randrange(3)
    cred = b64(f"{r.choice(['admin', 'api', 'svc-export'])}:{human_password(r)}")
    if variant == 0:
        return wa(r, "python", ['headers = {\n    "Authorization": "Basic ', w(cred, "basic_auth_python"), '",\n    "Accept": "application/json",\n}'])
    if variant == 1:
        return wa(r, "nginx", ["location /upstream/ {\n    proxy_pass https://legacy.internal/;\n    proxy_set_header Authorization \"Basic ", w(cred, "basic_auth_nginx"), "\";\n}"])
    auth = b64(f"robot$ci:{rs(r, ALNUM, 32)}")
    return wa(r, "json", ['{\n  "auths": {\n    "harbor.example.com": {\n      "auth": "', w(auth, "docker_config_auth"), '"\n    }\n  }\n}'], opener="Your `~/.docker/config.json`:")


def w_tooling(r: random.Random) -> Doc:
    variant = r.randrange(8)
    if variant == 0:
        return wa(r, "ini", ["[webservers]\nweb01 ansible_host=10.0.0.11\n\n[webservers:vars]\nansible_user=deploy\nansible_password=", w(plain_password(r), "ansible_inventory"),
                             "\nansible_become_pass=", w(plain_password(r), "ansible_inventory")], opener="Your inventory file:")
    if variant == 1:
        return wa(r, "ini", ["registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=", w(vendor_value(r, npm), "npmrc_authtoken")], opener="The `.npmrc` in the repo root:")
    if variant == 2:
        return wa(r, "ini", ["[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = ", w(vendor_value(r, pypi), "pypirc")], opener="Your `~/.pypirc`:")
    if variant == 3:
        return wa(r, "xml", ["<settings>\n  <servers>\n    <server>\n      <id>nexus-releases</id>\n      <username>deployment</username>\n      <password>",
                             w(human_password(r).replace("<", "").replace("&", ""), "maven_settings_xml"), "</password>\n    </server>\n  </servers>\n</settings>"], opener="`~/.m2/settings.xml`:")
    if variant == 4:
        return wa(r, "yaml", ["jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      NPM_TOKEN: ", w(vendor_value(r, npm), "gha_workflow_env"),
                              "\n    steps:\n      - uses: actions/checkout@v4\n      - run: npm publish"], opener="The workflow as you have it now:")
    if variant == 5:
        return wa(r, "yaml", ["postgresql:\n  auth:\n    username: keycloak\n    password: ", w(plain_password(r), "helm_values"), "\n    database: keycloak\n  primary:\n    persistence:\n      size: 8Gi"],
                  opener="Your `values.yaml` for the chart:")
    if variant == 6:
        return wa(r, "bash", ["sshpass -p '", w(human_password(r).replace("'", ""), "sshpass"), "' ssh -o StrictHostKeyChecking=no pi@192.168.1.50 'sudo reboot'"])
    return wa(r, "bash", ["PGPASSWORD='", w(human_password(r).replace("'", ""), "pgpassword_env_inline"), "' pg_dump -h pg.internal -U backup -Fc orders > orders.dump"])


def w_cli_misc(r: random.Random) -> Doc:
    variant = r.randrange(7)
    if variant == 0:
        return wa(r, "bat", ["net use Z: \\\\fileserver\\finance /user:CORP\\svc_reports ", w(plain_password(r), "windows_net_use"), " /persistent:yes"], opener="From a cmd prompt:")
    if variant == 1:
        return wa(r, "bash", ["openssl enc -aes-256-cbc -pbkdf2 -salt -in backup.tar -out backup.tar.enc -pass pass:", w(plain_password(r), "openssl_pass_arg")])
    if variant == 2:
        return wa(r, "bash", ["zip -P ", w(plain_password(r), "zip_password_flag"), " -r invoices-2024.zip invoices/"])
    if variant == 3:
        return wa(r, "bash", ["firebase functions:config:set stripe.secret=\"", w(vendor_value(r, stripe), "firebase_config_set"), "\" stripe.currency=\"eur\""])
    if variant == 4:
        return wa(r, "bash", ["gh secret set SLACK_BOT_TOKEN --body \"", w(vendor_value(r, slack), "gh_secret_set"), "\" --repo acme/alerts"])
    if variant == 5:
        return wa(r, "text", ["*/15 * * * * curl -fsS -u monitor:", w(plain_password(r), "crontab_curl_user"), " https://status.internal/api/ping > /dev/null"], opener="The crontab entry:")
    return wa(r, "dockerfile", ["FROM node:20-alpine\nARG NPM_TOKEN=", w(vendor_value(r, npm), "dockerfile_arg_default"),
                                "\nRUN echo \"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\" > .npmrc && npm ci"])


def w_dotnet_xml(r: random.Random) -> Doc:
    if r.random() < 0.5:
        key = token(r, 32, HEX)
        return wa(r, "xml", ['<appSettings>\n  <add key="Environment" value="Production" />\n  <add key="PaymentGatewayApiKey" value="', w(key, "appconfig_xml_value"), '" />\n</appSettings>'],
                  opener="In `App.config`:")
    pw = human_password(r).replace('"', "").replace(";", "")
    return wa(r, "json", ['{\n  "Smtp": {\n    "Host": "smtp.sendgrid.net",\n    "User": "apikey",\n    "Pass": "', w(vendor_value(r, sendgrid), "appsettings_json"),
                          '"\n  },\n  "Redis": "cache:6380,password=', w(pw, "stackexchange_redis_connstr"), ',ssl=True"\n}'], opener="Your `appsettings.Production.json`:")


def w_slack_bolt(r: random.Random) -> Doc:
    tok, sig = vendor_value(r, slack), rs(r, HEX, 32)
    return wa(r, "python", ['app = App(\n    token="', w(tok, "python_kwargs"), '",\n    signing_secret="', w(sig, "python_kwargs"), '",\n)'], opener="Initialise the Bolt app like this:")


WILD_TEMPLATES: list[Callable[[random.Random], Doc]] = [
    w_md_table, w_log_url, w_debug_header, w_stack_trace, w_k8s_stringdata, w_k8s_data, w_k8s_dockerconfig, w_kubectl_literal,
    w_docker_run, w_compose, w_tfvars, w_pgpass, w_netrc, w_git_credentials, w_aws_ini, w_wp_config, w_spring, w_django, w_rails,
    w_jupyter, w_api_response, w_oauth_dict, w_powershell, w_code_consts, w_code_consts, w_sql, w_redis_mongo, w_smtp, w_network,
    w_network, w_prose, w_prose, w_split, w_url_token, w_basic_b64, w_tooling, w_tooling, w_cli_misc, w_cli_misc, w_dotnet_xml, w_slack_bolt,
]


def wild_record(r: random.Random, template: Callable[[random.Random], Doc]) -> Doc:
    doc = template(r)
    if len(doc.spans) == 1 and r.random() < 0.25:  # a second snippet, another syntax
        other = r.choice(WILD_TEMPLATES)(r)
        if len(doc.spans) + len(other.spans) <= 3:
            doc.add("\n\n" + r.choice(["And for the other environment:", "The second file is similar:", "Same for the worker:"]) + "\n\n")
            _merge(doc, other)
    return doc


# ---------------------------------------------------------------------------------------------
# Family "hard_negative": answers about credentials that contain none
# ---------------------------------------------------------------------------------------------
#
# Every record has no span. Each builder returns (kind, lang, body, opener); the kinds: reads from
# the environment or a vault, placeholders in many styles, policy prose, OAuth / JWT explanations,
# password hashes, public keys and fingerprints, ids and digests, config keys whose values are not
# secret, test fixtures with obviously fake values.

Neg = tuple[str, str, str, str]


def bcrypt_hash(r: random.Random) -> str:
    return f"$2b${r.choice(['10', '12', '12', '14'])}$" + rs(r, ALNUM + "./", 53)


def argon2_hash(r: random.Random) -> str:
    return f"$argon2id$v=19$m={r.choice([19456, 65536, 47104])},t={r.choice([2, 3])},p=1$" + rs(r, B64.replace("+", "").replace("/", ""), 22) + "$" + rs(r, B64.replace("+", "").replace("/", ""), 43)


def n_env_read(r: random.Random) -> Neg:
    v = r.randrange(5)
    if v == 0:
        return ("env_read", "python", 'import os\n\nOPENAI_API_KEY = os.getenv("OPENAI_API_KEY")\nif not OPENAI_API_KEY:\n    raise RuntimeError("set OPENAI_API_KEY first")',
                "Read the key from the environment instead of hard-coding it:")
    if v == 1:
        return ("env_read", "javascript", "const stripe = require('stripe')(process.env.STRIPE_SECRET_KEY);\nconst endpointSecret = process.env.STRIPE_WEBHOOK_SECRET;",
                "Keep both values in environment variables:")
    if v == 2:
        return ("env_read", "go", 'token := os.Getenv("GITHUB_TOKEN")\nif token == "" {\n\tlog.Fatal("GITHUB_TOKEN is not set")\n}\nclient := github.NewClient(nil).WithAuthToken(token)',
                "In Go you'd do:")
    if v == 3:
        return ("env_read", "rust", 'let api_key = std::env::var("ANTHROPIC_API_KEY").expect("ANTHROPIC_API_KEY must be set");',
                "Rust version:")
    return ("env_read", "csharp", 'var password = Environment.GetEnvironmentVariable("DB_PASSWORD")\n    ?? throw new InvalidOperationException("DB_PASSWORD missing");\nvar conn = $"Host=db;Username=app;Password={password}";',
            "In .NET, build the connection string at runtime:")


def n_ci_secrets(r: random.Random) -> Neg:
    v = r.randrange(3)
    if v == 0:
        return ("ci_secret_ref", "yaml", "- name: Publish\n  run: npm publish\n  env:\n    NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}",
                "In GitHub Actions, reference the repository secret; it's masked in the logs:")
    if v == 1:
        return ("ci_secret_ref", "yaml", "deploy:\n  stage: deploy\n  script:\n    - echo \"$CI_REGISTRY_PASSWORD\" | docker login -u \"$CI_REGISTRY_USER\" --password-stdin \"$CI_REGISTRY\"",
                "GitLab provides the registry credentials as predefined variables:")
    return ("ci_secret_ref", "groovy", "withCredentials([string(credentialsId: 'sonar-token', variable: 'SONAR_TOKEN')]) {\n    sh 'mvn sonar:sonar -Dsonar.token=$SONAR_TOKEN'\n}",
            "In a Jenkinsfile, bind the credential only for the step that needs it:")


def n_helm_template(r: random.Random) -> Neg:
    v = r.randrange(2)
    if v == 0:
        return ("template_ref", "yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ include \"app.fullname\" . }}\ntype: Opaque\ndata:\n  password: {{ .Values.db.password | b64enc | quote }}",
                "The chart template renders the password from values at install time:")
    return ("template_ref", "jinja", "[client]\nuser = {{ mysql_user }}\npassword = {{ vault_mysql_password }}",
            "The Ansible template for `~/.my.cnf` pulls the password from the vaulted variable:")


def n_vault(r: random.Random) -> Neg:
    v = r.randrange(4)
    acct = rs(r, DIGITS, 12)
    if v == 0:
        return ("vault_path", "bash", "vault kv get -field=password secret/data/prod/postgres\nvault kv put secret/prod/stripe api_key=@stripe.key",
                "Fetch it from Vault when you need it:")
    if v == 1:
        return ("secrets_manager_arn", "json", f'{{\n  "Effect": "Allow",\n  "Action": "secretsmanager:GetSecretValue",\n  "Resource": "arn:aws:secretsmanager:eu-west-1:{acct}:secret:prod/db/credentials-{rs(r, ALNUM, 6)}"\n}}',
                "The task role only needs read access to that one secret:")
    if v == 2:
        return ("secrets_manager_arn", "yaml", f"containerDefinitions:\n  - name: api\n    secrets:\n      - name: DB_PASSWORD\n        valueFrom: arn:aws:ssm:us-east-1:{acct}:parameter/prod/api/db_password",
                "ECS injects the parameter at startup:")
    return ("vault_path", "python", 'client = hvac.Client(url="https://vault.internal:8200")\nclient.auth.kubernetes.login(role="api", jwt=open("/var/run/secrets/kubernetes.io/serviceaccount/token").read())\nsecret = client.secrets.kv.v2.read_secret_version(path="prod/api")["data"]["data"]',
            "With hvac and Kubernetes auth, no static token is needed:")


def n_azure_gcp_refs(r: random.Random) -> Neg:
    v = r.randrange(2)
    if v == 0:
        return ("keyvault_ref", "json", '{\n  "name": "DbPassword",\n  "value": "@Microsoft.KeyVault(SecretUri=https://kv-prod-weu.vault.azure.net/secrets/db-password/)"\n}',
                "App Service can resolve Key Vault references in app settings:")
    return ("secret_manager_ref", "bash", "gcloud secrets versions access latest --secret=stripe-api-key --project=billing-prod",
            "To read the current version from Secret Manager:")


PLACEHOLDERS = [
    ("OPENAI_API_KEY", "<YOUR_API_KEY>"), ("STRIPE_SECRET_KEY", "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx"), ("GITHUB_TOKEN", "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
    ("API_KEY", "your_api_key_here"), ("DB_PASSWORD", "********"), ("SLACK_BOT_TOKEN", "xoxb-your-bot-token"), ("SENDGRID_API_KEY", "SG.xxxxx"),
    ("ANTHROPIC_API_KEY", "sk-ant-..."), ("TWILIO_AUTH_TOKEN", "[REDACTED]"), ("LICENSE_KEY", "xxxx-xxxx-xxxx-xxxx"), ("CLIENT_SECRET", "<client-secret>"),
    ("AWS_SECRET_ACCESS_KEY", "<redacted>"), ("HF_TOKEN", "hf_..."), ("JWT_SECRET", "change-me"), ("API_TOKEN", "{{API_TOKEN}}"), ("PASSWORD", "${PASSWORD}"),
    ("SMTP_PASSWORD", "REPLACE_ME"), ("DATADOG_API_KEY", "<DATADOG_API_KEY>"), ("NPM_TOKEN", "npm_************************************"), ("SECRET_KEY", "...")
]


def n_placeholder_env(r: random.Random) -> Neg:
    picks = r.sample(PLACEHOLDERS, k=r.randint(2, 4))
    body = "\n".join(f"{k}={v}" for k, v in picks)
    return ("placeholder", "bash", body, r.choice(["Fill in these variables before you start:", "Your `.env` should define:", "Set the following (replace the placeholders):"]))


def n_placeholder_code(r: random.Random) -> Neg:
    v = r.randrange(8)
    if v == 0:
        return ("placeholder", "python", 'client = anthropic.Anthropic(api_key="sk-ant-...")  # replace with your key', "Minimal client setup:")
    if v == 1:
        return ("placeholder", "javascript", "const octokit = new Octokit({ auth: 'ghp_XXXXXXXXXXXXXXXXXXXX' }); // use your own PAT", "Octokit example:")
    if v == 2:
        return ("placeholder", "bat", "set API_KEY=%API_KEY%\ncurl -H \"X-Api-Key: %API_KEY%\" https://api.example.com/v1/ping", "On Windows cmd, reference the variable:")
    if v == 3:
        return ("placeholder", "bash", 'curl -H "Authorization: Bearer $API_KEY" https://api.example.com/v1/me\ncurl -u "$USER:$(cat /run/secrets/api_password)" https://api.example.com/v1/admin',
                "The shell expands the variables at run time:")
    if v == 4:
        return ("placeholder", "python", 'url = f"https://api.example.com/v1/search?q={query}&api_key={api_key}"', "Build the URL from the variable:")
    if v == 5:
        return ("placeholder", "yaml", "smtp:\n  host: smtp.example.com\n  username: apikey\n  password: \"<SENDGRID_API_KEY>\"", "Template for the mailer config:")
    if v == 6:
        return ("placeholder", "json", '{\n  "client_id": "YOUR_CLIENT_ID",\n  "client_secret": "YOUR_CLIENT_SECRET",\n  "redirect_uri": "http://localhost:8080/callback"\n}', "Create `credentials.json` with your own values:")
    return ("placeholder", "text", "Authorization: Bearer <token>\nX-Api-Key: <key>", "Every request needs one of these headers:")


def n_sops_vault(r: random.Random) -> Neg:
    if r.random() < 0.5:
        enc = f"ENC[AES256_GCM,data:{rs(r, B64, 24)},iv:{rs(r, B64, 43)}=,tag:{rs(r, B64, 22)}==,type:str]"
        body = f"db:\n    user: app\n    password: {enc}\nsops:\n    kms:\n        - arn: arn:aws:kms:eu-west-1:{rs(r, DIGITS, 12)}:key/{uuid(r)}\n    lastmodified: \"2024-05-14T09:12:44Z\"\n    version: 3.8.1"
        return ("sops_encrypted", "yaml", body, "With sops the value is encrypted in the repo; only the key name stays readable:")
    lines = "\n".join("          " + rs(r, "0123456789", 2) + rs(r, HEX, 78) for _ in range(5))
    body = f"db_password: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n{lines}"
    return ("ansible_vault", "yaml", body, "`ansible-vault encrypt_string` produces this, safe to commit:")


def n_k8s_placeholder(r: random.Random) -> Neg:
    v = r.randrange(3)
    if v == 0:
        return ("k8s_placeholder", "yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-keys\ntype: Opaque\nstringData:\n  OPENAI_API_KEY: \"<set-me>\"\n  DB_PASSWORD: \"\"",
                "Here's the skeleton; fill the values in with `kubectl edit` or, better, generate it from your secret store:")
    if v == 1:
        return ("k8s_external_secret", "yaml", "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata:\n  name: db\nspec:\n  secretStoreRef:\n    name: aws-sm\n    kind: ClusterSecretStore\n  target:\n    name: db-credentials\n  data:\n    - secretKey: password\n      remoteRef:\n        key: prod/db\n        property: password",
                "With External Secrets Operator the manifest only names where the value lives:")
    return ("k8s_secret_volume", "yaml", "volumes:\n  - name: creds\n    secret:\n      secretName: db-credentials\ncontainers:\n  - name: api\n    volumeMounts:\n      - name: creds\n        mountPath: /etc/creds\n        readOnly: true",
            "Mount the secret as files instead of env vars:")


def n_env_example(r: random.Random) -> Neg:
    v = r.randrange(3)
    if v == 0:
        body = "# Copy to .env and fill in\nDATABASE_URL=\nREDIS_URL=redis://localhost:6379/0\nSTRIPE_SECRET_KEY=\nSTRIPE_WEBHOOK_SECRET=\nSENTRY_DSN=\nLOG_LEVEL=debug"
    elif v == 1:
        body = "APP_ENV=local\nAPP_KEY=\nDB_CONNECTION=mysql\nDB_HOST=127.0.0.1\nDB_PORT=3306\nDB_DATABASE=laravel\nDB_USERNAME=root\nDB_PASSWORD=\nMAIL_PASSWORD=null"
    else:
        body = "POSTGRES_USER=app\nPOSTGRES_PASSWORD=changeme  # local development only, override in prod\nPOSTGRES_DB=app_dev"
    return ("env_example", "bash", body, r.choice(["Commit a `.env.example` like this one:", "The `.env.example` from the template:", "Template file for new developers:"]))


def n_policy_prose(r: random.Random) -> Neg:
    texts = [
        "Passwords must be at least 12 characters long and can't be one of the 1,000 most common passwords. We don't require special characters any more; length matters more than complexity.",
        "The access token expires in 3600 seconds. When it does, call the token endpoint with grant_type=refresh_token; the refresh token itself is valid for 30 days of inactivity.",
        "API keys are shown once at creation. If you lose one, create a new key and delete the old one; support can't recover it for you.",
        "Lock the account after 5 failed attempts for 15 minutes, and require MFA for anyone with admin rights. Store password hashes with Argon2id, never the plain password.",
        "Rotate service credentials every 90 days, and immediately when someone with access leaves the team. Automate it: a rotation nobody has practised tends to fail when you need it.",
        "A personal access token inherits the permissions of the user who created it, so prefer a fine-grained token limited to the one repository and the read-only scopes the job needs.",
        "If a secret was committed, removing it in a new commit isn't enough: it's still in the history. Revoke it first, then rewrite history with git filter-repo if you must.",
        "Session cookies should be HttpOnly, Secure and SameSite=Lax, and the session id should be regenerated after login to prevent fixation.",
        "The password reset link is single-use and expires after 20 minutes. The email never contains the password itself.",
        "Use a different database user for migrations and for the running app; the app user doesn't need DDL rights, and its password can be rotated without downtime if you keep two users and alternate.",
        "NIST SP 800-63B recommends checking new passwords against breached-password lists and dropping periodic forced changes unless there's evidence of compromise.",
        "A webhook signing secret lets you verify that a request came from the provider: compute an HMAC-SHA256 of the raw body with it and compare in constant time against the signature header.",
    ]
    return ("policy_prose", "prose", r.choice(texts), r.choice(["Good question.", "Short answer:", "Here's the usual guidance.", "In practice:"]))


def n_oauth_jwt(r: random.Random) -> Neg:
    v = r.randrange(4)
    if v == 0:
        return ("oauth_explainer", "json", '{\n  "access_token": "<ACCESS_TOKEN>",\n  "token_type": "Bearer",\n  "expires_in": 3600,\n  "refresh_token": "<REFRESH_TOKEN>",\n  "scope": "openid profile email"\n}',
                "A successful token response has this shape (values elided):")
    if v == 1:
        return ("jwt_explainer", "text", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.<payload>.<signature>\n\nheader  = {\"alg\": \"HS256\", \"typ\": \"JWT\"}\npayload = {\"sub\": \"1234\", \"exp\": 1735689600}",
                "A JWT is three base64url parts; the first one here is just the header:")
    if v == 2:
        return ("oauth_explainer", "http", "POST /oauth/token HTTP/1.1\nHost: auth.example.com\nContent-Type: application/x-www-form-urlencoded\n\ngrant_type=client_credentials&client_id={client_id}&client_secret={client_secret}&scope=orders.read",
                "The client credentials request looks like this:")
    return ("jwt_explainer", "python", 'claims = jwt.decode(token, key=public_key, algorithms=["RS256"], audience="api://orders")\nprint(claims["scope"], claims["exp"])',
            "Verify the signature with the issuer's public key before trusting any claim:")


def n_hashes(r: random.Random) -> Neg:
    v = r.randrange(5)
    if v == 0:
        return ("bcrypt_hash", "python", f'>>> bcrypt.hashpw(b"...", bcrypt.gensalt(12))\nb\'{bcrypt_hash(r)}\'', "The stored value is a bcrypt hash, not the password:")
    if v == 1:
        return ("argon2_hash", "sql", f"SELECT id, email, password_hash FROM users LIMIT 1;\n-- 42 | ana@example.com | {argon2_hash(r)}", "The column holds an Argon2id hash, which is what you want:")
    if v == 2:
        return ("sha256_digest", "text", f"SHA-256 of the release archive:\n{rs(r, HEX, 64)}  outguard-1.4.0.tar.gz", "Compare against the published checksum:")
    if v == 3:
        return ("shadow_hash", "text", f"deploy:$6$rounds=656000${rs(r, ALNUM + './', 16)}${rs(r, ALNUM + './', 86)}:19800:0:99999:7:::",
                "That line in /etc/shadow is a SHA-512-crypt hash:")
    return ("htpasswd_hash", "text", f"admin:$apr1${rs(r, ALNUM, 8)}${rs(r, ALNUM + './', 22)}", "`htpasswd -n admin` prints a salted MD5 hash for nginx:")


def n_public_keys(r: random.Random) -> Neg:
    v = r.randrange(5)
    if v == 0:
        return ("ssh_public_key", "text", f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{rs(r, B64, 43)} {r.choice(['ana', 'dev', 'ci'])}@{r.choice(['laptop', 'build-01', 'mbp'])}",
                "Add this public key to `~/.ssh/authorized_keys` on the server:")
    if v == 1:
        return ("key_fingerprint", "text", f"256 SHA256:{rs(r, B64, 43)} dana@laptop (ED25519)\n3072 SHA256:{rs(r, B64, 43)} deploy@ci (RSA)",
                "`ssh-keygen -lf` shows the fingerprints:")
    if v == 2:
        return ("gpg_fingerprint", "text", f"pub   ed25519 2023-09-14 [SC]\n      {rs(r, HEX.upper(), 40)}\nuid           [ultimate] Dana Ortiz <dana@example.com>",
                "Your signing key is:")
    if v == 3:
        return ("jwks_public", "json", f'{{\n  "keys": [\n    {{\n      "kty": "RSA",\n      "kid": "{rs(r, B64URL, 22)}",\n      "use": "sig",\n      "alg": "RS256",\n      "n": "{rs(r, B64URL, 342)}",\n      "e": "AQAB"\n    }}\n  ]\n}}',
                "The JWKS endpoint publishes only public keys:")
    return ("wireguard_public", "ini", f"[Peer]\nPublicKey = {rs(r, B64, 42)}E=\nAllowedIPs = 10.8.0.0/24\nEndpoint = vpn.example.net:51820",
            "The peer section only needs the server's public key:")


def n_ids(r: random.Random) -> Neg:
    v = r.randrange(6)
    if v == 0:
        return ("uuid", "json", f'{{\n  "error": "rate_limited",\n  "request_id": "{uuid(r)}",\n  "retry_after": 20\n}}', "Quote the request id when you contact support:")
    if v == 1:
        return ("uuid", "bash", f"az login --tenant {uuid(r)}\naz account set --subscription {uuid(r)}", "Select the right tenant and subscription first:")
    if v == 2:
        return ("trace_id", "text", f"traceparent: 00-{rs(r, HEX, 32)}-{rs(r, HEX, 16)}-01", "The trace header the gateway adds:")
    if v == 3:
        return ("git_sha", "text", f"{rs(r, HEX, 7)} (HEAD -> main, origin/main) Fix token refresh when clock skews\n{rs(r, HEX, 7)} Add password strength meter\n{rs(r, HEX, 7)} Bump jsonwebtoken to 9.0.2",
                "`git log --oneline` shows the fix landed:")
    if v == 4:
        return ("docker_digest", "bash", f"docker pull ghcr.io/acme/api@sha256:{rs(r, HEX, 64)}", "Pin the image by digest:")
    return ("eth_address", "text", f"Contract: 0x{rs(r, HEX, 40)}\nTx hash:  0x{rs(r, HEX, 64)}", "Both are public on the chain explorer:")


def n_lockfiles(r: random.Random) -> Neg:
    v = r.randrange(3)
    if v == 0:
        return ("yarn_lock", "text", f'"@types/node@^20.11.0":\n  version "20.12.7"\n  resolved "https://registry.yarnpkg.com/@types/node/-/node-20.12.7.tgz#{rs(r, HEX, 40)}"\n  integrity sha512-{rs(r, B64, 86)}==',
                "The entry in `yarn.lock`:")
    if v == 1:
        return ("poetry_lock", "toml", f'[[package]]\nname = "cryptography"\nversion = "42.0.7"\nfiles = [\n    {{file = "cryptography-42.0.7.tar.gz", hash = "sha256:{rs(r, HEX, 64)}"}},\n]\n\n[metadata]\ncontent-hash = "{rs(r, HEX, 64)}"',
                "From `poetry.lock`:")
    return ("go_sum", "text", f"golang.org/x/crypto v0.23.0 h1:{rs(r, B64, 43)}=\ngolang.org/x/crypto v0.23.0/go.mod h1:{rs(r, B64, 43)}=", "`go.sum` pins module hashes:")


def n_misc_values(r: random.Random) -> Neg:
    v = r.randrange(7)
    if v == 0:
        return ("versions_timestamps", "text", f"outguard 1.4.0 (build {rs(r, HEX, 8)}, 2024-06-11T09:14:52Z)\nPython 3.12.4\nOpenSSL 3.0.13", "`--version` prints:")
    if v == 1:
        msg = r.choice(["user=dana; role=viewer", "The meeting moved to Thursday", "{\"theme\":\"dark\",\"lang\":\"en\"}"])
        return ("base64_text", "bash", f"$ echo '{b64(msg)}' | base64 -d\n{msg}", "It's just base64 of plain text:")
    if v == 2:
        return ("hex_colors", "json", '{\n  "primary": "#4f46e5",\n  "secondary": "#0ea5e9",\n  "danger": "#dc2626",\n  "surface": "#f8fafc"\n}', "The theme tokens:")
    if v == 3:
        return ("invoice_numbers", "text", f"Invoice INV-2024-{r.randint(1000, 9999)}\nOrder #{r.randint(100000, 999999)}\nCustomer ID cus_{rs(r, ALNUM, 14)}", "The references from the receipt:")
    if v == 4:
        return ("api_endpoints", "yaml", "auth:\n  token_url: https://auth.example.com/oauth2/token\n  authorize_url: https://auth.example.com/oauth2/authorize\n  jwks_uri: https://auth.example.com/.well-known/jwks.json\n  password_reset_url: https://app.example.com/reset-password",
                "The endpoints the client needs:")
    if v == 5:
        return ("sri_hash", "html", f'<script src="https://cdn.jsdelivr.net/npm/chart.js@4.4.3/dist/chart.umd.min.js"\n        integrity="sha384-{rs(r, B64, 64)}"\n        crossorigin="anonymous"></script>',
                "Include it with subresource integrity:")
    return ("csp_nonce", "http", f"Content-Security-Policy: script-src 'self' 'nonce-{rs(r, B64, 22)}=='; object-src 'none'", "The response header with a per-request nonce:")


def n_config_names(r: random.Random) -> Neg:
    v = r.randrange(5)
    if v == 0:
        return ("config_names", "yaml", "llm:\n  model: gpt-4o-mini\n  max_tokens: 4096\n  temperature: 0.2\n  tokenizer: bert-base-uncased\n  api_key_header: X-API-Key\n  api_key_env: OPENAI_API_KEY",
                "The model settings:")
    if v == 1:
        return ("config_names", "python", "AUTH_PASSWORD_VALIDATORS = [\n    {\"NAME\": \"django.contrib.auth.password_validation.MinimumLengthValidator\", \"OPTIONS\": {\"min_length\": 12}},\n    {\"NAME\": \"django.contrib.auth.password_validation.CommonPasswordValidator\"},\n]\nPASSWORD_HASHERS = [\"django.contrib.auth.hashers.Argon2PasswordHasher\"]",
                "Tighten the password rules in settings:")
    if v == 2:
        return ("config_names", "hcl", 'data "aws_secretsmanager_secret_version" "db" {\n  secret_id = "prod/db"\n}\n\nresource "aws_db_instance" "main" {\n  username                    = "app"\n  manage_master_user_password = true\n}',
                "Let RDS manage the master password, and read app secrets by name:")
    if v == 3:
        return ("config_names", "json", '{\n  "secret_name": "prod/db",\n  "token_ttl_seconds": 900,\n  "password_min_length": 14,\n  "passport_number": "",\n  "session_secret_length": 64\n}',
                "None of these values are sensitive:")
    return ("config_names", "ini", "[auth]\npassword_file = /etc/app/db.pass\ntoken_endpoint = https://login.example.com/token\nkey_id = alias/app-prod\nuse_keyring = true",
            "The service reads the password from a file:")


def n_fixtures(r: random.Random) -> Neg:
    v = r.randrange(4)
    if v == 0:
        return ("test_fixture", "python", 'def test_login_rejects_wrong_password(client):\n    resp = client.post("/login", data={"username": "alice", "password": "wrong-password"})\n    assert resp.status_code == 401',
                "A test for the failure path:")
    if v == 1:
        return ("test_fixture", "python", '@pytest.fixture\ndef settings():\n    return Settings(api_key="test", db_password="dummy", webhook_secret="not-a-real-secret")',
                "In tests, use obviously fake values so nobody mistakes them for real ones:")
    if v == 2:
        return ("test_fixture", "javascript", "jest.mock('../stripe', () => ({\n  client: { apiKey: 'sk_test_dummy' },\n}));", "Mock the client so the test never hits Stripe:")
    return ("test_fixture", "yaml", "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: postgres  # throwaway CI container\n    ports: [\"5432:5432\"]",
            "For the CI job, a throwaway database is fine:")


def n_masked(r: random.Random) -> Neg:
    v = r.randrange(3)
    if v == 0:
        return ("masked", "text", f"$ aws configure\nAWS Access Key ID [****************{rs(r, UPPER + DIGITS, 4)}]:\nAWS Secret Access Key [****************{rs(r, ALNUM, 4)}]:\nDefault region name [eu-west-1]:",
                "Press Enter at each prompt to keep the current values:")
    if v == 1:
        return ("masked", "text", f"Token: ghp_****************************{rs(r, ALNUM, 4)}\nScopes: repo, read:org\nExpires: 2024-12-01", "The settings page shows only the last four characters:")
    return ("masked", "text", "Run #1842 env:\n  DEPLOY_KEY: ***\n  DB_PASSWORD: ***\n  REGION: eu-central-1", "The CI log masks secrets automatically:")


def n_public_ids(r: random.Random) -> Neg:
    v = r.randrange(3)
    if v == 0:
        return ("oauth_client_id", "javascript", f"google.accounts.id.initialize({{\n  client_id: '{rs(r, DIGITS, 12)}-{rs(r, LOWER + DIGITS, 32)}.apps.googleusercontent.com',\n  callback: handleCredentialResponse,\n}});",
                "The client ID is public; it's meant to be in the page:")
    if v == 1:
        return ("account_ids", "text", f"Account: {rs(r, DIGITS, 12)}\nRole:    arn:aws:iam::{rs(r, DIGITS, 12)}:role/ReadOnly\nKMS key: arn:aws:kms:us-east-1:{rs(r, DIGITS, 12)}:key/{uuid(r)}",
                "These identifiers aren't secret, though I wouldn't post them publicly either:")
    return ("analytics_ids", "html", "<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-" + rs(r, UPPER + DIGITS, 10) + "\"></script>", "The measurement ID is public by design:")


def n_password_input(r: random.Random) -> Neg:
    v = r.randrange(3)
    if v == 0:
        return ("password_prompt", "python", 'import getpass\n\npassword = getpass.getpass("Database password: ")\nconn = psycopg.connect(host="db", user="app", password=password)',
                "Prompt for it at run time:")
    if v == 1:
        return ("password_prompt", "bash", "echo \"$DOCKERHUB_TOKEN\" | docker login -u acmeci --password-stdin", "Pipe the token in so it never shows up in the process list:")
    return ("password_prompt", "powershell", '$cred = Get-Credential -UserName "CORP\\svc_backup" -Message "Backup account"\nInvoke-Command -ComputerName fs01 -Credential $cred -ScriptBlock { Get-Volume }',
            "Let PowerShell ask for the password:")


def n_docs_prose(r: random.Random) -> Neg:
    texts = [
        "Your GitHub token goes in the `GITHUB_TOKEN` secret of the repository, not in the workflow file. The workflow refers to it as `${{ secrets.GITHUB_TOKEN }}`.",
        "To create a Slack bot token, add the bot scopes under OAuth & Permissions, install the app to the workspace and copy the Bot User OAuth Token that starts with xoxb-.",
        "The `client_secret` of a public client (a mobile or single-page app) can't be kept secret, which is why those apps use PKCE instead of a secret.",
        "AWS recommends IAM roles over access keys: an EC2 instance or ECS task gets temporary credentials from the metadata endpoint, so nothing needs to be stored.",
        "When you run `stripe login`, the CLI stores a restricted key in ~/.config/stripe/config.toml; you can see which one with `stripe config --list`.",
        "The service account key is the JSON file you downloaded; it contains a private key, so treat it like a password and prefer Workload Identity Federation when you can.",
        "In the response, `token_type` is always \"Bearer\", `expires_in` is in seconds and `scope` lists what the token may do, separated by spaces.",
        "Hugging Face tokens start with hf_ and come in read and write flavours; a read token is enough to download gated models once you've accepted the license.",
    ]
    return ("docs_prose", "prose", r.choice(texts), r.choice(["Sure.", "Here's how that works.", "", "Some background first."]))


NEG_TEMPLATES: list[Callable[[random.Random], Neg]] = [
    n_env_read, n_ci_secrets, n_helm_template, n_vault, n_azure_gcp_refs, n_placeholder_env, n_placeholder_code, n_placeholder_code,
    n_sops_vault, n_k8s_placeholder, n_env_example, n_policy_prose, n_oauth_jwt, n_hashes, n_public_keys, n_ids, n_lockfiles,
    n_misc_values, n_misc_values, n_config_names, n_fixtures, n_masked, n_public_ids, n_password_input, n_docs_prose,
]
N_CLOSERS = ["", "", "", "Nothing in it needs to be kept secret.", "You can commit this file.", "Let me know if you want the full version.",
             "The real values stay in your secret store.", "That's all there is to it."]


def hard_negative_record(r: random.Random, template: Callable[[random.Random], Neg]) -> tuple[Doc, str]:
    kind, lang, body, opener = template(r)
    if lang == "prose":
        doc = Doc().add((opener + " " if opener else "") + body)
    else:
        doc = answer(r, lang, [body], opener=opener, closer=r.choice(N_CLOSERS))
    return doc, kind


def build_extra(seed: int = SEED) -> list[dict[str, object]]:
    """The families in_the_wild and hard_negative, from their own random stream."""
    r = random.Random(f"{seed}:in_the_wild+hard_negative")
    records: list[dict[str, object]] = []
    seen: set[str] = set()

    def keep(doc: Doc, source: str) -> bool:
        if doc.text in seen:
            return False
        seen.add(doc.text)
        records.append({"text": doc.text, "spans": doc.spans, "source": source})
        return True

    order = []
    while len(order) < N_WILD:
        batch = WILD_TEMPLATES[:]
        r.shuffle(batch)
        order += batch
    for template in order[:N_WILD]:
        while not keep(wild_record(r, template), "positive:in_the_wild/" + template.__name__[2:]):
            pass
    neg_order = []
    while len(neg_order) < N_HARD_NEGATIVE:
        batch = NEG_TEMPLATES[:]
        r.shuffle(batch)
        neg_order += batch
    for template in neg_order[:N_HARD_NEGATIVE]:
        for _ in range(50):
            doc, kind = hard_negative_record(r, template)
            if keep(doc, "negative:hard_negative/" + kind):
                break
    mixed = records[:]
    r.shuffle(mixed)
    return mixed


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
