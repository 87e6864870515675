/* test_helpers.c - see test_helpers.h. */
#include "test_helpers.h"

#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *th_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    size_t n = strlen(base) + 32;
    char *p = malloc(n);
    snprintf(p, n, "%s/ls_unit_XXXXXX", base);
    if (!mkdtemp(p)) {
        free(p);
        return NULL;
    }
    return p;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void th_rmrf(const char *dir)
{
    if (dir) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *th_write_script(const char *dir, const char *script)
{
    size_t dl = strlen(dir), cap = strlen(script) * (dl + 1) + 1, n = 0;
    char *text = malloc(cap);
    for (const char *p = script; *p;) {
        if (strncmp(p, "DIR", 3) == 0) {
            memcpy(text + n, dir, dl);
            n += dl;
            p += 3;
        } else {
            text[n++] = *p++;
        }
    }
    char *path = th_write_file(dir, "job.lua", text, n);
    free(text);
    return path;
}

char *th_write_file(const char *dir, const char *name, const char *content, size_t n)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(content, 1, n, f);
        fclose(f);
    }
    return path;
}

char *th_read_stream(FILE *f, size_t *n)
{
    fflush(f);
    rewind(f);
    size_t cap = 4096, len = 0;
    char *p = malloc(cap);
    size_t got;
    while ((got = fread(p + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) {
            cap *= 2;
            p = realloc(p, cap);
        }
    }
    p[len] = '\0';
    if (n) *n = len;
    return p;
}

char *th_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *p = th_read_stream(f, n);
    fclose(f);
    return p;
}

int th_count(const char *hay, const char *needle)
{
    int c = 0;
    size_t nl = strlen(needle);
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += nl) c++;
    return c;
}

int th_lines(char *text, char **lines, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    return n;
}

int th_set_lua_path(void)
{
    char path[PATH_MAX];
    if (realpath("lua/luastream.lua", path)) {
        path[strlen(path) - strlen("/luastream.lua")] = '\0';
        setenv("LUASTREAM_LUA_PATH", path, 1);
        return 0;
    }
    /* run from elsewhere: the binary is build/unit_tests or build/asan/unit_tests */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    static const char *const up[] = { "/../lua", "/../../lua" };
    for (int i = 0; i < 2; i++) {
        char cand[2 * PATH_MAX];
        snprintf(cand, sizeof cand, "%s%s/luastream.lua", exe, up[i]);
        if (realpath(cand, path)) {
            path[strlen(path) - strlen("/luastream.lua")] = '\0';
            setenv("LUASTREAM_LUA_PATH", path, 1);
            return 0;
        }
    }
    return -1;
}
