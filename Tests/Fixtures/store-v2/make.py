"""How Tests/Fixtures/store-v2 was made (once, by hand; kept so it can be made again).

A vfido from before the schema-3 migration (commit 3dead8b, store schema 2) serves
`--state DIR`; python-fido2 makes one discoverable ES256 passkey, one non-discoverable RS256
credential (its key is a `detached_keys` row, schema 2's addition) and one non-discoverable
ES256 credential (sealed in its ID), then sets the PIN 1234. credentials.json records what a
test needs to check them: IDs, user, and the public keys in SubjectPublicKeyInfo DER.

    python3 Tests/Fixtures/store-v2/make.py OLD_VFIDO_BINARY OUT_DIR
"""
import base64
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "Tests/Interop"))
from cryptography.hazmat.primitives import serialization  # noqa: E402
from fido2.ctap2 import Ctap2  # noqa: E402
from fido2.ctap2.pin import ClientPin  # noqa: E402

from ctap_helpers import cdh, make  # noqa: E402
from vfido_udp import open_device  # noqa: E402

binary, out = sys.argv[1], Path(sys.argv[2])
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
proc = subprocess.Popen([binary, "serve", "--state", str(out), "--udp", f"127.0.0.1:{port}", "--no-usbip", "--no-rp"],
                        stdout=subprocess.PIPE, text=True)
while not proc.stdout.readline().startswith("Stop with"):
    pass
ctap2 = Ctap2(open_device(port))
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def record(made, rp_id, kind):
    data = made.auth_data.credential_data
    return {"kind": kind, "rpId": rp_id, "credentialId": b64(data.credential_id), "algorithm": data.public_key.ALGORITHM,
            "publicKey": b64(cose_to_der(data.public_key))}


def cose_to_der(cose):
    from fido2.cose import ES256, RS256
    if isinstance(cose, ES256):
        from cryptography.hazmat.primitives.asymmetric import ec
        key = ec.EllipticCurvePublicNumbers(int.from_bytes(cose[-2], "big"), int.from_bytes(cose[-3], "big"), ec.SECP256R1()).public_key()
    else:
        from cryptography.hazmat.primitives.asymmetric import rsa
        key = rsa.RSAPublicNumbers(int.from_bytes(cose[-2], "big"), int.from_bytes(cose[-1], "big")).public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


user = {"id": b"alice-v2", "name": "alice", "displayName": "Alice V2"}
credentials = [
    record(make(ctap2, rk=True, rp={"id": "passkey.example", "name": "Passkey"}, user=user), "passkey.example", "discoverable"),
    record(make(ctap2, rp={"id": "rsa.example", "name": "RSA"}, key_params=[{"type": "public-key", "alg": -257}]), "rsa.example",
           "detached RS256"),
    record(make(ctap2, rp={"id": "sealed.example", "name": "Sealed"}), "sealed.example", "sealed in the ID"),
]
ClientPin(ctap2).set_pin("1234")
proc.send_signal(signal.SIGTERM)
proc.wait(30)
(out / "credentials.json").write_text(json.dumps({"schema": 2, "made by": "vfido 3dead8b", "pin": "1234",
                                                  "user": {"id": b64(user["id"]), "name": user["name"]},
                                                  "credentials": credentials}, indent=1) + "\n")
time.sleep(0.1)
print("made", sorted(p.name for p in out.iterdir()))
