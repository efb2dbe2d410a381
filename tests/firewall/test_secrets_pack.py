"""rules/packs/secrets.yaml under the whole default policy: realistic leaks are redacted with their
vendor's placeholder, and look-alikes (lock-file hashes, git SHAs, UUIDs, versions, base64 prose,
image digests) are left alone. Every value here is a made-up fake of the right shape."""

from __future__ import annotations

import base64

import pytest

from firewall import Scanner, Verdict
from firewall.policy import Policy
from tests.conftest import KEY

# --- one of each secret type, where it turns up in real answers -------------------------------

AWS_KEY_ID = "AKIAQ4TZJ7LXW2MRP5VN"
AWS_SECRET = "RHtUVQcDMpg0TMkxpdFAKEzPaEMM1ZA7V0FhHVJW"
GCP_KEY_ID = "764d1c0acb3dea1351fa4e9a60a077bbd142880e"
GOOGLE_KEY = "AIzaSyFAKE8fK2mQ7xL4pN9rT1vW6yZ3bC5hJ0g"
AZURE_ACCOUNT_KEY = (
    "2Jkf08MMF1ulMMCw3XVy27dFanUrOSE62chn4xdeFAKEKEYJg1Kza5Kx"
    "xGWfvmaQtKnP/VSGVBrYSuIb9OZiFZ=="
)
AZURE_CLIENT_SECRET = "cEV8Q~cpCGybY9lMFAKER4pAwBp-3GVy1PixOqoR"
GITHUB_CLASSIC = "ghp_xK9mQ2vL7pR4tY8wZ1nB5cD3fG6hJ0kS2aEq"
GITHUB_FINE = (
    "github_pat_11FAKE5zbWVb2FaCo7du45_"
    "cP753ivdSmDrUd7z14cKuuBNf0gmUBUhWRQdIAUDFbxtBetshRQNG3dhi4w"
)
GITLAB = "glpat-PK_HJN45P-ED75cNRqsK"
STRIPE = "sk_live_51HxQ2aLmN8pR7tV3wY6zB9cD"
SLACK_TOKEN = "xoxb-204981736452-3318827465012-Qw3rTy8uIoPa5sDf2gHj7kLz"
SLACK_WEBHOOK = "hooks.slack.com/services/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"
OPENAI = "sk-proj-Zr8Lq2Wm5Nv9Xc3Bt7Hy1Kp4Jd6Fg0Sa_Qe-Uo8Ti2MlFAKE"
ANTHROPIC = (
    "sk-ant-api03-OHKDpnJh-rgiOaPq-N9RtlnnudSkpmKog0Qwp-vaQcT7xl2cwC6d"
    "T0ctPVnaawqrczLJWImKMG4hEbuUVDPDR-FAKEiqkAA"
)
HUGGINGFACE = "hf_DuaOHZgOIwAwufmcTZvAlsaFAKEylEHwUw"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJ1c2VyLTQ3MTEiLCJuYW1lIjoiVGVzdCBVc2VyIiwiaWF0IjoxNzAwMDAwMDAw"
    "LCJleHAiOjE3MDAwMDM2MDB9"
    ".SdGWoZ6axl7KBGgMVGOYn7B3_5SApYXfE-1ds3vbgqM"
)
PG_PASSWORD = "Xk9fQ2mLp7Rt"
MYSQL_PASSWORD = "My5qlR00tPw!"
MONGO_PASSWORD = "Mz8Kq2Lw5Np"
REDIS_PASSWORD = "R3d1sPa55w0rd"
AMQP_PASSWORD = "Gu3stPw9"
GIT_HTTPS_PASSWORD = "T0ken9xFAKE"
DB_PASSWORD = "S3cr3tP@ssw0rd!"
JWT_SECRET = "Zq8w3Lx0Rt5vNb2Kd7Fh"
YAML_PASSWORD = "Tr0ub4dor&3xample"

AZURE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=https;AccountName=acmeassets;"
    f"AccountKey={AZURE_ACCOUNT_KEY};EndpointSuffix=core.windows.net"
)

LEAKY = f"""\
Here is the production config you asked for.

```dotenv
# --- shop-service / production ---
NODE_ENV=production
DATABASE_URL=postgres://shop_app:{PG_PASSWORD}@81.2.69.17:5432/shop?sslmode=require
REDIS_URL=redis://:{REDIS_PASSWORD}@cache:6379/0
AWS_ACCESS_KEY_ID={AWS_KEY_ID}
AWS_SECRET_ACCESS_KEY={AWS_SECRET}
GITHUB_TOKEN={GITHUB_CLASSIC}
RENOVATE_TOKEN={GITHUB_FINE}
GITLAB_TOKEN={GITLAB}
HF_TOKEN={HUGGINGFACE}
SLACK_BOT_TOKEN={SLACK_TOKEN}
SLACK_WEBHOOK_URL=https://{SLACK_WEBHOOK}
DB_PASSWORD={DB_PASSWORD}
```

```yaml
# docker-compose.yml
services:
  worker:
    image: ghcr.io/acme/worker:v2.14.1
    environment:
      - AZURE_CLIENT_ID=6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f
      - AZURE_CLIENT_SECRET={AZURE_CLIENT_SECRET}
      - AZURE_STORAGE_CONNECTION_STRING={AZURE_CONNECTION_STRING}
      - BROKER_URL=amqp://guest:{AMQP_PASSWORD}@rabbitmq:5672/orders
      - MONGO_URI=mongodb+srv://admin:{MONGO_PASSWORD}@cluster0.ab1cd.mongodb.net/test
  api:
    environment:
      JWT_SECRET: "{JWT_SECRET}"
      MYSQL_URL: mysql://root:{MYSQL_PASSWORD}@127.0.0.1:3306/app
database:
  user: shop_app
  password: "{YAML_PASSWORD}"
```

The service account key (`sa.json`) starts like this:

```json
{{
  "type": "service_account",
  "project_id": "acme-prod",
  "private_key_id": "{GCP_KEY_ID}",
  "client_email": "deployer@acme-prod.iam.gserviceaccount.com"
}}
```

To try the APIs:

```bash
curl https://api.stripe.com/v1/charges -u {STRIPE}:
curl https://api.openai.com/v1/models -H "Authorization: Bearer {OPENAI}"
curl "https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key={GOOGLE_KEY}"
curl https://api.example.com/v1/me -H "Authorization: Bearer {JWT}"
git push https://deploy:{GIT_HTTPS_PASSWORD}@git.io.com/org/repo.git main
```

Rotate the old Anthropic key {ANTHROPIC} in the console once the new one works.
"""

# (raw value, rule that must redact it, the placeholder it must become)
EXPECTED = [
    (PG_PASSWORD, "url-password", "[SECRET:password]"),
    (REDIS_PASSWORD, "url-password", "[SECRET:password]"),
    (AMQP_PASSWORD, "url-password", "[SECRET:password]"),
    (MONGO_PASSWORD, "url-password", "[SECRET:password]"),
    (MYSQL_PASSWORD, "url-password", "[SECRET:password]"),
    (GIT_HTTPS_PASSWORD, "url-password", "[SECRET:password]"),
    (AWS_KEY_ID, "aws-access-key-id", "[SECRET:aws]"),
    (AWS_SECRET, "aws-secret-access-key", "[SECRET:aws]"),
    (GITHUB_CLASSIC, "github-token", "[SECRET:github]"),
    (GITHUB_FINE, "github-fine-grained-pat", "[SECRET:github]"),
    (GITLAB, "gitlab-pat", "[SECRET:gitlab]"),
    (HUGGINGFACE, "huggingface-token", "[SECRET:huggingface]"),
    (SLACK_TOKEN, "slack-token", "[SECRET:slack]"),
    (SLACK_WEBHOOK, "slack-webhook-url", "[SECRET:slack]"),
    (DB_PASSWORD, "secret-assignment-bare", "[SECRET:generic]"),
    (JWT_SECRET, "secret-assignment-quoted", "[SECRET:generic]"),
    (YAML_PASSWORD, "secret-assignment-quoted", "[SECRET:generic]"),
    (AZURE_CLIENT_SECRET, "azure-entra-client-secret", "[SECRET:azure]"),
    (AZURE_ACCOUNT_KEY, "azure-storage-account-key", "[SECRET:azure]"),
    (STRIPE, "stripe-key", "[SECRET:stripe]"),
    (OPENAI, "openai-key", "[SECRET:openai]"),
    (GOOGLE_KEY, "google-api-key", "[SECRET:google]"),
    (JWT, "jwt", "[SECRET:jwt]"),
    (ANTHROPIC, "anthropic-key", "[SECRET:anthropic]"),
]

# --- look-alikes that no secrets rule may flag --------------------------------------------------

PROSE_B64 = base64.b64encode(b"The quick brown fox jumps over the lazy dog").decode()
PROSE_B64_LONG = base64.b64encode(
    b"It was the best of times, it was the worst of times, it was the age of wisdom."
).decode()
SHA512_B64 = (
    "XRcglhh3p2lHAu4gFg75i5owZ3/uttIZh11iKj+W2fqc4Iu8Ovw"
    "IHkDSftaw4gURo0WA2fT2oguwTa4HChLwJw=="
)
SHA256_A = "ec72420df5dfbdce4111f715c96338df3b7cb75f58e478d2449c9720e560de8c"
SHA256_B = "d548c5b83fa61d8e3bd86ad42a7ffea9b7c86e3f9d8095c1577d3e1270bb9420"

HARMLESS = f"""\
package-lock.json:
    "node_modules/left-pad": {{
      "version": "1.3.0",
      "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",
      "integrity": "sha512-{SHA512_B64}",
      "license": "WTFPL"
    }},
yarn.lock:
  left-pad@^1.3.0:
    version "1.3.0"
    integrity sha512-{SHA512_B64}
poetry.lock:
    [[package]]
    name = "requests"
    version = "2.32.3"
    files = [
        {{file = "requests-2.32.3-py3-none-any.whl", hash = "sha256:{SHA256_A}"}},
    ]
requirements.txt:
    requests==2.32.3 \\
        --hash=sha256:{SHA256_A} \\
        --hash=sha256:{SHA256_B}
Cargo.lock:
    checksum = "{SHA256_A}"
go.sum:
    github.com/google/uuid v1.6.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=

$ git log -3 --oneline
9f86d08 Fix flaky retry test
1a2b3c4 Bump version to v2.14.1
e3b0c44 Merge pull request #4711 from acme/feature/s3-export
$ git show --stat HEAD
commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b
Merge: 1a2b3c4 e3b0c44
Author: Release Bot <release-bot@users.noreply.io>
    Squashed commit 1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d

Request ids: 550e8400-e29b-41d4-a716-446655440000, 6F9619FF-8B86-D011-B42D-00C04FC964FF.
Versions: v2.14.1, 1.0.0-rc.1+build.5, 10.0.19045, go1.22.3, node v20.11.1, python 3.11.9.

That base64 decodes to a pangram: {PROSE_B64}
And this one to Dickens: {PROSE_B64_LONG}

Images:
    docker pull nginx@sha256:{SHA256_B}
    image: ghcr.io/acme/api:v2.14.1@sha256:{SHA256_B}
    "RepoDigests": ["docker.io/library/redis@sha256:{SHA256_A}"],
    Digest: sha256:{SHA256_A}

Storage: s3://acme-prod-assets-eu-west-1/reports/2024/ (arn:aws:s3:::acme-prod-assets-eu-west-1),
served from https://acme-prod-assets-eu-west-1.s3.eu-west-1.amazonaws.com/index.html.
We run on EKS and keep artifacts in S3; see https://docs.aws.amazon.com/eks/latest/userguide/.

Configuration without values:
    DB_PASSWORD=${{DB_PASSWORD}}
    password: <password>
    password: "{{{{ vault_db_password }}}}"
    password: ********
    api_key: YOUR_API_KEY_HERE
    secret: true
    password = os.environ["DB_PASSWORD"]
    AWS_SECRET_ACCESS_KEY=${{AWS_SECRET_ACCESS_KEY}}
    AZURE_CLIENT_SECRET=<client-secret>
    DATABASE_URL=postgres://localhost:5432/db
    MONGO_URI=mongodb+srv://admin:${{MONGO_PASSWORD}}@cluster0.io.net/test
    token: ${{{{ secrets.GITHUB_TOKEN }}}}
    See https://example.com/@user or mail user@host.

Code that names secrets without holding one:
    const client = new OpenAI({{ apiKey: process.env.OPENAI_API_KEY! }});
    fetch(`https://api.example.com/v1/forecast?api_key=YOUR_API_KEY&format=json`)
    dsn = f"postgresql://{{user}}:{{password}}@{{host}}:5432/{{db}}"
    password_hash = "pbkdf2_sha256$600000$c2FsdA$aGFzaA"
    secret = secrets.token_hex(32)
    password: str = Field(min_length=12)
    ACCESS_TOKEN_EXPIRE_MINUTES=30
"""


def _scan(policy: Policy, text: str) -> Verdict:
    verdict = Scanner(policy, key=KEY).scan(text)
    assert verdict.status == "scanned", verdict.errors
    return verdict


def test_every_secret_rule_has_two_examples_each_way(policy: Policy) -> None:
    rules = [r for r in policy.pattern_rules if r.label == "SECRET"]

    assert len(rules) >= 15
    for rule in rules:
        assert len(rule.examples_match) >= 2, rule.id
        assert len(rule.examples_no_match) >= 2, rule.id


def test_the_test_documents_hold_what_they_claim(policy: Policy) -> None:
    """Each rule named is a SECRET rule of the policy (every rule's own examples, and the families
    in test_secrets_structure.py, cover the rest), each raw value once in the leaky document and
    never in the harmless one."""
    secret_rules = {r.id for r in policy.pattern_rules if r.label == "SECRET"}
    assert {rule for _, rule, _ in EXPECTED} <= secret_rules
    for raw, _, _ in EXPECTED:
        assert LEAKY.count(raw) == 1, raw
        assert raw not in HARMLESS


def test_realistic_config_has_every_secret_redacted_with_its_placeholder(policy: Policy) -> None:
    verdict = _scan(policy, LEAKY)

    assert verdict.action == "redact"
    for raw, rule, placeholder in EXPECTED:
        assert raw not in verdict.text, f"{rule}: raw value emitted"
        at = LEAKY.index(raw)
        # (An email finding over "PASSWORD@host.tld" is trimmed to the host: not one of ours.)
        chosen = [
            o
            for o in verdict.outcomes
            if o.finding.label == "SECRET"
            and o.finding.start <= at < o.finding.end
            and o.emitted_start is not None
        ]
        assert [o.finding.rule for o in chosen] == [rule], raw
        assert verdict.text[chosen[0].emitted_start : chosen[0].emitted_end] == placeholder
    # Context around the secrets stays readable.
    assert "AWS_ACCESS_KEY_ID=[SECRET:aws]" in verdict.text
    assert "GITHUB_TOKEN=[SECRET:github]" in verdict.text
    assert "AccountName=acmeassets;AccountKey=[SECRET:azure];EndpointSuffix" in verdict.text
    assert "redis://:[SECRET:password]@cache:6379/0" in verdict.text
    assert "https://[SECRET:slack]" in verdict.text


def test_streaming_the_realistic_config_emits_what_one_scan_does(policy: Policy) -> None:
    scanner = Scanner(policy, key=KEY)
    whole = scanner.scan(LEAKY).text

    for size in (1, 7, 64):
        stream = scanner.incremental()
        out = "".join(stream.feed(LEAKY[i : i + size]) for i in range(0, len(LEAKY), size))
        out += stream.finish()
        assert out == whole, size


def test_harmless_look_alikes_produce_no_secret_finding(policy: Policy) -> None:
    verdict = _scan(policy, HARMLESS)

    flagged = [(f.rule, HARMLESS[f.start : f.end]) for f in verdict.findings if f.label == "SECRET"]
    assert flagged == []


@pytest.mark.parametrize(
    "line",
    [
        PROSE_B64,
        PROSE_B64_LONG,
        f'"integrity": "sha512-{SHA512_B64}"',
        f"--hash=sha256:{SHA256_A}",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
        "550e8400-e29b-41d4-a716-446655440000",
        "1.0.0-rc.1+build.5",
        f"nginx@sha256:{SHA256_B}",
        "EKS",
        "S3",
    ],
)
def test_each_hard_negative_alone_is_left_alone(policy: Policy, line: str) -> None:
    verdict = _scan(policy, line)

    assert [f.rule for f in verdict.findings if f.label == "SECRET"] == []


def test_a_vendor_key_assigned_to_a_generic_name_is_redacted_whole(policy: Policy) -> None:
    """The generic assignment starts at the key name, left of the vendor token, so it wins the
    overlap: the placeholder is the generic one and the key name goes with it, but nothing of the
    value is emitted."""
    for line, raw in [
        (f"OPENAI_API_KEY={OPENAI}", OPENAI),
        (f"STRIPE_SECRET_KEY={STRIPE}", STRIPE),
        (f'client = anthropic.Anthropic(api_key="{ANTHROPIC}")', ANTHROPIC),
        (f"access_token={JWT}", JWT),
    ]:
        verdict = _scan(policy, line)
        assert raw not in verdict.text
        assert verdict.text.count("[SECRET:") == 1, verdict.text


def test_an_anthropic_key_is_not_taken_for_an_openai_one(policy: Policy) -> None:
    assert _scan(policy, f"key: {ANTHROPIC}").text == "key: [SECRET:anthropic]"


def test_a_long_jwt_is_cut_where_its_bound_ends(policy: Policy) -> None:
    """An RS256 signature (342 characters) is longer than the rule's bound: the header, payload and
    the start of the signature are redacted, which leaves the rest useless."""
    token = JWT.rsplit(".", 1)[0] + "." + "Ab3_x-Yz9Q" * 34 + "Zz"
    verdict = _scan(policy, f"Bearer {token}")

    assert verdict.text.startswith("Bearer [SECRET:jwt]")
    assert JWT.rsplit(".", 1)[0] not in verdict.text


def test_a_service_account_json_with_its_private_key_is_blocked(policy: Policy) -> None:
    text = (
        '{"type": "service_account", "private_key_id": "' + GCP_KEY_ID + '",\n'
        '"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCq7Zx2mLp7Rt\\n'
        '-----END PRIVATE KEY-----\\n"}'
    )
    verdict = _scan(policy, text)

    assert verdict.action == "block"
    assert verdict.blocked_by == "private-key-block"
    assert GCP_KEY_ID not in verdict.text
