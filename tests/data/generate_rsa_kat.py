#!/usr/bin/env python3
"""Computes the known-answer vectors in rsa_kat.txt for RSASSA-PKCS1-v1_5 verification.

Independent of the code under test: Python's `cryptography` package makes the primes, and the
signatures are Python integer arithmetic on encodings built here from RFC 8017 section 9.2, so
that any encoded message, well formed or not, can be signed. The cases exercise what the
Montgomery arithmetic in src/ssh/crypto/rsa_verify.cpp depends on: modulus sizes on and off
64-bit limb boundaries, exponents other than 65537, a signature one byte short, and the
malformed encodings a lenient parser would accept (garbage after the digest, a DigestInfo
without its NULL parameters, block type 2, short padding).

    python3 tests/data/generate_rsa_kat.py    # rewrites rsa_kat.txt next to this script

Keys are fresh on every run, so rerunning gives different (equally valid) vectors.
"""

import hashlib
import math
import os

from cryptography.hazmat.primitives.asymmetric import rsa

HERE = os.path.dirname(os.path.abspath(__file__))

# RFC 8017 section 9.2, note 1.
DIGEST_INFO = {
    "SHA-1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "SHA-256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "SHA-512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
HASHES = {"SHA-1": hashlib.sha1, "SHA-256": hashlib.sha256, "SHA-512": hashlib.sha512}


def key_with_exponent(bits, e):
    """n, e, d for a key of `bits` bits whose public exponent is e (primes from `cryptography`,
    redrawn until e is invertible modulo lcm(p-1, q-1))."""
    while True:
        numbers = rsa.generate_private_key(public_exponent=65537, key_size=bits).private_numbers()
        p, q = numbers.p, numbers.q
        lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
        if math.gcd(e, lam) == 1:
            return p * q, e, pow(e, -1, lam)


def encode(hash_name, message, k, digest_info=None, block_type=1, trailer=b"", padding_length=None):
    """EMSA-PKCS1-v1_5-ENCODE, with the knobs a forgery would turn."""
    t = (DIGEST_INFO[hash_name] if digest_info is None else digest_info) + HASHES[hash_name](message).digest() + trailer
    ps_length = k - len(t) - 3 if padding_length is None else padding_length
    em = bytes([0, block_type]) + b"\xff" * ps_length + b"\x00" + t
    return em.rjust(k, b"\x00") if len(em) < k else em


def sign(n, d, em):
    k = (n.bit_length() + 7) // 8
    return pow(int.from_bytes(em, "big"), d, n).to_bytes(k, "big")


def block(case, n, e, hash_name, message, signature, verdict):
    return (f"case = {case}\nmodulus = {n.to_bytes((n.bit_length() + 7) // 8, 'big').hex()}\n"
            f"exponent = {e.to_bytes((e.bit_length() + 7) // 8, 'big').hex()}\nhash = {hash_name}\n"
            f"message = {message.hex()}\nsignature = {signature.hex()}\nverdict = {verdict}\n")


def main():
    blocks = []
    message = b"the exchange hash H, or any data"

    # Modulus sizes: whole limbs (1024, 2048, 3072, 4096), one bit over (1025, 2049) and odd sizes.
    for bits in (1024, 1025, 1087, 2048, 2049, 3072, 3079, 4096):
        n, e, d = key_with_exponent(bits, 65537)
        k = (n.bit_length() + 7) // 8
        for hash_name in ("SHA-256", "SHA-512", "SHA-1"):
            signature = sign(n, d, encode(hash_name, message, k))
            blocks.append(block(f"{bits}-bit modulus, e = 65537, {hash_name}", n, e, hash_name, message, signature,
                                "valid"))

    # Exponents: 3, OpenSSH's old 35, and a 64-bit one; a 100-bit e only under 3072 bits (OpenSSL's rule).
    for bits, e, verdict in ((2048, 3, "valid"), (2048, 35, "valid"), (2048, 0xFFFFFFFFFFFFFFC5, "valid"),
                             (2048, (1 << 99) + 1, "valid"), (4096, (1 << 99) + 1, "key_unusable")):
        n, e, d = key_with_exponent(bits, e)
        k = (n.bit_length() + 7) // 8
        signature = sign(n, d, encode("SHA-256", message, k))
        blocks.append(block(f"{bits}-bit modulus, e of {e.bit_length()} bits", n, e, "SHA-256", message, signature,
                            verdict))

    n, e, d = key_with_exponent(2048, 65537)
    k = (n.bit_length() + 7) // 8
    # A signature whose first byte is zero, sent without it (OpenSSH accepts that).
    counter = 0
    while True:
        candidate = message + counter.to_bytes(4, "big")
        signature = sign(n, d, encode("SHA-256", candidate, k))
        if signature[0] == 0:
            blocks.append(block("signature one byte short (its leading zero dropped)", n, e, "SHA-256", candidate,
                                signature[1:], "valid"))
            break
        counter += 1

    good = sign(n, d, encode("SHA-256", message, k))
    blocks.append(block("a valid signature for other data", n, e, "SHA-256", message + b"!", good, "invalid"))
    blocks.append(block("a valid signature checked as SHA-512", n, e, "SHA-512", message, good, "invalid"))
    blocks.append(block("signature representative s = n", n, e, "SHA-256", message, n.to_bytes(k, "big"), "invalid"))
    blocks.append(block("signature one byte longer than the modulus", n, e, "SHA-256", message, b"\x00" + good,
                        "invalid"))
    blocks.append(block("signature of zero", n, e, "SHA-256", message, b"\x00" * k, "invalid"))
    forgeries = {
        "garbage after the digest (Bleichenbacher 2006)": encode("SHA-256", message, k, trailer=b"\x01" * 16),
        "DigestInfo without NULL parameters": encode(
            "SHA-256", message, k, digest_info=bytes.fromhex("302f300b0609608648016503040201") + b"\x04\x20"),
        "block type 2": encode("SHA-256", message, k, block_type=2),
        "padding of 7 bytes, the rest zero-filled in front": encode("SHA-256", message, k, padding_length=7),
    }
    for case, em in forgeries.items():
        blocks.append(block(case, n, e, "SHA-256", message, sign(n, d, em[:k].rjust(k, b"\x00")), "invalid"))

    header = ("# RSASSA-PKCS1-v1_5 known answers, written by generate_rsa_kat.py; do not edit.\n"
              "# Blocks of `name = value`, byte strings in hex: modulus and exponent big-endian, the\n"
              "# signature as sent, the verdict rsa_pkcs1v15_verify must return.\n\n")
    with open(os.path.join(HERE, "rsa_kat.txt"), "w") as out:
        out.write(header + "\n".join(blocks))


if __name__ == "__main__":
    main()
