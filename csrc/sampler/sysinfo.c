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

#ifdef RM_HAVE_HWLOC
#include <hwloc.h>
#endif

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

#ifdef RM_HAVE_HWLOC
/* Runs in the short-lived child: loads the topology and writes the counts
 * as one text line to fd. */
static void hwloc_child(int fd)
{
    hwloc_topology_t topo;
    char line[160], *list = NULL;
    int n;
    if (hwloc_topology_init(&topo) != 0)
        _exit(1);
    /* Caches and groups are not reported: skipping them saves time. */
    hwloc_topology_set_all_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_type_filter(topo, HWLOC_OBJ_PACKAGE, HWLOC_TYPE_FILTER_KEEP_ALL);
    hwloc_topology_set_type_filter(topo, HWLOC_OBJ_CORE, HWLOC_TYPE_FILTER_KEEP_ALL);
    if (hwloc_topology_load(topo) != 0)
        _exit(1);
    if (hwloc_bitmap_list_asprintf(&list, hwloc_topology_get_allowed_cpuset(topo)) < 0)
        list = NULL;
    n = snprintf(line, sizeof(line), "%d %d %d %d %d %.60s\n",
                 hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE),
                 hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE),
                 hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU),
                 hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE),
                 hwloc_bitmap_weight(hwloc_topology_get_allowed_cpuset(topo)), list ? list : "-");
    free(list);
    hwloc_topology_destroy(topo);
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
#endif

void rm_topo_read(rm_topo *topo)
{
    long n;
    memset(topo, 0, sizeof(*topo));
    topo->packages = topo->cores = topo->numa = topo->cpus_allowed = -1;
    topo->cpus_affinity = affinity_count();
#ifdef RM_HAVE_HWLOC
    if (topo_hwloc(topo) == 0) {
        topo->from_hwloc = 1;
        return;
    }
    topo->packages = topo->cores = topo->numa = topo->cpus_allowed = -1;
    topo->cpuset[0] = '\0';
#endif
    n = sysconf(_SC_NPROCESSORS_ONLN);
    topo->pus = n > 0 && n < 1 << 20 ? (int)n : -1;
}
