/*
 * Verifies a license file for the product "photo-pro" with the airseal C ABI.
 *
 *   verify LICENSE_FILE PUBLIC_KEY_FILE NOW
 *
 * NOW is the time in seconds since 1970 (an app would pass time(NULL)). Prints the license
 * id, its expiry and whether feature F1 is enabled, and exits with the status code: 0 when
 * the license is valid, else the code of the check that failed (10-28, the same numbers as
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

#include "airseal.h"

/* Reads a whole file into a new buffer; NULL if it cannot be read or is too large. */
static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = AIRSEAL_MAX_LICENSE_LEN + 1;
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

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s LICENSE_FILE PUBLIC_KEY_FILE NOW\n", argv[0]);
        return 2;
    }
    char *end = NULL;
    errno = 0;
    long long now = strtoll(argv[3], &end, 10);
    if (errno != 0 || end == argv[3] || *end != '\0') {
        fprintf(stderr, "NOW must be seconds since 1970, not %s\n", argv[3]);
        return 2;
    }

    size_t license_len = 0, key_len = 0;
    uint8_t *license = read_file(argv[1], &license_len);
    uint8_t *key = read_file(argv[2], &key_len);
    if (license == NULL || key == NULL) {
        fprintf(stderr, "cannot read %s\n", license == NULL ? argv[1] : argv[2]);
        free(license);
        free(key);
        return 3;
    }

    AirsealTrustStore *store = airseal_trust_store_new();
    int32_t status = airseal_trust_store_add_key_file(store, key, key_len);
    AirsealLicense *lic = NULL;
    if (status == AIRSEAL_STATUS_OK) {
        status = airseal_verify(store, license, license_len, (int64_t)now, "photo-pro", NULL, 0,
                                &lic);
    }
    free(license);
    free(key);

    if (status != AIRSEAL_STATUS_OK) {
        fprintf(stderr, "license refused (%d): %s\n", (int)status, airseal_error_message(status));
        airseal_trust_store_free(store);
        return (int)status;
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
    printf("F1: %s\n", airseal_license_feature_enabled(lic, "F1", (int64_t)now) ? "enabled"
                                                                                : "disabled");

    airseal_license_free(lic);
    airseal_trust_store_free(store);
    return 0;
}
