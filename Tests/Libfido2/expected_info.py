"""Prints what `fido2-token -I` must show for the key on UDP port $1, from python-fido2's own
reading of getInfo: the libfido2 tier compares the two line by line."""
import sys

from fido2.ctap2 import Ctap2

sys.path.insert(0, sys.argv[2])
from vfido_udp import open_device  # noqa: E402

info = Ctap2(open_device(int(sys.argv[1]))).get_info()
names = {-7: "es256", -8: "eddsa", -35: "es384", -257: "rs256"}
print("version strings: " + ", ".join(info.versions))
print("extension strings: " + ", ".join(info.extensions))
print("algorithms: " + ", ".join(f"{names[a['alg']]} ({a['type']})" for a in info.algorithms))
print("options: " + ", ".join(k if v else "no" + k for k, v in info.options.items()))
print("pin protocols: " + ", ".join(str(p) for p in info.pin_uv_protocols))
print(f"maxlargeblob: {info.max_large_blob}")
