#!/usr/bin/env python3
"""Computes the known-answer vectors in kex_kat.txt and host_key_kat.txt.

Independent of the code under test: Python's `cryptography` package does the arithmetic and the
signing, OpenSSH's `ssh-keygen` makes the host keys and prints their fingerprints, and the
RFC 3526 primes are rebuilt here from their defining formula (checked to be safe primes) rather
than taken from any library. The SSH blobs are built by hand from RFC 4253 section 6.6, RFC 5656
section 3.1, RFC 8709 and RFC 8332, and checked against the blobs ssh-keygen writes.

    python3 tests/data/generate_kex_host_key_kat.py    # rewrites both files next to this script

Kex vectors are deterministic. Host keys are fresh from ssh-keygen on every run, so rerunning
gives different (equally valid) host key vectors.
"""

import base64
import hashlib
import os
import random
import subprocess
import tempfile

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

HERE = os.path.dirname(os.path.abspath(__file__))


# ---- RFC 4251 section 5 encodings -------------------------------------------------------------

def ssh_string(value):
    if isinstance(value, str):
        value = value.encode()
    return len(value).to_bytes(4, "big") + value


def ssh_mpint(value):
    assert value >= 0
    magnitude = value.to_bytes((value.bit_length() + 7) // 8, "big")
    if magnitude and magnitude[0] & 0x80:
        magnitude = b"\x00" + magnitude
    return ssh_string(magnitude)


def ssh_strings(blob):
    """Splits a blob made only of SSH strings (and mpints, which are strings too)."""
    fields, offset = [], 0
    while offset < len(blob):
        length = int.from_bytes(blob[offset:offset + 4], "big")
        fields.append(blob[offset + 4:offset + 4 + length])
        offset += 4 + length
    assert offset == len(blob)
    return fields


def unsigned(value, length=None):
    """Big-endian bytes; without a length, the shortest form (no leading zeros, 0 -> empty)."""
    if length is None:
        length = (value.bit_length() + 7) // 8
    return value.to_bytes(length, "big")


def strip_zeros(data):
    return data.lstrip(b"\x00")


def seeded(label, length=32):
    """Fixed 'random' bytes, so the kex vectors are the same on every run."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return out[:length]


# ---- RFC 3526 MODP groups, from their definition ----------------------------------------------

def arctan_inverse(x, bits):
    """arctan(1/x) * 2^bits, by its Taylor series in fixed point."""
    term = (1 << bits) // x
    total = term
    k = 1
    while term:
        term //= x * x
        total += (-1) ** k * (term // (2 * k + 1))
        k += 1
    return total


def pi_times_power_of_two(bits):
    guard = 64
    machin = 16 * arctan_inverse(5, bits + guard) - 4 * arctan_inverse(239, bits + guard)
    return machin >> guard


def probably_prime(n, rounds=8):
    if n < 4 or n % 2 == 0:
        return n in (2, 3)
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    witnesses = random.Random(n)
    for _ in range(rounds):
        x = pow(witnesses.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def rfc3526_prime(bits, offset):
    # p = 2^bits - 2^(bits-64) - 1 + 2^64 * ([2^(bits-130) pi] + offset)
    p = 2**bits - 2 ** (bits - 64) - 1 + 2**64 * (pi_times_power_of_two(bits - 130) + offset)
    assert p.bit_length() == bits and probably_prime(p) and probably_prime((p - 1) // 2), bits
    return p


MODP = {
    "diffie-hellman-group14-sha256": rfc3526_prime(2048, 124476),
    "diffie-hellman-group16-sha512": rfc3526_prime(4096, 240904),
    "diffie-hellman-group18-sha512": rfc3526_prime(8192, 4743158),
}

CURVES = {
    "ecdh-sha2-nistp256": (ec.SECP256R1(), 2**256 - 2**224 + 2**192 + 2**96 - 1),
    "ecdh-sha2-nistp384": (ec.SECP384R1(), 2**384 - 2**128 - 2**96 + 2**32 - 1),
    "ecdh-sha2-nistp521": (ec.SECP521R1(), 2**521 - 1),
}


# ---- key exchange vectors ---------------------------------------------------------------------

def block(fields):
    return "\n".join(f"{key} = {value.hex() if isinstance(value, bytes) else value}" for key, value in fields) + "\n"


def curve25519_vectors():
    name = "curve25519-sha256"
    client_private = seeded("client curve25519")
    client = x25519.X25519PrivateKey.from_private_bytes(client_private)
    client_public = client.public_key().public_bytes_raw()
    blocks = []

    def agreed(counter):
        server = x25519.X25519PrivateKey.from_private_bytes(seeded(f"server curve25519 {counter}"))
        server_public = server.public_key().public_bytes_raw()
        return server_public, client.exchange(x25519.X25519PublicKey.from_public_bytes(server_public))

    server_public, secret = agreed(0)
    blocks.append([("kex", name), ("client_private", client_private), ("client_public", client_public),
                   ("server_public", server_public), ("shared_secret", strip_zeros(secret))])
    # A secret whose first byte is zero: K is that integer, so the zero is not part of the mpint.
    counter = 1
    while agreed(counter)[1][0] != 0:
        counter += 1
    server_public, secret = agreed(counter)
    blocks.append([("kex", "curve25519-sha256@libssh.org"), ("client_private", client_private),
                   ("client_public", client_public), ("server_public", server_public),
                   ("shared_secret", strip_zeros(secret)), ("note", "secret with a leading zero byte")])

    # Points of small order give the all-zero secret (RFC 7748 section 6.1, RFC 8731 section 3).
    low_order = {
        "u = 0": bytes(32),
        "u = 1": b"\x01" + bytes(31),
        "point of order 8": bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        "u = p (2^255 - 19, not reduced)": (2**255 - 19).to_bytes(32, "little"),
    }
    for note, value in low_order.items():
        try:
            client.exchange(x25519.X25519PublicKey.from_public_bytes(value))
            raise AssertionError(f"{note} did not give the all-zero secret")
        except ValueError:
            pass
        blocks.append([("kex", name), ("client_private", client_private), ("client_public", client_public),
                       ("server_public", value), ("rejected", f"all-zero secret from {note}")])
    for length in (0, 31, 33):
        blocks.append([("kex", name), ("client_private", client_private), ("client_public", client_public),
                       ("server_public", seeded("wrong length", length) if length else "-"),
                       ("rejected", f"{length} bytes, not 32")])
    return blocks


def ecdh_vectors(name):
    curve, p = CURVES[name]
    field_bytes = (p.bit_length() + 7) // 8
    # 192-bit scalars: nonzero and below every group order.
    client_scalar = int.from_bytes(seeded(f"client {name}", 24), "big")
    client = ec.derive_private_key(client_scalar, curve)
    uncompressed = serialization.PublicFormat.UncompressedPoint
    client_public = client.public_key().public_bytes(serialization.Encoding.X962, uncompressed)

    def agreed(counter):
        server = ec.derive_private_key(int.from_bytes(seeded(f"server {name} {counter}", 24), "big"), curve)
        server_public = server.public_key().public_bytes(serialization.Encoding.X962, uncompressed)
        return server_public, client.exchange(ec.ECDH(), server.public_key())

    # The x coordinate as an integer (RFC 5656 section 4): find one whose fixed-width form starts
    # with a zero byte, so the vector shows it is dropped.
    counter = 0
    while agreed(counter)[1][0] != 0:
        counter += 1
    server_public, secret = agreed(counter)
    assert len(secret) == field_bytes
    common = [("kex", name), ("client_private", unsigned(client_scalar)), ("client_public", client_public)]
    blocks = [common + [("server_public", server_public), ("shared_secret", strip_zeros(secret)),
                        ("note", "x coordinate with a leading zero byte")]]

    x = int.from_bytes(server_public[1:1 + field_bytes], "big")
    y = int.from_bytes(server_public[1 + field_bytes:], "big")
    bad = {
        "point not on the curve": b"\x04" + unsigned(x, field_bytes) + unsigned(y ^ 1, field_bytes),
        "compressed point": bytes([2 + (y & 1)]) + unsigned(x, field_bytes),
        "point at infinity": b"\x00",
        "uncompressed point one byte short": server_public[:-1],
        "empty": b"",
    }
    if (y + p).bit_length() <= 8 * field_bytes:
        bad["y coordinate not reduced modulo p"] = b"\x04" + unsigned(x, field_bytes) + unsigned(y + p, field_bytes)
    for note, value in bad.items():
        if value[:1] == b"\x04":
            try:
                ec.EllipticCurvePublicKey.from_encoded_point(curve, value)
                raise AssertionError(f"{name}: {note} was accepted")
            except ValueError:
                pass
        blocks.append(common + [("server_public", value if value else "-"), ("rejected", note)])
    return blocks


def dh_vectors(name, want_leading_zero):
    p = MODP[name]
    p_bytes = p.bit_length() // 8
    client_x = int.from_bytes(seeded(f"client {name}", 64), "big")
    client_public = unsigned(pow(2, client_x, p))
    common = [("kex", name), ("client_private", unsigned(client_x)), ("client_public", client_public)]

    def agreed(counter):
        server_y = int.from_bytes(seeded(f"server {name} {counter}", 64), "big")
        f = pow(2, server_y, p)
        shared = pow(f, client_x, p)
        assert shared == pow(int.from_bytes(client_public, "big"), server_y, p)
        return unsigned(f), shared

    counter = 0
    while want_leading_zero and agreed(counter)[1].bit_length() > 8 * (p_bytes - 1):
        counter += 1
    f, shared = agreed(counter)
    note = "K shorter than p by a byte or more" if want_leading_zero else "ordinary"
    blocks = [common + [("server_public", f), ("shared_secret", unsigned(shared)), ("note", note)]]
    # RFC 4253 section 8: values of e or f not in [1, p-1] must not be accepted; 1 and p-1 give a
    # K that an attacker knows, so they are refused as well.
    for note, value in {"f = 0": 0, "f = 1": 1, "f = p - 1": p - 1, "f = p": p, "f = p + 1": p + 1,
                        "f longer than p": 2 ** (8 * p_bytes + 8) + 5}.items():
        blocks.append(common + [("server_public", unsigned(value) if value else "-"), ("rejected", note)])
    return blocks


def write_kex():
    blocks = curve25519_vectors()
    for name in CURVES:
        blocks += ecdh_vectors(name)
    blocks += dh_vectors("diffie-hellman-group14-sha256", want_leading_zero=True)
    blocks += dh_vectors("diffie-hellman-group16-sha512", want_leading_zero=False)
    blocks += dh_vectors("diffie-hellman-group18-sha512", want_leading_zero=False)
    header = (
        "# Key exchange known answers, written by generate_kex_host_key_kat.py; do not edit.\n"
        "# One block per case, blocks separated by a blank line, fields `name = value`, byte strings\n"
        "# in hex ('-' for empty). client_private: curve25519 scalar (32 bytes), or the big-endian\n"
        "# ECDH / DH private exponent. client_public: what KeyExchange::client_public() returns.\n"
        "# A block has either shared_secret (K, unsigned, no leading zeros) or rejected (why the\n"
        "# server value must be refused).\n"
    )
    with open(os.path.join(HERE, "kex_kat.txt"), "w") as out:
        out.write(header + "\n" + "\n".join(block(fields) for fields in blocks))


# ---- host key vectors -------------------------------------------------------------------------

HOST_KEYS = [
    # (ssh-keygen -t, -b, host key algorithms signed with that key)
    ("ed25519", None, ["ssh-ed25519"]),
    ("ecdsa", 256, ["ecdsa-sha2-nistp256"]),
    ("ecdsa", 384, ["ecdsa-sha2-nistp384"]),
    ("ecdsa", 521, ["ecdsa-sha2-nistp521"]),
    ("rsa", 3072, ["rsa-sha2-256", "rsa-sha2-512", "ssh-rsa"]),
]

ECDSA = {256: ("nistp256", hashes.SHA256()), 384: ("nistp384", hashes.SHA384()), 521: ("nistp521", hashes.SHA512())}
RSA_HASHES = {"rsa-sha2-256": hashes.SHA256(), "rsa-sha2-512": hashes.SHA512(), "ssh-rsa": hashes.SHA1()}


def key_blob(public_key):
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return ssh_string("ssh-ed25519") + ssh_string(public_key.public_bytes_raw())
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        curve_id = ECDSA[public_key.curve.key_size][0]
        point = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return ssh_string("ecdsa-sha2-" + curve_id) + ssh_string(curve_id) + ssh_string(point)
    numbers = public_key.public_numbers()
    return ssh_string("ssh-rsa") + ssh_mpint(numbers.e) + ssh_mpint(numbers.n)


def signature_blob(algorithm, private_key, data):
    if algorithm == "ssh-ed25519":
        signature = private_key.sign(data)
    elif algorithm.startswith("ecdsa-"):
        der = private_key.sign(data, ec.ECDSA(ECDSA[private_key.curve.key_size][1]))
        r, s = decode_dss_signature(der)
        signature = ssh_mpint(r) + ssh_mpint(s)
    else:
        signature = private_key.sign(data, padding.PKCS1v15(), RSA_HASHES[algorithm])
    return ssh_string(algorithm) + ssh_string(signature)


def exchange_hash(label, size):
    return seeded(f"exchange hash {label}", size)


def ssh_keygen(directory, key_type, bits):
    path = os.path.join(directory, f"id_{key_type}{bits or ''}")
    command = ["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", f"kat-{key_type}{bits or ''}", "-f", path]
    if bits:
        command[4:4] = ["-b", str(bits)]
    subprocess.run(command, check=True)
    with open(path + ".pub") as pub:
        public_line = pub.read().strip()
    listing = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", path + ".pub"], check=True,
                             capture_output=True, text=True).stdout.split()
    with open(path, "rb") as private_file:
        private_key = serialization.load_ssh_private_key(private_file.read(), None)
    return public_line, listing[1], private_key


def small_rsa_key(bits):
    """An RSA key below OpenSSH's 1024-bit minimum, which neither ssh-keygen nor cryptography will
    generate: primes from a seeded Miller-Rabin search, then cryptography does the signing."""
    rng = random.Random(bits)

    def prime(size):
        while True:
            candidate = rng.getrandbits(size) | (3 << (size - 2)) | 1
            if probably_prime(candidate, 32) and (candidate - 1) % 65537 != 0:
                return candidate

    e = 65537
    p, q = prime(bits // 2), prime(bits // 2)
    d = pow(e, -1, (p - 1) * (q - 1))
    public = rsa.RSAPublicNumbers(e, p * q)
    return rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), public).private_key()


def write_host_keys():
    blocks = []
    with tempfile.TemporaryDirectory() as directory:
        for key_type, bits, algorithms in HOST_KEYS:
            public_line, fingerprint, private_key = ssh_keygen(directory, key_type, bits)
            blob = base64.b64decode(public_line.split()[1])
            assert blob == key_blob(private_key.public_key()), public_line
            digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
            assert fingerprint == "SHA256:" + digest, fingerprint
            for algorithm in algorithms:
                data = exchange_hash(algorithm, 64 if algorithm.endswith("512") else 32)
                blocks.append([("algorithm", algorithm), ("public_key_line", public_line),
                               ("fingerprint", fingerprint), ("key_blob", blob), ("data", data),
                               ("signature_blob", signature_blob(algorithm, private_key, data))])

        # ECDSA: r or s shorter than the group order, so the verifier must left-pad it.
        private_key = ec.generate_private_key(ec.SECP256R1())
        counter = 0
        while True:
            data = exchange_hash(f"short ecdsa {counter}", 32)
            signature = signature_blob("ecdsa-sha2-nistp256", private_key, data)
            r, s = ssh_strings(ssh_strings(signature)[1])
            if min(len(r), len(s)) < 32:
                break
            counter += 1
        blocks.append([("algorithm", "ecdsa-sha2-nistp256"), ("key_blob", key_blob(private_key.public_key())),
                       ("data", data), ("signature_blob", signature),
                       ("note", f"r is {len(r)} bytes and s is {len(s)} bytes as mpints")])

        # RSA: a signature with a leading zero byte sent without it (OpenSSH accepts it short).
        private_key = rsa.generate_private_key(65537, 2048)
        counter = 0
        while True:
            data = exchange_hash(f"short rsa {counter}", 32)
            signature = private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
            if signature[0] == 0:
                break
            counter += 1
        blocks.append([("algorithm", "rsa-sha2-256"), ("key_blob", key_blob(private_key.public_key())),
                       ("data", data), ("signature_blob", ssh_string("rsa-sha2-256") + ssh_string(strip_zeros(signature))),
                       ("note", "signature one byte shorter than the modulus")])

        # RSA below 1024 bits: a correct signature, refused for the key size alone.
        private_key = small_rsa_key(768)
        data = exchange_hash("small rsa", 32)
        signature = signature_blob("rsa-sha2-256", private_key, data)
        blocks.append([("algorithm", "rsa-sha2-256"), ("key_blob", key_blob(private_key.public_key())),
                       ("data", data), ("signature_blob", signature), ("rejected", "768-bit modulus")])

    for fields in blocks:
        check_with_cryptography(dict(fields))
    header = (
        "# Host key known answers, written by generate_kex_host_key_kat.py; do not edit.\n"
        "# One block per case, blocks separated by a blank line, fields `name = value`, byte strings\n"
        "# in hex. key_blob and signature_blob are the SSH wire blobs (RFC 4253 section 6.6);\n"
        "# public_key_line and fingerprint are what ssh-keygen wrote and printed (-l -E sha256) for\n"
        "# the key it generated. A block with `rejected` must fail to verify; others must verify.\n"
    )
    with open(os.path.join(HERE, "host_key_kat.txt"), "w") as out:
        out.write(header + "\n" + "\n".join(block(fields) for fields in blocks))


def check_with_cryptography(fields):
    """Every vector, the refused small RSA key included, verifies with cryptography from its blobs."""
    data, algorithm = fields["data"], fields["algorithm"]
    key = ssh_strings(fields["key_blob"])
    format_id, signature = ssh_strings(fields["signature_blob"])
    assert format_id == algorithm.encode()
    if algorithm == "ssh-ed25519":
        ed25519.Ed25519PublicKey.from_public_bytes(key[1]).verify(signature, data)
    elif algorithm == "ssh-rsa" or algorithm.startswith("rsa-"):
        e, n = (int.from_bytes(value, "big") for value in key[1:])
        signature = signature.rjust((n.bit_length() + 7) // 8, b"\x00")
        rsa.RSAPublicNumbers(e, n).public_key().verify(signature, data, padding.PKCS1v15(), RSA_HASHES[algorithm])
    else:
        curve_id, point = key[1].decode(), key[2]
        curve = {"nistp256": ec.SECP256R1(), "nistp384": ec.SECP384R1(), "nistp521": ec.SECP521R1()}[curve_id]
        r, s = (int.from_bytes(value, "big") for value in ssh_strings(signature))
        public = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
        public.verify(encode_dss_signature(r, s), data, ec.ECDSA(ECDSA[curve.key_size][1]))


if __name__ == "__main__":
    write_kex()
    write_host_keys()
