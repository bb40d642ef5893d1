#!/usr/bin/python3
"""A minimal SSH server on stdin/stdout (run it as a ProxyCommand, like `sshd -i`) that can be told
to misbehave in one specific way, so the client's handling of each fault is tested end to end.

Usage: bad_peer.py SCENARIO

It speaks just enough SSH for our client: the version exchange, KEXINIT, curve25519-sha256 with a
fresh ssh-ed25519 host key, aes128-ctr + hmac-sha2-256, strict kex (kex-strict-s-v00@openssh.com),
ssh-userauth accepting "none", one session channel running one exec ("ran: <command>" on stdout,
exit status 3), and key re-exchanges it starts itself. SCENARIOS below says where each fault goes.

Run it with Debian's /usr/bin/python3: it needs python3-cryptography (38.x). Messages for the test
go to stderr, which the client quotes when the proxy exits.
"""

import hashlib
import hmac
import os
import struct
import sys
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SCENARIOS = {
    "normal": "a correct server",
    "exit-before-banner": "exits with status 3 before sending anything",
    "garbage-banner": "sends the start of a TLS ClientHello instead of a version line, then waits",
    "endless-pre-banner": "sends text lines that never become a version line",
    "banner-then-close": "sends its version line, then exits",
    "kexinit-then-exit": "sends its version line and a KEXINIT offering only 3des-cbc, then exits unread",
    "close-mid-kex": "exits after reading the client's KEX_ECDH_INIT, without a reply",
    "bad-host-key-signature": "signs the exchange hash, then flips a bit of the signature",
    "bad-mac": "the first encrypted packet (SERVICE_ACCEPT) carries a wrong MAC",
    "oversized-packet": "the first encrypted packet claims a packet_length of 1 GiB",
    "bad-padding": "the first encrypted packet's padding_length exceeds its packet_length",
    "window-overflow": "after confirming the channel, WINDOW_ADJUST takes the client's send window past 2^32-1",
    "data-beyond-window": "the first CHANNEL_DATA is one byte larger than the window the client gave",
    "close-without-exit-status": "the command's output, EOF and CLOSE, but no exit-status",
    "disconnect-mid-exec": "after the first output, DISCONNECT (by application) with a reason, then exits",
    "stall": "sends nothing at all and waits for the client to give up",
    "slow-drip": "a correct server that writes one byte at a time, 1 ms apart",
    "rekey-storm": "a correct server that starts a key re-exchange after every packet it sends",
    "close-mid-rekey": "sends 3 MiB of output, then exits on the client's KEXINIT of a re-exchange",
}

VERSION = b"SSH-2.0-bad_peer_1.0"
DISCONNECT_REASON = "bad_peer: the workspace is shutting down"

# Message numbers (RFC 4250 section 4.1.2).
MSG_DISCONNECT, MSG_IGNORE, MSG_UNIMPLEMENTED, MSG_DEBUG = 1, 2, 3, 4
MSG_SERVICE_REQUEST, MSG_SERVICE_ACCEPT = 5, 6
MSG_KEXINIT, MSG_NEWKEYS = 20, 21
MSG_KEX_ECDH_INIT, MSG_KEX_ECDH_REPLY = 30, 31
MSG_USERAUTH_REQUEST, MSG_USERAUTH_FAILURE, MSG_USERAUTH_SUCCESS = 50, 51, 52
MSG_GLOBAL_REQUEST, MSG_REQUEST_FAILURE = 80, 82
MSG_CHANNEL_OPEN, MSG_CHANNEL_OPEN_CONFIRMATION = 90, 91
MSG_CHANNEL_WINDOW_ADJUST, MSG_CHANNEL_DATA = 93, 94
MSG_CHANNEL_EOF, MSG_CHANNEL_CLOSE, MSG_CHANNEL_REQUEST = 96, 97, 98
MSG_CHANNEL_SUCCESS, MSG_CHANNEL_FAILURE = 99, 100
KEX_MESSAGES = {MSG_KEXINIT, MSG_NEWKEYS, MSG_KEX_ECDH_INIT, MSG_KEX_ECDH_REPLY}
SSH_DISCONNECT_BY_APPLICATION = 11


class PeerGone(Exception):
    """The client closed its end: the normal way for this server to stop."""


def log(text):
    sys.stderr.write(f"bad_peer: {text}\n")
    sys.stderr.flush()


# SSH data types (RFC 4251 section 5).
def u32(n):
    return struct.pack(">I", n)


def string(b):
    if isinstance(b, str):
        b = b.encode()
    return u32(len(b)) + b


def mpint(unsigned_be):
    b = unsigned_be.lstrip(b"\0")
    if b and b[0] & 0x80:
        b = b"\0" + b
    return string(b)


def name_list(names):
    return string(",".join(names))


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        if self.at + n > len(self.data):
            raise ValueError("message too short")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def byte(self):
        return self.take(1)[0]

    def boolean(self):
        return self.byte() != 0

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def string(self):
        return self.take(self.u32())

    def text(self):
        return self.string().decode(errors="replace")


class Wire:
    """stdin/stdout as byte pipes; slow drip writes one byte at a time."""

    def __init__(self, drip):
        self.drip, self.pending = drip, b""

    def write(self, data):
        try:
            if not self.drip:
                os.write(1, data)
                return
            for i in range(len(data)):
                os.write(1, data[i:i + 1])
                time.sleep(0.001)
        except (BrokenPipeError, ConnectionResetError):
            raise PeerGone()

    def read(self, n):
        while len(self.pending) < n:
            chunk = os.read(0, 65536)
            if not chunk:
                raise PeerGone()
            self.pending += chunk
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def read_line(self):
        line = b""
        while not line.endswith(b"\n"):
            line += self.read(1)
        return line.rstrip(b"\r\n")


class Direction:
    """One direction's cipher state: aes128-ctr (one keystream across packets) + hmac-sha2-256 over
    uint32 sequence_number || the unencrypted packet (RFC 4253 section 6)."""

    def __init__(self, iv=None, key=None, mac_key=None):
        self.sequence = 0
        self.encrypted = key is not None
        if self.encrypted:
            ctr = Cipher(algorithms.AES(key), modes.CTR(iv))
            self.encryptor, self.decryptor, self.mac_key = ctr.encryptor(), ctr.decryptor(), mac_key

    @property
    def block(self):
        return 16 if self.encrypted else 8

    def mac(self, sequence, packet):
        return hmac.new(self.mac_key, u32(sequence) + packet, hashlib.sha256).digest()


class Server:
    def __init__(self, scenario):
        self.scenario = scenario
        self.wire = Wire(drip=scenario == "slow-drip")
        self.host_key = Ed25519PrivateKey.generate()
        raw = self.host_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.host_key_blob = string("ssh-ed25519") + string(raw)
        self.incoming, self.outgoing = Direction(), Direction()
        self.session_id = None
        self.strict_kex = False
        self.client_version = b""
        self.kex_done = 0
        self.held = []  # the client's messages that arrived while we waited for its KEXINIT
        self.authenticated = False
        self.channel = None  # (the client's channel number, its window, its maximum packet)

    # Binary packet protocol (RFC 4253 section 6): packet_length, padding_length, payload, padding, MAC.
    def send(self, payload, corrupt=None):
        out = self.outgoing
        padding = out.block - (5 + len(payload)) % out.block
        if padding < 4:
            padding += out.block
        length = 1 + len(payload) + padding
        header_length = 0x40000000 if corrupt == "length" else length
        header_padding = length if corrupt == "padding" else padding
        packet = u32(header_length) + bytes([header_padding]) + payload + os.urandom(padding)
        if out.encrypted:
            mac = out.mac(out.sequence, packet)
            if corrupt == "mac":
                mac = bytes([mac[0] ^ 1]) + mac[1:]
            packet = out.encryptor.update(packet) + mac
        out.sequence = (out.sequence + 1) & 0xFFFFFFFF
        self.wire.write(packet)
        if self.scenario == "rekey-storm" and self.authenticated and payload[0] not in KEX_MESSAGES:
            self.rekey()

    def receive(self):
        into = self.incoming
        first = self.wire.read(into.block)
        if into.encrypted:
            first = into.decryptor.update(first)
        length = struct.unpack(">I", first[:4])[0]
        if length > 256 * 1024:
            raise ValueError(f"client sent packet_length {length}")
        rest = self.wire.read(4 + length - into.block)
        if into.encrypted:
            rest = into.decryptor.update(rest)
            if not hmac.compare_digest(self.wire.read(32), into.mac(into.sequence, first + rest)):
                raise ValueError("client packet failed its MAC")
        packet = first + rest
        into.sequence = (into.sequence + 1) & 0xFFFFFFFF
        return packet[5:4 + length - packet[4]]

    def receive_message(self):
        """The next message for the layers above the transport; kex is handled here."""
        while True:
            payload = self.held.pop(0) if self.held else self.receive()
            kind = payload[0]
            if kind in (MSG_IGNORE, MSG_DEBUG, MSG_UNIMPLEMENTED):
                continue
            if kind == MSG_DISCONNECT:
                raise PeerGone()
            if kind == MSG_KEXINIT:
                if self.scenario == "close-mid-rekey" and self.kex_done > 0:
                    log("the client started a re-exchange: closing")
                    sys.exit(0)
                self.key_exchange(payload)
                continue
            return payload

    # Key exchange (RFC 4253 sections 7-8, RFC 8731 for curve25519-sha256).
    def kexinit(self, cipher="aes128-ctr"):
        kex = ["curve25519-sha256"] + (["kex-strict-s-v00@openssh.com"] if self.kex_done == 0 else [])
        payload = bytes([MSG_KEXINIT]) + os.urandom(16) + name_list(kex) + name_list(["ssh-ed25519"])
        payload += name_list([cipher]) * 2 + name_list(["hmac-sha2-256"]) * 2 + name_list(["none"]) * 2
        payload += name_list([]) * 2 + b"\0" + u32(0)
        return payload

    def rekey(self):
        server_kexinit = self.kexinit()
        self.send(server_kexinit)
        while True:
            payload = self.receive()
            if payload[0] == MSG_KEXINIT:
                self.key_exchange(payload, server_kexinit)
                return
            self.held.append(payload)

    def key_exchange(self, client_kexinit, server_kexinit=None):
        if server_kexinit is None:  # the client started it: answer with ours
            server_kexinit = self.kexinit()
            self.send(server_kexinit)
        fields = Reader(client_kexinit[17:])
        client_kex = fields.text().split(",")
        client_host_keys = fields.text().split(",")
        for _ in range(8):
            fields.string()
        guess_follows = fields.boolean()
        if self.kex_done == 0:
            self.strict_kex = "kex-strict-c-v00@openssh.com" in client_kex
        if guess_follows and (client_kex[0] != "curve25519-sha256" or client_host_keys[0] != "ssh-ed25519"):
            self.receive()  # a wrong guess's init packet is discarded unread (RFC 4253 section 7.1)
        init = self.receive()
        if init[0] != MSG_KEX_ECDH_INIT:
            raise ValueError(f"expected KEX_ECDH_INIT, got message {init[0]}")
        if self.scenario == "close-mid-kex":
            log("closing in the middle of the key exchange")
            sys.exit(0)
        q_c = Reader(init[1:]).string()
        ephemeral = X25519PrivateKey.generate()
        q_s = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        k = mpint(ephemeral.exchange(X25519PublicKey.from_public_bytes(q_c)))
        # H = HASH(V_C || V_S || I_C || I_S || K_S || Q_C || Q_S || K)
        h = hashlib.sha256(string(self.client_version) + string(VERSION) + string(client_kexinit) +
                           string(server_kexinit) + string(self.host_key_blob) + string(q_c) + string(q_s) + k).digest()
        if self.session_id is None:
            self.session_id = h
        signature = self.host_key.sign(h)
        if self.scenario == "bad-host-key-signature":
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        self.send(bytes([MSG_KEX_ECDH_REPLY]) + string(self.host_key_blob) + string(q_s) +
                  string(string("ssh-ed25519") + string(signature)))

        def derive(letter, size):  # RFC 4253 section 7.2
            key = hashlib.sha256(k + h + letter + self.session_id).digest()
            while len(key) < size:
                key += hashlib.sha256(k + h + key).digest()
            return key[:size]

        self.send(bytes([MSG_NEWKEYS]))
        sequence = self.outgoing.sequence
        self.outgoing = Direction(derive(b"B", 16), derive(b"D", 16), derive(b"F", 32))
        self.outgoing.sequence = 0 if self.strict_kex else sequence
        newkeys = self.receive()
        if newkeys[0] != MSG_NEWKEYS:
            raise ValueError(f"expected NEWKEYS, got message {newkeys[0]}")
        sequence = self.incoming.sequence
        self.incoming = Direction(derive(b"A", 16), derive(b"C", 16), derive(b"E", 32))
        self.incoming.sequence = 0 if self.strict_kex else sequence
        self.kex_done += 1

    def version_exchange(self):
        if self.scenario == "exit-before-banner":
            log("exiting before the banner")
            sys.exit(3)
        if self.scenario == "stall":
            log("stalling")
            self.wait_for_close()
        if self.scenario == "garbage-banner":
            self.wire.write(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + os.urandom(32))
            self.wait_for_close()
        if self.scenario == "endless-pre-banner":
            line = 0
            while True:
                line += 1
                self.wire.write(f"pre-banner line {line}\r\n".encode())
        self.wire.write(VERSION + b"\r\n")
        if self.scenario == "kexinit-then-exit":
            self.send(self.kexinit(cipher="3des-cbc"))
            log("exiting after our KEXINIT, without reading the client's")
            sys.exit(0)
        if self.scenario == "banner-then-close":
            log("closing after the banner")
            sys.exit(0)
        while True:
            line = self.wire.read_line()
            if line.startswith(b"SSH-"):
                self.client_version = line
                return

    def wait_for_close(self):
        while True:
            self.wire.read(1)

    # The connection protocol (RFC 4252 userauth, RFC 4254 channels).
    def serve(self):
        self.version_exchange()
        self.rekey()  # the first key exchange: our KEXINIT, then the client's
        first_encrypted = {"bad-mac": "mac", "oversized-packet": "length", "bad-padding": "padding"}
        while True:
            message = self.receive_message()
            r = Reader(message[1:])
            kind = message[0]
            if kind == MSG_SERVICE_REQUEST:
                self.send(bytes([MSG_SERVICE_ACCEPT]) + string(r.text()), corrupt=first_encrypted.get(self.scenario))
            elif kind == MSG_USERAUTH_REQUEST:
                r.text(), r.text()  # user name, service name
                if r.text() == "none":
                    self.authenticated = True
                    self.send(bytes([MSG_USERAUTH_SUCCESS]))
                else:
                    self.send(bytes([MSG_USERAUTH_FAILURE]) + name_list(["none"]) + b"\0")
            elif kind == MSG_GLOBAL_REQUEST:
                r.text()
                if r.boolean():
                    self.send(bytes([MSG_REQUEST_FAILURE]))
            elif kind == MSG_CHANNEL_OPEN:
                r.text()
                self.channel = (r.u32(), r.u32(), r.u32())
                self.send(bytes([MSG_CHANNEL_OPEN_CONFIRMATION]) + u32(self.channel[0]) + u32(0) +
                          u32(2 * 1024 * 1024) + u32(32768))
                if self.scenario == "window-overflow":
                    self.send(bytes([MSG_CHANNEL_WINDOW_ADJUST]) + u32(self.channel[0]) + u32(0xFFFFFFFF))
            elif kind == MSG_CHANNEL_REQUEST:
                r.u32()
                request, want_reply = r.text(), r.boolean()
                if request == "exec":
                    if want_reply:
                        self.send(bytes([MSG_CHANNEL_SUCCESS]) + u32(self.channel[0]))
                    self.run(r.text())
                elif want_reply:
                    self.send(bytes([MSG_CHANNEL_FAILURE]) + u32(self.channel[0]))
            # WINDOW_ADJUST, EOF and CLOSE from the client need no answer here.

    def run(self, command):
        recipient, window, _ = self.channel
        if self.scenario == "data-beyond-window":
            self.send(bytes([MSG_CHANNEL_DATA]) + u32(recipient) + string(b"x" * (window + 1)))
            self.wait_for_close()
        if self.scenario == "close-mid-rekey":
            # Enough that the client gives window back, a write that starts its own re-exchange.
            for _ in range(96):
                self.send(bytes([MSG_CHANNEL_DATA]) + u32(recipient) + string(b"y" * 32768))
            while True:
                self.receive_message()
        # Several packets of output, so that a rekey storm has packets to follow.
        for piece in ("ran: ", command, "\n"):
            self.send(bytes([MSG_CHANNEL_DATA]) + u32(recipient) + string(piece))
            if self.scenario == "disconnect-mid-exec":
                self.send(bytes([MSG_DISCONNECT]) + u32(SSH_DISCONNECT_BY_APPLICATION) + string(DISCONNECT_REASON) +
                          string(""))
                log("disconnected")
                sys.exit(0)
        if self.scenario != "close-without-exit-status":
            self.send(bytes([MSG_CHANNEL_REQUEST]) + u32(recipient) + string("exit-status") + b"\0" + u32(3))
        self.send(bytes([MSG_CHANNEL_EOF]) + u32(recipient))
        self.send(bytes([MSG_CHANNEL_CLOSE]) + u32(recipient))


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        names = "\n".join(f"  {name}: {what}" for name, what in SCENARIOS.items())
        sys.stderr.write(f"usage: bad_peer.py SCENARIO\n{names}\n")
        return 2
    try:
        Server(sys.argv[1]).serve()
    except PeerGone:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
