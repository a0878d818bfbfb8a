/* SPDX-License-Identifier: MIT */
/* test_win32_probe.c: checks the Windows probe against independent readings (runs under wine). */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <tlhelp32.h>

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <string.h>

#include "probe/probe.h"
#include "record/record.h"

/* Size of the block the test commits, touches and frees: large enough to
 * stand out from the noise of a wine process (~10-30 MB), small enough for CI. */
#define BLOCK (128u * 1024u * 1024u)
#define MIB (1024.0 * 1024.0)

static int failures;

/* wine runs the same binaries but does not model everything Windows does;
 * where it differs, the test says what it skips and why. */
static int under_wine(void)
{
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    return ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

static void check(int ok, const char *what, unsigned long long a, unsigned long long b)
{
    printf("%s %s (%llu, %llu)\n", ok ? "ok" : "FAIL", what, a, b);
    if (!ok)
        failures++;
}

/* Threads of this process counted the other way: one snapshot of every
 * thread of the machine, filtered by owner. */
static unsigned long long count_threads_toolhelp(DWORD pid)
{
    THREADENTRY32 te;
    unsigned long long n = 0;
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    BOOL more;
    int i;
    if (snap == INVALID_HANDLE_VALUE)
        return 0;
    memset(&te, 0, sizeof(te));
    te.dwSize = sizeof(te);
    for (i = 0, more = Thread32First(snap, &te); more && i < 1000000;
         i++, more = Thread32Next(snap, &te))
        if (te.th32OwnerProcessID == pid)
            n++;
    CloseHandle(snap);
    return n;
}

static DWORD WINAPI parked_thread(LPVOID ev)
{
    WaitForSingleObject((HANDLE)ev, INFINITE);
    return 0;
}

static rm_sample sample(rm_probe *p)
{
    rm_sample s;
    memset(&s, 0xa5, sizeof(s)); /* garbage: fields must be written or left invalid */
    rm_probe_sample(p, &s, RM_READ_ALL);
    return s;
}

static void test_fields(rm_probe *p)
{
    rm_sample s = sample(p);
    uint32_t need = RM_HAVE_RSS | RM_HAVE_HWM | RM_HAVE_VMS | RM_HAVE_THREADS | RM_HAVE_MEM_TOTAL |
                    RM_HAVE_MEM_AVAIL;
    uint32_t never = RM_HAVE_ANON | RM_HAVE_FILE | RM_HAVE_SHMEM | RM_HAVE_SWAP | RM_HAVE_MEM_FREE |
                     RM_HAVE_SWAP_TOTAL | RM_HAVE_SWAP_FREE | RM_HAVE_CG_OOM;
    check((s.valid & need) == need, "valid has rss hwm vms thr mem_total mem_avail", s.valid, need);
    check((s.valid & never) == 0, "valid lacks what Windows cannot give", s.valid, never);
    check((s.valid & (RM_HAVE_CG_USAGE | RM_HAVE_CG_LIMIT | RM_HAVE_CG_PEAK)) == 0,
          "no job limit yet: no cg fields", s.valid, 0);
    check(s.rss > 1024 * 1024, "rss > 1 MiB", s.rss, 1024 * 1024);
    check(s.hwm >= s.rss, "hwm >= rss", s.hwm, s.rss);
    check(s.mem_total > s.rss, "mem_total > rss", s.mem_total, s.rss);
    check(s.mem_avail <= s.mem_total, "mem_avail <= mem_total", s.mem_avail, s.mem_total);
    check(s.threads >= 1, "threads >= 1", s.threads, 1);
}

static void test_memory(rm_probe *p)
{
    rm_sample s0, s1, s2, s3;
    volatile unsigned char *mem;
    size_t i;
    long page = p->page_size > 0 ? p->page_size : 4096;

    s0 = sample(p);
    mem = VirtualAlloc(NULL, BLOCK, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if (!mem) {
        check(0, "VirtualAlloc", GetLastError(), 0);
        return;
    }
    s1 = sample(p);
    /* committed, untouched: commit charge (vms) rises, the working set not */
    if (under_wine())
        printf("skip commit of untouched memory: wine does not count it in PagefileUsage\n");
    else
        check(s1.vms >= s0.vms + BLOCK * 0.9, "commit of BLOCK raises vms", s1.vms - s0.vms, BLOCK);
    check(s1.rss < s0.rss + BLOCK / 4, "untouched commit leaves rss alone", s1.rss - s0.rss, BLOCK);
    for (i = 0; i < BLOCK; i += (size_t)page)
        mem[i] = 1;
    s2 = sample(p);
    check(s2.rss >= s0.rss + BLOCK * 0.9, "touching BLOCK raises rss by ~BLOCK", s2.rss - s0.rss,
          BLOCK);
    check(s2.rss <= s0.rss + BLOCK * 1.1 + 16 * MIB, "rss rises by no more than ~BLOCK",
          s2.rss - s0.rss, BLOCK);
    check(s2.hwm >= s2.rss, "hwm >= rss at the peak", s2.hwm, s2.rss);
    check(s2.vms >= s0.vms + BLOCK * 0.9, "touched commit of BLOCK raises vms", s2.vms - s0.vms,
          BLOCK);
    VirtualFree((void *)mem, 0, MEM_RELEASE);
    s3 = sample(p);
    check(s3.rss + BLOCK * 0.9 <= s2.rss, "freeing BLOCK lowers rss", s2.rss - s3.rss, BLOCK);
    /* wine reads Linux's VmHWM, which trails VmRSS by a few pages until the
     * kernel syncs its counters; Windows keeps the peak exactly. */
    check(s3.hwm + 1024 * 1024 >= s2.rss, "hwm keeps the peak after the free", s3.hwm, s2.rss);
    check(s3.vms + BLOCK * 0.9 <= s2.vms, "freeing BLOCK lowers vms", s2.vms - s3.vms, BLOCK);
    errno = 0;
    check(rm_probe_reset_peak(p) == -1 && errno == ENOTSUP, "reset_peak says ENOTSUP", errno,
          ENOTSUP);
}

static void test_threads(rm_probe *p)
{
    DWORD pid = GetCurrentProcessId();
    unsigned long long before = rm_probe_threads(p), indep = count_threads_toolhelp(pid), during,
                       after;
    HANDLE ev = CreateEventA(NULL, TRUE, FALSE, NULL);
    HANDLE th = CreateThread(NULL, 0, parked_thread, ev, 0, NULL);

    check(before >= 1 && before == indep, "thread count matches a thread snapshot", before, indep);
    if (!ev || !th) {
        check(0, "CreateThread", GetLastError(), 0);
        return;
    }
    during = rm_probe_threads(p);
    check(during == before + 1, "an extra thread raises the count by one", during, before + 1);
    check(sample(p).threads == during, "sample's thr agrees with rm_probe_threads",
          sample(p).threads, during);
    SetEvent(ev);
    WaitForSingleObject(th, INFINITE);
    CloseHandle(th);
    CloseHandle(ev);
    after = rm_probe_threads(p);
    check(after == before, "the count falls back when it exits", after, before);
}

/* Another process, probed by pid: a copy of this program that sleeps. */
static void test_other_pid(const char *self_path)
{
    char cmd[1200];
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    rm_probe q;
    rm_sample s;
    int n = snprintf(cmd, sizeof(cmd), "\"%s\" --sleep", self_path);

    if (n < 0 || (size_t)n >= sizeof(cmd)) {
        check(0, "command line fits", (unsigned long long)n, sizeof(cmd));
        return;
    }
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    if (!CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
        check(0, "CreateProcess", GetLastError(), 0);
        return;
    }
    WaitForInputIdle(pi.hProcess, 2000);
    Sleep(300);
    check(rm_probe_open(&q, (int)pi.dwProcessId, "") == 0, "open another pid", pi.dwProcessId, 0);
    s = sample(&q);
    check((s.valid & (RM_HAVE_RSS | RM_HAVE_THREADS)) == (RM_HAVE_RSS | RM_HAVE_THREADS),
          "other pid: rss and thr valid", s.valid, RM_HAVE_RSS | RM_HAVE_THREADS);
    check(s.rss > 1024 * 1024 && s.threads >= 1, "other pid: rss > 1 MiB, thr >= 1", s.rss,
          s.threads);
    check(s.threads == count_threads_toolhelp(pi.dwProcessId), "other pid: thr matches snapshot",
          s.threads, count_threads_toolhelp(pi.dwProcessId));
    check((s.valid & (RM_HAVE_CG_LIMIT | RM_HAVE_CG_USAGE)) == 0, "other pid: no job fields",
          s.valid, 0);
    errno = 0;
    check(rm_probe_reset_peak(&q) == -1 && errno == ENOTSUP, "other pid: reset ENOTSUP", errno,
          ENOTSUP);
    rm_probe_close(&q);
    TerminateProcess(pi.hProcess, 0);
    WaitForSingleObject(pi.hProcess, 5000);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);

    /* a pid that is gone: machine fields only, process fields invalid */
    check(rm_probe_open(&q, (int)pi.dwProcessId, "") == 0, "open a dead pid still succeeds", 0, 0);
    s = sample(&q);
    check(!(s.valid & RM_HAVE_RSS) && (s.valid & RM_HAVE_MEM_TOTAL),
          "dead pid: no rss, but mem_total", s.valid, 0);
    rm_probe_close(&q);
}

static void test_disk(const char *dir, const char *file)
{
    uint64_t used = 0, avail = 0, used2 = 0, avail2 = 0;
    int rc = rm_disk_usage(dir, &used, &avail);
    check(rc == 0 && used > 0 && avail > 0, "disk usage of a directory", used, avail);
    rc = rm_disk_usage(file, &used2, &avail2);
    check(rc == 0 && used2 + avail2 + 256 * MIB >= used + avail &&
              used + avail + 256 * MIB >= used2 + avail2,
          "disk usage of a file is its directory's", used2 + avail2, used + avail);
    errno = 0;
    rc = rm_disk_usage("C:\\no\\such\\dir", &used2, &avail2);
    check(rc == -1 && errno == ENOENT, "missing path: ENOENT", (unsigned long long)errno, ENOENT);
    errno = 0;
    rc = rm_disk_usage("C:\\no_such_file_here.txt", &used2, &avail2);
    check(rc == -1 && errno == ENOENT, "missing file in an existing dir: ENOENT",
          (unsigned long long)errno, ENOENT);
}

/* write.c's Windows branch: _write in text mode turns "\n" into "\r\n";
 * rm_write_all must still write the whole record exactly once. */
static void test_text_mode_write(void)
{
    rm_line l;
    char path[MAX_PATH], tmp[MAX_PATH], back[RM_LINE_MAX + 8];
    size_t len;
    int fd, n;

    if (!GetTempPathA(sizeof(tmp), tmp) || !GetTempFileNameA(tmp, "rm", 0, path)) {
        check(0, "temp file", GetLastError(), 0);
        return;
    }
    rm_line_begin(&l, "mark");
    rm_line_cstr(&l, "label", "text mode");
    len = rm_line_end(&l);
    fd = _open(path, _O_WRONLY | _O_TRUNC | _O_TEXT);
    check(fd >= 0 && rm_write_all(fd, l.buf, len) == 0, "rm_write_all to a text-mode fd", len, 0);
    if (fd >= 0)
        _close(fd);
    fd = _open(path, _O_RDONLY | _O_BINARY);
    n = fd >= 0 ? _read(fd, back, sizeof(back)) : -1;
    if (fd >= 0)
        _close(fd);
    DeleteFileA(path);
    check(n == (int)len + 1 && memcmp(back, l.buf, len - 1) == 0 && back[len - 1] == '\r' &&
              back[len] == '\n',
          "text mode wrote the record once, ending in CRLF", (unsigned long long)n, len + 1);
}

/* Puts the process in a job with a memory limit: irreversible, so last. */
static void test_job(rm_probe *p)
{
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION ext;
    const unsigned long long limit = 3ull * 1024 * 1024 * 1024;
    HANDLE job = CreateJobObjectA(NULL, NULL);
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION back;
    rm_sample s;

    memset(&ext, 0, sizeof(ext));
    ext.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_JOB_MEMORY;
    ext.JobMemoryLimit = (SIZE_T)limit;
    if (!job ||
        !SetInformationJobObject(job, JobObjectExtendedLimitInformation, &ext, sizeof(ext)) ||
        !AssignProcessToJobObject(job, GetCurrentProcess())) {
        /* Not a probe failure: the host cannot make the job. Say so. */
        printf("skip job: cannot create a job with a memory limit (error %lu)\n", GetLastError());
        return;
    }
    /* Does the host keep the limit at all? Ask the job itself. */
    memset(&back, 0, sizeof(back));
    if (!QueryInformationJobObject(job, JobObjectExtendedLimitInformation, &back, sizeof(back),
                                   NULL) ||
        !(back.BasicLimitInformation.LimitFlags & JOB_OBJECT_LIMIT_JOB_MEMORY)) {
        printf("skip job: this host does not keep job memory limits%s\n",
               under_wine() ? " (wine stores no job limits)" : "");
        return;
    }
    s = sample(p);
    check((s.valid & RM_HAVE_CG_LIMIT) && s.cg_limit == limit, "job memory limit is cg_lim",
          s.cg_limit, limit);
    check((s.valid & RM_HAVE_CG_PEAK) != 0, "job peak is cg_peak", s.valid, RM_HAVE_CG_PEAK);
    printf("job cg_use %s\n", (s.valid & RM_HAVE_CG_USAGE) ? "valid" : "not reported by this host");
}

static void print_record(rm_probe *p, const char *disk)
{
    rm_line l;
    rm_sample s = sample(p);
    uint64_t used, avail;
    size_t len;

    rm_line_begin(&l, "mark");
    rm_line_cstr(&l, "label", "win32 probe");
    rm_line_u64(&l, "pid", GetCurrentProcessId());
    rm_line_cstr(&l, "os", rm_probe_platform);
    rm_line_sample(&l, &s);
    if (rm_disk_usage(disk, &used, &avail) == 0) {
        rm_line_cstr(&l, "disk0", disk);
        rm_line_u64(&l, "disk0_used", used);
        rm_line_u64(&l, "disk0_free", avail);
    }
    len = rm_line_end(&l);
    fflush(stdout);
    check(rm_write_all(1, l.buf, len) == 0, "record written", len, 0);
}

int main(int argc, char **argv)
{
    rm_probe p;
    const char *disk = argc > 1 ? argv[1] : "C:\\";
    char self[MAX_PATH];
    DWORD n = GetModuleFileNameA(NULL, self, sizeof(self));

    if (argc > 1 && strcmp(argv[1], "--sleep") == 0) {
        Sleep(30000);
        return 0;
    }
    _setmode(1, _O_BINARY); /* the record's "\n" stays "\n" on stdout */
    check(rm_probe_open(&p, 0, "") == 0, "rm_probe_open(self)", 0, 0);
    check(strcmp(rm_probe_platform, "win32") == 0, "platform is win32", 0, 0);
    test_fields(&p);
    test_memory(&p);
    test_threads(&p);
    if (n == 0 || n >= sizeof(self)) {
        check(0, "GetModuleFileName", n, sizeof(self));
        return 1;
    }
    test_other_pid(self);
    test_disk(disk, self);
    test_text_mode_write();
    print_record(&p, disk);
    test_job(&p);
    rm_probe_close(&p);
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
    fflush(stdout);
    return failures ? 1 : 0;
}
