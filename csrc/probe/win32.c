/* SPDX-License-Identifier: MIT */
/* win32.c: the probe on Windows: psapi, GlobalMemoryStatusEx, Toolhelp and job objects. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <psapi.h>
#include <tlhelp32.h>

#include "probe.h"

#include <errno.h>
#include <string.h>

const char rm_probe_platform[] = "win32";

/* Toolhelp walks every process of the machine; a machine with more than
 * this many processes is broken, and the walk must end anyway. */
#define RM_MAX_PROCESSES 65536

/* Longest path rm_disk_usage() will shorten to its parent directory. */
#define RM_DISK_PATH_MAX 1024

/* Maps the thread's last Win32 error to errno (the API reports errno). */
static void set_errno_from_win32(void)
{
    switch (GetLastError()) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
        errno = ENOENT;
        break;
    case ERROR_ACCESS_DENIED:
        errno = EACCES;
        break;
    case ERROR_INVALID_PARAMETER:
        errno = ESRCH; /* OpenProcess on a pid that does not exist */
        break;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        errno = ENOMEM;
        break;
    default:
        errno = EIO;
        break;
    }
}

/* The process handle: the pseudo-handle for ourselves, an opened one for
 * another pid, NULL when OpenProcess failed. */
static HANDLE proc_handle(const rm_probe *p)
{
    return (HANDLE)p->platform;
}

int rm_probe_open(rm_probe *p, int pid, const char *root)
{
    (void)root;               /* no fake trees on Windows: the APIs take no paths */
    memset(p, 0, sizeof(*p)); /* the Linux fds stay unused */
    p->pid = pid;
    {
        SYSTEM_INFO si;
        GetSystemInfo(&si);
        p->page_size = (long)si.dwPageSize;
    }
    if (pid <= 0 || (DWORD)pid == GetCurrentProcessId()) {
        p->pid = 0;
        p->platform = (void *)GetCurrentProcess();
    } else {
        /* A missing or foreign process is not an error, as on Linux: the
         * machine's fields can still be read; the process's stay invalid. */
        p->platform = (void *)OpenProcess(
            PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ | SYNCHRONIZE, FALSE, (DWORD)pid);
    }
    return 0;
}

/* The job object's memory limits, when the calling process is in a job
 * that has one (the Windows counterpart of a memory cgroup). */
static void read_job(rm_sample *s, uint64_t own_commit, int have_commit)
{
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION ext;
    JOBOBJECT_LIMIT_VIOLATION_INFORMATION vio;
    DWORD flags;

    /* NULL: the job of the calling process (the innermost one, if nested).
     * Outside any job the call fails, or (wine) reports no limit flags. */
    memset(&ext, 0, sizeof(ext));
    if (!QueryInformationJobObject(NULL, JobObjectExtendedLimitInformation, &ext, sizeof(ext),
                                   NULL))
        return;
    flags = ext.BasicLimitInformation.LimitFlags;
    if (flags & JOB_OBJECT_LIMIT_JOB_MEMORY) {
        s->cg_limit = (uint64_t)ext.JobMemoryLimit;
        s->cg_peak = (uint64_t)ext.PeakJobMemoryUsed;
        s->valid |= RM_HAVE_CG_LIMIT | RM_HAVE_CG_PEAK;
        /* The job's current commit, from the limit-violation class (Windows
         * 8+). Its LimitFlags name the notification limits in effect; only
         * trust JobMemory when job memory is among them, else leave cg_use
         * out rather than guess (the documented classes give no other). */
        memset(&vio, 0, sizeof(vio));
        if (QueryInformationJobObject(NULL, JobObjectLimitViolationInformation, &vio, sizeof(vio),
                                      NULL) &&
            (vio.LimitFlags & JOB_OBJECT_LIMIT_JOB_MEMORY)) {
            s->cg_usage = (uint64_t)vio.JobMemory;
            s->valid |= RM_HAVE_CG_USAGE;
        }
    }
    if (flags & JOB_OBJECT_LIMIT_PROCESS_MEMORY) {
        /* A per-process limit bounds this process's own commit. */
        uint64_t lim = (uint64_t)ext.ProcessMemoryLimit;
        if (!(s->valid & RM_HAVE_CG_LIMIT) || lim < s->cg_limit) {
            s->cg_limit = lim;
            s->cg_peak = (uint64_t)ext.PeakProcessMemoryUsed;
            s->valid |= RM_HAVE_CG_LIMIT | RM_HAVE_CG_PEAK;
            s->valid &= ~(uint32_t)RM_HAVE_CG_USAGE;
            if (have_commit) {
                s->cg_usage = own_commit;
                s->valid |= RM_HAVE_CG_USAGE;
            }
        }
    }
}

int rm_probe_sample(rm_probe *p, rm_sample *s, unsigned what)
{
    HANDLE h = proc_handle(p);
    uint64_t commit = 0;
    int have_commit = 0;

    s->valid = 0;
    /* A process that has exited keeps its object while handles are open,
     * with counters that no longer mean anything: report it as gone. */
    if (h && p->pid > 0 && WaitForSingleObject(h, 0) == WAIT_OBJECT_0)
        h = NULL;
    if ((what & (RM_READ_PROC | RM_READ_CGROUP)) && h) {
        PROCESS_MEMORY_COUNTERS_EX pmc;
        memset(&pmc, 0, sizeof(pmc));
        pmc.cb = sizeof(pmc);
        if (GetProcessMemoryInfo(h, (PROCESS_MEMORY_COUNTERS *)&pmc, sizeof(pmc))) {
            /* PrivateUsage and PagefileUsage are both the commit charge
             * (Windows 7 left PagefileUsage 0; wine leaves PrivateUsage 0). */
            commit = pmc.PrivateUsage ? (uint64_t)pmc.PrivateUsage : (uint64_t)pmc.PagefileUsage;
            have_commit = commit != 0;
            if (what & RM_READ_PROC) {
                s->rss = (uint64_t)pmc.WorkingSetSize;
                s->hwm = (uint64_t)pmc.PeakWorkingSetSize;
                s->valid |= RM_HAVE_RSS | RM_HAVE_HWM;
                if (s->hwm < s->rss)
                    s->hwm = s->rss;
                /* vms is the commit charge, as psutil's vms on Windows
                 * (Task Manager's "Commit size"); see docs/platforms.md. */
                if (have_commit) {
                    s->vms = commit;
                    s->valid |= RM_HAVE_VMS;
                }
            }
        }
    }
    if ((what & (RM_READ_DETAIL | RM_READ_THREADS)) && h) {
        uint64_t n = rm_probe_threads(p);
        if (n) {
            s->threads = n;
            s->valid |= RM_HAVE_THREADS;
        }
    }
    if (what & RM_READ_SYSTEM) {
        MEMORYSTATUSEX ms;
        PERFORMANCE_INFORMATION pi;
        memset(&ms, 0, sizeof(ms));
        ms.dwLength = sizeof(ms);
        if (GlobalMemoryStatusEx(&ms)) {
            s->mem_total = ms.ullTotalPhys;
            s->mem_avail = ms.ullAvailPhys; /* standby + free + zeroed pages */
            s->valid |= RM_HAVE_MEM_TOTAL | RM_HAVE_MEM_AVAIL;
        }
        memset(&pi, 0, sizeof(pi));
        pi.cb = sizeof(pi);
        /* Windows always has a system cache; 0 means the host does not
         * count it (wine), so the field is left out rather than written 0. */
        if (GetPerformanceInfo(&pi, sizeof(pi)) && pi.PageSize && pi.SystemCache) {
            s->mem_cached = (uint64_t)pi.SystemCache * (uint64_t)pi.PageSize;
            s->valid |= RM_HAVE_MEM_CACHED;
        }
        /* No swap fields: Windows has a commit limit (RAM + page files), not
         * a swap device with a free count; see docs/platforms.md. */
    }
    if ((what & RM_READ_CGROUP) && p->pid == 0)
        read_job(s, commit, have_commit);
    return 0;
}

uint64_t rm_probe_threads(rm_probe *p)
{
    /* Toolhelp's process snapshot carries each process's thread count, so
     * one walk of the process list (not of every thread) gives ours. */
    DWORD pid = p->pid > 0 ? (DWORD)p->pid : GetCurrentProcessId();
    PROCESSENTRY32 pe;
    uint64_t n = 0;
    HANDLE snap;
    BOOL more;
    int i;

    if (!proc_handle(p))
        return 0;
    snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    if (snap == INVALID_HANDLE_VALUE)
        return 0;
    memset(&pe, 0, sizeof(pe));
    pe.dwSize = sizeof(pe);
    for (i = 0, more = Process32First(snap, &pe); more && i < RM_MAX_PROCESSES;
         i++, more = Process32Next(snap, &pe)) {
        if (pe.th32ProcessID == pid) {
            n = pe.cntThreads;
            break;
        }
    }
    CloseHandle(snap);
    return n;
}

int rm_probe_reset_peak(rm_probe *p)
{
    /* PeakWorkingSetSize is a lifetime maximum kept by the memory manager;
     * no documented call resets it (trimming the working set lowers the
     * current size, not the peak). See docs/platforms.md for what to do. */
    (void)p;
    errno = ENOTSUP;
    return -1;
}

void rm_probe_close(rm_probe *p)
{
    HANDLE h = proc_handle(p);
    if (h && p->pid > 0)
        CloseHandle(h);
    p->platform = NULL;
}

int rm_disk_usage(const char *path, uint64_t *used, uint64_t *avail)
{
    ULARGE_INTEGER to_caller, total, total_free;
    char dir[RM_DISK_PATH_MAX];
    size_t n;

    if (GetDiskFreeSpaceExA(path, &to_caller, &total, &total_free))
        goto done;
    /* The call wants a directory; for a file, ask about its parent. */
    n = strlen(path);
    if (n == 0 || n >= sizeof(dir)) {
        errno = n ? ENAMETOOLONG : ENOENT;
        return -1;
    }
    if (GetFileAttributesA(path) == INVALID_FILE_ATTRIBUTES) {
        set_errno_from_win32();
        return -1;
    }
    memcpy(dir, path, n + 1);
    while (n > 0 && dir[n - 1] != '\\' && dir[n - 1] != '/')
        n--;
    if (n == 0)
        memcpy(dir, ".\\", 3); /* a bare file name: the current directory */
    else
        dir[n] = '\0';
    if (!GetDiskFreeSpaceExA(dir, &to_caller, &total, &total_free)) {
        set_errno_from_win32();
        return -1;
    }
done:
    *used = total.QuadPart - total_free.QuadPart;
    *avail = to_caller.QuadPart;
    return 0;
}
