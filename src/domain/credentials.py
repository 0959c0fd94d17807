"""How high-entropy bearer secrets (API tokens, share links) are stored: as a digest.

Such secrets carry ≥128 bits from a CSPRNG, so a fast SHA-256 digest is enough to make a
leaked table useless; passwords, which are low-entropy, go through argon2id instead.
"""

import hashlib
import hmac


def digest_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, digest: str) -> bool:
    return hmac.compare_digest(digest_token(token), digest)


def recovery_digest(code: str) -> str:
    """The digest a recovery code is kept as: typed with or without its dashes and
    spaces, in any case."""
    return digest_token("".join(code.lower().replace("-", "").split()))
