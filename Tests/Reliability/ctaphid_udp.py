"""Raw CTAPHID over the UDP simulator convention, for the reliability tiers.

python-fido2's CtapHidDevice refuses what the corpus sends (unknown commands, oversized
payloads); these tiers need to put any bytes on the wire and read exactly what comes back.
"""
from __future__ import annotations

import os
import socket
import struct
import time

REPORT = 64
BROADCAST = 0xFFFFFFFF
PING, MSG, INIT, CBOR, CANCEL, KEEPALIVE, ERROR = 0x81, 0x83, 0x86, 0x90, 0x91, 0xBB, 0xBF
# One message is at most one initialisation packet and 128 continuations.
MAX_MESSAGE = (REPORT - 7) + 128 * (REPORT - 5)


class Hang(Exception):
    """The key sent no answer within the deadline."""


class Busy(Exception):
    """The key answered CTAPHID ERROR CHANNEL_BUSY: its report queue is full, retry later."""


class Channel:
    """One allocated CTAPHID channel on a key's UDP port."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 30.0):
        self.peer = (host, port)
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.cid = BROADCAST
        nonce = os.urandom(8)
        cmd, payload = self.transact(INIT, nonce)
        if cmd == ERROR and payload[:1] == b"\x06":
            raise Busy()
        if cmd != INIT or payload[:8] != nonce:
            raise RuntimeError(f"INIT answered {cmd:#x} {payload.hex()}")
        self.cid = struct.unpack(">I", payload[8:12])[0]

    def close(self) -> None:
        self.sock.close()

    def send(self, cmd: int, payload: bytes) -> None:
        """Frames `payload` as one message (cut at the largest a message can be)."""
        payload = payload[:MAX_MESSAGE]
        head = struct.pack(">IBH", self.cid, cmd, len(payload))
        first, rest = payload[: REPORT - 7], payload[REPORT - 7 :]
        self.sock.sendto((head + first).ljust(REPORT, b"\0"), self.peer)
        seq = 0
        while rest:
            chunk, rest = rest[: REPORT - 5], rest[REPORT - 5 :]
            self.sock.sendto((struct.pack(">IB", self.cid, seq) + chunk).ljust(REPORT, b"\0"), self.peer)
            seq += 1

    def receive(self) -> tuple[int, bytes]:
        """The next message on this channel other than a keepalive: (command, payload)."""
        deadline = time.monotonic() + self.timeout
        while True:
            packet = self._packet(deadline)
            cid, cmd = struct.unpack(">IB", packet[:5])
            if cid != self.cid or not cmd & 0x80:
                continue
            if cmd == KEEPALIVE:
                deadline = time.monotonic() + self.timeout
                continue
            length = struct.unpack(">H", packet[5:7])[0]
            data = packet[7:]
            seq = 0
            while len(data) < length:
                more = self._packet(deadline)
                if struct.unpack(">I", more[:4])[0] != self.cid:
                    continue
                if more[4] != seq:
                    raise RuntimeError(f"continuation {more[4]} where {seq} was due")
                data += more[5:]
                seq += 1
            return cmd, data[:length]

    def transact(self, cmd: int, payload: bytes) -> tuple[int, bytes]:
        self.send(cmd, payload)
        return self.receive()

    def ping(self) -> bool:
        data = os.urandom(100)
        return self.transact(PING, data) == (PING, data)

    def _packet(self, deadline: float) -> bytes:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Hang()
            self.sock.settimeout(left)
            try:
                packet, addr = self.sock.recvfrom(REPORT * 2)
            except socket.timeout:
                raise Hang() from None
            if addr == self.peer:
                if len(packet) != REPORT:
                    raise RuntimeError(f"a {len(packet)}-byte report")
                return packet


def rss_kib(pid: int) -> int:
    """The process's resident set, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")
