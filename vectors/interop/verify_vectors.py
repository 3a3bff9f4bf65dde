#!/usr/bin/env python3
"""Independent verifier for the airseal license test vectors (vectors/manifest.json).

Written in Python from the format rules, sharing no code with the Rust implementation:

* the COSE_Sign1 signature is checked by pycose (RFC 9052), whose Ed25519 comes from the
  `cryptography` package (OpenSSL); two checks of verify_strict that OpenSSL does not make
  (R and the public key must not have small order) are added here;
* claims payloads are decoded by cbor2, after a small strict scanner written here has
  enforced deterministic CBOR (RFC 8949 section 4.2.1 plus airseal's restrictions), and a
  canonical re-encoding of cbor2's result is compared with the original bytes;
* the armor, the strict envelope parse (pycose itself accepts trailing bytes, extra array
  elements, non-empty unprotected headers, non-shortest heads...), the claims-to-JSON
  mapping and the verification policy are re-implemented here.

For every case the outcome must match `expected`: the same claims (in the manifest's JSON
form), status and active features for valid cases, the same error class otherwise. For
malformed cases the (context, rule) we find is also compared with the manifest; a
difference is printed as a note, not counted as a failure (any rejection is a pass).

Usage: python3 vectors/interop/verify_vectors.py [-v] [path/to/manifest.json]
Prints one line per case, then "N passed, M failed"; exits 0 only when M == 0.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import pathlib
import sys
import traceback
from collections.abc import Mapping

import cbor2
import cbor2._decoder
import cbor2._types
from pycose import headers
from pycose.algorithms import CoseAlgorithm, EdDSA
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

# --- pycose and alg -19 --------------------------------------------------------------------
# pycose 1.1.0 knows EdDSA (-8) but not the fully specified "Ed25519" (-19, RFC 9864): its
# header parser raises "Unknown COSE attribute with value: [CoseAlgorithm - -19]" while
# decoding. Both values mean exactly the same operation with an Ed25519 key, so -19 is mapped
# to pycose's EdDSA class for verification (an alias in pycose's algorithm registry). The
# protected header bytes are not touched: pycose signs/verifies over the exact bytes it
# decoded (`phdr_encoded`), and verify_signature_pycose() checks that.
_ALGS = CoseAlgorithm.get_registered_classes()
if -19 not in _ALGS:
    _ALGS[-19] = EdDSA

ALG_EDDSA = -8
ALG_ED25519 = -19
COSE_SIGN1_TAG = 18
MAX_OBJECT_SIZE = 64 * 1024
MAX_BASE64 = -(-MAX_OBJECT_SIZE // 3) * 4
QR_PREFIX = b"AIRSEAL:"
BASE45 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"  # RFC 9285 Table 1
MAX_BASE45 = MAX_OBJECT_SIZE // 2 * 3 + MAX_OBJECT_SIZE % 2 * 2
KID_DOMAIN = b"airseal-kid-v1"
TYP_LICENSE = "airseal-license"
# An activation response is a license bound to a request (SPEC.md section 15.3).
TYP_RESPONSE = "airseal-activation"
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
U64_MAX = 2**64 - 1
# Ed25519 group order l. A signature's S must be < l (RFC 8032 section 5.1.7).
ED25519_L = 2**252 + 27742317777372353535851937790883648493

AIRSEAL_KEY = -65537
MAX_METADATA = 50
MAX_NAMED_FEATURES = 64
MAX_NAME_LEN = 64
MAX_COMPONENTS = 16
MAX_TOKEN_ID_LEN = 32
MAX_SKIP_DEPTH = 16

CLAIM_NAMES = {1: "iss", 2: "sub", 3: "aud", 4: "exp", 5: "nbf", 6: "iat", 7: "cti"}
AIRSEAL_NAMES = {
    0: "kind", 1: "licensee_name", 2: "licensee_email", 3: "licensee_org", 4: "product_key",
    5: "feature_bits", 6: "feature_bit_expiry", 7: "features", 8: "max_activations",
    9: "max_deactivations", 10: "machine", 11: "maintenance_until", 12: "grace_period",
    13: "clock_offset", 14: "metadata", 15: "request_nonce",
}
KINDS = {0: "perpetual", 1: "subscription", 2: "trial"}


class Reject(Exception):
    """Verification failed with an error class (and, for malformed input, context and rule)."""

    def __init__(self, cls: str, context: str = "", rule: str = "", detail: str = ""):
        super().__init__(f"{cls} {context} {rule} {detail}".strip())
        self.cls, self.context, self.rule, self.detail = cls, context, rule, detail


def malformed(context: str, rule: str, detail: str = "") -> Reject:
    return Reject("malformed", context, rule, detail)


# --- armor -----------------------------------------------------------------------------------

ASCII_WS = b" \t\n\r\x0c"  # what Rust's u8::is_ascii_whitespace accepts (no vertical tab)


def strip_quote(line: bytes) -> bytes:
    """Trims whitespace (incl. the CR of CRLF) and leading e-mail quote markers ('>')."""
    s = line.strip(ASCII_WS)
    while s.startswith(b">"):
        s = s[1:].lstrip(ASCII_WS)
    return s


def dearmor(data: bytes) -> bytes:
    """Raw COSE bytes are returned as is; an armored block is located and decoded."""
    if data[:1] == b"\xd2":
        return data
    if not data:
        raise malformed("armor", "invalid_value", "empty input")
    begin = data.find(b"-----BEGIN AIRSEAL ")
    if begin < 0:
        for line in data.split(b"\n"):
            content = strip_quote(line)
            if content.startswith(QR_PREFIX):
                return base45_decode(content[len(QR_PREFIX):])
        is_text = all(0x21 <= b <= 0x7E or b in ASCII_WS for b in data)
        if is_text:
            raise malformed("armor", "invalid_value", "no -----BEGIN AIRSEAL ...----- block")
        return data  # binary but not tag 18: the envelope parser says what is wrong
    label_start = begin + len(b"-----BEGIN ")
    label_end = data.find(b"-----", begin + len(b"-----BEGIN AIRSEAL "))
    if label_end < 0:
        raise malformed("armor", "invalid_value", "unterminated BEGIN line")
    label = data[label_start:label_end]
    pos = label_end + 5
    nl = data.find(b"\n", pos)
    if nl < 0:
        raise malformed("armor", "invalid_value", "armor has no body")
    if data[pos:nl].strip(ASCII_WS):
        raise malformed("armor", "invalid_value", "text after the BEGIN line")
    pos = nl + 1
    body = bytearray()
    while True:
        if pos >= len(data):
            raise malformed("armor", "invalid_value", "missing END line")
        nl = data.find(b"\n", pos)
        if nl < 0:
            nl = len(data)
        content = strip_quote(data[pos:nl])
        pos = nl + 1
        if content.startswith(b"-----END "):
            if content != b"-----END " + label + b"-----":
                raise malformed("armor", "invalid_value", "END label does not match BEGIN label")
            break
        for c in content:
            if not (chr(c).isascii() and (chr(c).isalnum() or c in b"+/=")):
                raise malformed("armor", "invalid_value", f"non-base64 character {chr(c)!r}")
        if len(body) + len(content) > MAX_BASE64:
            raise malformed("armor", "too_large")
        body += content
    body = bytes(body)
    try:
        raw = base64.b64decode(body, validate=True)
    except ValueError as e:  # binascii.Error
        raise malformed("armor", "invalid_value", f"invalid base64: {e}") from None
    # Canonical base64 only (RFC 4648 section 3.5): padding present, no stray bits.
    if base64.b64encode(raw) != body:
        raise malformed("armor", "invalid_value", "non-canonical base64")
    return raw


def base45_decode(text: bytes) -> bytes:
    """Strict RFC 9285 Base45 (SPEC.md section 5.1): the QR text form after `AIRSEAL:`."""
    if not text:
        raise malformed("armor", "invalid_value", "nothing after AIRSEAL:")
    if len(text) > MAX_BASE45:
        raise malformed("armor", "too_large")
    out = bytearray()
    for i in range(0, len(text), 3):
        group = text[i : i + 3]
        n = 0
        for j, c in enumerate(group):
            v = BASE45.find(bytes([c]))
            if v < 0:  # includes lower case: RFC 9285 is upper case only
                raise malformed("armor", "invalid_value", f"non-Base45 character {chr(c)!r}")
            n += v * 45**j
        if len(group) == 3:
            if n > 0xFFFF:
                raise malformed("armor", "invalid_value", "Base45 triple over 65535")
            out += n.to_bytes(2, "big")
        elif len(group) == 2:
            if n > 0xFF:
                raise malformed("armor", "invalid_value", "final Base45 pair over 255")
            out.append(n)
        else:
            raise malformed("armor", "invalid_value", "single trailing Base45 character")
    return bytes(out)


# --- strict deterministic CBOR reader ------------------------------------------------------

UNSIGNED, NEGATIVE, BYTES, TEXT, ARRAY, MAP, TAG, SIMPLE = range(8)
MAJOR_NAMES = ["unsigned", "negative", "bytes", "text", "array", "map", "tag", "simple"]


class Reader:
    """Reads one deterministic CBOR item at a time; raises Reject('malformed', ...)."""

    def __init__(self, buf: bytes, context: str = ""):
        self.buf, self.pos, self.context = buf, 0, context

    def err(self, rule: str, detail: str = "") -> Reject:
        return malformed(self.context, rule, f"{detail} at byte {self.pos}".strip())

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise self.err("unexpected_end")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def head(self) -> tuple[int, int]:
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            arg = info
        elif info <= 27:
            arg = int.from_bytes(self.take(1 << (info - 24)), "big")
        elif info <= 30:
            raise self.err("reserved_additional_info")
        else:
            raise self.err("indefinite_length")
        if major == SIMPLE:
            if 20 <= info <= 22:  # false, true, null
                return major, arg
            if 25 <= info <= 27:
                raise self.err("float_not_allowed")
            raise self.err("unsupported_simple_value")
        limits = {24: 24, 25: 0x100, 26: 0x10000, 27: 0x1_0000_0000}
        if info in limits and arg < limits[info]:
            raise self.err("non_shortest_encoding")
        return major, arg

    def expect(self, want: int) -> int:
        major, arg = self.head()
        if major != want:
            raise self.err("unexpected_type", f"expected {MAJOR_NAMES[want]}, found {MAJOR_NAMES[major]}")
        return arg

    def int(self) -> int:
        major, arg = self.head()
        if major == UNSIGNED:
            v = arg
        elif major == NEGATIVE:
            v = -1 - arg
        else:
            raise self.err("unexpected_type", f"expected integer, found {MAJOR_NAMES[major]}")
        if not I64_MIN <= v <= I64_MAX:
            raise self.err("integer_out_of_range")
        return v

    def length(self, major: int) -> int:
        n = self.expect(major)
        if n > len(self.buf) - self.pos:
            raise self.err("length_exceeds_input")
        return n

    def bytes(self) -> bytes:
        return self.take(self.length(BYTES))

    def bytes_exact(self, n: int) -> bytes:
        b = self.bytes()
        if len(b) != n:
            raise self.err("invalid_value", f"wrong length {len(b)}, want {n}")
        return b

    def text(self) -> str:
        raw = self.take(self.length(TEXT))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.err("invalid_utf8") from None

    def finish(self) -> None:
        if self.pos != len(self.buf):
            raise self.err("trailing_bytes")


class KeyOrder:
    """RFC 8949 section 4.2.1: each map key's encoding sorts bytewise after the previous one."""

    def __init__(self):
        self.prev = None

    def check(self, r: Reader, key: bytes) -> None:
        if self.prev is not None:
            if self.prev == key:
                raise r.err("duplicate_key")
            if self.prev > key:
                raise r.err("unsorted_keys")
        self.prev = key


# --- envelope ------------------------------------------------------------------------------

CERT_LABEL = -65537  # the certificate of the issuing key that signed the object (SPEC.md 18.2)
TYP_CERT = "airseal-cert"
TYP_REVOCATIONS = "airseal-revocations"
# The object types that may carry a certificate (SPEC.md 18.2).
CHAINABLE = (TYP_LICENSE, TYP_RESPONSE, TYP_REVOCATIONS)


def parse_protected(data: bytes, chained: bool = True) -> dict:
    """{1: alg, 4: kid, 16: typ}, or {1: alg, 16: typ, -65537: certificate} for an object
    signed by an issuing key (never inside a certificate: `chained` is then False)."""
    r = Reader(data, "protected header")
    n = r.length(MAP)
    found = {}
    order = KeyOrder()
    for _ in range(n):
        r.context = "protected header"
        at = r.pos
        label = r.int()
        order.check(r, data[at:r.pos])
        if label == 1:
            r.context = "protected header alg"
            found["alg"] = r.int()
        elif label == 4:
            r.context = "protected header kid"
            found["kid"] = r.bytes_exact(8)
        elif label == 16:
            r.context = "protected header typ"
            found["typ"] = r.text()
        elif label == CERT_LABEL and chained:
            r.context = "protected header certificate"
            found["cert"] = r.bytes()
        else:
            r.context = "protected header"
            raise r.err("unknown_critical_key", f"label {label}")
    r.context = "protected header"
    r.finish()
    for name in ("alg", "typ"):
        if name not in found:
            raise malformed(f"protected header {name}", "missing_field")
    if "cert" not in found:
        if "kid" not in found:
            raise malformed("protected header kid", "missing_field")
    else:
        if "kid" in found:
            raise malformed("protected header certificate", "invalid_value",
                            "an object carrying a certificate names its key by the certificate, not kid")
        if found["typ"] not in CHAINABLE:
            raise malformed("protected header certificate", "invalid_value",
                            f"a {found['typ']!r} object cannot carry a certificate")
        # Decoded far enough to name the signing key: the certificate's key id (SPEC.md 18.2).
        cert_env = parse_envelope(found["cert"], chained=False)
        if cert_env["header"]["typ"] != TYP_CERT:
            raise malformed("protected header certificate", "invalid_value",
                            "the certificate label holds another object type")
        found["certificate"] = decode_certificate(cert_env["payload"])
        found["cert_env"] = cert_env
        found["kid"] = kid_of(found["certificate"]["key"])
    if found["alg"] not in (ALG_EDDSA, ALG_ED25519):
        raise Reject("unsupported_algorithm", detail=f"alg {found['alg']}")
    return found


def parse_envelope(data: bytes, chained: bool = True) -> dict:
    """Strict COSE_Sign1 parse: tag 18, 4 elements, protected {1,4,16} (or {1,16,-65537}),
    empty unprotected."""
    if len(data) > MAX_OBJECT_SIZE:
        raise malformed("envelope", "too_large", f"{len(data)} bytes")
    r = Reader(data, "envelope")
    if r.expect(TAG) != COSE_SIGN1_TAG:
        raise r.err("wrong_tag")
    if r.length(ARRAY) != 4:
        raise r.err("invalid_value", "COSE_Sign1 must have 4 elements")
    r.context = "protected header"
    protected = r.bytes()
    header = parse_protected(protected, chained)
    r.context = "unprotected header"
    if r.length(MAP) != 0:
        raise r.err("invalid_value", "unprotected header must be empty")
    r.context = "payload"
    payload = r.bytes()
    r.context = "signature"
    signature = r.bytes_exact(64)
    r.context = "envelope"
    r.finish()
    return {"protected": protected, "header": header, "payload": payload, "signature": signature}


# --- issuing-key certificates (SPEC.md section 18.1) ----------------------------------------
MAY_SIGN = ((1, "licenses"), (2, "activations"), (4, "revocations"), (8, "signed-keys"))
# The bit an object type needs in may_sign.
MAY_SIGN_BIT = {TYP_LICENSE: 1, TYP_RESPONSE: 2, TYP_REVOCATIONS: 4}
TYPE_NAMES = {TYP_LICENSE: "license", TYP_RESPONSE: "activation response",
              TYP_REVOCATIONS: "revocation list"}


def text_order_key(t: str) -> tuple:
    """SPEC.md 2's text order: shorter first, then bytewise (the order of their encodings)."""
    b = t.encode()
    return (len(b), b)


def sorted_texts(r: Reader, count: int, empty_ok: bool = False) -> list[str]:
    """`count` texts, strictly increasing in text order (unsorted_keys / duplicate_key)."""
    out: list[str] = []
    for _ in range(count):
        item = r.text()
        if not item and not empty_ok:
            raise r.err("invalid_value", "empty product id")
        if out:
            prev, cur = text_order_key(out[-1]), text_order_key(item)
            if prev == cur:
                raise r.err("duplicate_key")
            if prev > cur:
                raise r.err("unsorted_keys")
        out.append(item)
    return out


def decode_certificate(payload: bytes) -> dict:
    r = Reader(payload, "certificate")
    n = r.length(MAP)
    order, c = KeyOrder(), {}
    for _ in range(n):
        r.context = "certificate"
        at = r.pos
        key = r.int()
        order.check(r, payload[at:r.pos])
        if key == 1:
            r.context = "certificate.serial"
            c["serial"] = r.expect(UNSIGNED)
            if c["serial"] == 0:
                raise r.err("invalid_value", "serial 0")
        elif key == 2:
            r.context = "certificate.key"
            c["key"] = r.bytes_exact(32)
        elif key == 3:
            r.context = "certificate.not_before"
            c["not_before"] = r.int()
        elif key == 4:
            r.context = "certificate.not_after"
            c["not_after"] = r.int()
        elif key == 5:
            r.context = "certificate.products"
            count = r.length(ARRAY)
            if count == 0:
                raise r.err("invalid_value", "empty product list (omit it for every product)")
            c["products"] = sorted_texts(r, count)
        elif key == 6:
            r.context = "certificate.may_sign"
            bits = r.expect(UNSIGNED)
            if bits == 0 or bits & ~15:
                raise r.err("invalid_value", "may_sign must be a non-zero set of the bits 1, 2, 4, 8")
            c["may_sign"] = bits
        elif key == 7:
            r.context = "certificate.list_seq"
            if r.length(ARRAY) != 2:
                raise r.err("invalid_value", "list_seq must be [lo, hi]")
            lo, hi = r.expect(UNSIGNED), r.expect(UNSIGNED)
            if lo >= hi:
                raise r.err("invalid_value", "list_seq needs lo < hi")
            c["list_seq"] = [lo, hi]
        else:
            raise r.err("unknown_critical_key", f"key {key}")
    r.context = "certificate"
    r.finish()
    for name in ("serial", "key", "not_before", "not_after", "may_sign"):
        if name not in c:
            raise malformed(f"certificate.{name}", "missing_field")
    if c["not_after"] <= c["not_before"]:
        raise malformed("certificate.not_after", "invalid_value", "not_after must be later than not_before")
    if bool(c["may_sign"] & 4) != ("list_seq" in c):
        raise malformed("certificate.list_seq", "invalid_value",
                        "list_seq exactly when the key may sign revocation lists")
    return c


def cert_json(c: dict) -> dict:
    out = {"serial": c["serial"], "key": c["key"].hex(), "kid": kid_of(c["key"]).hex(),
           "not_before": c["not_before"], "not_after": c["not_after"],
           "may_sign": [name for bit, name in MAY_SIGN if c["may_sign"] & bit]}
    if "products" in c:
        out["products"] = c["products"]
    if "list_seq" in c:
        out["list_seq"] = c["list_seq"]
    return out


def check_certificate(cert_bytes: bytes, env: dict, trusted: list[bytes]) -> tuple[bytes, dict]:
    """SPEC.md 18.3 c2-c3: the root the certificate names is trusted, its signature is
    strict, and the certified key is usable. Returns (root public key, certificate)."""
    cert = decode_certificate(env["payload"])
    root = next((k for k in trusted if kid_of(k) == env["header"]["kid"]), None)
    if root is None:
        raise Reject("unknown_key_id", detail=f"certificate root {env['header']['kid'].hex()}")
    if not strict_signature(cert_bytes, env, root, []):
        raise Reject("bad_certificate_signature")
    if not usable_public_key(cert["key"]):
        raise malformed("certificate.key", "invalid_value",
                        "not a usable Ed25519 public key (not a curve point, or of small order)")
    return root, cert


def check_chain(root: bytes, cert: dict | None, typ: str, product: str | None, iat: int,
                validity: dict | None, revoked_issuers: list[bytes]) -> None:
    """SPEC.md 18.3 c4-c7, after the claims (or list) decode: the certificate may sign this
    type, for this product, at this issue time; the root's own window covers the issue time;
    the current revocation list does not name the issuing key."""
    if cert is not None:
        if not cert["may_sign"] & MAY_SIGN_BIT[typ]:
            raise Reject("certificate_type_not_allowed", detail=TYPE_NAMES[typ])
        if product is not None and "products" in cert and product not in cert["products"]:
            raise Reject("certificate_product_not_allowed", detail=product)
        if not cert["not_before"] <= iat < cert["not_after"]:
            raise Reject("certificate_out_of_validity",
                         detail=f"iat {iat} outside [{cert['not_before']}, {cert['not_after']})")
    window = (validity or {}).get(root.hex(), {})
    nb, na = window.get("not_before"), window.get("not_after")
    if (nb is not None and iat < nb) or (na is not None and iat >= na):
        raise Reject("key_out_of_validity", detail=f"iat {iat} outside [{nb}, {na})")
    if cert is not None and kid_of(cert["key"]) in revoked_issuers:
        raise Reject("issuing_key_revoked", detail=kid_of(cert["key"]).hex())


def signer_of(raw: bytes, env: dict, trusted: list[bytes], notes: list) -> tuple[bytes, dict | None]:
    """Key lookup and strict signature, directly under a root or through the carried
    certificate (SPEC.md 6 steps 5-6 with 18.3's c2-c3). Returns (root, certificate)."""
    header = env["header"]
    if "cert" not in header:
        key = next((k for k in trusted if kid_of(k) == header["kid"]), None)
        if key is None:
            raise Reject("unknown_key_id", detail=header["kid"].hex())
        if not strict_signature(raw, env, key, notes):
            raise Reject("bad_signature")
        return key, None
    root, cert = check_certificate(header["cert"], header["cert_env"], trusted)
    if not strict_signature(raw, env, cert["key"], notes):
        raise Reject("bad_signature", detail="not signed by the certified key")
    notes.append(f"chained: certificate #{cert['serial']}")
    return root, cert


# --- revocation lists (SPEC.md section 13) --------------------------------------------------

def decode_revocations(payload: bytes) -> dict:
    r = Reader(payload, "revocations")
    n = r.length(MAP)
    order, out = KeyOrder(), {}
    for _ in range(n):
        r.context = "revocations"
        at = r.pos
        key = r.int()
        order.check(r, payload[at:r.pos])
        if key == 1:
            r.context = "revocations.seq"
            out["seq"] = r.expect(UNSIGNED)
        elif key == 2:
            r.context = "revocations.issued_at"
            out["issued_at"] = r.int()
        elif key in (3, 4):
            name = "licenses" if key == 3 else "product_keys"
            r.context = "revocations." + name
            count = r.length(ARRAY)
            if count == 0:
                raise r.err("invalid_value", "empty list (omit it instead)")
            out[name] = sorted_texts(r, count, empty_ok=True)
        elif key == 5:
            r.context = "revocations.min_issued_at"
            count = r.length(MAP)
            if count == 0:
                raise r.err("invalid_value", "empty map (omit it instead)")
            inner, items = KeyOrder(), []
            for _ in range(count):
                k_at = r.pos
                product = r.text()
                inner.check(r, payload[k_at:r.pos])
                items.append({"product": product, "before": r.int()})
            out["min_issued_at"] = items
        elif key == 6:
            r.context = "revocations.issuing_keys"
            count = r.length(ARRAY)
            if count == 0:
                raise r.err("invalid_value", "empty list (omit it instead)")
            kids: list[bytes] = []
            for _ in range(count):
                kid = r.bytes_exact(8)
                if kids and kids[-1] == kid:
                    raise r.err("duplicate_key")
                if kids and kids[-1] > kid:
                    raise r.err("unsorted_keys")
                kids.append(kid)
            out["issuing_keys"] = [k.hex() for k in kids]
        else:
            raise r.err("unknown_critical_key", f"key {key}")
    r.context = "revocations"
    r.finish()
    for name in ("seq", "issued_at"):
        if name not in out:
            raise malformed(f"revocations.{name}", "missing_field")
    return out


def verify_revocations(data: bytes, trusted: list[bytes], validity: dict | None, notes: list) -> dict:
    """A list is accepted from a root whose window covers its issued_at, or from an issuing
    key whose certificate allows lists, covers issued_at, grants its seq, and which the list
    does not revoke itself (SPEC.md 13, 18.4)."""
    raw = dearmor(data)
    env = parse_envelope(raw)
    if env["header"]["typ"] != TYP_REVOCATIONS:
        raise Reject("wrong_type", detail=f"typ {env['header']['typ']!r}")
    root, cert = signer_of(raw, env, trusted, notes)
    lst = decode_revocations(env["payload"])
    if det_encode(cbor2_loads_plain_tags(env["payload"])) != env["payload"]:
        raise RuntimeError("cbor2 round trip differs from the list payload")
    revoked = [bytes.fromhex(k) for k in lst.get("issuing_keys", [])]
    check_chain(root, cert, TYP_REVOCATIONS, None, lst["issued_at"], validity, revoked)
    if cert is not None:
        lo, hi = cert["list_seq"]
        if not lo <= lst["seq"] < hi:
            raise Reject("revocation_seq_out_of_range", detail=f"{lst['seq']} outside [{lo}, {hi})")
    return lst


def revoked_license(lst: dict, claims: dict) -> bool:
    """SPEC.md 13: a license is revoked by its id, its product key's match form, or an issue
    time before its product's minimum."""
    if claims["sub"] in lst.get("licenses", []):
        return True
    if "product_key" in claims and match_form(claims["product_key"]) in lst.get("product_keys", []):
        return True
    return any(m["product"] == claims["aud"] and claims["iat"] < m["before"]
               for m in lst.get("min_issued_at", []))


def kid_of(public_key: bytes) -> bytes:
    return hashlib.sha512(KID_DOMAIN + public_key).digest()[:8]


# --- strict Ed25519 extras -------------------------------------------------------------------
# SPEC.md 3.1 asks for verify_strict semantics: S < l, and neither R nor the public key of
# small order. OpenSSL (behind pycose/cryptography) rejects S >= l itself, but does not
# reject small-order points, so those two checks are done here, with plain affine Edwards
# arithmetic on edwards25519 (-x^2 + y^2 = 1 + d x^2 y^2).
P25519 = 2**255 - 19
D25519 = -121665 * pow(121666, -1, P25519) % P25519
SQRT_M1 = pow(2, (P25519 - 1) // 4, P25519)


def decode_point(enc: bytes):
    """RFC 8032 section 5.1.3 decoding; None when the bytes are not a curve point."""
    if len(enc) != 32:
        return None
    y = int.from_bytes(enc, "little") & ((1 << 255) - 1)
    sign = enc[31] >> 7
    if y >= P25519:
        return None
    u, v = (y * y - 1) % P25519, (D25519 * y * y + 1) % P25519
    x2 = u * pow(v, -1, P25519) % P25519
    x = pow(x2, (P25519 + 3) // 8, P25519)
    if (x * x - x2) % P25519:
        x = x * SQRT_M1 % P25519
    if (x * x - x2) % P25519:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P25519 - x
    return x, y


def point_add(a, b):
    (x1, y1), (x2, y2) = a, b
    t = D25519 * x1 * x2 * y1 * y2 % P25519
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, -1, P25519) % P25519
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, -1, P25519) % P25519
    return x3, y3


def is_small_order(point) -> bool:
    """True when [8]P is the identity (the point lies in the torsion subgroup)."""
    for _ in range(3):
        point = point_add(point, point)
    return point == (0, 1)


def usable_public_key(key: bytes) -> bool:
    point = decode_point(key)
    return point is not None and not is_small_order(point)


# --- claims: strict scan, cbor2 decode, re-encode cross-check -------------------------------

def claims_context(path: tuple) -> str:
    """The field name the Rust decoder reports for an item at `path` (map keys from the root)."""
    if not path:
        return "claims"
    k = path[0]
    if k == AIRSEAL_KEY:
        if len(path) == 1:
            return "claims.airseal"
        k2 = path[1]
        if isinstance(k2, int) and k2 < 0:
            return "claims.airseal (extension)"
        return "claims.airseal." + AIRSEAL_NAMES[k2] if k2 in AIRSEAL_NAMES else "claims.airseal"
    if isinstance(k, int) and k < 0:
        return "claims (extension)"
    return "claims." + CLAIM_NAMES[k] if k in CLAIM_NAMES else "claims"


def is_extension(path: tuple) -> bool:
    """Non-critical extension values (negative keys) are opaque: any well-formed item."""
    if path and isinstance(path[0], int) and path[0] < 0 and path[0] != AIRSEAL_KEY:
        return True
    return len(path) >= 2 and path[0] == AIRSEAL_KEY and isinstance(path[1], int) and path[1] < 0


class Scan:
    """Walks a whole claims payload enforcing deterministic CBOR, before cbor2 sees it.

    Records the byte span of every value reached through map keys (for the raw bytes of
    extensions). Tags are only allowed inside extension values.
    """

    def __init__(self, payload: bytes):
        self.r = Reader(payload, "claims")
        self.spans: dict[tuple, tuple[int, int]] = {}
        self.item((), None)
        self.r.context = "claims"
        self.r.finish()

    def item(self, path: tuple, depth: int | None) -> None:
        r = self.r
        if depth is None and is_extension(path):
            depth = 0  # the Rust decoder skips extensions with a depth limit from here
        if depth is not None and depth > MAX_SKIP_DEPTH:
            raise r.err("too_deep")
        r.context = claims_context(path)
        start = r.pos
        major, arg = r.head()
        nd = None if depth is None else depth + 1
        if major in (BYTES, TEXT):
            r.pos = start
            r.bytes() if major == BYTES else r.text()
        elif major == ARRAY:
            r.pos = start
            for _ in range(r.length(ARRAY)):
                self.item(path, nd)
        elif major == MAP:
            r.pos = start
            order = KeyOrder()
            for _ in range(r.length(MAP)):
                key_at = r.pos
                self.item(path, nd)  # the key itself
                r.context = claims_context(path)
                order.check(r, r.buf[key_at:r.pos])
                key = self.key_value(key_at)
                value_at = r.pos
                self.item(path + (key,), nd)
                self.spans[path + (key,)] = (value_at, r.pos)
        elif major == TAG:
            if depth is None:
                r.pos = start
                raise r.err("unexpected_type", "a tag outside an extension value")
            self.item(path, nd)

    def key_value(self, at: int):
        """Decodes an integer or text key again (already validated) to name the path."""
        sub = Reader(self.r.buf[at:])
        major, arg = sub.head()
        if major == UNSIGNED:
            return arg
        if major == NEGATIVE:
            return -1 - arg
        if major == TEXT:
            return sub.buf[sub.pos:sub.pos + arg].decode("utf-8")
        return object()  # other key types: never a known field


# cbor2's C extension and its pure-Python decoder each have their own CBORTag class.
TAG_TYPES = (cbor2.CBORTag, cbor2._types.CBORTag)


def det_encode(v) -> bytes:
    """Deterministic CBOR (RFC 8949 section 4.2.1: shortest heads, definite lengths, map keys
    sorted bytewise by their encodings). cbor2's own canonical=True sorts keys length-first
    (RFC 7049 canonical order), which is not the same rule, so the few lines are written here."""

    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < 1 << (8 * size):
                return bytes([major << 5 | info]) + n.to_bytes(size, "big")
        raise ValueError("integer too large")

    if v is False:
        return b"\xf4"
    if v is True:
        return b"\xf5"
    if v is None:
        return b"\xf6"
    if type(v) is int:
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode("utf-8")
        return head(3, len(b)) + b
    if isinstance(v, (list, tuple)):
        return head(4, len(v)) + b"".join(det_encode(x) for x in v)
    if isinstance(v, Mapping):  # cbor2 gives FrozenDict for maps used as keys
        items = sorted((det_encode(k), det_encode(x)) for k, x in v.items())
        return head(5, len(items)) + b"".join(k + x for k, x in items)
    if isinstance(v, TAG_TYPES):
        return head(6, v.tag) + det_encode(v.value)
    raise ValueError(f"cannot encode {type(v).__name__} deterministically")


def cbor2_loads_plain_tags(data: bytes):
    """cbor2's (pure-Python) decoder, with every tag left as a plain CBORTag.

    By default cbor2 interprets tags 0-5, 24-37, 256... (dates, bignums, shared references)
    and fails on values it cannot interpret (tag 0 around "2020", say). In airseal, tags can
    only occur inside opaque non-critical extension values, which a verifier must accept as
    long as they are well-formed, and whose exact bytes are reported; interpreting them would
    be wrong (and would break the re-encoding comparison). cbor2 has no switch for this, so
    its table of tag interpreters is emptied for the duration of the call."""
    saved = cbor2._decoder.semantic_decoders
    cbor2._decoder.semantic_decoders = {}
    try:
        return cbor2._decoder.CBORDecoder(io.BytesIO(data)).decode()
    finally:
        cbor2._decoder.semantic_decoders = saved


def cbor2_layer(payload: bytes):
    """cbor2 decode plus the canonical re-encoding check (the library-based layer)."""
    try:
        value = cbor2_loads_plain_tags(payload)
    except Exception as e:  # cbor2.CBORDecodeError and friends
        raise malformed("claims", "cbor2_decode_error", str(e)) from None
    try:
        again = det_encode(value)
    except ValueError as e:
        raise malformed("claims", "not_deterministic", str(e)) from None
    if again != payload:  # also catches trailing bytes, which cbor2.loads ignores
        raise malformed("claims", "not_deterministic", "canonical re-encoding differs")
    return value


def hexs(b: bytes) -> str:
    return b.hex()


def want(cond: bool, ctx: str, rule: str, detail: str = "") -> None:
    if not cond:
        raise malformed(ctx, rule, detail)


def as_int(v, ctx: str) -> int:
    want(type(v) is int, ctx, "unexpected_type", f"expected integer, found {type(v).__name__}")
    want(I64_MIN <= v <= I64_MAX, ctx, "integer_out_of_range")
    return v


def as_uint(v, ctx: str) -> int:
    want(type(v) is int and v >= 0, ctx, "unexpected_type", f"expected unsigned, found {v!r}")
    want(v <= U64_MAX, ctx, "integer_out_of_range")
    return v


def as_text(v, ctx: str) -> str:
    want(type(v) is str, ctx, "unexpected_type", f"expected text, found {type(v).__name__}")
    return v


def as_bytes(v, ctx: str, n: int | None = None) -> bytes:
    want(type(v) is bytes, ctx, "unexpected_type", f"expected bytes, found {type(v).__name__}")
    if n is not None:
        want(len(v) == n, ctx, "invalid_value", "wrong length")
    return v


def as_map(v, ctx: str) -> dict:
    want(type(v) is dict, ctx, "unexpected_type", f"expected map, found {type(v).__name__}")
    return v


def as_limit(v, ctx: str):
    return "unlimited" if v is None else as_uint(v, ctx)


def bit_name(name: str) -> bool:
    return len(name) == 2 and name[0] in "Ff" and name[1] in "12345678"


def decode_machine(v) -> dict:
    ctx = "claims.airseal.machine"
    m = as_map(v, ctx)
    out = {}
    for key, val in m.items():
        k = as_uint(key, ctx)
        if k == 1:
            t = as_uint(val, ctx)
            want(t <= 255, ctx, "invalid_value", "threshold out of range")
            out["threshold"] = t
        elif k == 2:
            want(type(val) is list, ctx, "unexpected_type", "components must be an array")
            want(1 <= len(val) <= MAX_COMPONENTS, ctx, "invalid_value", "1 to 16 components")
            out["components"] = [as_bytes(c, ctx, 8) for c in val]
            want(len(set(out["components"])) == len(out["components"]), ctx, "invalid_value",
                 "machine binding components must be distinct")
        elif k == 3:
            out["device_key"] = as_bytes(val, ctx, 8)
        else:
            raise malformed(ctx, "unknown_critical_key", f"machine key {k}")
    want("threshold" in out and "components" in out, ctx, "missing_field")
    want(1 <= out["threshold"] <= len(out["components"]), ctx, "invalid_value",
         "threshold must be between 1 and the number of components")
    return out


def decode_airseal(v, spans) -> tuple[dict, dict]:
    """airseal's own claims map (key -65537). Returns (JSON fields, values for the policy)."""
    ctx = "claims.airseal"
    m = as_map(v, ctx)
    js: dict = {}
    pol = {"bits": 0, "bit_expiry": [None] * 8, "named": [], "machine": None,
           "grace": None, "clock_offset": None}
    licensee = {}
    kind = None
    extensions = []
    for key, val in m.items():
        k = as_int(key, ctx)
        if k < 0:  # non-critical: kept verbatim, not interpreted
            start, end = spans[(AIRSEAL_KEY, k)]
            extensions.append((k, start, end))
            continue
        if k not in AIRSEAL_NAMES:
            raise malformed(ctx, "unknown_critical_key", f"airseal claim {k}")
        fctx = "claims.airseal." + AIRSEAL_NAMES[k]
        if k == 0:
            code = as_uint(val, fctx)
            want(code in KINDS, fctx, "invalid_value", "unknown license kind")
            kind = KINDS[code]
        elif k in (1, 2, 3):
            licensee[{1: "name", 2: "email", 3: "organization"}[k]] = as_text(val, fctx)
        elif k == 4:
            js["product_key"] = as_text(val, fctx)
        elif k == 5:
            bits = as_uint(val, fctx)
            want(1 <= bits <= 255, fctx, "invalid_value", "feature bits must be 1..=255")
            pol["bits"] = bits
        elif k == 6:
            em = as_map(val, fctx)
            want(len(em) > 0, fctx, "invalid_value", "empty map")
            for bit, exp in em.items():
                bit = as_uint(bit, fctx)
                want(1 <= bit <= 8 and pol["bits"] >> (bit - 1) & 1, fctx, "invalid_value",
                     "expiry for a feature bit that is not granted")
                pol["bit_expiry"][bit - 1] = as_int(exp, fctx)
        elif k == 7:
            nm = as_map(val, fctx)
            want(1 <= len(nm) <= MAX_NAMED_FEATURES, fctx, "invalid_value", "1 to 64 named features")
            for name, exp in nm.items():
                name = as_text(name, fctx)
                want(1 <= len(name.encode()) <= MAX_NAME_LEN and not bit_name(name), fctx,
                     "invalid_value", "feature name must be 1 to 64 bytes and not F1..F8")
                pol["named"].append((name, None if exp is None else as_int(exp, fctx)))
        elif k == 8:
            lim = as_limit(val, fctx)
            want(lim != 0, fctx, "invalid_value", "max activations must be at least 1 (or null)")
            js["max_activations"] = lim
        elif k == 9:
            js["max_deactivations"] = as_limit(val, fctx)
        elif k == 10:
            pol["machine"] = decode_machine(val)
            mj = {"threshold": pol["machine"]["threshold"],
                  "components": [hexs(c) for c in pol["machine"]["components"]]}
            if "device_key" in pol["machine"]:
                mj["device_key"] = hexs(pol["machine"]["device_key"])
            js["machine"] = mj
        elif k == 11:
            js["maintenance_until"] = as_int(val, fctx)
        elif k == 12:
            js["grace_period"] = pol["grace"] = as_uint(val, fctx)
        elif k == 13:
            js["clock_offset"] = pol["clock_offset"] = as_uint(val, fctx)
        elif k == 14:
            mm = as_map(val, fctx)
            want(1 <= len(mm) <= MAX_METADATA, fctx, "invalid_value", "metadata must have 1 to 50 entries")
            meta = {}
            for mk, mv in mm.items():
                mk = as_text(mk, fctx)
                want(1 <= len(mk.encode()) <= MAX_NAME_LEN, fctx, "invalid_value", "metadata key length")
                if type(mv) is str:
                    meta[mk] = mv
                else:
                    want(type(mv) is int, fctx, "unexpected_type", "metadata value must be text or integer")
                    meta[mk] = as_int(mv, fctx)
            js["metadata"] = meta
        elif k == 15:
            js["request_nonce"] = hexs(as_bytes(val, fctx, 16))
    want(kind is not None, "claims.airseal.kind", "missing_field")
    js["kind"] = kind
    if licensee:
        js["licensee"] = licensee
    bits = [{"bit": f"F{i + 1}", "expires": pol["bit_expiry"][i]} for i in range(8) if pol["bits"] >> i & 1]
    if bits:
        js["feature_bits"] = bits
    if pol["named"]:
        js["features"] = [{"name": n, "expires": e} for n, e in pol["named"]]
    pol["extensions"] = extensions
    return js, pol


def decode_claims(payload: bytes) -> tuple[dict, dict]:
    try:
        scan = Scan(payload)  # strict deterministic CBOR: rejects before cbor2 is consulted
    except Reject as e:
        # Diagnostic (shown with -v): would the library-based layer alone have caught it?
        try:
            cbor2_layer(payload)
            e.detail += "; the cbor2 layer alone would have ACCEPTED this"
        except Reject as e2:
            e.detail += f"; the cbor2 layer alone also rejects it ({e2.rule})"
        raise
    value = cbor2_layer(payload)
    ctx = "claims"
    m = as_map(value, ctx)
    fields: dict = {}
    ext = []
    private = None
    for key, val in m.items():
        k = as_int(key, ctx)
        if k in (1, 2, 3):
            fields[CLAIM_NAMES[k]] = as_text(val, "claims." + CLAIM_NAMES[k])
        elif k in (4, 5, 6):
            fields[CLAIM_NAMES[k]] = as_int(val, "claims." + CLAIM_NAMES[k])
        elif k == 7:
            cti = as_bytes(val, "claims.cti")
            want(1 <= len(cti) <= MAX_TOKEN_ID_LEN, "claims.cti", "invalid_value", "cti must be 1 to 32 bytes")
            fields["cti"] = hexs(cti)
        elif k == AIRSEAL_KEY:
            private = decode_airseal(val, scan.spans)
        elif k >= 0:
            raise malformed(ctx, "unknown_critical_key", f"claim {k}")
        else:
            start, end = scan.spans[(k,)]
            ext.append({"key": k, "cbor": hexs(payload[start:end])})
    want(private is not None, "claims.airseal", "missing_field")
    for name in ("iss", "sub", "aud", "iat", "cti"):
        want(name in fields, "claims." + name, "missing_field")
    js, pol = private
    claims = dict(fields)
    claims.update(js)
    if ext:
        claims["extensions"] = ext
    if pol["extensions"]:
        claims["airseal_extensions"] = [{"key": k, "cbor": hexs(payload[s:e])} for k, s, e in pol["extensions"]]
    pol.update(product=fields["aud"], iat=fields["iat"], nbf=fields.get("nbf"), exp=fields.get("exp"))
    return claims, pol


# --- policy --------------------------------------------------------------------------------

def apply_policy(pol: dict, product: str, now: int, machine: list[bytes] | None,
                 device_public_key: bytes | None = None) -> tuple[str, list]:
    if pol["product"] != product:
        raise Reject("wrong_product", detail=f"license is for {pol['product']!r}")
    # Both bounds are compared in unbounded integers (SPEC.md section 6, steps 9 and 10).
    valid_from = (pol["nbf"] if pol["nbf"] is not None else pol["iat"]) - (pol["clock_offset"] or 0)
    if now < valid_from:
        raise Reject("not_yet_valid", detail=f"valid from {valid_from}")
    status = "valid"
    if pol["exp"] is not None and now >= pol["exp"]:
        until = pol["exp"] + (pol["grace"] or 0)
        if now >= until:
            raise Reject("expired", detail=f"expired at {until}")
        status = "in_grace"
    if pol["machine"] is not None:
        have = machine or []
        # Distinct components only: a hash counts once however often it is listed.
        matched = len({c for c in pol["machine"]["components"] if c in have})
        if matched < pol["machine"]["threshold"]:
            raise Reject("wrong_machine", detail=f"{matched} of {pol['machine']['threshold']} components")
        bound = pol["machine"].get("device_key")
        if bound is not None and device_public_key is not None and kid_of(device_public_key) != bound:
            raise Reject("wrong_device", detail=f"bound to device key {bound.hex()}")
    active = [f"F{i + 1}" for i in range(8)
              if pol["bits"] >> i & 1 and (pol["bit_expiry"][i] is None or now < pol["bit_expiry"][i])]
    active += [n for n, e in pol["named"] if e is None or now < e]
    return status, active


# --- the whole verification ----------------------------------------------------------------

def verify_signature_pycose(data: bytes, env: dict, public_key: bytes) -> bool:
    msg = Sign1Message.decode(data)
    # pycose must have seen the same envelope as the strict parser, and must sign over the
    # exact protected-header bytes of the file (not a re-encoding of them).
    for what, ours, theirs in (("protected header bytes", env["protected"], msg.phdr_encoded),
                               ("payload", env["payload"], msg.payload),
                               ("signature", env["signature"], msg.signature)):
        if ours != theirs:
            raise RuntimeError(f"pycose decoded a different {what}")
    if msg.get_attr(headers.Algorithm) is not EdDSA:
        raise RuntimeError("pycose alg is not (mapped to) EdDSA")
    msg.key = OKPKey(crv=Ed25519, x=public_key)
    return msg.verify_signature()


def strict_signature(raw: bytes, env: dict, key: bytes, notes: list) -> bool:
    """Ed25519 with verify_strict semantics: pycose's check, then S < l and R not of small
    order (which OpenSSL does not check)."""
    s = int.from_bytes(env["signature"][32:], "little")
    if not verify_signature_pycose(raw, env, key):
        if s >= ED25519_L:
            notes.append("S >= l; pycose/cryptography rejected it itself")
        return False
    # pycose accepted. A strict verifier additionally refuses these (never reached by the
    # committed vectors; kept so that this script is a verify_strict-equivalent oracle).
    if s >= ED25519_L:
        notes.append("GAP: pycose accepted S >= l")
        return False
    r_point = decode_point(env["signature"][:32])
    if r_point is None or is_small_order(r_point):
        notes.append("pycose accepted a small-order or undecodable R")
        return False
    if env["header"]["alg"] == ALG_ED25519:
        notes.append("alg -19 mapped to pycose EdDSA")
    return True


def verify(data: bytes, trusted: list[bytes], product: str, now: int, machine, notes: list,
           validity: dict | None = None, release_date: int | None = None,
           device_public_key: bytes | None = None, revocations: dict | None = None) -> dict:
    raw = dearmor(data)
    env = parse_envelope(raw)
    if env["header"]["typ"] not in (TYP_LICENSE, TYP_RESPONSE):
        raise Reject("wrong_type", detail=f"typ {env['header']['typ']!r}")
    root, cert = signer_of(raw, env, trusted, notes)
    claims, pol = decode_claims(env["payload"])
    # Only an activation response carries a request nonce, and it must be device-bound.
    is_response = env["header"]["typ"] == TYP_RESPONSE
    device_bound = pol["machine"] is not None and "device_key" in pol["machine"]
    want(("request_nonce" in claims) == is_response and (device_bound or not is_response),
         "claims", "invalid_value", "request nonce and device key rules of section 15.3")
    # The chain (SPEC.md 18.3 c4-c7) and key rotation (SPEC.md 6.1): the signing root must
    # have been trusted at the license's issue time: not_before <= iat < not_after.
    revoked = [bytes.fromhex(k) for k in (revocations or {}).get("issuing_keys", [])]
    check_chain(root, cert, env["header"]["typ"], pol["product"], pol["iat"], validity, revoked)
    status, active = apply_policy(pol, product, now, machine, device_public_key)
    if revocations is not None and revoked_license(revocations, claims):
        raise Reject("revoked")
    # Release gating: the app's release must be before the maintenance end (exclusive).
    until = claims.get("maintenance_until")
    if release_date is not None and until is not None and release_date >= until:
        raise Reject("maintenance_ended", detail=f"release {release_date} >= maintenance end {until}")
    out = {"claims": claims, "status": status, "active_features": active}
    if cert is not None:
        out["issuer"] = {"root": kid_of(root).hex(), "kid": kid_of(cert["key"]).hex(),
                         "serial": cert["serial"]}
    return out


def run_case(base: pathlib.Path, case: dict) -> tuple[bool, str]:
    data = (base / case["file"]).read_bytes()
    trusted = [bytes.fromhex(k) for k in case["trusted_public_keys"]]
    machine = None if case["machine"] is None else [bytes.fromhex(c) for c in case["machine"]]
    exp = case["expected"]
    notes: list[str] = []
    try:
        for k in trusted:  # a trust store refuses non-points, non-canonical and small-order keys
            if not usable_public_key(k):
                raise Reject("invalid_public_key", detail=f"trusted key {k.hex()}")
        got = verify(data, trusted, case["product"], case["now"], machine, notes,
                     case.get("key_validity"), case.get("release_date"),
                     bytes.fromhex(case["device_public_key"]) if case.get("device_public_key") else None)
    except Reject as e:
        if exp["result"] != "error":
            return False, f"expected valid, got {e.cls} ({e.context} {e.rule} {e.detail})".replace("  ", " ")
        if e.cls != exp["error"]:
            return False, f"expected {exp['error']}, got {e.cls} ({e.context} {e.rule} {e.detail})"
        if e.cls == "malformed":
            if (e.context, e.rule) == (exp.get("context"), exp.get("rule")):
                notes.append(f"{e.context}/{e.rule}: {e.detail}")
            else:
                notes.append(f"NOTE rule differs: ours {e.context}/{e.rule}, "
                             f"manifest {exp.get('context')}/{exp.get('rule')}")
        else:
            notes.append(e.cls)
        return True, "; ".join(notes)
    if exp["result"] != "valid":
        return False, f"expected {exp['error']}, but the license verified ({got['status']})"
    problems = []
    if got["claims"] != exp["claims"]:
        keys = sorted(set(got["claims"]) | set(exp["claims"]))
        diff = [k for k in keys if got["claims"].get(k) != exp["claims"].get(k)]
        problems.append(f"claims differ in {diff}: ours {[got['claims'].get(k) for k in diff]}, "
                        f"manifest {[exp['claims'].get(k) for k in diff]}")
    if got["status"] != exp["status"]:
        problems.append(f"status ours {got['status']}, manifest {exp['status']}")
    if got["active_features"] != exp["active_features"]:
        problems.append(f"active features ours {got['active_features']}, manifest {exp['active_features']}")
    if problems:
        return False, "; ".join(problems)
    return True, "; ".join([got["status"]] + notes)


# --- activation requests and deactivation proofs (SPEC.md section 15.1-15.2) -----------------
# vectors/activation.json: objects signed by the device key they carry. Order: envelope ->
# typ -> payload decode -> kid == KeyId(device key) (malformed) -> the device key is a usable
# point (invalid_public_key) -> strict Ed25519 (bad_signature). Every unknown payload key is
# critical, negative ones too.
TYP_REQUEST = "airseal-request"
TYP_DEACTIVATION = "airseal-deactivation"
NONCE_LEN = 16
MAX_METERS = 16
MAX_PRODUCT_KEY_LEN = 512
# Unicode White_Space (what Rust's str::trim removes); Python's str.strip also removes
# U+001C..U+001F, which are not White_Space, so the set is spelled out.
UNICODE_WS = ("\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B))
              + "\u2028\u2029\u202f\u205f\u3000")


def decode_request(payload: bytes) -> dict:
    r = Reader(payload, "request")
    n = r.length(MAP)
    order, out = KeyOrder(), {}
    purpose = "activation"
    for _ in range(n):
        r.context = "request"
        at = r.pos
        key = r.int()
        order.check(r, payload[at:r.pos])
        if key == 1:
            r.context = "request.product"
            out["product"] = r.text()
        elif key == 2:
            r.context = "request.product_key"
            k = r.text()
            if not 1 <= len(k.encode()) <= MAX_PRODUCT_KEY_LEN or k.strip(UNICODE_WS) != k:
                raise r.err("invalid_value", "product key: 1 to 512 bytes, no surrounding blanks")
            out["product_key"] = k
        elif key == 3:
            r.context = "request.components"
            count = r.length(ARRAY)
            if not 1 <= count <= MAX_COMPONENTS:
                raise r.err("invalid_value", "1 to 16 components")
            out["components"] = [r.bytes_exact(8).hex() for _ in range(count)]
            if len(set(out["components"])) != count:
                raise r.err("invalid_value", "component hashes must be distinct")
        elif key == 4:
            r.context = "request.device_key"
            out["device_key"] = r.bytes_exact(32).hex()
        elif key == 5:
            r.context = "request.nonce"
            out["nonce"] = r.bytes_exact(NONCE_LEN).hex()
        elif key == 6:
            r.context = "request.created"
            out["created"] = r.int()
        elif key == 7:
            r.context = "request.app_version"
            out["app_version"] = r.text()
        elif key == 8:
            r.context = "request.purpose"
            if r.expect(UNSIGNED) != 1:
                raise r.err("invalid_value", "purpose must be 1 (trial) or omitted")
            purpose = "trial"
        elif key == 9:
            r.context = "request.meters"
            count = r.length(MAP)
            if not 1 <= count <= MAX_METERS:
                raise r.err("invalid_value", "1 to 16 meters")
            inner, meters = KeyOrder(), []
            for _ in range(count):
                k_at = r.pos
                name = r.text()
                inner.check(r, payload[k_at:r.pos])
                meters.append({"name": name, "value": r.int()})
            out["meters"] = meters
        else:
            raise r.err("unknown_critical_key", f"key {key}")
    r.context = "request"
    r.finish()
    for field in ("product", "components", "device_key", "nonce", "created"):
        if field not in out:
            raise malformed(f"request.{field}", "missing_field")
    if (purpose == "activation") != ("product_key" in out):
        raise malformed("request", "invalid_value", "an activation names a product key; a trial does not")
    out["purpose"] = purpose
    return out


def decode_deactivation(payload: bytes) -> dict:
    r = Reader(payload, "deactivation")
    n = r.length(MAP)
    order, out = KeyOrder(), {}
    for _ in range(n):
        r.context = "deactivation"
        at = r.pos
        key = r.int()
        order.check(r, payload[at:r.pos])
        if key == 1:
            r.context = "deactivation.product"
            out["product"] = r.text()
        elif key == 2:
            r.context = "deactivation.license_id"
            out["license_id"] = r.text()
        elif key == 3:
            r.context = "deactivation.token_id"
            b = r.bytes()
            if not 1 <= len(b) <= MAX_TOKEN_ID_LEN:
                raise r.err("invalid_value", "token id must be 1 to 32 bytes")
            out["token_id"] = b.hex()
        elif key == 4:
            r.context = "deactivation.device_key"
            out["device_key"] = r.bytes_exact(32).hex()
        elif key == 5:
            r.context = "deactivation.nonce"
            out["nonce"] = r.bytes_exact(NONCE_LEN).hex()
        elif key == 6:
            r.context = "deactivation.created"
            out["created"] = r.int()
        else:
            raise r.err("unknown_critical_key", f"key {key}")
    r.context = "deactivation"
    r.finish()
    for field in ("product", "license_id", "token_id", "device_key", "nonce", "created"):
        if field not in out:
            raise malformed(f"deactivation.{field}", "missing_field")
    return out


def verify_device_signed(data: bytes, kind: str, notes: list) -> dict:
    raw = dearmor(data)
    env = parse_envelope(raw)
    typ, decode = {"request": (TYP_REQUEST, decode_request),
                   "deactivation": (TYP_DEACTIVATION, decode_deactivation)}[kind]
    if env["header"]["typ"] != typ:
        raise Reject("wrong_type", detail=f"typ {env['header']['typ']!r}")
    fields = decode(env["payload"])
    # The payload must also be deterministic CBOR as cbor2 sees it (a second, library check).
    if det_encode(cbor2.loads(env["payload"])) != env["payload"]:
        raise RuntimeError("cbor2 round trip differs from the payload")
    device = bytes.fromhex(fields["device_key"])
    if kid_of(device) != env["header"]["kid"]:
        raise malformed("protected header kid", "invalid_value", "kid is not the device key's id")
    if not usable_public_key(device):
        raise Reject("invalid_public_key")
    s = int.from_bytes(env["signature"][32:], "little")
    r_point = decode_point(env["signature"][:32])
    if s >= ED25519_L or r_point is None or is_small_order(r_point):
        raise Reject("bad_signature", detail="not a strict signature")
    if not verify_signature_pycose(raw, env, device):
        raise Reject("bad_signature")
    if env["header"]["alg"] == ALG_ED25519:
        notes.append("alg -19 mapped to pycose EdDSA")
    return fields


def run_activation_case(base: pathlib.Path, case: dict) -> tuple[bool, str]:
    data = (base / case["file"]).read_bytes()
    exp = case["expected"]
    notes: list[str] = []
    try:
        got = verify_device_signed(data, case["kind"], notes)
    except Reject as e:
        if exp["result"] != "error":
            return False, f"expected valid, got {e.cls} ({e.context} {e.rule} {e.detail})"
        if e.cls != exp["error"]:
            return False, f"expected {exp['error']}, got {e.cls} ({e.context} {e.rule} {e.detail})"
        if e.cls == "malformed" and (e.context, e.rule) != (exp.get("context"), exp.get("rule")):
            notes.append(f"NOTE rule differs: ours {e.context}/{e.rule}, "
                         f"vectors {exp.get('context')}/{exp.get('rule')}")
        else:
            notes.append(f"{e.cls} {e.context}/{e.rule}".rstrip(" /"))
        return True, "; ".join(notes)
    if exp["result"] != "valid":
        return False, f"expected {exp['error']}, but the {case['kind']} verified"
    if got != exp["fields"]:
        diff = sorted(k for k in set(got) | set(exp["fields"]) if got.get(k) != exp["fields"].get(k))
        return False, f"fields differ in {diff}"
    return True, "; ".join(["valid"] + notes)


# --- license updates (renewals, SPEC.md section 15.8) ---------------------------------------
# vectors/renewal.json: updates offered to a machine that has renewal/installed.cose
# installed. An update is accepted when it verifies (section 6) for the installed license's
# product, against the installed license's component hashes and the machine's device key, is
# an activation response with the installed license's id and request nonce, and was issued
# strictly later.

def check_update(update: bytes, installed: bytes, trusted: list[bytes], device_public_key: bytes,
                 now: int, notes: list) -> dict:
    claims_i, pol_i = decode_claims(parse_envelope(dearmor(installed))["payload"])
    if pol_i["machine"] is None:
        raise Reject("wrong_request", detail="the installed license is not machine-bound")
    got = verify(update, trusted, pol_i["product"], now, pol_i["machine"]["components"], notes,
                 device_public_key=device_public_key)
    c = got["claims"]
    if "request_nonce" not in c:
        raise Reject("wrong_request", detail="a plain license")
    if c["sub"] != claims_i["sub"]:
        raise Reject("wrong_request", detail="another license id")
    if c["request_nonce"] != claims_i.get("request_nonce"):
        raise Reject("wrong_request", detail="another request nonce")
    if c["iat"] <= claims_i["iat"]:
        raise Reject("stale_update", detail=f"iat {c['iat']} <= installed {claims_i['iat']}")
    return got


def run_renewal_case(base: pathlib.Path, manifest: dict, case: dict) -> tuple[bool, str]:
    update = (base / case["file"]).read_bytes()
    installed = (base / manifest["installed"]).read_bytes()
    trusted = [bytes.fromhex(k) for k in manifest["trusted_public_keys"]]
    device = bytes.fromhex(manifest["device_public_key"])
    exp = case["expected"]
    notes: list[str] = []
    try:
        got = check_update(update, installed, trusted, device, case["now"], notes)
    except Reject as e:
        if exp["result"] != "error":
            return False, f"expected installed, got {e.cls} ({e.detail})"
        if e.cls != exp["error"]:
            return False, f"expected {exp['error']}, got {e.cls} ({e.context} {e.rule} {e.detail})"
        return True, "; ".join([e.cls] + notes)
    if exp["result"] != "installed":
        return False, f"expected {exp['error']}, but the update was accepted"
    if got["claims"] != exp["claims"]:
        diff = sorted(k for k in set(got["claims"]) | set(exp["claims"])
                      if got["claims"].get(k) != exp["claims"].get(k))
        return False, f"claims differ in {diff}"
    return True, "; ".join(["installed"] + notes)


def doc_example(vectors: pathlib.Path, product: str, now: int) -> tuple[bool, str]:
    """Extra check: the README example (public key file + armored license) verifies."""
    key = None
    for line in (vectors / "doc-example.pub").read_text().splitlines():
        line = line.strip()
        if line.startswith("airseal-pk-v1:"):
            _, kid, b64 = line.split(":")
            key = base64.b64decode(b64, validate=True)
            if len(key) != 32 or kid_of(key).hex() != kid:
                return False, "public key file: key id does not match the key"
            if not usable_public_key(key):
                return False, "public key file: not a usable Ed25519 public key"
    if key is None:
        return False, "no airseal-pk-v1 line"
    try:
        got = verify((vectors / "doc-example.lic").read_bytes(), [key], product, now, None, [])
    except Reject as e:
        return False, f"rejected: {e}"
    return True, f"{got['status']}, features {got['active_features']}"


# vectors/revocations.json: how a revocation list's product keys (key 4) match a license's
# product key (SPEC.md §13). Written from the SPEC text, not from the Rust code.

LOOSE_SEPARATORS = "- _."


def match_form(key: str) -> str:
    """The loose form (separators dropped, ASCII letters case-folded), in upper case."""
    return "".join(c.upper() if c.isascii() else c for c in key if c not in LOOSE_SEPARATORS)


def run_revocation_vectors(path: pathlib.Path) -> tuple[int, int]:
    v = json.loads(path.read_text())
    public = bytes.fromhex(v["public_key"])
    data = bytes.fromhex(v["list"])
    env = parse_envelope(data)
    passed = failed = 0

    def report(ok: bool, name: str, why: str = "") -> None:
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"ok   revocations.json {name}")
        else:
            failed += 1
            print(f"FAIL revocations.json {name}: {why}")

    header = env["header"]
    list_ok = (header["typ"] == "airseal-revocations" and header["kid"] == kid_of(public)
               and verify_signature_pycose(data, env, public))
    report(list_ok, "list", "typ, kid or signature")
    payload = cbor2_loads_plain_tags(env["payload"])
    if det_encode(payload) != env["payload"]:
        report(False, "list payload", "not deterministic CBOR")
    entries = list(payload.get(4, []))
    stored = [match_form(k) for k in v["revoked_stored_keys"]]
    report(sorted(entries) == sorted(stored), "list entries",
           f"{entries} are not the match forms of {v['revoked_stored_keys']}")
    for case in v["cases"]:
        carried = case["license_product_key"]
        form = match_form(carried)
        revoked = form in entries
        want = case["expected"] == "revoked"
        ok = form == case["match_form"] and revoked == want
        report(ok, case["name"], f"match form {form!r}, revoked {revoked}")
    return passed, failed


# vectors/chain.json: issuing-key certificates, objects signed by certified issuing keys,
# and revocation lists (SPEC.md 13, 18). `kind` names the reader: a license or activation
# response, a certificate on its own, a revocation list (then the clock guard's sequence
# rule against a list accepted before), or an activation request.

def run_chain_case(base: pathlib.Path, case: dict) -> tuple[bool, str]:
    data = (base / case["file"]).read_bytes()
    trusted = [bytes.fromhex(k) for k in case["trusted_public_keys"]]
    validity = case.get("key_validity")
    exp = case["expected"]
    notes: list[str] = []
    kind = case["kind"]
    try:
        if kind == "license":
            lst = None
            if case.get("revocation_list"):
                lst = verify_revocations((base / case["revocation_list"]).read_bytes(), trusted, validity, [])
            machine = None if case["machine"] is None else [bytes.fromhex(c) for c in case["machine"]]
            device = bytes.fromhex(case["device_public_key"]) if case.get("device_public_key") else None
            got = verify(data, trusted, case["product"], case["now"], machine, notes, validity,
                         None, device, lst)
            got = {"result": "valid", "status": got["status"], "claims": got["claims"],
                   "active_features": got["active_features"], "issuer": got.get("issuer")}
        elif kind == "certificate":
            raw = dearmor(data)
            env = parse_envelope(raw)
            if env["header"]["typ"] != TYP_CERT:
                raise Reject("wrong_type", detail=f"typ {env['header']['typ']!r}")
            root, cert = check_certificate(raw, env, trusted)
            got = {"result": "valid", "root": kid_of(root).hex(), "certificate": cert_json(cert)}
        elif kind == "revocations":
            lst = verify_revocations(data, trusted, validity, notes)
            if case.get("accepted_before"):
                newest = verify_revocations((base / case["accepted_before"]).read_bytes(), trusted, validity, [])
                # The clock guard keeps the newest sequence number accepted (SPEC.md 14).
                if lst["seq"] < newest["seq"]:
                    raise Reject("stale_revocation_list", detail=f"{lst['seq']} < {newest['seq']}")
            got = {"result": "valid", "list": lst}
        elif kind == "request":
            verify_device_signed(data, "request", notes)
            got = {"result": "valid"}
        else:
            return False, f"unknown kind {kind!r}"
    except Reject as e:
        if exp["result"] != "error":
            return False, f"expected valid, got {e.cls} ({e.context} {e.rule} {e.detail})"
        if e.cls != exp["error"]:
            return False, f"expected {exp['error']}, got {e.cls} ({e.context} {e.rule} {e.detail})"
        if e.cls == "malformed" and (e.context, e.rule) != (exp.get("context"), exp.get("rule")):
            # For chain vectors the rule is part of the contract: each names one broken rule.
            return False, (f"rule differs: ours {e.context}/{e.rule}, "
                           f"vectors {exp.get('context')}/{exp.get('rule')} ({e.detail})")
        notes.append(f"{e.cls} {e.context}/{e.rule}".rstrip(" /"))
        return True, "; ".join(notes)
    if got != exp:
        diff = sorted(k for k in set(got) | set(exp) if got.get(k) != exp.get(k))
        return False, f"outcome differs in {diff}: ours {[got.get(k) for k in diff]}"
    return True, "; ".join(["valid"] + notes)


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    manifest_path = pathlib.Path(args[0]) if args else pathlib.Path(__file__).resolve().parent.parent / "manifest.json"
    base = manifest_path.parent
    manifest = json.loads(manifest_path.read_text())
    for k in manifest["keys"]:  # the manifest's own key table must be self-consistent
        if kid_of(bytes.fromhex(k["public_key"])).hex() != k["kid"]:
            print(f"FAIL manifest key {k['name']}: kid does not match SHA-512(domain || key)[:8]")
            print("0 passed, 1 failed")
            return 1
    passed = failed = 0
    for case in manifest["cases"]:
        try:
            ok, why = run_case(base, case)
        except Exception as e:  # a bug here, or a library surprise: never crash the run
            ok, why = False, f"internal error: {e!r} {traceback.format_exc(limit=2).splitlines()[-1]}"
        if ok:
            passed += 1
            print(f"ok   {case['file']}" + (f"  [{why}]" if verbose and why else ""))
        else:
            failed += 1
            print(f"FAIL {case['file']}: {why}")
    if (base / "doc-example.lic").exists():
        ok, why = doc_example(base, "photo-pro", 1767225600)
        if ok:
            passed += 1
            print("ok   doc-example.lic" + (f"  [{why}]" if verbose else ""))
        else:
            failed += 1
            print(f"FAIL doc-example.lic: {why}")
    activation_path = base / "activation.json"
    if activation_path.exists():  # requests and deactivation proofs, next to the manifest
        activation = json.loads(activation_path.read_text())
        for k in activation["device_keys"]:
            if kid_of(bytes.fromhex(k["public_key"])).hex() != k["kid"]:
                failed += 1
                print(f"FAIL activation device key {k['name']}: kid does not match")
        for case in activation["cases"]:
            try:
                ok, why = run_activation_case(base, case)
            except Exception as e:
                ok, why = False, f"internal error: {e!r} {traceback.format_exc(limit=2).splitlines()[-1]}"
            if ok:
                passed += 1
                print(f"ok   {case['file']}" + (f"  [{why}]" if verbose and why else ""))
            else:
                failed += 1
                print(f"FAIL {case['file']}: {why}")
    renewal_path = base / "renewal.json"
    if renewal_path.exists():  # license updates, next to the manifest
        renewal = json.loads(renewal_path.read_text())
        for case in renewal["cases"]:
            try:
                ok, why = run_renewal_case(base, renewal, case)
            except Exception as e:
                ok, why = False, f"internal error: {e!r} {traceback.format_exc(limit=2).splitlines()[-1]}"
            if ok:
                passed += 1
                print(f"ok   {case['file']}" + (f"  [{why}]" if verbose and why else ""))
            else:
                failed += 1
                print(f"FAIL {case['file']}: {why}")
    chain_path = base / "chain.json"
    if chain_path.exists():  # certificates, chained objects and revocation lists
        chain = json.loads(chain_path.read_text())
        for k in chain["roots"] + chain["issuing_keys"]:
            if kid_of(bytes.fromhex(k["public_key"])).hex() != k["kid"]:
                failed += 1
                print(f"FAIL chain.json key {k['name']}: kid does not match")
        for case in chain["cases"]:
            try:
                ok, why = run_chain_case(base, case)
            except Exception as e:
                ok, why = False, f"internal error: {e!r} {traceback.format_exc(limit=2).splitlines()[-1]}"
            if ok:
                passed += 1
                print(f"ok   {case['file']}" + (f"  [{why}]" if verbose and why else ""))
            else:
                failed += 1
                print(f"FAIL {case['file']}: {why}")
    revocations_path = base / "revocations.json"
    if revocations_path.exists():
        try:
            p, f = run_revocation_vectors(revocations_path)
        except Exception as e:
            p, f = 0, 1
            print(f"FAIL revocations.json: internal error: {e!r}")
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
