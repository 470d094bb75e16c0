"""CTAPHID over the UDP simulator convention for python-fido2 2.x.

One datagram is one 64-byte HID report, without a report-ID byte. The client binds an
ephemeral loopback port; vfido replies to whoever sent the packet.
"""
from __future__ import annotations

import socket

from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor

REPORT = 64


class UdpConnection(CtapHidConnection):
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0):
        self.peer = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(timeout)

    def write_packet(self, data: bytes) -> None:
        assert len(data) == REPORT, "CTAPHID reports are 64 bytes"
        self.sock.sendto(data, self.peer)

    def read_packet(self) -> bytes:
        while True:
            try:
                packet, addr = self.sock.recvfrom(REPORT * 2)
            except socket.timeout as e:
                raise OSError("CTAPHID read timed out") from e
            if addr == self.peer:
                assert len(packet) == REPORT, f"vfido sent a {len(packet)}-byte report"
                return packet

    def close(self) -> None:
        self.sock.close()


def open_device(port: int, timeout: float = 10.0, connection: CtapHidConnection | None = None) -> CtapHidDevice:
    descriptor = HidDescriptor(f"udp:127.0.0.1:{port}", 0x1209, 0x0001, REPORT, REPORT, "vfido", "0")
    return CtapHidDevice(descriptor, connection or UdpConnection(port, timeout=timeout))
