#!/usr/bin/env python3
"""The airseal C ABI from Python with ctypes, as a Python (or any FFI) app would use it.

Run by `cargo test -p airseal-ffi --test python_ctypes`, which builds libairseal, writes the
fixtures (tests/fixtures/mod.rs: licenses bound to a device key, revoked, lists) and sets:

  AIRSEAL_LIB       the shared library
  AIRSEAL_HEADER    include/airseal.h (the status codes are read from it, by name)
  AIRSEAL_FIXTURES  the fixture folder
  AIRSEAL_NOW       the fixtures' now

Every new function is called with good and bad arguments; a wrong status fails the test.
"""

import base64
import ctypes as C
import os
import re
import sys
import tempfile
import unittest

LIB = C.CDLL(os.environ["AIRSEAL_LIB"])
FIXTURES = os.environ["AIRSEAL_FIXTURES"]
NOW = int(os.environ["AIRSEAL_NOW"])
DAY = 86_400
PRODUCT = b"photo-pro"
COMPONENTS = bytes.fromhex("0101010101010101" "0202020202020202")

with open(os.environ["AIRSEAL_HEADER"], encoding="utf-8") as f:
    HEADER = f.read()
# `AIRSEAL_STATUS_WRONG_DEVICE = 27,` -> S["WRONG_DEVICE"] == 27
S = {m[1]: int(m[2]) for m in re.finditer(r"AIRSEAL_STATUS_(\w+) = (\d+),", HEADER)}
NO_NOT_BEFORE = -(2**63)
NO_NOT_AFTER = 2**63 - 1
assert re.search(r"#define AIRSEAL_NO_NOT_BEFORE INT64_MIN", HEADER)
assert re.search(r"#define AIRSEAL_NO_NOT_AFTER INT64_MAX", HEADER)


class Opaque(C.Structure):
    pass


P = C.POINTER(Opaque)
PP = C.POINTER(P)
BYTES = C.c_char_p  # also accepts None (NULL)


def fn(name, restype, *argtypes):
    f = getattr(LIB, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


store_new = fn("airseal_trust_store_new", P)
store_free = fn("airseal_trust_store_free", None, P)
add_key_file = fn("airseal_trust_store_add_key_file", C.c_int32, P, BYTES, C.c_size_t)
add_key_v = fn("airseal_trust_store_add_key_with_validity", C.c_int32, P, BYTES, C.c_int64, C.c_int64)
add_certificate = fn("airseal_trust_store_add_certificate", C.c_int32, P, BYTES, C.c_size_t)
add_key_file_v = fn(
    "airseal_trust_store_add_key_file_with_validity",
    C.c_int32, P, BYTES, C.c_size_t, C.c_int64, C.c_int64,
)
verify = fn("airseal_verify", C.c_int32, P, BYTES, C.c_size_t, C.c_int64, BYTES, BYTES, C.c_size_t, PP)
verify_full = fn(
    "airseal_verify_full",
    C.c_int32, P, BYTES, C.c_size_t, C.c_int64, BYTES, BYTES, C.c_size_t, BYTES, P, PP,
)
verify_signed_key = fn("airseal_verify_signed_key", C.c_int32, P, BYTES, BYTES, C.c_int64, C.POINTER(C.c_uint8))
verify_signed_key_full = fn(
    "airseal_verify_signed_key_full", C.c_int32, P, BYTES, BYTES, C.c_int64, P, C.POINTER(C.c_uint8),
)
license_key_id = fn("airseal_license_key_id", C.c_bool, P, C.c_char_p)
license_issuer = fn("airseal_license_issuer", C.c_bool, P, C.c_char_p, C.POINTER(C.c_uint64))
license_free = fn("airseal_license_free", None, P)
license_id = fn("airseal_license_id", C.c_size_t, P, C.c_char_p, C.c_size_t)
rev_verify = fn("airseal_revocations_verify", C.c_int32, P, BYTES, C.c_size_t, PP)
rev_seq = fn("airseal_revocations_seq", C.c_uint64, P)
rev_free = fn("airseal_revocations_free", None, P)
guard_open = fn("airseal_clock_guard_open", C.c_int32, BYTES, BYTES, C.c_size_t, BYTES, PP)
guard_open_device = fn("airseal_clock_guard_open_device", C.c_int32, BYTES, BYTES, C.c_size_t, BYTES, PP)
device_public_key = fn("airseal_device_public_key", C.c_int32, BYTES, C.c_char_p)
guard_observe = fn("airseal_clock_guard_observe", C.c_int32, P, C.c_int64, P)
guard_accept = fn("airseal_clock_guard_accept_revocations", C.c_int32, P, P)
guard_mark = fn("airseal_clock_guard_high_water_mark", C.c_bool, P, C.POINTER(C.c_int64))
guard_seq = fn("airseal_clock_guard_revocations_seq", C.c_uint64, P)
guard_free = fn("airseal_clock_guard_free", None, P)
error_message = fn("airseal_error_message", C.c_char_p, C.c_int32)


def read(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


ROOT_PUB = read("root.pub")
# The raw key inside the public key file `airseal-pk-v1:<kid>:<base64>`.
ROOT_RAW = base64.b64decode(
    next(l for l in ROOT_PUB.decode().splitlines() if l.startswith("airseal-pk-v1:")).split(":")[2]
)
# Its key id, as the public key file states it.
ROOT_KID = next(l for l in ROOT_PUB.decode().splitlines() if l.startswith("airseal-pk-v1:")).split(":")[1]
DEVICE_A = read("device-a.key")
DEVICE_B = read("device-b.key")
SECRET = read("guard.secret")


def new_store(window=(NO_NOT_BEFORE, NO_NOT_AFTER)):
    s = store_new()
    assert s, "airseal_trust_store_new returned NULL"
    st = add_key_file_v(s, ROOT_PUB, len(ROOT_PUB), *window)
    assert st == S["OK"], st
    return s


def check(store, name, *, machine=None, device=None, revocations=None, now=NOW):
    """Verifies a fixture license; returns (status, license id or None)."""
    lic = read(name)
    out = P()
    comps = machine or b""
    st = verify_full(
        store, lic, len(lic), now, PRODUCT,
        comps or None, len(comps) // 8, device, revocations, C.byref(out),
    )
    if st != S["OK"]:
        assert not out, "a refused license left a handle"
        return st, None
    need = license_id(out, None, 0)
    buf = C.create_string_buffer(need)
    assert license_id(out, buf, need) == need
    license_free(out)
    return st, buf.value.decode()


def load_list(store, name):
    data = read(name)
    out = P()
    st = rev_verify(store, data, len(data), C.byref(out))
    return st, out


class DeviceKey(unittest.TestCase):
    def test_a_copied_license_with_another_device_key_is_27(self):
        s = new_store()
        try:
            self.assertEqual(check(s, "bound.lic", machine=COMPONENTS, device=DEVICE_A), (S["OK"], "BOUND1"))
            self.assertEqual(check(s, "bound.lic", machine=COMPONENTS, device=DEVICE_B)[0], S["WRONG_DEVICE"])
            self.assertEqual(S["WRONG_DEVICE"], 27)
            # Without the device key, only the fingerprint is checked (the old behaviour).
            self.assertEqual(check(s, "bound.lic", machine=COMPONENTS)[0], S["OK"])
            # A device key alone does not satisfy the fingerprint.
            self.assertEqual(check(s, "bound.lic", device=DEVICE_A)[0], S["WRONG_MACHINE"])
            # airseal_verify is airseal_verify_full without a device key or list.
            lic = read("bound.lic")
            out = P()
            self.assertEqual(
                verify(s, lic, len(lic), NOW, PRODUCT, COMPONENTS, 2, C.byref(out)), S["OK"]
            )
            license_free(out)
        finally:
            store_free(s)


class Revocations(unittest.TestCase):
    def test_a_revoked_license_is_23_and_lists_must_be_trusted(self):
        s = new_store()
        try:
            st, lst = load_list(s, "revocations-5.lst")
            self.assertEqual(st, S["OK"])
            self.assertEqual(rev_seq(lst), 5)
            self.assertEqual(check(s, "revoked.lic", revocations=lst)[0], S["REVOKED"])
            self.assertEqual(S["REVOKED"], 23)
            self.assertEqual(check(s, "revoked.lic")[0], S["OK"])
            # The list revokes only what it names.
            self.assertEqual(check(s, "bound.lic", machine=COMPONENTS, device=DEVICE_A, revocations=lst)[0], S["OK"])
            rev_free(lst)
            st, lst = load_list(s, "revocations-untrusted.lst")
            self.assertEqual(st, S["UNKNOWN_KEY_ID"])
            self.assertFalse(lst)
            st, lst = load_list(s, "revoked.lic")
            self.assertEqual(st, S["WRONG_TYPE"])
            self.assertFalse(lst)
        finally:
            store_free(s)

    # Issue 14: verify_revocations used to ignore key windows.
    def test_a_list_signed_outside_its_key_window_is_22(self):
        late = new_store((NO_NOT_BEFORE, NOW - DAY))  # the lists are issued NOW - DAY/2
        try:
            self.assertEqual(load_list(late, "revocations-5.lst")[0], S["KEY_OUT_OF_VALIDITY"])
        finally:
            store_free(late)

    def test_misuse(self):
        s = new_store()
        try:
            data = read("revocations-5.lst")
            out = P()
            self.assertEqual(rev_verify(None, data, len(data), C.byref(out)), S["NULL_POINTER"])
            self.assertEqual(rev_verify(s, None, 0, C.byref(out)), S["NULL_POINTER"])
            self.assertEqual(rev_verify(s, data, len(data), None), S["NULL_POINTER"])
            self.assertEqual(rev_verify(s, data, (1 << 26) + 1, C.byref(out)), S["TOO_LARGE"])
            self.assertEqual(rev_verify(s, data[:-3], len(data) - 3, C.byref(out)), S["MALFORMED"])
            self.assertEqual(rev_seq(None), 0)
            rev_free(None)
        finally:
            store_free(s)


class Chains(unittest.TestCase):
    """Licenses signed by an issuing key the root certified: the app trusts only the root."""

    def test_a_chained_license_verifies_with_only_the_root(self):
        s = new_store()
        try:
            self.assertEqual(check(s, "chained.lic"), (S["OK"], "CHAINED1"))
            self.assertEqual(check(s, "chained-before-cert.lic")[0], S["CERTIFICATE_OUT_OF_VALIDITY"])
            self.assertEqual(check(s, "chained-other-product.lic")[0], S["CERTIFICATE_PRODUCT_NOT_ALLOWED"])
            st, lst = load_list(s, "revocations-issuing.lst")
            self.assertEqual(st, S["OK"])
            self.assertEqual(check(s, "chained.lic", revocations=lst)[0], S["ISSUING_KEY_REVOKED"])
            # The root's own licenses are not touched by revoking an issuing key.
            self.assertEqual(check(s, "revoked.lic", revocations=lst)[0], S["OK"])
            rev_free(lst)
        finally:
            store_free(s)
        self.assertEqual([S[n] for n in (
            "CERTIFICATE_OUT_OF_VALIDITY", "CERTIFICATE_PRODUCT_NOT_ALLOWED",
            "CERTIFICATE_TYPE_NOT_ALLOWED", "ISSUING_KEY_REVOKED",
            "REVOCATION_SEQ_OUT_OF_RANGE", "BAD_CERTIFICATE_SIGNATURE")], list(range(31, 37)))
        for code in range(31, 37):
            self.assertNotIn(b"unknown", error_message(code))
        # Which key signed: the issuing key, certified by the root with serial 7.
        s = new_store()
        try:
            for name, chained in (("chained.lic", True), ("revoked.lic", False)):
                lic = read(name)
                out = P()
                self.assertEqual(verify_full(s, lic, len(lic), NOW, PRODUCT, None, 0, None, None, C.byref(out)), S["OK"])
                kid, root, serial = C.create_string_buffer(8), C.create_string_buffer(8), C.c_uint64(0)
                self.assertTrue(license_key_id(out, kid))
                self.assertEqual(license_issuer(out, root, C.byref(serial)), chained)
                if chained:
                    self.assertEqual(serial.value, 7)
                    self.assertEqual(root.raw.hex(), ROOT_KID)
                    self.assertNotEqual(kid.raw.hex(), ROOT_KID)
                    self.assertTrue(license_issuer(out, None, None))
                else:
                    self.assertEqual(kid.raw.hex(), ROOT_KID)
                    self.assertEqual(root.raw, bytes(8))
                self.assertFalse(license_key_id(out, None))
                license_free(out)
            self.assertFalse(license_key_id(None, C.create_string_buffer(8)))
            self.assertFalse(license_issuer(None, None, None))
        finally:
            store_free(s)
        # Without the root trusted, the chain leads nowhere.
        empty = store_new()
        try:
            self.assertEqual(check(empty, "chained.lic")[0], S["UNKNOWN_KEY_ID"])
        finally:
            store_free(empty)

    def test_lists_signed_by_issuing_keys(self):
        s = new_store()
        try:
            st, lst = load_list(s, "revocations-by-issuer-150.lst")
            self.assertEqual(st, S["OK"])
            self.assertEqual(rev_seq(lst), 150)
            self.assertEqual(check(s, "revoked.lic", revocations=lst)[0], S["REVOKED"])
            rev_free(lst)
            # Past the certificate's range: a stolen key cannot push seq to the end.
            st, lst = load_list(s, "revocations-by-issuer-250.lst")
            self.assertEqual(st, S["REVOCATION_SEQ_OUT_OF_RANGE"])
            self.assertFalse(lst)
            # A key certified for licenses only may not sign lists.
            st, lst = load_list(s, "revocations-by-license-key.lst")
            self.assertEqual(st, S["CERTIFICATE_TYPE_NOT_ALLOWED"])
            self.assertFalse(lst)
        finally:
            store_free(s)

    def test_add_certificate(self):
        s = new_store()
        try:
            cert = read("issuing.cert")
            self.assertEqual(add_certificate(s, cert, len(cert)), S["OK"])
            self.assertEqual(check(s, "chained.lic")[0], S["OK"])
            bad = read("issuing-tampered.cert")
            self.assertEqual(add_certificate(s, bad, len(bad)), S["BAD_CERTIFICATE_SIGNATURE"])
            lic = read("revoked.lic")
            self.assertEqual(add_certificate(s, lic, len(lic)), S["WRONG_TYPE"])
            self.assertEqual(add_certificate(s, cert[:10], 10), S["MALFORMED"])
            self.assertEqual(add_certificate(None, cert, len(cert)), S["NULL_POINTER"])
            self.assertEqual(add_certificate(s, None, 0), S["NULL_POINTER"])
            self.assertEqual(add_certificate(s, cert, (1 << 20) + 1), S["TOO_LARGE"])
        finally:
            store_free(s)

    def test_signed_keys_verify_under_an_added_certificate(self):
        # Signed product keys are text and cannot carry a certificate: the app adds it.
        key = read("issuing-signed.key")
        s = new_store()
        try:
            bits = C.c_uint8(0xFF)
            self.assertEqual(verify_signed_key(s, key, PRODUCT, NOW, C.byref(bits)), S["UNKNOWN_KEY_ID"])
            self.assertEqual(bits.value, 0)
            cert = read("issuing.cert")
            self.assertEqual(add_certificate(s, cert, len(cert)), S["OK"])
            self.assertEqual(verify_signed_key(s, key, PRODUCT, NOW, C.byref(bits)), S["OK"])
            self.assertEqual(bits.value, 0b101)
            # A signed key names its product only by hash, so the certificate (photo-pro only)
            # is checked against the product the app expects, before the hash is.
            self.assertEqual(
                verify_signed_key(s, key, b"video-pro", NOW, C.byref(bits)),
                S["CERTIFICATE_PRODUCT_NOT_ALLOWED"],
            )
            self.assertEqual(bits.value, 0)
            # Revoking the issuing key ends the keys it made, whatever their creation day.
            st, revoking = load_list(s, "revocations-issuing.lst")
            self.assertEqual(st, S["OK"])
            st, other = load_list(s, "revocations-5.lst")
            self.assertEqual(st, S["OK"])
            self.assertEqual(verify_signed_key_full(s, key, PRODUCT, NOW, other, C.byref(bits)), S["OK"])
            self.assertEqual(bits.value, 0b101)
            self.assertEqual(
                verify_signed_key_full(s, key, PRODUCT, NOW, revoking, C.byref(bits)),
                S["ISSUING_KEY_REVOKED"],
            )
            self.assertEqual(bits.value, 0)
            self.assertEqual(verify_signed_key_full(s, key, PRODUCT, NOW, None, C.byref(bits)), S["OK"])
            rev_free(revoking)
            rev_free(other)
        finally:
            store_free(s)
        empty = store_new()
        try:
            cert = read("issuing.cert")
            self.assertEqual(add_certificate(empty, cert, len(cert)), S["UNKNOWN_KEY_ID"])
        finally:
            store_free(empty)


class KeyWindow(unittest.TestCase):
    def test_a_license_outside_the_key_window_is_22(self):
        # The fixtures are issued a day before NOW.
        for window, want in [
            ((NOW - 2 * DAY, NOW), "OK"),
            ((NO_NOT_BEFORE, NO_NOT_AFTER), "OK"),
            ((NOW - 3 * DAY, NOW - 2 * DAY), "KEY_OUT_OF_VALIDITY"),
            ((NOW - DAY + 1, NO_NOT_AFTER), "KEY_OUT_OF_VALIDITY"),
            ((NO_NOT_BEFORE, NOW - DAY), "KEY_OUT_OF_VALIDITY"),
        ]:
            for raw in (False, True):
                s = store_new()
                try:
                    if raw:
                        self.assertEqual(add_key_v(s, ROOT_RAW, *window), S["OK"])
                    else:
                        self.assertEqual(add_key_file_v(s, ROOT_PUB, len(ROOT_PUB), *window), S["OK"])
                    self.assertEqual(check(s, "revoked.lic")[0], S[want], (window, raw))
                finally:
                    store_free(s)
        self.assertEqual(S["KEY_OUT_OF_VALIDITY"], 22)

    def test_misuse(self):
        s = store_new()
        try:
            self.assertEqual(add_key_v(None, ROOT_RAW, 0, 1), S["NULL_POINTER"])
            self.assertEqual(add_key_v(s, None, 0, 1), S["NULL_POINTER"])
            self.assertEqual(add_key_v(s, bytes(32), 0, 1), S["INVALID_PUBLIC_KEY"])
            self.assertEqual(add_key_file_v(None, ROOT_PUB, len(ROOT_PUB), 0, 1), S["NULL_POINTER"])
            self.assertEqual(add_key_file_v(s, None, 0, 0, 1), S["NULL_POINTER"])
            self.assertEqual(add_key_file_v(s, ROOT_PUB, (1 << 16) + 1, 0, 1), S["TOO_LARGE"])
            self.assertEqual(add_key_file_v(s, b"not a key", 9, 0, 1), S["MALFORMED"])
        finally:
            store_free(s)


class ClockGuard(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "guard.state").encode()
        self.store = new_store()
        self.binding = PRODUCT + COMPONENTS

    def tearDown(self):
        store_free(self.store)
        self.dir.cleanup()

    def open(self, secret=SECRET):
        g = P()
        st = guard_open(self.path, self.binding, len(self.binding), secret, C.byref(g))
        if st != S["OK"]:
            self.assertFalse(g)
        return st, g

    def license(self):
        lic = read("revoked.lic")
        out = P()
        self.assertEqual(verify_full(self.store, lic, len(lic), NOW, PRODUCT, None, 0, None, None, C.byref(out)), S["OK"])
        return out

    def test_a_rolled_back_clock_is_24_and_an_older_list_25(self):
        st, g = self.open()
        self.assertEqual(st, S["OK"])
        lic = self.license()
        mark = C.c_int64()
        self.assertFalse(guard_mark(g, C.byref(mark)))
        self.assertEqual(guard_observe(g, NOW + DAY, lic), S["OK"])
        self.assertTrue(guard_mark(g, C.byref(mark)))
        self.assertEqual(mark.value, NOW + DAY)
        self.assertEqual(guard_observe(g, NOW, lic), S["CLOCK_ROLLED_BACK"])
        self.assertEqual(S["CLOCK_ROLLED_BACK"], 24)
        _, new = load_list(self.store, "revocations-5.lst")
        _, old = load_list(self.store, "revocations-3.lst")
        self.assertEqual(guard_accept(g, new), S["OK"])
        self.assertEqual(guard_seq(g), 5)
        self.assertEqual(guard_accept(g, old), S["STALE_REVOCATION_LIST"])
        guard_free(g)
        # Saved: a reopened guard remembers both, and still refuses the rolled-back clock.
        st, g = self.open()
        self.assertEqual(st, S["OK"])
        self.assertEqual(guard_seq(g), 5)
        self.assertEqual(guard_observe(g, NOW, lic), S["CLOCK_ROLLED_BACK"])
        self.assertEqual(guard_accept(g, old), S["STALE_REVOCATION_LIST"])
        guard_free(g)
        # Another secret (another device) cannot read it; nor can anyone forge it without one.
        self.assertEqual(self.open(bytes(32))[0], S["GUARD_STATE"])
        license_free(lic)
        rev_free(new)
        rev_free(old)

    def test_a_v1_state_file_is_refused(self):
        with open(self.path, "wb") as f:
            f.write(b"airseal-clock-v1" + bytes(40))
        self.assertEqual(self.open()[0], S["GUARD_STATE"])

    def test_misuse(self):
        g = P()
        b = self.binding
        self.assertEqual(guard_open(None, b, len(b), SECRET, C.byref(g)), S["NULL_POINTER"])
        self.assertEqual(guard_open(self.path, None, 0, SECRET, C.byref(g)), S["NULL_POINTER"])
        self.assertEqual(guard_open(self.path, b, len(b), None, C.byref(g)), S["NULL_POINTER"])
        self.assertEqual(guard_open(self.path, b, len(b), SECRET, None), S["NULL_POINTER"])
        self.assertEqual(guard_open(self.path, b, (1 << 16) + 1, SECRET, C.byref(g)), S["TOO_LARGE"])
        self.assertEqual(guard_open(b"\xff\xfe", b, len(b), SECRET, C.byref(g)), S["INVALID_UTF8"])
        st, g = self.open()
        lic = self.license()
        self.assertEqual(guard_observe(None, NOW, lic), S["NULL_POINTER"])
        self.assertEqual(guard_observe(g, NOW, None), S["NULL_POINTER"])
        self.assertEqual(guard_accept(None, None), S["NULL_POINTER"])
        self.assertEqual(guard_accept(g, None), S["NULL_POINTER"])
        self.assertFalse(guard_mark(None, None))
        self.assertFalse(guard_mark(g, None))
        self.assertEqual(guard_seq(None), 0)
        guard_free(None)
        guard_free(g)
        license_free(lic)


def folder(name):
    return os.path.join(FIXTURES, name).encode()


class DataFolder(unittest.TestCase):
    """A C app whose activation lives in a data folder (`airseal request --data-dir`)."""

    def test_the_device_key_comes_from_the_folder(self):
        key = C.create_string_buffer(32)
        self.assertEqual(device_public_key(folder("device"), key), S["OK"])
        s = new_store()
        try:
            self.assertEqual(check(s, "bound-to-folder.lic", machine=COMPONENTS, device=key.raw), (S["OK"], "BOUND2"))
            self.assertEqual(check(s, "bound-to-folder.lic", machine=COMPONENTS, device=DEVICE_A)[0], S["WRONG_DEVICE"])
            self.assertEqual(check(s, "bound.lic", machine=COMPONENTS, device=key.raw)[0], S["WRONG_DEVICE"])
        finally:
            store_free(s)
        untouched = C.create_string_buffer(b"\x55" * 32, 32)
        self.assertEqual(device_public_key(folder("device-empty"), untouched), S["NOT_ACTIVATED"])
        self.assertEqual(device_public_key(folder("device-damaged"), untouched), S["DEVICE_FOLDER"])
        self.assertEqual(untouched.raw, b"\x55" * 32)
        self.assertEqual(device_public_key(None, key), S["NULL_POINTER"])
        self.assertEqual(device_public_key(folder("device"), None), S["NULL_POINTER"])
        self.assertEqual((S["NOT_ACTIVATED"], S["DEVICE_FOLDER"]), (93, 94))

    def test_the_guard_secret_comes_from_the_folder(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "guard.state").encode()
            b = PRODUCT + COMPONENTS
            g = P()
            self.assertEqual(guard_open_device(path, b, len(b), folder("device"), C.byref(g)), S["OK"])
            s = new_store()
            lic = read("revoked.lic")
            out = P()
            self.assertEqual(verify_full(s, lic, len(lic), NOW, PRODUCT, None, 0, None, None, C.byref(out)), S["OK"])
            self.assertEqual(guard_observe(g, NOW + DAY, out), S["OK"])
            guard_free(g)
            g = P()
            self.assertEqual(guard_open_device(path, b, len(b), folder("device"), C.byref(g)), S["OK"])
            self.assertEqual(guard_observe(g, NOW, out), S["CLOCK_ROLLED_BACK"])
            guard_free(g)
            license_free(out)
            store_free(s)
            # The secret is not something the caller could have guessed: not the zero key,
            # not the device public key.
            key = C.create_string_buffer(32)
            device_public_key(folder("device"), key)
            for guess in (bytes(32), key.raw):
                g = P()
                self.assertEqual(guard_open(path, b, len(b), guess, C.byref(g)), S["GUARD_STATE"])
            g = P()
            self.assertEqual(guard_open_device(path, b, len(b), folder("device-empty"), C.byref(g)), S["NOT_ACTIVATED"])
            self.assertFalse(g)
            self.assertEqual(guard_open_device(path, b, len(b), folder("device-damaged"), C.byref(g)), S["DEVICE_FOLDER"])
            self.assertEqual(guard_open_device(path, b, len(b), None, C.byref(g)), S["NULL_POINTER"])
            self.assertEqual(guard_open_device(None, b, len(b), folder("device"), C.byref(g)), S["NULL_POINTER"])
            self.assertEqual(guard_open_device(path, b, len(b), folder("device"), None), S["NULL_POINTER"])


class VerifyFullMisuse(unittest.TestCase):
    def test_misuse(self):
        s = new_store()
        lic = read("bound.lic")
        out = P()
        try:
            self.assertEqual(verify_full(None, lic, len(lic), NOW, PRODUCT, None, 0, None, None, C.byref(out)), S["NULL_POINTER"])
            self.assertEqual(verify_full(s, None, 0, NOW, PRODUCT, None, 0, None, None, C.byref(out)), S["NULL_POINTER"])
            self.assertEqual(verify_full(s, lic, len(lic), NOW, None, None, 0, None, None, C.byref(out)), S["NULL_POINTER"])
            self.assertEqual(verify_full(s, lic, len(lic), NOW, PRODUCT, None, 0, DEVICE_A, None, None), S["NULL_POINTER"])
            self.assertEqual(verify_full(s, lic, len(lic), NOW, PRODUCT, None, 1, DEVICE_A, None, C.byref(out)), S["NULL_POINTER"])
            self.assertEqual(verify_full(s, lic, len(lic), NOW, PRODUCT, COMPONENTS, 1025, None, None, C.byref(out)), S["TOO_LARGE"])
            self.assertFalse(out)
            for code in (22, 23, 24, 25, 26, 27):
                self.assertTrue(error_message(code))
        finally:
            store_free(s)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
