/* replay.c - runs a libFuzzer harness over corpus files, without libFuzzer (ctest replays). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Inputs larger than this are not corpus material. */
#define REPLAY_MAX_INPUT (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Runs the harness on the file at path, given in an exact-size buffer so a
 * read past the input trips AddressSanitizer. Returns 0 or -1. */
static int replay_file(const char *path, size_t size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = malloc(size ? size : 1);
    size_t n = 0;

    if (!f || !data || size > REPLAY_MAX_INPUT) {
        fprintf(stderr, "replay: cannot read %s: %s\n", path, f ? "too large" : strerror(errno));
        if (f)
            fclose(f);
        free(data);
        return -1;
    }
    n = fread(data, 1, size, f);
    fclose(f);
    if (n != size) {
        fprintf(stderr, "replay: short read of %s\n", path);
        free(data);
        return -1;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

/* Replays path (a file, or every file of a directory in name order).
 * Returns the inputs run, or -1 on an unreadable one. */
static long replay_path(const char *path)
{
    struct dirent **names;
    struct stat st;
    long count = 0;
    int n;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path, (size_t)st.st_size) < 0 ? -1 : 1;
    n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char file[4096];

        if (names[i]->d_name[0] != '.' && count >= 0 &&
            snprintf(file, sizeof file, "%s/%s", path, names[i]->d_name) < (int)sizeof file &&
            stat(file, &st) == 0 && S_ISREG(st.st_mode))
            count = replay_file(file, (size_t)st.st_size) < 0 ? -1 : count + 1;
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    long total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        long n = replay_path(argv[i]);

        if (n < 0)
            return 1;
        total += n;
    }
    printf("replay: %ld inputs, no crash\n", total);
    /* An empty corpus replays nothing: that is a broken setup, not a pass. */
    return total > 0 ? 0 : 1;
}
