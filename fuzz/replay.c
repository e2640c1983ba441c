/*
 * replay.c — the replay driver every fuzz target is also linked with (zstd's
 * regression_driver.c): runs LLVMFuzzerTestOneInput once on each file named on the command
 * line, and on each regular file of each directory named (sorted by name, not recursive).
 * Built by any C compiler, without libFuzzer, so ctest replays the saved corpora in
 * fuzz/corpus/<target>/ on every build (and under ASan/UBSan with `make test-asan`).
 * A property violation in the target aborts; exit status 1 when no input was found.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *d = malloc(cap);
    for (;;) {
        if (!d) {
            fclose(f);
            fprintf(stderr, "%s: out of memory\n", path);
            return -1;
        }
        n += fread(d + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *bigger = realloc(d, cap *= 2);
        if (!bigger)
            free(d);
        d = bigger;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        fprintf(stderr, "%s: read error\n", path);
        free(d);
        return -1;
    }
    /* an exact-size copy: ASan then reports any read past the input's end */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(d);
        return -1;
    }
    memcpy(exact, d, n);
    free(d);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    long inputs = 0, errors = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            errors++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            errors += run_file(argv[i]) != 0;
            inputs++;
            continue;
        }
        DIR *dir = opendir(argv[i]);
        if (!dir) {
            perror(argv[i]);
            errors++;
            continue;
        }
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            if (n == cap) {
                char **bigger = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
                if (!bigger)
                    abort();
                names = bigger;
            }
            size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
            if (!(names[n] = malloc(len)))
                abort();
            snprintf(names[n++], len, "%s/%s", argv[i], e->d_name);
        }
        closedir(dir);
        qsort(names, n, sizeof *names, by_name);
        for (size_t k = 0; k < n; k++) {
            if (stat(names[k], &st) == 0 && S_ISREG(st.st_mode)) {
                errors += run_file(names[k]) != 0;
                inputs++;
            }
            free(names[k]);
        }
        free(names);
    }
    printf("replayed %ld inputs, %ld unreadable\n", inputs, errors);
    return inputs == 0 || errors ? 1 : 0;
}
