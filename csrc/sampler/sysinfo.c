/* SPDX-License-Identifier: MIT */
/* sysinfo.c: host facts for resmon-sampler: topology, PSI, load, kernel OOM messages. */
#include "sampler.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dlfcn.h>
#include <fcntl.h>

/* hwloc 2.x's ABI (libhwloc.so.15) as its documentation defines it: the
 * object types and filter values the sampler asks for. They are declared
 * here, with the functions called through dlsym, so that hwloc is needed
 * neither to build nor to start the sampler; the build checks them against
 * hwloc.h where that is installed (RM_CHECK_HWLOC_ABI). */
enum {
    RM_HWLOC_OBJ_PACKAGE = 1,
    RM_HWLOC_OBJ_CORE = 2,
    RM_HWLOC_OBJ_PU = 3,
    RM_HWLOC_OBJ_NUMANODE = 13,
    RM_HWLOC_FILTER_KEEP_ALL = 0,
    RM_HWLOC_FILTER_KEEP_NONE = 1,
    RM_HWLOC_DEPTH_UNKNOWN = -1,
    RM_HWLOC_DEPTH_MULTIPLE = -2,
    RM_HWLOC_API_MAJOR = 2,
};

#ifdef RM_CHECK_HWLOC_ABI
#include <hwloc.h>
_Static_assert((int)RM_HWLOC_OBJ_PACKAGE == (int)HWLOC_OBJ_PACKAGE, "hwloc ABI");
_Static_assert((int)RM_HWLOC_OBJ_CORE == (int)HWLOC_OBJ_CORE, "hwloc ABI");
_Static_assert((int)RM_HWLOC_OBJ_PU == (int)HWLOC_OBJ_PU, "hwloc ABI");
_Static_assert((int)RM_HWLOC_OBJ_NUMANODE == (int)HWLOC_OBJ_NUMANODE, "hwloc ABI");
_Static_assert((int)RM_HWLOC_FILTER_KEEP_ALL == (int)HWLOC_TYPE_FILTER_KEEP_ALL, "hwloc ABI");
_Static_assert((int)RM_HWLOC_FILTER_KEEP_NONE == (int)HWLOC_TYPE_FILTER_KEEP_NONE, "hwloc ABI");
_Static_assert((int)RM_HWLOC_DEPTH_UNKNOWN == (int)HWLOC_TYPE_DEPTH_UNKNOWN, "hwloc ABI");
_Static_assert((int)RM_HWLOC_DEPTH_MULTIPLE == (int)HWLOC_TYPE_DEPTH_MULTIPLE, "hwloc ABI");
_Static_assert((int)RM_HWLOC_API_MAJOR == (int)HWLOC_API_VERSION >> 16, "hwloc ABI");
#endif

/* Most CPUs the sysfs topology reader looks at: far above any CI runner. */
#define RM_TOPO_CPUS 4096

/* Parses "key=<int>[.<frac>]" as hundredths; returns 0 when absent. */
static int hundredths_after(const char *s, const char *key, unsigned *out)
{
    const char *p = strstr(s, key);
    unsigned long v = 0;
    if (!p)
        return 0;
    p += strlen(key);
    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9' && v < 100000000ul)
        v = v * 10 + (unsigned long)(*p++ - '0');
    v *= 100;
    if (*p == '.') {
        p++;
        if (*p >= '0' && *p <= '9') {
            v += (unsigned long)(*p++ - '0') * 10;
        }
        if (*p >= '0' && *p <= '9')
            v += (unsigned long)(*p - '0');
    }
    *out = (unsigned)v;
    return 1;
}

static int u64_after(const char *s, const char *key, uint64_t *out)
{
    const char *p = strstr(s, key);
    uint64_t v = 0;
    if (!p)
        return 0;
    p += strlen(key);
    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9' && v < (UINT64_MAX / 10 - 9))
        v = v * 10 + (uint64_t)(*p++ - '0');
    *out = v;
    return 1;
}

int rm_psi_parse(const char *buf, rm_psi *psi)
{
    const char *full = strstr(buf, "full ");
    const char *some = strstr(buf, "some ");
    memset(psi, 0, sizeof(*psi));
    if (!some || !hundredths_after(some, "avg10=", &psi->some10) ||
        !u64_after(some, "total=", &psi->some_total))
        return -1;
    if (full) {
        hundredths_after(full, "avg10=", &psi->full10);
        u64_after(full, "total=", &psi->full_total);
    }
    return 0;
}

int rm_load_parse(const char *buf, rm_load *load)
{
    /* "0.30 0.14 0.06 2/85 5975" */
    const char *p = buf;
    unsigned *dst[3] = {&load->l1, &load->l5, &load->l15};
    int i;
    memset(load, 0, sizeof(*load));
    for (i = 0; i < 3; i++) {
        while (*p == ' ')
            p++;
        if (*p < '0' || *p > '9')
            return -1;
        {
            unsigned long v = 0;
            while (*p >= '0' && *p <= '9' && v < 100000000ul)
                v = v * 10 + (unsigned long)(*p++ - '0');
            v *= 100;
            if (*p == '.') {
                p++;
                if (*p >= '0' && *p <= '9')
                    v += (unsigned long)(*p++ - '0') * 10;
                if (*p >= '0' && *p <= '9')
                    v += (unsigned long)(*p++ - '0');
            }
            *dst[i] = (unsigned)v;
        }
        while (*p && *p != ' ')
            p++;
    }
    p = strchr(p, '/');
    if (p) {
        unsigned long v = 0;
        for (p++; *p >= '0' && *p <= '9' && v < 100000000ul; p++)
            v = v * 10 + (unsigned long)(*p - '0');
        load->tasks = (unsigned)v;
    }
    return 0;
}

/* Parses the decimal at rec[*j] (bounded by len) into *out; stops taking
 * digits past max so that no input overflows. Returns 0 without a digit. */
static int kmsg_u64(const char *rec, size_t len, size_t *j, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = *j;
    if (i >= len || rec[i] < '0' || rec[i] > '9')
        return 0;
    while (i < len && rec[i] >= '0' && rec[i] <= '9') {
        if (v > (max - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(rec[i++] - '0');
    }
    *j = i;
    *out = v;
    return 1;
}

int rm_kmsg_parse_oom(const char *rec, size_t len, rm_kmsg_oom *out)
{
    /* "6,1234,5678,-;Memory cgroup out of memory: Killed process 123 (python3)
     * total-vm:1000kB, anon-rss:900kB, ..." and "Out of memory: Killed process
     * ..." (older kernels: "Kill process"). The record may hold no NUL: every
     * read is bounded by len. The text ends at the first newline (continuation
     * lines " KEY=value" follow it). */
    static const char *const keys[] = {"Killed process ", "Kill process "};
    const char *semi = memchr(rec, ';', len);
    size_t text = 0, end = len, k, i;
    memset(out, 0, sizeof(*out));
    if (semi) {
        /* header "pri,seq,usec,flags": the third field is the time stamp */
        size_t hlen = (size_t)(semi - rec), commas = 0, j;
        for (j = 0; j < hlen && commas < 2; j++)
            if (rec[j] == ',')
                commas++;
        if (commas == 2 && kmsg_u64(rec, hlen, &j, UINT64_MAX, &out->ts_usec) &&
            (j == hlen || rec[j] == ','))
            out->have_ts = 1;
        text = hlen + 1;
    }
    {
        const char *nl = memchr(rec + text, '\n', len - text);
        if (nl)
            end = (size_t)(nl - rec);
    }
    for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        size_t kl = strlen(keys[k]);
        for (i = text; i + kl < end; i++) {
            uint64_t v;
            size_t j = i + kl, c = 0;
            if (memcmp(rec + i, keys[k], kl) != 0)
                continue;
            if (!kmsg_u64(rec, end, &j, 0x7fffffff, &v) || v == 0)
                continue;
            out->pid = (int)v;
            if (j + 1 < end && rec[j] == ' ' && rec[j + 1] == '(') {
                for (j += 2; j < end && rec[j] != ')' && c + 1 < sizeof(out->comm); j++)
                    out->comm[c++] = rec[j];
                out->comm[c] = '\0';
            }
            /* "anon-rss:900kB" after the name */
            for (; j + 9 < end; j++) {
                size_t d = j + 9;
                if (memcmp(rec + j, "anon-rss:", 9) != 0)
                    continue;
                if (kmsg_u64(rec, end, &d, UINT64_MAX / 1024, &v) && d + 1 < end && rec[d] == 'k' &&
                    rec[d + 1] == 'B') {
                    out->anon_rss = v * 1024;
                    out->have_anon_rss = 1;
                }
                break;
            }
            return 1;
        }
    }
    return 0;
}

static int affinity_count(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return -1;
    return CPU_COUNT(&set);
}

/* The hwloc functions the topology child calls (hwloc_topology_t is a
 * pointer; object types and filters are ints in the ABI). */
typedef struct hwloc_api {
    unsigned (*get_api_version)(void);
    int (*init)(void **topo);
    int (*set_all_types_filter)(void *topo, int filter);
    int (*set_type_filter)(void *topo, int type, int filter);
    int (*load)(void *topo);
    void (*destroy)(void *topo);
    const void *(*get_allowed_cpuset)(void *topo);
    int (*bitmap_list_asprintf)(char **out, const void *bitmap);
    int (*bitmap_weight)(const void *bitmap);
    int (*get_type_depth)(void *topo, int type);
    unsigned (*get_nbobjs_by_depth)(void *topo, int depth);
} hwloc_api;

/* hwloc's hwloc_get_nbobjs_by_type (an inline function in its header). */
static int hwloc_count(const hwloc_api *h, void *topo, int type)
{
    int depth = h->get_type_depth(topo, type);
    if (depth == RM_HWLOC_DEPTH_UNKNOWN)
        return 0;
    if (depth == RM_HWLOC_DEPTH_MULTIPLE)
        return -1;
    return (int)h->get_nbobjs_by_depth(topo, depth);
}

/* Exit codes of the topology child besides 0 and 1 (failed). */
enum { HWLOC_CHILD_NOT_FOUND = 3, HWLOC_CHILD_WRONG_API = 4 };

/* Runs in the short-lived child: loads hwloc and the topology and writes
 * the counts as one text line to fd. */
static void hwloc_child(int fd)
{
    hwloc_api h;
    void *dl = dlopen(RM_HWLOC_SONAME, RTLD_NOW | RTLD_LOCAL), *topo = NULL;
    const void *allowed;
    char line[160], *list = NULL;
    int n;
    if (!dl)
        _exit(HWLOC_CHILD_NOT_FOUND);
    void *sym;
    /* dlsym gives a data pointer: POSIX guarantees that it converts to a
     * function pointer; memcpy says so without a cast */
#define RM_SYM(field, name)                                                                        \
    (sym = dlsym(dl, name), memcpy(&h.field, &sym, sizeof(h.field)), h.field != NULL)
    if (!RM_SYM(get_api_version, "hwloc_get_api_version") || !RM_SYM(init, "hwloc_topology_init") ||
        !RM_SYM(set_all_types_filter, "hwloc_topology_set_all_types_filter") ||
        !RM_SYM(set_type_filter, "hwloc_topology_set_type_filter") ||
        !RM_SYM(load, "hwloc_topology_load") || !RM_SYM(destroy, "hwloc_topology_destroy") ||
        !RM_SYM(get_allowed_cpuset, "hwloc_topology_get_allowed_cpuset") ||
        !RM_SYM(bitmap_list_asprintf, "hwloc_bitmap_list_asprintf") ||
        !RM_SYM(bitmap_weight, "hwloc_bitmap_weight") ||
        !RM_SYM(get_type_depth, "hwloc_get_type_depth") ||
        !RM_SYM(get_nbobjs_by_depth, "hwloc_get_nbobjs_by_depth"))
        _exit(HWLOC_CHILD_NOT_FOUND);
#undef RM_SYM
    if (h.get_api_version() >> 16 != RM_HWLOC_API_MAJOR)
        _exit(HWLOC_CHILD_WRONG_API);
    if (h.init(&topo) != 0)
        _exit(1);
    /* Caches and groups are not reported: skipping them saves time. */
    h.set_all_types_filter(topo, RM_HWLOC_FILTER_KEEP_NONE);
    h.set_type_filter(topo, RM_HWLOC_OBJ_PACKAGE, RM_HWLOC_FILTER_KEEP_ALL);
    h.set_type_filter(topo, RM_HWLOC_OBJ_CORE, RM_HWLOC_FILTER_KEEP_ALL);
    if (h.load(topo) != 0)
        _exit(1);
    allowed = h.get_allowed_cpuset(topo);
    if (!allowed || h.bitmap_list_asprintf(&list, allowed) < 0)
        list = NULL;
    n = snprintf(line, sizeof(line), "%d %d %d %d %d %.60s\n",
                 hwloc_count(&h, topo, RM_HWLOC_OBJ_PACKAGE),
                 hwloc_count(&h, topo, RM_HWLOC_OBJ_CORE), hwloc_count(&h, topo, RM_HWLOC_OBJ_PU),
                 hwloc_count(&h, topo, RM_HWLOC_OBJ_NUMANODE),
                 allowed ? h.bitmap_weight(allowed) : -1, list ? list : "-");
    free(list);
    h.destroy(topo);
    if (n > 0 && (size_t)n < sizeof(line) && write(fd, line, (size_t)n) == n)
        _exit(0);
    _exit(1);
}

static int topo_hwloc(rm_topo *topo)
{
    int fds[2], status = 0;
    pid_t pid;
    char buf[160];
    ssize_t len = 0, r;
    if (pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        hwloc_child(fds[1]);
    }
    close(fds[1]);
    while ((size_t)len < sizeof(buf) - 1) {
        r = read(fds[0], buf + len, sizeof(buf) - 1 - (size_t)len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += r;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    buf[len] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        sscanf(buf, "%d %d %d %d %d %63s", &topo->packages, &topo->cores, &topo->pus, &topo->numa,
               &topo->cpus_allowed, topo->cpuset) != 6)
        return -1;
    if (strcmp(topo->cpuset, "-") == 0)
        topo->cpuset[0] = '\0';
    return 0;
}

/* Reads a small sysfs file into buf (NUL-terminated). Returns the length,
 * or -1. */
static ssize_t read_text(const char *path, char *buf, size_t cap)
{
    ssize_t len;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    do
        len = read(fd, buf, cap - 1);
    while (len < 0 && errno == EINTR);
    close(fd);
    if (len < 0)
        return -1;
    buf[len] = '\0';
    return len;
}

/* Parses a kernel CPU list ("0-3,8,10-11\n") into ids (up to cap of them).
 * Returns how many the list holds, or -1 when it is malformed. */
static int cpulist_parse(const char *s, int *ids, int cap)
{
    int n = 0;
    while (*s && *s != '\n') {
        long a = 0, b, v;
        if (*s < '0' || *s > '9')
            return -1;
        while (*s >= '0' && *s <= '9' && a < RM_TOPO_CPUS * 16)
            a = a * 10 + (*s++ - '0');
        b = a;
        if (*s == '-') {
            s++;
            if (*s < '0' || *s > '9')
                return -1;
            b = 0;
            while (*s >= '0' && *s <= '9' && b < RM_TOPO_CPUS * 16)
                b = b * 10 + (*s++ - '0');
        }
        if (b < a)
            return -1;
        for (v = a; v <= b && n < RM_TOPO_CPUS * 16; v++, n++)
            if (ids && n < cap)
                ids[n] = (int)v;
        if (*s == ',')
            s++;
        else if (*s && *s != '\n')
            return -1;
    }
    return n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Distinct values among v[0..n) (sorts v). */
static int distinct(uint64_t *v, int n)
{
    int i, d = n > 0;
    if (n > 1)
        qsort(v, (size_t)n, sizeof(*v), cmp_u64);
    for (i = 1; i < n; i++)
        d += v[i] != v[i - 1];
    return d;
}

/* Packages, cores, PUs and NUMA nodes from <sysfs>/devices/system. */
static int topo_sysfs(rm_topo *topo, const char *sysfs)
{
    char path[512], buf[4096];
    int *ids = NULL, npu, i, got = 0;
    uint64_t *pkg = NULL, *core = NULL;
    int rc = -1;
    if (snprintf(path, sizeof(path), "%s/devices/system/cpu/online", sysfs) >= (int)sizeof(path) ||
        read_text(path, buf, sizeof(buf)) <= 0)
        return -1;
    ids = malloc(RM_TOPO_CPUS * sizeof(*ids));
    pkg = malloc(RM_TOPO_CPUS * sizeof(*pkg));
    core = malloc(RM_TOPO_CPUS * sizeof(*core));
    npu = ids && pkg && core ? cpulist_parse(buf, ids, RM_TOPO_CPUS) : -1;
    if (npu <= 0 || npu > RM_TOPO_CPUS)
        goto out;
    for (i = 0; i < npu; i++) {
        char b2[32];
        long p, c;
        int n =
            snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%d/topology/", sysfs, ids[i]);
        size_t base = (size_t)n;
        if (n < 0 || (size_t)n + 24 >= sizeof(path))
            goto out;
        snprintf(path + base, sizeof(path) - base, "physical_package_id");
        if (read_text(path, b2, sizeof(b2)) <= 0)
            goto out;
        p = strtol(b2, NULL, 10);
        snprintf(path + base, sizeof(path) - base, "core_id");
        if (read_text(path, b2, sizeof(b2)) <= 0)
            goto out;
        c = strtol(b2, NULL, 10);
        /* -1 (unknown package) folds into one value, as hwloc does */
        pkg[got] = (uint64_t)(uint32_t)p;
        core[got++] = (uint64_t)(uint32_t)p << 32 | (uint32_t)c;
    }
    topo->pus = npu;
    topo->packages = distinct(pkg, got);
    topo->cores = distinct(core, got);
    if (snprintf(path, sizeof(path), "%s/devices/system/node/online", sysfs) < (int)sizeof(path) &&
        read_text(path, buf, sizeof(buf)) > 0)
        topo->numa = cpulist_parse(buf, NULL, 0);
    rc = 0;
out:
    free(ids);
    free(pkg);
    free(core);
    return rc;
}

void rm_topo_read_from(rm_topo *topo, const char *sysfs, int use_hwloc)
{
    long n;
    memset(topo, 0, sizeof(*topo));
    topo->packages = topo->cores = topo->numa = topo->cpus_allowed = topo->pus = -1;
    topo->cpus_affinity = affinity_count();
    if (use_hwloc && topo_hwloc(topo) == 0) {
        topo->src = "hwloc";
        return;
    }
    topo->packages = topo->cores = topo->numa = topo->cpus_allowed = topo->pus = -1;
    topo->cpuset[0] = '\0';
    if (topo_sysfs(topo, sysfs) == 0) {
        topo->src = "sysfs";
        return;
    }
    topo->packages = topo->cores = topo->numa = -1;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    topo->pus = n > 0 && n < 1 << 20 ? (int)n : -1;
    topo->src = "sysconf";
}

void rm_topo_read(rm_topo *topo)
{
    const char *off = getenv("RESMON_NO_HWLOC");
    rm_topo_read_from(topo, "/sys", !(off && *off && strcmp(off, "0") != 0));
}
