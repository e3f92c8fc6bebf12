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
from functools import lru_cache

from Crypto.Cipher import AES


class DecryptError(ValueError):
    """The `encrypt` field is not valid ciphertext for our key."""


@lru_cache(maxsize=8)
def _key(encrypt_key: str) -> bytes:
    return hashlib.sha256(encrypt_key.encode("utf-8")).digest()


@lru_cache(maxsize=8)
def _block_cipher(encrypt_key: str):
    """The key's AES block cipher, made once (ECB holds no state between calls)."""
    return AES.new(_key(encrypt_key), AES.MODE_ECB)


def decrypt(encrypt_key: str, encrypted: str) -> bytes:
    """Return the plaintext bytes of a Feishu `encrypt` field.

    CBC decryption is P[i] = AES⁻¹(C[i]) XOR C[i-1] (C[-1] = IV): the blocks are decrypted
    in one call of the cached block cipher and XORed with the shifted ciphertext as two big
    integers, which costs a third of building a CBC cipher object per request."""
    try:
        buf = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptError("not base64") from exc
    size = len(buf) - 16
    if size < 16 or size % 16:
        raise DecryptError("bad ciphertext length")
    blocks = _block_cipher(encrypt_key).decrypt(buf[16:])
    plain = (int.from_bytes(blocks) ^ int.from_bytes(buf[:size])).to_bytes(size)
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
