"""Feishu's webhook cryptography: AES-256-CBC bodies and the X-Lark-Signature digest.

Algorithm (open.feishu.cn "Encrypt Key" guide): key = SHA-256(encrypt_key); the body's
`encrypt` field is base64(iv[16] + ciphertext), PKCS#7 padded. The signature is
sha256_hex(timestamp + nonce + encrypt_key + raw_body): a plain digest, not an HMAC, so it
must be computed over the raw bytes exactly as received and compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from Crypto.Cipher import AES


class DecryptError(ValueError):
    """The `encrypt` field is not valid ciphertext for our key."""


def _key(encrypt_key: str) -> bytes:
    return hashlib.sha256(encrypt_key.encode("utf-8")).digest()


def decrypt(encrypt_key: str, encrypted: str) -> bytes:
    """Return the plaintext bytes of a Feishu `encrypt` field."""
    try:
        buf = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptError("not base64") from exc
    if len(buf) < 32 or len(buf) % 16:
        raise DecryptError("bad ciphertext length")
    plain = AES.new(_key(encrypt_key), AES.MODE_CBC, buf[:16]).decrypt(buf[16:])
    pad = plain[-1]
    if not 1 <= pad <= 16 or plain[-pad:] != bytes([pad]) * pad:
        raise DecryptError("bad padding")
    return plain[:-pad]


def encrypt(encrypt_key: str, plaintext: bytes, iv: bytes | None = None) -> str:
    """Encrypt like Feishu does (used by tests, the benchmark and the sandbox)."""
    iv = iv or os.urandom(16)
    pad = 16 - len(plaintext) % 16
    cipher = AES.new(_key(encrypt_key), AES.MODE_CBC, iv)
    return base64.b64encode(iv + cipher.encrypt(plaintext + bytes([pad]) * pad)).decode()


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """The X-Lark-Signature value for a raw body."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body).hexdigest()


def signature_matches(
    timestamp: str, nonce: str, encrypt_key: str, body: bytes, given: str
) -> bool:
    """Constant-time check of X-Lark-Signature."""
    expected = signature(timestamp, nonce, encrypt_key, body)
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())
