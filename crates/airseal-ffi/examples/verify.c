/*
 * Verifies a license file for the product "photo-pro" with the airseal C ABI.
 *
 *   verify LICENSE_FILE PUBLIC_KEY_FILE NOW [OPTIONS]
 *
 *   --not-before T, --not-after T  trust the key only for licenses issued in [T, T')
 *   --machine HEX                  a fingerprint component hash (16 hex digits); repeatable
 *   --device-key FILE              this machine's device public key (32 raw bytes)
 *   --device-dir DIR               the app's data folder (`airseal request --data-dir`):
 *                                  its device key, and the clock guard's secret with
 *                                  --guard-device
 *   --revocations FILE             a revocation list, verified through the trust store
 *   --certificate FILE             trust an issuing-key certificate the root signed (licenses
 *                                  signed by an issuing key carry theirs and need none)
 *   --guard STATE_FILE SECRET_FILE the clock guard: its state file and 32-byte secret
 *   --guard-device STATE_FILE      the clock guard, its secret from --device-dir's key
 *
 * NOW is the time in seconds since 1970 (an app would pass time(NULL)). Prints the license
 * id, its expiry and whether feature F1 is enabled, and exits with the status code: 0 when
 * the license is valid, else the code of the check that failed (10-36, the same numbers as
 * `airseal verify`), 2 for bad arguments and 3 for an unreadable file.
 *
 * Build (after `cargo build -p airseal-ffi`, from the repository root):
 *   cc -std=c99 -Icrates/airseal-ffi/include crates/airseal-ffi/examples/verify.c \
 *      -Ltarget/debug -lairseal -Wl,-rpath,"$PWD/target/debug" -o verify
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airseal.h"

#define MAX_COMPONENTS 16

/* Reads a whole file of at most `max` bytes into a new buffer; NULL if it cannot be read or
 * is larger. */
static uint8_t *read_file(const char *path, size_t max, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = max + 1;
    uint8_t *buf = malloc(cap);
    size_t n = buf == NULL ? 0 : fread(buf, 1, cap, f);
    int failed = buf == NULL || ferror(f) || n == cap;
    fclose(f);
    if (failed) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Reads a file that must hold exactly `want` bytes into `out`; 0 on success. */
static int read_exact(const char *path, uint8_t *out, size_t want) {
    size_t len = 0;
    uint8_t *buf = read_file(path, want, &len);
    int ok = buf != NULL && len == want;
    if (ok) {
        memcpy(out, buf, want);
    }
    free(buf);
    return ok ? 0 : -1;
}

static int parse_time(const char *s, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long t = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return -1;
    }
    *out = (int64_t)t;
    return 0;
}

/* 16 hex digits -> 8 bytes; 0 on success. */
static int parse_component(const char *hex, uint8_t out[AIRSEAL_COMPONENT_LEN]) {
    if (strlen(hex) != 2 * AIRSEAL_COMPONENT_LEN) {
        return -1;
    }
    for (size_t i = 0; i < AIRSEAL_COMPONENT_LEN; i++) {
        unsigned int byte = 0;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1) {
            return -1;
        }
        out[i] = (uint8_t)byte;
    }
    return 0;
}

/* What the command line asked for. */
struct options {
    int64_t not_before, not_after;
    uint8_t components[MAX_COMPONENTS * AIRSEAL_COMPONENT_LEN];
    size_t n_components;
    int has_device_key;
    uint8_t device_key[AIRSEAL_PUBLIC_KEY_LEN];
    const char *revocations, *certificate, *guard_state, *guard_secret, *device_dir;
};

/* Parses argv[4..]; 0 on success, 2 for a bad argument, 3 for an unreadable file. */
static int parse_options(int argc, char **argv, struct options *o) {
    o->not_before = AIRSEAL_NO_NOT_BEFORE;
    o->not_after = AIRSEAL_NO_NOT_AFTER;
    for (int i = 4; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--not-before") == 0 && has_value) {
            if (parse_time(argv[++i], &o->not_before) != 0) return 2;
        } else if (strcmp(a, "--not-after") == 0 && has_value) {
            if (parse_time(argv[++i], &o->not_after) != 0) return 2;
        } else if (strcmp(a, "--machine") == 0 && has_value) {
            if (o->n_components == MAX_COMPONENTS) return 2;
            uint8_t *c = o->components + o->n_components * AIRSEAL_COMPONENT_LEN;
            if (parse_component(argv[++i], c) != 0) return 2;
            o->n_components++;
        } else if (strcmp(a, "--device-key") == 0 && has_value) {
            if (read_exact(argv[++i], o->device_key, AIRSEAL_PUBLIC_KEY_LEN) != 0) {
                fprintf(stderr, "cannot read a 32-byte device key from %s\n", argv[i]);
                return 3;
            }
            o->has_device_key = 1;
        } else if (strcmp(a, "--device-dir") == 0 && has_value) {
            o->device_dir = argv[++i];
        } else if (strcmp(a, "--guard-device") == 0 && has_value) {
            o->guard_state = argv[++i];
        } else if (strcmp(a, "--revocations") == 0 && has_value) {
            o->revocations = argv[++i];
        } else if (strcmp(a, "--certificate") == 0 && has_value) {
            o->certificate = argv[++i];
        } else if (strcmp(a, "--guard") == 0 && i + 2 < argc) {
            o->guard_state = argv[++i];
            o->guard_secret = argv[++i];
        } else {
            fprintf(stderr, "unknown or incomplete option %s\n", a);
            return 2;
        }
    }
    return 0;
}

/* Prints why a step failed and returns its status, for main to exit with. */
static int refused(const char *what, int32_t status) {
    fprintf(stderr, "%s refused (%d): %s\n", what, (int)status, airseal_error_message(status));
    return (int)status;
}

/* Verifies with everything the options ask for; returns the exit code. Frees nothing of
 * the caller's; every handle it makes is freed before it returns. */
static int run(const uint8_t *license, size_t license_len, const uint8_t *key, size_t key_len,
               int64_t now, struct options *o) {
    int code = 0;
    int32_t status;
    AirsealRevocationList *list = NULL;
    AirsealClockGuard *guard = NULL;
    AirsealLicense *lic = NULL;

    AirsealTrustStore *store = airseal_trust_store_new();
    if (o->not_before == AIRSEAL_NO_NOT_BEFORE && o->not_after == AIRSEAL_NO_NOT_AFTER) {
        status = airseal_trust_store_add_key_file(store, key, key_len);
    } else {
        status = airseal_trust_store_add_key_file_with_validity(store, key, key_len,
                                                                o->not_before, o->not_after);
    }
    if (status != AIRSEAL_STATUS_OK) {
        code = refused("public key", status);
        goto done;
    }

    if (o->certificate != NULL) {
        size_t len = 0;
        uint8_t *bytes = read_file(o->certificate, AIRSEAL_MAX_LICENSE_LEN, &len);
        if (bytes == NULL) {
            fprintf(stderr, "cannot read %s\n", o->certificate);
            code = 3;
            goto done;
        }
        status = airseal_trust_store_add_certificate(store, bytes, len);
        free(bytes);
        if (status != AIRSEAL_STATUS_OK) {
            code = refused("certificate", status);
            goto done;
        }
    }

    if (o->revocations != NULL) {
        size_t len = 0;
        uint8_t *bytes = read_file(o->revocations, AIRSEAL_MAX_REVOCATION_LIST_LEN, &len);
        if (bytes == NULL) {
            fprintf(stderr, "cannot read %s\n", o->revocations);
            code = 3;
            goto done;
        }
        status = airseal_revocations_verify(store, bytes, len, &list);
        free(bytes);
        if (status != AIRSEAL_STATUS_OK) {
            code = refused("revocation list", status);
            goto done;
        }
    }

    if (o->device_dir != NULL) {
        /* The key this machine activated with, from its data folder. */
        status = airseal_device_public_key(o->device_dir, o->device_key);
        if (status != AIRSEAL_STATUS_OK) {
            code = refused("data folder", status);
            goto done;
        }
        o->has_device_key = 1;
    }

    if (o->guard_state != NULL) {
        /* The binding: the product and the machine's components (public values; the
         * secret is what keeps the state file from being forged). */
        uint8_t binding[sizeof "photo-pro" + sizeof o->components];
        memcpy(binding, "photo-pro", sizeof "photo-pro");
        memcpy(binding + sizeof "photo-pro", o->components,
               o->n_components * AIRSEAL_COMPONENT_LEN);
        size_t binding_len = sizeof "photo-pro" + o->n_components * AIRSEAL_COMPONENT_LEN;
        if (o->guard_secret == NULL) {
            /* The secret is derived from the data folder's device key, inside the library. */
            status = airseal_clock_guard_open_device(o->guard_state, binding, binding_len,
                                                     o->device_dir, &guard);
        } else {
            uint8_t secret[AIRSEAL_GUARD_SECRET_LEN];
            if (read_exact(o->guard_secret, secret, sizeof secret) != 0) {
                fprintf(stderr, "cannot read a 32-byte secret from %s\n", o->guard_secret);
                code = 3;
                goto done;
            }
            status =
                airseal_clock_guard_open(o->guard_state, binding, binding_len, secret, &guard);
            memset(secret, 0, sizeof secret);
        }
        if (status != AIRSEAL_STATUS_OK) {
            code = refused("clock guard", status);
            goto done;
        }
        /* An older list than one seen before is refused: it may be restored to un-revoke. */
        if (list != NULL && (status = airseal_clock_guard_accept_revocations(guard, list)) !=
                                AIRSEAL_STATUS_OK) {
            code = refused("revocation list", status);
            goto done;
        }
    }

    status = airseal_verify_full(store, license, license_len, now, "photo-pro",
                                 o->n_components > 0 ? o->components : NULL, o->n_components,
                                 o->has_device_key ? o->device_key : NULL, list, &lic);
    if (status != AIRSEAL_STATUS_OK) {
        code = refused("license", status);
        goto done;
    }
    if (guard != NULL && (status = airseal_clock_guard_observe(guard, now, lic)) !=
                             AIRSEAL_STATUS_OK) {
        code = refused("license", status);
        goto done;
    }

    /* The string convention: ask for the size, allocate, copy. */
    size_t id_len = airseal_license_id(lic, NULL, 0);
    char *id = malloc(id_len);
    if (id != NULL && airseal_license_id(lic, id, id_len) == id_len) {
        printf("license id: %s\n", id);
    }
    free(id);

    static const char *const kinds[] = {"perpetual", "subscription", "trial"};
    AirsealLicenseKind kind = airseal_license_kind(lic);
    if (kind >= AIRSEAL_LICENSE_KIND_PERPETUAL && kind <= AIRSEAL_LICENSE_KIND_TRIAL) {
        printf("kind: %s\n", kinds[kind]);
    }

    int64_t expires = 0;
    if (airseal_license_expires_at(lic, &expires)) {
        printf("expires: %" PRId64 "%s\n", expires,
               airseal_license_in_grace(lic) ? " (in grace period)" : "");
    } else {
        printf("expires: never\n");
    }
    printf("F1: %s\n", airseal_license_feature_enabled(lic, "F1", now) ? "enabled" : "disabled");
    uint8_t root[AIRSEAL_KEY_ID_LEN];
    uint64_t serial = 0;
    if (airseal_license_issuer(lic, root, &serial)) {
        /* Signed by an issuing key the root certified (the license carries the certificate). */
        printf("issuing key certificate: serial %" PRIu64 ", root ", serial);
        for (size_t i = 0; i < sizeof root; i++) {
            printf("%02x", root[i]);
        }
        printf("\n");
    }
    if (list != NULL) {
        printf("revocation list: seq %" PRIu64 "\n", airseal_revocations_seq(list));
    }
    int64_t mark = 0;
    if (guard != NULL && airseal_clock_guard_high_water_mark(guard, &mark)) {
        printf("clock guard: mark %" PRId64 ", list seq %" PRIu64 "\n", mark,
               airseal_clock_guard_revocations_seq(guard));
    }

done:
    airseal_license_free(lic);
    airseal_clock_guard_free(guard);
    airseal_revocations_free(list);
    airseal_trust_store_free(store);
    return code;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s LICENSE_FILE PUBLIC_KEY_FILE NOW [OPTIONS]\n", argv[0]);
        return 2;
    }
    int64_t now = 0;
    if (parse_time(argv[3], &now) != 0) {
        fprintf(stderr, "NOW must be seconds since 1970, not %s\n", argv[3]);
        return 2;
    }
    static struct options opts;
    int code = parse_options(argc, argv, &opts);
    if (code != 0) {
        return code;
    }

    size_t license_len = 0, key_len = 0;
    uint8_t *license = read_file(argv[1], AIRSEAL_MAX_LICENSE_LEN, &license_len);
    uint8_t *key = read_file(argv[2], AIRSEAL_MAX_TEXT_LEN, &key_len);
    if (license == NULL || key == NULL) {
        fprintf(stderr, "cannot read %s\n", license == NULL ? argv[1] : argv[2]);
        free(license);
        free(key);
        return 3;
    }
    code = run(license, license_len, key, key_len, now, &opts);
    free(license);
    free(key);
    return code;
}
